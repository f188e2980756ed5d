//! Timestamp parsing for every format we read, all to UTC milliseconds.

use crate::event::Millis;
use chrono::{DateTime, FixedOffset, NaiveDateTime};

/// RFC 3339 / ISO 8601 (with or without zone, `T` or space), CLF `10/Oct/2000:13:55:36 -0700`,
/// or epoch seconds / milliseconds / microseconds as text.
pub fn parse_time(s: &str) -> Option<Millis> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    // Python's logging `asctime` and log4j write a decimal comma: `18:22:46,855`.
    let comma = s.find(',').filter(|&i| {
        let b = s.as_bytes();
        i > 0 && b[i - 1].is_ascii_digit() && b.get(i + 1).is_some_and(u8::is_ascii_digit)
    });
    let decimal;
    let s = match comma {
        Some(i) => {
            decimal = format!("{}.{}", &s[..i], &s[i + 1..]);
            decimal.as_str()
        }
        None => s,
    };
    if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let f: f64 = s.parse().ok()?;
        return epoch(f);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    if let Some(t) = clf(s) {
        return Some(t);
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
        // HAProxy's accept date
        "%d/%b/%Y:%H:%M:%S%.f",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s.trim_end_matches('Z'), fmt) {
            return Some(t.and_utc().timestamp_millis());
        }
    }
    None
}

/// An RFC 3339 time (a HAR's `startedDateTime`) in microseconds since the epoch, for
/// arithmetic that must not round twice; None for anything else.
pub fn start_micros(s: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.timestamp_micros())
}

/// The CLF time of every access-log line, `10/Oct/2000:13:55:36 -0700`, read without a
/// format string (interpreting one per line was a tenth of reading an access log). Anything
/// unusual is left to the general path.
fn clf(s: &str) -> Option<Millis> {
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let b = s.as_bytes();
    let punct = [
        (2, b'/'),
        (6, b'/'),
        (11, b':'),
        (14, b':'),
        (17, b':'),
        (20, b' '),
    ];
    if b.len() != 26 || punct.iter().any(|&(i, c)| b[i] != c) {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        b[from..to].iter().try_fold(0u32, |n, d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let month = MONTHS
        .iter()
        .position(|m| m.eq_ignore_ascii_case(&b[3..6]))? as u32
        + 1;
    let (hh, mm) = (num(22, 24)?, num(24, 26)?);
    if hh > 23 || mm > 59 {
        return None;
    }
    let sign = match b[21] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let t = chrono::NaiveDate::from_ymd_opt(num(7, 11)? as i32, month, num(0, 2)?)?.and_hms_opt(
        num(12, 14)?,
        num(15, 17)?,
        num(18, 20)?,
    )?;
    Some(t.and_utc().timestamp_millis() - sign * i64::from(hh * 3600 + mm * 60) * 1000)
}

/// A time written without a zone (HAProxy's accept date), read in the zone `offset` when the
/// line says which one elsewhere (a syslog prefix); UTC otherwise. A time that has its own
/// zone keeps it.
pub fn parse_time_in(s: &str, offset: Option<FixedOffset>) -> Option<Millis> {
    let t = s.trim();
    if let Some(off) = offset {
        for fmt in [
            "%d/%b/%Y:%H:%M:%S%.f",
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%d %H:%M:%S%.f",
        ] {
            if let Ok(n) = NaiveDateTime::parse_from_str(t, fmt) {
                let utc = n.and_utc().timestamp_millis();
                return Some(utc - i64::from(off.local_minus_utc()) * 1000);
            }
        }
    }
    parse_time(t)
}

/// The zone of an RFC 3339 time (`2026-11-25T17:42:30.283047+01:00`), if it is one.
pub fn rfc3339_offset(s: &str) -> Option<FixedOffset> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| *t.offset())
}

/// Whether a time as written states only whole seconds (`[25/Nov/2026:17:42:45 +0000]`,
/// `2026-11-25T17:41:55+00:00`, epoch seconds): such a time is coarse, and any other
/// source's time for the same exchange is better.
pub fn whole_seconds(s: &str) -> bool {
    let s = s.trim();
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return s.len() <= 10;
    }
    !s.contains(['.', ','])
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

/// The clock, in UTC milliseconds (0 for a clock set before 1970).
pub fn now_ms() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as Millis)
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
        // Python logging's asctime: a decimal comma, milliseconds.
        assert_eq!(
            parse_time("2026-11-25 18:22:46,855"),
            parse_time("2026-11-25T18:22:46.855Z")
        );
        assert!(parse_time("yesterday").is_none());
    }

    #[test]
    fn clf_fast_path_agrees_with_chrono() {
        let slow = |s: &str| {
            DateTime::parse_from_str(s, "%d/%b/%Y:%H:%M:%S %z")
                .ok()
                .map(|t| t.timestamp_millis())
        };
        for s in [
            "24/Nov/2026:06:26:39 +0000",
            "01/jan/1999:00:00:00 -0730",
            "29/Feb/2024:23:59:59 +1400",
            "29/Feb/2025:12:00:00 +0000",
            "31/Apr/2026:12:00:00 +0000",
            "24/Nov/2026:24:00:00 +0000",
            "24/Nov/2026:06:61:39 +0000",
            "24/Nov/2026:06:26:39 +0960",
            "24/Nov/2026:06:26:39 *0000",
            "24/Xyz/2026:06:26:39 +0000",
            "2x/Nov/2026:06:26:39 +0000",
        ] {
            if let Some(fast) = clf(s) {
                assert_eq!(Some(fast), slow(s), "{s}");
            }
            assert_eq!(parse_time(s), slow(s), "{s}");
        }
        assert!(clf("24/Nov/2026:06:26:39 +0000").is_some());
    }

    #[test]
    fn zone_from_elsewhere_and_precision() {
        let off = rfc3339_offset("2026-11-25T18:42:30.283047+01:00");
        assert_eq!(
            parse_time_in("25/Nov/2026:18:42:30.282", off),
            parse_time("2026-11-25T17:42:30.282Z")
        );
        assert_eq!(
            parse_time_in("25/Nov/2026:17:42:30.282", None),
            parse_time("2026-11-25T17:42:30.282Z")
        );
        // A time with its own zone keeps it.
        assert_eq!(
            parse_time_in("25/Nov/2026:17:42:30 +0000", off),
            parse_time("2026-11-25T17:42:30Z")
        );
        assert!(whole_seconds("25/Nov/2026:17:42:45 +0000"));
        assert!(whole_seconds("1795628525"));
        assert!(!whole_seconds("2026-11-25T17:43:06.123Z"));
        assert!(!whole_seconds("25/Nov/2026:17:42:25.953"));
    }
}
