//! The routers of [`apps`] and a few more stacks, called in process with `oneshot`: no socket,
//! no runtime, so an instruction count is the cost of the stack itself.
//!
//! [`Prepared::run`] sends its requests through [`measure_region`], the one function the
//! callgrind measurements collect (`--toggle-collect=*measure_region*`); building the router,
//! warming it up and building the requests happen outside it.

use std::convert::Infallible;
use std::future::{Future, Ready, ready};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::task::{Context, Poll, Waker};

use axum::Router;
use axum::body::Body;
use axum::handler::Handler;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderValue, Request, Response, StatusCode};
use axum::routing::{get, get_service};
use bytes::Bytes;
use redis_gate::{
    Availability, AvailabilityReporter, CheckRedisLayer, ReadinessProbeLayer, RequireRedisLayer,
    Status,
};
use strum::{EnumIter, EnumString, IntoStaticStr};
use tower::layer::util::Identity;
use tower::util::{MapRequestLayer, ServiceFn};
use tower::{Layer, Service, ServiceExt, service_fn};
use tower_http::add_extension::AddExtensionLayer;
use tower_http::validate_request::ValidateRequestHeaderLayer;

use crate::apps::{self, PATH};

/// Requests sent through a stack before a measurement starts, so one-time costs (lazy
/// statics, the first rejection body of its kind) stay out of it.
pub const WARMUP_REQUESTS: usize = 16;

/// One in-process stack: the bare router, or the router with some of the layers. Its name on
/// command lines and in reports is the variant's in snake case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, EnumString, IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum Stack {
    /// `Router::new().route("/api", get(hello))`.
    Bare,
    /// `RequireRedis` wrapped around the bare router.
    Require,
    /// `CheckRedis` wrapped around the bare router.
    Check,
    /// `ReadinessProbe` wrapped around the bare router (requests to `/api` take its pass path).
    Probe,
    /// All three around the router, as [`apps::gated`] builds them (variant 2).
    All,
    /// The README's per-route layout, [`apps::gated_per_route`] (variant 2b).
    AllPerRoute,
    /// All three added with axum's `route_layer` and `layer`, [`apps::router_layers`].
    AllRouterLayers,
    /// `RequireRedis` as an axum route layer.
    RequireRouteLayer,
    /// `RequireRedis` on the handler alone (`get(hello.layer(..))`, axum's `Handler::layer`).
    #[strum(serialize = "require_handler_layer")]
    RequireHandler,
    /// `RequireRedis` around the handler turned into a service, routed with `get_service`.
    RequireRouteService,
    /// `CheckRedis` as an axum router layer.
    CheckRouterLayer,
    /// `ReadinessProbe` as an axum router layer.
    ProbeRouterLayer,
    /// The bare router with a layer that does nothing (`tower::layer::util::Identity`) as a
    /// route layer: what axum charges for any route layer.
    #[strum(serialize = "identity_route_layer")]
    IdentityRoute,
    /// The bare router with a layer that does nothing as a router layer: what axum charges for
    /// any router layer.
    IdentityLayer,
    /// The hand-written gate of [`apps::atomic_bool`]: an axum `from_fn` middleware reading an
    /// `Arc<AtomicBool>`, as a route layer.
    AtomicFromFn,
    /// No axum: a plain `service_fn` answering an empty `200`.
    TowerBare,
    /// `RequireRedis` over [`Stack::TowerBare`].
    TowerRequire,
    /// `CheckRedis` over [`Stack::TowerBare`].
    TowerCheck,
    /// `ReadinessProbe` over [`Stack::TowerBare`].
    TowerProbe,
    /// `RequireRedis` over [`Stack::TowerBare`] with Redis down: the rejection path.
    TowerReject,
    /// Anchor: tower-http's `ValidateRequestHeaderLayer::custom` with a validator that always
    /// passes, over [`Stack::TowerBare`]: the shape of `RequireRedis` while Redis is up.
    AnchorValidate,
    /// Anchor: the same `ValidateRequestHeader`, its validator reading the same handle: the gate
    /// people write by hand, holding what every gate must hold.
    AnchorValidateHandle,
    /// Anchor: tower-http's `AddExtensionLayer` inserting a 1-byte `Copy` value, over
    /// [`Stack::TowerBare`]: the shape of `CheckRedis`.
    AnchorExtension,
    /// Anchor: tower's `MapRequestLayer` with the identity, over [`Stack::TowerBare`]: the
    /// least a layer that looks at each request can cost, the shape of the probe's pass path.
    AnchorMapRequest,
    /// Anchor: tower-http's `ValidateRequestHeader` answering a `503` it builds per request
    /// (the status, the three headers of a rejection, a static JSON body): the shape of
    /// `RequireRedis` while Redis is down.
    AnchorReject,
}

