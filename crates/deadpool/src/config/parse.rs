//! Reading one URL or host into a [`Node`], with errors that say what to fix.

use std::net::Ipv6Addr;

use percent_encoding::percent_decode_str;
use url::Url;

use super::error::ConfigError;
use super::topology::{Address, Credentials, DEFAULT_PORT, Node, Secret, Tls};

/// A parsed URL, and whether its userinfo had no colon: `redis://TOKEN@host` is read as a user
/// name, which is masked like a token and worth a warning.
pub(crate) struct Parsed {
    pub(crate) node: Node,
    pub(crate) bare_userinfo: bool,
}

/// The schemes a node URL may have.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Redis,
    Rediss,
    Unix,
}

impl Scheme {
    fn parse(scheme: &str) -> Option<Scheme> {
        match scheme.to_ascii_lowercase().as_str() {
            "redis" => Some(Scheme::Redis),
            "rediss" => Some(Scheme::Rediss),
            "unix" | "redis+unix" => Some(Scheme::Unix),
            _ => None,
        }
    }
}

const SCHEMES: &str = "the scheme must be redis://, rediss://, unix:// or redis+unix://";
const RESERVED_IN_PASSWORD: &str = "the password seems to contain a reserved character \
    (/, ?, # or @): percent-encode it in the URL (/ as %2F, ? as %3F, # as %23, @ as %40), or \
    give it unencoded in REDIS_AUTH_TOKEN";

/// Parses a URL with a scheme, or a scheme-less `[user:pass@]host[:port][/db]` that gets
/// `rediss://` when `tls` says so, else `redis://`, and `default_port` when it names none.
pub(crate) fn parse_node(
    variable: &'static str,
    raw: &str,
    tls: bool,
    default_port: u16,
) -> Result<Parsed, ConfigError> {
    let raw = raw.trim();
    let invalid = |expected: &'static str| ConfigError::invalid(variable, raw, expected);
    let (scheme, rest) = match raw.find("://") {
        Some(at) => {
            let scheme = Scheme::parse(&raw[..at]).ok_or_else(|| invalid(SCHEMES))?;
            (scheme, &raw[at + 3..])
        }
        None => {
            if let Some(typed) = mistyped_scheme(raw) {
                return Err(ConfigError::invalid(variable, raw, typed.expected()));
            }
            (if tls { Scheme::Rediss } else { Scheme::Redis }, raw)
        }
    };
    if scheme != Scheme::Unix && password_has_reserved_characters(rest) {
        return Err(invalid(RESERVED_IN_PASSWORD));
    }
    // A bare IPv6 address needs brackets to become a URL host.
    let bracketed;
    let rest = if rest.parse::<Ipv6Addr>().is_ok() {
        bracketed = format!("[{rest}]");
        bracketed.as_str()
    } else {
        rest
    };
    let scheme_text = match scheme {
        Scheme::Redis => "redis",
        Scheme::Rediss => "rediss",
        Scheme::Unix => "unix",
    };
    let url = Url::parse(&format!("{scheme_text}://{rest}")).map_err(|err| match err {
        url::ParseError::InvalidPort => invalid("the port must be a number from 1 to 65535"),
        url::ParseError::EmptyHost => invalid("the host is empty"),
        url::ParseError::InvalidIpv6Address => invalid("the IPv6 address in brackets is malformed"),
        _ => invalid("a URL such as redis://user:password@host:6379/0"),
    })?;

    let decode = |part: &str| percent_decode_str(part).decode_utf8_lossy().into_owned();
    let mut credentials = Credentials {
        username: Some(decode(url.username())).filter(|u| !u.is_empty()),
        password: url.password().map(|p| Secret(decode(p))),
    };
    let bare_userinfo = credentials.username.is_some() && credentials.password.is_none();
    // Only `#insecure` (TLS without certificate checks) means anything to the client.
    let insecure = match url.fragment() {
        None => false,
        Some("insecure") => true,
        Some(_) => {
            return Err(invalid(
                "no URL fragment other than #insecure (percent-encode # in passwords as %23)",
            ));
        }
    };

    if scheme == Scheme::Unix {
        let path = url.path();
        if path.is_empty() || path == "/" {
            return Err(invalid("a socket path, as in unix:///run/redis/redis.sock"));
        }
        let mut db = 0;
        for (key, value) in url.query_pairs() {
            match &*key {
                "db" => {
                    db = value
                        .parse()
                        .map_err(|_| invalid("the db query parameter must be a database number"))?;
                }
                "user" => credentials.username = Some(value.into_owned()),
                "pass" | "password" => credentials.password = Some(Secret(value.into_owned())),
                _ => {
                    return Err(invalid(
                        "unix socket query parameters are db, user and pass",
                    ));
                }
            }
        }
        let address = Address::Unix {
            path: path.to_owned(),
        };
        return Ok(Parsed {
            node: Node {
                address,
                credentials,
                db,
            },
            bare_userinfo: false,
        });
    }

    let host = url.host_str().unwrap_or_default();
    if host.is_empty() {
        return Err(invalid("the host is empty"));
    }
    if url.query().is_some() {
        return Err(invalid(
            "no query parameters: put the database in the path, as in redis://host:6379/0",
        ));
    }
    if url.port() == Some(0) {
        return Err(invalid("the port must be a number from 1 to 65535"));
    }
    let db = match url.path().trim_start_matches('/') {
        "" => 0,
        db => db
            .parse()
            .map_err(|_| invalid("the database must be a number, as in redis://host:6379/0"))?,
    };
    let address = Address::Tcp {
        host: host.to_ascii_lowercase(),
        port: url.port().unwrap_or(default_port),
        tls: (scheme == Scheme::Rediss).then_some(Tls { insecure }),
    };
    Ok(Parsed {
        node: Node {
            address,
            credentials,
            db,
        },
        bare_userinfo,
    })
}

