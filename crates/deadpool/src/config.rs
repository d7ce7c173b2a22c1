//! Where Redis is and how to watch it, from code or from the environment.

use std::borrow::Cow;
use std::fmt;
use std::net::Ipv6Addr;
use std::sync::Arc;
use std::time::Duration;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use url::Url;

use crate::backoff::Backoff;

/// Characters percent-encoded in a URL's username and password: all but RFC 3986's unreserved.
const USERINFO: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

const DEFAULT_PORT: u16 = 6379;

/// What the monitor does when Redis is not reachable at startup.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum StartupPolicy {
    /// Serve anyway: `start()` returns and the monitor keeps retrying in the background, with
    /// the handle unavailable until Redis answers. The default.
    #[default]
    Degraded,
    /// Refuse to start: `start()` fails when the startup timeout passes without a connection, so
    /// the process can exit non-zero and the orchestrator can restart it.
    FailClosed,
}

/// The timeouts of a [`RedisConfig`], as [`RedisConfig::timeouts`] reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timeouts {
    /// One connection attempt.
    pub connect: Duration,
    /// How long startup waits for the first connection.
    pub startup: Duration,
    /// One health-check `PING`, and each command on a pooled connection.
    pub response: Duration,
    /// Waiting for a free pooled connection.
    pub pool_wait: Duration,
    /// Time between health checks.
    pub check_interval: Duration,
    /// How long past its due time a check may take to complete before the monitor counts as
    /// stalled and the handle says unavailable.
    pub stall: Duration,
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

/// How Redis is deployed, which decides how the monitor checks it and which pool it builds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Topology {
    /// One server (`REDIS_URL` or `REDIS_HOST`).
    Standalone,
    /// A master found through Redis Sentinel (`REDIS_SENTINEL_URLS`, `REDIS_SENTINEL_MASTER`).
    /// Available means: the master the sentinels name answers `PING` and its `ROLE` is master.
    Sentinel {
        /// The monitored master's service name.
        master: String,
    },
    /// Redis Cluster from seed nodes (`REDIS_CLUSTER_URLS`). Available means: a node answers and
    /// `CLUSTER INFO` says `cluster_state:ok`.
    Cluster,
}

impl Topology {
    /// `"standalone"`, `"sentinel"` or `"cluster"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Topology::Standalone => "standalone",
            Topology::Sentinel { .. } => "sentinel",
            Topology::Cluster => "cluster",
        }
    }
}

const DEFAULT_SENTINEL_PORT: u16 = 26379;

/// A configuration mistake: which setting, its value with any password masked, and what would be
/// valid.
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Nothing says where Redis is, and no default was offered.
    #[error(
        "no Redis configuration: set REDIS_URL (e.g. redis://cache:6379/0), or REDIS_HOST (alias \
         REDIS_ENDPOINT) with optional REDIS_PORT, REDIS_USERNAME, REDIS_AUTH_TOKEN (alias \
         REDIS_PASSWORD), REDIS_DB and REDIS_TLS_ENABLED (alias REDIS_TLS)"
    )]
    Missing,
    /// A setting has a value that cannot be used.
    #[error("{variable}={value:?} is not valid: {expected}")]
    Invalid {
        /// The variable (or builder argument) at fault.
        variable: &'static str,
        /// Its value, passwords masked as `***`.
        value: String,
        /// What would be valid.
        expected: Cow<'static, str>,
    },
}

impl fmt::Debug for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl ConfigError {
    fn invalid(
        variable: &'static str,
        value: &str,
        expected: impl Into<Cow<'static, str>>,
    ) -> ConfigError {
        ConfigError::Invalid {
            variable,
            value: mask_userinfo(value),
            expected: expected.into(),
        }
    }

    /// The variable at fault, if any.
    pub fn variable(&self) -> Option<&'static str> {
        match self {
            ConfigError::Missing => None,
            ConfigError::Invalid { variable, .. } => Some(variable),
        }
    }
}

/// A password, never shown.
#[derive(Clone, PartialEq, Eq)]
struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scheme {
    Redis,
    Rediss,
    Unix,
    RedisUnix,
}

impl Scheme {
    fn parse(scheme: &str) -> Option<Scheme> {
        match scheme.to_ascii_lowercase().as_str() {
            "redis" => Some(Scheme::Redis),
            "rediss" => Some(Scheme::Rediss),
            "unix" => Some(Scheme::Unix),
            "redis+unix" => Some(Scheme::RedisUnix),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Scheme::Redis => "redis",
            Scheme::Rediss => "rediss",
            Scheme::Unix => "unix",
            Scheme::RedisUnix => "redis+unix",
        }
    }

    fn is_unix(self) -> bool {
        matches!(self, Scheme::Unix | Scheme::RedisUnix)
    }
}

