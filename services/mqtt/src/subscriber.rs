//! The subscriber: subscribes to `--topics` filters, signals readiness once the SUBACK is in
//! (a ready file for compose), then prints each reading until `--count` have arrived. It checks
//! the broker's routing itself: a message whose topic matches none of its filters is counted
//! as `unexpected`.
//!
//! With `--retries` it survives a broker restart: it reconnects (a log line per attempt), with
//! `--persistent` resumes its session (subscribing again if the broker lost it), and counts a
//! reading that arrives twice by its sequence number as a duplicate, not as received.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use rumqttc::{Event, Outgoing, Packet, QoS, SubscribeFilter, SubscribeReasonCode};

use common::recovery::{Backoff, Seen};

use crate::{Outcome, Stop};

/// mqtt-subscriber: subscribes to topic filters on an MQTT broker and counts what arrives.
#[derive(Parser, Debug, Clone)]
#[command(name = "mqtt-subscriber", version)]
pub struct Args {
    /// Broker address, HOST:PORT.
    #[arg(long, env = "CONNECT", default_value = "127.0.0.1:1883")]
    pub connect: String,

    /// Topic filters, comma separated; `+` matches one level, `#` the rest.
    #[arg(long, env = "TOPICS", value_delimiter = ',', default_value = "sensors/#", value_parser = parse_filter)]
    pub topics: Vec<String>,

    /// Maximum QoS requested for every filter (0, 1 or 2).
    #[arg(long, env = "QOS", default_value = "1", value_parser = crate::parse_qos)]
    pub qos: QoS,

    /// Number of messages expected; the subscriber exits once they have arrived.
    #[arg(long, env = "COUNT", default_value_t = 10)]
    pub count: u64,

    /// Seconds to wait for the expected messages after subscribing, then report what is
    /// missing and exit 1.
    #[arg(long = "timeout-secs", env = "TIMEOUT_SECS", default_value = "60", value_parser = common::secs)]
    pub timeout: Duration,

    /// A run whose messages may be lost (QoS 0 across a broker restart): what is missing at the
    /// timeout is counted in lost= and the exit is still 0.
    #[arg(long, env = "EXPECT_LOSS")]
    pub expect_loss: bool,

    /// File to create once the broker has acknowledged the subscription (SUBACK).
    #[arg(long, env = "READY_FILE")]
    pub ready_file: Option<PathBuf>,

    #[command(flatten)]
    pub session: crate::Session,

    /// Healthcheck: exit 0 if --ready-file exists (the subscription is in place), else 1.
    #[arg(long)]
    pub probe: bool,
}

pub fn parse_filter(text: &str) -> Result<String, String> {
    if rumqttc::valid_filter(text) {
        Ok(text.to_string())
    } else {
        Err(format!("'{text}' is not a valid MQTT topic filter"))
    }
}

/// Whether `topic` matches any of `filters` (MQTT wildcard rules, via rumqttc).
pub fn matches_any(topic: &str, filters: &[String]) -> bool {
    filters.iter().any(|filter| rumqttc::matches(topic, filter))
}

/// Subscribes and counts messages until `--count` arrived, the timeout passed or a signal came.
pub async fn run(args: Args, stop: Stop) -> anyhow::Result<Outcome> {
    let start = Instant::now();
    let options = args.session.options(&args.connect, "mqtt-subscriber")?;
    let mut tally = Tally::default();
    let (client, mut eventloop) = tokio::select! {
        connected = crate::connect(&options, &args.connect, args.session.retry) => connected?,
        _ = stop.requested() => return Ok(tally.outcome(&args, start, true)),
    };
    log::info!("connected to {} as {}", args.connect, options.client_id());

    let filters: Vec<SubscribeFilter> = args
        .topics
        .iter()
        .map(|t| SubscribeFilter::new(t.clone(), args.qos))
        .collect();
    if !subscribe(&args, &client, &mut eventloop, &filters, &stop).await? {
        return Ok(tally.outcome(&args, start, true));
    }
    common::probe::mark_ready(args.ready_file.as_deref())?;
    let end = receive_all(&args, &client, &mut eventloop, &filters, &mut tally, &stop).await?;
    if end == End::Done {
        crate::disconnect(&client, &mut eventloop).await?;
    }
    Ok(tally.outcome(&args, start, end == End::Stopped))
}

/// How the receiving ended.
#[derive(PartialEq)]
enum End {
    /// Every message in, or the timeout passed: the client disconnects.
    Done,
    /// A stop was requested.
    Stopped,
    /// The connection is gone and the attempts to get it back ran out.
    Lost,
}

/// Sends SUBSCRIBE and waits for its SUBACK, refusing a refused subscription; false if a stop
/// came first.
async fn subscribe(
    args: &Args,
    client: &rumqttc::AsyncClient,
    eventloop: &mut rumqttc::EventLoop,
    filters: &[SubscribeFilter],
    stop: &Stop,
) -> anyhow::Result<bool> {
    client
        .subscribe_many(filters.to_vec())
        .await
        .context("queueing SUBSCRIBE")?;
    let suback = loop {
        let event = tokio::select! {
            event = eventloop.poll() => event,
            _ = stop.requested() => return Ok(false),
        };
        match event {
            Ok(Event::Incoming(Packet::SubAck(suback))) => break suback,
            Ok(_) => {}
            Err(err) => anyhow::bail!("subscribing at {}: {}", args.connect, crate::describe(&err)),
        }
    };
    anyhow::ensure!(
        !suback.return_codes.contains(&SubscribeReasonCode::Failure),
        "the broker at {} refused a subscription to {:?}: {:?}",
        args.connect,
        args.topics,
        suback.return_codes
    );
    log::info!(
        "subscribed to {:?} at QoS {}",
        args.topics,
        crate::qos_number(args.qos)
    );
    Ok(true)
}

