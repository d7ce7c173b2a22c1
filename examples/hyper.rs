//! The redis-gate layers on a plain hyper 1 server, without axum: they need nothing but Tower and
//! `http`.
//!
//! ```text
//! REDIS_URL=redis://127.0.0.1:6379 cargo run --example hyper
//! curl -i localhost:3001/ready
//! curl -i localhost:3001/api/hello
//! ```

use std::convert::Infallible;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use redis_gate::{
    CheckRedisLayer, ReadinessProbeLayer, Reading, RedisConfig, RedisMonitor, RequireRedisLayer,
};
use tokio::net::TcpListener;
use tower::{ServiceBuilder, service_fn};

async fn hello(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let redis = req.extensions().get::<Reading>().copied();
    let text = format!(
        "hello; redis is {}\n",
        redis.map_or("unknown", Reading::as_str)
    );
    Ok(Response::new(Full::new(Bytes::from(text))))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = RedisConfig::from_env_or("redis://127.0.0.1:6379")?;
    let monitor = RedisMonitor::start(config).await?;
    let redis = monitor.availability();

    // Outermost first: probes answer before the gate, the gate before the handler.
    let service = ServiceBuilder::new()
        .layer(ReadinessProbeLayer::new().require(redis.clone()))
        .layer(RequireRedisLayer::new(redis.clone()))
        .layer(CheckRedisLayer::new(redis))
        .service(service_fn(hello));

    let addr = std::env::var("BIND_ADDR").unwrap_or_else(|_| "127.0.0.1:3001".to_owned());
    let listener = TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        let service = TowerToHyperService::new(service.clone());
        tokio::spawn(async move {
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
