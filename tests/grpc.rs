//! The gRPC example (`examples/grpc.rs`) as a real process, called by a real tonic client: calls
//! fail with `UNAVAILABLE` while Redis is down, and the health Watch stream follows Redis.

use std::path::PathBuf;
use std::time::Duration;

use redis_gate_testkit::process::{Spawned, built};
use redis_gate_testkit::redis::{RedisServer, free_port};
use tonic::Code;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

const DEADLINE: Duration = Duration::from_secs(15);

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

#[tokio::test]
async fn grpc_calls_and_health_watch_follow_redis() {
    let mut redis = RedisServer::start();
    let bind = format!("127.0.0.1:{}", free_port());
    let server = Spawned::start(
        &example_binary(),
        &[
            ("REDIS_URL", &redis.url()),
            ("BIND_ADDR", &bind),
            ("REDIS_CHECK_INTERVAL_MS", "100"),
            ("REDIS_BACKOFF_MAX_MS", "500"),
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

    let mut health = HealthClient::new(channel.clone());
    let mut watch = health
        .watch(HealthCheckRequest {
            service: "demo.Tickets".to_owned(),
        })
        .await
        .expect("watch")
        .into_inner();
    let mut next_status = async || {
        let message = tokio::time::timeout(DEADLINE, watch.message())
            .await
            .expect("a health update in time")
            .expect("a healthy stream")
            .expect("a message");
        ServingStatus::try_from(message.status).unwrap()
    };

    // The first update may come before the monitor connects.
    let mut status = next_status().await;
    if status != ServingStatus::Serving {
        status = next_status().await;
    }
    assert_eq!(status, ServingStatus::Serving);
    let reply = issue(&channel).await.expect("a ticket while Redis is up");
    assert!(reply.ticket.starts_with("ada-"));

    redis.kill();
    assert_eq!(next_status().await, ServingStatus::NotServing);
    let err = issue(&channel)
        .await
        .expect_err("no ticket while Redis is down");
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    assert!(err.message().contains("redis unavailable"), "{err:?}");

    redis.restart();
    assert_eq!(next_status().await, ServingStatus::Serving);
    assert!(issue(&channel).await.is_ok());
}
