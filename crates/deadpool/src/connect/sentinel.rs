//! Following a Sentinel-managed master: asking the sentinels which master they name, listening
//! to their `+switch-master` announcements, and the master the application's pool connects to.
//!
//! The sentinels only say where to look. What the monitor publishes still comes from the master
//! itself answering `PING` and `ROLE master`, and the pool moves to a new master only once the
//! monitor has verified it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use deadpool_redis::redis::aio::MultiplexedConnection;
use deadpool_redis::redis::{
    self, AsyncConnectionConfig, Client, ErrorKind, Msg, RedisError, RedisResult,
};
use redis_gate_core::Backoff;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_stream::StreamExt;
use tracing::debug;

use crate::config::{Address, DataNodes, Node, Tls};

/// A master's address.
pub(crate) type MasterAddress = (String, u16);

/// What the monitor and the pool share about the master: the one the monitor verified last,
/// and a generation that changes with it. Connections made for an older generation are not
/// handed out again.
#[derive(Default)]
pub(crate) struct Master {
    verified: RwLock<Option<(MasterAddress, Client)>>,
    generation: AtomicU64,
}

impl Master {
    /// The current generation.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// A client for the verified master, and the generation it belongs to.
    pub(crate) fn client(&self) -> Option<(Client, u64)> {
        let verified = self.verified.read().unwrap_or_else(PoisonError::into_inner);
        verified
            .as_ref()
            .map(|(_, client)| (client.clone(), self.generation()))
    }

    /// The verified master's address.
    pub(crate) fn address(&self) -> Option<MasterAddress> {
        let verified = self.verified.read().unwrap_or_else(PoisonError::into_inner);
        verified.as_ref().map(|(address, _)| address.clone())
    }

    /// Makes `address` the verified master. Returns the previous one when this moves the
    /// master: the generation changes, so the pool lets go of every connection to the old one.
    pub(crate) fn verify(&self, address: &MasterAddress, client: &Client) -> Option<MasterAddress> {
        let mut verified = self
            .verified
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let previous = verified.as_ref().map(|(previous, _)| previous.clone());
        if previous.as_ref() == Some(address) {
            return None;
        }
        *verified = Some((address.clone(), client.clone()));
        self.generation.fetch_add(1, Ordering::AcqRel);
        previous
    }
}

/// What the sentinels announced and not yet acted on.
#[derive(Default)]
struct Announced {
    /// Wakes the monitor.
    notify: Arc<Notify>,
    /// The new master a `+switch-master` named.
    switched_to: Mutex<Option<MasterAddress>>,
}

/// The sentinels, as the monitor asks them and listens to them.
pub(crate) struct Sentinels {
    /// One client per sentinel, with the sentinels' own credentials and TLS.
    clients: Vec<Client>,
    master_name: String,
    /// How to reach a master the sentinels name.
    data_nodes: DataNodes,
    certificates: Option<Arc<[u8]>>,
    settings: AsyncConnectionConfig,
    /// The sentinel that answered last, and the connection to it.
    asked: Option<(usize, MultiplexedConnection)>,
    announced: Arc<Announced>,
    listeners: Vec<JoinHandle<()>>,
}

impl Sentinels {
    pub(crate) fn new(
        clients: Vec<Client>,
        master_name: &str,
        data_nodes: DataNodes,
        certificates: Option<Arc<[u8]>>,
        settings: AsyncConnectionConfig,
    ) -> Sentinels {
        Sentinels {
            clients,
            master_name: master_name.to_owned(),
            data_nodes,
            certificates,
            settings,
            asked: None,
            announced: Arc::default(),
            listeners: Vec::new(),
        }
    }

    /// The master the sentinels name: asks them in order, starting with the one that answered
    /// last, until one knows the master. The error is the last sentinel's.
    pub(crate) async fn ask(&mut self) -> RedisResult<MasterAddress> {
        let start = self.asked.as_ref().map_or(0, |(index, _)| *index);
        let mut last = None;
        for offset in 0..self.clients.len() {
            let index = (start + offset) % self.clients.len();
            let conn = match self.asked.take() {
                Some((asked, conn)) if asked == index => conn,
                _ => match self.clients[index]
                    .get_multiplexed_async_connection_with_config(&self.settings)
                    .await
                {
                    Ok(conn) => conn,
                    Err(err) => {
                        last = Some(err);
                        continue;
                    }
                },
            };
            let mut conn = conn;
            let reply = redis::cmd("SENTINEL")
                .arg("get-master-addr-by-name")
                .arg(&self.master_name)
                .query_async::<Option<(String, u16)>>(&mut conn)
                .await;
            match reply {
                Ok(Some(address)) => {
                    self.asked = Some((index, conn));
                    return Ok(address);
                }
                Ok(None) => {
                    self.asked = Some((index, conn));
                    last = Some(RedisError::from((
                        ErrorKind::MasterNameNotFoundBySentinel,
                        "the sentinels do not know the master name",
                    )));
                }
                Err(err) => last = Some(err),
            }
        }
        Err(last.unwrap_or_else(|| {
            RedisError::from((ErrorKind::InvalidClientConfig, "no sentinel configured"))
        }))
    }