/// The parsed target: everything needed to rebuild a canonical URL, with or without the password.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Target {
    scheme: Scheme,
    username: Option<String>,
    password: Option<Secret>,
    /// Host (IPv6 in brackets) for TCP, socket path for Unix.
    host: String,
    port: Option<u16>,
    db: u32,
    /// `#insecure` and the like, passed through to the client.
    fragment: Option<String>,
}

impl Target {
    /// Credentials and database for data nodes whose addresses come from sentinel.
    fn node_auth(
        scheme: Scheme,
        username: Option<String>,
        password: Option<Secret>,
        db: u32,
    ) -> Target {
        Target {
            scheme,
            username,
            password,
            host: String::new(),
            port: None,
            db,
            fragment: None,
        }
    }

    fn write_url(&self, f: &mut impl fmt::Write, reveal: bool) -> fmt::Result {
        let password = self.password.as_ref().map(|p| {
            if reveal {
                Cow::Owned(utf8_percent_encode(&p.0, USERINFO).to_string())
            } else {
                Cow::Borrowed("***")
            }
        });
        let username = self
            .username
            .as_deref()
            .map(|u| utf8_percent_encode(u, USERINFO).to_string());
        write!(f, "{}://", self.scheme.as_str())?;
        if self.scheme.is_unix() {
            write!(f, "{}?db={}", self.host, self.db)?;
            if let Some(user) = username {
                write!(f, "&user={user}")?;
            }
            if let Some(password) = password {
                write!(f, "&pass={password}")?;
            }
        } else {
            match (username, password) {
                (Some(user), Some(password)) => write!(f, "{user}:{password}@")?,
                (Some(user), None) => write!(f, "{user}@")?,
                (None, Some(password)) => write!(f, ":{password}@")?,
                (None, None) => {}
            }
            write!(
                f,
                "{}:{}/{}",
                self.host,
                self.port.unwrap_or(DEFAULT_PORT),
                self.db
            )?;
        }
        if let Some(fragment) = &self.fragment {
            write!(f, "#{fragment}")?;
        }
        Ok(())
    }
}

/// Where Redis is, how long to wait for it, and how to watch it.
///
/// Build it in code with [`RedisConfig::from_url`], or from the environment with
/// [`RedisConfig::from_env`]; then adjust with the builder methods. `Display` and `Debug` show
/// the URL with the password masked and the username kept: `rediss://app:***@cache:6380/0`.
///
/// ```
/// use std::time::Duration;
/// use redis_gate_deadpool::{RedisConfig, StartupPolicy};
///
/// let cfg = RedisConfig::from_url("rediss://app:hunter2@cache.internal:6380/2")?
///     .startup_policy(StartupPolicy::FailClosed)
///     .connect_timeout(Duration::from_secs(1));
/// assert_eq!(cfg.to_string(), "rediss://app:***@cache.internal:6380/2");
/// assert_eq!(cfg.port(), Some(6380));
/// assert!(cfg.is_tls());
/// # Ok::<(), redis_gate_deadpool::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct RedisConfig {
    /// The server (standalone), the first seed (cluster), or the data nodes' credentials, TLS
    /// and database (sentinel).
    target: Target,
    topology: Topology,
    /// Sentinel addresses or cluster seeds; empty for a standalone server.
    nodes: Vec<Target>,
    /// PEM roots to verify TLS servers with, instead of the system's.
    tls_ca: Option<Arc<[u8]>>,
    source: Source,
    warnings: Vec<String>,
    name: Arc<str>,
    pub(crate) connect_timeout: Duration,
    pub(crate) startup_timeout: Duration,
    pub(crate) startup_policy: StartupPolicy,
    pub(crate) startup_attempts: u32,
    pub(crate) pool_size: usize,
    pub(crate) pool_wait_timeout: Duration,
    pub(crate) check_interval: Duration,
    pub(crate) response_timeout: Duration,
    pub(crate) fall: u32,
    pub(crate) rise: u32,
    pub(crate) backoff: Backoff,
    pub(crate) write_probe: bool,
    /// `None`: derived from the interval and the timeouts (see [`RedisConfig::stall_timeout`]).
    stall_timeout: Option<Duration>,
}

impl RedisConfig {
    fn new(target: Target, source: Source) -> RedisConfig {
        RedisConfig {
            target,
            topology: Topology::Standalone,
            nodes: Vec::new(),
            tls_ca: None,
            source,
            warnings: Vec::new(),
            name: Arc::from(redis_gate_core::DEFAULT_NAME),
            connect_timeout: Duration::from_millis(2000),
            startup_timeout: Duration::from_millis(8000),
            startup_policy: StartupPolicy::Degraded,
            startup_attempts: 20,
            pool_size: 16,
            pool_wait_timeout: Duration::from_millis(1000),
            check_interval: Duration::from_millis(1000),
            response_timeout: Duration::from_millis(500),
            fall: 2,
            rise: 1,
            backoff: Backoff::default(),
            write_probe: false,
            stall_timeout: None,
        }
    }

