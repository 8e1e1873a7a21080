//! The README's commands, as printed: the run command serves `mychannel`, and the
//! five-minute walkthrough's commands give the outputs the README shows, in shape
//! (the same words and statuses; numbers and abbreviated hashes may differ).
//!
//! It runs the run command exactly as written (`cargo run --release ...`) on the
//! ports it documents, so it needs the release build and those ports: the README's
//! test command runs it with `README_RUN=1` after `cargo build --release`. Without
//! it the test says so in one line and passes.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Bound on waiting for the run command to serve (it may have to finish a build).
const START_TIMEOUT: Duration = Duration::from_secs(900);
/// Bound on one walkthrough command (the bench sends 100,000 signed envelopes).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(300);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The `sh` code blocks of the README section whose heading starts with `heading`.
fn shell_blocks(readme: &str, heading: &str) -> Vec<Vec<String>> {
    let start = readme
        .find(&format!("\n## {heading}"))
        .unwrap_or_else(|| panic!("README has no section {heading:?}"));
    let body = &readme[start + 4..];
    let section = &body[..body.find("\n## ").unwrap_or(body.len())];
    let mut blocks = Vec::new();
    let mut current: Option<Vec<String>> = None;
    for line in section.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```sh") => current = Some(Vec::new()),
            (Some(_), "```") => blocks.extend(current.take()),
            (Some(block), l) => block.push(l.to_owned()),
            (None, _) => {}
        }
    }
    blocks
}

/// One documented command and the output lines the README shows under it.
#[derive(Debug)]
struct Step {
    command: String,
    expected: Vec<String>,
}

/// Commands (continuation lines joined) with the `#   ` lines that follow each.
fn steps(block: &[String]) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut pending = String::new();
    for line in block {
        if let Some(out) = line.strip_prefix("#   ") {
            if let Some(step) = steps.last_mut() {
                step.expected.push(out.trim().to_owned());
            }
            continue;
        }
        let code = line.split(" # ").next().unwrap_or("").trim();
        if code.is_empty() || code.starts_with('#') {
            continue;
        }
        pending.push_str(code.trim_end_matches('\\'));
        pending.push(' ');
        if !code.ends_with('\\') {
            steps.push(Step {
                command: pending.trim().to_owned(),
                expected: Vec::new(),
            });
            pending.clear();
        }
    }
    steps
}

/// Whether `actual` has the shape of `expected`: the same words, where any number
/// matches any number, and a word ending in `...` (an abbreviated hash) matches any
/// word.
fn same_shape(expected: &str, actual: &str) -> bool {
    let e: Vec<&str> = expected.split_whitespace().collect();
    let a: Vec<&str> = actual.split_whitespace().collect();
    if e.last() == Some(&"...") {
        // "... status NOT_FOUND: ..." style lines: the words shown, in order.
        return contains_in_order(expected, actual);
    }
    e.len() == a.len()
        && e.iter()
            .zip(&a)
            .all(|(e, a)| e.ends_with("...") || digits_as_hash(e) == digits_as_hash(a))
}

