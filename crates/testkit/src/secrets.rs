//! Test passwords, and a check that no captured output ever shows one.
//!
//! Every password given to [`RedisServerBuilder::password`](crate::redis::RedisServerBuilder::password)
//! is registered here, and tests register others (wrong passwords, tokens) with [`register`].
//! Everything the testkit captures is checked against every password registered in the process,
//! raw and percent-encoded, as it is captured:
//!
//! - the log lines of a [`LogCapture`](crate::logs::LogCapture), when its guard is dropped;
//! - the stdout and stderr of a [`Spawned`](crate::process::Spawned) process, when it is dropped;
//! - the status line, headers and body of every response read by
//!   [`HttpClient`](crate::http::HttpClient) or [`raw_request`](crate::http::raw_request).
//!
//! A leak fails the test that captured it, naming where it was found (the password itself is
//! shown masked). So every test of the suite that captures output through the testkit is also a
//! leak test; [`scanned`] says how much was looked at.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use percent_encoding::{AsciiSet, CONTROLS, NON_ALPHANUMERIC, utf8_percent_encode};

/// Shorter strings are not registered: they would turn up by chance.
const MIN_SECRET_LEN: usize = 6;

/// What a URL's userinfo must encode (the WHATWG userinfo set).
const USERINFO: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'/')
    .add(b':')
    .add(b';')
    .add(b'=')
    .add(b'@')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'|')
    .add(b'%');

/// Every registered secret, with the forms it may take in a URL.
static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());
static OUTPUTS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

/// How much captured output has been checked in this process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scanned {
    /// Captured outputs checked (a log capture, a process, a response each).
    pub outputs: u64,
    /// Their total size in bytes.
    pub bytes: u64,
}

/// Registers `secret`, and its percent-encoded forms, as something no output may contain.
/// Secrets shorter than 6 characters are ignored.
pub fn register(secret: &str) {
    if secret.chars().count() < MIN_SECRET_LEN {
        return;
    }
    let forms = [
        secret.to_owned(),
        utf8_percent_encode(secret, USERINFO).to_string(),
        utf8_percent_encode(secret, NON_ALPHANUMERIC).to_string(),
    ];
    let mut secrets = SECRETS.lock().unwrap_or_else(PoisonError::into_inner);
    for form in forms {
        if !secrets.contains(&form) {
            secrets.push(form);
        }
    }
}

/// The registered secret `text` contains, masked (`"ri…(14 chars)"`), if any.
pub fn find_leak(text: &str) -> Option<String> {
    let secrets = SECRETS.lock().unwrap_or_else(PoisonError::into_inner);
    secrets
        .iter()
        .find(|secret| text.contains(secret.as_str()))
        .map(|secret| mask(secret))
}

/// Checks one captured output; `source` says where it came from.
///
/// # Panics
///
/// When `text` contains a registered secret, unless the thread is already panicking.
pub fn check(source: &str, text: &str) {
    OUTPUTS.fetch_add(1, Ordering::Relaxed);
    BYTES.fetch_add(text.len() as u64, Ordering::Relaxed);
    if let Some(leaked) = find_leak(text)
        && !std::thread::panicking()
    {
        panic!("a test password ({leaked}) leaked into {source}");
    }
}

/// How much output [`check`] has seen in this process so far.
pub fn scanned() -> Scanned {
    Scanned {
        outputs: OUTPUTS.load(Ordering::Relaxed),
        bytes: BYTES.load(Ordering::Relaxed),
    }
}

fn mask(secret: &str) -> String {
    let head: String = secret.chars().take(2).collect();
    format!("{head:?}…({} chars)", secret.chars().count())
}