    /// Parses a Redis URL: `redis://`, `rediss://` (TLS), `unix://` or `redis+unix://` (scheme
    /// case-insensitive), e.g. `redis://user:pass@host:6379/0` or `unix:///run/redis.sock?db=1`.
    /// A missing port means 6379 and a missing database means 0.
    pub fn from_url(url: &str) -> Result<RedisConfig, ConfigError> {
        let target = parse_url("url", url, None, DEFAULT_PORT)?;
        Ok(RedisConfig::new(target, Source::Url))
    }

    /// Redis Cluster from seed node URLs (`redis://[user:pass@]host:port`, or scheme-less).
    pub fn cluster<S: AsRef<str>>(seeds: &[S]) -> Result<RedisConfig, ConfigError> {
        let nodes = parse_list(
            "cluster seeds",
            seeds.iter().map(AsRef::as_ref),
            None,
            DEFAULT_PORT,
        )?;
        RedisConfig::from_nodes(Topology::Cluster, nodes[0].clone(), nodes, Source::Url)
    }

    /// A master found through Redis Sentinel: sentinel addresses (URLs or `host:port`, default
    /// port 26379; a sentinel's own password goes in its URL), the master's service name, and
    /// the username, password and database for the master itself.
    pub fn sentinel<S: AsRef<str>>(
        sentinels: &[S],
        master: &str,
        username: Option<&str>,
        password: Option<&str>,
        db: u32,
    ) -> Result<RedisConfig, ConfigError> {
        let nodes = parse_list(
            "sentinels",
            sentinels.iter().map(AsRef::as_ref),
            None,
            DEFAULT_SENTINEL_PORT,
        )?;
        let scheme = nodes[0].scheme;
        let target = Target::node_auth(
            scheme,
            username.map(str::to_owned),
            password.map(|p| Secret(p.to_owned())),
            db,
        );
        let topology = Topology::Sentinel {
            master: master.to_owned(),
        };
        RedisConfig::from_nodes(topology, target, nodes, Source::Url)
    }

    fn from_nodes(
        topology: Topology,
        target: Target,
        nodes: Vec<Target>,
        source: Source,
    ) -> Result<RedisConfig, ConfigError> {
        let mut cfg = RedisConfig::new(target, source);
        cfg.topology = topology;
        cfg.nodes = nodes;
        Ok(cfg)
    }

    /// Reads the process environment. See the README's configuration table for every variable;
    /// in short: `REDIS_URL`, or `REDIS_HOST` (alias `REDIS_ENDPOINT`) with `REDIS_PORT`,
    /// `REDIS_USERNAME`, `REDIS_AUTH_TOKEN` (alias `REDIS_PASSWORD`), `REDIS_DB`,
    /// `REDIS_TLS_ENABLED` (alias `REDIS_TLS`); then `REDIS_CONNECT_TIMEOUT_MS`,
    /// `REDIS_STARTUP_TIMEOUT_MS`, `REDIS_FAIL_CLOSED` and the monitor's tuning variables.
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
        let env = Env(lookup);
        let mut warnings = Vec::new();
        let tls = env.bool_alias("REDIS_TLS_ENABLED", "REDIS_TLS")?;
        let port = env.port("REDIS_PORT")?;
        let host = env.alias("REDIS_HOST", "REDIS_ENDPOINT", &mut warnings);

