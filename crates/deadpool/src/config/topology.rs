//! Where Redis is: the deployment shape, each variant with exactly the data it needs.

use std::fmt::{self, Write};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use redis_gate_core::redact;

/// Characters percent-encoded in a URL's username and password: all but RFC 3986's unreserved.
const USERINFO: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

pub(crate) const DEFAULT_PORT: u16 = 6379;
pub(crate) const DEFAULT_SENTINEL_PORT: u16 = 26379;

/// How Redis is deployed, which decides how the monitor checks it and which pool it builds.
///
/// Each variant carries its own nodes and credentials, so there is no "host" that means one
/// thing for a server and another for sentinels.
#[derive(Clone, PartialEq, Eq)]
pub enum Topology {
    /// One server (`REDIS_URL` or `REDIS_HOST`).
    Standalone(Node),
    /// A master found through Redis Sentinel (`REDIS_SENTINEL_URLS`, `REDIS_SENTINEL_MASTER`).
    /// Available means: the master the sentinels name answers `PING` and its `ROLE` is master.
    Sentinel {
        /// The sentinels, with their own credentials if they need any.
        sentinels: Vec<Node>,
        /// The monitored master's service name.
        master: String,
        /// How to log in to the master (and replicas) the sentinels name.
        data_nodes: DataNodes,
    },
    /// Redis Cluster from seed nodes (`REDIS_CLUSTER_URLS`). Available means: a node answers and
    /// `CLUSTER INFO` says `cluster_state:ok`.
    Cluster(Vec<Node>),
}

/// One address to connect to, with its credentials and database.
#[derive(Clone, PartialEq, Eq)]
pub struct Node {
    pub(crate) address: Address,
    pub(crate) credentials: Credentials,
    pub(crate) db: u32,
}

/// How to log in to the data nodes whose addresses come from Sentinel.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct DataNodes {
    pub(crate) credentials: Credentials,
    pub(crate) db: u32,
    pub(crate) tls: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Address {
    Tcp {
        /// Lower case; IPv6 in brackets.
        host: String,
        port: u16,
        tls: Option<Tls>,
    },
    Unix {
        path: String,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Tls {
    /// `#insecure`: no certificate checks (tests only).
    pub(crate) insecure: bool,
}

#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct Credentials {
    pub(crate) username: Option<String>,
    pub(crate) password: Option<Secret>,
}

/// A password: never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(pub(crate) String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl Topology {
    /// `"standalone"`, `"sentinel"` or `"cluster"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Topology::Standalone(_) => "standalone",
            Topology::Sentinel { .. } => "sentinel",
            Topology::Cluster(_) => "cluster",
        }
    }

    /// The server, the sentinels, or the cluster seeds.
    pub fn nodes(&self) -> &[Node] {
        match self {
            Topology::Standalone(node) => std::slice::from_ref(node),
            Topology::Sentinel { sentinels, .. } => sentinels,
            Topology::Cluster(seeds) => seeds,
        }
    }

    /// The database the application uses (always 0 in a cluster).
    pub fn db(&self) -> u32 {
        match self {
            Topology::Standalone(node) => node.db,
            Topology::Sentinel { data_nodes, .. } => data_nodes.db,
            Topology::Cluster(_) => 0,
        }
    }

    /// True when the application's connections use TLS.
    pub fn is_tls(&self) -> bool {
        match self {
            Topology::Standalone(node) => node.is_tls(),
            Topology::Sentinel { data_nodes, .. } => data_nodes.tls,
            Topology::Cluster(seeds) => seeds.iter().any(Node::is_tls),
        }
    }

    /// The credentials the configuration shows: the server's, the data nodes' (not the
    /// sentinels' own), or the first cluster seed's.
    pub(crate) fn credentials(&self) -> &Credentials {
        match self {
            Topology::Standalone(node) => &node.credentials,
            Topology::Sentinel { data_nodes, .. } => &data_nodes.credentials,
            Topology::Cluster(seeds) => &seeds[0].credentials,
        }
    }

    /// The configuration as one URL with every secret in it, for [`redact`] to mask: the one
    /// way `Display` and `Debug` show a configuration.
    fn write_revealed(&self, f: &mut String) -> fmt::Result {
        let (scheme, nodes) = match self {
            Topology::Standalone(node) => return node.write_url(f, Some(&node.credentials), true),
            Topology::Sentinel { sentinels, .. } => ("redis+sentinel", sentinels),
            Topology::Cluster(seeds) => ("redis+cluster", seeds),
        };
        write!(f, "{scheme}{}://", if self.is_tls() { "s" } else { "" })?;
        self.credentials().write_userinfo(f)?;
        for (i, node) in nodes.iter().enumerate() {
            let separator = if i == 0 { "" } else { "," };
            write!(f, "{separator}{}", node.address())?;
        }
        if let Topology::Sentinel {
            master, data_nodes, ..
        } = self
        {
            write!(f, "/{master}/{}", data_nodes.db)?;
        }
        Ok(())
    }

    /// What `Display` shows: the URL with its secrets masked.
    pub(crate) fn redacted(&self) -> String {
        let mut revealed = String::new();
        let _ = self.write_revealed(&mut revealed);
        redact(&revealed)
    }
}

