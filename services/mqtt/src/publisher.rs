//! The publisher: sends `--count` sensor readings as JSON to `sensors/<room>/<kind>`, cycling
//! over rooms and kinds, and waits until the broker has confirmed every one (PUBACK at QoS 1,
//! PUBCOMP at QoS 2) before it sends DISCONNECT and reports.
//!
//! With `--retries` it survives a broker restart: it reconnects (a log line per attempt) and, with
//! `--persistent`, resumes its session, where rumqttc sends every unconfirmed PUBLISH again (with
//! the DUP flag); a broker that lost the session gets them again from here. `--rate` paces the
//! stream so a fault can hit mid-way; `--will-topic` leaves a Last Will for a vanished publisher.

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

use clap::Parser;
use common::recovery::Backoff;
use rumqttc::{Event, Outgoing, Packet, QoS, Request};
use serde::Serialize;

use crate::{Outcome, Stop};

/// mqtt-publisher: publishes sensor readings to an MQTT broker and waits for each to be confirmed.
#[derive(Parser, Debug, Clone)]
#[command(name = "mqtt-publisher", version)]
pub struct Args {
    /// Broker address, HOST:PORT.
    #[arg(long, env = "CONNECT", default_value = "127.0.0.1:1883")]
    pub connect: String,

    /// Number of readings to publish.
    #[arg(long, env = "COUNT", default_value_t = 10)]
    pub count: u64,

    /// Pad each JSON payload to at least this many bytes (0: no padding).
    #[arg(long, env = "SIZE", default_value_t = 0)]
    pub size: usize,

    /// QoS of every PUBLISH: 0 at most once, 1 at least once (PUBACK), 2 exactly once (PUBREC,
    /// PUBREL, PUBCOMP).
    #[arg(long, env = "QOS", default_value = "1", value_parser = crate::parse_qos)]
    pub qos: QoS,

    /// Set the retain flag, so the broker keeps the last reading of each topic for subscribers
    /// that arrive later.
    #[arg(long, env = "RETAIN")]
    pub retain: bool,

    /// Rooms to cycle over, comma separated (the second topic level).
    #[arg(
        long,
        env = "ROOMS",
        value_delimiter = ',',
        default_value = "lab,office"
    )]
    pub rooms: Vec<String>,

    /// Kinds of reading to cycle over, comma separated (the third topic level).
    #[arg(
        long,
        env = "KINDS",
        value_delimiter = ',',
        default_value = "temp,humidity"
    )]
    pub kinds: Vec<String>,

    #[command(flatten)]
    pub session: crate::Session,

    /// Readings per second (0: as fast as the broker confirms them).
    #[arg(long, env = "RATE", default_value_t = 0.0)]
    pub rate: f64,

    /// Topic of the Last Will, which the broker publishes if this client vanishes without
    /// DISCONNECT (its keep-alive expired or its connection broke).
    #[arg(long, env = "WILL_TOPIC")]
    pub will_topic: Option<String>,

    /// Payload of the Last Will.
    #[arg(long, env = "WILL_PAYLOAD", default_value = "offline")]
    pub will_payload: String,
}

/// One reading, the JSON payload of a PUBLISH.
#[derive(Serialize, Debug)]
pub struct Reading<'a> {
    pub seq: u64,
    pub room: &'a str,
    pub kind: &'a str,
    pub value: f64,
    /// Filler that brings the payload up to `--size`; left out when empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pad: String,
}

