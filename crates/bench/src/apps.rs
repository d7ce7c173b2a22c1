//! The services under test, as axum routers. Every variant serves the same handler on [`PATH`];
//! only what stands in front of it changes.
//!
//! Every router is returned after `with_state(())`, as `axum::serve` prepares it: that turns
//! each handler into a route once. A router served or called without it re-applies every layer
//! to the handler on every request, which would bill axum's conversion to the layers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::{Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use redis_gate::deadpool_redis::redis;
use redis_gate::layers::{CheckRedis, ReadinessProbe, RequireRedis};
use redis_gate::{
    Availability, CheckRedisLayer, ReadinessProbeLayer, Reading, RedisPool, RequireRedisLayer,
};
use tower::ServiceBuilder;

/// The route every variant serves.
pub const PATH: &str = "/api";

/// The JSON a hand-written gate answers with: the same bytes `RequireRedis` sends by default
/// while Redis is disconnected, so the two rejections cost the same to write.
pub const UNAVAILABLE_JSON: &str = r#"{"error":"Service Temporarily Unavailable","errorCode":"REDIS_UNAVAILABLE","status":"disconnected","retryAfter":1}"#;

/// The handler behind every variant: a static `200 ok`.
pub async fn hello() -> &'static str {
    "ok"
}

/// Variant 1, the baseline: the handler alone.
pub fn bare() -> Router {
    Router::new().route(PATH, get(hello)).with_state(())
}

/// Variant 2, the gated service: the three layers wrapped around the finished router with
/// `ServiceBuilder` (the probe outermost, so it answers before the gate), as the README shows
/// for a service whose routes all need Redis.
pub type Gated = ReadinessProbe<RequireRedis<CheckRedis<Router>>>;

/// Variant 2: the handler behind all three redis-gate layers, see [`Gated`].
pub fn gated(redis: Availability) -> Gated {
    ServiceBuilder::new()
        .layer(ReadinessProbeLayer::new().require(redis.clone()))
        .layer(RequireRedisLayer::new(redis.clone()))
        .layer(CheckRedisLayer::new(redis))
        .service(bare())
}

/// The probe and `CheckRedis` around the router, `RequireRedis` on the route only.
pub type PerRoute = ReadinessProbe<CheckRedis<Router>>;

/// Variant 2b, the README's per-route layout: `RequireRedis` as a route layer (axum wraps the
/// route in another boxed service for it), the probe and `CheckRedis` around the router.
pub fn gated_per_route(redis: Availability) -> PerRoute {
    let router = Router::new()
        .route(PATH, get(hello))
        .route_layer(RequireRedisLayer::new(redis.clone()))
        .with_state(());
    ServiceBuilder::new()
        .layer(ReadinessProbeLayer::new().require(redis.clone()))
        .layer(CheckRedisLayer::new(redis))
        .service(router)
}

/// All three layers added with axum's own `route_layer` and `layer`: what axum charges for
/// its layering, measured in instructions only.
pub fn router_layers(redis: Availability) -> Router {
    Router::new()
        .route(PATH, get(hello))
        .route_layer(RequireRedisLayer::new(redis.clone()))
        .layer(CheckRedisLayer::new(redis.clone()))
        .layer(ReadinessProbeLayer::new().require(redis))
        .with_state(())
}

/// Variant 3, the gate people write by hand: take a connection from the pool and `PING` on
/// every request; any error answers 503.
pub fn naive_ping(pool: RedisPool) -> Router {
    Router::new()
        .route(PATH, get(hello))
        .route_layer(from_fn_with_state(pool, ping_gate))
        .with_state(())
}

async fn ping_gate(State(pool): State<RedisPool>, req: Request, next: Next) -> Response {
    if ping(&pool).await {
        next.run(req).await
    } else {
        unavailable()
    }
}

async fn ping(pool: &RedisPool) -> bool {
    let Ok(mut conn) = pool.get().await else {
        return false;
    };
    redis::cmd("PING")
        .query_async::<String>(&mut conn)
        .await
        .is_ok_and(|pong| pong == "PONG")
}

/// Variant 4: an axum `from_fn` middleware reading an `Arc<AtomicBool>` that something else
/// keeps up to date.
pub fn atomic_bool(flag: Arc<AtomicBool>) -> Router {
    Router::new()
        .route(PATH, get(hello))
        .route_layer(from_fn_with_state(flag, flag_gate))
        .with_state(())
}

async fn flag_gate(State(flag): State<Arc<AtomicBool>>, req: Request, next: Next) -> Response {
    if flag.load(Ordering::Acquire) {
        next.run(req).await
    } else {
        unavailable()
    }
}

/// The reference for the rejection path: a handler that answers a static 503 with the same
/// headers and body as the gate.
pub fn static_503() -> Router {
    Router::new()
        .route(PATH, get(|| async { unavailable() }))
        .with_state(())
}

fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [
            (CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (RETRY_AFTER, HeaderValue::from_static("1")),
        ],
        UNAVAILABLE_JSON,
    )
        .into_response()
}

/// The header the soft route of [`timeline`] sets: `cache` while Redis is available, `bypass`
/// while the handler serves without it.
pub const SOURCE_HEADER: &str = "x-source";

/// The service of the timeline run: `/strict` behind `RequireRedis`, `/soft` under `CheckRedis`
/// (its handler says whether it would have used Redis), `/naive` behind the hand-written `PING`
/// gate, and the readiness probe around them.
pub fn timeline(redis: Availability, pool: RedisPool) -> Router {
    let strict = Router::new()
        .route("/strict", get(hello))
        .route_layer(RequireRedisLayer::new(redis.clone()));
    let naive = Router::new()
        .route("/naive", get(hello))
        .route_layer(from_fn_with_state(pool, ping_gate));
    Router::new()
        .route("/soft", get(soft))
        .merge(strict)
        .merge(naive)
        .layer(CheckRedisLayer::new(redis.clone()))
        .layer(ReadinessProbeLayer::new().require(redis))
        .with_state(())
}

async fn soft(Extension(redis): Extension<Reading>) -> impl IntoResponse {
    let source = if redis.is_available() {
        "cache"
    } else {
        "bypass"
    };
    ([(SOURCE_HEADER, source)], "ok")
}