/// A known scheme written without its `://`, as it was typed (`redis//`, `redis:/`, `redis:`).
struct MistypedScheme<'a> {
    typed: &'a str,
    /// The scheme's name, as typed.
    word: &'a str,
    scheme: Scheme,
}

impl MistypedScheme<'_> {
    /// What to write instead, and what the valid schemes are. Only the scheme part is repeated:
    /// what follows may hold a password.
    fn expected(&self) -> String {
        let example = match self.scheme {
            Scheme::Redis | Scheme::Rediss => "host:6379/0",
            Scheme::Unix => "/run/redis/redis.sock",
        };
        let scheme = self.word.to_ascii_lowercase();
        format!(
            "the scheme looks mistyped ({} instead of {scheme}://, as in {scheme}://{example}); \
             {SCHEMES}",
            self.typed
        )
    }
}

/// The start of a value without `://` that is a known scheme missing part of it: `redis//host`,
/// `redis:/host`, `redis:host`. A bare `scheme:` followed by a digit is a host named like a
/// scheme and its port (`redis:6379`), and one followed by an `@` somewhere is a user name and
/// a password (`redis:secret@cache`): both are valid, and left alone.
fn mistyped_scheme(raw: &str) -> Option<MistypedScheme<'_>> {
    let word_end = raw
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '+'))
        .unwrap_or(raw.len());
    let scheme = Scheme::parse(&raw[..word_end])?;
    let after = &raw[word_end..];
    let typed_len = if after.starts_with("//") {
        word_end + 2
    } else if let Some(rest) = after.strip_prefix(':') {
        let is_port = rest.starts_with(|c: char| c.is_ascii_digit());
        if rest.starts_with('/') && scheme != Scheme::Unix {
            word_end + 2
        } else if rest.is_empty() || is_port || (rest.contains('@') && !rest.starts_with('/')) {
            return None;
        } else {
            // `unix:/run/redis.sock` lacks the `//` before its absolute path: typed as `unix:`.
            word_end + 1
        }
    } else {
        return None;
    };
    Some(MistypedScheme {
        typed: &raw[..typed_len],
        word: &raw[..word_end],
        scheme,
    })
}

/// True when what comes before the last `@` has a `:` (so a password is meant) and a `/`, `?`
/// or `#`, which end the userinfo of a URL: the password must have held one of them unencoded.
fn password_has_reserved_characters(rest: &str) -> bool {
    rest.rfind('@').is_some_and(|at| {
        let userinfo = &rest[..at];
        userinfo.contains(':') && userinfo.contains(['/', '?', '#'])
    })
}

