//! The threads that run units of database work ([`super::Db::run`]): as many as the pool has
//! connections, shared by every HTTP worker.
//!
//! why: each actix worker runs its own tokio runtime, and each runtime its own blocking pool, whose
//! threads outlive their work by ten seconds and are started whenever no idle one is ready at that
//! instant. Under 64 connections the service ran about 35 such threads for 10 connections, each with
//! a stack and an allocator cache of its own (130 MiB resident after a load run). A unit of work
//! takes one of the pool's slots first, so a thread here is always free for it.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of threads fed by one queue. Dropping it (with the last [`super::Db`] clone) lets
/// each thread finish its job and end.
pub struct Threads {
    queue: mpsc::Sender<Job>,
    /// Units of work queued or running.
    busy: Arc<AtomicUsize>,
}

/// The unit of work did not finish: it panicked, or the threads are gone.
#[derive(Debug, thiserror::Error)]
#[error("the unit of work did not finish (it panicked, or the service is stopping)")]
pub struct Lost;

impl Threads {
    pub fn start(count: usize) -> std::io::Result<Self> {
        let (queue, jobs) = mpsc::channel::<Job>();
        let jobs = Arc::new(Mutex::new(jobs));
        for n in 0..count.max(1) {
            let jobs = jobs.clone();
            std::thread::Builder::new().name(format!("fieldproof-db-{n}")).spawn(move || {
                loop {
                    // The lock is held while waiting, and released before the job runs.
                    let job = match jobs.lock() {
                        Ok(jobs) => jobs.recv(),
                        Err(_) => return,
                    };
                    let Ok(job) = job else { return };
                    // why: a panicking unit of work is answered with `Lost` (its reply is dropped);
                    // the thread stays for the next one.
                    let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
                }
            })?;
        }
        Ok(Self { queue, busy: Arc::default() })
    }

    /// Runs `work` on one of the threads and hands its result to the waiting task.
    pub async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, Lost> {
        let (done, result) = tokio::sync::oneshot::channel();
        let busy = Busy::enter(&self.busy);
        let job: Job = Box::new(move || {
            let _busy = busy;
            let _ = done.send(work());
        });
        self.queue.send(job).map_err(|_| Lost)?;
        result.await.map_err(|_| Lost)
    }

    /// Waits (blocking) until no unit of work is queued or running, or `limit` has passed; whether
    /// they all finished. A stopping service calls this before it links the last rows: a unit whose
    /// request was given up on may still be committing.
    pub fn wait_idle(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while self.busy.load(Ordering::Acquire) > 0 {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }
}

/// Counts one unit of work as busy until it is dropped (run, or dropped unrun with its job).
struct Busy(Arc<AtomicUsize>);

impl Busy {
    fn enter(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::AcqRel);
        Self(count.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unit_of_work_that_panics_is_lost_and_its_thread_runs_the_next() {
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        runtime.block_on(async {
            let threads = Threads::start(1).expect("threads start");
            assert_eq!(threads.run(|| 40 + 2).await.expect("runs"), 42);
            let lost = threads.run(|| -> u32 { panic!("a unit of work went wrong") }).await;
            assert!(lost.is_err());
            let name = threads.run(|| std::thread::current().name().map(str::to_owned)).await.expect("runs");
            assert_eq!(name.as_deref(), Some("fieldproof-db-0"), "the one thread is still there");
            assert!(threads.wait_idle(Duration::from_secs(1)), "nothing left running");
        });
    }
}
