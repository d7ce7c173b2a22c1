//! The configuration as a file holds it (feature `serde`): the shape people write by hand, read
//! through the same parsing and checks as the environment, and written back without secrets.
//!
//! The impls repeat the module's `cfg`: rustdoc's feature badge reads an impl's own attributes
//! where the facade re-exports the types, and does not see the module's there.

use std::fmt;
use std::time::Duration;

use redis_gate_core::{MonitorSettings, human_duration};
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::{self, Serializer};
use serde::{Deserialize, Serialize};

use super::parse::{Parsed, parse_list, parse_node, parse_seeds, pool_size, read_ca_file};
use super::topology::{Credentials, DEFAULT_PORT, DEFAULT_SENTINEL_PORT, DataNodes, Node};
use super::{ConfigError, RedisConfig, Source, Timeouts, Topology, bare_userinfo_warning};

/// The file's fields. One struct for both directions, so that what is written is what is read;
/// `password` and `tls_ca_file` are only ever read.
#[derive(Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sentinels: Option<Addresses>,
    #[serde(skip_serializing_if = "Option::is_none")]
    master: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster: Option<Addresses>,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<Text>,
    #[serde(skip_serializing)]
    password: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    db: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_ca: Option<String>,
    #[serde(skip_serializing)]
    tls_ca_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pool_size: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    write_check: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sentinel_announcements: Option<bool>,
    #[serde(default)]
    timeouts: Timeouts,
    #[serde(default)]
    monitor: MonitorSettings,
}

/// The shape of a configuration file, in TOML:
///
/// ```toml
/// name = "redis"                          # optional, as every field but where Redis is
/// url = "rediss://cache.internal:6380/0"  # or: sentinels + master, or: cluster
/// username = "app"
/// pool_size = 16
/// write_check = false
/// sentinel_announcements = true
///
/// [timeouts]
/// connect = "2s"
/// response = "500ms"
/// pool_wait = "1s"
///
/// [monitor]
/// check_interval = "1s"
/// fall = 2
/// rise = 1
/// startup = "degraded"
/// startup_timeout = "8s"
/// startup_attempts = 20
///
/// [monitor.backoff]
/// initial = "100ms"
/// max = "2s"
/// jitter = 0.5
/// ```
///
/// A sentinel deployment writes `sentinels` (its addresses, without credentials), `master`,
/// `db` and `tls`; a cluster writes `cluster` (its seeds). The password is never written, nor
/// the credentials in a sentinel's URL; the user name is written only beside a password, as
/// `Display` shows it (alone, it may be a token). So a configuration read back from its own
/// output is the same but for those secrets, which the reader gives again from where secrets
/// live (a secret store, an environment layer that sets `password`). A cluster writes the
/// first seed's user name, as `Display` does. The CA certificates are written as PEM text in
/// `tls_ca` (an error if they are not text).
#[cfg(feature = "serde")]
impl Serialize for RedisConfig {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ConfigFile::from_config(self)
            .map_err(ser::Error::custom)?
            .serialize(serializer)
    }
}

/// Reads the shape people write by hand. Where Redis is comes from exactly one of:
///
/// - `url`: one server, as `RedisConfig::from_url` reads it (`redis://`, `rediss://`,
///   `unix://`; scheme-less gets `rediss://` when `tls = true`);
/// - `sentinels` (a list, or one comma-separated string, of addresses or URLs, default port
///   26379) with `master`, and optionally `db` and `tls` for the master (by default, TLS when the
///   first sentinel's URL is `rediss://`);
/// - `cluster`: the seed nodes (a list or one comma-separated string), without a database.
///
/// `username` and `password` fill what the URLs leave out, as `REDIS_USERNAME` and
/// `REDIS_AUTH_TOKEN` do (for sentinel, they are the master's); a password given both ways, or
/// two different user names, are an error. The CA certificates to verify TLS servers with come
/// from `tls_ca` (PEM text) or `tls_ca_file` (a path). Everything else is optional, with the
/// defaults `from_env` has: `name`, `pool_size`, `write_check`, `sentinel_announcements`, and
/// the tables `timeouts` and `monitor`, whose durations are strings in human form (`"500ms"`,
/// `"2s"`, `"1m 30s"`).
///
/// An unknown field is an error (a misspelt setting would otherwise be silently left at its
/// default), so a `RedisConfig` cannot be `#[serde(flatten)]`ed into another struct: give it a
/// table of its own (`[redis]`). A bad value is an error that names the field, shows the value
/// with any password masked, and says what would be valid; a number or a boolean where a user
/// name or a password should be is refused without showing it. `tls` contradicting a URL's own
/// scheme is an error too (the environment only warns: a file is written on purpose). The
/// configuration's [`source`](RedisConfig::source) is [`Source::Url`], as for one built in code.
#[cfg(feature = "serde")]
impl<'de> Deserialize<'de> for RedisConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        ConfigFile::deserialize(deserializer)?
            .into_config()
            .map_err(de::Error::custom)
    }
}

