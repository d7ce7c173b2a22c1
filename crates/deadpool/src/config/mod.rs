//! Where Redis is and how to watch it, from code or from the environment.
//!
//! - `topology`: the deployment shape, each variant with its own nodes and credentials;
//! - `parse`: one URL or host into a node, with errors that say what to fix;
//! - `error`: [`ConfigError`], what every part reports;
//! - `env`: the `REDIS_*` rules, each variable read once;
//! - `file`: the form of a configuration file, for serde (feature `serde`);
//! - here: the public [`RedisConfig`], plain data in deadpool's spirit.

mod env;
mod error;
#[cfg(feature = "serde")]
mod file;
mod parse;
mod topology;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use redis_gate_core::{MonitorSettings, redact};

pub use self::error::ConfigError;
use self::parse::{Parsed, parse_list, parse_node};
pub(crate) use self::topology::{Address, Credentials, Secret, Tls};
use self::topology::{DEFAULT_PORT, DEFAULT_SENTINEL_PORT};
pub use self::topology::{DataNodes, Node, Topology};

/// Where Redis is, how long to wait for it, and how to watch it.
///
/// Build it from a URL ([`from_url`](Self::from_url)), from the environment
/// ([`from_env`](Self::from_env)), or for [`cluster`](Self::cluster) and
/// [`sentinel`](Self::sentinel) deployments; then change the public fields you need. `Display`
/// and `Debug` never show a password: `rediss://app:***@cache:6380/0`.
///
/// ```
/// # mod redis_gate { pub use redis_gate_core::*; pub use redis_gate_deadpool::*; pub mod config { pub use redis_gate_deadpool::*; } }
/// use std::time::Duration;
/// use redis_gate::{RedisConfig, StartupPolicy};
///
/// let mut cfg = RedisConfig::from_url("rediss://app:hunter2@cache.internal:6380/2")?;
/// cfg.monitor.startup = StartupPolicy::FailClosed;
/// cfg.timeouts.connect = Duration::from_secs(1);
/// assert_eq!(cfg.to_string(), "rediss://app:***@cache.internal:6380/2");
/// assert!(cfg.is_tls());
/// # Ok::<(), redis_gate::ConfigError>(())
/// ```
#[cfg_attr(
    feature = "serde",
    doc = r##"
With the `serde` feature it also reads from a configuration file (TOML here; JSON, YAML,
figment and config-rs alike) in the shape people write by hand, with the defaults of
[`from_env`](Self::from_env) for what the file leaves out, and the same checks. Written back
(say, to log the settings in force), it has the same shape without the password:

```
# mod redis_gate { pub use redis_gate_core::*; pub use redis_gate_deadpool::*; pub mod config { pub use redis_gate_deadpool::*; } }
use std::time::Duration;
use redis_gate::{RedisConfig, StartupPolicy};

let cfg: RedisConfig = toml::from_str(
    r#"
    url = "rediss://app:hunter2@cache.internal:6380/0"

    [timeouts]
    connect = "1s"

    [monitor]
    check_interval = "500ms"
    startup = "fail_closed"
    "#,
)?;
assert_eq!(cfg.to_string(), "rediss://app:***@cache.internal:6380/0");
assert_eq!(cfg.timeouts.connect, Duration::from_secs(1));
assert_eq!(cfg.timeouts.response, Duration::from_millis(500)); // the default
assert_eq!(cfg.monitor.startup, StartupPolicy::FailClosed);

let written = toml::to_string(&cfg)?;
assert!(written.contains(r#"url = "rediss://cache.internal:6380/0""#));
assert!(written.contains(r#"username = "app""#));
assert!(written.contains(r#"check_interval = "500ms""#));
assert!(!written.contains("hunter2"));

// A bad value names the field, masks the password and says what would be valid.
let err = toml::from_str::<RedisConfig>(r#"url = "redis://app:hunter2@cache:99999""#);
assert_eq!(
    err.unwrap_err().message(),
    r#"url="redis://app:***@cache:99999" is not valid: the port must be a number from 1 to 65535"#,
);
# Ok::<(), Box<dyn std::error::Error>>(())
```

