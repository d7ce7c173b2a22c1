//! TLS, Redis Cluster and Redis Sentinel, each against real local servers the tests start.

use std::time::{Duration, Instant};

use deadpool_redis::redis::AsyncCommands;
use redis_gate_core::Status;
use redis_gate_deadpool::{Backoff, RedisConfig, RedisMonitor, Topology};
use redis_gate_testkit::poll::eventually;
use redis_gate_testkit::redis::{RedisServer, cluster_state, start_cluster};
use redis_gate_testkit::tls::TestCertificates;

const DEADLINE: Duration = Duration::from_secs(20);

fn fast(config: RedisConfig) -> RedisConfig {
    config
        .check_interval(Duration::from_millis(100))
        .response_timeout(Duration::from_millis(250))
        .connect_timeout(Duration::from_millis(500))
        .backoff(Backoff::new(
            Duration::from_millis(50),
            Duration::from_millis(500),
        ))
}

#[tokio::test]
async fn tls_with_a_custom_ca_is_available_and_a_wrong_ca_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCertificates::generate(dir.path());
    let server = RedisServer::builder()
        .tls(&certs.cert, &certs.key, &certs.ca)
        .start();
    assert!(server.url().starts_with("rediss://"));

    let ca_pem = std::fs::read(&certs.ca).unwrap();
    let config = fast(
        RedisConfig::from_url(&server.url())
            .unwrap()
            .tls_ca_pem(&ca_pem),
    );
    let monitor = RedisMonitor::start(config).await.unwrap();
    assert!(
        monitor.wait_available(DEADLINE).await,
        "{:?}",
        monitor.availability().snapshot()
    );
    let mut conn = monitor.connection().await.unwrap();
    let _: () = conn.set("tls:key", "over tls").await.unwrap();
    let value: String = conn.get("tls:key").await.unwrap();
    assert_eq!(value, "over tls");

    // Another CA: the handshake fails, and the handle says so without internals.
    let other = tempfile::tempdir().unwrap();
    let wrong = TestCertificates::generate(other.path());
    let wrong_pem = std::fs::read(&wrong.ca).unwrap();
    let config = fast(
        RedisConfig::from_url(&server.url())
            .unwrap()
            .tls_ca_pem(&wrong_pem),
    );
    let monitor = RedisMonitor::start(config).await.unwrap();
    let redis = monitor.availability();
    assert!(eventually(DEADLINE, || redis.status() == Status::Failed).await);
    let reason = redis.snapshot().last_error().unwrap().to_owned();
    assert_eq!(reason, "TLS handshake failed");

    // `#insecure` skips verification altogether.
    let insecure = format!("{}#insecure", server.url());
    let monitor = RedisMonitor::start(fast(RedisConfig::from_url(&insecure).unwrap()))
        .await
        .unwrap();
    assert!(monitor.wait_available(DEADLINE).await);
}

#[tokio::test]
async fn cluster_is_available_while_its_state_is_ok() {
    let mut nodes = start_cluster();
    let seeds: Vec<String> = nodes.iter().map(RedisServer::url).collect();
    let config = fast(RedisConfig::cluster(&seeds).unwrap());
    assert_eq!(*config.topology(), Topology::Cluster);
    let monitor = RedisMonitor::start(config).await.unwrap();
    assert!(monitor.wait_available(DEADLINE).await);

    // Keys spread over all three nodes go through the cluster connection.
    let mut conn = monitor.connection().await.unwrap();
    for key in ["a", "b", "c", "d", "e"] {
        let _: () = conn.set(key, key).await.unwrap();
        let value: String = conn.get(key).await.unwrap();
        assert_eq!(value, key);
    }
    drop(conn);

    nodes[2].kill();
    let redis = monitor.availability();
    assert!(eventually(DEADLINE, || !redis.is_available()).await);
    assert_eq!(cluster_state(&nodes[0]), "fail");
    let reason = redis.snapshot().last_error().unwrap().to_owned();
    assert!(reason.contains("cluster_state"), "{reason}");

    nodes[2].restart();
    assert!(monitor.wait_available(DEADLINE).await);
}