impl ConfigFile {
    fn from_config(cfg: &RedisConfig) -> Result<ConfigFile, &'static str> {
        let mut file = ConfigFile {
            name: Some(cfg.name.to_string()),
            pool_size: Some(cfg.pool_size),
            write_check: Some(cfg.write_check),
            sentinel_announcements: Some(cfg.sentinel_announcements),
            timeouts: cfg.timeouts,
            monitor: cfg.monitor,
            ..ConfigFile::default()
        };
        let addresses =
            |nodes: &[Node]| Addresses(nodes.iter().map(|n| n.public_url(false)).collect());
        match cfg.topology() {
            Topology::Standalone(node) => file.url = Some(node.public_url(true)),
            Topology::Sentinel {
                sentinels,
                master,
                data_nodes,
            } => {
                file.sentinels = Some(addresses(sentinels));
                file.master = Some(master.clone());
                file.db = Some(data_nodes.db);
                file.tls = Some(data_nodes.tls);
            }
            Topology::Cluster(seeds) => file.cluster = Some(addresses(seeds)),
        }
        let credentials = cfg.topology().credentials();
        if credentials.password.is_some() {
            file.username = credentials.username.clone().map(Text::String);
        }
        if let Some(pem) = &cfg.tls_ca {
            let text = std::str::from_utf8(pem).map_err(|_| "tls_ca holds no PEM text")?;
            file.tls_ca = Some(certificates_only(text));
        }
        Ok(file)
    }

    fn into_config(self) -> Result<RedisConfig, ConfigError> {
        let given = Given {
            username: self
                .username
                .as_ref()
                .map(|t| t.as_str("username"))
                .transpose()?,
            password: self
                .password
                .as_ref()
                .map(|t| t.as_str("password"))
                .transpose()?,
        };
        let mut warnings = Vec::new();
        let topology = match (&self.url, &self.sentinels, &self.cluster) {
            (Some(url), None, None) => self.standalone(url, &given, &mut warnings)?,
            (None, Some(Addresses(sentinels)), None) => self.sentinel(sentinels, &given)?,
            (None, None, Some(Addresses(seeds))) => self.cluster(seeds, &given)?,
            (None, None, None) => {
                return Err(ConfigError::invalid(
                    "url",
                    "",
                    "where Redis is: url (one server, as in redis://cache:6379/0), or \
                     sentinels with master, or cluster (the seed nodes)",
                ));
            }
            (url, sentinels, cluster) => {
                let set: Vec<(&'static str, String)> = [
                    url.clone().map(|url| ("url", url)),
                    sentinels
                        .as_ref()
                        .map(|list| ("sentinels", list.0.join(","))),
                    cluster.as_ref().map(|list| ("cluster", list.0.join(","))),
                ]
                .into_iter()
                .flatten()
                .collect();
                let (first, _) = set[0];
                let (second, value) = &set[1];
                return Err(ConfigError::invalid(
                    second,
                    value,
                    format!(
                        "unset when {first} is set: Redis is one server (url), a master found \
                         through sentinels, or a cluster"
                    ),
                ));
            }
        };
        let mut cfg = RedisConfig::new(topology, Source::Url, warnings);
        self.tune(&mut cfg)?;
        Ok(cfg)
    }

    fn standalone(
        &self,
        url: &str,
        given: &Given<'_>,
        warnings: &mut Vec<String>,
    ) -> Result<Topology, ConfigError> {
        self.refuse_sentinel_fields("url", DB_IN_URL)?;
        let Parsed {
            mut node,
            bare_userinfo,
        } = parse_node("url", url, self.tls.unwrap_or(false), DEFAULT_PORT)?;
        self.refuse_contradicting_tls("url", &[url], std::slice::from_ref(&node))?;
        given.fill(&mut node.credentials, "url")?;
        if bare_userinfo && node.credentials.password.is_none() {
            warnings.push(bare_userinfo_warning("url"));
        }
        Ok(Topology::Standalone(node))
    }

    fn sentinel(&self, addresses: &[String], given: &Given<'_>) -> Result<Topology, ConfigError> {
        let master = self.master.as_deref().map(str::trim);
        let master = master.filter(|master| !master.is_empty()).ok_or_else(|| {
            ConfigError::invalid(
                "master",
                "",
                "the master's service name (as in `sentinel monitor <name> ...`), required \
                 with sentinels",
            )
        })?;
        let entries = addresses.iter().map(String::as_str);
        let scheme_less_tls = self.tls.unwrap_or(false);
        let sentinels = parse_list("sentinels", entries, scheme_less_tls, DEFAULT_SENTINEL_PORT)?;
        let mut credentials = Credentials::default();
        credentials.fill_gaps(given.username, given.password);
        // Unlike a URL's scheme, a sentinel's says nothing about the master's TLS.
        let data_nodes = DataNodes {
            credentials,
            db: self.db.unwrap_or(0),
            tls: self.tls.unwrap_or_else(|| sentinels[0].is_tls()),
        };
        Ok(Topology::Sentinel {
            sentinels,
            master: master.to_owned(),
            data_nodes,
        })
    }

    fn cluster(&self, addresses: &[String], given: &Given<'_>) -> Result<Topology, ConfigError> {
        self.refuse_sentinel_fields("cluster", NO_DB_IN_CLUSTER)?;
        let entries: Vec<&str> = addresses.iter().map(String::as_str).collect();
        let scheme_less_tls = self.tls.unwrap_or(false);
        let mut seeds = parse_seeds("cluster", entries.iter().copied(), scheme_less_tls)?;
        self.refuse_contradicting_tls("cluster", &entries, &seeds)?;
        for seed in &mut seeds {
            given.fill(&mut seed.credentials, "cluster")?;
        }
        Ok(Topology::Cluster(seeds))
    }

    /// `master` and `db` belong to a sentinel deployment: a server's database is in its URL,
    /// and a cluster has only database 0 (`db_expected` says which).
    fn refuse_sentinel_fields(
        &self,
        topology: &'static str,
        db_expected: &'static str,
    ) -> Result<(), ConfigError> {
        if let Some(master) = &self.master {
            return Err(ConfigError::invalid(
                "master",
                master,
                format!("unset when {topology} is set: a master's name goes with sentinels"),
            ));
        }
        match self.db {
            Some(db) => Err(ConfigError::invalid("db", &db.to_string(), db_expected)),
            None => Ok(()),
        }
    }

    /// `tls` gives scheme-less addresses their scheme; an address whose own scheme says the
    /// opposite is a contradiction (the environment only warns; a file is written on purpose).
    fn refuse_contradicting_tls(
        &self,
        field: &'static str,
        entries: &[&str],
        nodes: &[Node],
    ) -> Result<(), ConfigError> {
        let Some(tls) = self.tls else {
            return Ok(());
        };
        let with_scheme = entries.iter().filter(|entry| !entry.trim().is_empty());
        let contradicting = with_scheme
            .zip(nodes)
            .find(|(entry, node)| entry.contains("://") && node.is_tls() != tls);
        match contradicting {
            Some((_, node)) => Err(ConfigError::invalid(
                "tls",
                &tls.to_string(),
                format!(
                    "the scheme {}:// in {field} already says whether to use TLS: leave tls \
                     out, or write {}:// there",
                    node.scheme(),
                    if tls { "rediss" } else { "redis" }
                ),
            )),
            None => Ok(()),
        }
    }

    /// Everything but where Redis is.
    fn tune(self, cfg: &mut RedisConfig) -> Result<(), ConfigError> {
        if let Some(name) = self.name {
            if name.trim().is_empty() {
                return Err(ConfigError::invalid(
                    "name",
                    &name,
                    "a name for the handle, logs, metrics and probes, such as \"sessions\"",
                ));
            }
            cfg.name = name.into();
        }
        cfg.tls_ca = match (self.tls_ca, self.tls_ca_file) {
            (Some(_), Some(path)) => {
                return Err(ConfigError::invalid(
                    "tls_ca_file",
                    &path,
                    "unset when tls_ca is set: the CA certificates come from one of them",
                ));
            }
            (Some(pem), None) if !pem.contains("-----BEGIN ") => {
                return Err(ConfigError::invalid(
                    "tls_ca",
                    &pem,
                    "PEM text (-----BEGIN CERTIFICATE----- ...); for a path, use tls_ca_file",
                ));
            }
            (Some(pem), None) => Some(pem.into_bytes().into()),
            (None, Some(path)) => Some(read_ca_file("tls_ca_file", &path)?.into()),
            (None, None) => None,
        };
        if let Some(size) = self.pool_size {
            cfg.pool_size = pool_size("pool_size", size)?;
        }
        if let Some(on) = self.write_check {
            cfg.write_check = on;
        }
        if let Some(on) = self.sentinel_announcements {
            cfg.sentinel_announcements = on;
        }
        cfg.timeouts = self.timeouts;
        cfg.monitor = self.monitor;
        Ok(())
    }
}

