//! The CIM `datetime` type: the 25-character DSP0004 format, either a
//! timestamp `yyyymmddhhmmss.mmmmmmsutc` (s = `+`/`-`, utc = offset in
//! minutes) or an interval `ddddddddhhmmss.mmmmmm:000`.
//!
//! Wildcard (`*`) digits allowed by DSP0004 are not supported: the agent
//! only ever produces and consumes fully specified values.

use std::fmt;
use std::str::FromStr;

/// A parsed CIM datetime value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CimDateTime {
    Timestamp {
        year: u16,
        month: u8,
        day: u8,
        hour: u8,
        minute: u8,
        second: u8,
        microsecond: u32,
        /// Offset from UTC in minutes (east positive), -999..=999.
        utc_offset: i16,
    },
    Interval {
        days: u32,
        hours: u8,
        minutes: u8,
        seconds: u8,
        microseconds: u32,
    },
}

/// Why a datetime string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid CIM datetime {text:?}: {reason}")]
pub struct DateTimeError {
    pub text: String,
    pub reason: &'static str,
}

impl CimDateTime {
    /// A UTC timestamp from seconds and microseconds since the Unix epoch.
    pub fn from_unix(secs: i64, micros: u32) -> Self {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        CimDateTime::Timestamp {
            year: year.clamp(0, 9999) as u16,
            month,
            day,
            hour: (rem / 3600) as u8,
            minute: (rem % 3600 / 60) as u8,
            second: (rem % 60) as u8,
            microsecond: micros.min(999_999),
            utc_offset: 0,
        }
    }

    /// An interval from a number of microseconds.
    pub fn interval_from_micros(total: u64) -> Self {
        let secs = total / 1_000_000;
        CimDateTime::Interval {
            days: (secs / 86_400).min(99_999_999) as u32,
            hours: (secs % 86_400 / 3600) as u8,
            minutes: (secs % 3600 / 60) as u8,
            seconds: (secs % 60) as u8,
            microseconds: (total % 1_000_000) as u32,
        }
    }

    pub fn is_interval(&self) -> bool {
        matches!(self, CimDateTime::Interval { .. })
    }
}

// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian).
fn civil_from_days(z: i64) -> (i64, u8, u8) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn digits(s: &str, text: &str) -> Result<u32, DateTimeError> {
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DateTimeError {
            text: text.into(),
            reason: "expected decimal digits",
        });
    }
    s.parse().map_err(|_| DateTimeError {
        text: text.into(),
        reason: "expected decimal digits",
    })
}

impl FromStr for CimDateTime {
    type Err = DateTimeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = |reason| DateTimeError {
            text: text.into(),
            reason,
        };
        let s = text.trim();
        if s.len() != 25 || !s.is_ascii() {
            return Err(err("must be 25 ASCII characters"));
        }
        if &s[14..15] != "." {
            return Err(err("expected '.' at position 15"));
        }
        let micro = digits(&s[15..21], text)?;
        match &s[21..22] {
            ":" => {
                if &s[22..25] != "000" {
                    return Err(err("interval must end in ':000'"));
                }
                let (hours, minutes, seconds) = (
                    digits(&s[8..10], text)?,
                    digits(&s[10..12], text)?,
                    digits(&s[12..14], text)?,
                );
                if hours > 23 || minutes > 59 || seconds > 59 {
                    return Err(err("interval field out of range"));
                }
                Ok(CimDateTime::Interval {
                    days: digits(&s[0..8], text)?,
                    hours: hours as u8,
                    minutes: minutes as u8,
                    seconds: seconds as u8,
                    microseconds: micro,
                })
            }
            sign @ ("+" | "-") => {
                let off = digits(&s[22..25], text)? as i16;
                let (month, day, hour, minute, second) = (
                    digits(&s[4..6], text)?,
                    digits(&s[6..8], text)?,
                    digits(&s[8..10], text)?,
                    digits(&s[10..12], text)?,
                    digits(&s[12..14], text)?,
                );
                if !(1..=12).contains(&month)
                    || !(1..=31).contains(&day)
                    || hour > 23
                    || minute > 59
                    || second > 60
                {
                    return Err(err("timestamp field out of range"));
                }
                Ok(CimDateTime::Timestamp {
                    year: digits(&s[0..4], text)? as u16,
                    month: month as u8,
                    day: day as u8,
                    hour: hour as u8,
                    minute: minute as u8,
                    second: second as u8,
                    microsecond: micro,
                    utc_offset: if sign == "-" { -off } else { off },
                })
            }
            _ => Err(err("expected '+', '-' or ':' at position 22")),
        }
    }
}

impl fmt::Display for CimDateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            CimDateTime::Timestamp {
                year,
                month,
                day,
                hour,
                minute,
                second,
                microsecond,
                utc_offset,
            } => write!(
                f,
                "{year:04}{month:02}{day:02}{hour:02}{minute:02}{second:02}.{microsecond:06}{}{:03}",
                if utc_offset < 0 { '-' } else { '+' },
                utc_offset.unsigned_abs()
            ),
            CimDateTime::Interval {
                days,
                hours,
                minutes,
                seconds,
                microseconds,
            } => write!(
                f,
                "{days:08}{hours:02}{minutes:02}{seconds:02}.{microseconds:06}:000"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_format_round_trip() {
        for s in [
            "20240229235959.123456+060",
            "19700101000000.000000-300",
            "00000001020304.000005:000",
            "99999999235959.999999:000",
        ] {
            let d: CimDateTime = s.parse().unwrap();
            assert_eq!(d.to_string(), s);
        }
        assert!("00000001020304.000005:000"
            .parse::<CimDateTime>()
            .unwrap()
            .is_interval());
    }

    #[test]
    fn rejects_bad_values() {
        for s in [
            "",
            "2024022923595.123456+060",
            "20241329235959.123456+060",
            "20240229235959.123456*060",
            "2024022923595a.123456+060",
            "00000001250304.000005:000",
            "00000001020304.000005:001",
            "2024022923595***********",
        ] {
            assert!(s.parse::<CimDateTime>().is_err(), "{s}");
        }
    }

    #[test]
    fn from_unix() {
        assert_eq!(
            CimDateTime::from_unix(0, 0).to_string(),
            "19700101000000.000000+000"
        );
        assert_eq!(
            CimDateTime::from_unix(1_709_251_199, 42).to_string(),
            "20240229235959.000042+000"
        );
        assert_eq!(
            CimDateTime::interval_from_micros(90_061_000_001).to_string(),
            "00000001010101.000001:000"
        );
    }
}
