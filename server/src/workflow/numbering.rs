//! Complaint numbers (§4.5): year, month, serial restarting each month, `2026-11-0007`. The
//! serial comes from a database counter per month, taken in the acceptance's transaction, so a
//! number is given once and a month's serials have no gaps.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::calendar::year_month;

/// The counter that holds a month's serials.
pub fn counter_name(tz: Tz, at: DateTime<Utc>) -> String {
    let (y, m) = year_month(tz, at);
    format!("complaint-{y:04}-{m:02}")
}

/// The number of the `serial`-th complaint accepted in the month of `at` (company time).
pub fn format_number(tz: Tz, at: DateTime<Utc>, serial: i64) -> String {
    let (y, m) = year_month(tz, at);
    format!("{y:04}-{m:02}-{serial:04}")
}

/// Reads a number back: (year, month, serial).
pub fn parse_number(text: &str) -> Option<(i32, u32, i64)> {
    let mut parts = text.split('-');
    let y = parts.next()?.parse().ok()?;
    let m = parts.next()?.parse().ok()?;
    let s = parts.next()?.parse().ok()?;
    if parts.next().is_some() || !(1..=12).contains(&m) || s < 1 {
        return None;
    }
    Some((y, m, s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Asia::Shanghai;

    #[test]
    fn month_by_company_time() {
        let late = DateTime::parse_from_rfc3339("2026-11-30T23:30:00+08:00")
            .unwrap()
            .with_timezone(&Utc);
        let early = DateTime::parse_from_rfc3339("2026-12-01T00:30:00+08:00")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(format_number(Shanghai, late, 7), "2026-11-0007");
        assert_eq!(format_number(Shanghai, early, 1), "2026-12-0001");
        assert_eq!(counter_name(Shanghai, early), "complaint-2026-12");
        assert_eq!(parse_number("2026-12-0001"), Some((2026, 12, 1)));
        assert_eq!(parse_number("2026-13-0001"), None);
    }
}
