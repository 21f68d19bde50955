//! What every ZeroMQ end shares: turning `HOST:PORT` into a `tcp://` endpoint, binding with a
//! clear error, a socket monitor to see real peers arrive (a zmq connect never fails for a missing
//! peer), and receive/send loops that wake every 100 ms to notice SIGTERM.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use common::Stop;

/// How long a blocking call waits before checking whether a stop was requested.
pub const TICK_MS: i64 = 100;

/// Resolves a peer's `HOST:PORT`, retrying for `limit`: under compose a peer's name may not
/// resolve until its container exists.
pub fn resolve_peer(hostport: &str, limit: Duration) -> anyhow::Result<SocketAddr> {
    common::retry::retry(&format!("resolving {hostport}"), limit, || {
        let mut addrs = hostport.to_socket_addrs().map_err(|e| e.to_string())?;
        addrs.next().ok_or_else(|| "no address".to_string())
    })
}

/// The zmq endpoint of a socket address (`tcp://127.0.0.1:5555`, `tcp://[::1]:5555`).
pub fn endpoint(addr: SocketAddr) -> String {
    format!("tcp://{addr}")
}

/// Binds `socket` on `listen` (`HOST:PORT`, port 0 for any) and logs the endpoint it got, which
/// tests read back as `listening on tcp://...`.
pub fn bind(socket: &zmq::Socket, listen: &str) -> anyhow::Result<String> {
    let wanted = endpoint(common::probe::resolve(listen)?);
    socket
        .bind(&wanted)
        .with_context(|| format!("binding {wanted}"))?;
    let bound = socket
        .get_last_endpoint()
        .with_context(|| format!("reading the endpoint bound for {wanted}"))?
        .map_err(|_| anyhow!("binding {wanted}: endpoint is not UTF-8"))?;
    log::info!("listening on {bound}");
    Ok(bound)
}

/// A socket monitor: libzmq reports connection events on an inproc PAIR socket. Once the peers
/// it waited for are there, [`Monitor::stop`] it before the socket goes on without it: libzmq
/// sends each later event (a peer's disconnect) from its I/O thread with a blocking send, so an
/// event for a reader that is gone freezes every connection of the context (a worker then never
/// reads its end marker, a pusher never flushes).
pub struct Monitor {
    events: zmq::Socket,
    inproc: String,
}

/// How waiting for peers ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Wait {
    Ready,
    Stopped,
    TimedOut,
    /// A handshake failed: the monitor event and its value ([`Monitor::wait_handshake`] only).
    Failed {
        event: u16,
        value: u32,
    },
}

/// Whether a monitor event is a failed handshake.
fn is_handshake_failure(event: u16) -> bool {
    use zmq::SocketEvent as E;
    [
        E::HANDSHAKE_FAILED_NO_DETAIL,
        E::HANDSHAKE_FAILED_PROTOCOL,
        E::HANDSHAKE_FAILED_AUTH,
    ]
    .iter()
    .any(|e| e.to_raw() == event)
}

