//! gRPC health checks that follow Redis: mirror an availability handle into tonic-health.

use redis_gate_core::Availability;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::probe::Drain;

/// gRPC health checks that follow Redis: mirror an availability handle into tonic-health.
///
/// Kubernetes `grpc:` probes without `service:` and `grpc_health_probe` without `-service` ask
/// for the overall service `""`, so the mirror drives `""` as well as the services you name,
/// unless told to leave it alone. Given the [`Drain`] handle, it sets every service it manages to
/// `NOT_SERVING` once draining starts, so a load balancer stops sending new calls before the
/// server stops.
///
/// ```no_run
/// # mod redis_gate { pub use redis_gate_core::*; pub use redis_gate_tower::*; pub mod layers { pub use redis_gate_tower::*; } }
/// use redis_gate::{AvailabilityReporter, HealthMirror, ReadinessProbeLayer};
///
/// # async fn run() {
/// let reporter = AvailabilityReporter::default();
/// let drain = ReadinessProbeLayer::new().drain_handle();
/// let (health, health_service) = tonic_health::server::health_reporter();
/// let mirror = HealthMirror::new(reporter.availability())
///     .service("tickets.Tickets")
///     .drain(drain);
/// tokio::spawn(mirror.run(health));
/// // Server::builder().add_service(health_service)...
/// # drop(health_service);
/// # }
/// ```
#[derive(Clone, Debug)]
#[must_use = "a mirror does nothing until it runs"]
pub struct HealthMirror {
    availability: Availability,
    services: Vec<String>,
    overall: bool,
    drain: Option<Drain>,
}

impl HealthMirror {
    /// Mirrors `availability` into the overall service `""`; add named ones with
    /// [`service`](Self::service).
    pub fn new(availability: Availability) -> Self {
        HealthMirror {
            availability,
            services: Vec::new(),
            overall: true,
            drain: None,
        }
    }

    /// Also drives `name` (such as `"tickets.Tickets"`).
    pub fn service(mut self, name: impl Into<String>) -> Self {
        self.services.push(name.into());
        self
    }

    /// Leaves the overall service `""` alone, for a server whose other services do not need
    /// Redis and should keep answering probes `SERVING`.
    pub fn skip_overall(mut self) -> Self {
        self.overall = false;
        self
    }

    /// Sets every managed service to `NOT_SERVING` for good once `drain` starts.
    pub fn drain(mut self, drain: Drain) -> Self {
        self.drain = Some(drain);
        self
    }

    /// Runs the mirror: `SERVING` while the handle is available and not draining,
    /// `NOT_SERVING` otherwise. Returns once draining has started, or once the handle's writer
    /// is gone (after writing `NOT_SERVING`, since a handle without a monitor is unavailable).
    /// Spawn it.
    pub async fn run(self, health: HealthReporter) {
        let names: Vec<&str> = self
            .overall
            .then_some("")
            .into_iter()
            .chain(self.services.iter().map(String::as_str))
            .collect();
        let set = async |serving: bool| {
            let status = if serving {
                ServingStatus::Serving
            } else {
                ServingStatus::NotServing
            };
            for name in &names {
                health.set_service_status(*name, status).await;
            }
        };
        let drain = self.drain.unwrap_or_default();
        // Subscribe first, so a transition between the first write and the subscription is not
        // lost.
        let mut changes = self.availability.subscribe();
        let mut serving = self.availability.is_available() && !drain.is_draining();
        set(serving).await;
        loop {
            let open = tokio::select! {
                changed = changes.changed() => changed.is_some(),
                () = drain.started() => {
                    set(false).await;
                    return;
                }
            };
            let now = self.availability.is_available();
            if now != serving {
                serving = now;
                set(serving).await;
            }
            if !open {
                return;
            }
        }
    }
}
