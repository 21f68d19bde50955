//! Stopping cleanly on SIGTERM (what `docker compose down` sends to PID 1) and SIGINT (Ctrl-C):
//! one [`Stop`] per process, cloned into everything that must end. Async code awaits
//! [`Stop::requested`]; loops that block on sockets (the ZeroMQ ends, the capture sidecar) check
//! [`Stop::is_set`] between short socket timeouts.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use tokio::sync::watch;

/// Turns true once, on SIGTERM or SIGINT or [`Stop::set`]; every clone sees it, and a stop that
/// came before a wait began is not lost.
#[derive(Clone)]
pub struct Stop {
    /// Read on every message by the blocking loops: one atomic load, no lock.
    set: Arc<AtomicBool>,
    /// Wakes the async waiters.
    tx: Arc<watch::Sender<bool>>,
}

impl Stop {
    /// Installs the SIGTERM and SIGINT handlers now: they exist as soon as this returns (call it
    /// before announcing readiness), so a signal that follows the first sign of life is never
    /// fatal, and as PID 1 in a container it is never ignored until the SIGKILL 10 s later.
    pub fn install() -> anyhow::Result<Stop> {
        let stop = Stop::never();
        let mut signals =
            Signals::new([SIGTERM, SIGINT]).context("installing SIGTERM and SIGINT handlers")?;
        let signalled = stop.clone();
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                if let Some(sig) = signals.forever().next() {
                    let name = if sig == SIGTERM { "SIGTERM" } else { "SIGINT" };
                    log::info!("{name} received, shutting down");
                    signalled.set();
                }
            })
            .context("starting the signal thread")?;
        Ok(stop)
    }

    /// A stop no signal sets, for tests and library callers (and [`Stop::set`] by hand).
    pub fn never() -> Stop {
        Stop {
            set: Arc::new(AtomicBool::new(false)),
            tx: Arc::new(watch::channel(false).0),
        }
    }

    /// Requests the stop by hand, as a signal would.
    pub fn set(&self) {
        self.set.store(true, Ordering::Relaxed);
        self.tx.send_replace(true);
    }

    pub fn is_set(&self) -> bool {
        self.set.load(Ordering::Relaxed)
    }

    /// Completes once the stop has been requested.
    pub async fn requested(&self) {
        let mut rx = self.tx.subscribe();
        // The sender lives as long as `self`, so this only ends with the stop.
        let _ = rx.wait_for(|stop| *stop).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_stop_set_before_or_during_a_wait_ends_it_and_every_clone_sees_it() {
        let stop = Stop::never();
        let clone = stop.clone();
        assert!(!clone.is_set());
        let waiter = tokio::spawn(async move { clone.requested().await });
        stop.set();
        waiter.await.unwrap();
        assert!(stop.is_set());
        // A wait that begins after the stop ends at once.
        stop.clone().requested().await;
    }

    #[test]
    fn sigterm_sets_the_stop() {
        let stop = Stop::install().unwrap();
        assert!(!stop.is_set());
        signal_hook::low_level::raise(SIGTERM).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !stop.is_set() {
            assert!(
                std::time::Instant::now() < deadline,
                "SIGTERM did not set the stop"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
}