/// Counts messages until every expected one is in and its acknowledgement is on the wire (so the
/// capture shows each QoS handshake complete before DISCONNECT), reconnecting within --retries.
async fn receive_all(
    args: &Args,
    client: &rumqttc::AsyncClient,
    eventloop: &mut rumqttc::EventLoop,
    filters: &[SubscribeFilter],
    tally: &mut Tally,
    stop: &Stop,
) -> anyhow::Result<End> {
    let deadline = tokio::time::Instant::now() + args.timeout;
    let mut backoff = Backoff::new(
        format!("reconnecting to {}", args.connect),
        args.session.retries,
    );
    let mut end = End::Done;
    while tally.received < args.count || tally.acks_owed > 0 {
        let event = tokio::select! {
            event = eventloop.poll() => event,
            _ = tokio::time::sleep_until(deadline) => {
                log::error!("timed out after {:.1} s with {} of {} messages", args.timeout.as_secs_f64(), tally.received, args.count);
                break;
            }
            _ = stop.requested() => { end = End::Stopped; break; }
        };
        match event {
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                backoff.succeeded();
                tally.publish(&publish, &args.topics)
            }
            Ok(Event::Outgoing(Outgoing::PubAck(_) | Outgoing::PubComp(_))) => {
                tally.acks_owed = tally.acks_owed.saturating_sub(1)
            }
            Ok(Event::Incoming(Packet::ConnAck(connack))) => {
                // The streak of attempts ends with progress, not with a CONNACK: a session that
                // fails at once after each reconnect must still run out of attempts.
                log::info!(
                    "reconnected to {} (session present: {})",
                    args.connect,
                    connack.session_present
                );
                if !connack.session_present {
                    // The broker forgot us: without subscriptions nothing more would come.
                    client
                        .try_subscribe_many(filters.to_vec())
                        .context("queueing SUBSCRIBE again")?;
                }
            }
            Ok(_) => {}
            Err(err) => {
                let why = crate::describe(&err);
                // Acknowledgements not written are owed to a connection that is gone.
                tally.acks_owed = 0;
                let Some(pause) = backoff.failed(&why) else {
                    log::error!("connection to {} lost: {why}", args.connect);
                    end = End::Lost;
                    break;
                };
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = stop.requested() => { end = End::Stopped; break; }
                }
            }
        }
    }
    tally.retries = backoff.retries();
    Ok(end)
}

/// What arrived so far.
#[derive(Default)]
struct Tally {
    received: u64,
    /// Readings by sequence number: one seen again is a duplicate (QoS 1 redelivery).
    seen: Seen,
    retries: u64,
    unexpected: u64,
    retained: u64,
    /// PUBACKs (QoS 1) and PUBCOMPs (QoS 2) we still have to send.
    acks_owed: u64,
}

impl Tally {
    fn publish(&mut self, publish: &rumqttc::Publish, filters: &[String]) {
        if publish.qos != QoS::AtMostOnce {
            self.acks_owed += 1;
        }
        // A payload without a sequence number (a Last Will, another publisher's) is never a
        // duplicate.
        let seq = serde_json::from_slice::<serde_json::Value>(&publish.payload)
            .ok()
            .and_then(|v| v.get("seq").and_then(serde_json::Value::as_u64));
        if seq.is_some_and(|seq| !self.seen.first_time(seq)) {
            log::debug!(
                "duplicate {} seq {seq:?} (dup flag {})",
                publish.topic,
                publish.dup
            );
            return;
        }
        self.received += 1;
        self.retained += u64::from(publish.retain);
        let payload = String::from_utf8_lossy(&publish.payload);
        if matches_any(&publish.topic, filters) {
            log::info!(
                "{} {}{}",
                publish.topic,
                payload,
                if publish.retain { " (retained)" } else { "" }
            );
        } else {
            self.unexpected += 1;
            log::warn!(
                "unexpected topic {} matches none of {:?}: {}",
                publish.topic,
                filters,
                payload
            );
        }
    }

    fn outcome(&self, args: &Args, start: Instant, interrupted: bool) -> Outcome {
        let summary = common::Summary {
            sent: 0,
            received: self.received,
            lost: args.count.saturating_sub(self.received),
            elapsed: start.elapsed(),
            extra: vec![],
        }
        .with("qos", crate::qos_number(args.qos))
        .with("unexpected", self.unexpected)
        .with("retained", self.retained)
        .with("duplicates", self.seen.duplicates());
        let summary = if args.session.retries > 0 {
            summary.with("retries", self.retries)
        } else {
            summary
        };
        // A stop on request ends the run well; its summary says how far it got.
        let problem = if interrupted {
            None
        } else {
            problem(&summary, args.expect_loss)
        };
        Outcome { summary, problem }
    }
}

/// Why a finished run was not complete and correct: expected messages missing (unless loss is
/// expected), or messages that matched none of the filters.
fn problem(s: &common::Summary, expect_loss: bool) -> Option<String> {
    let unexpected = s
        .extra
        .iter()
        .find(|(k, _)| k == "unexpected")
        .map_or("0", |(_, v)| v.as_str());
    if s.lost > 0 && !expect_loss {
        Some(format!("{} expected messages did not arrive", s.lost))
    } else if unexpected != "0" {
        Some(format!("{unexpected} messages matched none of the filters"))
    } else {
        None
    }
}