const DB_IN_URL: &str =
    "unset when url is set: put the database in the URL, as in redis://cache:6379/2";
const NO_DB_IN_CLUSTER: &str = "unset when cluster is set: Redis Cluster has only database 0";

/// The `username` and `password` fields.
struct Given<'a> {
    username: Option<&'a str>,
    password: Option<&'a str>,
}

impl Given<'_> {
    /// Fills what the node's URL (in the field `from`) left out; the same secret given twice
    /// differently is an error, the value masked.
    fn fill(&self, credentials: &mut Credentials, from: &'static str) -> Result<(), ConfigError> {
        let clash = |field: &'static str, what: &str| {
            ConfigError::invalid(
                field,
                "***",
                format!(
                    "unset when the URL in {from} carries a {what}: give it in one place (to \
                     keep the secret apart, leave it out of the URL)"
                ),
            )
        };
        if let (Some(own), Some(given)) = (&credentials.username, self.username)
            && own != given
        {
            return Err(clash("username", "different user name"));
        }
        if let (Some(_), Some(_)) = (&credentials.password, self.password) {
            return Err(clash("password", "password"));
        }
        credentials.fill_gaps(self.username, self.password);
        Ok(())
    }
}

/// Node addresses: a list, or one comma-separated string as in the environment (what an
/// environment layer of figment or config-rs gives).
#[derive(Serialize)]
#[serde(transparent)]
struct Addresses(Vec<String>);