        let cluster = env.get("REDIS_CLUSTER_URLS");
        let sentinels = env.get("REDIS_SENTINEL_URLS");
        let mut cfg = if let Some(seeds) = cluster {
            if sentinels.is_some() {
                return Err(ConfigError::invalid(
                    "REDIS_SENTINEL_URLS",
                    &sentinels.unwrap_or_default(),
                    "unset when REDIS_CLUSTER_URLS is set: a deployment is a cluster or uses sentinel, not both",
                ));
            }
            let mut nodes = parse_list("REDIS_CLUSTER_URLS", seeds.split(','), tls, DEFAULT_PORT)?;
            let username = env.get("REDIS_USERNAME");
            let password = env.alias("REDIS_AUTH_TOKEN", "REDIS_PASSWORD", &mut warnings);
            for node in &mut nodes {
                if node.db != 0 {
                    return Err(ConfigError::invalid(
                        "REDIS_CLUSTER_URLS",
                        &seeds,
                        "seed nodes without a database: Redis Cluster has only database 0",
                    ));
                }
                node.username = node.username.take().or_else(|| username.clone());
                if node.password.is_none() {
                    node.password = password.as_ref().map(|(_, p)| Secret(p.clone()));
                }
            }
            ignored(
                &env,
                &mut warnings,
                "REDIS_CLUSTER_URLS",
                &["REDIS_URL", "REDIS_HOST"],
            );
            RedisConfig::from_nodes(Topology::Cluster, nodes[0].clone(), nodes, Source::Cluster)?
        } else if let Some(list) = sentinels {
            let master = env.get("REDIS_SENTINEL_MASTER").ok_or_else(|| {
                ConfigError::invalid(
                    "REDIS_SENTINEL_MASTER",
                    "",
                    "the master's service name (as in `sentinel monitor <name> ...`), required with REDIS_SENTINEL_URLS",
                )
            })?;
            let nodes = parse_list(
                "REDIS_SENTINEL_URLS",
                list.split(','),
                tls,
                DEFAULT_SENTINEL_PORT,
            )?;
            let target = Target::node_auth(
                if tls.is_some_and(|(_, tls)| tls) {
                    Scheme::Rediss
                } else {
                    Scheme::Redis
                },
                env.get("REDIS_USERNAME"),
                env.alias("REDIS_AUTH_TOKEN", "REDIS_PASSWORD", &mut warnings)
                    .map(|(_, p)| Secret(p)),
                env.number("REDIS_DB", "a database number such as 0")?
                    .unwrap_or(0),
            );
            ignored(
                &env,
                &mut warnings,
                "REDIS_SENTINEL_URLS",
                &["REDIS_URL", "REDIS_HOST"],
            );
            RedisConfig::from_nodes(
                Topology::Sentinel { master },
                target,
                nodes,
                Source::Sentinel,
            )?
        } else if let Some(url) = env.get("REDIS_URL") {
            let mut target = parse_url("REDIS_URL", &url, tls, port.unwrap_or(DEFAULT_PORT))?;
            // Credentials often live in a secret store apart from the URL: fill the gaps.
            let password = env.alias("REDIS_AUTH_TOKEN", "REDIS_PASSWORD", &mut warnings);
            match (&target.password, password) {
                (None, Some((_, password))) => target.password = Some(Secret(password)),
                (Some(_), Some((name, _))) => warnings.push(format!(
                    "{name} is ignored because REDIS_URL carries a password"
                )),
                _ => {}
            }
            if target.username.is_none() {
                target.username = env.get("REDIS_USERNAME");
            }
            if host.is_some() {
                warnings.push("REDIS_HOST is ignored because REDIS_URL is set".to_owned());
            }
            if let Some((name, tls)) = tls {
                let url_tls = target.scheme == Scheme::Rediss;
                if tls != url_tls && url.contains("://") {
                    warnings.push(format!(
                        "{name}={tls} contradicts the REDIS_URL scheme {}://; the URL wins",
                        target.scheme.as_str()
                    ));
                }
            }
            RedisConfig::new(target, Source::Url)
        } else if let Some((host_var, host)) = host {
            let target = Target {
                scheme: if tls.is_some_and(|(_, tls)| tls) {
                    Scheme::Rediss
                } else {
                    Scheme::Redis
                },
                username: env.get("REDIS_USERNAME"),
                password: env
                    .alias("REDIS_AUTH_TOKEN", "REDIS_PASSWORD", &mut warnings)
                    .map(|(_, password)| Secret(password)),
                host: parse_host(host_var, &host)?,
                port: Some(port.unwrap_or(DEFAULT_PORT)),
                db: env
                    .number("REDIS_DB", "a database number such as 0")?
                    .unwrap_or(0),
                fragment: None,
            };
            RedisConfig::new(target, Source::Components)
        } else if let Some(default_url) = default_url {
            RedisConfig::new(
                parse_url("default URL", default_url, None, DEFAULT_PORT)?,
                Source::Default,
            )
        } else {
            return Err(ConfigError::Missing);
        };

