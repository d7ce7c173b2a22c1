//! TLS, Redis Cluster and Redis Sentinel, each against real local servers the tests start.

use std::time::{Duration, Instant};

use deadpool_redis::redis::AsyncCommands;
use redis_gate_core::Status;
mod common;

use common::fast;
use redis_gate_deadpool::{Node, RedisConfig, RedisMonitor, Topology};
use redis_gate_testkit::poll::{DEADLINE, eventually};
use redis_gate_testkit::redis::{
    RedisServer, SENTINEL_MASTER, SentinelSet, cluster_state, start_cluster, start_cluster_with,
};
use redis_gate_testkit::tls::TestCertificates;

#[tokio::test]
async fn tls_with_a_custom_ca_is_available_and_a_wrong_ca_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCertificates::generate(dir.path());
    let server = RedisServer::builder()
        .tls(&certs.cert, &certs.key, &certs.ca)
        .start();
    assert!(server.url().starts_with("rediss://"));

    let ca_pem = std::fs::read(&certs.ca).unwrap();
    let mut config = fast(RedisConfig::from_url(&server.url()).unwrap());
    config.tls_ca = Some(ca_pem.into());
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
    let mut config = fast(RedisConfig::from_url(&server.url()).unwrap());
    config.tls_ca = Some(wrong_pem.into());
    let monitor = RedisMonitor::start(config).await.unwrap();
    let redis = monitor.availability();
    assert!(eventually(DEADLINE, || redis.status() == Status::Failed).await);
    let reason = redis.snapshot().last_error().unwrap().to_owned();
    assert_eq!(
        reason,
        "TLS handshake failed: the server's certificate is not signed by the CA in \
         REDIS_TLS_CA_FILE"
    );

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
    assert_eq!(config.topology().as_str(), "cluster");
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
    let mut set = SentinelSet::start();
    let config = fast(
        RedisConfig::sentinel(&set.sentinel_addrs(), SENTINEL_MASTER)
            .build()
            .unwrap(),
    );
    let monitor = RedisMonitor::start(config).await.unwrap();
    assert!(
        monitor.wait_available(DEADLINE).await,
        "{:?}",
        monitor.availability().snapshot()
    );
    let mut conn = monitor.connection().await.unwrap();
    let _: () = conn.set("sentinel:key", "before").await.unwrap();
    drop(conn);

    let killed = Instant::now();
    set.nodes[0].kill();
    let redis = monitor.availability();
    assert!(eventually(DEADLINE, || !redis.is_available()).await);
    let detected = killed.elapsed();

    // The replica is promoted; the handle comes back on it without restarting anything.
    assert!(monitor.wait_available(DEADLINE).await);
    let recovered = killed.elapsed();
    let promoted = set.nodes[1].command(&["ROLE"]).unwrap();
    assert!(promoted.starts_with("master"), "{promoted}");
    let mut conn = monitor.connection().await.unwrap();
    let _: () = conn.set("sentinel:key", "after").await.unwrap();
    println!(
        "sentinel failover: unavailable after {} ms, available on the new master after {} ms",
        detected.as_millis(),
        recovered.as_millis()
    );
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
    assert_eq!(cluster.topology().as_str(), "cluster");
    let seeds: Vec<String> = cluster
        .topology()
        .nodes()
        .iter()
        .map(Node::address)
        .collect();
    assert_eq!(seeds, ["n1:7000", "n2:7001", "n3:7002"]);
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
    assert!(
        matches!(sentinel.topology(), Topology::Sentinel { master, .. } if master == "mymaster"),
        "{sentinel:?}"
    );
    assert!(!format!("{sentinel:?}").contains("sentinel-Secret"));
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

/// `REDIS_*` variables for `RedisConfig::from_lookup`.
fn lookup(vars: Vec<(&'static str, String)>) -> impl Fn(&str) -> Option<String> {
    move |name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    }
}

#[tokio::test]
async fn a_cluster_over_tls_is_verified_with_the_ca_file() {
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCertificates::generate(dir.path());
    let nodes = start_cluster_with(|| {
        RedisServer::builder().tls_beside_plain(&certs.cert, &certs.key, &certs.ca)
    });
    let seeds: Vec<String> = nodes.iter().map(RedisServer::tls_url).collect();
    let ca = certs.ca.to_string_lossy().into_owned();
    let vars = vec![
        ("REDIS_CLUSTER_URLS", seeds.join(",")),
        ("REDIS_TLS_CA_FILE", ca),
    ];
    let mut config = fast(RedisConfig::from_lookup(lookup(vars), None).unwrap());
    // A pooled cluster connection makes a TLS handshake with every node, which takes a debug
    // build longer than the quick settings allow.
    config.timeouts.connect = Duration::from_secs(5);
    assert!(config.is_tls());
    let monitor = RedisMonitor::start(config).await.unwrap();
    assert!(
        monitor.wait_available(DEADLINE).await,
        "{:?}",
        monitor.availability().snapshot()
    );
    // Keys spread over all three nodes: every node is reached over verified TLS.
    let mut conn = monitor.connection().await.unwrap();
    for key in ["a", "b", "c", "d", "e"] {
        let _: () = conn.set(key, key).await.unwrap();
        let value: String = conn.get(key).await.unwrap();
        assert_eq!(value, key);
    }

    // Without the CA file the system roots do not know the test CA.
    let config = fast(RedisConfig::cluster(&seeds).unwrap());
    let monitor = RedisMonitor::start(config).await.unwrap();
    let redis = monitor.availability();
    assert!(eventually(DEADLINE, || redis.status() == Status::Failed).await);
    let reason = redis.snapshot().last_error().unwrap().to_owned();
    assert!(
        reason.contains("not signed by a CA the system trusts"),
        "{reason}"
    );
}

#[tokio::test]
async fn sentinel_over_tls_is_verified_with_the_ca_file() {
    let dir = tempfile::tempdir().unwrap();
    let certs = TestCertificates::generate(dir.path());
    let set = SentinelSet::start_with(3, || {
        RedisServer::builder().tls_beside_plain(&certs.cert, &certs.key, &certs.ca)
    });
    let urls: Vec<String> = set.sentinels.iter().map(RedisServer::tls_url).collect();
    let vars = vec![
        ("REDIS_SENTINEL_URLS", urls.join(",")),
        ("REDIS_SENTINEL_MASTER", SENTINEL_MASTER.to_owned()),
        ("REDIS_TLS_ENABLED", "true".to_owned()),
        ("REDIS_TLS_CA_FILE", certs.ca.to_string_lossy().into_owned()),
    ];
    let mut config = fast(RedisConfig::from_lookup(lookup(vars), None).unwrap());
    // A pooled connection asks a sentinel, then makes two TLS handshakes with the master.
    config.timeouts.connect = Duration::from_secs(5);
    let monitor = RedisMonitor::start(config).await.unwrap();
    assert!(
        monitor.wait_available(DEADLINE).await,
        "{:?}",
        monitor.availability().snapshot()
    );
    let mut conn = monitor.connection().await.unwrap();
    let _: () = conn.set("sentinel:tls", "verified").await.unwrap();
    let value: String = conn.get("sentinel:tls").await.unwrap();
    assert_eq!(value, "verified");
}
