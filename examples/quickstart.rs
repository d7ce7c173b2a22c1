//! The README quickstart: the three layers in an axum app on 127.0.0.1:3000.

use axum::{
    Extension, Router,
    routing::{get, post},
};
use redis_gate::{
    AvailabilityReporter, CheckRedisLayer, ReadinessProbeLayer, Reading, RequireRedisLayer,
};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    // Whoever watches Redis owns the reporter and keeps it true; everything else reads.
    let reporter = AvailabilityReporter::default();
    let redis = reporter.availability();

    let app = Router::new()
        .route("/tickets", post(|| async { "ticket" }))
        .route_layer(RequireRedisLayer::new(redis.clone()).error_code("TICKETS_NOT_READY"))
        .route("/profile", get(profile))
        .layer(CheckRedisLayer::new(redis.clone()))
        .layer(ReadinessProbeLayer::new().require(redis));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    axum::serve(listener, app).await
}

async fn profile(Extension(redis): Extension<Reading>) -> &'static str {
    if redis.is_available() {
        "from the cache"
    } else {
        "from the database"
    }
}
