//! The broker: rmqtt embedded and configured in code (no TOML file to ship in the image).
//!
//! One port serves MQTT 3.1.1 and 5.0 (rmqtt reads the protocol level of each CONNECT). The
//! retainer and session-storage plugins keep retained messages, sessions, subscriptions and
//! queued QoS 1/2 messages in sled databases under `--data-dir`, so a restart loses none of them;
//! on SIGTERM the broker first stops listening, then closes every connection, so that the
//! messages in flight to online subscribers are stored too.
//! With `--tls-cert` and `--tls-key` every listener speaks MQTT over TLS (rmqtt's rustls listener;
//! the `mqtt-tls` variant listens on 8883, MQTT's TLS port).

use std::net::{SocketAddr, TcpListener};
use std::num::NonZeroU16;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, Context};
use clap::Parser;
use common::probe::resolve;
use rmqtt::context::ServerContext;
use rmqtt::hook::{Handler, HookResult, Parameter, ReturnType, Type};
use rmqtt::net::Builder;
use rmqtt::server::MqttServer;
use rmqtt::types::{ConnectInfo, Reason};

/// mqtt-broker: an MQTT 3.1.1 and 5.0 broker (rmqtt) that routes PUBLISH packets to matching
/// subscribers and keeps its state on disk.
#[derive(Parser, Debug, Clone)]
#[command(name = "mqtt-broker", version)]
pub struct Args {
    /// Address to listen on for MQTT 3.1.1 and 5.0 clients.
    #[arg(long, env = "LISTEN", default_value = "0.0.0.0:1883")]
    pub listen: String,

    /// A second address, also serving both protocol versions (off unless given).
    #[arg(long, env = "LISTEN_V5")]
    pub listen_v5: Option<String>,

    /// Largest packet a client may send, in bytes.
    #[arg(long, env = "MAX_PAYLOAD", default_value_t = crate::MAX_PACKET)]
    pub max_payload: usize,

    /// Seconds a new connection may take to send CONNECT before the broker closes it.
    #[arg(long = "connect-timeout-secs", env = "CONNECT_TIMEOUT_SECS", default_value = "5", value_parser = common::secs)]
    pub connect_timeout: Duration,

    /// Directory for sessions, subscriptions, queued and retained messages (kept across
    /// restarts). Without it they go to a temporary directory removed when the broker stops.
    #[arg(long, env = "DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// Serve MQTT over TLS with this PEM certificate chain (needs --tls-key).
    #[arg(long, env = "TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The private key of --tls-cert, PEM.
    #[arg(long, env = "TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Healthcheck: exit 0 if something accepts connections on --listen, else 1. With TLS and
    /// --probe-ca-file, a whole MQTT session over TLS (CONNECT, CONNACK, DISCONNECT) instead, so
    /// the probe is not a failed handshake in the broker's log.
    #[arg(long)]
    pub probe: bool,

    /// The CA that --probe trusts for the broker's own TLS certificate.
    #[arg(long, env = "PROBE_CA_FILE")]
    pub probe_ca_file: Option<PathBuf>,
}

/// Messages queued for one offline persistent session, as Mosquitto's `max_queued_messages`
/// (whose default is 1000; more here so a restart scenario with a few thousand messages fits).
const MAX_QUEUED: usize = 10_000;

/// QoS 1/2 deliveries in flight per client (Mosquitto's default is 20).
const MAX_INFLIGHT: u16 = 100;

/// Sessions and messages without an expiry of their own live this long; rmqtt's defaults (2 h
/// and 5 min) would drop what Mosquitto keeps.
const KEEP: Duration = Duration::from_secs(365 * 24 * 3600);

/// sled writes its log to disk every 500 ms (its default); a stop waits two of those after the
/// last connection was closed.
const FLUSH_WAIT: Duration = Duration::from_millis(1000);

/// How long a stop keeps closing connections, so that one accepted just before the listeners
/// closed is closed too (and its session stored) before the broker exits.
const CLOSE_FOR: Duration = Duration::from_millis(500);

