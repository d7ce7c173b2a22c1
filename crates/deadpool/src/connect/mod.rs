//! The one module that knows how each topology connects: from a [`RedisConfig`] it builds the
//! monitor's own connection target and the application's pool, with the same addresses,
//! credentials, TLS roots and timeouts. Adding a topology touches `config/` and this module.

mod client;
mod sentinel;

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use deadpool_redis::redis::aio::{ConnectionLike, MultiplexedConnection};
use deadpool_redis::redis::cluster::{ClusterClient, ClusterClientBuilder};
use deadpool_redis::redis::cluster_async::ClusterConnection;
use deadpool_redis::redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use deadpool_redis::redis::{
    self, AsyncConnectionConfig, Client, Cmd, ConnectionAddr, Pipeline, ProtocolVersion, PushInfo,
    PushKind, RedisError, RedisFuture, RedisResult, TlsMode, Value,
};
use tokio::sync::{Mutex, Notify};

use self::client::{client, tls_roots};
use self::sentinel::{Master, MasterAddress, Sentinels};
use crate::RedisConfig;
use crate::config::{Credentials, DataNodes, Node, Secret, Topology};

/// Why the settings could not be turned into clients and a pool. No connection was tried.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The Redis client refused the settings.
    #[error("the Redis client refused the settings")]
    Client(#[source] RedisError),
    /// The pool could not be built.
    #[error("the connection pool could not be built")]
    Pool(#[source] managed::BuildError),
}

/// Turns a configuration into both kinds of connections: the monitor's check target, and the
/// manager that makes the application's pooled ones (see `RedisPool::new`).
pub(crate) fn connect(config: &RedisConfig) -> Result<(CheckTarget, Manager), BuildError> {
    let pem = config.tls_ca.as_deref();
    let certificates = || pem.map(tls_roots);
    let client = |node: &Node, protocol| client(node, protocol, pem);
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
            let clients = sentinels
                .iter()
                .map(|node| client(node, ProtocolVersion::RESP2))
                .collect::<RedisResult<_>>()
                .map_err(BuildError::Client)?;
            let fallback = sentinel(sentinels, master, data_nodes).map_err(BuildError::Client)?;
            let verified = Arc::new(Master::default());
            let sentinels = Sentinels::new(
                clients,
                master,
                data_nodes.clone(),
                config.tls_ca.clone(),
                connection_settings(config),
            );
            (
                CheckTarget::Sentinel {
                    sentinels: Box::new(sentinels),
                    master: Arc::clone(&verified),
                    connected_to: None,
                },
                PoolTarget::Sentinel {
                    fallback: Mutex::new(fallback),
                    master: verified,
                },
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
    Ok((check, manager))
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
    /// The master the sentinels name; `master` is shared with the pool, which follows it.
    Sentinel {
        sentinels: Box<Sentinels>,
        master: Arc<Master>,
        /// The master the current connection goes to, and a client for it.
        connected_to: Option<Box<(MasterAddress, Client)>>,
    },
    Cluster(Vec<Client>),
}

/// The master moved: the monitor verified a new one, and the pool follows it.
pub(crate) struct MasterChange {
    pub(crate) old: String,
    pub(crate) new: String,
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
            CheckTarget::Sentinel {
                sentinels,
                master,
                connected_to,
            } => {
                // Where a switch was just announced, then where the sentinels point, then, with
                // every sentinel gone, the master verified last.
                let address = match sentinels.take_announced() {
                    Some(address) => address,
                    None => match sentinels.ask().await {
                        Ok(address) => address,
                        Err(err) => master.address().ok_or(err)?,
                    },
                };
                let client = sentinels.client_for(&address)?;
                let conn = client
                    .get_multiplexed_async_connection_with_config(settings)
                    .await?;
                *connected_to = Some(Box::new((address, client)));
                Ok((conn, false))
            }
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

    /// One more connection to the node the check's own connection goes to, for the write check:
    /// no side effect on where the check goes next.
    pub(crate) async fn connect_beside(
        &self,
        settings: &AsyncConnectionConfig,
    ) -> RedisResult<MultiplexedConnection> {
        let client = match self {
            CheckTarget::Single { resp2, .. } => Some(&**resp2),
            CheckTarget::Sentinel { connected_to, .. } => {
                connected_to.as_deref().map(|(_, client)| client)
            }
            CheckTarget::Cluster(seeds) => seeds.first(),
        };
        let client = client.ok_or_else(|| {
            RedisError::from((redis::ErrorKind::Io, "no node connected to write beside"))
        })?;
        client
            .get_multiplexed_async_connection_with_config(settings)
            .await
    }

    /// What `PING` cannot tell: a sentinel's master must still be master, and still the one the
    /// sentinels name; a cluster must be whole. `Ok(None)` when healthy.
    pub(crate) async fn verify(
        &mut self,
        conn: &mut MultiplexedConnection,
    ) -> RedisResult<Option<Unhealthy>> {
        match self {
            CheckTarget::Single { .. } => Ok(None),
            CheckTarget::Sentinel {
                sentinels,
                connected_to,
                ..
            } => {
                let role = redis::cmd("ROLE").query_async::<Value>(conn).await?;
                if !is_master(&role) {
                    return Ok(Some(Unhealthy {
                        reason: "ROLE: the node is no longer master",
                        // Ask the sentinels again next time: this node was demoted.
                        reconnect: true,
                        retry_now: false,
                    }));
                }
                // A planned failover leaves the old master saying `master` for seconds: what
                // the sentinels name decides which master it is. With every sentinel gone, the
                // last known master goes on being checked.
                let named = sentinels.ask().await.ok();
                let connected = connected_to.as_deref().map(|(address, _)| address);
                if named.is_some() && named.as_ref() != connected {
                    return Ok(Some(Unhealthy {
                        reason: "the sentinels name another master",
                        reconnect: true,
                        retry_now: true,
                    }));
                }
                Ok(None)
            }
            CheckTarget::Cluster(_) => {
                let info = redis::cmd("CLUSTER")
                    .arg("INFO")
                    .query_async::<Value>(conn)
                    .await?;
                Ok((!cluster_is_ok(&info)).then_some(Unhealthy {
                    reason: "CLUSTER INFO: cluster_state is not ok",
                    reconnect: false,
                    retry_now: false,
                }))
            }
        }
    }

    /// After a successful check: a Sentinel-named master the check has verified becomes the
    /// pool's; a move from another one is returned, to be said once.
    pub(crate) fn settle(&mut self) -> Option<MasterChange> {
        let CheckTarget::Sentinel {
            master,
            connected_to: Some(connected),
            ..
        } = self
        else {
            return None;
        };
        let (address, client) = &**connected;
        let old = master.verify(address, client)?;
        Some(MasterChange {
            old: format!("{}:{}", old.0, old.1),
            new: format!("{}:{}", address.0, address.1),
        })
    }

    /// Starts listening to the sentinels' announcements (nothing for other topologies).
    pub(crate) fn follow(&mut self) {
        if let CheckTarget::Sentinel { sentinels, .. } = self {
            sentinels.follow();
        }
    }

    /// Notified when the sentinels announce a change of master (`None` for other topologies).
    pub(crate) fn announcements(&self) -> Option<Arc<Notify>> {
        match self {
            CheckTarget::Sentinel { sentinels, .. } => Some(sentinels.announcements()),
            CheckTarget::Single { .. } | CheckTarget::Cluster(_) => None,
        }
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
            CheckTarget::Sentinel { .. } => Vec::new(),
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
    /// ... and at once, within the same check: this node is fine, another one is the master.
    pub(crate) retry_now: bool,
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
    /// The master the monitor verified; until it has, the one the sentinels name
    /// (`SentinelClient` asks them through `&mut self`).
    Sentinel {
        fallback: Mutex<SentinelClient>,
        master: Arc<Master>,
    },
    Cluster(Box<ClusterClient>),
}

/// The deadpool manager behind [`RedisPool`](crate::RedisPool): makes connections for any topology, and checks
/// them with `PING` before handing them out again.
pub(crate) struct Manager {
    target: PoolTarget,
    settings: AsyncConnectionConfig,
    pings: AtomicUsize,
}

/// A connection of the application's pool, whatever the topology.
pub(crate) struct Connection {
    kind: Kind,
    /// The master's generation it was made for (see `Master`); 0 without Sentinel.
    generation: u64,
}

enum Kind {
    /// To a standalone server, or the master Sentinel names.
    Multiplexed(MultiplexedConnection),
    /// To a cluster.
    Cluster(ClusterConnection),
}

impl Manager {
    /// The generation a pooled connection must have to be handed out again.
    fn generation(&self) -> u64 {
        match &self.target {
            PoolTarget::Sentinel { master, .. } => master.generation(),
            PoolTarget::Single(_) | PoolTarget::Cluster(_) => 0,
        }
    }
}

/// A reply that refuses `PING` itself while reads work: `MISCONF`, after a failed background
/// save. A connection that gets it is alive and serves reads.
fn refuses_writes_only(err: &RedisError) -> bool {
    err.code() == Some("MISCONF")
}

impl managed::Manager for Manager {
    type Type = Connection;
    type Error = RedisError;

    async fn create(&self) -> Result<Connection, RedisError> {
        let mut conn = match &self.target {
            PoolTarget::Single(client) => Connection {
                kind: Kind::Multiplexed(
                    client
                        .get_multiplexed_async_connection_with_config(&self.settings)
                        .await?,
                ),
                generation: 0,
            },
            PoolTarget::Sentinel { fallback, master } => match master.client() {
                Some((client, generation)) => Connection {
                    kind: Kind::Multiplexed(
                        client
                            .get_multiplexed_async_connection_with_config(&self.settings)
                            .await?,
                    ),
                    generation,
                },
                None => {
                    let generation = master.generation();
                    let conn = fallback
                        .lock()
                        .await
                        .get_async_connection_with_config(&self.settings)
                        .await?;
                    Connection {
                        kind: Kind::Multiplexed(conn),
                        generation,
                    }
                }
            },
            PoolTarget::Cluster(client) => Connection {
                kind: Kind::Cluster(client.get_async_connection().await?),
                generation: 0,
            },
        };
        // A new connection carries no command yet, so one opened after `requirepass` was set at
        // runtime would fail the handler's first command: a `PING` turns that into a failed
        // connect, which the monitor then looks into.
        match redis::cmd("PING").query_async::<()>(&mut conn).await {
            Err(err) if refuses_writes_only(&err) => Ok(conn),
            Err(err) => Err(err),
            Ok(()) => Ok(conn),
        }
    }

    async fn recycle(&self, conn: &mut Connection, _: &Metrics) -> RecycleResult<RedisError> {
        if conn.generation != self.generation() {
            // Made for a master that is not the master any more: writes must go to the new one.
            return Err(RecycleError::message("the master moved"));
        }
        let number = self.pings.fetch_add(1, Ordering::Relaxed).to_string();
        let reply = match &mut conn.kind {
            // Leftover `WATCH`es must not follow the connection to its next user.
            Kind::Multiplexed(conn) => Pipeline::with_capacity(2)
                .cmd("UNWATCH")
                .ignore()
                .cmd("PING")
                .arg(&number)
                .query_async::<(String,)>(conn)
                .await
                .map(|(reply,)| reply),
            Kind::Cluster(conn) => {
                redis::cmd("PING")
                    .arg(&number)
                    .query_async::<String>(conn)
                    .await
            }
        };
        let reply = match reply {
            // It answered: the connection works, and reads through it do.
            Err(err) if refuses_writes_only(&err) => return Ok(()),
            reply => reply?,
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
        match &mut self.kind {
            Kind::Multiplexed(conn) => conn.req_packed_command(cmd),
            Kind::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match &mut self.kind {
            Kind::Multiplexed(conn) => conn.req_packed_commands(cmd, offset, count),
            Kind::Cluster(conn) => conn.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match &self.kind {
            Kind::Multiplexed(conn) => conn.get_db(),
            Kind::Cluster(conn) => conn.get_db(),
        }
    }
}