        if let Some(ms) = env.millis("REDIS_CONNECT_TIMEOUT_MS")? {
            cfg.connect_timeout = ms;
        }
        if let Some(ms) = env.millis("REDIS_STARTUP_TIMEOUT_MS")? {
            cfg.startup_timeout = ms;
        }
        if let Some((_, fail_closed)) = env.bool("REDIS_FAIL_CLOSED")? {
            cfg.startup_policy = if fail_closed {
                StartupPolicy::FailClosed
            } else {
                StartupPolicy::Degraded
            };
        }
        if let Some(path) = env.get("REDIS_TLS_CA_FILE") {
            cfg.tls_ca = Some(read_ca_file(&path)?.into());
        }
        if let Some((_, on)) = env.bool("REDIS_WRITE_PROBE")? {
            cfg.write_probe = on;
        }
        if let Some(ms) = env.millis("REDIS_CHECK_INTERVAL_MS")? {
            cfg.check_interval = ms;
        }
        if let Some(ms) = env.millis("REDIS_STALL_TIMEOUT_MS")? {
            cfg.stall_timeout = Some(ms);
        }
        if let Some(size) = env.number("REDIS_POOL_SIZE", "a pool size of at least 1")? {
            if size == 0 {
                return Err(ConfigError::invalid(
                    "REDIS_POOL_SIZE",
                    "0",
                    "a pool size of at least 1",
                ));
            }
            cfg.pool_size = size as usize;
        }
        let initial = env.millis("REDIS_BACKOFF_INITIAL_MS")?;
        let max = env.millis("REDIS_BACKOFF_MAX_MS")?;
        if initial.is_some() || max.is_some() {
            let initial = initial.unwrap_or(cfg.backoff.initial());
            let max = max.unwrap_or(cfg.backoff.max()).max(initial);
            cfg.backoff = Backoff::new(initial, max);
        }
        cfg.warnings = warnings;
        Ok(cfg)
    }

    /// Verifies TLS servers against these PEM CA certificates instead of the system's roots
    /// (`REDIS_TLS_CA_FILE` reads them from a file). For `rediss://` only.
    pub fn tls_ca_pem(mut self, pem: &[u8]) -> Self {
        self.tls_ca = Some(pem.into());
        self
    }

    /// Names the dependency in the handle, logs and probes (default `"redis"`).
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.into();
        self
    }

    /// How long one connection attempt may take (default 2 s; `REDIS_CONNECT_TIMEOUT_MS`).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long [`RedisMonitor::start`](crate::RedisMonitor::start) waits for the first
    /// connection (default 8 s; `REDIS_STARTUP_TIMEOUT_MS`).
    pub fn startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = timeout;
        self
    }

    /// What to do when Redis is unreachable at startup (default [`StartupPolicy::Degraded`];
    /// `REDIS_FAIL_CLOSED=true` gives [`StartupPolicy::FailClosed`]).
    pub fn startup_policy(mut self, policy: StartupPolicy) -> Self {
        self.startup_policy = policy;
        self
    }

    /// Failed attempts before a monitor that never connected reports `Failed` and retries at the
    /// backoff cap (default 20).
    pub fn startup_attempts(mut self, attempts: u32) -> Self {
        self.startup_attempts = attempts.max(1);
        self
    }

    /// The pool's maximum number of connections (default 16; `REDIS_POOL_SIZE`). The monitor's
    /// probe connection is not one of them.
    pub fn pool_size(mut self, size: usize) -> Self {
        self.pool_size = size.max(1);
        self
    }

    /// How long application code waits for a free pool connection while Redis is available
    /// (default 1 s).
    pub fn pool_wait_timeout(mut self, timeout: Duration) -> Self {
        self.pool_wait_timeout = timeout;
        self
    }

    /// Time between health checks while connected (default 1 s; `REDIS_CHECK_INTERVAL_MS`).
    pub fn check_interval(mut self, interval: Duration) -> Self {
        self.check_interval = interval;
        self
    }

    /// How long a health-check `PING` may take before it counts as a timeout, and how long a
    /// command on a pooled connection may wait for its reply (default 500 ms).
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// Timeouts in a row that make a connected Redis unavailable (default 2). Refused or reset
    /// connections flip at once.
    pub fn fall(mut self, count: u32) -> Self {
        self.fall = count.max(1);
        self
    }

    /// Successful checks in a row that make Redis available again (default 1).
    pub fn rise(mut self, count: u32) -> Self {
        self.rise = count.max(1);
        self
    }

    /// Adds a write to every health check (default off; `REDIS_WRITE_PROBE`): after `PING`, the
    /// monitor sets the key `redis-gate:health:<name>` with a short expiry. It catches what a
    /// `PING` cannot: a node demoted to replica (`READONLY`), `maxmemory` with `noeviction`
    /// (`OOM`), and `CLIENT PAUSE WRITE` (the write times out). It costs one small write per
    /// check and needs write permission on that key.
    pub fn write_probe(mut self, on: bool) -> Self {
        self.write_probe = on;
        self
    }

    /// How long past its due time a health check may run before the monitor counts as
    /// stalled (`REDIS_STALL_TIMEOUT_MS`). A stalled monitor (a check that never returns, a
    /// starved task) cannot vouch for Redis, so the handle says [`Status::Failed`] with the last
    /// error `monitor stalled` until a check completes again. A timer watches the deadline; the
    /// request path still reads one atomic byte.
    ///
    /// The default leaves room for the slowest honest check: three check intervals, two connect
    /// timeouts and four response timeouts (9 s with the other defaults).
    ///
    /// [`Status::Failed`]: redis_gate_core::Status::Failed
    pub fn stall_timeout(mut self, timeout: Duration) -> Self {
        self.stall_timeout = Some(timeout);
        self
    }

    /// The reconnection backoff (default 100 ms doubling to 2 s, with jitter;
    /// `REDIS_BACKOFF_INITIAL_MS`, `REDIS_BACKOFF_MAX_MS`).
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// The dependency's name.
    pub fn dependency_name(&self) -> &Arc<str> {
        &self.name
    }

    /// How Redis is deployed.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// The sentinel addresses or cluster seeds as `host:port`; empty for a standalone server.
    pub fn nodes(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|n| format!("{}:{}", n.host, n.port.unwrap_or(DEFAULT_PORT)))
            .collect()
    }

    /// The scheme: `redis`, `rediss`, `unix` or `redis+unix`.
    pub fn scheme(&self) -> &'static str {
        self.target.scheme.as_str()
    }

    /// The host (IPv6 in brackets), the socket path for Unix sockets, or the first sentinel's
    /// or seed's host.
    pub fn host(&self) -> &str {
        match self.topology {
            Topology::Sentinel { .. } => &self.nodes[0].host,
            _ => &self.target.host,
        }
    }

    /// The TCP port (of the first sentinel or seed); `None` for Unix sockets.
    pub fn port(&self) -> Option<u16> {
        match self.topology {
            Topology::Sentinel { .. } => self.nodes[0].port,
            _ => self.target.port,
        }
    }

    /// The database number.
    pub fn db(&self) -> u32 {
        self.target.db
    }

    /// True for `rediss://`.
    pub fn is_tls(&self) -> bool {
        self.target.scheme == Scheme::Rediss
    }

    /// The username, if any (usernames are not secret).
    pub fn username(&self) -> Option<&str> {
        self.target.username.as_deref()
    }

    /// True if a password is configured.
    pub fn has_password(&self) -> bool {
        self.target.password.is_some()
    }

    /// Where the settings came from.
    pub fn source(&self) -> Source {
        self.source
    }

    /// Things that look wrong but do not stop the configuration from working.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The URL with the password masked: safe for logs.
    pub fn redacted_url(&self) -> String {
        self.to_string()
    }

    /// The timeouts in force.
    pub fn timeouts(&self) -> Timeouts {
        Timeouts {
            connect: self.connect_timeout,
            startup: self.startup_timeout,
            response: self.response_timeout,
            pool_wait: self.pool_wait_timeout,
            check_interval: self.check_interval,
            stall: self.stall_after(),
        }
    }

    /// The stall timeout in force: set, or derived from the interval and the timeouts.
    pub(crate) fn stall_after(&self) -> Duration {
        self.stall_timeout.unwrap_or(
            self.check_interval * 3 + self.connect_timeout * 2 + self.response_timeout * 4,
        )
    }

    /// The startup policy in force.
    pub fn policy(&self) -> StartupPolicy {
        self.startup_policy
    }

    /// The key the write probe sets, when it is on.
    pub(crate) fn write_probe_key(&self) -> Option<String> {
        self.write_probe
            .then(|| format!("redis-gate:health:{}", self.name))
    }

    /// The PEM CA certificates to verify TLS servers with, if set.
    pub(crate) fn tls_ca(&self) -> Option<&[u8]> {
        self.tls_ca.as_deref()
    }

    /// The node URLs with real passwords (sentinels or cluster seeds), for the client only.
    pub(crate) fn node_urls(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|node| {
                let mut url = String::new();
                let _ = node.write_url(&mut url, true);
                url
            })
            .collect()
    }

    /// The sentinels' addresses.
    pub(crate) fn sentinel_addrs(&self) -> Vec<deadpool_redis::redis::ConnectionAddr> {
        use deadpool_redis::redis::ConnectionAddr;
        self.nodes
            .iter()
            .map(|node| {
                let host = node
                    .host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_owned();
                let port = node.port.unwrap_or(DEFAULT_SENTINEL_PORT);
                if node.scheme == Scheme::Rediss {
                    ConnectionAddr::TcpTls {
                        host,
                        port,
                        insecure: node.fragment.is_some(),
                        tls_params: None,
                    }
                } else {
                    ConnectionAddr::Tcp(host, port)
                }
            })
            .collect()
    }

    /// The sentinels' own credentials (from the first sentinel URL that has a password).
    pub(crate) fn sentinel_auth(&self) -> Option<(Option<&str>, &str)> {
        self.nodes.iter().find_map(|node| {
            let password = node.password.as_ref()?;
            Some((node.username.as_deref(), password.0.as_str()))
        })
    }

    /// Username, password and database of the data nodes behind sentinel.
    pub(crate) fn node_auth(&self) -> (Option<&str>, Option<&str>, u32) {
        (
            self.target.username.as_deref(),
            self.target.password.as_ref().map(|p| p.0.as_str()),
            self.target.db,
        )
    }

    /// The URL with the real password, for the Redis client only. Never log it.
    pub(crate) fn connection_url(&self) -> String {
        let mut url = String::new();
        let _ = self.target.write_url(&mut url, true);
        url
    }
}

