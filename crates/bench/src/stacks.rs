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
use axum::http::{Request, Response, StatusCode};
use axum::routing::get;
use redis_gate::{
    AvailabilityReporter, CheckRedis, CheckRedisLayer, ReadinessProbe, ReadinessProbeLayer,
    RequireRedis, RequireRedisLayer, Status,
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
    /// The bare router with `RequireRedisLayer` as a route layer.
    Require,
    /// The bare router inside `CheckRedisLayer`.
    Check,
    /// The bare router inside `ReadinessProbeLayer` (requests to `/api` take its pass path).
    Probe,
    /// All three, as [`apps::gated`] builds them.
    All,
    /// The bare router with a layer that does nothing (`tower::layer::util::Identity`) as a
    /// route layer: what axum charges for any route layer, the reference for `Require`.
    IdentityRoute,
    /// The bare router inside a layer that does nothing: what axum charges for any router
    /// layer, the reference for `Check` and `Probe`.
    IdentityLayer,
    /// The hand-written gate of [`apps::atomic_bool`]: an axum `from_fn` middleware reading an
    /// `Arc<AtomicBool>`.
    AtomicFromFn,
    /// All three, with `RequireRedis` as a route layer but the probe and `CheckRedis` wrapped
    /// around the finished router with `ServiceBuilder` instead of `Router::layer`: no axum
    /// layering for those two.
    AllOutside,
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
    pub const EVERY: [Stack; 13] = [
        Stack::Bare,
        Stack::Require,
        Stack::Check,
        Stack::Probe,
        Stack::All,
        Stack::IdentityRoute,
        Stack::IdentityLayer,
        Stack::AtomicFromFn,
        Stack::AllOutside,
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

    /// The layer that does nothing in the same position as this stack's layer: what axum itself
    /// charges for the layering. `None` for the bare router and the combinations.
    pub fn reference(self) -> Option<Stack> {
        match self {
            Stack::Require | Stack::AtomicFromFn => Some(Stack::IdentityRoute),
            Stack::Check | Stack::Probe => Some(Stack::IdentityLayer),
            Stack::TowerRequire | Stack::TowerCheck | Stack::TowerProbe => Some(Stack::TowerBare),
            _ => None,
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
            Stack::IdentityRoute => "identity_route_layer",
            Stack::IdentityLayer => "identity_layer",
            Stack::AtomicFromFn => "atomic_from_fn",
            Stack::AllOutside => "all_outside_router",
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
        match self {
            Stack::AllOutside => {
                StackService::Outside(apps::gated_outside(reporter.availability()))
            }
            Stack::TowerBare => StackService::TowerBare(tower_bare()),
            Stack::TowerRequire => StackService::TowerRequire(
                RequireRedisLayer::new(reporter.availability()).layer(tower_bare()),
            ),
            Stack::TowerCheck => StackService::TowerCheck(
                CheckRedisLayer::new(reporter.availability()).layer(tower_bare()),
            ),
            Stack::TowerProbe => StackService::TowerProbe(
                ReadinessProbeLayer::new()
                    .require(reporter.availability())
                    .layer(tower_bare()),
            ),
            stack => StackService::Router(stack.router(reporter)),
        }
    }

    /// The router, gated on `reporter`'s handle, after `with_state(())` as `axum::serve`
    /// prepares it (see [`apps`]). [`Stack::AllOutside`] gives its inner router only, and the
    /// `Tower*` stacks, which have none, the bare router.
    pub fn router(self, reporter: &AvailabilityReporter) -> Router {
        let redis = reporter.availability();
        let bare = Router::new().route(PATH, get(apps::hello));
        let router = match self {
            Stack::Bare => bare,
            Stack::Require => bare.route_layer(RequireRedisLayer::new(redis)),
            Stack::Check => bare.layer(CheckRedisLayer::new(redis)),
            Stack::Probe => bare.layer(ReadinessProbeLayer::new().require(redis)),
            Stack::All => return apps::gated(redis),
            Stack::IdentityRoute => bare.route_layer(Identity::new()),
            Stack::IdentityLayer => bare.layer(Identity::new()),
            Stack::AtomicFromFn => return apps::atomic_bool(Arc::new(AtomicBool::new(true))),
            Stack::AllOutside => bare.route_layer(RequireRedisLayer::new(redis)),
            Stack::TowerBare | Stack::TowerRequire | Stack::TowerCheck | Stack::TowerProbe => bare,
        };
        router.with_state(())
    }
}

/// A stack as a service: an axum router, or the router inside Tower layers.
#[derive(Clone)]
pub enum StackService {
    /// A router, all its layers inside.
    Router(Router),
    /// [`Stack::AllOutside`].
    Outside(apps::GatedOutside),
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
            StackService::Router(router) => measure_region(router, requests),
            StackService::Outside(service) => measure_region(service, requests),
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
