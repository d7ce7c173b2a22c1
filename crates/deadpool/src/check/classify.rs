//! What a failed check means, in words an operator can act on: a client error or a server's
//! answer turned into a [`CheckErrorKind`] and a reason. No I/O: the check brings what it saw.
//! Server messages are repeated without any arguments they echo, which can hold a password.

use std::time::Duration;

use deadpool_redis::redis::{ErrorKind, RedisError, ServerErrorKind};
use redis_gate_core::{CheckError, CheckErrorKind, sanitize_error};

/// What a failure message may need to name.
pub(super) struct Context {
    /// The hosts the check connects to (empty when the sentinels pick them).
    pub(super) hosts: Vec<String>,
    /// Whether `REDIS_TLS_CA_FILE` (or `RedisConfig::tls_ca`) gives the roots.
    pub(super) custom_ca: bool,
}

/// A step that did not finish within `after`, in the same words whichever timer fired first (ours
/// or the client's).
pub(super) fn timed_out(what: &str, after: Duration) -> CheckError {
    // To the nearest millisecond: a step that got what was left of a 2 s deadline got 2000 ms
    // less a few microseconds.
    let ms = (after.as_micros() + 500) / 1000;
    CheckError::new(
        CheckErrorKind::Timeout,
        format!("{what} timed out after {ms} ms"),
    )
}

/// A write of the write check that got no answer in `after` while reads answered: writes are
/// held up (`CLIENT PAUSE WRITE`, a `FAILOVER` under way) or the server is too slow to write.
pub(super) fn write_held_up(after: Duration) -> CheckError {
    let ms = (after.as_micros() + 500) / 1000;
    CheckError::new(
        CheckErrorKind::ReadOnly,
        format!(
            "writes held up: the write check got no answer in {ms} ms while reads answer \
             (CLIENT PAUSE WRITE, a FAILOVER)"
        ),
    )
}

/// Turns a client error into a failure class and a reason an operator can act on. Server
/// messages are repeated without any arguments they echo: those can hold a password.
pub(super) fn classify(err: &RedisError, context: &Context) -> CheckError {
    use CheckErrorKind::*;
    let code = err.code().unwrap_or_default();
    let detail = err.detail().map(without_arguments).unwrap_or_default();
    let message = err.to_string();
    let (kind, reason): (CheckErrorKind, String) = match err.kind() {
        ErrorKind::AuthenticationFailed => (Auth, "authentication failed".into()),
        _ if code == "NOAUTH" || code == "WRONGPASS" => {
            (Auth, format!("authentication failed ({code})"))
        }
        ErrorKind::Server(ServerErrorKind::NoPerm) => (
            Auth,
            "NOPERM: the user lacks permission for a command or key the check needs (grant it \
             in the user's ACL)"
                .into(),
        ),
        ErrorKind::Server(ServerErrorKind::BusyLoading) => (
            NotReady,
            "LOADING: redis is loading the dataset into memory".into(),
        ),
        ErrorKind::Server(ServerErrorKind::MasterDown) => (
            NotReady,
            "MASTERDOWN: the replica has lost its master".into(),
        ),
        _ if code == "BUSY" => (NotReady, "BUSY: redis is running a long script".into()),
        ErrorKind::Server(ServerErrorKind::ReadOnly) => (
            ReadOnly,
            "READONLY: the server is a replica and refuses writes".into(),
        ),
        _ if code == "OOM" => (
            ReadOnly,
            "OOM: maxmemory reached and writes are refused".into(),
        ),
        _ if code == "NOREPLICAS" => (
            ReadOnly,
            "NOREPLICAS: too few replicas in sync (min-replicas-to-write) and writes are refused"
                .into(),
        ),
        _ if code == "MISCONF" => (
            ReadOnly,
            "MISCONF: the last background save failed (stop-writes-on-bgsave-error) and writes \
             are refused"
                .into(),
        ),
        ErrorKind::Server(ServerErrorKind::ClusterDown)
            if detail.contains("only accepts read commands") =>
        {
            (
                ReadOnly,
                "CLUSTERDOWN: the cluster is down and accepts only reads".into(),
            )
        }
        ErrorKind::Server(ServerErrorKind::ClusterDown) => {
            (NotReady, "CLUSTERDOWN: the cluster is down".into())
        }
        _ if code == "ERR" && is_unknown_sentinel_command(&detail) => {
            (NotReady, NOT_A_SENTINEL.into())
        }
        _ if message.contains("does not point to a sentinel") => (NotReady, NOT_A_SENTINEL.into()),
        _ if is_not_resp(err) => (
            Config,
            "the server does not speak Redis: its answer is not in the Redis protocol (check \
             the host and port)"
                .into(),
        ),
        _ if message.contains("invalid peer certificate") => {
            (Config, certificate(&message, context))
        }
        _ if is_tls_failure(&message) => (
            Config,
            format!("TLS handshake failed: {}", sanitize_error(&message)),
        ),
        ErrorKind::InvalidClientConfig => (
            Config,
            format!("invalid client configuration: {}", sanitize_error(&message)),
        ),
        _ if message.contains("failed to lookup address") => {
            let hosts = context.hosts.join(", ");
            (
                Connection,
                format!("cannot resolve the host name {hosts}: no such host"),
            )
        }
        _ if err.is_timeout() => (Timeout, "timed out".into()),
        _ if err.is_connection_refusal() => (Connection, "connection refused".into()),
        _ if err.is_io_error() || err.is_connection_dropped() => {
            // I/O messages carry no secrets ("Connection reset by peer (os error 104)").
            (Connection, sanitize_error(&message))
        }
        _ if detail.contains("max number of clients") => {
            (NotReady, "max number of clients reached".into())
        }
        _ if !code.is_empty() => (
            NotReady,
            format!("redis replied with an error: {code} {detail}")
                .trim_end()
                .to_owned(),
        ),
        _ => (NotReady, sanitize_error(&message)),
    };
    CheckError::new(kind, reason)
}