/// Every run of digits as one `#`: "height 21)" and "height 3)" read the same.
fn digits_as_hash(w: &str) -> String {
    let mut out = String::new();
    for c in w.chars() {
        if c.is_ascii_digit() {
            if !out.ends_with('#') {
                out.push('#');
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The words of `expected` other than `...` appear in `actual` in order (numbers
/// may differ).
fn contains_in_order(expected: &str, actual: &str) -> bool {
    let actual = digits_as_hash(actual);
    let mut rest = actual.as_str();
    for word in digits_as_hash(expected)
        .split_whitespace()
        .filter(|w| *w != "...")
    {
        match rest.find(word) {
            Some(i) => rest = &rest[i + word.len()..],
            None => return false,
        }
    }
    true
}

/// Every expected line matches a line of `output`, in order (`...` skips lines).
fn check_output(step: &Step, output: &str) -> Result<(), String> {
    let lines: Vec<&str> = output.lines().map(str::trim).collect();
    let mut at = 0;
    for e in step.expected.iter().filter(|e| e.as_str() != "...") {
        match lines[at..].iter().position(|l| same_shape(e, l)) {
            Some(i) => at += i + 1,
            None => {
                return Err(format!(
                    "`{}`: no output line like {e:?} (after line {at}) in:\n{output}",
                    step.command
                ));
            }
        }
    }
    Ok(())
}

/// The README's `alias orderer-cli=PATH`, under `CARGO_TARGET_DIR` when that is set.
fn cli_path(alias: &str) -> PathBuf {
    let path = alias.trim_start_matches("alias orderer-cli=");
    match (
        std::env::var_os("CARGO_TARGET_DIR"),
        path.strip_prefix("target/"),
    ) {
        (Some(dir), Some(rest)) => PathBuf::from(dir).join(rest),
        _ => repo_root().join(path),
    }
}

/// Runs the run command in its own process group, so that stopping it stops the
/// orderer `cargo run` started too.
struct RunCommand {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl RunCommand {
    fn start(command: &str) -> RunCommand {
        use std::os::unix::process::CommandExt;
        let mut child = Command::new("sh")
            .args(["-c", &format!("exec {command} 2>&1")])
            .current_dir(repo_root())
            .stdout(Stdio::piped())
            .stdin(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        RunCommand { child, lines }
    }

    /// Waits for the log line saying the orderer serves; returns the log so far.
    fn wait_serving(&mut self) -> String {
        let deadline = Instant::now() + START_TIMEOUT;
        let mut log = String::new();
        while Instant::now() < deadline {
            match self.lines.recv_timeout(Duration::from_millis(500)) {
                Ok(line) => {
                    log.push_str(&line);
                    log.push('\n');
                    if line.contains("orderer serving AtomicBroadcast") {
                        return log;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        panic!("the README's run command did not start serving:\n{log}");
    }

    /// Ctrl-C, as the README says: the orderer stops gracefully.
    fn interrupt(mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-INT", "--", &group]).status();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        panic!("the orderer did not stop on Ctrl-C within 60 s");
    }
}

/// Runs one walkthrough command with `orderer-cli` resolved; commands that follow
/// the chain forever run until they have printed a block, as a user would watch.
fn run_step(cli: &Path, step: &Step) -> Result<(), String> {
    let args = step
        .command
        .strip_prefix("orderer-cli ")
        .ok_or_else(|| format!("not an orderer-cli command: {}", step.command))?;
    let args: Vec<&str> = args.split_whitespace().collect();
    let mut child = Command::new(cli)
        .args(&args)
        .current_dir(repo_root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e}", cli.display()))?;
    let follows = args.contains(&"--follow");
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    if follows {
        // Wait for the first block line, then stop it like Ctrl-C would.
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let first = BufReader::new(stdout).lines().next();
        let _ = child.kill();
        let _ = child.wait();
        return match first {
            Some(Ok(line)) if line.starts_with("block ") => Ok(()),
            other => Err(format!("`{}` printed {other:?}", step.command)),
        };
    }
    loop {
        if let Some(_status) = child.try_wait().map_err(|e| e.to_string())? {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return Err(format!(
                "`{}` did not finish in {COMMAND_TIMEOUT:?}",
                step.command
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // A documented refusal must exit non-zero; anything else must succeed.
    let refusal = step.expected.iter().any(|e| {
        [
            "rejected:",
            "NOT_FOUND",
            "BAD_REQUEST",
            "FORBIDDEN",
            "SERVICE_UNAVAILABLE",
        ]
        .iter()
        .any(|s| e.contains(s))
    });
    if out.status.success() == refusal {
        return Err(format!(
            "`{}` exited with {} (expected {}):\n{text}",
            step.command,
            out.status,
            if refusal { "a failure" } else { "success" }
        ));
    }
    check_output(step, &text)
}

#[test]
fn readme_run_command_and_five_minute_walkthrough_work_as_printed() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let run_blocks = shell_blocks(&readme, "The two commands");
    let run = steps(&run_blocks[0]);
    assert_eq!(run.len(), 1, "the run block holds one command: {run:?}");
    let test = steps(&run_blocks[1]);
    assert_eq!(test.len(), 1, "the test block holds one command: {test:?}");
    assert_eq!(
        std::fs::read_to_string(repo_root().join(".ci/run"))
            .unwrap()
            .lines()
            .last(),
        Some(format!("exec {}", test[0].command).as_str()),
        "CI runs the README's test command"
    );
    let walkthrough = steps(&shell_blocks(&readme, "Five minutes with orderer-cli")[0]);
    assert!(walkthrough.len() >= 8, "{walkthrough:?}");

    if std::env::var_os("README_RUN").is_none() {
        println!(
            "skipped running the README's commands: they need the release build and ports 7050/8443 (README_RUN=1, as ./scripts/test sets it)"
        );
        return;
    }
    let mut orderer = RunCommand::start(&run[0].command);
    let log = orderer.wait_serving();
    assert!(log.contains("address=127.0.0.1:7050"), "{log}");
    assert!(log.contains("channel=mychannel"), "{log}");

    let mut cli = None;
    let mut failures = Vec::new();
    for step in &walkthrough {
        if step.command.starts_with("cargo build") {
            let ok = Command::new("sh")
                .args(["-c", &step.command])
                .current_dir(repo_root())
                .status()
                .unwrap()
                .success();
            assert!(ok, "{}", step.command);
        } else if step.command.starts_with("alias orderer-cli=") {
            cli = Some(cli_path(&step.command));
        } else {
            let cli = cli
                .as_ref()
                .expect("the walkthrough defines orderer-cli first");
            if let Err(e) = run_step(cli, step) {
                failures.push(e);
            }
        }
    }
    orderer.interrupt();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn shape_matching_accepts_other_numbers_and_nothing_else() {
    assert!(same_shape(
        "acked 10000 of 10000 envelopes (SUCCESS 10000)",
        "acked 9 of 9 envelopes (SUCCESS 9)"
    ));
    assert!(!same_shape(
        "acked 10000 of 10000 envelopes (SUCCESS 10000)",
        "acked 9 of 10 envelopes (SERVICE_UNAVAILABLE 1)"
    ));
    assert!(same_shape(
        "block 0: 1 envelopes, hash 5d1c...",
        "block 0: 1 envelopes, hash 0a9f3e27c1"
    ));
    assert!(same_shape(
        "... status NOT_FOUND: block 9999 is not yet in channel mychannel (height 21) ...",
        "deliver: status NOT_FOUND: block 9999 is not yet in channel mychannel (height 3); retry later"
    ));
    assert!(!same_shape(
        "rejected: NOT_FOUND: channel",
        "rejected: FORBIDDEN: channel"
    ));
    let s = Step {
        command: "x".into(),
        expected: vec!["a 1".into(), "...".into(), "c 3".into()],
    };
    assert!(check_output(&s, "a 5\nb 2\nc 9\n").is_ok());
    assert!(check_output(&s, "c 9\na 5\n").is_err());
}
