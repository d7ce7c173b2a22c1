//! The one masking function against arbitrary text around a URL with a password: the password
//! never survives `redact` or `sanitize_error`, whatever surrounds it or whatever it contains.
//! `crates/core` runs the same property as a proptest on every `cargo test`.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use redis_gate_core::{redact, sanitize_error};

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    before: &'a str,
    scheme: &'a str,
    user: &'a str,
    /// The middle of a password, which is `zq<this>qz` so that it is recognisable.
    password: &'a str,
    host: &'a str,
    after: &'a str,
    with_scheme: bool,
}

fuzz_target!(|input: Input| {
    let parts = [input.before, input.scheme, input.user, input.host, input.after];
    if parts.iter().any(|part| part.contains("zq") || part.contains("qz")) {
        return;
    }
    let password = format!("zq{}qz", input.password);
    let url = if input.with_scheme {
        format!("{}://{}:{password}@{}", input.scheme, input.user, input.host)
    } else {
        format!("{}:{password}@{}", input.user, input.host)
    };
    // Only what comes before the URL may end a word for it to be taken as a URL; the password
    // must be masked either way.
    let text = format!("{}{url}{}", input.before, input.after);
    for output in [redact(&text), sanitize_error(&text)] {
        assert!(!output.contains(&password), "the password shows in {output:?}");
    }
});