const NOT_A_SENTINEL: &str = "not a sentinel: the server named as a sentinel does not know \
    the SENTINEL command (point REDIS_SENTINEL_URLS at the sentinels, usually port 26379)";

/// A server error's text up to where it starts repeating the command's arguments
/// (`..., with args beginning with: ...`), sanitized.
fn without_arguments(detail: &str) -> String {
    let cut = detail.find(", with args").unwrap_or(detail.len());
    sanitize_error(&detail[..cut])
}

fn is_unknown_sentinel_command(detail: &str) -> bool {
    let detail = detail.to_ascii_lowercase();
    detail.contains("unknown command") && detail.contains("sentinel")
}

/// Why the server's certificate was refused, in terms of what to change.
fn certificate(message: &str, context: &Context) -> String {
    let hosts = context.hosts.join(", ");
    if message.contains("UnknownIssuer") || message.contains("BadSignature") {
        let roots = if context.custom_ca {
            "the CA in REDIS_TLS_CA_FILE"
        } else {
            "a CA the system trusts (set REDIS_TLS_CA_FILE to the CA that signed it)"
        };
        format!("TLS handshake failed: the server's certificate is not signed by {roots}")
    } else if message.contains("NotValidForName") || message.contains("not valid for name") {
        format!(
            "TLS handshake failed: the server's certificate does not name the host {hosts} \
             (connect by a name the certificate lists)"
        )
    } else if message.contains("Expired") {
        "TLS handshake failed: the server's certificate has expired".to_owned()
    } else {
        format!(
            "TLS handshake failed: the server's certificate was refused ({})",
            sanitize_error(message)
        )
    }
}

/// True when the connection failed in the TLS handshake for another reason than the
/// certificate: redis keeps the rustls error behind an `Arc`, out of reach of a downcast, so its
/// message is what tells.
fn is_tls_failure(message: &str) -> bool {
    const TLS_MESSAGES: [&str; 4] = [
        "received fatal alert",
        "peer is incompatible",
        "peer misbehaved",
        "received corrupt message",
    ];
    TLS_MESSAGES.iter().any(|m| message.contains(m))
}

