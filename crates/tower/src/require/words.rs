//! The status words a rejection shows, in the order the cached bodies and gRPC messages keep
//! them.

use redis_gate_core::{Reading, Status};

/// The readings a rejection can show, one per status word (the words are
/// [`Reading::as_str`]'s); [`slot`] finds a reading's place.
pub(super) const SHOWN: [Reading; 5] = [
    Reading::new(Status::Connecting, false),
    Reading::new(Status::Disconnected, false),
    Reading::new(Status::Failed, false),
    Reading::new(Status::Connected, true),
    Reading::new(Status::Connected, false).with_writes_refused(true),
];

/// The index in [`SHOWN`] of the word a rejection shows for `reading`. A handler that found
/// Redis failing while the handle still says connected gets `disconnected`.
pub(super) fn slot(reading: Reading) -> usize {
    if reading.is_overridden() {
        return 3;
    }
    if reading.is_read_only() {
        return 4;
    }
    match reading.status() {
        Status::Connecting => 0,
        Status::Connected | Status::Disconnected => 1,
        Status::Failed => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reading_shows_the_word_of_its_slot() {
        let words = SHOWN.map(|shown| shown.as_str());
        assert_eq!(
            words,
            [
                "connecting",
                "disconnected",
                "failed",
                "maintenance",
                "read_only"
            ]
        );
        let read_only = Reading::new(Status::Connected, false).with_writes_refused(true);
        assert_eq!(words[slot(read_only)], "read_only");
        for (status, word) in [
            (Status::Connecting, "connecting"),
            (Status::Connected, "disconnected"),
            (Status::Disconnected, "disconnected"),
            (Status::Failed, "failed"),
        ] {
            assert_eq!(words[slot(Reading::new(status, false))], word, "{status:?}");
        }
        let overridden = Reading::new(Status::Connected, true);
        assert_eq!(words[slot(overridden)], "maintenance");
    }
}