impl fmt::Display for RedisConfig {
    /// Standalone: the URL. Sentinel: `redis+sentinel://[user:***@]s1:26379,s2:26379/<master>/<db>`.
    /// Cluster: `redis+cluster://[user:***@]n1:7000,n2:7001`. Passwords always masked.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match &self.topology {
            Topology::Standalone => return self.target.write_url(f, false),
            Topology::Sentinel { .. } => "redis+sentinel",
            Topology::Cluster => "redis+cluster",
        };
        write!(f, "{scheme}{}://", if self.is_tls() { "s" } else { "" })?;
        match (&self.target.username, &self.target.password) {
            (Some(user), Some(_)) => write!(f, "{}:***@", utf8_percent_encode(user, USERINFO))?,
            (Some(user), None) => write!(f, "{}@", utf8_percent_encode(user, USERINFO))?,
            (None, Some(_)) => f.write_str(":***@")?,
            (None, None) => {}
        }
        f.write_str(&self.nodes().join(","))?;
        if let Topology::Sentinel { master } = &self.topology {
            write!(f, "/{master}/{}", self.target.db)?;
        }
        Ok(())
    }
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &format_args!("{self}"))
            .field("topology", &self.topology)
            .field("tls_ca", &self.tls_ca.is_some())
            .field("source", &self.source)
            .field("warnings", &self.warnings)
            .field("name", &self.name)
            .field("connect_timeout", &self.connect_timeout)
            .field("startup_timeout", &self.startup_timeout)
            .field("startup_policy", &self.startup_policy)
            .field("startup_attempts", &self.startup_attempts)
            .field("pool_size", &self.pool_size)
            .field("pool_wait_timeout", &self.pool_wait_timeout)
            .field("check_interval", &self.check_interval)
            .field("response_timeout", &self.response_timeout)
            .field("fall", &self.fall)
            .field("rise", &self.rise)
            .field("backoff", &self.backoff)
            .field("write_probe", &self.write_probe)
            .field("stall_timeout", &self.stall_after())
            .finish()
    }
}

