//! The fault matrix: each fault that breaks real deployments, injected into a real `redis-server`
//! (or the fault proxy in front of one), detected as unavailable, then cleared and recovered.
//!
//! Every case watches the same server with two monitors: one that only `PING`s, and one with the
//! write probe. It also records what a plain `PING` sees, on a connection opened before the fault
//! and on a new one, as `redis-cli ping` would. `docs/faults.md` is the table these tests print:
//!
//! ```text
//! REDIS_GATE_FAULT_TABLE=1 cargo test -p redis-gate-deadpool --test faults -- --nocapture --test-threads=1
//! ```
//!
//! They use quick monitor settings (check every 100 ms); `REDIS_GATE_FAULT_SETTINGS=defaults`
//! runs them with the library defaults instead (check every second), as in the documentation.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use deadpool_redis::redis::aio::MultiplexedConnection;
use deadpool_redis::redis::{self, AsyncConnectionConfig, ErrorKind, RedisError, Value};
use redis_gate_core::{Availability, Snapshot, Status};
use redis_gate_deadpool::{RedisConfig, RedisMonitor};
use redis_gate_testkit::poll::{DEADLINE, eventually};
use redis_gate_testkit::proxy::{Fault, FaultProxy};
use redis_gate_testkit::redis::{RedisConnection, RedisServer, free_port};
use tokio::task::block_in_place;
/// How long a plain `PING` waits for its reply (`redis-cli` would wait forever).
const PLAIN_PING_TIMEOUT: Duration = Duration::from_secs(1);
/// Checks a fooled monitor must pass while the fault holds, to show it stays fooled.
const FOOLED_FOR_CHECKS: u64 = 5;

/// Library defaults when `REDIS_GATE_FAULT_SETTINGS=defaults`, else the quick test settings.
fn uses_defaults() -> bool {
    std::env::var("REDIS_GATE_FAULT_SETTINGS").is_ok_and(|v| v == "defaults")
}

fn config(url: &str) -> RedisConfig {
    let config = RedisConfig::from_url(url).unwrap();
    if uses_defaults() {
        return config;
    }
    common::fast(config)
}

/// Which monitors the fault must flip.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Catches {
    /// A plain `PING` sees it.
    Both,
    /// Only the write check sees it; the `PING`-only monitor stays available.
    WriteProbeOnly,
}

/// What one monitor made of the fault.
struct Seen {
    detected: Option<Duration>,
    reading: String,
    recovered: Option<Duration>,
}

/// The two monitors, a connection opened before the fault, and what they saw.
struct Subjects {
    url: String,
    plain: RedisMonitor,
    writing: RedisMonitor,
    open: MultiplexedConnection,
    /// `CLIENT ID` of `open`.
    open_id: String,
    catches: Catches,
    plain_seen: Option<Seen>,
    writing_seen: Option<Seen>,
    pings: Option<(String, String)>,
}

impl Subjects {
    /// Starts both monitors on `url`, waits until both are available, and opens the connection
    /// for the "open connection" `PING`.
    async fn start(url: &str, catches: Catches) -> Subjects {
        Subjects::start_with(url, catches, |_| {}).await
    }

    /// For a fault both monitors must see at once, [`start`](Self::start) with the next
    /// scheduled check far past the deadline and a `fall` that no run of timeouts reaches: only
    /// the closing connection can trigger a check in time, and only a failure that counts at
    /// once can flip them.
    async fn start_at_once(url: &str) -> Subjects {
        Subjects::start_with(url, Catches::Both, |config| {
            config.monitor.check_interval = DEADLINE * 4;
            config.monitor.fall = u32::MAX;
        })
        .await
    }

