//! The one module that knows how each topology connects: from a [`RedisConfig`] it builds the
//! monitor's own connection target and the application's pool, with the same addresses,
//! credentials, TLS roots and timeouts. Adding a topology touches `config/` and this module.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use deadpool_redis::Runtime;
use deadpool_redis::redis::aio::{ConnectionLike, MultiplexedConnection};
use deadpool_redis::redis::cluster::{ClusterClient, ClusterClientBuilder};
use deadpool_redis::redis::cluster_async::ClusterConnection;
use deadpool_redis::redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use deadpool_redis::redis::{
    self, AsyncConnectionConfig, Client, Cmd, ConnectionAddr, IntoConnectionInfo, Pipeline,
    ProtocolVersion, PushInfo, PushKind, RedisError, RedisFuture, RedisResult, TlsCertificates,
    TlsMode, Value,
};
use tokio::sync::{Mutex, Notify};

use crate::config::{Credentials, DataNodes, Node, Secret, Topology};
use crate::{RedisConfig, RedisPool};

/// Why the settings could not be turned into clients and a pool. No connection was tried.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The Redis client refused the settings.
    #[error("the Redis client refused the settings: {0}")]
    Client(#[source] RedisError),
    /// The pool could not be built.
    #[error("the connection pool could not be built: {0}")]
    Pool(#[source] managed::BuildError),
}

/// Builds both: the monitor's check target and the application's pool.
pub(crate) fn connect(config: &RedisConfig) -> Result<(CheckTarget, RedisPool), BuildError> {
    let certificates = || {
        config.tls_ca.as_deref().map(|pem| TlsCertificates {
            client_tls: None,
            root_cert: Some(pem.to_vec()),
        })
    };
    let client = |node: &Node, protocol| -> RedisResult<Client> {
        let info = node.revealed_url().into_connection_info()?;
        let settings = info.redis_settings().clone().set_protocol(protocol);
        let info = info.set_redis_settings(settings);
        match certificates().filter(|_| node.is_tls()) {
            Some(certificates) => Client::build_with_tls(info, certificates),
            None => Client::open(info),
        }
    };
    let sentinel = |sentinels: &[Node], master: &str, data_nodes: &DataNodes| {
        let addresses = sentinels.iter().map(|node| {
            let host = node.host().trim_start_matches('[').trim_end_matches(']');
            let port = node.port().unwrap_or_default();
            if node.is_tls() {
                ConnectionAddr::TcpTls {
                    host: host.to_owned(),
                    port,
                    insecure: node.is_insecure(),
                    tls_params: None,
                }
            } else {
                ConnectionAddr::Tcp(host.to_owned(), port)
            }
        });
        let mut builder =
            SentinelClientBuilder::new(addresses, master, SentinelServerType::Master)?
                .set_client_to_redis_db(i64::from(data_nodes.db));
        builder = log_in(builder, &data_nodes.credentials, false);
        // The sentinels' own credentials: from the first sentinel URL that has a password.
        if let Some(node) = sentinels.iter().find(|n| n.credentials.password.is_some()) {
            builder = log_in(builder, &node.credentials, true);
        }
        if data_nodes.tls {
            builder = builder.set_client_to_redis_tls_mode(TlsMode::Secure);
        }
        if sentinels.iter().any(Node::is_tls) {
            builder = builder.set_client_to_sentinel_tls_mode(TlsMode::Secure);
        }
        if let Some(certificates) = certificates() {
            builder = builder
                .set_client_to_redis_certificates(certificates.clone())
                .set_client_to_sentinel_certificates(certificates);
        }
        builder.build()
    };

    let (check, pool) = match config.topology() {
        Topology::Standalone(node) => (
            CheckTarget::Single {
                resp3: Some(Box::new(
                    client(node, ProtocolVersion::RESP3).map_err(BuildError::Client)?,
                )),
                resp2: Box::new(client(node, ProtocolVersion::RESP2).map_err(BuildError::Client)?),
            },
            PoolTarget::Single(client(node, ProtocolVersion::RESP2).map_err(BuildError::Client)?),
        ),
        Topology::Sentinel {
            sentinels,
            master,
            data_nodes,
        } => {
            let client = || sentinel(sentinels, master, data_nodes).map_err(BuildError::Client);
            (
                CheckTarget::Sentinel(Box::new(client()?)),
                PoolTarget::Sentinel(Mutex::new(client()?)),
            )
        }
        Topology::Cluster(seeds) => {
            let clients = seeds
                .iter()
                .map(|seed| client(seed, ProtocolVersion::RESP2))
                .collect::<RedisResult<_>>()
                .map_err(BuildError::Client)?;
            let urls: Vec<String> = seeds.iter().map(Node::revealed_url).collect();
            let mut builder = ClusterClientBuilder::new(urls)
                .connection_timeout(config.timeouts.connect)
                .response_timeout(config.timeouts.response);
            if let Some(certificates) = certificates() {
                builder = builder.certs(certificates);
            }
            let cluster = builder.build().map_err(BuildError::Client)?;
            (
                CheckTarget::Cluster(clients),
                PoolTarget::Cluster(Box::new(cluster)),
            )
        }
    };
    let manager = Manager {
        target: pool,
        settings: connection_settings(config),
        pings: AtomicUsize::new(0),
    };
    let pool = managed::Pool::builder(manager)
        .max_size(config.pool_size.max(1))
        .wait_timeout(Some(config.timeouts.pool_wait))
        .create_timeout(Some(config.timeouts.connect))
        .recycle_timeout(Some(config.timeouts.response))
        .runtime(Runtime::Tokio1)
        .build()
        .map_err(BuildError::Pool)?;
    Ok((check, RedisPool::new(pool)))
}

/// The connect and response timeouts, for every connection.
pub(crate) fn connection_settings(config: &RedisConfig) -> AsyncConnectionConfig {
    AsyncConnectionConfig::new()
        .set_connection_timeout(Some(config.timeouts.connect))
        .set_response_timeout(Some(config.timeouts.response))
}

fn log_in(
    builder: SentinelClientBuilder,
    credentials: &Credentials,
    to_sentinel: bool,
) -> SentinelClientBuilder {
    let mut builder = builder;
    if let Some(username) = &credentials.username {
        builder = if to_sentinel {
            builder.set_client_to_sentinel_username(username)
        } else {
            builder.set_client_to_redis_username(username)
        };
    }
    if let Some(Secret(password)) = &credentials.password {
        builder = if to_sentinel {
            builder.set_client_to_sentinel_password(password)
        } else {
            builder.set_client_to_redis_password(password)
        };
    }
    builder
}

/// Where the monitor's health checks connect: one server, the master the sentinels name, or the
/// first cluster seed that answers. Always one plain connection, never a pool slot.
pub(crate) enum CheckTarget {
    /// One server. `resp3` speaks RESP3, in which the client reports a closed connection at
    /// once; it is dropped for good if the server does not know `HELLO` (Redis before 6).
    Single {
        resp3: Option<Box<Client>>,
        resp2: Box<Client>,
    },
    Sentinel(Box<SentinelClient>),
    Cluster(Vec<Client>),
}

impl CheckTarget {
    /// A new connection. `closed` is notified when it closes, if the connection can tell.
    pub(crate) async fn connect(
        &mut self,
        settings: &AsyncConnectionConfig,
        closed: &Arc<Notify>,
    ) -> RedisResult<(MultiplexedConnection, bool)> {
        match self {
            CheckTarget::Single { resp3, resp2 } => {
                if let Some(client) = resp3 {
                    let notify = Arc::clone(closed);
                    let settings = settings.clone().set_push_sender(move |push: PushInfo| {
                        if push.kind == PushKind::Disconnection {
                            notify.notify_one();
                        }
                        Ok::<(), Infallible>(())
                    });
                    match client
                        .get_multiplexed_async_connection_with_config(&settings)
                        .await
                    {
                        Err(err) if lacks_hello(&err) => *resp3 = None,
                        Ok(conn) => return Ok((conn, true)),
                        Err(err) => return Err(err),
                    }
                }
                let conn = resp2
                    .get_multiplexed_async_connection_with_config(settings)
                    .await?;
                Ok((conn, false))
            }
            CheckTarget::Sentinel(client) => Ok((
                client.get_async_connection_with_config(settings).await?,
                false,
            )),
            CheckTarget::Cluster(seeds) => {
                let mut last = None;
                for seed in seeds.iter() {
                    match seed
                        .get_multiplexed_async_connection_with_config(settings)
                        .await
                    {
                        Ok(conn) => return Ok((conn, false)),
                        Err(err) => last = Some(err),
                    }
                }
                Err(last.expect("a cluster config has at least one seed"))
            }
        }
    }

    /// What `PING` cannot tell: a sentinel's master must still be master, a cluster must be
    /// whole. `Ok(None)` when healthy.
    pub(crate) async fn verify(
        &self,
        conn: &mut MultiplexedConnection,
    ) -> RedisResult<Option<Unhealthy>> {
        let (cmd, healthy, unhealthy) = match self {
            CheckTarget::Single { .. } => return Ok(None),
            CheckTarget::Sentinel(_) => (
                redis::cmd("ROLE"),
                is_master as fn(&Value) -> bool,
                Unhealthy {
                    reason: "ROLE: the node is no longer master",
                    // Ask the sentinels again next time: this node was demoted.
                    reconnect: true,
                },
            ),
            CheckTarget::Cluster(_) => {
                let mut cmd = redis::cmd("CLUSTER");
                cmd.arg("INFO");
                (
                    cmd,
                    cluster_is_ok as fn(&Value) -> bool,
                    Unhealthy {
                        reason: "CLUSTER INFO: cluster_state is not ok",
                        reconnect: false,
                    },
                )
            }
        };
        let reply = cmd.query_async::<Value>(conn).await?;
        Ok((!healthy(&reply)).then_some(unhealthy))
    }

    /// The host names the check connects to, for messages that must name them.
    pub(crate) fn hosts(&self) -> Vec<String> {
        let host = |client: &Client| match &client.get_connection_info().addr() {
            ConnectionAddr::Tcp(host, _) | ConnectionAddr::TcpTls { host, .. } => host.clone(),
            ConnectionAddr::Unix(path) => path.display().to_string(),
            _ => String::new(),
        };
        match self {
            CheckTarget::Single { resp2, .. } => vec![host(resp2)],
            CheckTarget::Sentinel(_) => Vec::new(),
            CheckTarget::Cluster(seeds) => seeds.iter().map(host).collect(),
        }
    }

    /// The `host:port` of a TLS server the check connects to directly, to find out on failure
    /// whether it speaks plain Redis instead.
    pub(crate) fn tls_address(&self) -> Option<(String, u16)> {
        let CheckTarget::Single { resp2, .. } = self else {
            return None;
        };
        match resp2.get_connection_info().addr() {
            ConnectionAddr::TcpTls { host, port, .. } => Some((host.clone(), *port)),
            _ => None,
        }
    }

    /// The `host:port` of a plain server the check connects to directly, to find out on
    /// failure whether it speaks TLS instead.
    pub(crate) fn plain_address(&self) -> Option<(String, u16)> {
        let CheckTarget::Single { resp2, .. } = self else {
            return None;
        };
        match resp2.get_connection_info().addr() {
            ConnectionAddr::Tcp(host, port) => Some((host.clone(), *port)),
            _ => None,
        }
    }
}

/// Why a node that answers `PING` is still not available.
pub(crate) struct Unhealthy {
    pub(crate) reason: &'static str,
    /// The connection should be made anew, through the sentinels.
    pub(crate) reconnect: bool,
}

/// True when the server refused `HELLO 3` because it does not know the command.
fn lacks_hello(err: &RedisError) -> bool {
    err.code() == Some("ERR")
        && err
            .detail()
            .is_some_and(|detail| detail.contains("unknown command") && detail.contains("HELLO"))
}

fn is_master(role: &Value) -> bool {
    match role {
        Value::Array(items) => matches!(
            items.first(),
            Some(Value::BulkString(word)) if word == b"master"
        ),
        _ => false,
    }
}

fn cluster_is_ok(info: &Value) -> bool {
    let text = match info {
        Value::BulkString(bytes) => String::from_utf8_lossy(bytes),
        Value::VerbatimString { text, .. } => text.as_str().into(),
        _ => return false,
    };
    text.lines().any(|line| line.trim() == "cluster_state:ok")
}

/// Where the application's pool connects.
enum PoolTarget {
    Single(Client),
    /// `SentinelClient` asks the sentinels through `&mut self`.
    Sentinel(Mutex<SentinelClient>),
    Cluster(Box<ClusterClient>),
}

/// The deadpool manager behind [`RedisPool`]: makes connections for any topology, and checks
/// them with `PING` before handing them out again.
pub(crate) struct Manager {
    target: PoolTarget,
    settings: AsyncConnectionConfig,
    pings: AtomicUsize,
}

/// A connection of the application's pool, whatever the topology.
pub(crate) enum Connection {
    /// To a standalone server, or the master Sentinel names.
    Multiplexed(MultiplexedConnection),
    /// To a cluster.
    Cluster(ClusterConnection),
}

impl managed::Manager for Manager {
    type Type = Connection;
    type Error = RedisError;

    async fn create(&self) -> Result<Connection, RedisError> {
        let mut conn = match &self.target {
            PoolTarget::Single(client) => Connection::Multiplexed(
                client
                    .get_multiplexed_async_connection_with_config(&self.settings)
                    .await?,
            ),
            PoolTarget::Sentinel(client) => Connection::Multiplexed(
                client
                    .lock()
                    .await
                    .get_async_connection_with_config(&self.settings)
                    .await?,
            ),
            PoolTarget::Cluster(client) => {
                Connection::Cluster(client.get_async_connection().await?)
            }
        };
        // A new connection carries no command yet, so one opened after `requirepass` was set at
        // runtime would fail the handler's first command: a `PING` turns that into a failed
        // connect, which the monitor then looks into.
        redis::cmd("PING").query_async::<()>(&mut conn).await?;
        Ok(conn)
    }

    async fn recycle(&self, conn: &mut Connection, _: &Metrics) -> RecycleResult<RedisError> {
        let number = self.pings.fetch_add(1, Ordering::Relaxed).to_string();
        let reply = match conn {
            // Leftover `WATCH`es must not follow the connection to its next user.
            Connection::Multiplexed(conn) => {
                let (reply,) = Pipeline::with_capacity(2)
                    .cmd("UNWATCH")
                    .ignore()
                    .cmd("PING")
                    .arg(&number)
                    .query_async::<(String,)>(conn)
                    .await?;
                reply
            }
            Connection::Cluster(conn) => {
                redis::cmd("PING")
                    .arg(&number)
                    .query_async::<String>(conn)
                    .await?
            }
        };
        if reply == number {
            Ok(())
        } else {
            Err(RecycleError::message("the PING answer did not match"))
        }
    }
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Connection::Multiplexed(conn) => conn.req_packed_command(cmd),
            Connection::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Connection::Multiplexed(conn) => conn.req_packed_commands(cmd, offset, count),
            Connection::Cluster(conn) => conn.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::Multiplexed(conn) => conn.get_db(),
            Connection::Cluster(conn) => conn.get_db(),
        }
    }
}