/// The listener settings: rmqtt's defaults, except where they differ from Mosquitto's.
fn listener(name: &str, addr: SocketAddr, args: &Args) -> anyhow::Result<rmqtt::net::Listener> {
    let max_packet = u32::try_from(args.max_payload).context("--max-payload is too large")?;
    let builder = Builder::new()
        .name(name)
        .laddr(addr)
        .nodelay(true)
        // A restarted broker must bind while its old connections still sit in TIME_WAIT or
        // FIN_WAIT_2 (a kill with clients connected), as Mosquitto does.
        .reuseaddr(Some(true))
        .max_packet_size(max_packet)
        .handshake_timeout(args.connect_timeout)
        .allow_zero_keepalive(true)
        .max_inflight(NonZeroU16::new(MAX_INFLIGHT).expect("non-zero"))
        .max_mqueue_len(MAX_QUEUED)
        .max_topic_aliases(u16::MAX)
        .session_expiry_interval(KEEP)
        .message_expiry_interval(KEEP);
    let bound = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => builder
            .tls_cert(Some(cert.display().to_string()))
            .tls_key(Some(key.display().to_string()))
            .bind()
            .and_then(|l| l.tls()),
        _ => builder.bind().and_then(|l| l.tcp()),
    };
    bound.map_err(|err| anyhow!("listening on {addr}: {err}"))
}

/// The TOML of a plugin that stores into `dir` with sled; a small cache, as the broker's
/// working set is what is online.
fn sled_config(dir: &Path, extra: &str) -> String {
    format!(
        "{extra}\n[storage]\ntype = \"sled\"\nsled.path = {:?}\nsled.cache_capacity = \"2M\"\n",
        dir.display().to_string()
    )
}

/// Where the state lives, and whether it is ours to remove at the end.
struct DataDir {
    path: PathBuf,
    temporary: bool,
}