/// A monitor read on a thread of its own for as long as a server runs, logging each failed
/// handshake as one warning (a peer without CURVE, or with a wrong server key: whichever end
/// reads the other's greeting first names the mismatch, the other only sees it leave); the server
/// goes on serving the others. Read all the time, since a full monitor queue would block
/// libzmq's I/O thread; [`Watcher::stop`] it before the socket closes.
pub struct Watcher {
    inproc: String,
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Watcher {
    /// Starts watching the peers of `socket` (after its bind: the listener's own events do not
    /// matter here).
    pub fn start(ctx: &zmq::Context, socket: &zmq::Socket) -> anyhow::Result<Self> {
        let monitor = Monitor::new(ctx, socket)?;
        let inproc = monitor.inproc.clone();
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let finished = done.clone();
        let thread = std::thread::spawn(move || {
            while !finished.load(Ordering::Relaxed) {
                match monitor.next(TICK_MS) {
                    // A peer gone during the handshake may be a port probe (the healthcheck).
                    Ok(Some((e, _)))
                        if e == zmq::SocketEvent::HANDSHAKE_FAILED_NO_DETAIL.to_raw() =>
                    {
                        log::debug!("a peer left during the handshake")
                    }
                    Ok(Some((e, value))) if is_handshake_failure(e) => log::warn!(
                        "a peer's handshake failed: {}",
                        crate::curve::handshake_failure(e, value)
                    ),
                    Ok(_) => {}
                    Err(err) => {
                        log::warn!("socket monitor: {err:#}");
                        break;
                    }
                }
            }
        });
        Ok(Watcher {
            inproc,
            done,
            thread,
        })
    }

    /// Stops the monitoring of `socket`, then the thread.
    pub fn stop(self, socket: &zmq::Socket) -> anyhow::Result<()> {
        let stopped = socket
            .monitor(&format!("{}-stopped", self.inproc), 0)
            .context("stopping a socket monitor");
        self.done.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
        stopped
    }
}

/// Connects `socket` to `ep` and waits until its ZMTP handshake is in (a socket monitor says
/// so); false if a stop came first. The error names the `peer` (`REP server`) when no handshake
/// came within `limit`, and says `why_failed` when one failed (ends that disagree on security).
pub fn connect_handshaken(
    ctx: &zmq::Context,
    socket: &zmq::Socket,
    ep: &str,
    peer: &str,
    limit: Duration,
    stop: &Stop,
    why_failed: impl Fn(u16, u32) -> String,
) -> anyhow::Result<bool> {
    let monitor = Monitor::new(ctx, socket)?;
    socket
        .connect(ep)
        .with_context(|| format!("connecting to {ep}"))?;
    let wait = monitor.wait_handshake(stop, Some(limit))?;
    // Stopped, not dropped: libzmq's I/O thread blocks for good on the next event (the socket's
    // disconnect, or its close) sent to a monitor that was closed.
    monitor.stop(socket)?;
    match wait {
        Wait::Ready => Ok(true),
        Wait::Stopped => Ok(false),
        Wait::TimedOut => anyhow::bail!(
            "no ZeroMQ handshake with {ep} within {} s: is the {peer} up?",
            limit.as_secs_f64()
        ),
        Wait::Failed { event, value } => {
            anyhow::bail!(
                "no ZeroMQ handshake with {ep}: {}",
                why_failed(event, value)
            )
        }
    }
}

impl Monitor {
    /// Starts monitoring `socket`; call before its bind or connect so no event is missed.
    pub fn new(ctx: &zmq::Context, socket: &zmq::Socket) -> anyhow::Result<Self> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let inproc = format!("inproc://monitor-{}", NEXT.fetch_add(1, Ordering::Relaxed));
        use zmq::SocketEvent as E;
        let mask = [
            E::ACCEPTED,
            E::CONNECTED,
            E::DISCONNECTED,
            E::HANDSHAKE_SUCCEEDED,
            E::HANDSHAKE_FAILED_NO_DETAIL,
            E::HANDSHAKE_FAILED_PROTOCOL,
            E::HANDSHAKE_FAILED_AUTH,
        ]
        .iter()
        .fold(0, |m, e| m | e.to_raw() as i32);
        socket
            .monitor(&inproc, mask)
            .context("starting a socket monitor")?;
        let events = ctx
            .socket(zmq::PAIR)
            .context("creating the monitor socket")?;
        events.set_linger(0)?;
        events
            .connect(&inproc)
            .with_context(|| format!("connecting to {inproc}"))?;
        Ok(Monitor { events, inproc })
    }

    /// Stops the monitoring of `socket` (the one given to [`Monitor::new`]), then closes the
    /// reader. The zmq crate cannot pass the null endpoint that stops a monitor, so libzmq gets a
    /// new one with no events: it closes the old sender first, and the new one never sends.
    pub fn stop(self, socket: &zmq::Socket) -> anyhow::Result<()> {
        socket
            .monitor(&format!("{}-stopped", self.inproc), 0)
            .context("stopping a socket monitor")
    }