#[tokio::test]
async fn sentinel_follows_the_master_through_a_failover() {
    let master = RedisServer::start();
    let replica = RedisServer::start();
    let master_port = master.port().to_string();
    replica
        .command(&["REPLICAOF", "127.0.0.1", &master_port])
        .unwrap();
    let sentinels: Vec<RedisServer> = (0..3)
        .map(|_| {
            let conf = format!(
                "sentinel monitor gate 127.0.0.1 {master_port} 2\n\
                 sentinel down-after-milliseconds gate 1000\n\
                 sentinel failover-timeout gate 5000\n\
                 sentinel parallel-syncs gate 1\n"
            );
            RedisServer::builder().config_file(&conf).sentinel().start()
        })
        .collect();
    let addrs: Vec<String> = sentinels
        .iter()
        .map(|s| format!("127.0.0.1:{}", s.port()))
        .collect();
    let config = fast(RedisConfig::sentinel(&addrs, "gate", None, None, 0).unwrap());
    let monitor = RedisMonitor::start(config).await.unwrap();
    assert!(
        monitor.wait_available(DEADLINE).await,
        "{:?}",
        monitor.availability().snapshot()
    );
    let mut conn = monitor.connection().await.unwrap();
    let _: () = conn.set("sentinel:key", "before").await.unwrap();
    drop(conn);

    let mut master = master;
    let killed = Instant::now();
    master.kill();
    let redis = monitor.availability();
    assert!(eventually(DEADLINE, || !redis.is_available()).await);
    let detected = killed.elapsed();

    // The replica is promoted; the handle comes back on it without restarting anything.
    assert!(monitor.wait_available(Duration::from_secs(30)).await);
    let recovered = killed.elapsed();
    let promoted = replica.command(&["ROLE"]).unwrap();
    assert!(promoted.starts_with("master"), "{promoted}");
    let mut conn = monitor.connection().await.unwrap();
    let _: () = conn.set("sentinel:key", "after").await.unwrap();
    println!(
        "sentinel failover: unavailable after {} ms, available on the new master after {} ms",
        detected.as_millis(),
        recovered.as_millis()
    );
    drop(sentinels);
}

#[tokio::test]
async fn topology_variables_configure_sentinel_and_cluster() {
    let vars = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    };
    let cluster = RedisConfig::from_lookup(
        vars(&[
            ("REDIS_CLUSTER_URLS", "n1:7000, n2:7001,redis://n3:7002"),
            ("REDIS_AUTH_TOKEN", "cluster-Secret"),
            ("REDIS_URL", "redis://ignored"),
        ]),
        None,
    )
    .unwrap();
    assert_eq!(*cluster.topology(), Topology::Cluster);
    assert_eq!(cluster.nodes(), ["n1:7000", "n2:7001", "n3:7002"]);
    assert_eq!(
        cluster.to_string(),
        "redis+cluster://:***@n1:7000,n2:7001,n3:7002"
    );
    assert_eq!(
        cluster.warnings(),
        ["REDIS_URL is ignored because REDIS_CLUSTER_URLS is set"]
    );
    assert!(!format!("{cluster:?}").contains("cluster-Secret"));

    let sentinel = RedisConfig::from_lookup(
        vars(&[
            ("REDIS_SENTINEL_URLS", "s1,s2:26380"),
            ("REDIS_SENTINEL_MASTER", "mymaster"),
            ("REDIS_USERNAME", "app"),
            ("REDIS_PASSWORD", "sentinel-Secret"),
            ("REDIS_DB", "2"),
        ]),
        None,
    )
    .unwrap();
    assert_eq!(
        *sentinel.topology(),
        Topology::Sentinel {
            master: "mymaster".to_owned()
        }
    );
    assert_eq!(
        sentinel.to_string(),
        "redis+sentinel://app:***@s1:26379,s2:26380/mymaster/2"
    );

    let err = RedisConfig::from_lookup(vars(&[("REDIS_SENTINEL_URLS", "s1")]), None).unwrap_err();
    assert_eq!(err.variable(), Some("REDIS_SENTINEL_MASTER"));
    let err = RedisConfig::from_lookup(
        vars(&[("REDIS_SENTINEL_URLS", "s1"), ("REDIS_CLUSTER_URLS", "n1")]),
        None,
    )
    .unwrap_err();
    assert_eq!(err.variable(), Some("REDIS_SENTINEL_URLS"));
    let err = RedisConfig::from_lookup(vars(&[("REDIS_CLUSTER_URLS", "n1/3")]), None).unwrap_err();
    assert!(err.to_string().contains("database 0"), "{err}");
}
