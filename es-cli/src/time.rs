//! Times as RFC 3339 text in UTC, without a date crate.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `time` as `2026-12-05T21:40:27Z`, or with microseconds (`…:27.123456Z`).
pub(crate) fn rfc3339(time: SystemTime, micros: bool) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let secs = since.as_secs();
    let (date, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil(date);
    let (hour, minute, second) = (rest / 3600, rest % 3600 / 60, rest % 60);
    if micros {
        let fraction = since.subsec_micros();
        format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{fraction:06}Z")
    } else {
        format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z")
    }
}

/// The UTC date of `time`, `2026-12-05`, and its hour, `2026-12-05T21`.
pub(crate) fn day_and_hour(time: SystemTime) -> (String, String) {
    let text = rfc3339(time, false);
    (text[..10].to_owned(), text[..13].to_owned())
}

/// The year, month and day of the `days`-th day after 1970-01-01 (the proleptic Gregorian
/// calendar, counted in 400-year eras).
fn civil(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        let at = |secs| UNIX_EPOCH + Duration::from_secs(secs);
        assert_eq!(rfc3339(at(0), false), "1970-01-01T00:00:00Z");
        // 2000-02-29 (a leap day of a century leap year), 12:34:56.
        assert_eq!(rfc3339(at(951_827_696), false), "2000-02-29T12:34:56Z");
        // 2026-12-05T21:40:27.000250Z.
        let with_micros = at(1_796_506_827) + Duration::from_micros(250);
        assert_eq!(rfc3339(with_micros, true), "2026-12-05T21:40:27.000250Z");
        assert_eq!(
            day_and_hour(with_micros),
            ("2026-12-05".to_owned(), "2026-12-05T21".to_owned())
        );
    }
}
