//! Dates on the wire: ISO 8601 in XML (`2026-12-01T18:56:04.000Z`), the compact
//! `20261201T185604Z` of SigV4 and OSS V4, and RFC 7231 HTTP dates (via `httpdate`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01: (year, month, day).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
    (year, month, day)
}

/// Milliseconds since the epoch, now.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// `2026-12-01T18:56:04.000Z`: whole seconds, as both services write it (oss2's parser
/// accepts nothing but `.000` for the fraction).
pub fn iso8601(ms: u64) -> String {
    let secs = (ms / 1000) as i64;
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.000Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
    )
}

/// `2026-12-01T18:56:04.123Z`: with milliseconds, for S3 listings, so that a tool
/// comparing a file's modification time with the object's (`aws s3 sync`) sees an upload
/// made within the same second as newer.
pub fn iso8601_ms(ms: u64) -> String {
    let whole = iso8601(ms);
    format!("{}.{:03}Z", &whole[..19], ms % 1000)
}

/// `Tue, 01 Dec 2026 18:56:04 GMT`.
pub fn http_date(ms: u64) -> String {
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_millis(ms))
}

/// Seconds since the epoch of an HTTP date, if it parses.
pub fn parse_http_date(text: &str) -> Option<u64> {
    let t = httpdate::parse_http_date(text.trim()).ok()?;
    t.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs())
}

/// Seconds since the epoch of `YYYYMMDDTHHMMSSZ`, if it is one.
pub fn parse_compact(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let s = text.get(r)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, s) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let days = days_from_civil(y as i64, mo, d);
    u64::try_from(days * 86_400 + (h * 3600 + mi * 60 + s) as i64).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_round_trip() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_369_353_600_123), "2013-05-24T00:00:00.000Z");
        assert_eq!(iso8601_ms(1_369_353_600_123), "2013-05-24T00:00:00.123Z");
        assert_eq!(parse_compact("20130524T000000Z"), Some(1_369_353_600));
        assert_eq!(parse_compact("20240229T235959Z"), Some(1_709_251_199));
        assert_eq!(parse_compact("2013-05-24T00:00:00Z"), None);
        assert_eq!(parse_compact("20131324T000000Z"), None);
        let ms = 1_369_353_600_000;
        assert_eq!(parse_http_date(&http_date(ms)), Some(ms / 1000));
        assert_eq!(http_date(ms), "Fri, 24 May 2013 00:00:00 GMT");
    }
}
