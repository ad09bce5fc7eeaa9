//! Dates and times, on the `time` crate: RFC 3339 as Incus writes it, Unix seconds, the short
//! forms people read.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

/// Unix seconds now.
pub fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// Parses an RFC 3339 time as Incus writes it (`2026-11-26T05:09:49.97Z`,
/// `2026-11-26T05:09:49.970+02:00`) into Unix seconds; Go's zero time (year 1) and garbage
/// give `None`.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(s.trim(), &Rfc3339).ok()?;
    (t.year() >= 1970).then(|| t.unix_timestamp())
}

fn utc(unix: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(unix).ok()
}

/// `YYYY-MM-DD` of a Unix time.
pub fn date(unix: i64) -> String {
    utc(unix)
        .and_then(|t| t.format(format_description!("[year]-[month]-[day]")).ok())
        .unwrap_or_else(|| unix.to_string())
}

/// `YYYY-MM-DD HH:MM UTC` of a Unix time.
pub fn date_time(unix: i64) -> String {
    utc(unix)
        .and_then(|t| {
            t.format(format_description!(
                "[year]-[month]-[day] [hour]:[minute] UTC"
            ))
            .ok()
        })
        .unwrap_or_else(|| unix.to_string())
}

/// A short human duration: `3d 4h`, `12m`, `40s`.
pub fn human_duration(secs: i64) -> String {
    let s = secs.abs();
    match s {
        s if s >= 86400 => format!("{}d {}h", s / 86400, (s % 86400) / 3600),
        s if s >= 3600 => format!("{}h {}m", s / 3600, (s % 3600) / 60),
        s if s >= 60 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incus_times_parse_and_print() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339("2026-11-26T05:09:49.97Z"),
            Some(1_795_669_789)
        );
        assert_eq!(
            parse_rfc3339("2026-11-26T07:09:49.970+02:00"),
            Some(1_795_669_789)
        );
        assert_eq!(parse_rfc3339("0001-01-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("garbage"), None);
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(-86400), "1969-12-31");
        assert_eq!(date_time(1_795_669_789), "2026-11-26 05:09 UTC");
        assert_eq!(human_duration(3 * 86400 + 7200), "3d 2h");
        assert_eq!(human_duration(125), "2m");
        assert_eq!(human_duration(-40), "40s");
    }
}
