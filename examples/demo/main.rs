//! The redis-gate demo: an axum service that shows every part of redis-gate against a real Redis,
//! and still starts (degraded) on a machine where Redis is not running yet.
//!
//! ```text
//! cargo run --example demo
//! ```
//!
//! Environment: the monitor's `REDIS_*` variables (see the README); `BIND_ADDR` (default
//! `127.0.0.1:3000`); `APP_ENV` (`production` fails closed unless `REDIS_FAIL_CLOSED=false`, and
//! requires a Redis configuration; anything else runs degraded and falls back to
//! `redis://127.0.0.1:6379` with one warning); `READINESS_REDIS` (`required`, the default,
//! `optional` or `startup`: how Redis counts for readiness); `HEADER_READ_TIMEOUT_MS` (default
//! 10000: a connection that has not sent a whole request head in time is closed);
//! `LOG_FORMAT` (`pretty` or `json`); `RUST_LOG` (default `info,redis=error,redis_gate=info`: our own events, not
//! the Redis client's internals); `SHUTDOWN_DRAIN_MS` (default 5000: how long readiness says
//! `DRAINING` after SIGTERM before the server stops accepting); `HEALTH_DETAILS_TOKEN`.
//!
//! It serves HTTP/1.1 and HTTP/2 (cleartext) with `TCP_NODELAY` on every connection; see
//! `serve.rs`.
//!
//! | route | gate |
//! |---|---|
//! | `GET /health` | liveness, never looks at Redis |
//! | `GET /ready`, `GET /healthz` | readiness, Redis required (see `READINESS_REDIS`); `?verbose` for text |
//! | `GET /startup` | startup: 503 until the monitor's startup decision, then 200 |
//! | `GET /health/dependencies` | details (behind `HEALTH_DETAILS_TOKEN` when set: 404 without it) |
//! | `GET /metrics` | Prometheus text format |
//! | `POST /api/v1/auth/ws-ticket` | strict: `503 WS_TICKET_REDIS_NOT_READY` while Redis is down |
//! | `GET /api/v1/cache/{key}` | soft: `x-cache: hit`, `miss`, or `bypass` while Redis is down |
//! | `PUT /api/v1/cache/{key}` | strict |

mod serve;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::handler::Handler;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use metrics::{Counter, counter};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use rand::RngCore;
use redis_gate::deadpool_redis::redis::{self, AsyncCommands};
use redis_gate::{
    Access, Availability, CheckRedisLayer, ConfigError, GatedPool, PooledConnection,
    ReadinessProbeLayer, Reading, RedisConfig, RedisMonitor, RequireRedisLayer, StartupPolicy,
    UnavailableResponse,
};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tracing::{error, info, warn};

const DEVELOPMENT_URL: &str = "redis://127.0.0.1:6379";
/// Our own events at `info`; the Redis client's internals (reconnect chatter during a cluster
/// outage) only when they are errors. Start from this when you set `RUST_LOG`.
const DEFAULT_LOG_FILTER: &str = "info,redis=error,redis_gate=info";
const TICKET_TTL_SECONDS: u64 = 60;
const CACHE_TTL_SECONDS: u64 = 300;
/// The pretend cost of computing a value without the cache.
const ORIGIN_DELAY: Duration = Duration::from_millis(20);

#[derive(Clone)]
struct App {
    redis: GatedPool,
    /// Bounds every Redis round trip a handler makes, so a frozen Redis never holds a request.
    redis_timeout: Duration,
    /// What the gates on the ticket and cache-write routes answer, for when Redis fails after
    /// they let a request through.
    tickets_unavailable: UnavailableResponse,
    cache_unavailable: UnavailableResponse,
    metrics: Option<PrometheusHandle>,
    cache_results: CacheCounters,
}

/// `demo_cache_requests_total{result}`: a canary rollout to Redis watches the hit rate.
#[derive(Clone)]
struct CacheCounters {
    hit: Counter,
    miss: Counter,
    bypass: Counter,
}

impl CacheCounters {
    fn register() -> CacheCounters {
        let counter =
            |result: &'static str| counter!("demo_cache_requests_total", "result" => result);
        CacheCounters {
            hit: counter("hit"),
            miss: counter("miss"),
            bypass: counter("bypass"),
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    init_logging();
    // Installed before anything registers a metric, so every handle reports to it.
    let buckets = [
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    ];
    let metrics = match PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full("redis_gate_check_duration_seconds".to_owned()),
            &buckets,
        )
        .and_then(PrometheusBuilder::install_recorder)
    {
        Ok(handle) => Some(handle),
        Err(err) => {
            warn!(error = %err, "metrics_unavailable");
            None
        }
    };
    let production = env("APP_ENV").is_some_and(|v| v.eq_ignore_ascii_case("production"));

    let config = match redis_config(production) {
        Ok(config) => config,
        Err(err) => {
            error!(reason = err.to_string().as_str(), "redis_config_invalid");
            return ExitCode::from(2);
        }
    };
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(err) => {
            error!(reason = err.as_str(), "config_invalid");
            return ExitCode::from(2);
        }
    };
    let bind_addr = env("BIND_ADDR").unwrap_or_else(|| "127.0.0.1:3000".to_owned());
    let bind_addr: SocketAddr = match bind_addr.parse() {
        Ok(addr) => addr,
        Err(_) => {
            let reason =
                format!("BIND_ADDR={bind_addr:?} is not valid: an address such as 127.0.0.1:3000");
            error!(reason = reason.as_str(), "config_invalid");
            return ExitCode::from(2);
        }
    };

