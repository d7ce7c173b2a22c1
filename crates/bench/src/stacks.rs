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
use axum::http::{Request, Response, StatusCode};
use axum::routing::{get, get_service};
use redis_gate::{
    Availability, AvailabilityReporter, CheckRedis, CheckRedisLayer, ReadinessProbe,
    ReadinessProbeLayer, RequireRedis, RequireRedisLayer, Status,
};
use tower::layer::util::Identity;
use tower::util::ServiceFn;
use tower::{Layer, Service, ServiceExt, service_fn};

use crate::apps::{self, PATH};

/// Requests sent through a stack before a measurement starts, so one-time costs (lazy
/// statics, the first rejection body of its kind) stay out of it.
pub const WARMUP_REQUESTS: usize = 16;

/// One in-process stack: the bare router, or the router with some of the layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
    RequireHandler,
    /// `RequireRedis` around the handler turned into a service, routed with `get_service`.
    RequireRouteService,
    /// `CheckRedis` as an axum router layer.
    CheckRouterLayer,
    /// `ReadinessProbe` as an axum router layer.
    ProbeRouterLayer,
    /// The bare router with a layer that does nothing (`tower::layer::util::Identity`) as a
    /// route layer: what axum charges for any route layer.
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
}

impl Stack {
    /// Every stack, bare first.
    pub const EVERY: [Stack; 19] = [
        Stack::Bare,
        Stack::Require,
        Stack::Check,
        Stack::Probe,
        Stack::All,
        Stack::AllPerRoute,
        Stack::AllRouterLayers,
        Stack::RequireRouteLayer,
        Stack::RequireHandler,
        Stack::RequireRouteService,
        Stack::CheckRouterLayer,
        Stack::ProbeRouterLayer,
        Stack::IdentityRoute,
        Stack::IdentityLayer,
        Stack::AtomicFromFn,
        Stack::TowerBare,
        Stack::TowerRequire,
        Stack::TowerCheck,
        Stack::TowerProbe,
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
            Stack::TowerRequire | Stack::TowerCheck | Stack::TowerProbe => Some(Stack::TowerBare),
            Stack::Bare | Stack::TowerBare | Stack::IdentityRoute | Stack::IdentityLayer => None,
            _ => Some(Stack::Bare),
        }
    }

    /// The stack's name on command lines and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Stack::Bare => "bare",
            Stack::Require => "require",
            Stack::Check => "check",
            Stack::Probe => "probe",
            Stack::All => "all",
            Stack::AllPerRoute => "all_per_route",
            Stack::AllRouterLayers => "all_router_layers",
            Stack::RequireRouteLayer => "require_route_layer",
            Stack::RequireHandler => "require_handler_layer",
            Stack::RequireRouteService => "require_route_service",
            Stack::CheckRouterLayer => "check_router_layer",
            Stack::ProbeRouterLayer => "probe_router_layer",
            Stack::IdentityRoute => "identity_route_layer",
            Stack::IdentityLayer => "identity_layer",
            Stack::AtomicFromFn => "atomic_from_fn",
            Stack::TowerBare => "tower_bare",
            Stack::TowerRequire => "tower_require",
            Stack::TowerCheck => "tower_check",
            Stack::TowerProbe => "tower_probe",
        }
    }

    /// The stack called `name`, if any.
    pub fn from_name(name: &str) -> Option<Stack> {
        Stack::EVERY.into_iter().find(|stack| stack.name() == name)
    }

    /// The stack as a service, gated on `reporter`'s handle.
    pub fn service(self, reporter: &AvailabilityReporter) -> StackService {
        let redis = reporter.availability();
        match self {
            Stack::Require => {
                StackService::Require(RequireRedisLayer::new(redis).layer(apps::bare()))
            }
            Stack::Check => StackService::Check(CheckRedisLayer::new(redis).layer(apps::bare())),
            Stack::Probe => StackService::Probe(
                ReadinessProbeLayer::new()
                    .require(redis)
                    .layer(apps::bare()),
            ),
            Stack::All => StackService::All(apps::gated(redis)),
            Stack::AllPerRoute => StackService::PerRoute(apps::gated_per_route(redis)),
            Stack::TowerBare => StackService::TowerBare(tower_bare()),
            Stack::TowerRequire => {
                StackService::TowerRequire(RequireRedisLayer::new(redis).layer(tower_bare()))
            }
            Stack::TowerCheck => {
                StackService::TowerCheck(CheckRedisLayer::new(redis).layer(tower_bare()))
            }
            Stack::TowerProbe => StackService::TowerProbe(
                ReadinessProbeLayer::new()
                    .require(redis)
                    .layer(tower_bare()),
            ),
            stack => StackService::Router(stack.router(redis)),
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

/// A stack as a service: an axum router, or the router inside Tower layers.
#[derive(Clone)]
pub enum StackService {
    /// A router, all its layers inside.
    Router(Router),
    /// [`Stack::Require`].
    Require(RequireRedis<Router>),
    /// [`Stack::Check`].
    Check(CheckRedis<Router>),
    /// [`Stack::Probe`].
    Probe(ReadinessProbe<Router>),
    /// [`Stack::All`].
    All(apps::Gated),
    /// [`Stack::AllPerRoute`].
    PerRoute(apps::PerRoute),
    /// [`Stack::TowerBare`].
    TowerBare(TowerFn),
    /// [`Stack::TowerRequire`].
    TowerRequire(RequireRedis<TowerFn>),
    /// [`Stack::TowerCheck`].
    TowerCheck(CheckRedis<TowerFn>),
    /// [`Stack::TowerProbe`].
    TowerProbe(ReadinessProbe<TowerFn>),
}

/// The plain Tower service of the `Tower*` stacks.
pub type TowerFn = ServiceFn<fn(Request<Body>) -> Ready<Result<Response<Body>, Infallible>>>;

fn tower_bare() -> TowerFn {
    fn empty(_req: Request<Body>) -> Ready<Result<Response<Body>, Infallible>> {
        ready(Ok(Response::new(Body::empty())))
    }
    service_fn(empty as fn(_) -> _)
}

impl StackService {
    fn measure(&self, requests: Vec<Request<Body>>) -> usize {
        match self {
            StackService::Router(service) => measure_region(service, requests),
            StackService::Require(service) => measure_region(service, requests),
            StackService::Check(service) => measure_region(service, requests),
            StackService::Probe(service) => measure_region(service, requests),
            StackService::All(service) => measure_region(service, requests),
            StackService::PerRoute(service) => measure_region(service, requests),
            StackService::TowerBare(service) => measure_region(service, requests),
            StackService::TowerRequire(service) => measure_region(service, requests),
            StackService::TowerCheck(service) => measure_region(service, requests),
            StackService::TowerProbe(service) => measure_region(service, requests),
        }
    }
}

/// A stack ready to be measured: built, warmed up, with its requests built in advance.
pub struct Prepared {
    service: StackService,
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
        reporter.set_status(Status::Connected);
        let service = stack.service(&reporter);
        let warmup = service.measure(build_requests(WARMUP_REQUESTS));
        assert_eq!(warmup, WARMUP_REQUESTS, "{stack:?} must answer 200");
        Prepared {
            service,
            requests: build_requests(requests),
            _reporter: reporter,
        }
    }

    /// Sends every request; returns how many were answered `200`.
    pub fn run(self) -> usize {
        self.service.measure(self.requests)
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
/// does) and drops the response; returns the number of `200`s. Never inlined: callgrind
/// collects exactly this function.
#[inline(never)]
pub fn measure_region<S, B>(service: &S, requests: Vec<Request<Body>>) -> usize
where
    S: Service<Request<Body>, Response = Response<B>, Error = Infallible> + Clone,
{
    let mut ok = 0;
    for req in requests {
        let res = complete(service.clone().oneshot(req));
        if res.is_ok_and(|res| res.status() == StatusCode::OK) {
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