/// The topic and JSON payload of reading `seq`: rooms vary fastest, so every room sees every
/// kind once per `rooms * kinds` readings.
pub fn reading(args: &Args, seq: u64) -> (String, Vec<u8>) {
    let rooms = args.rooms.len().max(1) as u64;
    let room = args
        .rooms
        .get((seq % rooms) as usize)
        .map_or("room", String::as_str);
    let kinds = args.kinds.len().max(1) as u64;
    let kind = args
        .kinds
        .get(((seq / rooms) % kinds) as usize)
        .map_or("value", String::as_str);
    let value = if kind == "humidity" {
        40.0 + (seq % 20) as f64
    } else {
        20.0 + (seq % 10) as f64 / 10.0
    };
    let mut reading = Reading {
        seq,
        room,
        kind,
        value,
        pad: String::new(),
    };
    let mut payload = serde_json::to_vec(&reading).expect("a reading always serialises");
    if payload.len() < args.size {
        // `,"pad":""` costs 9 bytes before any filler.
        reading.pad = "x".repeat(args.size.saturating_sub(payload.len() + 9));
        payload = serde_json::to_vec(&reading).expect("a reading always serialises");
    }
    (format!("sensors/{room}/{kind}"), payload)
}

/// Publishes every reading and waits for the QoS handshake of each; `Err` only when the broker
/// could not be reached at all.
pub async fn run(args: Args, stop: Stop) -> anyhow::Result<Outcome> {
    anyhow::ensure!(
        !args.rooms.is_empty() && !args.kinds.is_empty(),
        "--rooms and --kinds need at least one name each"
    );
    anyhow::ensure!(
        args.rate.is_finite() && args.rate >= 0.0,
        "--rate {}: not a number of readings per second",
        args.rate
    );
    let start = Instant::now();
    let options = options(&args)?;
    let mut run = Run::default();
    let (client, mut eventloop) = tokio::select! {
        connected = crate::connect(&options, &args.connect, args.session.retry) => connected?,
        _ = stop.requested() => return Ok(outcome(&args, &run, start, true)),
    };
    log::info!("connected to {} as {}", args.connect, options.client_id());

    // A task hands the readings to rumqttc's request channel, paced by --rate, while this task
    // polls the event loop, which writes them and reads the acknowledgements. Polling is never
    // cancelled: a poll cut short mid-reconnect would leave a half-open connection behind.
    let feeder = tokio::spawn(feed(client.clone(), args.clone()));
    let interrupted = confirm_all(&args, &mut eventloop, &mut run, &stop).await;
    feeder.abort();
    if !interrupted && run.confirmed == args.count {
        crate::disconnect(&client, &mut eventloop).await?;
    }
    Ok(outcome(&args, &run, start, interrupted))
}

/// The connection's options: session, TLS and Last Will from the flags.
fn options(args: &Args) -> anyhow::Result<rumqttc::MqttOptions> {
    let mut options = args.session.options(&args.connect, "mqtt-publisher")?;
    if let Some(topic) = &args.will_topic {
        options.set_last_will(rumqttc::LastWill::new(
            topic,
            args.will_payload.clone(),
            QoS::AtLeastOnce,
            false,
        ));
    }
    Ok(options)
}

/// Hands every reading to rumqttc, each made when its turn comes, paced by --rate.
async fn feed(sender: rumqttc::AsyncClient, args: Args) {
    let begin = tokio::time::Instant::now();
    for seq in 0..args.count {
        if args.rate > 0.0 {
            tokio::time::sleep_until(begin + Duration::from_secs_f64(seq as f64 / args.rate)).await;
        }
        let (topic, payload) = reading(&args, seq);
        if sender
            .publish(topic, args.qos, args.retain, payload)
            .await
            .is_err()
        {
            break; // the event loop is gone; the main task reports what went missing
        }
    }
}

/// Polls the event loop until every reading is confirmed, the connection is gone for good, or a
/// stop is requested (then true).
async fn confirm_all(
    args: &Args,
    eventloop: &mut rumqttc::EventLoop,
    run: &mut Run,
    stop: &Stop,
) -> bool {
    let mut in_flight: HashSet<u16> = HashSet::new();
    let mut backoff = Backoff::new(
        format!("reconnecting to {}", args.connect),
        args.session.retries,
    );
    let mut interrupted = false;
    while run.confirmed < args.count {
        let event = tokio::select! {
            event = eventloop.poll() => event,
            _ = stop.requested() => { interrupted = true; break; }
        };
        let event = match event {
            Ok(event) => event,
            Err(err) => {
                let why = crate::describe(&err);
                let Some(pause) = backoff.failed(&why) else {
                    log::error!("connection to {} lost: {why}", args.connect);
                    break;
                };
                mark_dup(&mut eventloop.pending);
                tokio::select! {
                    _ = tokio::time::sleep(pause) => continue,
                    _ = stop.requested() => { interrupted = true; break; }
                }
            }
        };
        if !run.account(args, &event, &mut in_flight, &mut backoff) {
            break;
        }
    }
    run.retries = backoff.retries();
    interrupted
}