/// The mistake a failed connect to `host:port` reveals, from what the server answered a plain
/// `PING` (`answer`), if it reveals one: TLS spoken to a plain server (`tls`: the configuration
/// asks for TLS) or the reverse, or something else than Redis at the address.
pub(super) fn wrong_protocol(
    tls: bool,
    host: &str,
    port: u16,
    answer: &Answer,
) -> Option<CheckError> {
    let reason = match (tls, answer) {
        (true, Answer::Redis) => format!(
            "TLS handshake failed: {host}:{port} speaks plain Redis, not TLS; use redis:// \
             instead of rediss://"
        ),
        (true, Answer::Other(shown)) => format!(
            "TLS handshake failed: {host}:{port} speaks neither TLS nor Redis: it answered a \
             plain PING with {shown} (check the host and port)"
        ),
        (false, Answer::Other(shown)) => format!(
            "{host}:{port} does not speak Redis: it answered PING with {shown} (check the host \
             and port)"
        ),
        (false, Answer::Tls) => {
            format!("{host}:{port} speaks TLS, not plain Redis; use rediss:// instead of redis://")
        }
        (true, Answer::Tls) | (false, Answer::Redis) => return None,
    };
    Some(CheckError::new(CheckErrorKind::Config, reason))
}

/// A plain connection that `host:port` closed, where a TLS client gets an answer.
pub(super) fn tls_only(host: &str, port: u16) -> CheckError {
    CheckError::new(
        CheckErrorKind::Config,
        format!(
            "{host}:{port} speaks TLS and hung up on plain Redis; use rediss:// instead of \
             redis://"
        ),
    )
}

/// What a server answered a plain `PING`.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Answer {
    /// `+PONG`, or an error such as `-NOAUTH`: plain Redis.
    Redis,
    /// A TLS record (an alert, most likely).
    Tls,
    /// Something else, [shown](show_first_word) for a message.
    Other(String),
}

impl Answer {
    /// What the first bytes of an answer are; `None` when there were none.
    pub(super) fn read(bytes: &[u8]) -> Option<Answer> {
        match bytes {
            [] => None,
            [b'+' | b'-', ..] => Some(Answer::Redis),
            [0x15 | 0x16, 0x03, ..] => Some(Answer::Tls),
            bytes => Some(Answer::Other(show_first_word(bytes))),
        }
    }
}

/// The most of an answer that is read to tell what it is.
pub(super) const ANSWER_BYTES: usize = 64;
/// The most of an answer's first word that a message shows.
const SHOWN_BYTES: usize = 16;

/// The first word of an answer in backticks, for a message: at most [`SHOWN_BYTES`] bytes,
/// anything but printable ASCII escaped (`\x00`), `…` when cut. An answer to a bare `PING`
/// cannot echo anything of ours.
fn show_first_word(bytes: &[u8]) -> String {
    let word_end = bytes
        .iter()
        .position(u8::is_ascii_whitespace)
        .unwrap_or(bytes.len());
    let word = &bytes[..word_end.min(SHOWN_BYTES)];
    let mut shown = String::from("`");
    for &byte in word {
        if byte.is_ascii_graphic() && byte != b'`' {
            shown.push(char::from(byte));
        } else {
            shown.push_str(&format!("\\x{byte:02x}"));
        }
    }
    if word_end > SHOWN_BYTES {
        shown.push('…');
    }
    shown.push('`');
    shown
}

/// True when the server's answer could not be read as the Redis protocol (RESP) at all: the
/// client's parser failed, which a conversion of a well-formed reply never makes it do.
pub(super) fn is_not_resp(err: &RedisError) -> bool {
    err.kind() == ErrorKind::Parse && err.to_string().contains("Parse error")
}

#[cfg(test)]
mod tests {
    use std::io;

    use deadpool_redis::redis::{self, Value};
    use rustls::{AlertDescription, CertificateError};

    use super::*;

    /// An error reply, parsed from the wire as the client parses it.
    fn reply(line: &str) -> RedisError {
        match redis::parse_redis_value(format!("{line}\r\n").as_bytes()) {
            Ok(Value::ServerError(err)) => err.into(),
            other => panic!("{line:?} is not an error reply: {other:?}"),
        }
    }

    fn io_error(kind: io::ErrorKind) -> RedisError {
        io::Error::from(kind).into()
    }

