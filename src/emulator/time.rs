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

#[cfg(test)]
mod tests {
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
