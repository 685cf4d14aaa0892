//! Calendar arithmetic on Unix seconds (UTC, proleptic Gregorian, no leap seconds), as X.509
//! times need it: DER times to seconds and back, and ISO 8601 text for messages.
//!
//! The day arithmetic is Howard Hinnant's `days_from_civil` / `civil_from_days`.

/// First and last second that GeneralizedTime's four-digit year can express
/// (0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z).
pub const MIN_GENERALIZED_TIME: i64 = -62_167_219_200;
pub const MAX_GENERALIZED_TIME: i64 = 253_402_300_799;
/// RFC 5280 §4.1.2.5: UTCTime covers 1950-01-01T00:00:00Z up to (not including) 2050.
pub const UTC_TIME_START: i64 = -631_152_000;
pub const UTC_TIME_END: i64 = 2_524_608_000;

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// The date of a day counted from 1970-01-01 (inverse of [`days_from_civil`]).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

pub fn is_leap_year(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

pub fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap_year(year) => 29,
        _ => 28,
    }
}

/// A UTC date and time of day, to the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

impl Civil {
    /// The civil time of `secs` seconds since 1970-01-01T00:00:00Z.
    pub fn from_seconds(secs: i64) -> Civil {
        let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
        let s = secs.rem_euclid(86_400) as u32;
        Civil { year, month, day, hour: s / 3600, minute: s / 60 % 60, second: s % 60 }
    }

    /// Seconds since 1970, or None when a field is out of range (month 13, 30 February, 24:00).
    pub fn to_seconds(&self) -> Option<i64> {
        let Civil { year, month, day, hour, minute, second } = *self;
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) || hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        Some(days_from_civil(year, month, day) * 86400 + (hour * 3600 + minute * 60 + second) as i64)
    }
}

/// ISO 8601 UTC text: `2026-11-26T00:00:00Z`.
///
/// ```
/// assert_eq!(jpki_fast_core::time::iso(1_795_651_200), "2026-11-26T00:00:00Z");
/// ```
pub fn iso(secs: i64) -> String {
    let c = Civil::from_seconds(secs);
    format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", c.year, c.month, c.day, c.hour, c.minute, c.second)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_round_trip() {
        for days in [-719_468i64, -1, 0, 1, 10_957, 19_000, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{days} -> {y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn seconds_round_trip_and_invalid_fields_are_refused() {
        for secs in [MIN_GENERALIZED_TIME, UTC_TIME_START, -1, 0, 1_767_225_599, MAX_GENERALIZED_TIME] {
            assert_eq!(Civil::from_seconds(secs).to_seconds(), Some(secs), "{secs}");
        }
        let c = Civil { year: 2026, month: 2, day: 29, hour: 0, minute: 0, second: 0 };
        assert_eq!(c.to_seconds(), None);
        assert_eq!(Civil { year: 2028, ..c }.to_seconds(), Some(1_835_395_200));
        assert_eq!(Civil { day: 1, hour: 24, ..c }.to_seconds(), None);
        assert_eq!(iso(-1), "1969-12-31T23:59:59Z");
    }
}