    let redis_timeout = config.timeouts.response;
    let monitor = match RedisMonitor::start(config).await {
        Ok(monitor) => monitor,
        // The monitor has logged `redis_connect_fatal` or `redis_config_invalid`.
        Err(_) => return ExitCode::from(1),
    };
    let redis = monitor.availability();
    let tickets_gate =
        RequireRedisLayer::new(redis.clone()).error_code("WS_TICKET_REDIS_NOT_READY");
    let cache_gate = RequireRedisLayer::new(redis.clone());
    let app = App {
        redis: monitor.gated_pool(),
        redis_timeout,
        tickets_unavailable: tickets_gate.unavailable_response(),
        cache_unavailable: cache_gate.unavailable_response(),
        metrics,
        cache_results: CacheCounters::register(),
    };
    if let Some(handle) = app.metrics.clone() {
        // Histograms keep their samples until upkeep folds them in.
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                handle.run_upkeep();
            }
        });
    }
    let mut probe = settings
        .readiness
        .add_to(ReadinessProbeLayer::new(), redis.clone())
        .details_path("/health/dependencies");
    if let Some(token) = env("HEALTH_DETAILS_TOKEN") {
        probe = probe.details_token(&token);
    }
    let drain = probe.drain_handle();

    let router = Router::new()
        .route("/api/v1/auth/ws-ticket", post(issue_ticket))
        .route_layer(tickets_gate)
        .route(
            "/api/v1/cache/{key}",
            // Writes need Redis; reads degrade to the origin.
            get(read_cache).put(write_cache.layer(cache_gate)),
        )
        .route("/metrics", get(render_metrics))
        .with_state(app);
    // Around the finished router, not `Router::layer`: axum re-wraps every route for each
    // router layer, at a cost per request, while these two need no routing at all.
    let service = ServiceBuilder::new()
        .layer(probe)
        .layer(CheckRedisLayer::new(redis))
        .service(router);

    let listener = match TcpListener::bind(bind_addr).await {
        Ok(listener) => listener,
        Err(err) => {
            error!(addr = %bind_addr, error = %err, "server_bind_failed");
            monitor.shutdown().await;
            return ExitCode::from(1);
        }
    };
    let addr = listener.local_addr().unwrap_or(bind_addr);
    info!(addr = %addr, "server_listening");
    println!("listening on http://{addr}");

    let drain_for = settings.drain_for;
    serve::serve(
        listener,
        service,
        settings.header_read_timeout,
        async move {
            shutdown_signal().await;
            // Readiness says DRAINING at once, so the load balancer stops sending new traffic
            // while everything keeps working; only then does the server stop accepting.
            drain.start();
            info!(drain_ms = drain_for.as_millis() as u64, "server_draining");
            tokio::time::sleep(drain_for).await;
        },
    )
    .await;
    // Kept alive until here: a dropped monitor would make the handle say Redis is unavailable.
    monitor.shutdown().await;
    info!("server_stopped");
    ExitCode::SUCCESS
}

/// The demo's own settings, beside the monitor's `REDIS_*` ones.
struct Settings {
    readiness: Readiness,
    header_read_timeout: Duration,
    drain_for: Duration,
}

/// How Redis counts for readiness (`READINESS_REDIS`).
#[derive(Clone, Copy)]
enum Readiness {
    Required,
    Optional,
    Startup,
}

impl Settings {
    fn from_env() -> Result<Settings, String> {
        let readiness = match env("READINESS_REDIS").as_deref() {
            None | Some("required") => Readiness::Required,
            Some("optional") => Readiness::Optional,
            Some("startup") => Readiness::Startup,
            Some(other) => {
                return Err(format!(
                    "READINESS_REDIS={other:?} is not valid: required (the default), optional, \
                     or startup (required until Redis has been up once)"
                ));
            }
        };
        Ok(Settings {
            readiness,
            header_read_timeout: millis("HEADER_READ_TIMEOUT_MS", 10_000)?,
            drain_for: millis("SHUTDOWN_DRAIN_MS", 5000)?,
        })
    }
}

impl Readiness {
    fn add_to(self, probe: ReadinessProbeLayer, redis: Availability) -> ReadinessProbeLayer {
        match self {
            Readiness::Required => probe.require(redis),
            Readiness::Optional => probe.optional(redis),
            Readiness::Startup => probe.require_at_startup(redis),
        }
    }
}

/// A duration in milliseconds from `name`, or `default` when it is unset.
fn millis(name: &str, default: u64) -> Result<Duration, String> {
    match env(name) {
        None => Ok(Duration::from_millis(default)),
        Some(ms) => ms
            .parse()
            .map(Duration::from_millis)
            .map_err(|_| format!("{name}={ms:?} is not valid: a whole number of milliseconds")),
    }
}