    async fn start_with(url: &str, catches: Catches, adjust: fn(&mut RedisConfig)) -> Subjects {
        let mut plain = config(url);
        adjust(&mut plain);
        let mut writing = plain.clone();
        writing.write_check = true;
        let plain = RedisMonitor::start(plain).await.unwrap();
        let writing = RedisMonitor::start(writing).await.unwrap();
        assert!(plain.wait_available(DEADLINE).await, "{:?}", plain);
        assert!(writing.wait_available(DEADLINE).await, "{:?}", writing);
        let mut open = connect(url).await.expect("open a plain connection");
        let open_id = redis::cmd("CLIENT")
            .arg("ID")
            .query_async::<i64>(&mut open)
            .await
            .unwrap()
            .to_string();
        Subjects {
            url: url.to_owned(),
            plain,
            writing,
            open,
            open_id,
            catches,
            plain_seen: None,
            writing_seen: None,
            pings: None,
        }
    }

    /// Waits until the monitors that must see the fault report it (unavailable, with a reason
    /// containing one of `reasons`), timed from `since`; records what a plain `PING` sees
    /// meanwhile.
    async fn detect(&mut self, since: Instant, reasons: &[&str]) {
        let plain = self.plain.availability();
        let writing = self.writing.availability();
        let (plain_after, writing_after) = tokio::join!(
            async {
                match self.catches {
                    Catches::Both => Some(reports(&plain, since, reasons).await),
                    Catches::WriteProbeOnly => None,
                }
            },
            reports(&writing, since, reasons),
        );
        self.plain_seen = Some(Seen {
            detected: plain_after,
            reading: match plain_after {
                Some(_) => describe(&plain.snapshot()),
                None => "PING passes".to_owned(),
            },
            recovered: None,
        });
        if self.catches == Catches::WriteProbeOnly {
            // Reads still answer: read-only, not down, and the pool kept.
            let reading = writing.reading();
            assert!(reading.is_read_only(), "{:?}", writing.snapshot());
        }
        self.writing_seen = Some(Seen {
            detected: Some(writing_after),
            reading: describe(&writing.snapshot()),
            recovered: None,
        });
        if self.pings.is_none() {
            self.observe_pings().await;
        }
    }

    /// For a fault neither monitor should take for an outage: both stayed available, because
    /// `why`.
    fn stays_available(&mut self, why: &str) {
        let seen = || Seen {
            detected: None,
            reading: why.to_owned(),
            recovered: None,
        };
        self.plain_seen = Some(seen());
        self.writing_seen = Some(seen());
    }

    /// Records what a plain `PING` sees now, on the open connection and on a new one.
    async fn observe_pings(&mut self) {
        self.pings = Some((ping(&mut self.open).await, ping_new(&self.url).await));
    }

    /// The ids of the monitors' own connections: the clients connected now that were not in
    /// `before`, less the open connection.
    fn monitor_ids(&self, admin: &mut RedisConnection, before: &[String]) -> Vec<String> {
        client_ids(admin)
            .into_iter()
            .filter(|id| !before.contains(id) && *id != self.open_id)
            .collect()
    }