impl Stack {
    /// The plain Tower stacks and their anchors, which `instructions` compares.
    pub const TOWER: [Stack; 10] = [
        Stack::TowerBare,
        Stack::TowerRequire,
        Stack::AnchorValidate,
        Stack::AnchorValidateHandle,
        Stack::TowerCheck,
        Stack::AnchorExtension,
        Stack::TowerProbe,
        Stack::AnchorMapRequest,
        Stack::TowerReject,
        Stack::AnchorReject,
    ];

    /// The stacks the required metrics need: the bare router, each layer alone, all three.
    pub const REQUIRED: [Stack; 5] = [
        Stack::Bare,
        Stack::Require,
        Stack::Check,
        Stack::Probe,
        Stack::All,
    ];

    /// What to subtract from this stack to get the layer's own share: the same place without
    /// the layer (the bare router, or a layer that does nothing where axum adds its own
    /// layering). `None` for the bare stacks and the references themselves.
    pub fn reference(self) -> Option<Stack> {
        match self {
            Stack::RequireRouteLayer | Stack::AtomicFromFn => Some(Stack::IdentityRoute),
            Stack::CheckRouterLayer | Stack::ProbeRouterLayer => Some(Stack::IdentityLayer),
            Stack::TowerRequire
            | Stack::TowerCheck
            | Stack::TowerProbe
            | Stack::TowerReject
            | Stack::AnchorValidate
            | Stack::AnchorValidateHandle
            | Stack::AnchorExtension
            | Stack::AnchorMapRequest
            | Stack::AnchorReject => Some(Stack::TowerBare),
            Stack::Bare | Stack::TowerBare | Stack::IdentityRoute | Stack::IdentityLayer => None,
            _ => Some(Stack::Bare),
        }
    }

    /// The stack's name on command lines and in reports.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// The status every request through the stack gets: `503` on the rejection paths.
    pub fn status(self) -> StatusCode {
        match self {
            Stack::TowerReject | Stack::AnchorReject => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::OK,
        }
    }

    /// The stack, built and gated on `reporter`'s handle, as a [`Runner`].
    #[expect(
        clippy::result_large_err,
        reason = "the shape tower-http's validators have"
    )]
    fn runner(self, reporter: &AvailabilityReporter) -> Runner {
        let redis = reporter.availability();
        match self {
            Stack::Require => runner(RequireRedisLayer::new(redis).layer(apps::bare())),
            Stack::Check => runner(CheckRedisLayer::new(redis).layer(apps::bare())),
            Stack::Probe => runner(
                ReadinessProbeLayer::new()
                    .require(redis)
                    .layer(apps::bare()),
            ),
            Stack::All => runner(apps::gated(redis)),
            Stack::AllPerRoute => runner(apps::gated_per_route(redis)),
            Stack::TowerBare => runner(tower_bare()),
            Stack::TowerRequire | Stack::TowerReject => {
                runner(RequireRedisLayer::new(redis).layer(tower_bare()))
            }
            Stack::TowerCheck => runner(CheckRedisLayer::new(redis).layer(tower_bare())),
            Stack::TowerProbe => runner(
                ReadinessProbeLayer::new()
                    .require(redis)
                    .layer(tower_bare()),
            ),
            Stack::AnchorValidate => runner(
                ValidateRequestHeaderLayer::custom(|_: &mut Request<Body>| {
                    Ok::<(), Response<Body>>(())
                })
                .layer(tower_bare()),
            ),
            Stack::AnchorValidateHandle => runner(
                ValidateRequestHeaderLayer::custom(move |_: &mut Request<Body>| {
                    if redis.is_available() {
                        Ok(())
                    } else {
                        Err(Response::new(Body::empty()))
                    }
                })
                .layer(tower_bare()),
            ),
            Stack::AnchorExtension => {
                runner(AddExtensionLayer::new(OneByte(1)).layer(tower_bare()))
            }
            Stack::AnchorMapRequest => {
                runner(MapRequestLayer::new(|req: Request<Body>| req).layer(tower_bare()))
            }
            Stack::AnchorReject => {
                runner(ValidateRequestHeaderLayer::custom(reject).layer(tower_bare()))
            }
            stack => runner(stack.router(redis)),
        }
    }

    /// The stacks that are a single router, gated on `redis`, after `with_state(())` as
    /// `axum::serve` prepares it (see [`apps`]). The others give the bare router.
    fn router(self, redis: Availability) -> Router {
        let bare = Router::new().route(PATH, get(apps::hello));
        let router = match self {
            Stack::AllRouterLayers => return apps::router_layers(redis),
            Stack::AtomicFromFn => return apps::atomic_bool(Arc::new(AtomicBool::new(true))),
            Stack::RequireRouteLayer => bare.route_layer(RequireRedisLayer::new(redis)),
            Stack::RequireHandler => {
                Router::new().route(PATH, get(apps::hello.layer(RequireRedisLayer::new(redis))))
            }
            Stack::RequireRouteService => {
                let gated = RequireRedisLayer::new(redis).layer(apps::hello.with_state(()));
                Router::new().route(PATH, get_service(gated))
            }
            Stack::CheckRouterLayer => bare.layer(CheckRedisLayer::new(redis)),
            Stack::ProbeRouterLayer => bare.layer(ReadinessProbeLayer::new().require(redis)),
            Stack::IdentityRoute => bare.route_layer(Identity::new()),
            Stack::IdentityLayer => bare.layer(Identity::new()),
            _ => bare,
        };
        router.with_state(())
    }
}

