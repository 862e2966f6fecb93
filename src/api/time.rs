//! Time as the faces and the wire speak it: the clock in Unix milliseconds, durations
//! (`500ms`, `5s`, `1.5m`, `2h`, `1d`) and UTC timestamps (RFC 3339, through the `time`
//! crate). One set of rules for every flag, config value and request.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The longest duration anything accepts: ten years. Longer ones are typos, and they
/// overflow timestamps.
pub const MAX_DURATION: Duration = Duration::from_secs(10 * 365 * 86_400);

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// `500ms`, `5s`, `1.5s`, `10m`, `2h`, `1d`: a number and a unit, at most ten years.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration: use e.g. 500ms, 5s, 10m, 2h or 1d"))?;
    let secs = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        "d" => value * 86_400.0,
        "" => return Err(format!("{s:?} needs a unit: e.g. {s}s or {s}m")),
        other => {
            return Err(format!(
                "unknown unit {other:?} in {s:?}: use ms, s, m, h or d"
            ))
        }
    };
    if !secs.is_finite() || secs < 0.0 || secs > MAX_DURATION.as_secs_f64() {
        return Err(format!("{s:?} is out of range: at most 3650d"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// A duration the way `parse_duration` reads it back: `90s`, `2m`, `1.5s`, `250ms`.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let secs = d.as_secs();
    if ms % 1000 != 0 {
        return format!("{}s", d.as_secs_f64());
    }
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60)] {
        if secs % size == 0 {
            return format!("{}{unit}", secs / size);
        }
    }
    format!("{secs}s")
}

/// Unix milliseconds as `2024-05-01T12:00:00.123Z`.
pub fn format_utc(ms: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    // Millisecond precision, always three digits, as every log line shows it.
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// `2024-05-01`, `2024-05-01T12:00:00Z`, `2024-05-01T12:00:00.5+02:00` (also with a
/// space for the T) → Unix milliseconds.
pub fn parse_utc(s: &str) -> Option<i64> {
    let s = s.trim();
    let full = if s.len() == 10 {
        format!("{s}T00:00:00Z")
    } else {
        s.replacen(' ', "T", 1)
    };
    let t = OffsetDateTime::parse(&full, &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_duration("1d").unwrap(), Duration::from_secs(86_400));
        assert!(parse_duration("5").unwrap_err().contains("needs a unit"));
        assert!(parse_duration("5y").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("99999999999999d")
            .unwrap_err()
            .contains("out of range"));
        for d in ["90s", "2m", "250ms", "1.5s", "3h", "7d"] {
            assert_eq!(format_duration(parse_duration(d).unwrap()), d);
        }
    }

    #[test]
    fn timestamps_round_trip() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(parse_utc("1970-01-01T00:00:00Z"), Some(0));
        let ms = 1_714_564_800_123; // 2024-05-01T12:00:00.123Z
        assert_eq!(format_utc(ms), "2024-05-01T12:00:00.123Z");
        assert_eq!(parse_utc("2024-05-01T12:00:00.123Z"), Some(ms));
        assert_eq!(parse_utc("2024-05-01T14:00:00.123+02:00"), Some(ms));
        assert_eq!(parse_utc("2024-05-01 12:00:00.123Z"), Some(ms));
        assert_eq!(parse_utc("2024-05-01"), Some(1_714_521_600_000));
        assert_eq!(parse_utc("2000-02-29T00:00:00Z"), Some(951_782_400_000));
        for bad in [
            "2024-13-01",
            "2024-05-01T25:00:00Z",
            "yesterday",
            "2024-05-01T12:00",
        ] {
            assert_eq!(parse_utc(bad), None, "{bad}");
        }
    }
}
