//! Times for people: the API's unix milliseconds shown as local date-times of the company's
//! time zone, `2026-12-04 22:15:30 +03`. `--json` output keeps the API's numbers.
//!
//! The zone follows the company's country type, as the web UI does: Europe/Istanbul for TR
//! (and by default), Asia/Baku for AZ, Asia/Famagusta for KKTC. Northern Cyprus keeps EU
//! summer time (EET/EEST, one hour behind Türkiye in winter), and Asia/Famagusta is the IANA
//! zone of its clocks; Europe/Istanbul would show KKTC companies the wrong hour half the
//! year. The time zone database is compiled in (jiff's bundled tzdb), so past rule changes
//! (Türkiye's EET/EEST until 2016) read right on any machine.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::Value;

/// The zone when the company's country type is unknown.
const DEFAULT_ZONE: &str = "Europe/Istanbul";

/// The IANA zone of a country type (`TR`, `AZ`, `KKTC`).
pub(crate) fn zone_of(country_type: &str) -> &'static str {
    let upper = country_type.to_ascii_uppercase();
    serde_json::from_value::<ulak_core::CountryType>(Value::String(upper))
        .map_or(DEFAULT_ZONE, ulak_core::CountryType::time_zone)
}

/// Formats unix milliseconds in one time zone.
pub(crate) struct Clock {
    tz: TimeZone,
}

impl Clock {
    /// The clock of a company with this country type.
    pub(crate) fn for_country(country_type: &str) -> Clock {
        // The bundled database has every zone named above; UTC only if a build lacked it.
        let tz = TimeZone::get(zone_of(country_type)).unwrap_or(TimeZone::UTC);
        Clock { tz }
    }

    /// Unix milliseconds from what a person types: the milliseconds themselves, an RFC 3339
    /// time with its offset, or a local date (`2026-12-04`, its midnight) or date-time
    /// (`2026-12-04 22:15`, `2026-12-04T22:15:30`) on this clock's zone.
    pub(crate) fn parse(&self, s: &str) -> Option<i64> {
        let s = s.trim();
        if let Ok(ms) = s.parse::<i64>() {
            return Some(ms);
        }
        if let Ok(t) = s.parse::<Timestamp>() {
            return Some(t.as_millisecond());
        }
        let civil = s.parse::<jiff::civil::DateTime>().ok().or_else(|| {
            s.parse::<jiff::civil::Date>()
                .ok()
                .map(|d| d.to_datetime(jiff::civil::Time::midnight()))
        })?;
        self.tz.to_timestamp(civil).ok().map(|t| t.as_millisecond())
    }

    /// `2026-12-04 22:15:30 +03` (the zone's abbreviation: `+03`, `+04`, `EET`, `EEST`),
    /// or "" when `v` holds no time (a `null` field).
    pub(crate) fn at(&self, v: &Value) -> String {
        let Some(ms) = v.as_i64() else {
            return String::new();
        };
        match Timestamp::from_millisecond(ms) {
            Ok(t) => t
                .to_zoned_datetime(self.tz.clone())
                .strftime("%Y-%m-%d %H:%M:%S %Z")
                .to_string(),
            // Outside jiff's range (years -9999 to 9999): say what the server sent.
            Err(_) => format!("{ms} (unix ms)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::Clock;

    #[test]
    fn unix_milliseconds_read_as_the_companys_local_time() {
        // 2026-12-04 19:15:30.250 UTC.
        let t = json!(1_796_411_730_250_i64);
        assert_eq!(Clock::for_country("TR").at(&t), "2026-12-04 22:15:30 +03");
        assert_eq!(Clock::for_country("AZ").at(&t), "2026-12-04 23:15:30 +04");
        assert_eq!(Clock::for_country("KKTC").at(&t), "2026-12-04 21:15:30 EET");
        // Summer in Northern Cyprus: EEST, the same hour as Türkiye.
        let summer = json!(1_782_907_200_000_i64);
        assert_eq!(
            Clock::for_country("kktc").at(&summer),
            "2026-07-01 15:00:00 EEST"
        );
        // Türkiye kept EET in winter until 2016: the database's history, not a fixed offset.
        let old = json!(1_449_256_530_000_i64);
        assert_eq!(Clock::for_country("TR").at(&old), "2015-12-04 21:15:30 EET");
        // Unknown country types read as Türkiye; no time is no text.
        assert_eq!(Clock::for_country("??").at(&t), "2026-12-04 22:15:30 +03");
        assert_eq!(Clock::for_country("TR").at(&json!(null)), "");
        assert_eq!(
            Clock::for_country("TR").at(&json!(i64::MAX)),
            format!("{} (unix ms)", i64::MAX)
        );
    }

    #[test]
    fn typed_times_read_on_the_companys_clock() {
        let tr = Clock::for_country("TR");
        let t = 1_796_411_730_000_i64;
        assert_eq!(tr.parse("2026-12-04 22:15:30"), Some(t));
        assert_eq!(tr.parse("2026-12-04T22:15:30"), Some(t));
        assert_eq!(tr.parse("2026-12-04T19:15:30Z"), Some(t));
        assert_eq!(tr.parse(&t.to_string()), Some(t));
        assert_eq!(
            Clock::for_country("AZ").parse("2026-12-04 23:15:30"),
            Some(t)
        );
        assert_eq!(
            tr.parse("2026-12-04"),
            Some(t - (22 * 3600 + 15 * 60 + 30) * 1000)
        );
        assert_eq!(tr.parse("yesterday"), None);
    }
}
