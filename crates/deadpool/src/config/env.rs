//! The `REDIS_*` environment: every variable read once, in one place, with its alias, its rules
//! and its warnings, then turned into a [`RedisConfig`].

use std::time::Duration;

use redis_gate_core::{Backoff, StartupPolicy};

use super::parse::{
    POOL_SIZE, Parsed, parse_host, parse_list, parse_node, parse_seeds, pool_size, read_ca_file,
};
use super::topology::{Address, Credentials, DataNodes, Node, Topology};
use super::topology::{DEFAULT_PORT, DEFAULT_SENTINEL_PORT};
use super::{ConfigError, RedisConfig, Source, bare_userinfo_warning};

/// Every variable, read: `None` when unset or empty, values trimmed, bad values already errors.
struct Vars {
    url: Option<String>,
    host: Option<(&'static str, String)>,
    port: Option<u16>,
    username: Option<String>,
    password: Option<(&'static str, String)>,
    db: Option<u32>,
    tls: Option<(&'static str, bool)>,
    sentinel_urls: Option<String>,
    sentinel_master: Option<String>,
    cluster_urls: Option<String>,
    tls_ca_file: Option<String>,
    connect_timeout: Option<Duration>,
    startup_timeout: Option<Duration>,
    fail_closed: Option<bool>,
    check_interval: Option<Duration>,
    stall_timeout: Option<Duration>,
    pool_size: Option<usize>,
    backoff_initial: Option<Duration>,
    backoff_max: Option<Duration>,
    write_check: Option<bool>,
}

/// Environment access with the rules every variable follows: empty means unset, values are
/// trimmed, and errors name the variable.
struct Env<'a, F> {
    lookup: &'a F,
    warnings: Vec<String>,
}

impl<F: Fn(&str) -> Option<String>> Env<'_, F> {
    fn read(&mut self) -> Result<Vars, ConfigError> {
        Ok(Vars {
            url: self.get("REDIS_URL"),
            host: self.alias("REDIS_HOST", "REDIS_ENDPOINT"),
            port: self.port("REDIS_PORT")?,
            username: self.get("REDIS_USERNAME"),
            password: self.alias("REDIS_AUTH_TOKEN", "REDIS_PASSWORD"),
            db: self.number("REDIS_DB", "a database number such as 0")?,
            tls: self.bool_alias("REDIS_TLS_ENABLED", "REDIS_TLS")?,
            sentinel_urls: self.get("REDIS_SENTINEL_URLS"),
            sentinel_master: self.get("REDIS_SENTINEL_MASTER"),
            cluster_urls: self.get("REDIS_CLUSTER_URLS"),
            tls_ca_file: self.get("REDIS_TLS_CA_FILE"),
            connect_timeout: self.millis("REDIS_CONNECT_TIMEOUT_MS")?,
            startup_timeout: self.millis("REDIS_STARTUP_TIMEOUT_MS")?,
            fail_closed: self.bool("REDIS_FAIL_CLOSED")?.map(|(_, on)| on),
            check_interval: self.millis("REDIS_CHECK_INTERVAL_MS")?,
            stall_timeout: self.millis("REDIS_STALL_TIMEOUT_MS")?,
            pool_size: self.pool_size("REDIS_POOL_SIZE")?,
            backoff_initial: self.millis("REDIS_BACKOFF_INITIAL_MS")?,
            backoff_max: self.millis("REDIS_BACKOFF_MAX_MS")?,
            write_check: self.bool("REDIS_WRITE_CHECK")?.map(|(_, on)| on),
        })
    }

    fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    fn alias(&mut self, name: &'static str, alias: &'static str) -> Option<(&'static str, String)> {
        match (self.get(name), self.get(alias)) {
            (Some(value), Some(other)) => {
                if value != other {
                    self.warnings
                        .push(format!("{alias} is ignored because {name} is set"));
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

    fn pool_size(&self, name: &'static str) -> Result<Option<usize>, ConfigError> {
        self.number(name, POOL_SIZE)?
            .map(|size| pool_size(name, size as usize))
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

/// `from_lookup`: the topology from the first variable that names one, then the tuning.
pub(super) fn resolve(
    lookup: &impl Fn(&str) -> Option<String>,
    default_url: Option<&str>,
) -> Result<RedisConfig, ConfigError> {
    let mut env = Env {
        lookup,
        warnings: Vec::new(),
    };
    let vars = env.read()?;
    let mut warnings = env.warnings;
    let tls = vars.tls.is_some_and(|(_, tls)| tls);

    let ignored = |winner: &str, warnings: &mut Vec<String>| {
        for (loser, set) in [
            ("REDIS_URL", vars.url.is_some()),
            ("REDIS_HOST", vars.host.is_some()),
        ] {
            if set {
                warnings.push(format!("{loser} is ignored because {winner} is set"));
            }
        }
    };
    let (topology, source) = if let Some(seeds) = &vars.cluster_urls {
        if let Some(sentinels) = &vars.sentinel_urls {
            return Err(ConfigError::invalid(
                "REDIS_SENTINEL_URLS",
                sentinels,
                "unset when REDIS_CLUSTER_URLS is set: a deployment is a cluster or uses \
                 sentinel, not both",
            ));
        }
        let mut nodes = parse_seeds("REDIS_CLUSTER_URLS", seeds.split(','), tls)?;
        for node in &mut nodes {
            fill_credentials(&mut node.credentials, &vars);
        }
        ignored("REDIS_CLUSTER_URLS", &mut warnings);
        (Topology::Cluster(nodes), Source::Cluster)
    } else if let Some(list) = &vars.sentinel_urls {
        let master = vars.sentinel_master.clone().ok_or_else(|| {
            ConfigError::invalid(
                "REDIS_SENTINEL_MASTER",
                "",
                "the master's service name (as in `sentinel monitor <name> ...`), required with \
                 REDIS_SENTINEL_URLS",
            )
        })?;
        let sentinels = parse_list(
            "REDIS_SENTINEL_URLS",
            list.split(','),
            tls,
            DEFAULT_SENTINEL_PORT,
        )?;
        let mut credentials = Credentials::default();
        fill_credentials(&mut credentials, &vars);
        ignored("REDIS_SENTINEL_URLS", &mut warnings);
        let data_nodes = DataNodes {
            credentials,
            db: vars.db.unwrap_or(0),
            tls,
        };
        let topology = Topology::Sentinel {
            sentinels,
            master,
            data_nodes,
        };
        (topology, Source::Sentinel)
    } else if let Some(url) = &vars.url {
        let port = vars.port.unwrap_or(DEFAULT_PORT);
        let Parsed {
            mut node,
            bare_userinfo,
        } = parse_node("REDIS_URL", url, tls, port)?;
        if bare_userinfo {
            warnings.push(bare_userinfo_warning("REDIS_URL"));
        }
        // Credentials often live in a secret store apart from the URL: fill the gaps.
        if let (Some(_), Some((name, _))) = (&node.credentials.password, &vars.password) {
            warnings.push(format!(
                "{name} is ignored because REDIS_URL carries a password"
            ));
        }
        fill_credentials(&mut node.credentials, &vars);
        if vars.host.is_some() {
            warnings.push("REDIS_HOST is ignored because REDIS_URL is set".to_owned());
        }
        if let Some((name, tls)) = vars.tls
            && tls != node.is_tls()
            && url.contains("://")
        {
            warnings.push(format!(
                "{name}={tls} contradicts the REDIS_URL scheme {}://; the URL wins",
                node.scheme()
            ));
        }
        (Topology::Standalone(node), Source::Url)
    } else if let Some((host_var, host)) = &vars.host {
        let mut credentials = Credentials::default();
        fill_credentials(&mut credentials, &vars);
        let node = Node {
            address: Address::Tcp {
                host: parse_host(host_var, host)?,
                port: vars.port.unwrap_or(DEFAULT_PORT),
                tls: tls.then_some(super::topology::Tls { insecure: false }),
            },
            credentials,
            db: vars.db.unwrap_or(0),
        };
        (Topology::Standalone(node), Source::Components)
    } else if let Some(default_url) = default_url {
        let parsed = parse_node("default URL", default_url, false, DEFAULT_PORT)?;
        (Topology::Standalone(parsed.node), Source::Default)
    } else {
        return Err(ConfigError::Missing);
    };

    let mut cfg = RedisConfig::new(topology, source, warnings);
    if let Some(path) = &vars.tls_ca_file {
        cfg.tls_ca = Some(read_ca_file("REDIS_TLS_CA_FILE", path)?.into());
    }
    apply_tuning(&mut cfg, &vars);
    Ok(cfg)
}

/// `REDIS_USERNAME` and `REDIS_AUTH_TOKEN` fill what a node's own URL leaves out.
fn fill_credentials(credentials: &mut Credentials, vars: &Vars) {
    let password = vars
        .password
        .as_ref()
        .map(|(_, password)| password.as_str());
    credentials.fill_gaps(vars.username.as_deref(), password);
}

fn apply_tuning(cfg: &mut RedisConfig, vars: &Vars) {
    if let Some(timeout) = vars.connect_timeout {
        cfg.timeouts.connect = timeout;
    }
    if let Some(timeout) = vars.startup_timeout {
        cfg.monitor.startup_timeout = timeout;
    }
    if let Some(fail_closed) = vars.fail_closed {
        cfg.monitor.startup = if fail_closed {
            StartupPolicy::FailClosed
        } else {
            StartupPolicy::Degraded
        };
    }
    if let Some(interval) = vars.check_interval {
        cfg.monitor.check_interval = interval;
    }
    if let Some(timeout) = vars.stall_timeout {
        cfg.monitor.stall_timeout = Some(timeout);
    }
    if let Some(size) = vars.pool_size {
        cfg.pool_size = size;
    }
    if vars.backoff_initial.is_some() || vars.backoff_max.is_some() {
        let backoff = cfg.monitor.backoff;
        let initial = vars.backoff_initial.unwrap_or(backoff.initial());
        let max = vars.backoff_max.unwrap_or(backoff.max()).max(initial);
        cfg.monitor.backoff = Backoff::new(initial, max);
    }
    if let Some(on) = vars.write_check {
        cfg.write_check = on;
    }
}
