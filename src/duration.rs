//! Go durations (`time.ParseDuration`), as kubelet reads `cacheDuration` and as the Go
//! implementation read its duration flags: `0`, `90s`, `1m30s`, `1.5h`, `100ms`.

use std::time::Duration;

use anyhow::{Context, Result, ensure};

/// The longest duration Go (and so kubelet, reading `cacheDuration`) can represent: 2^63-1 ns.
const MAX_GO_DURATION_NANOS: u64 = i64::MAX as u64;

/// A Go duration (`time.ParseDuration`, as kubelet reads `cacheDuration`): `0`, `90s`, `1m30s`,
/// `1.5h`, `100ms`. Negative durations and those beyond Go's ~292 years are refused.
pub fn parse(duration: &str) -> Result<Duration> {
    ensure!(!duration.is_empty(), "empty duration");
    if duration == "0" {
        return Ok(Duration::ZERO);
    }
    let digits = |s: &str| s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let mut rest = duration;
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let (whole, after) = rest.split_at(digits(rest));
        let (fraction, after) = match after.strip_prefix('.') {
            Some(after) => after.split_at(digits(after)),
            None => ("", after),
        };
        ensure!(
            !whole.is_empty() || !fraction.is_empty(),
            "invalid duration {duration:?}: expected a number"
        );
        let (unit, unit_nanos) = [
            ("ns", 1),
            ("us", 1_000),
            ("µs", 1_000),
            ("μs", 1_000),
            ("ms", 1_000_000),
            ("s", 1_000_000_000),
            ("m", 60_000_000_000),
            ("h", 3_600_000_000_000u64),
        ]
        .into_iter()
        .find(|(unit, _)| after.starts_with(unit))
        .with_context(|| {
            format!("invalid duration {duration:?}: expected a unit (ns, us, ms, s, m, h)")
        })?;
        rest = &after[unit.len()..];
        let too_long = || {
            format!(
                "invalid duration {duration:?}: longer than Go's maximum, 2562047h47m16.854775807s"
            )
        };
        let whole_nanos = if whole.is_empty() {
            0
        } else {
            whole
                .parse::<u64>()
                .ok()
                .and_then(|whole| whole.checked_mul(unit_nanos))
                .with_context(too_long)?
        };
        // As Go does: the fraction in floating point, truncated to whole nanoseconds.
        let fraction_nanos = if fraction.is_empty() {
            0
        } else {
            let fraction: f64 = format!("0.{fraction}").parse().context("fraction")?;
            (fraction * unit_nanos as f64) as u64
        };
        total = total
            .checked_add(whole_nanos)
            .and_then(|total| total.checked_add(fraction_nanos))
            .filter(|&total| total <= MAX_GO_DURATION_NANOS)
            .with_context(too_long)?;
    }
    Ok(Duration::from_nanos(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_read_as_go_reads_them() {
        assert_eq!(parse("0").unwrap(), Duration::ZERO);
        assert_eq!(parse("0s").unwrap(), Duration::ZERO);
        assert_eq!(parse("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse("1.5h").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse(".5s").unwrap(), Duration::from_millis(500));
        assert_eq!(parse("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse("3µs").unwrap(), Duration::from_micros(3));
        assert_eq!(
            parse("2562047h47m16.854775807s").unwrap(),
            Duration::from_nanos(i64::MAX as u64)
        );
        for bad in [
            "",
            "1",
            "s",
            ".s",
            "1x",
            "-1s",
            "1sm",
            "1..2s",
            "2562047h47m16.854775808s",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
