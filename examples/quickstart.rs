//! The README quickstart: the three layers and the monitor in an axum app on 127.0.0.1:3000.

use axum::{
    Extension, Router,
    routing::{get, post},
};
use redis_gate::{
    CheckRedisLayer, ReadinessProbeLayer, Reading, RedisConfig, RedisMonitor, RequireRedisLayer,
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // REDIS_URL, or REDIS_HOST and friends; the fallback is explicit, never silent.
    let config = RedisConfig::from_env_or("redis://127.0.0.1:6379")?;
    let monitor = RedisMonitor::start(config).await?; // connects at once, retries in the background
    let redis = monitor.availability();

    let app = Router::new()
        .route("/tickets", post(|| async { "ticket" }))
        .route_layer(RequireRedisLayer::new(redis.clone()).error_code("TICKETS_NOT_READY"))
        .route("/profile", get(profile))
        .layer(CheckRedisLayer::new(redis.clone()))
        .layer(ReadinessProbeLayer::new().require(redis));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    axum::serve(listener, app).await?;
    Ok(())
}

async fn profile(Extension(redis): Extension<Reading>) -> &'static str {
    if redis.is_available() {
        "from the cache"
    } else {
        "from the database"
    }
}