    /// The next event's number and value, or `None` if none came within `timeout_ms`.
    pub fn next(&self, timeout_ms: i64) -> anyhow::Result<Option<(u16, u32)>> {
        if !poll(&self.events, zmq::POLLIN, timeout_ms)? {
            return Ok(None);
        }
        // Frame 1: event number (u16) and value (u32), little-endian; frame 2: the endpoint.
        let frames = self
            .events
            .recv_multipart(0)
            .context("reading a monitor event")?;
        let head = frames
            .first()
            .filter(|f| f.len() >= 6)
            .context("short monitor event")?;
        let value = u32::from_le_bytes([head[2], head[3], head[4], head[5]]);
        Ok(Some((u16::from_le_bytes([head[0], head[1]]), value)))
    }

    /// Waits until `n` peers have completed the ZMTP handshake. Only a completed handshake
    /// counts: a port probe or a peer sending garbage never gets that far.
    pub fn wait_handshakes(
        &self,
        n: usize,
        stop: &Stop,
        limit: Option<Duration>,
    ) -> anyhow::Result<Wait> {
        self.wait(n, stop, limit, false)
    }

    /// Waits for a connecting socket's one peer: like [`Monitor::wait_handshakes`], except that
    /// a failed handshake ends the wait ([`Wait::Failed`]). libzmq would only reconnect and fail
    /// again: the two ends disagree on security (CURVE on one side only, or a wrong server key).
    pub fn wait_handshake(&self, stop: &Stop, limit: Option<Duration>) -> anyhow::Result<Wait> {
        self.wait(1, stop, limit, true)
    }

    fn wait(
        &self,
        n: usize,
        stop: &Stop,
        limit: Option<Duration>,
        fail: bool,
    ) -> anyhow::Result<Wait> {
        let deadline = limit.map(|l| Instant::now() + l);
        let mut seen = 0;
        while seen < n {
            if stop.is_set() {
                return Ok(Wait::Stopped);
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(Wait::TimedOut);
            }
            match self.next(TICK_MS)? {
                Some((e, _)) if e == zmq::SocketEvent::HANDSHAKE_SUCCEEDED.to_raw() => {
                    seen += 1;
                    log::info!("peer handshake completed ({seen}/{n})");
                }
                Some((event, value)) if fail && is_handshake_failure(event) => {
                    return Ok(Wait::Failed { event, value });
                }
                Some((e, value)) => log::debug!("socket event {e:#x} ({value:#x})"),
                None => {}
            }
        }
        Ok(Wait::Ready)
    }
}

/// Polls one socket; a signal interrupting the wait (EINTR) counts as "not ready", so the caller
/// checks its stop next.
fn poll(socket: &zmq::Socket, events: zmq::PollEvents, timeout_ms: i64) -> anyhow::Result<bool> {
    match socket.poll(events, timeout_ms) {
        Ok(n) => Ok(n > 0),
        Err(zmq::Error::EINTR) => Ok(false),
        Err(e) => Err(e).context("polling a socket"),
    }
}

/// How a receive ended.
#[derive(Debug)]
pub enum Recv<T = Vec<Vec<u8>>> {
    Msg(T),
    Stopped,
    TimedOut,
}

/// Receives one (multipart) message, waking every [`TICK_MS`] to look at `stop`; gives up after
/// `limit` if one is set.
pub fn recv(socket: &zmq::Socket, stop: &Stop, limit: Option<Duration>) -> anyhow::Result<Recv> {
    let mut frames = Vec::new();
    Ok(match recv_into(socket, &mut frames, stop, limit)? {
        Recv::Msg(()) => Recv::Msg(frames.iter().map(|f| f.to_vec()).collect()),
        Recv::Stopped => Recv::Stopped,
        Recv::TimedOut => Recv::TimedOut,
    })
}

