//! Configuration values a fuzzer found (see `fuzz/`), kept as regression tests.

use redis_gate_deadpool::RedisConfig;

fn shown(url: &str) -> Vec<String> {
    match RedisConfig::from_lookup(|name| (name == "REDIS_URL").then(|| url.to_owned()), None) {
        Ok(cfg) => vec![
            cfg.to_string(),
            format!("{cfg:?}"),
            cfg.warnings().join("\n"),
        ],
        Err(err) => vec![err.to_string(), format!("{err:?}")],
    }
}

/// Found by `cargo fuzz run config`: when `://` came after the `@` or inside the password, the
/// error message showed the password (whole, or its start). Masking now only treats a real
/// scheme as one.
#[test]
fn malformed_urls_with_a_scheme_separator_after_the_password_hide_it() {
    for (url, password) in [
        ("app:hunter22@cache:6379://", "hunter22"),
        ("app:zqqz@`://\tl;", "zqqz"),
        ("app:pa://ss99@cache", "pa://ss99"),
    ] {
        for output in shown(url) {
            let start = &password[..2];
            assert!(
                !output.contains(password) && !output.contains(&format!(":{start}")),
                "{password:?} shows in {output:?}"
            );
        }
    }
}

#[test]
fn malformed_urls_that_are_masked_today_stay_masked() {
    for (url, password) in [
        ("redis//:hunter22@cache", "hunter22"),
        ("redis:/:hunter22@cache", "hunter22"),
        ("http//app:hunter22@cache", "hunter22"),
        ("redis:://app:hunter22@cache", "hunter22"),
        ("redis://app:hunter22@cache://x", "hunter22"),
        (" redis ://app:hunter22@cache", "hunter22"),
        ("redis:app:hunter22@cache", "hunter22"),
        ("redis://app:hunter22@", "hunter22"),
        ("rediss://app:hunter22@cache:99999", "hunter22"),
    ] {
        for output in shown(url) {
            assert!(
                !output.contains(password),
                "{password:?} shows in {output:?}"
            );
        }
    }
}
