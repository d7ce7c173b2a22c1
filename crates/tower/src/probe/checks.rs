//! The probe's checks: a handle, its policy, and what readiness sees in it at one instant.

use redis_gate_core::{Access, Availability, Snapshot, Status};

use crate::body::json_string;

/// One dependency readiness looks at.
#[derive(Clone)]
pub(super) struct Check {
    pub(super) availability: Availability,
    pub(super) policy: Policy,
    /// The check's name, and as a JSON string, quotes included.
    pub(super) name: Box<str>,
    pub(super) json_name: Box<str>,
}

/// How a check counts for readiness.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Policy {
    Required,
    Optional,
    /// Required until the dependency has been available once, optional afterwards.
    RequiredAtStartup,
    /// Required to serve reads; writes refused is not down.
    RequiredReads,
}

impl Policy {
    /// The policy's name, in the details' `policy` and the verbose readiness labels.
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Policy::Required => "required",
            Policy::Optional => "optional",
            Policy::RequiredAtStartup => "required_at_startup",
            Policy::RequiredReads => "required_reads",
        }
    }

    /// What a check under this policy needs of its dependency to count as up.
    fn access(self) -> Access {
        match self {
            Policy::RequiredReads => Access::Read,
            Policy::Required | Policy::Optional | Policy::RequiredAtStartup => Access::ReadWrite,
        }
    }

    /// Whether a check under this policy fails readiness while down.
    fn is_required(self, has_been_available: bool) -> bool {
        match self {
            Policy::Required | Policy::RequiredReads => true,
            Policy::Optional => false,
            Policy::RequiredAtStartup => !has_been_available,
        }
    }
}

/// One check as readiness sees it at one instant.
#[derive(Clone, Copy)]
pub(super) struct Seen {
    /// It serves what the check's policy needs.
    pub(super) up: bool,
    /// It serves reads and refuses writes.
    pub(super) read_only: bool,
    pub(super) required: bool,
}

impl Check {
    /// A check of `availability` under `policy`, named after the handle.
    pub(super) fn new(availability: Availability, policy: Policy) -> Check {
        let name = availability.name();
        Check {
            json_name: json_string(&name).into(),
            name: (*name).into(),
            availability,
            policy,
        }
    }

    /// Reads the handle once. The "has been available" bit is read before the reading, so a
    /// dependency coming up in between is seen up, never down-but-optional.
    pub(super) fn see(&self) -> Seen {
        let required = self
            .policy
            .is_required(self.availability.has_been_available());
        let reading = self.availability.reading();
        Seen {
            up: reading.allows(self.policy.access()),
            read_only: reading.is_read_only(),
            required,
        }
    }

    /// The same from a snapshot, which holds the reading and the "has been available" bit of
    /// one write.
    pub(super) fn seen_in(&self, snapshot: &Snapshot) -> Seen {
        let reading = snapshot.reading();
        Seen {
            up: reading.allows(self.policy.access()),
            read_only: reading.is_read_only(),
            required: self.policy.is_required(snapshot.has_been_available()),
        }
    }
}

/// Why verbose readiness says a check failed: a status word, or what the handle remembers of
/// the dependency's history. Never an error text: the verbose answer goes to anyone who asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Down {
    /// The handle's writer is gone for good.
    Stopped,
    /// The monitor completes no checks, so it cannot vouch for the dependency.
    Stalled,
    /// An operator override holds the dependency out of service.
    Maintenance,
    /// It serves reads and refuses writes, which the check needs.
    ReadOnly,
    /// Not available yet, and the startup wait is not over.
    Connecting,
    /// Was available, lost it, and the monitor is reconnecting.
    Disconnected,
    /// `Failed` without ever having been available, once the startup decision is made: the
    /// startup wait ran out and the service runs without it.
    NeverAvailableAfterStartup,
    /// `Failed` without ever having been available, before the startup decision: a failure
    /// waiting does not fix (bad credentials), or a fail-closed startup that ran out of time.
    NeverAvailable,
    /// `Failed` after having been available: a failure waiting does not fix, such as credentials
    /// changed under the service.
    Lasting,
}

impl Down {
    pub(super) fn of(snapshot: &Snapshot) -> Down {
        let reading = snapshot.reading();
        if snapshot.is_stopped() {
            Down::Stopped
        } else if snapshot.is_stalled() {
            Down::Stalled
        } else if reading.is_overridden() {
            Down::Maintenance
        } else if reading.is_read_only() {
            Down::ReadOnly
        } else {
            match reading.status() {
                // Connected and down is an override, handled above.
                Status::Connecting | Status::Connected => Down::Connecting,
                Status::Disconnected => Down::Disconnected,
                Status::Failed if snapshot.has_been_available() => Down::Lasting,
                Status::Failed if snapshot.is_started() => Down::NeverAvailableAfterStartup,
                Status::Failed => Down::NeverAvailable,
            }
        }
    }

    pub(super) fn as_str(self) -> &'static str {
        match self {
            Down::Stopped => "monitor stopped",
            Down::Stalled => "monitor stalled",
            Down::Maintenance => "maintenance",
            Down::ReadOnly => "read_only",
            Down::Connecting => "connecting",
            Down::Disconnected => "disconnected",
            Down::NeverAvailableAfterStartup => "never available, startup over",
            Down::NeverAvailable => "never available",
            Down::Lasting => "lasting failure",
        }
    }
}