impl DataDir {
    fn new(given: Option<&Path>) -> anyhow::Result<DataDir> {
        let (path, temporary) = match given {
            Some(dir) => (dir.to_path_buf(), false),
            None => (
                std::env::temp_dir().join(format!("mqtt-broker-{}", std::process::id())),
                true,
            ),
        };
        std::fs::create_dir_all(&path)
            .with_context(|| format!("creating data directory {}", path.display()))?;
        // sled would fail later with a less clear message on a read-only directory.
        let probe = path.join(".writable");
        std::fs::write(&probe, b"")
            .with_context(|| format!("data directory {} is not writable", path.display()))?;
        let _ = std::fs::remove_file(probe);
        Ok(DataDir { path, temporary })
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Starts rmqtt with its plugins; returns once the listeners are bound (errors name the address).
async fn start(
    args: &Args,
    data: &Path,
) -> anyhow::Result<(ServerContext, tokio::task::JoinHandle<()>)> {
    let v4 = resolve(&args.listen)?;
    let v5 = args.listen_v5.as_deref().map(resolve).transpose()?;
    for addr in std::iter::once(v4).chain(v5) {
        // Bind first for a one-line error; the port is free again when this listener drops.
        TcpListener::bind(addr).with_context(|| format!("listening on {addr}"))?;
    }
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        common::tls::check_server_files(cert, key)?;
    }
    let scx = ServerContext::new()
        // rmqtt refuses CONNECTs while the host's load average is high; on a shared 2-core
        // machine that would refuse clients at random.
        .busy_check_enable(false)
        .plugins_config_map_add(
            "rmqtt-retainer",
            sled_config(&data.join("retained"), "retained_message_ttl = \"0s\""),
        )
        .plugins_config_map_add(
            "rmqtt-session-storage",
            sled_config(&data.join("sessions"), ""),
        )
        .build()
        .await;
    rmqtt_retainer::register(&scx, true, false)
        .await
        .map_err(|err| anyhow!("starting the retained-message store: {err}"))?;
    rmqtt_session_storage::register(&scx, true, false)
        .await
        .map_err(|err| anyhow!("starting the session store: {err}"))?;
    add_hooks(&scx).await;
    let mut server = MqttServer::new(scx.clone()).listener_by_id(listener("tcp", v4, args)?, 1);
    if let Some(addr) = v5 {
        server = server.listener_by_id(listener("tcp2", addr, args)?, 2);
    }
    let server = server.build();
    log::info!(
        "MQTT broker: 3.1.1 and 5.0 on {v4}{}{}, state in {}",
        v5.map(|a| format!(" and {a}")).unwrap_or_default(),
        if args.tls_cert.is_some() {
            " over TLS"
        } else {
            ""
        },
        data.display()
    );
    let running = tokio::spawn(async move {
        if let Err(err) = server.run().await {
            log::error!("broker: {err}");
        }
    });
    Ok((scx, running))
}

/// Stores, when a persistent session goes offline, the messages queued to it that were not yet
/// sent (beyond its in-flight window). rmqtt's session-storage plugin stores the messages in
/// flight (its `OfflineInflightMessages` hook) and each message that arrives while the session is
/// offline (`OfflineMessage`), but not that queue, so a restart lost it: with a subscriber too
/// slow for the stream, every message queued behind its 100 in flight. Here each one is handed to
/// the same `OfflineMessage` hook on `ClientDisconnected` (which rmqtt runs before the session goes
/// offline), and put back in the queue, in order. When the client comes back without a restart,
/// the plugin clears what it stored and the queue is delivered as before.
struct StoreQueued {
    scx: ServerContext,
}

/// Adds the broker's own hook handlers: [`StoreQueued`] and [`Redeliver`].
async fn add_hooks(scx: &ServerContext) {
    let register = scx.extends.hook_mgr().register();
    let store = Box::new(StoreQueued { scx: scx.clone() });
    register.add(Type::ClientDisconnected, store).await;
    let redeliver = Box::new(Redeliver { scx: scx.clone() });
    register.add(Type::MessageDropped, redeliver).await;
    register.start().await;
}

#[async_trait::async_trait]
impl Handler for StoreQueued {
    async fn hook(&self, param: &Parameter, acc: Option<HookResult>) -> ReturnType {
        let Parameter::ClientDisconnected(session, _) = param else {
            return (true, acc);
        };
        let kept = match session.connect_info().await.as_deref() {
            Ok(ConnectInfo::V3(_, connect)) => !connect.clean_session,
            Ok(ConnectInfo::V5(..)) => !session.fitter.session_expiry_interval(None).is_zero(),
            Err(_) => false,
        };
        let queue = session.deliver_queue();
        if kept && !queue.is_empty() {
            let queued: Vec<_> = std::iter::from_fn(|| queue.pop()).collect();
            let hook = self.scx.extends.hook_mgr().hook((*session).clone());
            for (from, publish) in queued {
                hook.offline_message(from.clone(), &publish).await;
                // The queue had room for it a moment ago, and only this task fills it now.
                let _ = queue.push((from, publish));
            }
        }
        (true, acc)
    }
}

/// Hands a message again to a session that was being taken over when it was routed. When a
/// client reconnects, rmqtt moves its session to the new connection and, for that moment, has no
/// channel to it: a QoS 1 or 2 message routed then is dropped ("the client has disconnected", or
/// the old channel closed), though the session goes on. Measured with a publisher resending its in-flight
/// messages as a subscriber reconnected after a broker restart: 11 to 107 of 3,000 QoS 2 messages
/// lost in 1 run of 3. Here each such message is handed to the client's session again, once it
/// has a channel, within [`REDELIVER_FOR`]; it may then arrive after newer ones.
struct Redeliver {
    scx: ServerContext,
}

/// How long a message dropped during a session takeover is offered again.
const REDELIVER_FOR: Duration = Duration::from_secs(5);

#[async_trait::async_trait]
impl Handler for Redeliver {
    async fn hook(&self, param: &Parameter, acc: Option<HookResult>) -> ReturnType {
        let Parameter::MessageDropped(Some(to), from, publish, Reason::Error(why)) = param else {
            return (true, acc);
        };
        // QoS 0 promises nothing; a client gone for good is looked for until REDELIVER_FOR.
        if publish.qos == rmqtt::codec::types::QoS::AtMostOnce
            || !matches!(
                why.as_ref(),
                "the client has disconnected"
                    | "Connection Tx is closed"
                    | "Tx is None"
                    | "Tx is closed"
            )
        {
            return (true, acc);
        }
        let (scx, to, from, publish) =
            (self.scx.clone(), to.clone(), from.clone(), publish.clone());
        tokio::spawn(async move {
            let until = tokio::time::Instant::now() + REDELIVER_FOR;
            let mut pause = Duration::from_millis(10);
            while tokio::time::Instant::now() < until {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(500));
                let shared = scx.extends.shared().await;
                // Checked first: publishing to a client with no session yet fails too, but rmqtt
                // logs a warning for each such try.
                if !shared.exist(&to.client_id) {
                    continue;
                }
                let entry = shared.entry(to.clone());
                if entry.publish(from.clone(), publish.clone()).await.is_ok() {
                    log::debug!(
                        "redelivered a message to {} after its session takeover",
                        to.client_id
                    );
                    return;
                }
            }
            log::warn!(
                "a message to {} dropped: its session did not come back",
                to.client_id
            );
        });
        (true, acc)
    }
}

