//! The MQTT model: a broker (rmqtt embedded) and the two clients that meet through it.
//!
//! Start with [`publisher`] and [`subscriber`] (rumqttc): each is one `run` function driven by
//! its clap `Args`, so tests call it directly and the binaries in `src/bin` stay a few lines.
//! [`broker`] configures rmqtt in code. What the clients share (QoS flag, connecting with a
//! bounded retry, stopping on SIGTERM) lives here.

pub mod broker;
pub mod publisher;
pub mod subscriber;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rumqttc::{AsyncClient, ConnectionError, Event, EventLoop, MqttOptions, Packet, QoS};

/// The largest packet our clients send or accept; the broker's default limit is the same.
pub const MAX_PACKET: usize = 1024 * 1024;

/// Parses `--qos`: 0 (at most once), 1 (at least once) or 2 (exactly once).
pub fn parse_qos(text: &str) -> Result<QoS, String> {
    match text.trim() {
        "0" => Ok(QoS::AtMostOnce),
        "1" => Ok(QoS::AtLeastOnce),
        "2" => Ok(QoS::ExactlyOnce),
        other => Err(format!("QoS must be 0, 1 or 2, not '{other}'")),
    }
}

/// The QoS as the number people write on the command line and in summaries.
pub fn qos_number(qos: QoS) -> u8 {
    qos as u8
}

/// A client id unique on this host, for clients started without `--client-id`.
pub fn default_client_id(role: &str) -> String {
    format!("{role}-{}", std::process::id())
}

/// How a client connects and keeps its session across broker restarts; the same flags on both
/// clients.
#[derive(clap::Args, Debug, Clone)]
pub struct Session {
    /// MQTT client id (default: the role's name and the process id, or the role's name alone for a
    /// persistent session).
    #[arg(long, env = "CLIENT_ID")]
    pub client_id: Option<String>,

    /// Seconds to keep retrying while the broker is not up, then exit 1.
    #[arg(long = "retry-secs", env = "RETRY_SECS", default_value = "10", value_parser = common::secs)]
    pub retry: Duration,

    /// Keep the session on the broker (clean session off): subscriptions and unconfirmed QoS 1/2
    /// messages survive a disconnect. Needs a fixed --client-id (default: the role's name).
    #[arg(long, env = "PERSISTENT")]
    pub persistent: bool,

    /// Reconnect attempts per outage, with a growing pause and a log line each (0: a lost
    /// connection ends the run).
    #[arg(long, env = "RETRIES", default_value_t = 0)]
    pub retries: u32,

    /// Seconds between keep-alive PINGREQs; the broker drops a silent client after 1.5 times this
    /// (and publishes its Last Will).
    #[arg(long, env = "KEEP_ALIVE_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=65535))]
    pub keep_alive_secs: u64,

    #[command(flatten)]
    pub tls: Tls,
}

impl Session {
    /// The client id: `--client-id`, else a fixed name for a persistent session (the broker finds
    /// it again by that name), else one unique per process.
    pub fn client_id(&self, role: &str) -> String {
        match &self.client_id {
            Some(id) => id.clone(),
            None if self.persistent => role.to_string(),
            None => default_client_id(role),
        }
    }

    /// The options of `role`'s connection to `connect`: its client id, the session's flags and
    /// TLS when asked for.
    pub fn options(&self, connect: &str, role: &str) -> anyhow::Result<MqttOptions> {
        let mut options = client_options(&self.client_id(role), connect)?;
        options.set_clean_session(!self.persistent);
        options.set_keep_alive(Duration::from_secs(self.keep_alive_secs));
        self.tls.apply(&mut options)?;
        Ok(options)
    }
}

/// TLS on the clients' side: off unless `--ca-file` is given.
#[derive(clap::Args, Debug, Clone)]
pub struct Tls {
    /// Connect over TLS, trusting only the CA in this PEM file; the broker's certificate must
    /// name the host of --connect. Session secrets go to the file named by SSLKEYLOGFILE.
    #[arg(long, env = "CA_FILE")]
    pub ca_file: Option<PathBuf>,
}