impl<'de> Deserialize<'de> for Addresses {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct List;
        impl<'de> Visitor<'de> for List {
            type Value = Addresses;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of addresses, or one comma-separated string of them")
            }

            fn visit_str<E: de::Error>(self, list: &str) -> Result<Addresses, E> {
                Ok(Addresses(list.split(',').map(str::to_owned).collect()))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Addresses, A::Error> {
                let mut addresses = Vec::new();
                while let Some(address) = seq.next_element()? {
                    addresses.push(address);
                }
                Ok(Addresses(addresses))
            }
        }
        deserializer.deserialize_any(List)
    }
}

/// A user name or a password as given: a string, or something else whose value is dropped at
/// once. `password = 123456` unquoted is still a secret: the error comes from the table, not
/// from the field, so that a format that quotes the line at fault (as `toml` does) cannot show
/// it. A lone user name may be a token, so it is treated the same way.
enum Text {
    String(String),
    NotAString,
}

impl Text {
    fn as_str(&self, field: &'static str) -> Result<&str, ConfigError> {
        match self {
            Text::String(text) => Ok(text),
            Text::NotAString => Err(ConfigError::invalid(
                field,
                "***",
                "a string, in quotes (the value is not shown: it may be a secret)",
            )),
        }
    }
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Text::String(text) => serializer.serialize_str(text),
            Text::NotAString => serializer.serialize_none(),
        }
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Any;
        impl Visitor<'_> for Any {
            type Value = Text;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Text, E> {
                Ok(Text::String(text.to_owned()))
            }

            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Text, E> {
                Ok(Text::NotAString)
            }

            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Text, E> {
                Ok(Text::NotAString)
            }

            fn visit_i128<E: de::Error>(self, _: i128) -> Result<Text, E> {
                Ok(Text::NotAString)
            }

            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Text, E> {
                Ok(Text::NotAString)
            }

            fn visit_u128<E: de::Error>(self, _: u128) -> Result<Text, E> {
                Ok(Text::NotAString)
            }

            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Text, E> {
                Ok(Text::NotAString)
            }

            fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Text, E> {
                Ok(Text::NotAString)
            }
        }
        deserializer.deserialize_any(Any)
    }
}

/// A table of `connect`, `response` and `pool_wait`, durations in human form (`"2s"`,
/// `"500ms"`).
#[cfg(feature = "serde")]
impl Serialize for Timeouts {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        TimeoutsForm::serialize(self, serializer)
    }
}

/// A table of `connect`, `response` and `pool_wait`, each optional (a missing one keeps its
/// default), an unknown name an error; durations in human form, greater than 0.
#[cfg(feature = "serde")]
impl<'de> Deserialize<'de> for Timeouts {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        TimeoutsForm::deserialize(deserializer)
    }
}

/// `Timeouts`' serde form, derived against the type (serde's `remote`), so that a field added
/// there and not here does not compile.
#[derive(Deserialize, Serialize)]
#[serde(
    remote = "Timeouts",
    default = "Timeouts::default",
    deny_unknown_fields
)]
struct TimeoutsForm {
    #[serde(with = "human_duration")]
    connect: Duration,
    #[serde(with = "human_duration")]
    response: Duration,
    #[serde(with = "human_duration")]
    pool_wait: Duration,
}

#[cfg(test)]
mod tests;

/// The `CERTIFICATE` blocks of a PEM text, each whole: all that verifying a server uses, and
/// never a private key that a combined PEM file may also hold.
fn certificates_only(pem: &str) -> String {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut out = String::new();
    let mut rest = pem;
    while let Some(start) = rest.find(BEGIN) {
        let Some(len) = rest[start..].find(END) else {
            break;
        };
        out.push_str(&rest[start..start + len + END.len()]);
        out.push('\n');
        rest = &rest[start + len + END.len()..];
    }
    out
}
