//! Civil dates and instants. People's calendar is Asia/Shanghai (UTC+8, no
//! DST): "today", list validity days and per-day/week/month/year limits are
//! all counted there (`credential.md`, "Clock"; `measures.md`, "limit").
//!
//! The core never reads a clock: every instant comes in as a parameter.

use std::fmt;
use std::str::FromStr;

/// Offset of the people's time zone from UTC, in seconds.
pub const UTC8_OFFSET_S: i64 = 8 * 3600;
const DAY_S: i64 = 86_400;

/// An instant, in Unix seconds (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime(pub i64);

impl UnixTime {
    /// The UTC+8 calendar date of this instant.
    pub fn date_utc8(self) -> Date {
        Date::from_days(self.0.saturating_add(UTC8_OFFSET_S).div_euclid(DAY_S))
    }

    /// Formats as `YYYY-MM-DD HH:MM:SS` in UTC+8, for people.
    pub fn display_utc8(self) -> String {
        let local = self.0.saturating_add(UTC8_OFFSET_S);
        let secs = local.rem_euclid(DAY_S);
        format!(
            "{} {:02}:{:02}:{:02}",
            self.date_utc8(),
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )
    }
}

/// A calendar date (proleptic Gregorian).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: i32,
    month: u8,
    day: u8,
}

/// Why a date is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    #[error("{0:?} is not a date in the form YYYY-MM-DD")]
    Format(String),
    #[error("{0:?} is not a real calendar date")]
    NoSuchDay(String),
}

pub(crate) fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

pub(crate) fn days_in_month(y: i32, m: u8) -> u8 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

impl Date {
    /// A date from its parts, if it exists (years 1–9999).
    pub fn new(year: i32, month: u8, day: u8) -> Option<Date> {
        if !(1..=9999).contains(&year) || !(1..=12).contains(&month) {
            return None;
        }
        if day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Date { year, month, day })
    }

    pub fn year(self) -> i32 {
        self.year
    }
    pub fn month(self) -> u8 {
        self.month
    }
    pub fn day(self) -> u8 {
        self.day
    }

    /// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
    pub fn to_days(self) -> i64 {
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The date `days` after 1970-01-01 (`civil_from_days`).
    pub fn from_days(days: i64) -> Date {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Date { year, month, day }
    }

    /// The same month and day `n` years later; 29 Feb becomes 28 Feb in a
    /// year without it (`list-standard.md`: "+ 2 years keeps month and day").
    pub fn add_years(self, n: i32) -> Date {
        let year = self.year.saturating_add(n).min(9999);
        let day = self.day.min(days_in_month(year, self.month));
        Date {
            year,
            month: self.month,
            day,
        }
    }

    pub fn add_days(self, n: i64) -> Date {
        Date::from_days(self.to_days() + n)
    }

    /// Monday = 0 … Sunday = 6.
    pub fn weekday_from_monday(self) -> i64 {
        // 1970-01-01 was a Thursday (3 days after Monday).
        (self.to_days() + 3).rem_euclid(7)
    }

    /// The first day of this date's month.
    pub fn first_of_month(self) -> Date {
        Date { day: 1, ..self }
    }

    /// The first day of the next month.
    pub fn first_of_next_month(self) -> Date {
        if self.month == 12 {
            Date {
                year: self.year + 1,
                month: 1,
                day: 1,
            }
        } else {
            Date {
                year: self.year,
                month: self.month + 1,
                day: 1,
            }
        }
    }

    /// The instant this day starts in UTC+8.
    pub fn start_utc8(self) -> UnixTime {
        UnixTime(self.to_days() * DAY_S - UTC8_OFFSET_S)
    }

    /// The last second of this day in UTC+8.
    pub fn end_utc8(self) -> UnixTime {
        UnixTime(self.add_days(1).start_utc8().0 - 1)
    }
}

/// Which days are working days: Monday to Friday, less public holidays,
/// plus the weekend days made working days in their place (调休).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkCalendar {
    pub holidays: Vec<Date>,
    pub extra_workdays: Vec<Date>,
}

impl WorkCalendar {
    pub fn is_working_day(&self, d: Date) -> bool {
        if self.extra_workdays.contains(&d) {
            return true;
        }
        d.weekday_from_monday() < 5 && !self.holidays.contains(&d)
    }