/// Sends requests through one built stack, and counts those answered with the status: a boxed
/// closure over the stack's own type, so that [`measure_region`] runs monomorphized for each.
type Runner = Box<dyn Fn(Vec<Request<Body>>, StatusCode) -> usize>;

fn runner<S, B>(service: S) -> Runner
where
    S: Service<Request<Body>, Response = Response<B>, Error = Infallible> + Clone + 'static,
{
    Box::new(move |requests, status| measure_region(&service, requests, status))
}

/// What the bare Tower service answers with.
type Answer = Ready<Result<Response<Body>, Infallible>>;

/// A plain `service_fn` answering an empty `200`.
fn tower_bare() -> ServiceFn<impl FnMut(Request<Body>) -> Answer + Clone> {
    service_fn(|_req: Request<Body>| ready(Ok(Response::new(Body::empty()))))
}

/// The extension value of the `AddExtension` anchor: one byte, `Copy`, like a `Reading`.
#[derive(Clone, Copy, Debug)]
pub struct OneByte(pub u8);

/// A `503` built per request, as a hand-written gate would: the status, the headers of a
/// redis-gate rejection (`Retry-After` formatted from the wait, which a gate announcing the
/// monitor's next retry cannot take from a static string), and a static body.
#[expect(
    clippy::result_large_err,
    reason = "the shape tower-http's validators have"
)]
fn reject(_req: &mut Request<Body>) -> Result<(), Response<Body>> {
    const BODY: &[u8] = br#"{"error":"Service Temporarily Unavailable","errorCode":"REDIS_UNAVAILABLE","status":"disconnected","retryAfter":1}"#;
    let mut res = Response::new(Body::from(Bytes::from_static(BODY)));
    *res.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    let headers = res.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(RETRY_AFTER, HeaderValue::from(std::hint::black_box(1u64)));
    Err(res)
}

/// A stack ready to be measured: built, warmed up, with its requests built in advance.
pub struct Prepared {
    run: Runner,
    status: StatusCode,
    requests: Vec<Request<Body>>,
    // Keeps the handle's writer alive, as a monitor would.
    _reporter: AvailabilityReporter,
}

impl Prepared {
    /// Builds `stack` on a handle that says Redis is connected, sends it
    /// [`WARMUP_REQUESTS`], and builds `requests` requests for `GET /api`.
    ///
    /// # Panics
    ///
    /// If the stack does not answer `200` during the warm-up.
    pub fn new(stack: Stack, requests: usize) -> Prepared {
        let reporter = AvailabilityReporter::default();
        let up = stack != Stack::TowerReject;
        reporter.set_status(if up {
            Status::Connected
        } else {
            Status::Disconnected
        });
        let run = stack.runner(&reporter);
        let warmup = run(build_requests(WARMUP_REQUESTS), stack.status());
        assert_eq!(
            warmup,
            WARMUP_REQUESTS,
            "{stack:?} must answer {}",
            stack.status()
        );
        Prepared {
            run,
            status: stack.status(),
            requests: build_requests(requests),
            _reporter: reporter,
        }
    }

    /// Sends every request; returns how many got the stack's [`status`](Stack::status).
    pub fn run(self) -> usize {
        (self.run)(self.requests, self.status)
    }
}

fn build_requests(n: usize) -> Vec<Request<Body>> {
    (0..n)
        .map(|_| {
            Request::get(PATH)
                .body(Body::empty())
                .expect("a valid request")
        })
        .collect()
}

/// Sends each request with `service.clone().oneshot(req)` (as hyper-util's `TowerToHyperService`
/// does) and drops the response; returns the number answered with `status`. Never inlined:
/// callgrind collects exactly this function.
#[inline(never)]
pub fn measure_region<S, B>(service: &S, requests: Vec<Request<Body>>, status: StatusCode) -> usize
where
    S: Service<Request<Body>, Response = Response<B>, Error = Infallible> + Clone,
{
    let mut ok = 0;
    for req in requests {
        let res = complete(service.clone().oneshot(req));
        if res.is_ok_and(|res| res.status() == status) {
            ok += 1;
        }
    }
    ok
}

/// Polls `future` once: the stacks never wait, so no runtime is needed.
fn complete<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("an in-process stack never waits"),
    }
}
