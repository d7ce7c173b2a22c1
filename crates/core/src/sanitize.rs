/// The longest error text the handle keeps, in characters.
const MAX_CHARS: usize = 200;

/// Masks every credential in `text`: the one place that decides what a secret looks like, used
/// for configuration `Display` and `Debug`, error messages and the handle's last error.
///
/// - The userinfo of a URL (`scheme://userinfo@`) keeps its user name and loses its password:
///   `redis://app:secret@host` becomes `redis://app:***@host`. Userinfo without a colon may be a
///   bare token (`redis://TOKEN@host`) and is masked whole: `redis://***@host`.
/// - The userinfo runs to the **last** `@` of the text, so a password with an unencoded `@`, `/`,
///   `?`, `#`, `://` or a space is masked whole; text without a scheme (`user:pass@host`) is
///   treated the same way from its start.
/// - `pass=` and `password=` parameters (Unix socket URLs) lose their values.
///
/// When in doubt it masks more, never less: a string that is hard to read is exactly the one
/// whose password position is uncertain.
///
/// ```
/// use redis_gate_core::redact;
///
/// assert_eq!(redact("rediss://app:hunter2@cache:6380/0"), "rediss://app:***@cache:6380/0");
/// assert_eq!(redact("redis://s3cr3t@cache"), "redis://***@cache");
/// assert_eq!(redact("app:pa/ss@cache"), "app:***@cache");
/// assert_eq!(redact("unix:///run/redis.sock?db=1&pass=hunter2"), "unix:///run/redis.sock?db=1&pass=***");
/// assert_eq!(redact("no secrets in redis://cache:6379"), "no secrets in redis://cache:6379");
/// ```
pub fn redact(text: &str) -> String {
    let masked = match text.rfind('@') {
        Some(at) => {
            let start = first_scheme_end(text).filter(|end| *end <= at).unwrap_or(0);
            let userinfo = &text[start..at];
            let kept = userinfo.find(':').map_or("", |colon| &userinfo[..=colon]);
            format!("{}{kept}***{}", &text[..start], &text[at..])
        }
        None => text.to_owned(),
    };
    mask_parameters(masked)
}

/// Makes an error message safe to keep in a [`Snapshot`](crate::Snapshot) and show to operators:
/// [`redact`]s it, turns control characters into spaces, and cuts it to 200 characters.
///
/// ```
/// use redis_gate_core::sanitize_error;
///
/// assert_eq!(
///     sanitize_error("connect to rediss://app:hunter2@cache:6380/0 failed\n"),
///     "connect to rediss://app:***@cache:6380/0 failed",
/// );
/// ```
pub fn sanitize_error(message: &str) -> String {
    let masked = redact(message);
    let mut clean: String = masked
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_CHARS + 1)
        .collect();
    if clean.chars().count() > MAX_CHARS {
        let cut = clean
            .char_indices()
            .nth(MAX_CHARS - 1)
            .map_or(0, |(i, _)| i);
        clean.truncate(cut);
        clean.push('…');
    }
    clean
}

/// Where the scheme of `text` ends, if its first `://` follows a scheme (letters, digits, `+`,
/// `-` and `.`, starting with a letter) that starts a word: the start of the text, or after white
/// space or punctuation that cannot be part of a userinfo. Any other first `://` may be inside a
/// password (`y://` in `x:y://z@host`), and then there is no telling where the userinfo starts.
fn first_scheme_end(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let at = text.find("://")?;
    let scheme_start = bytes[..at]
        .iter()
        .rposition(|b| !(b.is_ascii_alphanumeric() || b"+-.".contains(b)))
        .map_or(0, |i| i + 1);
    let starts_a_word = scheme_start == 0
        || bytes[scheme_start - 1].is_ascii_whitespace()
        || b"\"'(<[=,;".contains(&bytes[scheme_start - 1]);
    (scheme_start < at && bytes[scheme_start].is_ascii_alphabetic() && starts_a_word)
        .then_some(at + 3)
}

