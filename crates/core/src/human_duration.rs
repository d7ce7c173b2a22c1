//! Durations in the form people write in configuration files: `"500ms"`, `"2s"`, `"1m 30s"`.
//!
//! For serde's `with` attribute: [`serialize`] writes jiff's friendly compact form (`"500ms"`,
//! `"2s"`, `"1s 500ms"`), and [`deserialize`] reads any of jiff's friendly forms (`"1.5s"`,
//! `"2 seconds"`, `"1h30m"`). Zero is refused: every duration redis-gate reads is a period, a
//! wait or a timeout, where zero means a busy loop or an instant failure (the environment
//! variables refuse `0` for the same reason). So is anything over a year, which is a typo rather
//! than a timeout, and which, added to the time now, could overflow the clock. The error says
//! what was given and what is valid.
//!
//! redis-gate's own settings use it; use it for yours:
//!
//! ```
//! # mod redis_gate { pub mod config { pub use redis_gate_core::human_duration; } }
//! use std::time::Duration;
//!
//! #[derive(Debug, serde::Deserialize, serde::Serialize)]
//! struct Upstream {
//!     #[serde(with = "redis_gate::config::human_duration")]
//!     timeout: Duration,
//! }
//!
//! let upstream: Upstream = serde_json::from_str(r#"{ "timeout": "1.5s" }"#)?;
//! assert_eq!(upstream.timeout, Duration::from_millis(1500));
//! assert_eq!(serde_json::to_string(&upstream)?, r#"{"timeout":"1s 500ms"}"#);
//!
//! let err = serde_json::from_str::<Upstream>(r#"{ "timeout": "1500" }"#).unwrap_err();
//! assert!(err.to_string().starts_with(r#""1500" is not a duration"#), "{err}");
//! let err = serde_json::from_str::<Upstream>(r#"{ "timeout": "0s" }"#).unwrap_err();
//! assert!(err.to_string().contains("greater than 0"), "{err}");
//! let err = serde_json::from_str::<Upstream>(r#"{ "timeout": "2562047788015215h" }"#);
//! assert!(err.unwrap_err().to_string().contains("at most a year"));
//! # Ok::<(), serde_json::Error>(())
//! ```

use std::fmt;
use std::time::Duration;

use jiff::fmt::friendly::{SpanParser, SpanPrinter};
use serde::de::{self, Deserializer, Visitor};
use serde::ser::Serializer;

use crate::LONGEST;

static PARSER: SpanParser = SpanParser::new();
static PRINTER: SpanPrinter = SpanPrinter::new();

/// What every error says is valid.
const EXPECTED: &str =
    "a duration greater than 0 and at most a year, such as \"500ms\", \"2s\" or \"1m 30s\"";

/// Writes `duration` as a string: `"500ms"`, `"2s"`, `"1m 30s"`, `"1s 500ms"`.
pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&PRINTER.unsigned_duration_to_string(duration))
}

/// Reads a duration greater than 0 and at most a year from a string such as `"500ms"`, `"2s"` or
/// `"1m 30s"`.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    deserializer.deserialize_str(HumanDuration)
}

struct HumanDuration;

impl Visitor<'_> for HumanDuration {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(EXPECTED)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Duration, E> {
        match PARSER.parse_unsigned_duration(text) {
            Ok(duration) if duration.is_zero() || duration > LONGEST => {
                Err(E::custom(format_args!("{text:?} is not valid: {EXPECTED}")))
            }
            Ok(duration) => Ok(duration),
            Err(err) => Err(E::custom(format_args!(
                "{text:?} is not a duration ({err}): write {EXPECTED}"
            ))),
        }
    }
}

/// The same for an `Option<Duration>` field that is left out when `None`.
pub(crate) mod option {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Deserialize, Serialize)]
    #[serde(transparent)]
    struct Human(#[serde(with = "super")] Duration);

    pub(crate) fn serialize<S: Serializer>(
        duration: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        duration.map(Human).serialize(serializer)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<Human>::deserialize(deserializer)?.map(|Human(duration)| duration))
    }
}
