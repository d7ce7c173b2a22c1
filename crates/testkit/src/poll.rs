//! Waiting for a condition with a deadline, instead of sleeping and hoping.

use std::time::Duration;

/// Checks `condition` every 10 ms until it holds, for up to `deadline`. Returns whether it held.
pub async fn eventually(deadline: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let until = tokio::time::Instant::now() + deadline;
    loop {
        if condition() {
            return true;
        }
        if tokio::time::Instant::now() >= until {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
