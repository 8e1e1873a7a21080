//! Latency histograms, rates, send times, and the CPU and memory readings of the
//! benchmark's processes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::json;

/// Latencies are recorded in microseconds, up to an hour, to 3 significant digits.
const LATENCY_MAX_US: u64 = 3_600_000_000;

pub(super) fn histogram() -> Histogram<u64> {
    // Bounds are constants within hdrhistogram's limits.
    Histogram::new_with_bounds(1, LATENCY_MAX_US, 3).expect("valid histogram bounds")
}

pub(super) fn record(h: &mut Histogram<u64>, latency: Duration) {
    let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
    h.saturating_record(us.clamp(1, LATENCY_MAX_US));
}

/// Recorded microseconds as milliseconds.
fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// Latency percentiles in milliseconds.
pub(super) fn percentiles(h: &Histogram<u64>) -> serde_json::Value {
    json!({
        "p50": ms(h.value_at_quantile(0.50)),
        "p90": ms(h.value_at_quantile(0.90)),
        "p99": ms(h.value_at_quantile(0.99)),
        "max": ms(h.max()),
    })
}

pub(super) fn percentile_line(h: &Histogram<u64>) -> String {
    format!(
        "p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(h.value_at_quantile(0.50)),
        ms(h.value_at_quantile(0.90)),
        ms(h.value_at_quantile(0.99)),
        ms(h.max())
    )
}

/// CPU time (user + system) this process has used so far, from /proc/self/stat.
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start with the state,
    // field 3; utime and stime are fields 14 and 15, in clock ticks. Linux reports
    // them in USER_HZ, 100 on every architecture it runs on.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

pub(super) fn per_second(n: u64, d: Duration) -> f64 {
    let s = d.as_secs_f64();
    if s > 0.0 { n as f64 / s } else { 0.0 }
}

/// Send times of every envelope, nanoseconds after the start plus one (0: not sent).
pub(super) type SendTimes = Arc<Vec<AtomicU64>>;

pub(super) fn elapsed_nanos(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

pub(super) fn since_sent(sent: &AtomicU64, now: u64) -> Option<Duration> {
    match sent.load(Ordering::Relaxed) {
        0 => None,
        t => Some(Duration::from_nanos(now.saturating_sub(t - 1))),
    }
}

/// Peak resident memory of process `pid` in bytes (VmHWM in /proc/PID/status).
pub fn peak_rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_rss_is_read_from_proc() {
        let rss = peak_rss(std::process::id()).expect("Linux /proc/PID/status");
        assert!(rss > 1024 * 1024, "{rss}");
        assert_eq!(peak_rss(u32::MAX), None);
    }

    #[test]
    fn cpu_time_is_read_from_proc() {
        let t = cpu_seconds().expect("Linux /proc/self/stat");
        assert!(t >= 0.0);
    }

    #[test]
    fn percentiles_are_in_milliseconds() {
        let mut h = histogram();
        for ms in 1..=100u64 {
            record(&mut h, Duration::from_millis(ms));
        }
        let p = percentiles(&h);
        let p50 = p["p50"].as_f64().unwrap();
        assert!((49.9..=50.1).contains(&p50), "{p}");
        let max = p["max"].as_f64().unwrap();
        assert!((99.9..=100.1).contains(&max), "{p}");
    }
}
