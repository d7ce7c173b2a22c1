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
/// Part of the reading: connected, reads answered, writes refused. Only ever set beside
/// [`Status::Connected`].
const WRITES_REFUSED_BIT: u8 = 0b10_0000;
const READING_BITS: u8 = STATUS_MASK | OVERRIDE_BIT | WRITES_REFUSED_BIT;

/// What a route, a readiness check or a pool needs of its dependency: reads and writes (the
/// default everywhere), or reads alone, for what only reads and should go on while Redis
/// refuses writes.
///
/// ```
/// # mod redis_gate { pub use redis_gate_core::*; }
/// use redis_gate::{Access, Reading, Status};
///
/// let read_only = Reading::new(Status::Connected, false).with_writes_refused(true);
/// assert!(read_only.allows(Access::Read));
/// assert!(!read_only.allows(Access::ReadWrite));
/// assert_eq!(Access::default(), Access::ReadWrite);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Access {
    /// Reads and writes.
    #[default]
    ReadWrite,
    /// Reads alone.
    Read,
}

/// What a reader saw at one instant: the monitor's [`Status`], whether an operator override
/// holds the dependency out of service, and whether a connected dependency refuses writes while
/// it answers reads (a Redis that is read-only: a replica, out of memory, a failed save, writes
/// paused).
///
/// [`is_available`](Self::is_available) means reads *and* writes work; [`can_read`](Self::can_read)
/// means reads do. It is bits of one atomic byte, so it is `Copy`, costs one load to take, and is
/// what `CheckRedis` puts into request extensions.
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
        Reading(bits & READING_BITS)
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

    /// This reading of a connected dependency that answers reads and refuses writes (`refused`),
    /// or accepts both. A reading that is not [`Status::Connected`] has no such distinction and
    /// is returned as it is.
    ///
    /// ```
    /// # mod redis_gate { pub use redis_gate_core::*; pub mod monitor { pub use redis_gate_core::*; } }
    /// use redis_gate::{Reading, Status};
    ///
    /// let read_only = Reading::new(Status::Connected, false).with_writes_refused(true);
    /// assert!(read_only.can_read());
    /// assert!(!read_only.can_write());
    /// assert!(!read_only.is_available());
    /// assert_eq!(read_only.as_str(), "read_only");
    /// ```
    pub const fn with_writes_refused(self, refused: bool) -> Reading {
        if refused && self.status() as u8 == Status::Connected as u8 {
            Reading(self.0 | WRITES_REFUSED_BIT)
        } else {
            Reading(self.0 & !WRITES_REFUSED_BIT)
        }
    }

    /// True when reads and writes both work: the status is [`Status::Connected`], no override is
    /// in force, and writes are not refused. What every gate, probe and mirror requires unless
    /// told that reads are enough.
    #[inline]
    pub const fn is_available(self) -> bool {
        self.0 == Status::Connected as u8
    }

    /// True when reads work: [`Status::Connected`] and no override, whether or not writes are
    /// refused.
    #[inline]
    pub const fn can_read(self) -> bool {
        self.0 & !WRITES_REFUSED_BIT == Status::Connected as u8
    }

    /// True when the dependency serves `access`: [`can_read`](Self::can_read) for
    /// [`Access::Read`], [`is_available`](Self::is_available) for [`Access::ReadWrite`].
    #[inline]
    pub const fn allows(self, access: Access) -> bool {
        match access {
            Access::ReadWrite => self.is_available(),
            Access::Read => self.can_read(),
        }
    }

    /// True when writes work, which is when everything does: the same as
    /// [`is_available`](Self::is_available).
    #[inline]
    pub const fn can_write(self) -> bool {
        self.is_available()
    }

    /// Whether the writes-refused bit is set, override or not.
    pub(crate) const fn writes_refused(self) -> bool {
        self.0 & WRITES_REFUSED_BIT != 0
    }

    /// True while the dependency answers reads and refuses writes (no override in force).
    #[inline]
    pub const fn is_read_only(self) -> bool {
        self.0 == Status::Connected as u8 | WRITES_REFUSED_BIT
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

    /// The word clients see: `maintenance` while overridden, `read_only` while writes are
    /// refused, else the status word.
    pub const fn as_str(self) -> &'static str {
        if self.is_overridden() {
            "maintenance"
        } else if self.is_read_only() {
            "read_only"
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
            .field("writes_refused", &(self.0 & WRITES_REFUSED_BIT != 0))
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
    fn writes_refused_is_a_connected_reading_that_reads_but_does_not_write() {
        for status in ALL {
            for overridden in [false, true] {
                let reading = Reading::new(status, overridden).with_writes_refused(true);
                let connected = status == Status::Connected;
                assert_eq!(reading.can_read(), connected && !overridden);
                assert!(!reading.can_write() && !reading.is_available());
                assert_eq!(reading.is_read_only(), connected && !overridden);
                assert_eq!(reading.status(), status);
                assert_eq!(Reading::from_bits(reading.bits()), reading);
                assert_eq!(
                    reading.with_writes_refused(false),
                    Reading::new(status, overridden)
                );
            }
        }
        let read_only = Reading::new(Status::Connected, false).with_writes_refused(true);
        assert_eq!(read_only.as_str(), "read_only");
        assert_eq!(
            read_only.with_writes_refused(false).as_str(),
            "connected",
            "writes back"
        );
        assert_eq!(
            Reading::new(Status::Connected, true)
                .with_writes_refused(true)
                .as_str(),
            "maintenance"
        );
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
