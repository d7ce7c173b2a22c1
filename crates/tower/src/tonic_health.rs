//! gRPC health checks that follow Redis: mirror an availability handle into tonic-health.
//!
//! ```no_run
//! use redis_gate_core::AvailabilityReporter;
//! use redis_gate_tower::tonic_health::mirror_health;
//!
//! # async fn run() {
//! let reporter = AvailabilityReporter::default();
//! let (health, health_service) = tonic_health::server::health_reporter();
//! tokio::spawn(mirror_health(reporter.availability(), health, "tickets.Tickets"));
//! // Server::builder().add_service(health_service)...
//! # drop(health_service);
//! # }
//! ```

use redis_gate_core::Availability;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

/// Keeps `service_name`'s status in `health` equal to the handle's: `SERVING` while available,
/// `NOT_SERVING` otherwise, so `Check` calls and `Watch` streams follow Redis. Runs until the
/// handle's reporter is dropped; spawn it.
pub async fn mirror_health(
    availability: Availability,
    health: HealthReporter,
    service_name: impl AsRef<str>,
) {
    let service_name = service_name.as_ref();
    // Subscribe first, so a transition between the first write and the subscription is not lost.
    let mut changes = availability.subscribe();
    let mut serving = availability.is_available();
    health
        .set_service_status(service_name, status(serving))
        .await;
    while changes.changed().await.is_some() {
        let now = availability.is_available();
        if now != serving {
            serving = now;
            health
                .set_service_status(service_name, status(serving))
                .await;
        }
    }
}

fn status(serving: bool) -> ServingStatus {
    if serving {
        ServingStatus::Serving
    } else {
        ServingStatus::NotServing
    }
}
