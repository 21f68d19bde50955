//! The publisher: sends `--count` sensor readings as JSON to `sensors/<room>/<kind>`, cycling
//! over rooms and kinds, and waits until the broker has confirmed every one (PUBACK at QoS 1,
//! PUBCOMP at QoS 2) before it sends DISCONNECT and reports.

use std::time::{Duration, Instant};

use clap::Parser;
use rumqttc::{Event, Outgoing, Packet, QoS};
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

    /// MQTT client id (default: mqtt-publisher-<pid>).
    #[arg(long, env = "CLIENT_ID")]
    pub client_id: Option<String>,

    /// Seconds to keep retrying while the broker is not up, then exit 1.
    #[arg(long, env = "RETRY_SECS", default_value_t = 10)]
    pub retry_secs: u64,
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
pub async fn run(args: Args, mut stop: Stop) -> anyhow::Result<Outcome> {
    anyhow::ensure!(
        !args.rooms.is_empty() && !args.kinds.is_empty(),
        "--rooms and --kinds need at least one name each"
    );
    let start = Instant::now();
    let client_id = args
        .client_id
        .clone()
        .unwrap_or_else(|| crate::default_client_id("mqtt-publisher"));
    let options = crate::client_options(&client_id, &args.connect)?;
    let limit = Duration::from_secs(args.retry_secs);
    let (client, mut eventloop) = tokio::select! {
        connected = crate::connect(&options, &args.connect, limit) => connected?,
        _ = stop.requested() => return Ok(outcome(&args, 0, 0, start, true)),
    };
    log::info!("connected to {} as {client_id}", args.connect);

    // The requests go through rumqttc's channel while this task polls the event loop, which
    // is what actually writes them and reads the acknowledgements.
    let sender = client.clone();
    let plan: Vec<_> = (0..args.count).map(|seq| reading(&args, seq)).collect();
    let (qos, retain) = (args.qos, args.retain);
    tokio::spawn(async move {
        for (topic, payload) in plan {
            if sender.publish(topic, qos, retain, payload).await.is_err() {
                break; // the event loop is gone; the main task reports what went missing
            }
        }
    });

    let (mut written, mut confirmed) = (0u64, 0u64);
    let mut interrupted = false;
    while confirmed < args.count {
        let event = tokio::select! {
            event = eventloop.poll() => event,
            _ = stop.requested() => { interrupted = true; break; }
        };
        match event {
            Ok(Event::Outgoing(Outgoing::Publish(_))) => {
                written += 1;
                // QoS 0 has no acknowledgement: a reading handed to TCP is all we can know.
                if qos == QoS::AtMostOnce {
                    confirmed += 1;
                }
            }
            Ok(Event::Incoming(Packet::PubAck(_))) if qos == QoS::AtLeastOnce => confirmed += 1,
            Ok(Event::Incoming(Packet::PubComp(_))) if qos == QoS::ExactlyOnce => confirmed += 1,
            Ok(_) => {}
            Err(err) => {
                log::error!(
                    "connection to {} lost: {}",
                    args.connect,
                    crate::describe(&err)
                );
                return Ok(outcome(&args, written, confirmed, start, false));
            }
        }
    }
    if !interrupted {
        crate::disconnect(&client, &mut eventloop).await?;
    }
    Ok(outcome(&args, written, confirmed, start, interrupted))
}

fn outcome(args: &Args, sent: u64, confirmed: u64, start: Instant, interrupted: bool) -> Outcome {
    let confirm = match args.qos {
        QoS::AtMostOnce => "written",
        QoS::AtLeastOnce => "puback",
        QoS::ExactlyOnce => "pubcomp",
    };
    let summary = common::Summary {
        sent,
        received: confirmed,
        lost: args.count - confirmed,
        elapsed: start.elapsed(),
        extra: vec![],
    }
    .with("qos", crate::qos_number(args.qos))
    .with("confirm", confirm)
    .with("retain", args.retain);
    Outcome {
        summary,
        interrupted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> Args {
        Args::parse_from(["mqtt-publisher"].iter().chain(extra))
    }

    #[test]
    fn topics_cycle_over_rooms_then_kinds() {
        let a = args(&[]);
        let topics: Vec<String> = (0..5).map(|i| reading(&a, i).0).collect();
        assert_eq!(
            topics,
            [
                "sensors/lab/temp",
                "sensors/office/temp",
                "sensors/lab/humidity",
                "sensors/office/humidity",
                "sensors/lab/temp"
            ]
        );
    }

    #[test]
    fn payload_is_json_padded_to_size() {
        let (_, small) = reading(&args(&[]), 3);
        let json: serde_json::Value = serde_json::from_slice(&small).unwrap();
        assert_eq!(json["seq"], 3);
        assert!(json.get("pad").is_none());
        let (_, padded) = reading(&args(&["--size", "300"]), 3);
        assert_eq!(padded.len(), 300);
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&padded).unwrap()["room"],
            "office"
        );
    }
}