/// Masks the values of `pass=` and `password=` parameters (up to `&`, `#`, a quote or white
/// space), wherever they follow `?`, `&`, white space or the start of the text.
fn mask_parameters(mut text: String) -> String {
    for key in ["pass=", "password="] {
        let mut from = 0;
        while let Some(found) = text[from..].find(key) {
            let key_at = from + found;
            let start = key_at + key.len();
            let follows_separator = text[..key_at]
                .chars()
                .next_back()
                .is_none_or(|c| c == '?' || c == '&' || c.is_whitespace());
            if !follows_separator {
                from = start;
                continue;
            }
            let end = text[start..]
                .find(|c: char| matches!(c, '&' | '#' | '"' | '\'') || c.is_whitespace())
                .map_or(text.len(), |i| start + i);
            text.replace_range(start..end, "***");
            from = start + 3;
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::{redact, sanitize_error};

    #[test]
    fn masks_the_password_of_a_url_and_keeps_the_user() {
        assert_eq!(redact("redis://u:p1@h1:1/0"), "redis://u:***@h1:1/0");
        assert_eq!(redact("rediss://:p2@h2/3"), "rediss://:***@h2/3");
        assert_eq!(redact("unix://x:p3@/tmp/s"), "unix://x:***@/tmp/s");
        assert_eq!(redact("redis://TOKEN@h"), "redis://***@h");
    }

    #[test]
    fn passwords_with_reserved_characters_are_masked_whole() {
        for (raw, masked) in [
            ("redis://app:p@ss@host:6379", "redis://app:***@host:6379"),
            ("redis://app:pa/ss@host/0", "redis://app:***@host/0"),
            ("redis://app:pa?ss@host", "redis://app:***@host"),
            ("redis://app:pa#ss@host", "redis://app:***@host"),
            ("redis://app:pa ss@host", "redis://app:***@host"),
            ("redis://u:pa://ss@host", "redis://u:***@host"),
            ("app:pa/ss@host", "app:***@host"),
            ("x:y://z@host", "x:***@host"),
        ] {
            assert_eq!(redact(raw), masked, "{raw}");
        }
    }

    #[test]
    fn a_scheme_that_may_be_inside_a_password_masks_from_the_start() {
        assert_eq!(redact("x:redis://u:a b://c@host"), "x:***@host");
        assert_eq!(redact("app:pa://ss99@cache"), "app:***@cache");
    }

    #[test]
    fn several_urls_lose_everything_up_to_the_last_userinfo() {
        let text = "a redis://u:p1@h1:1 b rediss://:p2@h2/3";
        let masked = redact(text);
        assert!(!masked.contains("p1") && !masked.contains("p2"), "{masked}");
        assert_eq!(masked, "a redis://u:***@h2/3");
    }

    #[test]
    fn unix_socket_passwords_in_parameters_are_masked() {
        assert_eq!(
            redact("unix:///s?db=1&pass=p1&user=u"),
            "unix:///s?db=1&pass=***&user=u"
        );
        assert_eq!(
            redact("redis+unix:///s?password=p2"),
            "redis+unix:///s?password=***"
        );
        assert_eq!(
            redact("bypass=fine"),
            "bypass=fine",
            "not a parameter of its own"
        );
    }

    #[test]
    fn leaves_text_without_credentials_alone() {
        for text in [
            "refused by redis://cache:6379/0",
            "connection refused",
            "see http://docs and redis://h:1",
        ] {
            assert_eq!(redact(text), text);
        }
    }

    #[test]
    fn sanitizing_removes_control_characters_and_cuts_long_text() {
        assert_eq!(sanitize_error(" a\r\nb\t"), "a  b");
        let long = "é".repeat(500);
        let clean = sanitize_error(&long);
        assert_eq!(clean.chars().count(), 200);
        assert!(clean.ends_with('…'));
        assert_eq!(
            sanitize_error("cannot reach redis://app:hunter2@cache:6379"),
            "cannot reach redis://app:***@cache:6379"
        );
    }

    proptest::proptest! {
        /// The property `fuzz/fuzz_targets/redact.rs` fuzzes: whatever surrounds a URL, and
        /// whatever its password holds, the password never survives.
        #[test]
        fn a_password_never_survives_whatever_surrounds_it(
            before in "\\PC{0,12}",
            scheme in "[a-z+]{0,6}",
            user in "\\PC{0,8}",
            middle in "\\PC{0,16}",
            host in "[a-z0-9.:/@ -]{0,12}",
            after in "\\PC{0,12}",
            with_scheme: bool,
        ) {
            let parts = [&before, &scheme, &user, &host, &after];
            proptest::prop_assume!(parts.iter().all(|p| !p.contains("zq") && !p.contains("qz")));
            let password = format!("zq{middle}qz");
            let url = if with_scheme {
                format!("{scheme}://{user}:{password}@{host}")
            } else {
                format!("{user}:{password}@{host}")
            };
            let text = format!("{before}{url}{after}");
            for output in [redact(&text), sanitize_error(&text)] {
                proptest::prop_assert!(!output.contains(&password), "{text:?} -> {output:?}");
            }
        }
    }
}
