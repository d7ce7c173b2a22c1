//! Captures `tracing` output, to assert on log lines and on what they must never contain.
//!
//! One global subscriber (installed on first use) writes JSON lines to the capture of the thread
//! that emits them. A global subscriber rather than a per-test `set_default` one: tracing caches
//! each callsite's interest process-wide, and a callsite first hit on a thread without a
//! subscriber could otherwise be muted for every test.

use std::cell::RefCell;
use std::io;
use std::sync::{Arc, Mutex, Once, PoisonError};

use tracing_subscriber::fmt::MakeWriter;

thread_local! {
    static CURRENT: RefCell<Option<LogCapture>> = const { RefCell::new(None) };
}

/// Everything logged on this thread while the guard lives, formatted as JSON lines.
///
/// Install it at the top of a `#[tokio::test]` (a current-thread runtime, so spawned tasks log on
/// the same thread).
#[derive(Clone, Default)]
pub struct LogCapture {
    buffer: Arc<Mutex<Vec<u8>>>,
}

/// Stops the capture of this thread when dropped.
///
/// Dropping it also checks everything captured for registered test passwords (see
/// [`secrets`](crate::secrets)).
#[must_use = "the capture stops when the guard is dropped"]
pub struct CaptureGuard {
    capture: LogCapture,
    previous: Option<LogCapture>,
}

impl LogCapture {
    /// Starts capturing this thread's events at `DEBUG` and above.
    pub fn install() -> (LogCapture, CaptureGuard) {
        static GLOBAL: Once = Once::new();
        GLOBAL.call_once(|| {
            let subscriber = tracing_subscriber::fmt()
                .json()
                .with_max_level(tracing::Level::DEBUG)
                .with_writer(ThreadWriter)
                .finish();
            // Another global subscriber may exist already; then nothing is captured, and the
            // assertions on events say so.
            let _ = tracing::subscriber::set_global_default(subscriber);
        });
        let capture = LogCapture::default();
        let previous = CURRENT.with(|current| current.replace(Some(capture.clone())));
        let guard = CaptureGuard {
            capture: capture.clone(),
            previous,
        };
        (capture, guard)
    }

    /// All captured text.
    pub fn text(&self) -> String {
        let buffer = self.buffer.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&buffer).into_owned()
    }

    /// The captured lines whose message is `event`.
    pub fn events(&self, event: &str) -> Vec<String> {
        let needle = format!("\"message\":\"{event}\"");
        self.text()
            .lines()
            .filter(|line| line.contains(&needle))
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for CaptureGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|current| *current.borrow_mut() = previous);
        crate::secrets::check("captured log lines", &self.capture.text());
    }
}

/// Writes to the capture of the current thread, or nowhere.
struct ThreadWriter;

impl<'a> MakeWriter<'a> for ThreadWriter {
    type Writer = CaptureWriter;

    fn make_writer(&'a self) -> CaptureWriter {
        CaptureWriter(CURRENT.with(|current| current.borrow().clone()))
    }
}

/// One event's writer.
struct CaptureWriter(Option<LogCapture>);

impl io::Write for CaptureWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if let Some(capture) = &self.0 {
            let mut buffer = capture
                .buffer
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            buffer.extend_from_slice(bytes);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
