//! Durations in Go's notation (`500ms`, `2s`, `1m30s`, `1.5h`), as Fabric writes them in
//! `orderer.yaml` and in the `BatchTimeout` config value. Fabric tools parse what
//! [`format`] writes, and [`parse`] reads what they write.

use std::time::Duration;

const UNITS: [(&str, u128); 8] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("μs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// Why a text is not a non-negative Go duration. Each variant carries the text as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Empty, malformed number, negative, or too large.
    #[error("expected a duration like 500ms, 2s, 1m30s or 1h, got {text:?}")]
    Malformed { text: String },
    #[error(
        "expected a duration like 500ms, 2s, 1m30s or 1h, got {text:?}: a number needs a unit \
         (ns, us, ms, s, m, h)"
    )]
    MissingUnit { text: String },
    #[error("expected a duration like 500ms, 2s, 1m30s or 1h, got {text:?}: unknown unit {unit:?}")]
    UnknownUnit { text: String, unit: String },
}

/// Parses a non-negative Go duration string. The error says what was expected.
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    let s = text.trim();
    let expected = || DurationError::Malformed {
        text: text.to_owned(),
    };
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(expected());
    }
    let mut rest = s;
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| DurationError::MissingUnit {
                text: text.to_owned(),
            })?;
        if num_len == 0 {
            return Err(expected());
        }
        let (num, tail) = rest.split_at(num_len);
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let scale = UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|(_, scale)| *scale)
            .ok_or_else(|| DurationError::UnknownUnit {
                text: text.to_owned(),
                unit: unit.to_owned(),
            })?;
        let (int_part, frac_part) = num.split_once('.').unwrap_or((num, ""));
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(expected());
        }
        let int: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| expected())?
        };
        let mut nanos = int.checked_mul(scale).ok_or_else(expected)?;
        if !frac_part.is_empty() {
            if !frac_part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(expected());
            }
            // Only the digits that can matter at nanosecond precision.
            let digits = &frac_part[..frac_part.len().min(18)];
            let frac: u128 = digits.parse().map_err(|_| expected())?;
            nanos += frac * scale / 10u128.pow(digits.len() as u32);
        }
        total = total.checked_add(nanos).ok_or_else(expected)?;
        rest = tail;
    }
    let secs = u64::try_from(total / 1_000_000_000).map_err(|_| expected())?;
    Ok(Duration::new(secs, (total % 1_000_000_000) as u32))
}

/// Formats like Go's `time.Duration.String()`: `0s`, `250ms`, `2s`, `1m30s`, `1h0m0s`.
pub fn format(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_owned();
    }
    if nanos < 1_000 {
        return format!("{nanos}ns");
    }
    if nanos < 1_000_000 {
        return format!("{}µs", trim_fraction(nanos, 1_000));
    }
    if nanos < 1_000_000_000 {
        return format!("{}ms", trim_fraction(nanos, 1_000_000));
    }
    let hours = nanos / 3_600_000_000_000;
    let minutes = (nanos / 60_000_000_000) % 60;
    let secs = trim_fraction(nanos % 60_000_000_000, 1_000_000_000);
    match (hours, minutes) {
        (0, 0) => format!("{secs}s"),
        (0, m) => format!("{m}m{secs}s"),
        (h, m) => format!("{h}h{m}m{secs}s"),
    }
}

/// `value / scale` in decimal, without trailing zeros in the fraction.
fn trim_fraction(value: u128, scale: u128) -> String {
    let int = value / scale;
    let frac = value % scale;
    if frac == 0 {
        return int.to_string();
    }
    let width = scale.ilog10() as usize;
    let digits = format!("{frac:0width$}");
    format!("{int}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        let cases = [
            ("0", Duration::ZERO),
            ("2s", Duration::from_secs(2)),
            ("500ms", Duration::from_millis(500)),
            ("10m", Duration::from_secs(600)),
            ("1h30m", Duration::from_secs(5400)),
            ("1.5s", Duration::from_millis(1500)),
            ("250us", Duration::from_micros(250)),
            ("250µs", Duration::from_micros(250)),
            ("7ns", Duration::from_nanos(7)),
            (" 2s ", Duration::from_secs(2)),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn rejects_bad_durations_with_the_expected_form() {
        for text in ["", "2", "2x", "s", "-1s", "1..5s", "ms5", "2 s"] {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains("expected a duration"), "{text}: {err}");
        }
    }

    #[test]
    fn duration_errors_keep_their_wording() {
        assert_eq!(
            parse("2").unwrap_err().to_string(),
            "expected a duration like 500ms, 2s, 1m30s or 1h, got \"2\": a number needs a unit \
             (ns, us, ms, s, m, h)"
        );
        assert_eq!(
            parse("2x"),
            Err(DurationError::UnknownUnit {
                text: "2x".into(),
                unit: "x".into()
            })
        );
        assert_eq!(
            parse("2x").unwrap_err().to_string(),
            "expected a duration like 500ms, 2s, 1m30s or 1h, got \"2x\": unknown unit \"x\""
        );
    }

    #[test]
    fn formats_like_go_and_round_trips() {
        let cases = [
            (Duration::ZERO, "0s"),
            (Duration::from_millis(200), "200ms"),
            (Duration::from_secs(2), "2s"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_secs(90), "1m30s"),
            (Duration::from_secs(3600), "1h0m0s"),
            (Duration::from_micros(3), "3µs"),
        ];
        for (d, want) in cases {
            assert_eq!(format(d), want);
            assert_eq!(parse(want), Ok(d));
        }
    }
}