    /// What an application under load does: asks both pools for a connection every 20 ms, so
    /// a pool that cannot connect keeps telling its monitor. Stops when dropped.
    fn keep_asking_for_connections(&self) -> AbortOnDrop {
        let pools = [self.plain.gated_pool(), self.writing.gated_pool()];
        AbortOnDrop(tokio::spawn(async move {
            loop {
                for pool in &pools {
                    let _ = pool.get().await;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }))
    }

    /// For a fault only the write check sees: the `PING`-only monitor stays available through
    /// several more checks, counted on `server`.
    async fn assert_plain_fooled(&self, server: &RedisServer) {
        // Both monitors PING once per check.
        let enough = server.calls("ping") + 2 * FOOLED_FOR_CHECKS;
        assert!(
            eventually(DEADLINE, || server.calls("ping") >= enough).await,
            "the monitors stopped checking"
        );
        let snapshot = self.plain.availability().snapshot();
        assert!(
            snapshot.is_available(),
            "the PING-only monitor saw the fault: {snapshot:?}"
        );
    }

    /// Waits until both monitors are available again, timed from `since` (the fault cleared).
    async fn recover(&mut self, since: Instant) {
        let plain = self.plain.availability();
        let writing = self.writing.availability();
        let (plain_after, writing_after) =
            tokio::join!(comes_back(&plain, since), comes_back(&writing, since));
        if self.catches == Catches::Both {
            self.plain_seen.as_mut().unwrap().recovered = Some(plain_after);
        }
        self.writing_seen.as_mut().unwrap().recovered = Some(writing_after);
    }

    /// Prints the row of `docs/faults.md` when `REDIS_GATE_FAULT_TABLE` is set.
    fn report(&self, fault: &str, injected_by: &str) {
        if std::env::var_os("REDIS_GATE_FAULT_TABLE").is_none() {
            return;
        }
        let (open, new) = self.pings.clone().expect("detect() ran");
        let line = format!(
            "| {fault} | {injected_by} | {open} | {new} | {} | {} |\n",
            cell(self.plain_seen.as_ref().unwrap()),
            cell(self.writing_seen.as_ref().unwrap()),
        );
        // One write per row, so parallel tests do not interleave within a line.
        let _ = std::io::stdout().lock().write_all(line.as_bytes());
    }
}

fn cell(seen: &Seen) -> String {
    // Read-only is not available either, but reads go on: say which.
    let state = if seen.reading.starts_with("read_only") {
        "read-only"
    } else {
        "unavailable"
    };
    match (seen.detected, seen.recovered) {
        (Some(detected), Some(recovered)) => format!(
            "{state} in {} ms (`{}`), back in {} ms",
            detected.as_millis(),
            seen.reading,
            recovered.as_millis()
        ),
        (Some(detected), None) => format!(
            "{state} in {} ms (`{}`)",
            detected.as_millis(),
            seen.reading
        ),
        _ => format!("**stays available** ({})", seen.reading),
    }
}

/// The status word and the reason, as the details endpoint shows them.
fn describe(snapshot: &Snapshot) -> String {
    format!(
        "{}: {}",
        snapshot.reading(),
        snapshot.last_error().unwrap_or("-")
    )
}

/// Time from `since` until `redis` reports unavailable with a reason containing one of
/// `reasons`.
async fn reports(redis: &Availability, since: Instant, reasons: &[&str]) -> Duration {
    let seen = eventually(DEADLINE, || {
        let snapshot = redis.snapshot();
        !snapshot.is_available()
            && snapshot
                .last_error()
                .is_some_and(|e| reasons.iter().any(|reason| e.contains(reason)))
    })
    .await;
    assert!(
        seen,
        "not reported as unavailable with one of {reasons:?} within {DEADLINE:?}: {:?}",
        redis.snapshot()
    );
    since.elapsed()
}

/// Time from `since` until `redis` is available again.
async fn comes_back(redis: &Availability, since: Instant) -> Duration {
    let back = eventually(DEADLINE, || redis.is_available()).await;
    assert!(
        back,
        "not available again within {DEADLINE:?}: {:?}",
        redis.snapshot()
    );
    since.elapsed()
}

async fn connect(url: &str) -> Result<MultiplexedConnection, RedisError> {
    let client = redis::Client::open(url)?;
    let settings = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(PLAIN_PING_TIMEOUT))
        .set_response_timeout(Some(PLAIN_PING_TIMEOUT));
    client
        .get_multiplexed_async_connection_with_config(&settings)
        .await
}

/// One `PING` on `conn`, rendered for the table.
async fn ping(conn: &mut MultiplexedConnection) -> String {
    let reply = tokio::time::timeout(
        PLAIN_PING_TIMEOUT,
        redis::cmd("PING").query_async::<Value>(conn),
    )
    .await;
    match reply {
        Err(_) => format!("no reply in {} s", PLAIN_PING_TIMEOUT.as_secs()),
        Ok(Ok(Value::SimpleString(pong))) => pong,
        Ok(Ok(other)) => format!("{other:?}"),
        Ok(Err(err)) => render(&err),
    }
}

/// One `PING` on a new connection to `url`, as `redis-cli ping` does.
async fn ping_new(url: &str) -> String {
    match tokio::time::timeout(PLAIN_PING_TIMEOUT, connect(url)).await {
        Err(_) => format!("no reply in {} s", PLAIN_PING_TIMEOUT.as_secs()),
        Ok(Err(err)) => render(&err),
        Ok(Ok(mut conn)) => ping(&mut conn).await,
    }
}

fn render(err: &RedisError) -> String {
    match err.code() {
        // Only the first words: details could echo arguments.
        Some("ERR") => format!("-ERR {}", err.detail().unwrap_or_default()),
        Some(code) => format!("-{code}"),
        // The AUTH sent while connecting was refused (WRONGPASS).
        None if err.kind() == ErrorKind::AuthenticationFailed => "AUTH refused".to_owned(),
        None if err.is_timeout() => format!("no reply in {} s", PLAIN_PING_TIMEOUT.as_secs()),
        None if err.is_connection_refusal() => "connection refused".to_owned(),
        None => match std::error::Error::source(err)
            .and_then(|source| source.downcast_ref::<std::io::Error>())
        {
            Some(io) => io.kind().to_string(),
            None if err.is_connection_dropped() => "connection closed".to_owned(),
            None => format!("{:?}", err.kind()),
        },
    }
}

/// Aborts a background task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The ids of the clients connected now, except the one asking.
fn client_ids(admin: &mut RedisConnection) -> Vec<String> {
    let me = admin.command(&["CLIENT", "ID"]).unwrap();
    admin
        .command(&["CLIENT", "LIST"])
        .unwrap()
        .lines()
        .filter_map(|line| line.strip_prefix("id=")?.split(' ').next())
        .filter(|id| *id != me)
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_connections_are_detected_at_once() {
    let mut server = RedisServer::start();
    let mut subjects = Subjects::start_at_once(&server.url()).await;

    let since = Instant::now();
    block_in_place(|| server.stop());
    subjects.detect(since, &["connection refused"]).await;

    block_in_place(|| server.restart());
    subjects.recover(Instant::now()).await;
    subjects.report(
        "refused",
        "`SHUTDOWN NOSAVE` (nothing listens), then a restart",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_server_is_detected_at_once() {
    let mut server = RedisServer::start();
    let mut subjects = Subjects::start_at_once(&server.url()).await;

    let since = Instant::now();
    server.kill();
    // The connection closes (or is reset, with a reply of the server's unread); the
    // reconnection is then refused.
    subjects
        .detect(since, &["connection refused", "Connection reset by peer"])
        .await;

    block_in_place(|| server.restart());
    subjects.recover(Instant::now()).await;
    subjects.report("kill -9", "SIGKILL, then a restart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frozen_server_is_detected_after_fall_timeouts() {
    let mut server = RedisServer::start();
    let mut subjects = Subjects::start(&server.url(), Catches::Both).await;

    let since = Instant::now();
    server.freeze();
    subjects.detect(since, &["timed out"]).await;

    let since = Instant::now();
    server.thaw();
    subjects.recover(since).await;
    subjects.report("SIGSTOP", "SIGSTOP, then SIGCONT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loading_server_is_unavailable_until_the_dataset_is_loaded() {
    let mut server = RedisServer::builder()
        .slow_to_load(20_000, Duration::from_micros(100))
        .start();
    let mut subjects = Subjects::start(&server.url(), Catches::Both).await;

    server.kill();
    block_in_place(|| server.restart_accepting());
    // Timed from the moment the restarted server accepts connections and answers -LOADING.
    let since = Instant::now();
    subjects.detect(since, &["LOADING"]).await;
    let (_, new) = subjects.pings.clone().unwrap();
    assert_eq!(new, "-LOADING", "a plain PING gets an error, not PONG");

    // The fault clears when the load ends: when a plain PING gets PONG.
    let url = server.url();
    let mut loaded = false;
    let until = Instant::now() + DEADLINE;
    while !loaded && Instant::now() < until {
        loaded = ping_new(&url).await == "PONG";
    }
    assert!(loaded, "the dataset did not load within {DEADLINE:?}");
    subjects.recover(Instant::now()).await;
    subjects.report(
        "`-LOADING`",
        "restart with a 20 000-key dump and `key-load-delay` (timed from the restart)",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_whose_master_is_gone_answers_masterdown_and_is_unavailable() {
    let server = RedisServer::builder()
        .arg("replica-serve-stale-data", "no")
        .start();
    let mut subjects = Subjects::start(&server.url(), Catches::Both).await;

    // Its master is a port where nothing listens: the link never comes up.
    let since = Instant::now();
    let gone = free_port().to_string();
    server.command(&["REPLICAOF", "127.0.0.1", &gone]).unwrap();
    subjects.detect(since, &["MASTERDOWN"]).await;
    let (_, new) = subjects.pings.clone().unwrap();
    assert_eq!(new, "-MASTERDOWN", "a plain PING gets an error, not PONG");

    let since = Instant::now();
    server.command(&["REPLICAOF", "NO", "ONE"]).unwrap();
    subjects.recover(since).await;
    subjects.report(
        "`-MASTERDOWN`",
        "`REPLICAOF` a port where nothing listens, with `replica-serve-stale-data no`; then `REPLICAOF NO ONE`",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_script_is_detected_and_script_kill_recovers() {
    let server = RedisServer::builder()
        .arg("busy-reply-threshold", "100")
        .start();
    let mut subjects = Subjects::start(&server.url(), Catches::Both).await;

    // A script that never ends, on a connection of its own that never reads its reply.
    let mut script = TcpStream::connect(server.addr()).unwrap();
    let since = Instant::now();
    script
        .write_all(b"*3\r\n$4\r\nEVAL\r\n$17\r\nwhile true do end\r\n$1\r\n0\r\n")
        .unwrap();
    subjects.detect(since, &["BUSY"]).await;

    let since = Instant::now();
    assert_eq!(server.command(&["SCRIPT", "KILL"]), Ok("OK".to_owned()));
    subjects.recover(since).await;
    subjects.report(
        "`-BUSY`",
        "`EVAL \"while true do end\" 0` with `busy-reply-threshold 100`, then `SCRIPT KILL`",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_required_at_runtime_is_seen_through_new_pool_connections() {
    const PASSWORD: &str = "Runtime-Required-Pw-81";
    redis_gate_testkit::secrets::register(PASSWORD);
    let server = RedisServer::start();
    let mut admin = server.connect().unwrap();
    let mut subjects = Subjects::start(&server.url(), Catches::Both).await;

    admin
        .command(&["CONFIG", "SET", "requirepass", PASSWORD])
        .unwrap();
    // Redis keeps serving connections that were open, so the monitors' own checks still pass.
    // A new pooled connection is checked with PING when created: it fails with NOAUTH, the pool
    // reports a failed connect, and the monitor's fresh connection finds out why.
    let since = Instant::now();
    assert!(subjects.plain.connection().await.is_err());
    assert!(subjects.writing.connection().await.is_err());
    subjects.detect(since, &["authentication failed"]).await;
    assert_eq!(subjects.plain.availability().status(), Status::Failed);

    let since = Instant::now();
    admin
        .command(&["CONFIG", "SET", "requirepass", ""])
        .unwrap();
    subjects.recover(since).await;
    subjects.report(
        "`NOAUTH`",
        "`CONFIG SET requirepass` (open connections stay authenticated), then the app asks the pool for a connection",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_acl_password_is_detected_when_the_pool_connects() {
    const OLD: &str = "Acl-Old-Password-27";
    const NEW: &str = "Acl-New-Password-72";
    redis_gate_testkit::secrets::register(OLD);
    redis_gate_testkit::secrets::register(NEW);
    let server = RedisServer::start();
    let mut admin = server.connect().unwrap();
    admin
        .command(&[
            "ACL",
            "SETUSER",
            "app",
            "on",
            &format!(">{OLD}"),
            "~*",
            "+@all",
        ])
        .unwrap();
    let url = format!("redis://app:{OLD}@127.0.0.1:{}", server.port());
    let mut subjects = Subjects::start(&url, Catches::Both).await;

    admin
        .command(&["ACL", "SETUSER", "app", "resetpass", &format!(">{NEW}")])
        .unwrap();
    let since = Instant::now();
    // The application needs a new connection: the pool's failed connect alerts the monitor.
    assert!(subjects.plain.connection().await.is_err());
    assert!(subjects.writing.connection().await.is_err());
    let _asking = subjects.keep_asking_for_connections();
    subjects.detect(since, &["authentication failed"]).await;
    assert_eq!(subjects.writing.availability().status(), Status::Failed);

    let since = Instant::now();
    admin
        .command(&["ACL", "SETUSER", "app", "resetpass", &format!(">{OLD}")])
        .unwrap();
    subjects.recover(since).await;
    subjects.report(
        "`WRONGPASS`",
        "`ACL SETUSER app resetpass >new` (open connections stay authenticated), then the pool opens a connection",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demoted_replica_is_seen_by_the_write_check_only() {
    let primary = RedisServer::start();
    let server = RedisServer::start();
    let mut subjects = Subjects::start(&server.url(), Catches::WriteProbeOnly).await;

    let since = Instant::now();
    let port = primary.port().to_string();
    server.command(&["REPLICAOF", "127.0.0.1", &port]).unwrap();
    subjects.detect(since, &["READONLY"]).await;
    subjects.assert_plain_fooled(&server).await;

    let since = Instant::now();
    server.command(&["REPLICAOF", "NO", "ONE"]).unwrap();
    subjects.recover(since).await;
    subjects.report(
        "`-READONLY`",
        "`REPLICAOF` another test server, then `REPLICAOF NO ONE`",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_memory_is_seen_by_the_write_check_only() {
    let server = RedisServer::start();
    let mut subjects = Subjects::start(&server.url(), Catches::WriteProbeOnly).await;

    server
        .command(&["CONFIG", "SET", "maxmemory-policy", "noeviction"])
        .unwrap();
    let since = Instant::now();
    server
        .command(&["CONFIG", "SET", "maxmemory", "1"])
        .unwrap();
    subjects.detect(since, &["OOM"]).await;
    subjects.assert_plain_fooled(&server).await;

    let since = Instant::now();
    server
        .command(&["CONFIG", "SET", "maxmemory", "0"])
        .unwrap();
    subjects.recover(since).await;
    subjects.report(
        "`-OOM`",
        "`maxmemory 1` with `noeviction`, then `maxmemory 0`",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_writes_are_seen_by_the_write_check_only() {
    let server = RedisServer::start();
    let mut subjects = Subjects::start(&server.url(), Catches::WriteProbeOnly).await;

    let since = Instant::now();
    server
        .command(&["CLIENT", "PAUSE", "60000", "WRITE"])
        .unwrap();
    subjects.detect(since, &["writes held up"]).await;
    subjects.assert_plain_fooled(&server).await;

    let since = Instant::now();
    server.command(&["CLIENT", "UNPAUSE"]).unwrap();
    subjects.recover(since).await;
    subjects.report(
        "`CLIENT PAUSE WRITE`",
        "`CLIENT PAUSE 60000 WRITE`, then `CLIENT UNPAUSE`",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maxclients_is_detected_when_the_pool_cannot_connect() {
    let server = RedisServer::start();
    // Opened first: it stays usable when new connections are refused.
    let mut admin = server.connect().unwrap();
    let mut subjects = Subjects::start(&server.url(), Catches::Both).await;

    // Below the clients connected (as when other clients hold every slot): new connections are
    // refused while open ones keep working, even after a few close. The limit counts the admin
    // connection and the open one; the monitors' three (a health-check connection each, and the
    // write check's own) are over it.
    assert_eq!(client_ids(&mut admin).len() + 1, 5);
    let since = Instant::now();
    admin
        .command(&["CONFIG", "SET", "maxclients", "2"])
        .unwrap();
    subjects.observe_pings().await;
    // Open connections keep working; the application's pool cannot open one.
    assert!(subjects.plain.connection().await.is_err());
    assert!(subjects.writing.connection().await.is_err());
    let _asking = subjects.keep_asking_for_connections();
    // The monitors' own connections stay up: what fails is a fresh one, as the pool's do.
    subjects.detect(since, &["new connections fail"]).await;

    let since = Instant::now();
    admin
        .command(&["CONFIG", "SET", "maxclients", "10000"])
        .unwrap();
    subjects.recover(since).await;
    assert!(subjects.plain.connection().await.is_ok());
    subjects.report(
        "maxclients",
        "`CONFIG SET maxclients` below the clients connected, then the pool opens a connection",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_monitor_connection_is_not_an_outage() {
    let server = RedisServer::start();
    let mut admin = server.connect().unwrap();
    let before = client_ids(&mut admin);
    let mut subjects = Subjects::start(&server.url(), Catches::Both).await;
    let monitors = subjects.monitor_ids(&mut admin, &before);
    assert_eq!(
        monitors.len(),
        3,
        "a health-check connection per monitor, and the write check's own"
    );
    let mut plain = subjects.plain.availability().subscribe();
    let mut writing = subjects.writing.availability().subscribe();

    for id in &monitors {
        admin.command(&["CLIENT", "KILL", "ID", id]).unwrap();
    }
    // Each monitor sees its connection close and checks on a fresh one: Redis answers.
    let known: Vec<String> = before.iter().chain(&monitors).cloned().collect();
    let reconnected = eventually(DEADLINE, || {
        subjects.monitor_ids(&mut admin, &known).len() == monitors.len()
    })
    .await;
    assert!(
        reconnected,
        "the monitors did not reconnect within {DEADLINE:?}"
    );
    for (name, subscription) in [("plain", &mut plain), ("writing", &mut writing)] {
        let flipped = tokio::time::timeout(Duration::ZERO, subscription.changed()).await;
        assert!(
            flipped.is_err(),
            "{name}: a killed health-check connection flipped the handle: {flipped:?}"
        );
    }
    assert!(subjects.plain.availability().is_available());
    assert!(subjects.writing.availability().is_available());
    subjects.observe_pings().await;
    subjects.stays_available("reconnects at once");
    subjects.report(
        "`CLIENT KILL`",
        "`CLIENT KILL ID` of each monitor's own connection (Redis itself stays healthy)",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blackholed_proxy_is_detected_after_fall_timeouts() {
    let server = RedisServer::start();
    let proxy = FaultProxy::start(server.addr()).await;
    let mut subjects = Subjects::start(&proxy.redis_url(), Catches::Both).await;

    let since = Instant::now();
    proxy.set_fault(Fault::Blackhole).await;
    subjects.detect(since, &["timed out"]).await;

    let since = Instant::now();
    proxy.set_fault(Fault::Pass).await;
    subjects.recover(since).await;
    subjects.report(
        "proxy blackhole",
        "fault proxy: connections accepted, nothing answered",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_proxy_is_detected_at_once() {
    let server = RedisServer::start();
    let proxy = FaultProxy::start(server.addr()).await;
    let mut subjects = Subjects::start_at_once(&proxy.redis_url()).await;

    let since = Instant::now();
    proxy.set_fault(Fault::Reset).await;
    subjects.detect(since, &["Connection reset by peer"]).await;

    let since = Instant::now();
    proxy.set_fault(Fault::Pass).await;
    subjects.recover(since).await;
    subjects.report(
        "proxy reset",
        "fault proxy: every connection gets a TCP RST",
    );
}
