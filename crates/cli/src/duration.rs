//! Durations on the command line: `500ms`, `2s`, `1m`, or a bare number of seconds.

use std::time::Duration;

const EXPECTED: &str = "expected a whole number with ms, s or m, such as 500ms, 2s or 1m \
                        (a bare number means seconds)";

/// Parses a positive whole number of milliseconds (`ms`), seconds (`s`, or no unit) or
/// minutes (`m`).
pub fn parse_duration(value: &str) -> Result<Duration, String> {
    let (digits, millis_per_unit) = if let Some(digits) = value.strip_suffix("ms") {
        (digits, 1)
    } else if let Some(digits) = value.strip_suffix('s') {
        (digits, 1_000)
    } else if let Some(digits) = value.strip_suffix('m') {
        (digits, 60_000)
    } else {
        (value, 1_000)
    };
    // `u64::from_str` would also take a leading `+`.
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(EXPECTED.to_owned());
    }
    let millis = digits
        .parse::<u64>()
        .ok()
        .and_then(|count| count.checked_mul(millis_per_unit))
        .ok_or_else(|| "the duration is too long".to_owned())?;
    if millis == 0 {
        return Err("the duration must be greater than 0".to_owned());
    }
    Ok(Duration::from_millis(millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_milliseconds_seconds_and_minutes() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
    }

    #[test]
    fn reads_a_bare_number_as_seconds() {
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("007"), Ok(Duration::from_secs(7)));
    }

    #[test]
    fn rejects_zero() {
        for value in ["0", "0ms", "0s", "0m"] {
            let err = parse_duration(value).unwrap_err();
            assert!(err.contains("greater than 0"), "{value}: {err}");
        }
    }

    #[test]
    fn rejects_other_units_signs_fractions_and_spaces() {
        for value in [
            "", "ms", "s", "m", "5x", "5h", "1.5s", "-1", "+1", " 2s", "2 s", "2S", "2sec", "1e3",
        ] {
            let err = parse_duration(value).unwrap_err();
            assert!(err.contains("500ms, 2s or 1m"), "{value:?}: {err}");
        }
    }

    #[test]
    fn rejects_values_that_overflow() {
        let err = parse_duration("18446744073709551615m").unwrap_err();
        assert!(err.contains("too long"), "{err}");
        assert!(parse_duration("99999999999999999999").is_err());
    }
}
