//! The services both tower benchmarks measure, and a way to send one request without a runtime.

use std::convert::Infallible;
use std::future::{Future, Ready, ready};
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use redis_gate_core::Availability;
use redis_gate_tower::{CheckRedisLayer, ReadinessProbeLayer, RequireRedisLayer};
use tower::ServiceBuilder;
use tower::util::ServiceFn;
use tower_service::Service;

/// The trivial inner service: `service_fn` over a plain function, answering at once.
pub type Bare = ServiceFn<fn(Request<()>) -> Ready<Result<Response<Full<Bytes>>, Infallible>>>;

fn handler(_req: Request<()>) -> Ready<Result<Response<Full<Bytes>>, Infallible>> {
    ready(Ok(Response::new(Full::new(Bytes::new()))))
}

/// The bare service.
pub fn bare() -> Bare {
    tower::service_fn(handler as fn(_) -> _)
}

/// `RequireRedis` over the bare service.
pub fn require(redis: &Availability) -> impl Service<Request<()>, Error = Infallible> {
    ServiceBuilder::new()
        .layer(RequireRedisLayer::new(redis.clone()))
        .service(bare())
}

/// `CheckRedis` over the bare service.
pub fn check(redis: &Availability) -> impl Service<Request<()>, Error = Infallible> {
    ServiceBuilder::new()
        .layer(CheckRedisLayer::new(redis.clone()))
        .service(bare())
}

/// `ReadinessProbe` (one required check) over the bare service.
pub fn probe(redis: &Availability) -> impl Service<Request<()>, Error = Infallible> {
    ServiceBuilder::new()
        .layer(ReadinessProbeLayer::new().require(redis.clone()))
        .service(bare())
}

/// The probe outside, then `CheckRedis`, then `RequireRedis`, as the README orders them.
pub fn all_three(redis: &Availability) -> impl Service<Request<()>, Error = Infallible> {
    ServiceBuilder::new()
        .layer(ReadinessProbeLayer::new().require(redis.clone()))
        .layer(CheckRedisLayer::new(redis.clone()))
        .layer(RequireRedisLayer::new(redis.clone()))
        .service(bare())
}

/// `poll_ready` (what `ready().await` does), `call`, and the response future, each polled
/// once: every service here answers without waiting.
#[inline]
pub fn send<S>(service: &mut S, req: Request<()>) -> S::Response
where
    S: Service<Request<()>, Error = Infallible>,
{
    let mut cx = Context::from_waker(Waker::noop());
    if service.poll_ready(&mut cx).is_pending() {
        panic!("the benchmarked services are always ready");
    }
    let mut future = pin!(service.call(req));
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(Ok(res)) => res,
        Poll::Ready(Err(never)) => match never {},
        Poll::Pending => panic!("the benchmarked services answer at once"),
    }
}

/// `GET path`.
pub fn get(path: &'static str) -> Request<()> {
    Request::get(path).body(()).expect("a valid request")
}
