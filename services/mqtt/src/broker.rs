//! The broker: rumqttd embedded and configured in code (no TOML file to ship in the image).
//!
//! rumqttd's `Broker::start` blocks and only logs when a listener cannot bind, so we check each
//! port ourselves first (one clear error line), run rumqttd on its own thread, and treat that
//! thread returning as the broker having died. SIGTERM simply ends the process: rumqttd keeps no
//! state on disk that a clean stop would have to save.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};

use anyhow::{anyhow, Context};
use clap::Parser;
use rumqttd::{Config, ConnectionSettings, RouterConfig, ServerSettings};

/// mqtt-broker: an MQTT broker (rumqttd) that routes PUBLISH packets to matching subscribers.
#[derive(Parser, Debug, Clone)]
#[command(name = "mqtt-broker", version)]
pub struct Args {
    /// Address to listen on for MQTT 3.1.1 clients.
    #[arg(long, env = "LISTEN", default_value = "0.0.0.0:1883")]
    pub listen: String,

    /// Also listen for MQTT 5 clients on this address (off unless given).
    #[arg(long, env = "LISTEN_V5")]
    pub listen_v5: Option<String>,

    /// Largest packet a client may send, in bytes.
    #[arg(long, env = "MAX_PAYLOAD", default_value_t = crate::MAX_PACKET)]
    pub max_payload: usize,

    /// Milliseconds a new connection may take to send CONNECT before the broker closes it.
    #[arg(long, env = "CONNECT_TIMEOUT_MS", default_value_t = 5000)]
    pub connect_timeout_ms: u16,

    /// Healthcheck: exit 0 if something accepts connections on --listen, else 1.
    #[arg(long)]
    pub probe: bool,
}

/// Resolves a listen address given as `HOST:PORT`.
pub fn resolve(listen: &str) -> anyhow::Result<SocketAddr> {
    listen
        .to_socket_addrs()
        .with_context(|| format!("resolving listen address {listen}"))?
        .next()
        .with_context(|| format!("listen address {listen} resolves to nothing"))
}

/// The rumqttd configuration for our listeners.
pub fn config(v4: SocketAddr, v5: Option<SocketAddr>, args: &Args) -> Config {
    let server = |name: &str, listen: SocketAddr| {
        let settings = ServerSettings {
            name: name.to_string(),
            listen,
            tls: None,
            next_connection_delay_ms: 0,
            connections: ConnectionSettings {
                connection_timeout_ms: args.connect_timeout_ms,
                max_payload_size: args.max_payload,
                max_inflight_count: 100,
                auth: None,
                external_auth: None,
                // Without dynamic filters rumqttd disconnects a client that publishes to a topic
                // nobody has subscribed to yet, which would break retained messages.
                dynamic_filters: true,
            },
        };
        Some(HashMap::from([(name.to_string(), settings)]))
    };
    Config {
        id: 0,
        router: RouterConfig {
            max_connections: 1000,
            max_outgoing_packet_count: 200,
            max_segment_size: 16 * 1024 * 1024,
            max_segment_count: 10,
            ..RouterConfig::default()
        },
        v4: server("v4", v4),
        v5: v5.and_then(|addr| server("v5", addr)),
        ..Config::default()
    }
}

/// A broker running on its own thread.
pub struct Running {
    pub listen: SocketAddr,
    stopped: tokio::sync::oneshot::Receiver<()>,
}

impl Running {
    /// Completes if the broker stops by itself, which only happens when it cannot listen.
    pub async fn stopped(self) {
        let _ = self.stopped.await;
    }
}

/// Checks the ports and starts rumqttd; fails with one line naming the address in use.
pub fn start(args: &Args) -> anyhow::Result<Running> {
    let v4 = resolve(&args.listen)?;
    let v5 = args.listen_v5.as_deref().map(resolve).transpose()?;
    for addr in std::iter::once(v4).chain(v5) {
        // rumqttd would only log a bind failure from its server thread, so bind first here;
        // the port is free again as soon as this listener is dropped.
        TcpListener::bind(addr).with_context(|| format!("listening on {addr}"))?;
    }
    let mut broker = rumqttd::Broker::new(config(v4, v5, args));
    let (tx, stopped) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("rumqttd".into())
        .spawn(move || {
            if let Err(err) = broker.start() {
                log::error!("rumqttd: {err}");
            }
            let _ = tx.send(());
        })
        .context("starting the broker thread")?;
    log::info!(
        "MQTT broker: 3.1.1 on {v4}{}",
        v5.map(|a| format!(", 5.0 on {a}")).unwrap_or_default()
    );
    Ok(Running {
        listen: v4,
        stopped,
    })
}

/// Sends rumqttd's tracing events to stderr, filtered by `RUST_LOG` (default info). Without a
/// subscriber, tracing forwards every span to env_logger at the span's level, and rumqttd's
/// error-level spans would print an ERROR line for each healthy connection.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(true)
        .try_init();
}

/// Runs the broker until SIGTERM or SIGINT (Ok) or until it dies (Err).
pub async fn serve(args: Args) -> anyhow::Result<()> {
    init_tracing();
    let mut stop = crate::Stop::on_signal()?;
    let running = start(&args)?;
    let listen = running.listen;
    tokio::select! {
        _ = stop.requested() => Ok(()),
        _ = running.stopped() => Err(anyhow!("broker on {listen} stopped: it could not listen (see the log above)")),
    }
}
