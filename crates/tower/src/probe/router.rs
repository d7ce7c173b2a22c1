//! The probe as axum routes, so that `Router::merge(probe)` serves its paths as routes.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body;
use http::{Request, Response, StatusCode};
use tower_service::Service;

use super::ReadinessProbeLayer;
use super::answer::Probe;
use super::endpoints::Endpoint;

/// Every path of the probe as a route of its own, answered as the layer answers it: `GET` and
/// `HEAD` only (`405` otherwise), `Cache-Control: no-store`, the same bodies, the same drain.
///
/// A route is matched by axum's router, so the probe's paths answer wherever the `merge` sits
/// among `route`, `route_layer` and `layer` calls; a layer added after the merge wraps them as
/// it wraps every route (merge the probe after your route layers, or see
/// [`RequireRedisLayer::exempt_probe`](crate::RequireRedisLayer::exempt_probe)). Differences from the layer, both forced by routing:
///
/// - the details path behind a [`details_token`](ReadinessProbeLayer::details_token) answers a
///   request without the right token with axum's own not-found answer (`404`, empty body), as a
///   path without a route does in a router without a fallback: the router does not let a route
///   pass a request on to the fallback. With a fallback of your own, wrap the router with the
///   layer instead if the two answers must match.
/// - a probe path that is also one of your routes makes `merge` panic at startup (axum's
///   "overlapping" routes), where the layer would have answered it first.
///
/// # Panics
///
/// When a probe path cannot be an axum route: it does not start with `/`, or one of its
/// segments starts with `:` or `*` (axum 0.8 refuses those). Such a path could never be requested
/// as written, so this is a startup bug, reported as axum reports its own bad routes.
impl<S> From<ReadinessProbeLayer> for Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    fn from(layer: ReadinessProbeLayer) -> Self {
        let probe = layer.probe;
        probe
            .paths
            .routes()
            .into_iter()
            .fold(Router::new(), |router, (path, endpoint)| {
                let route = ProbeRoute {
                    probe: Arc::clone(&probe),
                    endpoint,
                };
                router.route_service(&route_pattern(path), route)
            })
    }
}

/// The route for one probe path.
#[derive(Clone)]
struct ProbeRoute {
    probe: Arc<Probe>,
    endpoint: Endpoint,
}

impl<B> Service<Request<B>> for ProbeRoute {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Ready<Result<Response<Body>, Infallible>>;

    #[inline]
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let res = match self.endpoint {
            Endpoint::Details if !self.probe.is_authorized(&req) => not_found(),
            endpoint => self.probe.answer(endpoint, &req),
        };
        ready(Ok(res))
    }
}

/// What axum's router answers for a path without a route when it has no fallback of its own.
fn not_found() -> Response<Body> {
    let mut res = Response::new(Body::empty());
    *res.status_mut() = StatusCode::NOT_FOUND;
    res
}

/// `path` as an axum route that matches exactly that path: braces escaped, so `{` is a
/// character and not a capture.
///
/// # Panics
///
/// When axum cannot route `path` literally (see the `From` impl).
fn route_pattern(path: &str) -> String {
    let refused = if !path.starts_with('/') {
        Some("it does not start with `/`")
    } else if path
        .split('/')
        .any(|s| s.starts_with(':') || s.starts_with('*'))
    {
        Some("a segment starts with `:` or `*`, which axum 0.8 refuses in a route")
    } else {
        None
    };
    if let Some(why) = refused {
        panic!(
            "ReadinessProbeLayer: the probe path {path:?} cannot be an axum route: {why}. Give the \
             probe paths that start with `/` and have no segment starting with `:` or `*`, or \
             wrap the router with the layer (ServiceBuilder::new().layer(probe).service(router)) \
             instead of merging it"
        );
    }
    path.replace('{', "{{").replace('}', "}}")
}

#[cfg(test)]
mod tests {
    use axum::routing::get;
    use http_body_util::BodyExt;
    use redis_gate_core::{AvailabilityReporter, Status};
    use tower::ServiceExt;

    use super::*;

    async fn get_path(router: &Router, path: &str) -> (StatusCode, String) {
        let req = Request::get(path).body(Body::empty()).unwrap();
        let res = router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let body = res.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn a_path_in_two_lists_is_one_route_answered_as_the_layer_answers_it() {
        let reporter = AvailabilityReporter::default();
        let probe = ReadinessProbeLayer::new()
            .require(reporter.availability())
            .liveness_paths(["/both", "/{braces}"])
            .readiness_paths(["/both", "/r"])
            .startup_paths(Vec::<String>::new());
        let router = Router::new()
            .route("/app", get(|| async { "app" }))
            .merge(probe);

        assert_eq!(
            get_path(&router, "/both").await,
            (StatusCode::OK, r#"{"status":"UP"}"#.to_owned()),
            "liveness wins, as in the layer"
        );
        assert_eq!(
            get_path(&router, "/{braces}").await.0,
            StatusCode::OK,
            "braces are characters"
        );
        assert_eq!(
            get_path(&router, "/anything").await.0,
            StatusCode::NOT_FOUND,
            "no capture was made of the braces"
        );
        assert_eq!(
            get_path(&router, "/r").await.0,
            StatusCode::SERVICE_UNAVAILABLE
        );
        for removed in ["/health", "/ready", "/startup"] {
            assert_eq!(get_path(&router, removed).await.0, StatusCode::NOT_FOUND);
        }
        reporter.set_status(Status::Connected);
        assert_eq!(get_path(&router, "/r").await.0, StatusCode::OK);
        assert_eq!(get_path(&router, "/app").await.1, "app");
    }

    #[test]
    #[should_panic(expected = "conflict with previously registered route: /health")]
    fn a_probe_path_that_is_already_a_route_makes_the_merge_panic_at_startup() {
        let app: Router = Router::new().route("/health", get(|| async { "mine" }));
        let _ = app.merge(ReadinessProbeLayer::new());
    }

    #[test]
    #[should_panic(expected = "the probe path \"ready\" cannot be an axum route")]
    fn a_path_axum_cannot_route_is_refused_at_startup_with_its_name() {
        let probe = ReadinessProbeLayer::new().readiness_paths(["ready"]);
        let _: Router = probe.into();
    }

    #[test]
    #[should_panic(expected = "a segment starts with `:` or `*`")]
    fn a_segment_axum_reads_as_a_capture_is_refused_too() {
        let probe = ReadinessProbeLayer::new().liveness_paths(["/health/:live"]);
        let _: Router = probe.into();
    }
}
