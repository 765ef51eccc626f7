//! UTC date formats from `SystemTime`, without a calendar library.

use std::time::{SystemTime, UNIX_EPOCH};

/// (year, month 1-12, day 1-31) of a count of days since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

struct Utc {
    year: i64,
    month: u32,
    day: u32,
    hour: u64,
    minute: u64,
    second: u64,
    weekday: usize,
}

fn utc(t: SystemTime) -> Utc {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs();
    let days = (secs / 86_400) as i64;
    let (year, month, day) = civil_from_days(days);
    Utc {
        year,
        month,
        day,
        hour: secs % 86_400 / 3600,
        minute: secs % 3600 / 60,
        second: secs % 60,
        // 1970-01-01 was a Thursday.
        weekday: ((days + 4) % 7) as usize,
    }
}

/// `20130524T000000Z` (x-amz-date, x-oss-date).
pub fn amz_date(t: SystemTime) -> String {
    let u = utc(t);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        u.year, u.month, u.day, u.hour, u.minute, u.second
    )
}

/// `Fri, 24 May 2013 00:00:00 GMT` (the HTTP Date header, OSS V1).
pub fn http_date(t: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let u = utc(t);
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        DAYS[u.weekday],
        u.day,
        MONTHS[u.month as usize - 1],
        u.year,
        u.hour,
        u.minute,
        u.second
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_known_instants() {
        let t = UNIX_EPOCH + Duration::from_secs(1_369_353_600); // 2013-05-24 00:00:00
        assert_eq!(amz_date(t), "20130524T000000Z");
        assert_eq!(http_date(t), "Fri, 24 May 2013 00:00:00 GMT");
        let leap = UNIX_EPOCH + Duration::from_secs(951_825_599); // 2000-02-29 11:59:59
        assert_eq!(amz_date(leap), "20000229T115959Z");
        assert_eq!(http_date(UNIX_EPOCH), "Thu, 01 Jan 1970 00:00:00 GMT");
    }
}
