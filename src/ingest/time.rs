//! Timestamp parsing for every format we read, all to UTC milliseconds.

use crate::event::Millis;
use chrono::{DateTime, NaiveDateTime};

/// RFC 3339 / ISO 8601 (with or without zone, `T` or space), CLF `10/Oct/2000:13:55:36 -0700`,
/// or epoch seconds / milliseconds / microseconds as text.
pub fn parse_time(s: &str) -> Option<Millis> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let f: f64 = s.parse().ok()?;
        return epoch(f);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    if let Ok(t) = DateTime::parse_from_str(s, "%d/%b/%Y:%H:%M:%S %z") {
        return Some(t.timestamp_millis());
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%Y-%m-%d %H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(s, fmt) {
            return Some(t.timestamp_millis());
        }
    }
    // No zone: taken as UTC, which is what log shippers mean far more often than not.
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S,%f",
        // HAProxy's accept date
        "%d/%b/%Y:%H:%M:%S%.f",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s.trim_end_matches('Z'), fmt) {
            return Some(t.and_utc().timestamp_millis());
        }
    }
    None
}

/// The largest magnitude taken from input for a lifetime, a claim time or a duration
/// (seconds or ms; about 300,000 years in seconds). Beyond it a number is nonsense, and
/// the bound keeps every later `* 1000`, sum and difference of times far inside i64.
pub const MAX_SPAN: i64 = 10_000_000_000_000;

/// `x` if its magnitude is at most [`MAX_SPAN`].
pub fn span(x: i64) -> Option<i64> {
    (-MAX_SPAN..=MAX_SPAN).contains(&x).then_some(x)
}

/// A JSON number as an epoch: seconds, milliseconds or microseconds by magnitude; none
/// after the year 9999.
pub fn epoch(f: f64) -> Option<Millis> {
    if !f.is_finite() || f <= 0.0 {
        return None;
    }
    let ms = if f < 1e11 {
        f * 1000.0
    } else if f < 1e14 {
        f
    } else {
        f / 1000.0
    };
    (ms <= 253_402_300_799_999.0).then_some(ms as Millis)
}

/// Formats UTC milliseconds as RFC 3339 with milliseconds and `Z`.
pub fn format_ts(ms: Millis) -> String {
    match DateTime::from_timestamp_millis(ms) {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        None => ms.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let a = parse_time("2026-11-24T06:26:39.370474+00:00").unwrap();
        assert_eq!(format_ts(a), "2026-11-24T06:26:39.370Z");
        assert_eq!(
            parse_time("24/Nov/2026:06:26:39 +0000"),
            parse_time("2026-11-24T06:26:39Z")
        );
        assert_eq!(
            parse_time("24/Nov/2026:07:26:39 +0100"),
            parse_time("2026-11-24T06:26:39Z")
        );
        assert_eq!(parse_time("1795501599"), Some(1_795_501_599_000));
        assert_eq!(parse_time("1795501599123"), Some(1_795_501_599_123));
        assert!(parse_time("2026-11-24 06:26:39.5").is_some());
        assert!(parse_time("yesterday").is_none());
    }
}