/// Parses a comma-separated list of node addresses (each a URL or scheme-less).
pub(crate) fn parse_list<'a>(
    variable: &'static str,
    entries: impl IntoIterator<Item = &'a str>,
    tls: bool,
    default_port: u16,
) -> Result<Vec<Node>, ConfigError> {
    let nodes: Vec<Node> = entries
        .into_iter()
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| parse_node(variable, entry, tls, default_port).map(|parsed| parsed.node))
        .collect::<Result<_, _>>()?;
    if nodes.is_empty() {
        return Err(ConfigError::invalid(
            variable,
            "",
            "one or more comma-separated addresses such as host1:port,host2:port",
        ));
    }
    if nodes
        .iter()
        .any(|n| matches!(n.address, Address::Unix { .. }))
    {
        return Err(ConfigError::invalid(
            variable,
            "unix://",
            "TCP addresses: sentinel and cluster nodes are not reached through Unix sockets",
        ));
    }
    Ok(nodes)
}

/// Parses Redis Cluster seed nodes: a list of addresses, none with a database.
pub(crate) fn parse_seeds<'a>(
    variable: &'static str,
    entries: impl IntoIterator<Item = &'a str>,
    tls: bool,
) -> Result<Vec<Node>, ConfigError> {
    let nodes = parse_list(variable, entries, tls, DEFAULT_PORT)?;
    if let Some(node) = nodes.iter().find(|node| node.db != 0) {
        return Err(ConfigError::invalid(
            variable,
            &node.to_string(),
            "seed nodes without a database: Redis Cluster has only database 0",
        ));
    }
    Ok(nodes)
}

/// What a pool size must be.
pub(crate) const POOL_SIZE: &str = "a pool size of at least 1";

/// Checks a pool size: a pool of no connections serves nobody.
pub(crate) fn pool_size(variable: &'static str, size: usize) -> Result<usize, ConfigError> {
    match size {
        0 => Err(ConfigError::invalid(variable, "0", POOL_SIZE)),
        size => Ok(size),
    }
}

/// Checks a `REDIS_HOST` value: a host name or IP address, nothing more.
pub(crate) fn parse_host(variable: &'static str, raw: &str) -> Result<String, ConfigError> {
    if raw.contains("://") {
        return Err(ConfigError::invalid(
            variable,
            raw,
            "a host name or IP address; put URLs in REDIS_URL",
        ));
    }
    let unbracketed = raw.trim_start_matches('[').trim_end_matches(']');
    if unbracketed.parse::<Ipv6Addr>().is_ok() {
        return Ok(format!("[{unbracketed}]"));
    }
    if raw.contains(':') {
        return Err(ConfigError::invalid(
            variable,
            raw,
            "a host name without a port; put the port in REDIS_PORT",
        ));
    }
    if raw.contains(|c: char| c.is_whitespace() || matches!(c, '/' | '@' | '?' | '#')) {
        return Err(ConfigError::invalid(
            variable,
            raw,
            "a host name or IP address, such as cache.internal or 10.0.0.5",
        ));
    }
    Ok(raw.to_ascii_lowercase())
}

/// Reads a CA bundle: a regular file of at most 1 MiB (never a device or a pipe that could hang
/// or exhaust memory).
pub(crate) fn read_ca_file(variable: &'static str, path: &str) -> Result<Vec<u8>, ConfigError> {
    const MAX_BYTES: u64 = 1 << 20;
    let invalid = |why: String| {
        ConfigError::invalid(
            variable,
            path,
            format!("a readable PEM file of CA certificates, at most 1 MiB ({why})"),
        )
    };
    let metadata = std::fs::metadata(path).map_err(|err| invalid(err.to_string()))?;
    if !metadata.is_file() {
        return Err(invalid("not a regular file".to_owned()));
    }
    if metadata.len() > MAX_BYTES {
        return Err(invalid(format!("{} bytes", metadata.len())));
    }
    std::fs::read(path).map_err(|err| invalid(err.to_string()))
}
