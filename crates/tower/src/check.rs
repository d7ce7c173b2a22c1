//! Tell the handler whether Redis is available, and let it decide.

use std::task::{Context, Poll};

use http::Request;
use redis_gate_core::Availability;
use tower_layer::Layer;
use tower_service::Service;

use crate::middleware::impl_inner_accessors;

/// Layer that applies [`CheckRedis`]: tell the handler whether Redis is available, and let it
/// decide.
///
/// [`CheckRedis`] puts the handle's [`Reading`](redis_gate_core::Reading) into the request extensions and always calls the
/// inner service, so a handler can skip its cache, fall back to the database, or answer from a
/// slower origin instead of failing.
///
/// ```
/// # mod redis_gate { pub use redis_gate_core::*; pub use redis_gate_tower::*; pub mod layers { pub use redis_gate_tower::*; } }
/// use std::convert::Infallible;
///
/// use http::{Request, Response};
/// use redis_gate::{AvailabilityReporter, CheckRedisLayer, Reading};
/// use tower::{Service, ServiceBuilder, ServiceExt, service_fn};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Infallible> {
/// let reporter = AvailabilityReporter::default();
/// let mut service = ServiceBuilder::new()
///     .layer(CheckRedisLayer::new(reporter.availability()))
///     .service(service_fn(|req: Request<()>| async move {
///         let redis = req.extensions().get::<Reading>().copied();
///         let source = match redis {
///             Some(redis) if redis.is_available() => "cache",
///             _ => "origin",
///         };
///         Ok::<_, Infallible>(Response::new(source))
///     }));
///
/// let res = service.ready().await?.call(Request::new(())).await?;
/// assert_eq!(*res.body(), "origin");
/// # Ok(())
/// # }
/// ```
///
/// In axum, a handler takes it with `Extension(redis): Extension<Reading>`; the `redis-gate`
/// crate's quickstart shows it.
#[derive(Clone, Debug)]
pub struct CheckRedisLayer {
    availability: Availability,
}

impl CheckRedisLayer {
    /// Annotates requests with the reading of `availability`.
    pub fn new(availability: Availability) -> Self {
        CheckRedisLayer { availability }
    }
}

impl<S> Layer<S> for CheckRedisLayer {
    type Service = CheckRedis<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CheckRedis {
            inner,
            availability: self.availability.clone(),
        }
    }
}

/// Middleware that inserts the handle's [`Reading`](redis_gate_core::Reading) into every request's extensions and calls the
/// inner service unconditionally.
#[derive(Clone, Debug)]
pub struct CheckRedis<S> {
    inner: S,
    availability: Availability,
}

impl_inner_accessors!(CheckRedis {
    /// Annotates requests to `inner` with the reading of `availability`.
    pub fn new(inner: S, availability: Availability) -> Self {
        CheckRedis {
            inner,
            availability,
        }
    }
});

impl<S, ReqBody> Service<Request<ReqBody>> for CheckRedis<S>
where
    S: Service<Request<ReqBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    #[inline]
    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        req.extensions_mut().insert(self.availability.reading());
        self.inner.call(req)
    }
}

#[cfg(test)]
mod tests {
    use redis_gate_core::{AvailabilityReporter, Reading, Status};
    use tower::{ServiceExt, service_fn};

    use super::*;

    async fn reading_seen_by_handler(layer: &CheckRedisLayer) -> Option<Reading> {
        let service = layer.layer(service_fn(|req: Request<()>| async move {
            Ok::<_, std::convert::Infallible>(req.extensions().get::<Reading>().copied())
        }));
        service.oneshot(Request::new(())).await.unwrap()
    }

    #[tokio::test]
    async fn handler_sees_the_reading_at_request_time() {
        let reporter = AvailabilityReporter::default();
        let layer = CheckRedisLayer::new(reporter.availability());

        let seen = reading_seen_by_handler(&layer).await.unwrap();
        assert!(!seen.is_available());
        assert_eq!(seen.status(), Status::Connecting);

        reporter.set_status(Status::Connected);
        assert!(
            reading_seen_by_handler(&layer)
                .await
                .unwrap()
                .is_available()
        );

        reporter.mark_unavailable("maintenance");
        let seen = reading_seen_by_handler(&layer).await.unwrap();
        assert!(!seen.is_available());
        assert!(seen.is_overridden());
    }
}
