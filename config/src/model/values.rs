//! Small value types parsed from plan text, each rejecting bad input with a hint.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use chrono_tz::Tz;
use ipnet::IpNet;
use regex::Regex;
use serde::{Deserialize, Deserializer};

use crate::problem::with_hint;
use crate::textual::parse_with;

pub(crate) const TZ_HINT: &str =
    "use an IANA time zone name like Europe/Berlin, America/New_York or UTC";

pub(crate) fn parse_tz(text: &str) -> Result<Tz, String> {
    Tz::from_str(text).map_err(|_| with_hint(format!("unknown time zone `{text}`"), TZ_HINT))
}

pub(crate) fn deserialize_tz<'de, D: Deserializer<'de>>(d: D) -> Result<Tz, D::Error> {
    parse_with(d, "an IANA time zone name", parse_tz)
}

pub(crate) fn deserialize_tz_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Tz>, D::Error> {
    deserialize_tz(d).map(Some)
}

/// A network in CIDR notation; a bare address means that single host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr(pub IpNet);

impl Cidr {
    pub fn contains(&self, addr: IpAddr) -> bool {
        self.0.contains(&addr)
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        if let Ok(net) = text.parse::<IpNet>() {
            return Ok(Cidr(net));
        }
        text.parse::<IpAddr>()
            .map(|a| Cidr(IpNet::from(a)))
            .map_err(|_| {
                with_hint(
                    format!("invalid network `{text}`"),
                    "use CIDR notation like 10.0.0.0/8 or 2001:db8::/32, or a single address",
                )
            })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_with(d, "a network like \"10.0.0.0/8\"", str::parse)
    }
}

/// A label regex; it must match the whole label value, as in Alertmanager matchers.
#[derive(Debug, Clone)]
pub struct LabelPattern {
    source: String,
    regex: Regex,
}

impl LabelPattern {
    pub fn as_str(&self) -> &str {
        &self.source
    }

    pub fn is_match(&self, value: &str) -> bool {
        self.regex.is_match(value)
    }
}

impl FromStr for LabelPattern {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        // Compile the pattern alone first so the error points into what the user wrote.
        Regex::new(text).map_err(|e| {
            with_hint(
                format!("invalid regex `{text}`: {}", one_line(&e.to_string())),
                "see https://docs.rs/regex for the syntax; escape literal dots as \\\\.",
            )
        })?;
        let regex = Regex::new(&format!("^(?:{text})$")).map_err(|e| e.to_string())?;
        Ok(Self {
            source: text.to_owned(),
            regex,
        })
    }
}

/// The regex crate draws a caret diagram over several lines; keep only its "error:" line.
fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix("error: "))
        .map_or_else(
            || text.split_whitespace().collect::<Vec<_>>().join(" "),
            str::to_owned,
        )
}

impl<'de> Deserialize<'de> for LabelPattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_with(d, "a regular expression", str::parse)
    }
}

/// A wall-clock time "HH:MM" in the plan's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ClockTime {
    pub hour: u8,
    pub minute: u8,
}

impl ClockTime {
    pub fn minute_of_day(self) -> u16 {
        u16::from(self.hour) * 60 + u16::from(self.minute)
    }
}

impl FromStr for ClockTime {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || {
            with_hint(
                format!("invalid time `{text}`"),
                "use 24-hour HH:MM, e.g. 08:00 or 18:30",
            )
        };
        let (h, m) = text.split_once(':').ok_or_else(bad)?;
        if h.len() != 2 || m.len() != 2 {
            return Err(bad());
        }
        let hour: u8 = h.parse().map_err(|_| bad())?;
        let minute: u8 = m.parse().map_err(|_| bad())?;
        if hour > 23 || minute > 59 {
            return Err(bad());
        }
        Ok(Self { hour, minute })
    }
}

impl fmt::Display for ClockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.hour, self.minute)
    }
}

impl<'de> Deserialize<'de> for ClockTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_with(d, "a time like \"08:00\"", str::parse)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::split_hint;

    #[test]
    fn cidr_accepts_networks_and_single_addresses() {
        let net: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(net.contains("10.1.2.3".parse().unwrap()));
        let host: Cidr = "192.0.2.7".parse().unwrap();
        assert_eq!(host.to_string(), "192.0.2.7/32");
    }

    #[test]
    fn cidr_rejects_garbage_with_a_hint() {
        let err = "10.0.0.0/33".parse::<Cidr>().unwrap_err();
        assert!(split_hint(&err).1.is_some());
    }

    #[test]
    fn label_pattern_matches_the_whole_value() {
        let p: LabelPattern = "api|web".parse().unwrap();
        assert!(p.is_match("api"));
        assert!(!p.is_match("rapid"));
    }

    #[test]
    fn label_pattern_reports_the_regex_error_on_one_line() {
        let err = "(unclosed".parse::<LabelPattern>().unwrap_err();
        let (message, _) = split_hint(&err);
        assert!(
            message.starts_with("invalid regex `(unclosed`"),
            "{message}"
        );
        assert!(!message.contains('\n'));
    }

    #[test]
    fn clock_time_requires_hh_mm() {
        assert_eq!(
            "08:30".parse(),
            Ok(ClockTime {
                hour: 8,
                minute: 30
            })
        );
        assert!("8:30".parse::<ClockTime>().is_err());
        assert!("24:00".parse::<ClockTime>().is_err());
        assert!("12:60".parse::<ClockTime>().is_err());
    }

    #[test]
    fn time_zone_must_be_iana() {
        assert!(parse_tz("Europe/Berlin").is_ok());
        assert!(parse_tz("Mars/Olympus").is_err());
    }
}
