//! What one read of the availability handle costs, against the other ways to share a status:
//! `is_available()` (one atomic load), `snapshot()` (the watch channel's read lock and a clone),
//! a bare `tokio::sync::watch` borrow, and a `std::sync::RwLock` read; alone, and with a second
//! thread reading the same handle in a loop.
//!
//! ```text
//! cargo bench -p redis-gate-core --bench handle
//! ```

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, RwLock};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use redis_gate_core::{Availability, AvailabilityReporter, Snapshot, Status};
use tokio::sync::watch;

/// The four ways to read, over the same snapshot.
#[derive(Clone)]
struct Readers {
    availability: Availability,
    watch: watch::Receiver<Snapshot>,
    rwlock: Arc<RwLock<Snapshot>>,
}

impl Readers {
    fn new(reporter: &AvailabilityReporter) -> (Readers, watch::Sender<Snapshot>) {
        let availability = reporter.availability();
        let snapshot = availability.snapshot();
        let (tx, watch) = watch::channel(snapshot.clone());
        let readers = Readers {
            availability,
            watch,
            rwlock: Arc::new(RwLock::new(snapshot)),
        };
        (readers, tx)
    }
}

type Read = fn(&Readers) -> bool;

const READS: [(&str, Read); 4] = [
    ("is_available", |r| r.availability.is_available()),
    ("snapshot", |r| r.availability.snapshot().is_available()),
    ("watch_borrow", |r| r.watch.borrow().is_available()),
    ("rwlock_read", |r| {
        r.rwlock
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_available()
    }),
];

fn one_thread(c: &mut Criterion) {
    let reporter = AvailabilityReporter::default();
    reporter.set_status(Status::Connected);
    let (readers, _tx) = Readers::new(&reporter);
    let mut group = c.benchmark_group("handle_1_thread");
    for (name, read) in READS {
        group.bench_function(name, |b| b.iter(|| black_box(read(black_box(&readers)))));
    }
    group.finish();
}

/// The measured thread reads while another thread does the same read in a loop, as two
/// request handlers on two cores would.
fn two_threads(c: &mut Criterion) {
    let reporter = AvailabilityReporter::default();
    reporter.set_status(Status::Connected);
    let (readers, _tx) = Readers::new(&reporter);
    let mut group = c.benchmark_group("handle_2_threads");
    for (name, read) in READS {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let stop = Arc::new(AtomicBool::new(false));
                let started = Arc::new(Barrier::new(2));
                let other = {
                    let (readers, stop, started) =
                        (readers.clone(), Arc::clone(&stop), Arc::clone(&started));
                    thread::spawn(move || {
                        started.wait();
                        while !stop.load(Ordering::Relaxed) {
                            black_box(read(black_box(&readers)));
                        }
                    })
                };
                started.wait();
                let begin = Instant::now();
                for _ in 0..iters {
                    black_box(read(black_box(&readers)));
                }
                let elapsed = begin.elapsed();
                stop.store(true, Ordering::Relaxed);
                other.join().expect("the other reader never panics");
                elapsed
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = one_thread, two_threads
}
criterion_main!(benches);