    /// The new master a `+switch-master` named since the last call, if any.
    pub(crate) fn take_announced(&self) -> Option<MasterAddress> {
        self.announced
            .switched_to
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Notified when a sentinel announces something about the master.
    pub(crate) fn announcements(&self) -> Arc<Notify> {
        Arc::clone(&self.announced.notify)
    }

    /// A client for the master at `address`, with the data nodes' credentials, database and TLS.
    pub(crate) fn client_for(&self, (host, port): &MasterAddress) -> RedisResult<Client> {
        let node = Node {
            address: Address::Tcp {
                host: host.clone(),
                port: *port,
                tls: self.data_nodes.tls.then_some(Tls { insecure: false }),
            },
            credentials: self.data_nodes.credentials.clone(),
            db: self.data_nodes.db,
        };
        super::client::client(
            &node,
            redis::ProtocolVersion::RESP2,
            self.certificates.as_deref(),
        )
    }

    /// Starts listening to every sentinel for `+switch-master`, `+odown` and `-odown` about
    /// the master: each wakes the monitor, and a switch says where to look first. A listener
    /// whose connection fails or drops subscribes again with backoff, so that polling, which goes
    /// on regardless, is only ever the fallback.
    pub(crate) fn follow(&mut self) {
        if !self.listeners.is_empty() {
            return;
        }
        for client in &self.clients {
            let listener = Listener {
                client: client.clone(),
                master_name: self.master_name.clone(),
                announced: Arc::clone(&self.announced),
            };
            self.listeners.push(tokio::spawn(listener.run()));
        }
    }
}

impl Drop for Sentinels {
    fn drop(&mut self) {
        for listener in &self.listeners {
            listener.abort();
        }
    }
}

/// One sentinel's announcements.
struct Listener {
    client: Client,
    master_name: String,
    announced: Arc<Announced>,
}

const CHANNELS: [&str; 3] = ["+switch-master", "+odown", "-odown"];

impl Listener {
    async fn run(self) {
        let sentinel = format!("{:?}", self.client.get_connection_info().addr());
        let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        let mut failures = 0;
        loop {
            match self.client.get_async_pubsub().await {
                Ok(mut pubsub) => match pubsub.subscribe(&CHANNELS).await {
                    Ok(()) => {
                        failures = 0;
                        debug!(sentinel = sentinel.as_str(), "redis_sentinel_subscribed");
                        let mut messages = pubsub.on_message();
                        while let Some(message) = messages.next().await {
                            self.heard(&message);
                        }
                        debug!(sentinel = sentinel.as_str(), "redis_sentinel_unsubscribed");
                    }
                    Err(err) => debug!(
                        sentinel = sentinel.as_str(),
                        reason = %redis_gate_core::sanitize_error(&err.to_string()),
                        "redis_sentinel_subscribe_failed"
                    ),
                },
                Err(err) => debug!(
                    sentinel = sentinel.as_str(),
                    reason = %redis_gate_core::sanitize_error(&err.to_string()),
                    "redis_sentinel_subscribe_failed"
                ),
            }
            let delay = backoff.delay(failures, &mut rand::rng());
            failures = failures.saturating_add(1);
            tokio::time::sleep(delay).await;
        }
    }

    /// `+switch-master <name> <old ip> <old port> <new ip> <new port>`, or `+odown`/`-odown`
    /// `master <name> <ip> <port> …`.
    fn heard(&self, message: &Msg) {
        let Ok(payload) = message.get_payload::<String>() else {
            return;
        };
        let words: Vec<&str> = payload.split_whitespace().collect();
        let channel = message.get_channel_name();
        let ours = match channel {
            "+switch-master" => words.first() == Some(&self.master_name.as_str()),
            _ => {
                words.first() == Some(&"master") && words.get(1) == Some(&self.master_name.as_str())
            }
        };
        if !ours {
            return;
        }
        if channel == "+switch-master"
            && let (Some(host), Some(Ok(port))) = (words.get(4), words.get(5).map(|p| p.parse()))
        {
            debug!(
                master = self.master_name.as_str(),
                new = %format_args!("{host}:{port}"),
                "redis_sentinel_switch_master"
            );
            *self
                .announced
                .switched_to
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(((*host).to_owned(), port));
        }
        self.announced.notify.notify_one();
    }
}
