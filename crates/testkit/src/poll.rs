//! Waiting for a condition with a deadline, instead of sleeping and hoping; and polling a future
//! once, to see whether it would wait.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// How long a test waits for a state it expects: long enough that a loaded 2-core machine never
/// fails a test that is only slow. A passing test never waits for all of it.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Pause between two checks of a condition.
const INTERVAL: Duration = Duration::from_millis(10);

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
        tokio::time::sleep(INTERVAL).await;
    }
}

/// [`eventually`] outside a runtime: the thread sleeps between checks.
pub fn blocking(deadline: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + deadline;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        std::thread::sleep(INTERVAL);
    }
}

/// Polls `future` once, with a waker that does nothing: its output if it completes without
/// waiting, `None` if it would wait.
pub fn at_once<F: Future>(future: F) -> Option<F::Output> {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}
