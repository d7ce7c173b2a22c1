//! redis-gate on a tonic gRPC server: the strict gate answers `UNAVAILABLE` the gRPC way while
//! Redis is down, and the standard health service (`grpc.health.v1.Health`) follows Redis, for
//! the overall service `""` and for `demo.Tickets`, so `grpc_health_probe` and Watch streams see
//! it flip. On SIGTERM every service goes `NOT_SERVING` for `SHUTDOWN_DRAIN_MS` (default 5000)
//! before the server stops.
//!
//! ```text
//! REDIS_URL=redis://127.0.0.1:6379 cargo run --example grpc --features tonic-health
//! ```
//!
//! The service, `demo.Tickets/Issue`, is written out by hand (what `tonic-build` would generate),
//! so the example needs no `protoc`.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use redis_gate::deadpool_redis::redis::AsyncCommands;
use redis_gate::{Drain, GatedPool, HealthMirror, RedisConfig, RedisMonitor, RequireRedisLayer};
use tonic::body::Body;
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::{Request, Response, Status};
use tonic_prost::ProstCodec;

/// `message IssueRequest { string user = 1; }`
#[derive(Clone, PartialEq, prost::Message)]
pub struct IssueRequest {
    /// Who the ticket is for.
    #[prost(string, tag = "1")]
    pub user: String,
}

/// `message IssueReply { string ticket = 1; }`
#[derive(Clone, PartialEq, prost::Message)]
pub struct IssueReply {
    /// The ticket.
    #[prost(string, tag = "1")]
    pub ticket: String,
}

/// `service Tickets { rpc Issue(IssueRequest) returns (IssueReply); }`
#[derive(Clone)]
struct Tickets {
    redis: GatedPool,
}

impl NamedService for Tickets {
    const NAME: &'static str = "demo.Tickets";
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl tower::Service<http::Request<Body>> for Tickets {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let tickets = self.clone();
        Box::pin(async move {
            match req.uri().path() {
                "/demo.Tickets/Issue" => {
                    let mut grpc = Grpc::new(ProstCodec::<IssueReply, IssueRequest>::default());
                    Ok(grpc.unary(tickets, req).await)
                }
                _ => Ok(Status::unimplemented("no such method").into_http()),
            }
        })
    }
}

impl UnaryService<IssueRequest> for Tickets {
    type Response = IssueReply;
    type Future = BoxFuture<Response<IssueReply>, Status>;

    fn call(&mut self, request: Request<IssueRequest>) -> Self::Future {
        let redis = self.redis.clone();
        Box::pin(async move {
            let user = request.into_inner().user;
            let ticket = format!("{user}-{:016x}", rand::random::<u64>());
            let mut conn = redis
                .get()
                .await
                .map_err(|err| Status::unavailable(err.to_string()))?;
            conn.set_ex::<_, _, ()>(format!("ws-ticket:{ticket}"), 1, 60)
                .await
                .map_err(|_| Status::unavailable("redis command failed"))?;
            Ok(Response::new(IssueReply { ticket }))
        })
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = RedisConfig::from_env_or("redis://127.0.0.1:6379")?;
    let monitor = RedisMonitor::start(config).await?;
    let redis = monitor.availability();

    // `""` too, which is what Kubernetes `grpc:` probes and `grpc_health_probe` ask for; and
    // everything `NOT_SERVING` once draining starts.
    let drain = Drain::default();
    let (health, health_service) = tonic_health::server::health_reporter();
    let mirror = HealthMirror::new(redis.clone())
        .service(Tickets::NAME)
        .drain(drain.clone());
    tokio::spawn(mirror.run(health));

    let addr = std::env::var("BIND_ADDR").unwrap_or_else(|_| "127.0.0.1:50051".to_owned());
    let drain_for = std::env::var("SHUTDOWN_DRAIN_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .map_or(Duration::from_secs(5), Duration::from_millis);
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);

    // Health checks must answer while Redis is down: they report it rather than fail with it.
    let gate = RequireRedisLayer::new(redis).exempt_prefix("/grpc.health.v1.Health");
    tonic::transport::Server::builder()
        .layer(gate)
        .add_service(health_service)
        .add_service(Tickets {
            redis: monitor.gated_pool(),
        })
        .serve_with_incoming_shutdown(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            async move {
                terminated().await;
                drain.start();
                println!("draining for {} ms", drain_for.as_millis());
                tokio::time::sleep(drain_for).await;
            },
        )
        .await?;
    monitor.shutdown().await;
    Ok(())
}

/// Resolves on SIGTERM (or SIGINT).
async fn terminated() {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler");
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
