//! The gRPC example (`examples/grpc.rs`) as a real process, called by a real tonic client: calls
//! fail with `UNAVAILABLE` while Redis is down, and the health Watch stream follows Redis; and
//! `HealthMirror` in process, behind a real tonic server, when its monitor stops.

use std::path::PathBuf;
use std::time::Duration;

use redis_gate::{HealthMirror, RedisConfig, RedisMonitor};
use redis_gate_testkit::poll::DEADLINE;
use redis_gate_testkit::process::{Spawned, built};
use redis_gate_testkit::redis::{RedisServer, free_port};
use tonic::Code;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

#[derive(Clone, PartialEq, prost::Message)]
struct IssueRequest {
    #[prost(string, tag = "1")]
    user: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct IssueReply {
    #[prost(string, tag = "1")]
    ticket: String,
}

fn example_binary() -> PathBuf {
    built(
        "examples/grpc",
        "cargo build --example grpc --features tonic-health",
    )
}

async fn issue(channel: &Channel) -> Result<IssueReply, tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready().await.expect("the channel is ready");
    let request = tonic::Request::new(IssueRequest {
        user: "ada".to_owned(),
    });
    let path = PathAndQuery::from_static("/demo.Tickets/Issue");
    let codec = tonic_prost::ProstCodec::<IssueRequest, IssueReply>::default();
    grpc.unary(request, path, codec)
        .await
        .map(tonic::Response::into_inner)
}

/// The next status a Watch stream reports.
async fn next_status(watch: &mut tonic::Streaming<HealthCheckResponse>) -> ServingStatus {
    let message = tokio::time::timeout(DEADLINE, watch.message())
        .await
        .expect("a health update in time")
        .expect("a healthy stream")
        .expect("a message");
    ServingStatus::try_from(message.status).unwrap()
}

/// Reads `watch` until it reports `wanted`; the first updates may predate the monitor's
/// connection.
async fn watch_reports(watch: &mut tonic::Streaming<HealthCheckResponse>, wanted: ServingStatus) {
    for _ in 0..3 {
        if next_status(watch).await == wanted {
            return;
        }
    }
    panic!("the watch never reported {wanted:?}");
}

async fn check(health: &mut HealthClient<Channel>, service: &str) -> ServingStatus {
    let reply = health
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .expect("check")
        .into_inner();
    ServingStatus::try_from(reply.status).unwrap()
}

async fn watch(
    health: &mut HealthClient<Channel>,
    service: &str,
) -> tonic::Streaming<HealthCheckResponse> {
    health
        .watch(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .expect("watch")
        .into_inner()
}

#[tokio::test]
async fn grpc_calls_and_health_checks_follow_redis_and_drain() {
    let mut redis = RedisServer::start();
    let bind = format!("127.0.0.1:{}", free_port());
    let server = Spawned::start(
        &example_binary(),
        &[
            ("REDIS_URL", &redis.url()),
            ("BIND_ADDR", &bind),
            ("REDIS_CHECK_INTERVAL_MS", "100"),
            ("REDIS_BACKOFF_MAX_MS", "500"),
            ("SHUTDOWN_DRAIN_MS", "60000"),
        ],
    );
    assert!(
        server.wait_for_line("listening on", DEADLINE).is_some(),
        "{}",
        server.output()
    );
    let channel = Channel::from_shared(format!("http://{bind}"))
        .unwrap()
        .connect()
        .await
        .expect("connect to the example");

    // What Kubernetes' `grpc:` probe and `grpc_health_probe` ask by default is the service `""`.
    let mut health = HealthClient::new(channel.clone());
    let mut named = watch(&mut health, "demo.Tickets").await;
    let mut overall = watch(&mut health, "").await;
    watch_reports(&mut named, ServingStatus::Serving).await;
    watch_reports(&mut overall, ServingStatus::Serving).await;
    assert_eq!(check(&mut health, "").await, ServingStatus::Serving);
    let reply = issue(&channel).await.expect("a ticket while Redis is up");
    assert!(reply.ticket.starts_with("ada-"));

    redis.kill();
    assert_eq!(next_status(&mut named).await, ServingStatus::NotServing);
    assert_eq!(next_status(&mut overall).await, ServingStatus::NotServing);
    assert_eq!(check(&mut health, "").await, ServingStatus::NotServing);
    let err = issue(&channel)
        .await
        .expect_err("no ticket while Redis is down");
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    assert!(err.message().contains("redis unavailable"), "{err:?}");
    // Milliseconds until the next retry and its check, which the 500 ms backoff cap keeps
    // below a second.
    let pushback: u64 = err
        .metadata()
        .get("grpc-retry-pushback-ms")
        .expect("a retry pushback")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=550).contains(&pushback), "{pushback}");

    redis.restart();
    assert_eq!(next_status(&mut named).await, ServingStatus::Serving);
    assert_eq!(next_status(&mut overall).await, ServingStatus::Serving);
    assert!(issue(&channel).await.is_ok());

    // Draining: every service goes NOT_SERVING while Redis stays up and calls still work.
    server.terminate();
    assert_eq!(next_status(&mut named).await, ServingStatus::NotServing);
    assert_eq!(next_status(&mut overall).await, ServingStatus::NotServing);
    assert_eq!(check(&mut health, "").await, ServingStatus::NotServing);
    assert_eq!(
        check(&mut health, "demo.Tickets").await,
        ServingStatus::NotServing
    );
    assert!(issue(&channel).await.is_ok(), "draining is not stopping");
}

#[tokio::test]
async fn a_stopped_monitor_turns_every_mirrored_service_not_serving() {
    let redis = RedisServer::start();
    let mut config = RedisConfig::from_url(&redis.url()).unwrap();
    config.monitor.check_interval = Duration::from_millis(100);
    let monitor = RedisMonitor::start(config).await.unwrap();
    assert!(monitor.wait_available(DEADLINE).await);
    let (reporter, service) = tonic_health::server::health_reporter();
    let mirror = tokio::spawn(
        HealthMirror::new(monitor.availability())
            .service("demo.Tickets")
            .run(reporter),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .expect("connect to the health service");
    let mut health = HealthClient::new(channel);
    let mut named = watch(&mut health, "demo.Tickets").await;
    let mut overall = watch(&mut health, "").await;
    watch_reports(&mut named, ServingStatus::Serving).await;
    watch_reports(&mut overall, ServingStatus::Serving).await;

    // Redis is fine, but nothing watches it any more.
    drop(monitor);
    assert_eq!(next_status(&mut named).await, ServingStatus::NotServing);
    assert_eq!(next_status(&mut overall).await, ServingStatus::NotServing);
    assert_eq!(check(&mut health, "").await, ServingStatus::NotServing);
    tokio::time::timeout(DEADLINE, mirror)
        .await
        .expect("the mirror ends with its monitor")
        .unwrap();
    assert_eq!(redis.command(&["PING"]), Ok("PONG".to_owned()));
}
