/// The longest error text the handle keeps, in characters.
const MAX_CHARS: usize = 200;

/// Makes an error message safe to keep in a [`Snapshot`](crate::Snapshot) and show to operators.
///
/// The handle never stores credentials, and this is its last line of defence: the userinfo of any
/// URL in the text loses its password (`redis://app:secret@host` becomes `redis://app:***@host`;
/// a userinfo without a colon may be a bare token and is masked whole), control characters become
/// spaces, and the text is cut to 200 characters.
///
/// ```
/// use redis_gate_core::sanitize_error;
///
/// assert_eq!(
///     sanitize_error("connect to rediss://app:hunter2@cache:6380/0 failed\n"),
///     "connect to rediss://app:***@cache:6380/0 failed",
/// );
/// assert_eq!(sanitize_error("redis://s3cr3t@cache"), "redis://***@cache");
/// ```
pub fn sanitize_error(message: &str) -> String {
    let mut masked = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find("://") {
        let (head, tail) = rest.split_at(start + 3);
        masked.push_str(head);
        let authority_len = tail
            .find(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace())
            .unwrap_or(tail.len());
        let authority = &tail[..authority_len];
        if let Some(at) = authority.rfind('@') {
            match authority[..at].find(':') {
                Some(colon) => {
                    masked.push_str(&authority[..colon]);
                    masked.push_str(":***");
                }
                None => masked.push_str("***"),
            }
            masked.push_str(&authority[at..]);
        } else {
            masked.push_str(authority);
        }
        rest = &tail[authority_len..];
    }
    masked.push_str(rest);

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

#[cfg(test)]
mod tests {
    use super::sanitize_error;

    #[test]
    fn masks_passwords_in_every_url() {
        let text = "a redis://u:p1@h1:1 b rediss://:p2@h2/3 c unix://x:p3@/tmp/s";
        let clean = sanitize_error(text);
        for secret in ["p1", "p2", "p3"] {
            assert!(!clean.contains(secret), "{clean}");
        }
        assert_eq!(
            clean,
            "a redis://u:***@h1:1 b rediss://:***@h2/3 c unix://x:***@/tmp/s"
        );
    }

    #[test]
    fn password_containing_at_sign_is_masked_whole() {
        assert_eq!(
            sanitize_error("redis://app:p@ss@host:6379"),
            "redis://app:***@host:6379"
        );
    }

    #[test]
    fn leaves_urls_without_userinfo_alone() {
        assert_eq!(
            sanitize_error("refused by redis://cache:6379/0"),
            "refused by redis://cache:6379/0"
        );
    }

    #[test]
    fn removes_control_characters_and_cuts_long_text() {
        assert_eq!(sanitize_error(" a\r\nb\t"), "a  b");
        let long = "é".repeat(500);
        let clean = sanitize_error(&long);
        assert_eq!(clean.chars().count(), 200);
        assert!(clean.ends_with('…'));
    }
}