    fn certificate(err: CertificateError) -> RedisError {
        rustls::Error::InvalidCertificate(err).into()
    }

    /// What a plain client reads from an HTTP server: not the Redis protocol at all.
    fn http_answer() -> RedisError {
        redis::parse_redis_value(b"HTTP/1.1 400 Bad Request\r\n").unwrap_err()
    }

    fn context(custom_ca: bool) -> Context {
        Context {
            hosts: vec!["cache.internal".to_owned()],
            custom_ca,
        }
    }

    #[test]
    fn failures_get_a_kind_and_a_reason_that_says_what_to_do() {
        use CheckErrorKind::*;
        let cases: Vec<(RedisError, CheckErrorKind, &str)> = vec![
            (
                reply("-LOADING Redis is loading the dataset in memory"),
                NotReady,
                "LOADING: redis is loading the dataset into memory",
            ),
            (
                reply("-BUSY Redis is busy running a script. You can only call SCRIPT KILL."),
                NotReady,
                "BUSY: redis is running a long script",
            ),
            (
                reply("-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is 'no'."),
                NotReady,
                "MASTERDOWN: the replica has lost its master",
            ),
            (
                reply("-READONLY You can't write against a read only replica."),
                ReadOnly,
                "READONLY: the server is a replica and refuses writes",
            ),
            (
                reply("-OOM command not allowed when used memory > 'maxmemory'."),
                ReadOnly,
                "OOM: maxmemory reached and writes are refused",
            ),
            (
                reply("-NOREPLICAS Not enough good replicas to write."),
                ReadOnly,
                "NOREPLICAS: too few replicas in sync (min-replicas-to-write) and writes are \
                 refused",
            ),
            (
                reply(
                    "-MISCONF Redis is configured to save RDB snapshots, but it's currently \
                     unable to persist to disk.",
                ),
                ReadOnly,
                "MISCONF: the last background save failed (stop-writes-on-bgsave-error) and \
                 writes are refused",
            ),
            (
                reply("-CLUSTERDOWN The cluster is down and only accepts read commands"),
                ReadOnly,
                "CLUSTERDOWN: the cluster is down and accepts only reads",
            ),
            (
                reply("-CLUSTERDOWN The cluster is down"),
                NotReady,
                "CLUSTERDOWN: the cluster is down",
            ),
            (
                reply("-NOPERM User app has no permissions to run the 'set' command"),
                Auth,
                "NOPERM: the user lacks permission for a command or key the check needs (grant \
                 it in the user's ACL)",
            ),
            (
                reply("-NOAUTH Authentication required."),
                Auth,
                "authentication failed (NOAUTH)",
            ),
            (
                reply("-WRONGPASS invalid username-password pair or user is disabled."),
                Auth,
                "authentication failed (WRONGPASS)",
            ),
            (
                (
                    ErrorKind::AuthenticationFailed,
                    "Password authentication failed",
                )
                    .into(),
                Auth,
                "authentication failed",
            ),
            (
                reply("-ERR unknown command 'SENTINEL', with args beginning with: 'masters'"),
                NotReady,
                NOT_A_SENTINEL,
            ),
            (
                reply("-ERR max number of clients reached"),
                NotReady,
                "max number of clients reached",
            ),
            (
                // The arguments a server echoes can hold a password: never repeated.
                reply("-ERR syntax error, with args beginning with: 'hunter2'"),
                NotReady,
                "redis replied with an error: ERR syntax error",
            ),
            (
                io_error(io::ErrorKind::ConnectionRefused),
                Connection,
                "connection refused",
            ),
            (
                io_error(io::ErrorKind::ConnectionReset),
                Connection,
                "connection reset",
            ),
            (io_error(io::ErrorKind::TimedOut), Timeout, "timed out"),
            (
                io::Error::other("failed to lookup address information: Name or service not known")
                    .into(),
                Connection,
                "cannot resolve the host name cache.internal: no such host",
            ),
            (
                http_answer(),
                Config,
                "the server does not speak Redis: its answer is not in the Redis protocol \
                 (check the host and port)",
            ),
            (
                certificate(CertificateError::UnknownIssuer),
                Config,
                "TLS handshake failed: the server's certificate is not signed by a CA the \
                 system trusts (set REDIS_TLS_CA_FILE to the CA that signed it)",
            ),
            (
                certificate(CertificateError::NotValidForName),
                Config,
                "TLS handshake failed: the server's certificate does not name the host \
                 cache.internal (connect by a name the certificate lists)",
            ),
            (
                certificate(CertificateError::Expired),
                Config,
                "TLS handshake failed: the server's certificate has expired",
            ),
            (
                rustls::Error::AlertReceived(AlertDescription::HandshakeFailure).into(),
                Config,
                "TLS handshake failed: received fatal alert: HandshakeFailure",
            ),
            (
                (ErrorKind::InvalidClientConfig, "no TLS support").into(),
                Config,
                "invalid client configuration: no TLS support - InvalidClientConfig",
            ),
        ];
        for (err, kind, reason) in cases {
            let classified = classify(&err, &context(false));
            assert_eq!(
                (classified.kind(), classified.reason()),
                (kind, reason),
                "{err:?}"
            );
        }
    }

