//! Two dependencies, one way of watching them: Redis through `RedisMonitor`, and a TCP upstream
//! (a billing service, say) through the same generic `Monitor`, with the same backoff, fall and
//! rise, startup policy, stall detection, transition logs and metrics. Readiness requires both;
//! each gates its own route.
//!
//! ```text
//! UPSTREAM_ADDR=127.0.0.1:7000 cargo run --example two_dependencies
//! ```
//!
//! Environment: the `REDIS_*` variables (with `redis://127.0.0.1:6379` when none is set);
//! `UPSTREAM_ADDR` (required: `host:port` of the upstream); `UPSTREAM_CHECK_INTERVAL_MS`
//! (default 1000); `BIND_ADDR` (default `127.0.0.1:3001`).
//!
//! | route | gate |
//! |---|---|
//! | `GET /ready` | readiness: `{"checks":{"redis":…,"billing":…}}` |
//! | `POST /api/tickets` | strict on Redis |
//! | `GET /api/billing/{id}` | strict on the upstream: `503 BILLING_UNAVAILABLE` while it is down |
//! | `GET /metrics` | Prometheus text: `redis_gate_available{dependency="billing"}` and the rest |

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Router, ServiceExt};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use redis_gate::monitor::{CheckError, CheckErrorKind, HealthCheck, Monitor, MonitorSettings};
use redis_gate::{ReadinessProbeLayer, RedisConfig, RedisMonitor, RequireRedisLayer};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceBuilder;

/// Available while the upstream accepts TCP connections: the whole check for a dependency
/// that is not Redis.
struct TcpCheck {
    addr: SocketAddr,
    timeout: Duration,
}

impl HealthCheck for TcpCheck {
    async fn check(&mut self) -> Result<Duration, CheckError> {
        let started = Instant::now();
        match tokio::time::timeout(self.timeout, TcpStream::connect(self.addr)).await {
            Ok(Ok(_)) => Ok(started.elapsed()),
            Ok(Err(err)) if err.kind() == std::io::ErrorKind::ConnectionRefused => Err(
                CheckError::new(CheckErrorKind::Connection, "connection refused"),
            ),
            Ok(Err(err)) => Err(CheckError::new(CheckErrorKind::Connection, err.to_string())),
            Err(_) => Err(CheckError::new(
                CheckErrorKind::Timeout,
                "connect timed out",
            )),
        }
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }
}

#[derive(Clone)]
struct App {
    upstream: SocketAddr,
    metrics: PrometheusHandle,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,redis=error,redis_gate=info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let metrics = PrometheusBuilder::new().install_recorder()?;

    let redis = RedisMonitor::start(RedisConfig::from_env_or("redis://127.0.0.1:6379")?).await?;
    let upstream: SocketAddr = std::env::var("UPSTREAM_ADDR")
        .map_err(|_| "UPSTREAM_ADDR is not set: the upstream's host:port, such as 127.0.0.1:7000")?
        .parse()
        .map_err(|_| "UPSTREAM_ADDR is not valid: an address such as 127.0.0.1:7000")?;
    let mut settings = MonitorSettings::default();
    if let Some(ms) = std::env::var("UPSTREAM_CHECK_INTERVAL_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
    {
        settings.check_interval = Duration::from_millis(ms);
    }
    // Events `upstream_connect_ok`, `upstream_connection_lost`, ... with `dependency="billing"`.
    let check = TcpCheck {
        addr: upstream,
        timeout: Duration::from_secs(1),
    };
    let billing = Monitor::start("upstream", "billing", check, settings).await?;

    let router = Router::new()
        .route("/api/tickets", post(|| async { "ticket" }))
        .route_layer(RequireRedisLayer::new(redis.availability()))
        .route(
            "/api/billing/{id}",
            get(invoice).route_layer(
                RequireRedisLayer::new(billing.availability()).error_code("BILLING_UNAVAILABLE"),
            ),
        )
        .route(
            "/metrics",
            get(|State(app): State<App>| async move { app.metrics.render() }),
        )
        .with_state(App { upstream, metrics });
    let probe = ReadinessProbeLayer::new()
        .require(redis.availability())
        .require(billing.availability());
    let app = ServiceBuilder::new().layer(probe).service(router);

    let bind = std::env::var("BIND_ADDR").unwrap_or_else(|_| "127.0.0.1:3001".to_owned());
    let listener = TcpListener::bind(&bind).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(
        listener,
        ServiceExt::<axum::extract::Request>::into_make_service(app),
    )
    .await?;
    // Both monitors live until here: a dropped one would make its handle say unavailable.
    drop((redis, billing));
    Ok(())
}

/// `GET /api/billing/{id}`: asks the upstream, a line-based service, for the invoice.
async fn invoice(State(app): State<App>, Path(id): Path<u32>) -> Response {
    let ask = async {
        let mut stream = TcpStream::connect(app.upstream).await?;
        stream
            .write_all(format!("invoice {id}\n").as_bytes())
            .await?;
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).await?;
        Ok::<_, std::io::Error>(line.trim_end().to_owned())
    };
    match tokio::time::timeout(Duration::from_secs(1), ask).await {
        Ok(Ok(answer)) => answer.into_response(),
        _ => (StatusCode::BAD_GATEWAY, "the upstream failed mid-request").into_response(),
    }
}
