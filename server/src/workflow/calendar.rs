//! Company time: days, months and deadlines in the company's time zone.
//!
//! How a day is counted (§4.6.3, §4.7): as the Civil Code of the PRC counts periods (art. 201,
//! 203): the day on which a period starts is not counted, counting starts the next day, and the
//! period ends at 24:00 of its last day. A 1-day step accepted on 3 November at 15:00 is due by
//! 24:00 on 4 November; a 6-day case accepted on 3 November is due by 24:00 on 9 November. A
//! step is overdue from the first instant after its due time.

use chrono::{DateTime, Datelike, Days, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

/// The company's calendar date of an instant.
pub fn local_date(tz: Tz, at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&tz).date_naive()
}

/// The first instant of a calendar date in the company's zone.
pub fn start_of_day(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    // Asia/Shanghai has no DST; for zones that do, take the earliest valid instant.
    match tz.from_local_datetime(&midnight) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => {
            t.with_timezone(&Utc)
        }
        chrono::LocalResult::None => tz
            .from_local_datetime(&(midnight + chrono::Duration::hours(1)))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| Utc.from_utc_datetime(&midnight)),
    }
}

/// The due instant of a period of `days` days that starts at `start`: 24:00 of the `days`-th day
/// after the start day, i.e. the start of the following day.
pub fn due_after(tz: Tz, start: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    let last_day = local_date(tz, start) + Days::new(u64::from(days));
    start_of_day(tz, last_day + Days::new(1))
}

/// Is a period due at `due` overdue at `now`? (Overdue from the first instant after 24:00.)
pub fn is_overdue(due: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now >= due
}

/// (year, month) of an instant in the company's zone.
pub fn year_month(tz: Tz, at: DateTime<Utc>) -> (i32, u32) {
    let d = local_date(tz, at);
    (d.year(), d.month())
}

/// The month before (year, month).
pub fn previous_month(year: i32, month: u32) -> (i32, u32) {
    if month == 1 {
        (year - 1, 12)
    } else {
        (year, month - 1)
    }
}

/// Reads `YYYY-MM`: four digits, a dash, two digits (`2026-1`, `+2026-01` are not months).
pub fn parse_month(text: &str) -> Option<(i32, u32)> {
    let (y, m) = text.trim().split_once('-')?;
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(y, 4) || !digits(m, 2) {
        return None;
    }
    let (y, m) = (y.parse::<i32>().ok()?, m.parse::<u32>().ok()?);
    (1..=12).contains(&m).then_some((y, m))
}

/// First instant of a month and of the month after, in the company's zone.
pub fn month_bounds(tz: Tz, year: i32, month: u32) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let first = NaiveDate::from_ymd_opt(year, month, 1)?;
    let (ny, nm) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    let next = NaiveDate::from_ymd_opt(ny, nm, 1)?;
    Some((start_of_day(tz, first), start_of_day(tz, next)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Asia::Shanghai;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn start_day_not_counted_and_period_ends_at_midnight() {
        // Accepted 3 Nov 15:00 Beijing time: 1 day is due at 24:00 on 4 Nov (16:00 UTC on 4 Nov).
        let start = utc("2026-11-03T15:00:00+08:00");
        assert_eq!(
            due_after(Shanghai, start, 1),
            utc("2026-11-05T00:00:00+08:00")
        );
        assert_eq!(
            due_after(Shanghai, start, 2),
            utc("2026-11-06T00:00:00+08:00")
        );
        assert_eq!(
            due_after(Shanghai, start, 6),
            utc("2026-11-10T00:00:00+08:00")
        );
        let due = due_after(Shanghai, start, 2);
        assert!(!is_overdue(due, utc("2026-11-05T23:59:59+08:00")));
        assert!(is_overdue(due, utc("2026-11-06T00:00:00+08:00")));
    }

    #[test]
    fn the_day_is_the_companys_not_utcs() {
        // 00:30 on 1 Dec in Beijing is still 30 Nov in UTC.
        let at = utc("2026-12-01T00:30:00+08:00");
        assert_eq!(year_month(Shanghai, at), (2026, 12));
        assert_eq!(
            local_date(Shanghai, at),
            NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
        );
        let late = utc("2026-11-30T23:30:00+08:00");
        assert_eq!(year_month(Shanghai, late), (2026, 11));
    }

    #[test]
    fn a_month_is_written_yyyy_mm() {
        assert_eq!(parse_month("2026-11"), Some((2026, 11)));
        assert_eq!(parse_month(" 2026-01 "), Some((2026, 1)));
        // Bad input: a month out of range, one digit, signs, no dash, a day, words.
        for bad in [
            "2026-13",
            "2026-00",
            "2026-1",
            "+2026-01",
            "2026-+1",
            "202611",
            "2026-11-01",
            "November",
        ] {
            assert_eq!(parse_month(bad), None, "{bad}");
        }
    }
}