/// Closes every client connection as if the client had gone: rmqtt then takes each persistent
/// session offline the usual way, and the session-storage plugin stores the session and the
/// QoS 1/2 messages still in flight to it (its `OfflineInflightMessages` hook), so they are
/// delivered again after a restart. Returns how many connections were closed.
async fn close_connections(scx: &ServerContext) -> usize {
    let shared = scx.extends.shared().await;
    let mut closed = 0;
    for entry in shared.iter() {
        if !entry.is_connected().await {
            continue;
        }
        if let Some(tx) = entry.tx() {
            let reason = rmqtt::types::Reason::from_static("broker stopping");
            if tx
                .unbounded_send(rmqtt::types::Message::Closed(reason))
                .is_ok()
            {
                closed += 1;
            }
        }
    }
    closed
}

/// The broker's tokio runtime: one thread, as Mosquitto's one event loop. rmqtt serves each
/// connection in its own task and hands every PUBLISH from the publisher's task to each
/// subscriber's task through a channel; on a multi-threaded runtime those tasks sit on different
/// workers, so each message costs a cross-thread wake-up (a futex call and a context switch).
/// Measured in `pola bench`, one thread halves the QoS 0 p50 and keeps RSS lower (fewer malloc
/// arenas). sled and the session-storage plugin keep their own threads for disk work.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")
}

/// Runs the broker until SIGTERM or SIGINT (Ok) or until it dies (Err).
pub async fn serve(args: Args) -> anyhow::Result<()> {
    let stop = crate::Stop::install()?;
    let data = DataDir::new(args.data_dir.as_deref())?;
    let (scx, mut running) = start(&args, &data.path).await?;
    let listen = &args.listen;
    tokio::select! {
        _ = stop.requested() => {
            // The listeners go first (they live in the server's task): a client that reconnects
            // now is refused, instead of finding a broker that is storing its state to exit.
            running.abort();
            let until = tokio::time::Instant::now() + CLOSE_FOR;
            let mut closed = 0;
            while tokio::time::Instant::now() < until {
                closed += close_connections(&scx).await;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            log::info!("MQTT broker: stopping, {closed} connection(s) closed and their sessions stored");
            // Stored state is written by background tasks and sled's periodic flush.
            tokio::time::sleep(FLUSH_WAIT).await;
            log::info!("MQTT broker: stopped");
            drop(data);
            // rmqtt and sled leave blocking tasks running that would keep the tokio runtime
            // (and so the process, and sled's lock on the data) alive after this returns.
            std::process::exit(0);
        }
        _ = &mut running => Err(anyhow!("broker on {listen} stopped (see the log above)")),
    }
}