impl Tls {
    /// Switches `options` to TLS when `--ca-file` is given.
    pub fn apply(&self, options: &mut MqttOptions) -> anyhow::Result<()> {
        if let Some(ca) = &self.ca_file {
            let mut config = common::tls::client_config(ca)?;
            // MQTT's registered ALPN name: the ClientHello says what will run inside.
            config.alpn_protocols = vec![b"mqtt".to_vec()];
            options.set_transport(rumqttc::Transport::tls_with_config(
                rumqttc::TlsConfiguration::Rustls(Arc::new(config)),
            ));
        }
        Ok(())
    }
}

/// The healthcheck of a TLS broker: CONNECT and DISCONNECT over TLS to the listen address,
/// trusting only `ca`, within two seconds.
pub async fn probe_tls(listen: &str, ca: &Path) -> anyhow::Result<()> {
    let target = common::probe::local_target(listen)?.to_string();
    let mut options = client_options("pola-probe", &target)?;
    Tls {
        ca_file: Some(ca.to_path_buf()),
    }
    .apply(&mut options)?;
    let session = async {
        let (client, mut eventloop) = connect_once(options)
            .await
            .map_err(|why| anyhow::anyhow!("{target}: {why}"))?;
        disconnect(&client, &mut eventloop).await
    };
    tokio::time::timeout(Duration::from_secs(2), session)
        .await
        .map_err(|_| anyhow::anyhow!("{target}: no CONNACK over TLS within 2 s"))?
}

/// Builds the client options for `connect` (`HOST:PORT`); the host is resolved by rumqttc at
/// each attempt, so a compose service name that is not in DNS yet is retried like a refusal.
pub fn client_options(client_id: &str, connect: &str) -> anyhow::Result<MqttOptions> {
    let (host, port) =
        common::probe::host_port(connect).map_err(|e| anyhow::anyhow!("--connect {e}"))?;
    let mut options = MqttOptions::new(client_id, host, port);
    options.set_max_packet_size(MAX_PACKET, MAX_PACKET);
    options.set_keep_alive(Duration::from_secs(30));
    Ok(options)
}

/// Connects (TCP, CONNECT, CONNACK), retrying for `limit` while the broker is not up; the error
/// then names the address and the last failure in one line.
pub async fn connect(
    options: &MqttOptions,
    connect: &str,
    limit: Duration,
) -> anyhow::Result<(AsyncClient, EventLoop)> {
    let what = format!("connecting to the MQTT broker at {connect}");
    common::retry::retry_async(&what, limit, || connect_once(options.clone())).await
}

async fn connect_once(options: MqttOptions) -> Result<(AsyncClient, EventLoop), String> {
    // A fresh client per attempt: a failed EventLoop would otherwise replay queued requests.
    let (client, mut eventloop) = AsyncClient::new(options, 16);
    match eventloop.poll().await {
        Ok(Event::Incoming(Packet::ConnAck(_))) => Ok((client, eventloop)),
        Ok(other) => Err(format!("expected CONNACK, got {other:?}")),
        Err(err) => Err(describe(&err)),
    }
}

/// rumqttc's error text, with the OS error when there is one.
pub fn describe(err: &ConnectionError) -> String {
    match err {
        ConnectionError::Io(io) => format!("{io}"),
        other => format!("{other}"),
    }
}

/// Sends DISCONNECT and polls until it is on the wire, so a capture ends with an orderly close.
pub async fn disconnect(client: &AsyncClient, eventloop: &mut EventLoop) -> anyhow::Result<()> {
    client.disconnect().await.context("queueing DISCONNECT")?;
    loop {
        match eventloop.poll().await {
            Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => return Ok(()),
            Ok(_) => {}
            Err(err) => anyhow::bail!("sending DISCONNECT: {}", describe(&err)),
        }
    }
}

pub use common::{Outcome, Stop};