/// [`recv`] into `frames`, whose messages are reused from call to call: a loop that receives
/// hundreds of thousands of messages then allocates and copies nothing per message.
pub fn recv_into(
    socket: &zmq::Socket,
    frames: &mut Vec<zmq::Message>,
    stop: &Stop,
    limit: Option<Duration>,
) -> anyhow::Result<Recv<()>> {
    // Read the clock only once nothing is queued: a message waiting is the common case under load.
    let mut deadline = None;
    // The first receive takes a message already queued, with no option set and no wait.
    let mut flags = zmq::DONTWAIT;
    loop {
        if stop.is_set() {
            return Ok(Recv::Stopped);
        }
        match recv_frames(socket, frames, flags) {
            Ok(()) => return Ok(Recv::Msg(())),
            // Nothing yet, the tick passed, or a signal came: look at the stop and the deadline.
            Err(zmq::Error::EAGAIN) | Err(zmq::Error::EINTR) => {}
            Err(e) => return Err(e).context("receiving a message"),
        }
        let deadline = *deadline.get_or_insert_with(|| limit.map(|l| Instant::now() + l));
        let tick = match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(Recv::TimedOut);
                }
                // At least 1 ms: 0 would make the receive return at once.
                (left.as_millis() as i64).clamp(1, TICK_MS)
            }
            None => TICK_MS,
        };
        // Then receives that wait at most one tick (ZMQ_RCVTIMEO), as a blocking zmq_recv does.
        // zmq_poll and then a second receive took more calls into libzmq and more system calls
        // per message, and with one request in flight (a REP server's round trip) the server's
        // time is mostly the kernel's.
        socket
            .set_rcvtimeo(tick as i32)
            .context("setting ZMQ_RCVTIMEO")?;
        flags = 0;
    }
}

/// Receives one multipart message into `frames`, the first frame with `flags` (its later frames
/// are there with the first).
fn recv_frames(
    socket: &zmq::Socket,
    frames: &mut Vec<zmq::Message>,
    flags: i32,
) -> zmq::Result<()> {
    let mut n = 0;
    loop {
        if frames.len() == n {
            frames.push(zmq::Message::new());
        }
        socket.recv(&mut frames[n], if n == 0 { flags } else { 0 })?;
        n += 1;
        if !frames[n - 1].get_more() {
            frames.truncate(n);
            return Ok(());
        }
    }
}

/// Sends a message, waiting while the peers' queues are full but not past a shutdown; false if
/// stopped first.
pub fn send(socket: &zmq::Socket, frames: &[&[u8]], stop: &Stop) -> anyhow::Result<bool> {
    loop {
        if stop.is_set() {
            return Ok(false);
        }
        // Try first, poll only when the queues are full (see `recv`).
        match socket.send_multipart(frames, zmq::DONTWAIT) {
            Ok(()) => return Ok(true),
            Err(zmq::Error::EAGAIN) | Err(zmq::Error::EINTR) => {}
            Err(e) => return Err(e).context("sending a message"),
        }
        poll(socket, zmq::POLLOUT, TICK_MS)?;
    }
}

/// How long a role that finished its run lets queued messages reach slow peers as its sockets
/// close: a busy 2-core machine can hold tens of thousands in flight, and a short linger would
/// silently discard them; the bound keeps a dead peer from holding the process forever.
pub const FLUSH_LINGER_MS: i32 = 30_000;

/// Called once a run is complete: the sockets' close then waits until everything queued was
/// delivered (up to [`FLUSH_LINGER_MS`]). Closing blocks in libzmq and cannot watch the signal
/// stop, so a watchdog exits the process at once if SIGTERM or SIGINT arrives meanwhile.
pub fn flush_on_close(sockets: &[&zmq::Socket], stop: &Stop) -> anyhow::Result<()> {
    if stop.is_set() {
        // Stopped early: keep the short linger, so the summary still prints within 2 s.
        return Ok(());
    }
    for socket in sockets {
        socket
            .set_linger(FLUSH_LINGER_MS)
            .context("setting ZMQ_LINGER")?;
    }
    let stop = stop.clone();
    std::thread::spawn(move || loop {
        if stop.is_set() {
            log::warn!("stopped while delivering queued messages");
            std::process::exit(0);
        }
        std::thread::sleep(Duration::from_millis(TICK_MS as u64));
    });
    Ok(())
}

/// A name for this process that is unique on a host and across containers: hostname and pid.
pub fn default_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let host = host.trim();
    let host = if host.is_empty() { "worker" } else { host };
    format!("{host}-{}", std::process::id())
}