A sentinel deployment is `sentinels = ["s1:26379", "s2:26379"]` with `master = "mymaster"`
(and `username`, `password`, `db`, `tls` for the master), a cluster `cluster = ["n1:7000",
"n2:7001"]`; see the [`Deserialize`](#impl-Deserialize%3C'de%3E-for-RedisConfig) and
[`Serialize`](#impl-Serialize-for-RedisConfig) impls for every field and for what is left out.
"##
)]
#[derive(Clone)]
#[non_exhaustive]
pub struct RedisConfig {
    /// Names the dependency in the handle, logs, metrics and probes (default `"redis"`).
    pub name: Arc<str>,
    /// How long connecting, answering and waiting for a pooled connection may take.
    pub timeouts: Timeouts,
    /// The application pool's maximum number of connections (default 16; `REDIS_POOL_SIZE`;
    /// 0 counts as 1). The monitor's own connection is not one of them.
    pub pool_size: usize,
    /// Adds a write to every health check (default off; `REDIS_WRITE_CHECK`): after `PING`, the
    /// monitor sets the key `redis-gate:health:<name>` with a short expiry. It catches what a
    /// `PING` cannot: a node demoted to replica (`READONLY`), `maxmemory` with `noeviction`
    /// (`OOM`), and `CLIENT PAUSE WRITE` (the write times out). It costs one small write per
    /// check and needs write permission on that key.
    pub write_check: bool,
    /// How the monitor watches: check interval, fall and rise, backoff, startup policy and
    /// budget, stall timeout (`REDIS_CHECK_INTERVAL_MS`, `REDIS_BACKOFF_*`,
    /// `REDIS_STARTUP_TIMEOUT_MS`, `REDIS_FAIL_CLOSED`, `REDIS_STALL_TIMEOUT_MS`).
    pub monitor: MonitorSettings,
    /// PEM roots to verify TLS servers with, instead of the system's (`REDIS_TLS_CA_FILE`): for
    /// standalone servers, sentinels and cluster nodes alike.
    pub tls_ca: Option<Arc<[u8]>>,
    /// With Sentinel: subscribe to the sentinels' `+switch-master`, `+odown` and `-odown`, so a
    /// failover is followed at once rather than at the next check (default on). Each check also
    /// asks the sentinels which master they name, so without it failovers are still followed,
    /// one check interval later.
    pub sentinel_announcements: bool,
    topology: Topology,
    source: Source,
    warnings: Vec<String>,
}

/// The timeouts of the connections to Redis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timeouts {
    /// One connection attempt (default 2 s; `REDIS_CONNECT_TIMEOUT_MS`).
    pub connect: Duration,
    /// One health-check command, and each command on a pooled connection (default 500 ms).
    pub response: Duration,
    /// Waiting for a free pooled connection while Redis is available (default 1 s).
    pub pool_wait: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(2),
            response: Duration::from_millis(500),
            pool_wait: Duration::from_secs(1),
        }
    }
}

/// Where the connection settings came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// `REDIS_URL`, or a URL given in code.
    Url,
    /// `REDIS_HOST` and friends.
    Components,
    /// `REDIS_SENTINEL_URLS` and `REDIS_SENTINEL_MASTER`.
    Sentinel,
    /// `REDIS_CLUSTER_URLS`.
    Cluster,
    /// The development fallback of [`RedisConfig::from_env_or`].
    Default,
}

impl Source {
    /// `"REDIS_URL"`, `"components"`, `"REDIS_SENTINEL_URLS"`, `"REDIS_CLUSTER_URLS"` or
    /// `"default"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Url => "REDIS_URL",
            Source::Components => "components",
            Source::Sentinel => "REDIS_SENTINEL_URLS",
            Source::Cluster => "REDIS_CLUSTER_URLS",
            Source::Default => "default",
        }
    }
}

/// The warning for `redis://TOKEN@host`, which the client reads as a user name.
fn bare_userinfo_warning(variable: &str) -> String {
    format!(
        "{variable} has a user name but no password (redis://***@host), so it is sent as a user \
         name; for a password, write redis://:PASSWORD@host"
    )
}