/// The Redis settings, with the demo's environment rules on top of the library's.
fn redis_config(production: bool) -> Result<RedisConfig, ConfigError> {
    let config = match RedisConfig::from_env() {
        Err(ConfigError::Missing) if !production => {
            warn!(url = DEVELOPMENT_URL, "redis_config_default");
            RedisConfig::from_env_or(DEVELOPMENT_URL)?
        }
        other => other?,
    };
    // Production fails closed unless told otherwise: a task without Redis should not take traffic.
    let mut config = config;
    if production && env("REDIS_FAIL_CLOSED").is_none() {
        config.monitor.startup = StartupPolicy::FailClosed;
    }
    Ok(config)
}

/// `POST /api/v1/auth/ws-ticket`: a one-minute ticket for a websocket handshake.
async fn issue_ticket(State(app): State<App>) -> Response {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    let ticket: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let key = format!("ws-ticket:{ticket}");
    let stored = app
        .with_redis(Access::ReadWrite, async |conn| {
            conn.set_ex::<_, _, ()>(&key, 1, TICKET_TTL_SECONDS).await
        })
        .await;
    match stored {
        Some(()) => {
            Json(json!({ "ticket": ticket, "ttlSeconds": TICKET_TTL_SECONDS })).into_response()
        }
        None => app.tickets_unavailable.into_response(),
    }
}

/// `GET /api/v1/cache/{key}`: from Redis when it can read, from the slow origin when it cannot.
/// A read-only Redis (writes refused) still serves hits; a miss is not written back then.
async fn read_cache(
    State(app): State<App>,
    Extension(redis): Extension<Reading>,
    Path(key): Path<String>,
) -> Response {
    let cache_key = format!("cache:{key}");
    if redis.can_read() {
        let cached = app
            .with_redis(Access::Read, async |conn| {
                conn.get::<_, Option<String>>(&cache_key).await
            })
            .await;
        match cached {
            Some(Some(text)) => {
                let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
                app.cache_results.hit.increment(1);
                return cache_response("hit", &key, value, "cache");
            }
            Some(None) => {
                let value = origin(&key).await;
                let text = value.to_string();
                // Best effort: a failed write only costs the next reader a miss; while writes
                // are refused, it is not tried.
                if redis.can_write() {
                    let _ = app
                        .with_redis(Access::ReadWrite, async |conn| {
                            conn.set_ex::<_, _, ()>(&cache_key, &text, CACHE_TTL_SECONDS)
                                .await
                        })
                        .await;
                }
                app.cache_results.miss.increment(1);
                return cache_response("miss", &key, value, "origin");
            }
            None => {}
        }
    }
    let value = origin(&key).await;
    app.cache_results.bypass.increment(1);
    cache_response("bypass", &key, value, "origin")
}

/// `GET /metrics`: the Prometheus text format.
async fn render_metrics(State(app): State<App>) -> Response {
    match &app.metrics {
        Some(handle) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            handle.render(),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `PUT /api/v1/cache/{key}`: stores the JSON body.
async fn write_cache(
    State(app): State<App>,
    Path(key): Path<String>,
    Json(value): Json<Value>,
) -> Response {
    let cache_key = format!("cache:{key}");
    let text = value.to_string();
    let stored = app
        .with_redis(Access::ReadWrite, async |conn| {
            conn.set_ex::<_, _, ()>(&cache_key, &text, CACHE_TTL_SECONDS)
                .await
        })
        .await;
    match stored {
        Some(()) => StatusCode::NO_CONTENT.into_response(),
        None => app.cache_unavailable.into_response(),
    }
}

impl App {
    /// Runs `op` on a pooled connection for `access` within the Redis response timeout; `None`
    /// if Redis cannot serve it, is slow, or answered with an error.
    async fn with_redis<T>(
        &self,
        access: Access,
        op: impl AsyncFnOnce(&mut PooledConnection) -> redis::RedisResult<T>,
    ) -> Option<T> {
        let work = async {
            let conn = match access {
                Access::ReadWrite => self.redis.get().await,
                Access::Read => self.redis.get_read().await,
            };
            let mut conn = conn.ok()?;
            op(&mut conn).await.ok()
        };
        tokio::time::timeout(self.redis_timeout, work)
            .await
            .ok()
            .flatten()
    }
}

async fn origin(key: &str) -> Value {
    tokio::time::sleep(ORIGIN_DELAY).await;
    Value::String(format!("value of {key}"))
}

fn cache_response(cache: &'static str, key: &str, value: Value, source: &str) -> Response {
    let mut res = Json(json!({ "key": key, "value": value, "source": source })).into_response();
    res.headers_mut()
        .insert("x-cache", HeaderValue::from_static(cache));
    res
}

fn env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if env("LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json")) {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let terminated = async {
        match terminate.as_mut() {
            Some(signal) => {
                signal.recv().await;
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = interrupt => info!(signal = "SIGINT", "server_shutdown_started"),
        () = terminated => info!(signal = "SIGTERM", "server_shutdown_started"),
    }
}