/// Environment access with the rules every variable follows: empty means unset, values are
/// trimmed, and errors name the variable.
struct Env<F>(F);

impl<F: Fn(&str) -> Option<String>> Env<F> {
    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    fn alias(
        &self,
        name: &'static str,
        alias: &'static str,
        warnings: &mut Vec<String>,
    ) -> Option<(&'static str, String)> {
        match (self.get(name), self.get(alias)) {
            (Some(value), Some(other)) => {
                if value != other {
                    warnings.push(format!("{alias} is ignored because {name} is set"));
                }
                Some((name, value))
            }
            (Some(value), None) => Some((name, value)),
            (None, Some(value)) => Some((alias, value)),
            (None, None) => None,
        }
    }

    fn bool(&self, name: &'static str) -> Result<Option<(&'static str, bool)>, ConfigError> {
        let Some(value) = self.get(name) else {
            return Ok(None);
        };
        match value.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(Some((name, true))),
            "0" | "false" | "no" | "off" => Ok(Some((name, false))),
            _ => Err(ConfigError::invalid(
                name,
                &value,
                "one of 1/true/yes/on or 0/false/no/off",
            )),
        }
    }

    fn bool_alias(
        &self,
        name: &'static str,
        alias: &'static str,
    ) -> Result<Option<(&'static str, bool)>, ConfigError> {
        Ok(self.bool(name)?.or(self.bool(alias)?))
    }

    fn number(
        &self,
        name: &'static str,
        expected: &'static str,
    ) -> Result<Option<u32>, ConfigError> {
        self.get(name)
            .map(|value| {
                value
                    .parse::<u32>()
                    .map_err(|_| ConfigError::invalid(name, &value, expected))
            })
            .transpose()
    }

    fn port(&self, name: &'static str) -> Result<Option<u16>, ConfigError> {
        self.get(name)
            .map(|value| match value.parse::<u16>() {
                Ok(port) if port > 0 => Ok(port),
                _ => Err(ConfigError::invalid(
                    name,
                    &value,
                    "a port number from 1 to 65535",
                )),
            })
            .transpose()
    }

    fn millis(&self, name: &'static str) -> Result<Option<Duration>, ConfigError> {
        self.get(name)
            .map(|value| match value.parse::<u64>() {
                Ok(ms) if ms > 0 => Ok(Duration::from_millis(ms)),
                _ => Err(ConfigError::invalid(
                    name,
                    &value,
                    "a whole number of milliseconds greater than 0",
                )),
            })
            .transpose()
    }
}