impl RedisConfig {
    fn new(topology: Topology, source: Source, warnings: Vec<String>) -> RedisConfig {
        RedisConfig {
            name: Arc::from(redis_gate_core::DEFAULT_NAME),
            timeouts: Timeouts::default(),
            pool_size: 16,
            write_check: false,
            monitor: MonitorSettings::default(),
            tls_ca: None,
            sentinel_announcements: true,
            topology,
            source,
            warnings,
        }
    }

    /// Parses a Redis URL: `redis://`, `rediss://` (TLS), `unix://` or `redis+unix://` (scheme
    /// case-insensitive), e.g. `redis://user:pass@host:6379/0` or `unix:///run/redis.sock?db=1`.
    /// A missing port means 6379 and a missing database means 0.
    pub fn from_url(url: &str) -> Result<RedisConfig, ConfigError> {
        let Parsed {
            node,
            bare_userinfo,
        } = parse_node("url", url, false, DEFAULT_PORT)?;
        let warnings = if bare_userinfo {
            vec![bare_userinfo_warning("the URL")]
        } else {
            Vec::new()
        };
        Ok(RedisConfig::new(
            Topology::Standalone(node),
            Source::Url,
            warnings,
        ))
    }

    /// Redis Cluster from seed node URLs (`redis://[user:pass@]host:port`, or scheme-less).
    pub fn cluster<S: AsRef<str>>(seeds: &[S]) -> Result<RedisConfig, ConfigError> {
        let seeds = parse_list(
            "cluster seeds",
            seeds.iter().map(AsRef::as_ref),
            false,
            DEFAULT_PORT,
        )?;
        Ok(RedisConfig::new(
            Topology::Cluster(seeds),
            Source::Url,
            Vec::new(),
        ))
    }

    /// A master found through Redis Sentinel: sentinel addresses (URLs or `host:port`, default
    /// port 26379; a sentinel's own password goes in its URL) and the master's service name. The
    /// builder sets how to log in to the master itself.
    ///
    /// ```
    /// # mod redis_gate { pub use redis_gate_deadpool::*; pub mod config { pub use redis_gate_deadpool::*; } }
    /// use redis_gate::RedisConfig;
    ///
    /// let cfg = RedisConfig::sentinel(&["s1:26379", "s2:26379"], "mymaster")
    ///     .username("app")
    ///     .password("hunter2")
    ///     .db(1)
    ///     .build()?;
    /// assert_eq!(cfg.to_string(), "redis+sentinel://app:***@s1:26379,s2:26379/mymaster/1");
    /// # Ok::<(), redis_gate::ConfigError>(())
    /// ```
    pub fn sentinel<S: AsRef<str>>(sentinels: &[S], master: &str) -> SentinelBuilder {
        SentinelBuilder {
            sentinels: sentinels.iter().map(|s| s.as_ref().to_owned()).collect(),
            master: master.to_owned(),
            credentials: Credentials::default(),
            db: 0,
            tls: None,
        }
    }

    /// Reads the process environment. See the README's configuration table for every variable;
    /// in short: `REDIS_URL`, or `REDIS_HOST` (alias `REDIS_ENDPOINT`) with `REDIS_PORT`,
    /// `REDIS_USERNAME`, `REDIS_AUTH_TOKEN` (alias `REDIS_PASSWORD`), `REDIS_DB`,
    /// `REDIS_TLS_ENABLED` (alias `REDIS_TLS`); `REDIS_SENTINEL_URLS` or `REDIS_CLUSTER_URLS`;
    /// then the timeouts and the monitor's tuning.
    ///
    /// With no Redis variable set at all this is an error: there is no silent localhost default.
    pub fn from_env() -> Result<RedisConfig, ConfigError> {
        RedisConfig::from_lookup(|name| std::env::var(name).ok(), None)
    }

    /// Like [`from_env`](Self::from_env), but uses `default_url` when no Redis variable is set —
    /// for development, where `redis://127.0.0.1:6379` is a reasonable guess. The config's
    /// [`source`](Self::source) then says [`Source::Default`].
    pub fn from_env_or(default_url: &str) -> Result<RedisConfig, ConfigError> {
        RedisConfig::from_lookup(|name| std::env::var(name).ok(), Some(default_url))
    }

