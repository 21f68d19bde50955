//! Stopping cleanly on SIGTERM (what `docker compose down` sends to PID 1) and SIGINT (Ctrl-C).
//!
//! Async services `select!` on [`signalled`]; blocking ones (the ZeroMQ ends) poll a
//! [`Flag`] between short socket timeouts.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use signal_hook::consts::{SIGINT, SIGTERM};

/// Completes when the process receives SIGTERM or SIGINT.
pub async fn signalled() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("installing a SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("installing a SIGINT handler");
    tokio::select! {
        _ = term.recv() => log::info!("SIGTERM received, shutting down"),
        _ = int.recv() => log::info!("SIGINT received, shutting down"),
    }
}

/// A flag that turns true on SIGTERM or SIGINT, for loops that block on sockets.
#[derive(Clone)]
pub struct Flag(Arc<AtomicBool>);

impl Flag {
    /// Installs the handlers. A second signal while the flag is set still only sets it.
    pub fn install() -> anyhow::Result<Self> {
        let flag = Arc::new(AtomicBool::new(false));
        for sig in [SIGTERM, SIGINT] {
            signal_hook::flag::register(sig, Arc::clone(&flag))
                .map_err(|e| anyhow::anyhow!("installing a handler for signal {sig}: {e}"))?;
        }
        Ok(Flag(flag))
    }

    /// A flag no signal sets, for tests and library callers.
    pub fn never() -> Self {
        Flag(Arc::new(AtomicBool::new(false)))
    }

    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Sets the flag by hand, as a signal would.
    pub fn set(&self) {
        self.0.store(true, Ordering::Relaxed)
    }
}
