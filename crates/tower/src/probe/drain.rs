//! Draining: readiness answers `DRAINING` once a process is on its way out.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

/// Takes a service out of its load balancer before it stops: once [`start`](Drain::start)ed,
/// readiness answers `503 {"status":"DRAINING",...}` while liveness stays `200` and every other
/// route keeps working. Cheap to clone; get one from
/// [`ReadinessProbeLayer::drain_handle`](crate::ReadinessProbeLayer::drain_handle).
#[derive(Clone, Debug, Default)]
pub struct Drain(Arc<DrainState>);

#[derive(Debug, Default)]
struct DrainState {
    draining: AtomicBool,
    started: Notify,
}

impl Drain {
    /// Starts draining. It cannot be undone: a draining process is on its way out.
    pub fn start(&self) {
        self.0.draining.store(true, Ordering::Release);
        self.0.started.notify_waiters();
    }

    /// True once draining has started.
    pub fn is_draining(&self) -> bool {
        self.0.draining.load(Ordering::Acquire)
    }

    /// Resolves once draining has started (at once if it has), for whatever else must follow
    /// it, such as gRPC health statuses.
    pub async fn started(&self) {
        loop {
            // Registered before the check, so a `start` in between is not missed.
            let started = self.0.started.notified();
            if self.is_draining() {
                return;
            }
            started.await;
        }
    }
}
