use std::fmt;

/// Where the monitor stands with its dependency.
///
/// Only [`Status::Connected`] counts as available.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Status {
    /// Never connected yet: the first attempts are under way.
    Connecting = 0,
    /// Connected and answering health checks.
    Connected = 1,
    /// Was connected, lost the connection, and is reconnecting.
    Disconnected = 2,
    /// The startup budget ran out, or a non-transient error (such as bad credentials) was seen.
    /// The monitor may still be retrying.
    Failed = 3,
}

impl Status {
    /// The lower-case word used in logs and response bodies: `connecting`, `connected`,
    /// `disconnected` or `failed`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Connecting => "connecting",
            Status::Connected => "connected",
            Status::Disconnected => "disconnected",
            Status::Failed => "failed",
        }
    }

    const fn from_bits(bits: u8) -> Status {
        match bits & STATUS_MASK {
            0 => Status::Connecting,
            1 => Status::Connected,
            2 => Status::Disconnected,
            _ => Status::Failed,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

const STATUS_MASK: u8 = 0b0011;
const OVERRIDE_BIT: u8 = 0b0100;
/// Shares the handle's atomic byte with the reading, but is not part of it.
pub(crate) const STARTED_BIT: u8 = 0b1000;
/// Likewise: set once the reading has been available, and never cleared.
pub(crate) const BEEN_AVAILABLE_BIT: u8 = 0b1_0000;

/// What a reader saw at one instant: the monitor's [`Status`] and whether an operator override
/// holds the dependency out of service.
///
/// It is two bits of one atomic byte, so it is `Copy`, costs one load to take, and is what
/// `CheckRedis` puts into request extensions.
///
/// ```
/// # mod redis_gate { pub use redis_gate_core::*; pub mod monitor { pub use redis_gate_core::*; } }
/// use redis_gate::{AvailabilityReporter, Status};
///
/// let reporter = AvailabilityReporter::default();
/// reporter.set_status(Status::Connected);
/// let reading = reporter.availability().reading();
/// assert!(reading.is_available());
/// assert_eq!(reading.as_str(), "connected");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Reading(u8);

impl Reading {
    pub(crate) const fn from_bits(bits: u8) -> Reading {
        Reading(bits & (STATUS_MASK | OVERRIDE_BIT))
    }

    pub(crate) const fn bits(self) -> u8 {
        self.0
    }

    /// The reading of `status`, with or without an operator override.
    ///
    /// ```
    /// # mod redis_gate { pub use redis_gate_core::*; pub mod monitor { pub use redis_gate_core::*; } }
    /// use redis_gate::{Reading, Status};
    ///
    /// assert!(Reading::new(Status::Connected, false).is_available());
    /// assert_eq!(Reading::new(Status::Connected, true).as_str(), "maintenance");
    /// ```
    pub const fn new(status: Status, overridden: bool) -> Reading {
        Reading(status as u8 | if overridden { OVERRIDE_BIT } else { 0 })
    }

    /// True when the status is [`Status::Connected`] and no override is in force.
    #[inline]
    pub const fn is_available(self) -> bool {
        self.0 == Status::Connected as u8
    }

    /// The monitor's status, whatever the override says.
    #[inline]
    pub const fn status(self) -> Status {
        Status::from_bits(self.0)
    }

    /// True while an operator override marks the dependency unavailable.
    #[inline]
    pub const fn is_overridden(self) -> bool {
        self.0 & OVERRIDE_BIT != 0
    }

    /// The word clients see: `maintenance` while overridden, else the status word.
    pub const fn as_str(self) -> &'static str {
        if self.is_overridden() {
            "maintenance"
        } else {
            self.status().as_str()
        }
    }
}

impl fmt::Debug for Reading {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reading")
            .field("status", &self.status())
            .field("overridden", &self.is_overridden())
            .finish()
    }
}

impl fmt::Display for Reading {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Status; 4] = [
        Status::Connecting,
        Status::Connected,
        Status::Disconnected,
        Status::Failed,
    ];

    #[test]
    fn only_connected_without_override_is_available() {
        for status in ALL {
            assert_eq!(
                Reading::new(status, false).is_available(),
                status == Status::Connected
            );
            assert!(!Reading::new(status, true).is_available());
        }
    }

    #[test]
    fn reading_round_trips_status_and_override() {
        for status in ALL {
            for overridden in [false, true] {
                let reading = Reading::from_bits(Reading::new(status, overridden).bits());
                assert_eq!(reading.status(), status);
                assert_eq!(reading.is_overridden(), overridden);
            }
        }
    }

    #[test]
    fn override_reads_as_maintenance() {
        assert_eq!(
            Reading::new(Status::Connected, true).as_str(),
            "maintenance"
        );
        assert_eq!(Reading::new(Status::Failed, false).as_str(), "failed");
    }
}
