//! The availability handle shared by everything in redis-gate.
//!
//! Whoever watches a dependency (the Redis monitor, a test, your own code) owns an
//! [`AvailabilityReporter`] and writes what it sees. Everybody else holds an [`Availability`]:
//! a read-only handle that is cheap to clone, answers [`Availability::is_available`] with a
//! single atomic load, and can be followed with [`Availability::subscribe`].
//!
//! ```
//! use redis_gate_core::{AvailabilityReporter, Status};
//!
//! let reporter = AvailabilityReporter::new("redis");
//! let redis = reporter.availability();
//! assert_eq!(redis.status(), Status::Connecting);
//! assert!(!redis.is_available());
//!
//! reporter.set_status(Status::Connected);
//! assert!(redis.is_available());
//!
//! // An operator takes the dependency out of service, whatever the monitor says.
//! reporter.mark_unavailable("maintenance");
//! assert!(!redis.is_available());
//! assert_eq!(redis.status(), Status::Connected);
//! ```
//!
//! It also holds what any monitor of any dependency shares: [`MonitorSettings`] (check interval,
//! fall and rise, [`Backoff`], [`StartupPolicy`], stall timeout), the classified [`CheckError`],
//! and [`redact`], the one function that decides what a secret looks like. With the `serde`
//! feature the settings read from and write to configuration files, durations in human form
//! (`"500ms"`), through `human_duration`.
//!
//! This crate knows nothing about Redis or HTTP; the layers live in `redis-gate-tower` and the
//! Redis monitor in `redis-gate-deadpool`.
//!
//! Most services depend on the `redis-gate` crate instead, which re-exports what a service names
//! at its root and the rest in its `config`, `monitor` and `layers` modules; the examples on the
//! items use those paths (`redis_gate::…`).

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod backoff;
mod check;
#[cfg(feature = "serde")]
pub mod human_duration;
#[cfg(feature = "metrics")]
mod metrics;
mod monitor;
mod reporter;
mod sanitize;
mod settings;
mod snapshot;
mod status;

pub use backoff::Backoff;
pub use check::{CheckError, CheckErrorKind, Connections, HealthCheck};
pub use monitor::{Monitor, Unavailable};
pub use reporter::{Availability, AvailabilityReporter, Subscription};
pub use sanitize::{redact, sanitize_error};
pub use settings::{MonitorSettings, StartupPolicy};
pub use snapshot::Snapshot;
pub use status::{Access, Reading, Status};

/// The longest duration a monitor uses: a longer setting is taken as this one. More is a typo
/// rather than a period or a timeout, and added to the time now it could overflow the clock.
pub(crate) const LONGEST: std::time::Duration = std::time::Duration::from_secs(365 * 24 * 60 * 60);

/// The name a reporter gets from [`AvailabilityReporter::default`].
pub const DEFAULT_NAME: &str = "redis";
