//! Fabric's own `orderer.yaml` keys (v1.4 and v2.x) that this orderer reads but does
//! not act on, and the "did you mean" of unknown keys.
//!
//! Fabric's files and environments must load unchanged, so such keys are accepted
//! and named once at start; a key neither Fabric nor this orderer knows is an error.

/// Keys of Fabric's orderer.yaml outside this orderer's schema; `.*` covers a subtree.
/// Each is dropped before the configuration is read, and named in the warning.
const FABRIC_ONLY: &[&str] = &[
    "General.LedgerType",
    "General.ConnectionTimeout",
    "General.GenesisProfile",
    "General.SystemChannel",
    "General.Cluster.*",
    "General.Profile.*",
    "General.BCCSP.*",
    "General.Authentication.NoExpirationChecks",
    "General.TLS.TLSHandshakeTimeShift",
    "Operations.TLS.TLSHandshakeTimeShift",
    "Admin.TLS.TLSHandshakeTimeShift",
    "Kafka.TLS.ClientAuthRequired",
    "Kafka.TLS.ClientRootCAs",
    "Kafka.TLS.TLSHandshakeTimeShift",
    "FileLedger.Prefix",
    "RAMLedger.*",
    "Metrics.Statsd.*",
    "Consensus.*",
];

/// Keys in this orderer's schema that it does not act on (yet); named in the
/// warning when a file or the environment sets them.
pub(crate) const NOT_ACTED_ON: &[&str] = &["General.Keepalive.ServerMinInterval"];

/// `s` starts with `prefix` (case-insensitive) followed by `sep`.
fn under(s: &str, prefix: &str, sep: u8) -> bool {
    s.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
        && s.as_bytes().get(prefix.len()) == Some(&sep)
}

fn matches(pattern: &str, key: &str) -> bool {
    match pattern.strip_suffix(".*") {
        Some(root) => key.eq_ignore_ascii_case(root) || under(key, root, b'.'),
        None => key.eq_ignore_ascii_case(pattern),
    }
}

/// The Fabric-only pattern covering `key` (a dotted path), shown without `.*`.
pub(crate) fn fabric_only(key: &str) -> Option<&'static str> {
    FABRIC_ONLY
        .iter()
        .find(|p| matches(p, key))
        .map(|p| p.strip_suffix(".*").unwrap_or(p))
}

pub(crate) fn not_acted_on(key: &str) -> Option<&'static str> {
    NOT_ACTED_ON
        .iter()
        .find(|p| matches(p, key))
        .map(|p| p.strip_suffix(".*").unwrap_or(p))
}

/// The Fabric-only pattern covering an environment variable's suffix
/// (`GENERAL_CLUSTER_SENDBUFFERSIZE`).
pub(crate) fn fabric_only_env(suffix: &str) -> Option<&'static str> {
    FABRIC_ONLY.iter().find_map(|p| {
        let shown = p.strip_suffix(".*").unwrap_or(p);
        let env = shown.replace('.', "_");
        let hit = if p.ends_with(".*") {
            suffix.eq_ignore_ascii_case(&env) || under(suffix, &env, b'_')
        } else {
            suffix.eq_ignore_ascii_case(&env)
        };
        hit.then_some(shown)
    })
}

/// The candidate closest to `word` (case-insensitive), with its edit distance.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<(&'a str, usize)> {
    let w = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (c, edit_distance(&w, &c.to_ascii_lowercase())))
        .min_by_key(|(_, d)| *d)
}

/// Whether a distance is small enough to call `word` a typo of its candidate: a
/// couple of edits, and few for the word's length.
pub(crate) fn is_typo(word: &str, distance: usize) -> bool {
    distance <= 2 && distance * 5 <= word.len()
}

/// Optimal string alignment distance: insertions, deletions, substitutions and
/// swaps of neighbours each cost one (`LISTENPROT` is one edit from `LISTENPORT`).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fabric_keys_match_by_subtree_and_case() {
        assert_eq!(fabric_only("General.BCCSP.SW.Hash"), Some("General.BCCSP"));
        assert_eq!(fabric_only("general.bccsp"), Some("General.BCCSP"));
        assert_eq!(fabric_only("General.BCCSPX"), None);
        assert_eq!(fabric_only("FileLedger.Prefix"), Some("FileLedger.Prefix"));
        assert_eq!(fabric_only("FileLedger.Location"), None);
        assert_eq!(
            fabric_only_env("GENERAL_CLUSTER_SENDBUFFERSIZE"),
            Some("General.Cluster")
        );
        assert_eq!(fabric_only_env("CONSENSUS_WALDIR"), Some("Consensus"));
        assert_eq!(
            fabric_only_env("GENERAL_LEDGERTYPE"),
            Some("General.LedgerType")
        );
        assert_eq!(fabric_only_env("GENERAL_LEDGERTYPES"), None);
        assert_eq!(not_acted_on("Admin.TLS.Enabled"), None);
        assert_eq!(
            not_acted_on("General.Keepalive.ServerMinInterval"),
            Some("General.Keepalive.ServerMinInterval")
        );
    }

    #[test]
    fn typos_are_near_and_other_names_are_not() {
        let keys = [
            "GENERAL_LISTENPORT",
            "GENERAL_LISTENADDRESS",
            "KAFKA_VERBOSE",
        ];
        let (k, d) = closest("GENERAL_LISTENPROT", keys).unwrap();
        assert_eq!((k, d), ("GENERAL_LISTENPORT", 1));
        assert!(is_typo("GENERAL_LISTENPROT", d));
        for far in ["COMMIT", "CA", "ADDR", "GENERAL"] {
            let (_, d) = closest(far, keys).unwrap();
            assert!(!is_typo(far, d), "{far} at {d}");
        }
        assert_eq!(edit_distance("abc", "abc"), 0);
        assert_eq!(edit_distance("abc", "acb"), 1);
        assert_eq!(edit_distance("", "ab"), 2);
    }
}