/// Parses a URL with a scheme, or a scheme-less `[user:pass@]host[:port][/db]` that gets
/// `rediss://` when TLS is on, else `redis://`, and `default_port` when it names none.
fn parse_url(
    variable: &'static str,
    raw: &str,
    tls: Option<(&'static str, bool)>,
    default_port: u16,
) -> Result<Target, ConfigError> {
    let raw = raw.trim();
    let invalid = |expected: &'static str| ConfigError::invalid(variable, raw, expected);
    let (scheme, rest) = match raw.find("://") {
        Some(at) => {
            let scheme = Scheme::parse(&raw[..at]).ok_or_else(|| {
                invalid("the scheme must be redis://, rediss://, unix:// or redis+unix://")
            })?;
            (scheme, &raw[at + 3..])
        }
        None if tls.is_some_and(|(_, tls)| tls) => (Scheme::Rediss, raw),
        None => (Scheme::Redis, raw),
    };
    // A bare IPv6 address needs brackets to become a URL host.
    let bracketed;
    let rest = if rest.parse::<Ipv6Addr>().is_ok() {
        bracketed = format!("[{rest}]");
        bracketed.as_str()
    } else {
        rest
    };
    let url = Url::parse(&format!("{}://{rest}", scheme.as_str())).map_err(|err| match err {
        url::ParseError::InvalidPort => invalid("the port must be a number from 1 to 65535"),
        url::ParseError::EmptyHost => invalid("the host is empty"),
        url::ParseError::InvalidIpv6Address => invalid("the IPv6 address in brackets is malformed"),
        _ => invalid("a URL such as redis://user:password@host:6379/0"),
    })?;

    let decode = |part: &str| percent_decode_str(part).decode_utf8_lossy().into_owned();
    let mut username = Some(decode(url.username())).filter(|u| !u.is_empty());
    let mut password = url.password().map(|p| Secret(decode(p)));
    // Only `#insecure` (TLS without certificate checks) means anything to the client. Anything
    // else is most likely the tail of a password with an unencoded `#`.
    let fragment = match url.fragment() {
        None => None,
        Some("insecure") => Some("insecure".to_owned()),
        Some(_) => {
            return Err(invalid(
                "no URL fragment other than #insecure (percent-encode # in passwords as %23)",
            ));
        }
    };

    if scheme.is_unix() {
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
                "user" => username = Some(value.into_owned()),
                "pass" | "password" => password = Some(Secret(value.into_owned())),
                _ => {
                    return Err(invalid(
                        "unix socket query parameters are db, user and pass",
                    ));
                }
            }
        }
        return Ok(Target {
            scheme,
            username,
            password,
            host: path.to_owned(),
            port: None,
            db,
            fragment,
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
    Ok(Target {
        scheme,
        username,
        password,
        host: host.to_ascii_lowercase(),
        port: Some(url.port().unwrap_or(default_port)),
        db,
        fragment,
    })
}

/// Reads a CA bundle: a regular file of at most 1 MiB (never a device or a pipe that could hang
/// or exhaust memory).
fn read_ca_file(path: &str) -> Result<Vec<u8>, ConfigError> {
    const MAX_BYTES: u64 = 1 << 20;
    let invalid = |why: String| {
        ConfigError::invalid(
            "REDIS_TLS_CA_FILE",
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

/// Parses a comma-separated list of node addresses (each a URL or scheme-less).
fn parse_list<'a>(
    variable: &'static str,
    entries: impl Iterator<Item = &'a str>,
    tls: Option<(&'static str, bool)>,
    default_port: u16,
) -> Result<Vec<Target>, ConfigError> {
    let nodes: Vec<Target> = entries
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| parse_url(variable, entry, tls, default_port))
        .collect::<Result<_, _>>()?;
    if nodes.is_empty() {
        return Err(ConfigError::invalid(
            variable,
            "",
            "one or more comma-separated addresses such as host1:port,host2:port",
        ));
    }
    if nodes.iter().any(|n| n.scheme.is_unix()) {
        return Err(ConfigError::invalid(
            variable,
            "unix://",
            "TCP addresses: sentinel and cluster nodes are not reached through Unix sockets",
        ));
    }
    Ok(nodes)
}

/// Warns about variables that a topology variable overrides.
fn ignored<F: Fn(&str) -> Option<String>>(
    env: &Env<F>,
    warnings: &mut Vec<String>,
    winner: &str,
    losers: &[&str],
) {
    for loser in losers {
        if env.get(loser).is_some() {
            warnings.push(format!("{loser} is ignored because {winner} is set"));
        }
    }
}

fn parse_host(variable: &'static str, raw: &str) -> Result<String, ConfigError> {
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
    Ok(raw.to_owned())
}

/// Masks the password in a URL-like value for error messages. Anything before the last `@` is
/// userinfo; only the part before its first `:` (the username) survives. Deliberately generous:
/// a value that cannot be parsed is exactly the one whose password position is uncertain.
fn mask_userinfo(value: &str) -> String {
    // Only a real scheme ends at `://`; one after the `@` or inside the password must not hide
    // the userinfo before it.
    let is_scheme = |s: &str| {
        s.starts_with(|c: char| c.is_ascii_alphabetic())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
    };
    let (prefix, rest) = match value.find("://") {
        Some(at) if is_scheme(&value[..at]) => value.split_at(at + 3),
        _ => ("", value),
    };
    let mut masked = match rest.rfind('@') {
        Some(at) => {
            let userinfo = &rest[..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{prefix}{user}:***{}", &rest[at..]),
                None => format!("{prefix}***{}", &rest[at..]),
            }
        }
        None => value.to_owned(),
    };
    // Unix socket URLs carry the password as a query parameter.
    for key in ["pass=", "password="] {
        let mut from = 0;
        while let Some(found) = masked[from..].find(key) {
            let start = from + found + key.len();
            let end = masked[start..]
                .find(['&', '#'])
                .map_or(masked.len(), |i| start + i);
            masked.replace_range(start..end, "***");
            from = start + 3;
        }
    }
    masked
}

#[cfg(test)]
mod tests;
