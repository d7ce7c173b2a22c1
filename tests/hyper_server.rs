//! The layers on a plain hyper 1 server, without axum: they need nothing but Tower and `http`.

use std::convert::Infallible;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use redis_gate::{
    AvailabilityReporter, CheckRedisLayer, ReadinessProbeLayer, Reading, RequireRedisLayer, Status,
};
use redis_gate_testkit::http::{HttpClient, TestServer};
use tower::{ServiceBuilder, service_fn};

async fn handler(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let reading = req.extensions().get::<Reading>().copied();
    let text = format!(
        "handled with redis {}",
        reading.map_or("unknown", Reading::as_str)
    );
    Ok(Response::new(Full::new(Bytes::from(text))))
}

#[tokio::test]
async fn gate_check_and_probe_work_on_plain_hyper() {
    let reporter = AvailabilityReporter::default();
    let redis = reporter.availability();
    let service = ServiceBuilder::new()
        .layer(ReadinessProbeLayer::new().require(redis.clone()))
        .layer(RequireRedisLayer::new(redis.clone()).exempt_prefix("/public"))
        .layer(CheckRedisLayer::new(redis))
        .service(service_fn(handler));
    let server = TestServer::spawn(service).await;
    let client = HttpClient::new();

    let health = client.get(&server.url("/health")).await;
    assert_eq!(
        (health.status, health.body.as_str()),
        (StatusCode::OK, r#"{"status":"UP"}"#)
    );

    let gated = client.get(&server.url("/api")).await;
    assert_eq!(gated.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        gated.body,
        r#"{"error":"Service Temporarily Unavailable","errorCode":"REDIS_UNAVAILABLE","status":"connecting","retryAfter":1}"#
    );

    let public = client.get(&server.url("/public/page")).await;
    assert_eq!(public.status, StatusCode::OK);
    assert_eq!(public.body, "handled with redis connecting");

    reporter.set_status(Status::Connected);
    let api = client.send(Method::PUT, &server.url("/api"), "x").await;
    assert_eq!(api.status, StatusCode::OK);
    assert_eq!(api.body, "handled with redis connected");
    let ready = client.get(&server.url("/ready")).await;
    assert_eq!(ready.status, StatusCode::OK);
}