    /// The `n`th working day after `from` (`from` itself not counted):
    /// the day a case filed on `from` must be answered by.
    pub fn add_working_days(&self, from: Date, n: u32) -> Date {
        let mut d = from;
        let mut left = n;
        // A year holds far more working days than any calendar removes;
        // the bound only keeps a calendar that lists every day as a
        // holiday from looping for ever.
        let mut steps = 0u32;
        while left > 0 && steps < n.saturating_mul(7).saturating_add(400) {
            d = d.add_days(1);
            steps += 1;
            if self.is_working_day(d) {
                left -= 1;
            }
        }
        d
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl FromStr for Date {
    type Err = DateError;

    /// Parses exactly `YYYY-MM-DD`.
    fn from_str(s: &str) -> Result<Date, DateError> {
        let b = s.as_bytes();
        let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
        if b.len() != 10
            || b[4] != b'-'
            || b[7] != b'-'
            || !digits(0..4)
            || !digits(5..7)
            || !digits(8..10)
        {
            return Err(DateError::Format(s.to_owned()));
        }
        let num = |r: std::ops::Range<usize>| s[r].parse::<i32>().unwrap_or(0);
        Date::new(num(0..4), num(5..7) as u8, num(8..10) as u8)
            .ok_or_else(|| DateError::NoSuchDay(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    #[test]
    fn working_days_skip_weekends_and_holidays_and_count_swapped_days() {
        let plain = WorkCalendar::default();
        // 2026-12-04 is a Friday: one working day later is Monday.
        assert_eq!(plain.add_working_days(d("2026-12-04"), 1), d("2026-12-07"));
        assert_eq!(plain.add_working_days(d("2026-12-01"), 10), d("2026-12-15"));
        assert_eq!(plain.add_working_days(d("2026-12-05"), 0), d("2026-12-05"));
        // National Day week, with the Sunday before made a working day.
        let cal = WorkCalendar {
            holidays: (1..=7).map(|n| Date::new(2026, 10, n).unwrap()).collect(),
            extra_workdays: vec![d("2026-09-27"), d("2026-10-10")],
        };
        assert!(cal.is_working_day(d("2026-09-27")));
        assert!(!cal.is_working_day(d("2026-10-01")));
        // Friday 09-25 → Sunday 09-27 (worked), then Monday 09-28.
        assert_eq!(cal.add_working_days(d("2026-09-25"), 1), d("2026-09-27"));
        assert_eq!(cal.add_working_days(d("2026-09-30"), 1), d("2026-10-08"));
        assert_eq!(cal.add_working_days(d("2026-09-30"), 3), d("2026-10-10"));
        // A calendar without working days still ends.
        let none = WorkCalendar {
            holidays: (0..4000).map(|n| d("2026-01-01").add_days(n)).collect(),
            extra_workdays: vec![],
        };
        let _ = none.add_working_days(d("2026-01-01"), 5);
        assert_eq!(
            d("2026-12-01").end_utc8().0 + 1,
            d("2026-12-02").start_utc8().0
        );
    }

    #[test]
    fn days_round_trip_and_known_points() {
        assert_eq!(Date::new(1970, 1, 1).unwrap().to_days(), 0);
        assert_eq!(Date::new(2000, 3, 1).unwrap().to_days(), 11_017);
        for d in (-800_000..800_000).step_by(997) {
            assert_eq!(Date::from_days(d).to_days(), d);
        }
    }

    #[test]
    fn utc8_day_boundary() {
        // 2026-03-31 16:00:00 UTC is 2026-04-01 00:00 in UTC+8.
        assert_eq!(
            UnixTime(1_774_972_800).date_utc8().to_string(),
            "2026-04-01"
        );
        assert_eq!(
            UnixTime(1_774_972_799).date_utc8().to_string(),
            "2026-03-31"
        );
        assert_eq!(
            "2026-04-01".parse::<Date>().unwrap().start_utc8(),
            UnixTime(1_774_972_800)
        );
        assert_eq!(
            UnixTime(1_774_972_800).display_utc8(),
            "2026-04-01 00:00:00"
        );
    }

    #[test]
    fn add_years_keeps_month_and_day() {
        let d: Date = "2024-02-29".parse().unwrap();
        assert_eq!(d.add_years(2).to_string(), "2026-02-28");
        assert_eq!(d.add_years(4).to_string(), "2028-02-29");
        assert_eq!(
            "2025-05-01"
                .parse::<Date>()
                .unwrap()
                .add_years(2)
                .to_string(),
            "2027-05-01"
        );
    }

    #[test]
    fn weekday_monday_first() {
        assert_eq!(
            "2026-03-09".parse::<Date>().unwrap().weekday_from_monday(),
            0
        ); // Monday
        assert_eq!(
            "2026-03-15".parse::<Date>().unwrap().weekday_from_monday(),
            6
        ); // Sunday
    }

    #[test]
    fn parse_rejects_bad_dates() {
        assert!(matches!(
            "2025-02-30".parse::<Date>(),
            Err(DateError::NoSuchDay(_))
        ));
        assert!(matches!(
            "2025-2-3".parse::<Date>(),
            Err(DateError::Format(_))
        ));
        assert!(matches!(
            "2025-13-01".parse::<Date>(),
            Err(DateError::NoSuchDay(_))
        ));
        assert!(matches!(
            "２０２５-01-01".parse::<Date>(),
            Err(DateError::Format(_))
        ));
        assert!(matches!("".parse::<Date>(), Err(DateError::Format(_))));
    }
}
