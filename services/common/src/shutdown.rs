//! Stopping cleanly on SIGTERM (what `docker compose down` sends to PID 1) and SIGINT (Ctrl-C).
//!
//! Async services `select!` on [`signalled`]; blocking ones (the ZeroMQ ends) poll a
//! [`Flag`] between short socket timeouts.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context;
use signal_hook::consts::{SIGINT, SIGTERM};

/// Installs SIGTERM and SIGINT handlers now and returns a future that completes on either.
///
/// The handlers exist as soon as this returns (call it inside the tokio runtime, before announcing
/// readiness): a signal arriving before a handler exists would kill the process with the default
/// action, as PID 1 in a container it would be ignored until the SIGKILL 10 s later.
pub fn signalled() -> anyhow::Result<impl Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("installing a SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing a SIGINT handler")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => log::info!("SIGTERM received, shutting down"),
            _ = int.recv() => log::info!("SIGINT received, shutting down"),
        }
    })
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