impl Node {
    /// `redis`, `rediss` or `unix`.
    pub fn scheme(&self) -> &'static str {
        match &self.address {
            Address::Tcp { tls: None, .. } => "redis",
            Address::Tcp { tls: Some(_), .. } => "rediss",
            Address::Unix { .. } => "unix",
        }
    }

    /// The host name or IP address (IPv6 in brackets), or the socket path of a Unix socket.
    pub fn host(&self) -> &str {
        match &self.address {
            Address::Tcp { host, .. } => host,
            Address::Unix { path } => path,
        }
    }

    /// The TCP port; `None` for a Unix socket.
    pub fn port(&self) -> Option<u16> {
        match &self.address {
            Address::Tcp { port, .. } => Some(*port),
            Address::Unix { .. } => None,
        }
    }

    /// True for `rediss://`.
    pub fn is_tls(&self) -> bool {
        matches!(self.address, Address::Tcp { tls: Some(_), .. })
    }

    /// True for `rediss://…#insecure`: TLS without certificate checks.
    pub(crate) fn is_insecure(&self) -> bool {
        matches!(
            self.address,
            Address::Tcp {
                tls: Some(Tls { insecure: true }),
                ..
            }
        )
    }

    /// `host:port`, or the socket path.
    pub fn address(&self) -> String {
        match &self.address {
            Address::Tcp { host, port, .. } => format!("{host}:{port}"),
            Address::Unix { path } => path.clone(),
        }
    }

    /// The URL with the real password, for the Redis client only. Never log it.
    pub(crate) fn revealed_url(&self) -> String {
        let mut url = String::new();
        let _ = self.write_url(&mut url, Some(&self.credentials), true);
        url
    }

    /// The URL without credentials, as a configuration file holds it (secrets go apart), and
    /// with the database only when `with_db` (a server's URL; not a sentinel's or a seed's).
    #[cfg(feature = "serde")]
    pub(crate) fn public_url(&self, with_db: bool) -> String {
        let mut url = String::new();
        let _ = self.write_url(&mut url, None, with_db);
        url
    }

    fn write_url(
        &self,
        f: &mut String,
        credentials: Option<&Credentials>,
        with_db: bool,
    ) -> fmt::Result {
        write!(f, "{}://", self.scheme())?;
        match &self.address {
            Address::Unix { path } => {
                f.write_str(path)?;
                let mut separator = '?';
                let mut parameter = |f: &mut String, key: &str, value: &dyn fmt::Display| {
                    let result = write!(f, "{separator}{key}={value}");
                    separator = '&';
                    result
                };
                if with_db {
                    parameter(f, "db", &self.db)?;
                }
                let (user, password) = credentials
                    .map(|c| (c.username.as_deref(), c.password.as_ref()))
                    .unwrap_or_default();
                if let Some(user) = user {
                    parameter(f, "user", &utf8_percent_encode(user, USERINFO))?;
                }
                if let Some(Secret(password)) = password {
                    parameter(f, "pass", &utf8_percent_encode(password, USERINFO))?;
                }
            }
            Address::Tcp { host, port, tls } => {
                if let Some(credentials) = credentials {
                    credentials.write_userinfo(f)?;
                }
                write!(f, "{host}:{port}")?;
                if with_db {
                    write!(f, "/{}", self.db)?;
                }
                if tls.is_some_and(|tls| tls.insecure) {
                    f.write_str("#insecure")?;
                }
            }
        }
        Ok(())
    }
}

impl Credentials {
    /// Fills what a node's own URL leaves out: the user name and the password given apart
    /// (`REDIS_USERNAME` and `REDIS_AUTH_TOKEN`, or a file's `username` and `password`).
    pub(crate) fn fill_gaps(&mut self, username: Option<&str>, password: Option<&str>) {
        if self.username.is_none() {
            self.username = username.map(str::to_owned);
        }
        if self.password.is_none() {
            self.password = password.map(|password| Secret(password.to_owned()));
        }
    }

    fn write_userinfo(&self, f: &mut String) -> fmt::Result {
        let user = self
            .username
            .as_deref()
            .map(|u| utf8_percent_encode(u, USERINFO));
        let password = self
            .password
            .as_ref()
            .map(|Secret(p)| utf8_percent_encode(p, USERINFO));
        match (user, password) {
            (Some(user), Some(password)) => write!(f, "{user}:{password}@"),
            (Some(user), None) => write!(f, "{user}@"),
            (None, Some(password)) => write!(f, ":{password}@"),
            (None, None) => Ok(()),
        }
    }

    /// `user:***`, `***` or nothing, as [`redact`] shows a userinfo.
    fn redacted(&self) -> String {
        let mut userinfo = String::new();
        let _ = self.write_userinfo(&mut userinfo);
        redact(&userinfo).trim_end_matches('@').to_owned()
    }
}

impl fmt::Display for Topology {
    /// Standalone: the URL. Sentinel: `redis+sentinel://[user:***@]s1:26379,s2:26379/<master>/<db>`.
    /// Cluster: `redis+cluster://[user:***@]n1:7000,n2:7001`. Secrets always masked.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for Topology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Topology::Standalone(node) => f.debug_tuple("Standalone").field(node).finish(),
            Topology::Sentinel {
                sentinels,
                master,
                data_nodes,
            } => f
                .debug_struct("Sentinel")
                .field("sentinels", sentinels)
                .field("master", master)
                .field("data_nodes", data_nodes)
                .finish(),
            Topology::Cluster(seeds) => f.debug_tuple("Cluster").field(seeds).finish(),
        }
    }
}

impl fmt::Display for Node {
    /// The node's URL, secrets masked.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(&self.revealed_url()))
    }
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Node")
            .field(&format_args!("{self}"))
            .finish()
    }
}

impl fmt::Debug for DataNodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataNodes")
            .field("credentials", &self.credentials.redacted())
            .field("db", &self.db)
            .field("tls", &self.tls)
            .finish()
    }
}