    #[test]
    fn an_unknown_issuer_points_at_the_ca_file_that_is_in_use() {
        let classified = classify(
            &certificate(CertificateError::UnknownIssuer),
            &context(true),
        );
        assert_eq!(
            classified.reason(),
            "TLS handshake failed: the server's certificate is not signed by the CA in \
             REDIS_TLS_CA_FILE"
        );
    }

    #[test]
    fn an_answer_to_a_plain_ping_names_the_mistake_or_nothing() {
        let http = Answer::read(b"HTTP/1.1 400 Bad Request\r\n").unwrap();
        let redis = Answer::read(b"+PONG\r\n").unwrap();
        let tls = Answer::read(&[0x15, 0x03, 0x03, 0x00, 0x02]).unwrap();
        assert_eq!(Answer::read(b""), None);
        assert_eq!(
            Answer::read(b"-NOAUTH Authentication required.\r\n"),
            Some(Answer::Redis)
        );

        let cases = [
            (
                true,
                &redis,
                Some(
                    "TLS handshake failed: h:1 speaks plain Redis, not TLS; use redis:// instead of rediss://",
                ),
            ),
            (
                true,
                &http,
                Some(
                    "TLS handshake failed: h:1 speaks neither TLS nor Redis: it answered a plain PING with `HTTP/1.1` (check the host and port)",
                ),
            ),
            (true, &tls, None),
            (
                false,
                &http,
                Some(
                    "h:1 does not speak Redis: it answered PING with `HTTP/1.1` (check the host and port)",
                ),
            ),
            (
                false,
                &tls,
                Some("h:1 speaks TLS, not plain Redis; use rediss:// instead of redis://"),
            ),
            (false, &redis, None),
        ];
        for (tls, answer, expected) in cases {
            let found = wrong_protocol(tls, "h", 1, answer);
            assert_eq!(
                found.as_ref().map(CheckError::reason),
                expected,
                "{tls} {answer:?}"
            );
            assert!(found.is_none_or(|err| err.kind() == CheckErrorKind::Config));
        }
    }

    #[test]
    fn a_timeout_says_which_step_and_after_how_long() {
        let err = timed_out("PING", Duration::from_micros(499_600));
        assert_eq!(err.kind(), CheckErrorKind::Timeout);
        assert_eq!(err.reason(), "PING timed out after 500 ms");
    }
    #[test]
    fn an_answer_is_shown_by_its_first_word_printable_and_bounded() {
        assert_eq!(
            show_first_word(b"HTTP/1.1 400 Bad Request\r\n"),
            "`HTTP/1.1`"
        );
        assert_eq!(
            show_first_word(b"SSH-2.0-OpenSSH_9.6p1 Ubuntu\r\n"),
            "`SSH-2.0-OpenSSH_…`"
        );
        assert_eq!(
            show_first_word(b"J\x00\x00\x00\n8.0.36"),
            "`J\\x00\\x00\\x00`"
        );
        assert_eq!(show_first_word(b"a`b\xff"), "`a\\x60b\\xff`");
    }
}
