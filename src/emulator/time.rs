//! RFC 3339 timestamps without a date-time crate: the emulator only needs to
//! stamp "now" in UTC and to check the timestamps in its state file.

use std::time::{SystemTime, UNIX_EPOCH};

/// Formats the current time as `YYYY-MM-DDTHH:MM:SS.mmmZ`, as Google does.
pub fn now_rfc3339() -> String {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let seconds = since_epoch.as_secs();
    let (year, month, day) = civil_from_days((seconds / 86_400) as i64);
    let second_of_day = seconds % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60,
        since_epoch.subsec_millis(),
    )
}

/// Converts days since 1970-01-01 to a proleptic Gregorian (year, month, day).
///
/// The calendar is shifted to start on 1 March so that the leap day falls at
/// the end of a year, which makes each 400-year era a fixed 146,097 days.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Checks the shape of an RFC 3339 timestamp such as `2021-01-04T09:00:00Z`
/// or `2021-01-04T10:00:00.5+01:00`. Field ranges are checked loosely (day
/// 1-31 in any month), which is enough to catch typos in a state file.
pub fn is_rfc3339(text: &str) -> bool {
    let bytes = text.as_bytes();
    let number = |range: std::ops::Range<usize>, max: u32| -> bool {
        let Some(part) = text.get(range) else {
            return false;
        };
        part.bytes().all(|b| b.is_ascii_digit()) && part.parse::<u32>().is_ok_and(|n| n <= max)
    };
    let date_time_ok = bytes.len() >= 20
        && number(0..4, 9999)
        && bytes[4] == b'-'
        && number(5..7, 12)
        && bytes[7] == b'-'
        && number(8..10, 31)
        && matches!(bytes[10], b'T' | b't')
        && number(11..13, 23)
        && bytes[13] == b':'
        && number(14..16, 59)
        && bytes[16] == b':'
        && number(17..19, 60);
    if !date_time_ok {
        return false;
    }

    let mut rest = &text[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return false;
        }
        rest = &fraction[digits..];
    }
    match rest {
        "Z" | "z" => true,
        offset => {
            let offset_bytes = offset.as_bytes();
            offset_bytes.len() == 6
                && matches!(offset_bytes[0], b'+' | b'-')
                && offset[1..3].parse::<u32>().is_ok_and(|h| h <= 23)
                && offset_bytes[3] == b':'
                && offset[4..6].parse::<u32>().is_ok_and(|m| m <= 59)
        }
    }
}

/// Converts a checked RFC 3339 timestamp to nanoseconds since the epoch,
/// so that timestamps with different offsets compare correctly. Returns
/// `None` when [`is_rfc3339`] rejects the text.
pub fn instant_of(text: &str) -> Option<i128> {
    if !is_rfc3339(text) {
        return None;
    }
    let field = |range: std::ops::Range<usize>| text[range].parse::<i64>().ok();
    let (year, month, day) = (field(0..4)?, field(5..7)?, field(8..10)?);
    let seconds_of_day = field(11..13)? * 3600 + field(14..16)? * 60 + field(17..19)?;
    let mut rest = &text[19..];
    let mut nanos: i128 = 0;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        let padded = format!("{:0<9}", &fraction[..digits.min(9)]);
        nanos = padded.parse().ok()?;
        rest = &fraction[digits..];
    }
    let offset_seconds = match rest {
        "Z" | "z" => 0,
        offset => {
            let sign = if offset.starts_with('-') { -1 } else { 1 };
            sign * (offset[1..3].parse::<i64>().ok()? * 3600
                + offset[4..6].parse::<i64>().ok()? * 60)
        }
    };
    let seconds = days_from_civil(year, month, day) * 86_400 + seconds_of_day - offset_seconds;
    Some(i128::from(seconds) * 1_000_000_000 + nanos)
}

/// Converts a proleptic Gregorian date to days since 1970-01-01; the
/// inverse of [`civil_from_days`].
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month_index = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    #[test]
    fn instants_compare_across_offsets() {
        let utc = instant_of("2021-01-04T09:00:00Z").unwrap();
        assert_eq!(instant_of("2021-01-04T10:00:00+01:00"), Some(utc));
        assert_eq!(instant_of("1970-01-01T00:00:00.5Z"), Some(500_000_000));
        assert_eq!(days_from_civil(2021, 1, 4), 18_631);
        assert_eq!(civil_from_days(18_631), (2021, 1, 4));
        assert!(instant_of("2021-01-04").is_none());
    }

    use super::*;

    #[test]
    fn civil_dates_known_days() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(18_631), (2021, 1, 4));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn now_is_rfc3339() {
        let now = now_rfc3339();
        assert!(is_rfc3339(&now), "{now}");
    }

    #[test]
    fn rfc3339_shapes() {
        for good in [
            "2021-01-04T09:00:00Z",
            "2021-01-04T09:00:00.123456Z",
            "2021-01-04T09:00:00+01:00",
        ] {
            assert!(is_rfc3339(good), "{good}");
        }
        for bad in [
            "2021-01-04",
            "2021-13-04T09:00:00Z",
            "2021-01-04 09:00:00Z",
            "2021-01-04T09:00:00",
            "2021-01-04T09:00:00.Z",
            "2021-01-04T09:00:00+1:00",
        ] {
            assert!(!is_rfc3339(bad), "{bad}");
        }
    }
}