/// Sets the DUP flag on the PUBLISHes rumqttc will send again on the resumed session (those
/// with a packet id were on the wire before), as MQTT asks of a redelivery.
fn mark_dup(pending: &mut VecDeque<Request>) {
    for request in pending.iter_mut() {
        if let Request::Publish(publish) = request {
            if publish.pkid != 0 {
                publish.dup = true;
            }
        }
    }
}

/// What the publisher counted.
#[derive(Default)]
struct Run {
    /// Readings written (a resent PUBLISH is counted once).
    sent: u64,
    confirmed: u64,
    /// PUBLISHes written again after a reconnect.
    resent: u64,
    retries: u64,
}

impl Run {
    /// Counts one event of the connection; false when the run cannot go on (the broker lost the
    /// session, and with it the readings it held).
    fn account(
        &mut self,
        args: &Args,
        event: &Event,
        in_flight: &mut HashSet<u16>,
        backoff: &mut Backoff,
    ) -> bool {
        match event {
            Event::Outgoing(Outgoing::Publish(pkid)) => {
                if args.qos == QoS::AtMostOnce {
                    // QoS 0 has no acknowledgement: a reading handed to TCP is all we can know.
                    self.sent += 1;
                    self.confirmed += 1;
                    backoff.succeeded();
                } else if in_flight.insert(*pkid) {
                    self.sent += 1;
                } else {
                    self.resent += 1;
                }
            }
            Event::Incoming(Packet::PubAck(ack)) if args.qos == QoS::AtLeastOnce => {
                self.confirmed += u64::from(in_flight.remove(&ack.pkid));
                backoff.succeeded();
            }
            Event::Incoming(Packet::PubComp(comp)) if args.qos == QoS::ExactlyOnce => {
                self.confirmed += u64::from(in_flight.remove(&comp.pkid));
                backoff.succeeded();
            }
            Event::Incoming(Packet::ConnAck(connack)) => {
                // The streak of attempts ends with progress, not with a CONNACK: a session that
                // fails at once after each reconnect must still run out of attempts.
                log::info!(
                    "reconnected to {} (session present: {})",
                    args.connect,
                    connack.session_present
                );
                if !connack.session_present {
                    // rumqttc has dropped what the old session held; which readings those were
                    // is not known, so the run ends here with them counted as lost.
                    log::error!(
                        "the broker at {} lost this client's session: {} readings unconfirmed",
                        args.connect,
                        args.count - self.confirmed
                    );
                    return false;
                }
            }
            _ => {}
        }
        true
    }
}

fn outcome(args: &Args, run: &Run, start: Instant, interrupted: bool) -> Outcome {
    let confirm = match args.qos {
        QoS::AtMostOnce => "written",
        QoS::AtLeastOnce => "puback",
        QoS::ExactlyOnce => "pubcomp",
    };
    let summary = common::Summary {
        sent: run.sent,
        received: run.confirmed,
        lost: args.count - run.confirmed,
        elapsed: start.elapsed(),
        extra: vec![],
    }
    .with("qos", crate::qos_number(args.qos))
    .with("confirm", confirm)
    .with("retain", args.retain);
    let summary = if args.session.retries > 0 {
        summary
            .with("retries", run.retries)
            .with("resent", run.resent)
    } else {
        summary
    };
    // A stop on request ends the run well; its summary says how far it got.
    let problem = (!interrupted && summary.lost > 0)
        .then(|| format!("{} readings were not confirmed", summary.lost));
    Outcome { summary, problem }
}