    /// Reads settings through `lookup` instead of the process environment (for tests, or a
    /// command-line override), falling back to `default_url` when no Redis variable is set.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        default_url: Option<&str>,
    ) -> Result<RedisConfig, ConfigError> {
        env::resolve(&lookup, default_url)
    }

    /// How Redis is deployed: its nodes and credentials.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// Where the settings came from.
    pub fn source(&self) -> Source {
        self.source
    }

    /// Things that look wrong but do not stop the configuration from working.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// True when the application's connections use TLS.
    pub fn is_tls(&self) -> bool {
        self.topology.is_tls()
    }

    /// The longest one health check can honestly take: a connect and a retried one, a response
    /// for each of its commands, and a look into a failed connect; with the write check, its own
    /// connect, retried, and its write.
    pub(crate) fn longest_check(&self) -> Duration {
        let (connects, responses) = if self.write_check { (4, 6) } else { (2, 4) };
        self.timeouts.connect * connects
            + self.timeouts.response * responses
            + Duration::from_millis(500)
    }

    /// The key the write check sets, when it is on.
    pub(crate) fn write_check_key(&self) -> Option<String> {
        self.write_check
            .then(|| format!("redis-gate:health:{}", self.name))
    }
}

impl fmt::Display for RedisConfig {
    /// The topology's URL, secrets masked (see [`Topology`]'s `Display`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.topology, f)
    }
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConfig")
            .field("name", &self.name)
            .field("topology", &self.topology)
            .field("timeouts", &self.timeouts)
            .field("pool_size", &self.pool_size)
            .field("write_check", &self.write_check)
            .field("monitor", &self.monitor)
            .field("tls_ca", &self.tls_ca.is_some())
            .field("sentinel_announcements", &self.sentinel_announcements)
            .field("source", &self.source)
            .field("warnings", &self.warnings)
            .finish()
    }
}

/// Builds the configuration of a Sentinel-managed master; from [`RedisConfig::sentinel`].
#[derive(Clone)]
#[must_use = "call build() to get the configuration"]
pub struct SentinelBuilder {
    sentinels: Vec<String>,
    master: String,
    credentials: Credentials,
    db: u32,
    tls: Option<bool>,
}

impl SentinelBuilder {
    /// The user name to log in to the master with.
    pub fn username(mut self, username: &str) -> Self {
        self.credentials.username = Some(username.to_owned());
        self
    }

    /// The password to log in to the master with (a sentinel's own goes in its URL).
    pub fn password(mut self, password: &str) -> Self {
        self.credentials.password = Some(Secret(password.to_owned()));
        self
    }

    /// The database the application uses (default 0).
    pub fn db(mut self, db: u32) -> Self {
        self.db = db;
        self
    }

    /// Whether the master speaks TLS; by default, whether the first sentinel does.
    pub fn tls(mut self, tls: bool) -> Self {
        self.tls = Some(tls);
        self
    }

    /// The configuration, or what is wrong with a sentinel address.
    pub fn build(self) -> Result<RedisConfig, ConfigError> {
        let sentinels = parse_list(
            "sentinels",
            self.sentinels.iter().map(String::as_str),
            false,
            DEFAULT_SENTINEL_PORT,
        )?;
        let tls = self.tls.unwrap_or_else(|| sentinels[0].is_tls());
        let topology = Topology::Sentinel {
            sentinels,
            master: self.master,
            data_nodes: DataNodes {
                credentials: self.credentials,
                db: self.db,
                tls,
            },
        };
        Ok(RedisConfig::new(topology, Source::Url, Vec::new()))
    }
}

impl fmt::Debug for SentinelBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sentinels: Vec<String> = self.sentinels.iter().map(|s| redact(s)).collect();
        f.debug_struct("SentinelBuilder")
            .field("sentinels", &sentinels)
            .field("master", &self.master)
            .field("password", &self.credentials.password)
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
