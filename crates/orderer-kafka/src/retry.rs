//! Fabric's retry schedule for a chain's start steps.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::errors::Fault;
use crate::options::RetrySchedule;

/// Why a chain's task stopped.
#[derive(Debug)]
pub(crate) enum GaveUp {
    /// The chain was halted meanwhile.
    Halted,
    /// A start step failed for ShortTotal + LongTotal, or processing failed.
    Failed(Fault),
}

impl From<Fault> for GaveUp {
    fn from(f: Fault) -> Self {
        GaveUp::Failed(f)
    }
}

/// Tries `step` now, then every `short_interval` until `short_total` has passed, then
/// every `long_interval` until `long_total` more has passed. `report` hears each
/// failure (for the chain's state).
pub(crate) async fn retry<T, E, F, Fut>(
    schedule: &RetrySchedule,
    what: &str,
    channel: &str,
    halt: &mut watch::Receiver<bool>,
    mut report: impl FnMut(String),
    mut step: F,
) -> Result<T, GaveUp>
where
    F: FnMut() -> Fut,
    E: std::fmt::Display,
    Fut: Future<Output = Result<T, E>>,
{
    let start = Instant::now();
    let short_end = start + schedule.short_total;
    let long_end = short_end + schedule.long_total;
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let outcome = tokio::select! {
            r = step() => r,
            _ = halted(halt) => return Err(GaveUp::Halted),
        };
        let err = match outcome {
            Ok(v) => {
                if attempt > 1 {
                    info!(channel, attempt, "{what}: succeeded");
                }
                return Ok(v);
            }
            Err(e) => e,
        };
        let now = Instant::now();
        let interval = if now < short_end {
            schedule.short_interval
        } else if now < long_end {
            schedule.long_interval
        } else {
            return Err(GaveUp::Failed(Fault::GaveUp {
                what: what.to_owned(),
                attempts: attempt,
                elapsed: now - start,
                last: err.to_string(),
            }));
        };
        warn!(channel, attempt, error = %err, "{what} failed; retrying in {interval:?}");
        report(format!(
            "{what} failed (attempt {attempt}, retrying every {interval:?}): {err}"
        ));
        let wake = (now + interval).min(long_end.max(now + Duration::from_millis(1)));
        tokio::select! {
            _ = tokio::time::sleep_until(wake) => {}
            _ = halted(halt) => return Err(GaveUp::Halted),
        }
    }
}

/// Resolves when a halt is requested (or whoever could request one is gone).
pub(crate) async fn halted(halt: &mut watch::Receiver<bool>) {
    let _ = halt.wait_for(|h| *h).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn schedule() -> RetrySchedule {
        RetrySchedule {
            short_interval: Duration::from_secs(5),
            short_total: Duration::from_secs(20),
            long_interval: Duration::from_secs(60),
            long_total: Duration::from_secs(180),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn short_then_long_then_gives_up() {
        let (_tx, mut halt) = watch::channel(false);
        let attempts = AtomicU32::new(0);
        let started = Instant::now();
        let mut times = Vec::new();
        let r: Result<(), _> = retry(
            &schedule(),
            "step",
            "c",
            &mut halt,
            |_| {},
            || {
                attempts.fetch_add(1, Ordering::SeqCst);
                times.push(started.elapsed().as_secs());
                async { Err("boom".to_owned()) }
            },
        )
        .await;
        match r {
            Err(GaveUp::Failed(e)) => {
                let e = e.to_string();
                assert!(e.contains("boom") && e.contains("8 attempts"), "{e}");
            }
            other => panic!("{other:?}"),
        }
        // Every 5s for 20s, then every 60s until 20+180s.
        assert_eq!(times, vec![0, 5, 10, 15, 20, 80, 140, 200]);
    }

    #[tokio::test(start_paused = true)]
    async fn succeeds_after_failures_and_reports_them() {
        let (_tx, mut halt) = watch::channel(false);
        let n = AtomicU32::new(0);
        let mut reports = Vec::new();
        let r = retry(
            &schedule(),
            "step",
            "c",
            &mut halt,
            |m| reports.push(m),
            || {
                let i = n.fetch_add(1, Ordering::SeqCst);
                async move {
                    if i < 2 {
                        Err(format!("fail {i}"))
                    } else {
                        Ok(i)
                    }
                }
            },
        )
        .await;
        assert!(matches!(r, Ok(2)), "{r:?}");
        assert_eq!(reports.len(), 2);
        assert!(reports[1].contains("fail 1"));
    }

    #[tokio::test(start_paused = true)]
    async fn halt_stops_retrying() {
        let (tx, mut halt) = watch::channel(false);
        let h = tokio::spawn(async move {
            retry::<(), String, _, _>(
                &schedule(),
                "step",
                "c",
                &mut halt,
                |_| {},
                || async { Err("x".into()) },
            )
            .await
        });
        tokio::time::sleep(Duration::from_secs(7)).await;
        tx.send_replace(true);
        assert!(matches!(h.await.unwrap(), Err(GaveUp::Halted)));
    }
}
