//! MQTT 3.1.1 and 5.0 behaviour of our broker, seen through real clients: mosquitto_pub and
//! mosquitto_sub (`-V 311` and `-V 5`) and rumqttc. Retained messages, wills, `$` topics,
//! overlapping subscriptions, unsubscribe, and the MQTT 5 features (reason codes, user
//! properties, topic aliases, session expiry, receive maximum).

mod support;

use std::process::Command;
use std::time::Duration;

use rumqttc::v5::mqttbytes::v5::{ConnectReturnCode, DisconnectReasonCode, Packet};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{AsyncClient, ConnectionError, Event, EventLoop, MqttOptions, StateError};
use support::*;

const VERSIONS: [&str; 2] = ["311", "5"];

/// The message lines of a `mosquitto_sub -d` run, without the protocol chatter.
fn messages(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .filter(|l| !l.starts_with("Client ") && !l.starts_with("Subscribed"))
        .collect()
}

/// The retained message a new subscriber to `topic` gets (`topic payload`), or None when it gets
/// none within two seconds (mosquitto_sub's exit 27).
fn retained_now(addr: &str, v: &str, topic: &str) -> Option<String> {
    let out = mosquitto_run(
        "mosquitto_sub",
        addr,
        &["-V", v, "-t", topic, "-v", "-C", "1", "-W", "2"],
    );
    match out.status.code() {
        Some(0) => Some(String::from_utf8(out.stdout).unwrap().trim().to_string()),
        Some(27) if out.stdout.is_empty() => None,
        _ => panic!("mosquitto_sub -t {topic}: {out:?}"),
    }
}

/// What new subscribers get once the broker has caught up: it stores retained messages apart from
/// routing them, so a subscriber that comes right after a publish may still see the state before
/// it. Asked up to 10 times; the last answer is returned.
fn retained_settled(addr: &str, v: &str, topic: &str, want: Option<&str>) -> Option<String> {
    let mut got = None;
    for _ in 0..10 {
        got = retained_now(addr, v, topic);
        if got.as_deref() == want {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    got
}

#[test]
fn retained_messages_are_set_replaced_and_cleared() {
    let (_broker, addr) = broker(&[]);
    for v in VERSIONS {
        let topic = format!("retained/{v}");
        // Each at QoS 1, so the broker has taken the PUBLISH (PUBACK) before the next client
        // connects: MQTT orders one connection's messages, not two connections' at QoS 0, and a
        // QoS 0 "first" still queued in the broker may land after "second".
        mosquitto_ok(
            "mosquitto_pub",
            &addr,
            &["-V", v, "-q", "1", "-t", &topic, "-r", "-m", "first"],
        );
        mosquitto_ok(
            "mosquitto_pub",
            &addr,
            &["-V", v, "-q", "1", "-t", &topic, "-r", "-m", "second"],
        );
        let second = format!("{topic} second");
        assert_eq!(
            retained_settled(&addr, v, &topic, Some(&second)),
            Some(second),
            "MQTT {v}: the second retained message did not replace the first"
        );
        // An empty retained message clears it: a new subscriber then gets nothing.
        mosquitto_ok(
            "mosquitto_pub",
            &addr,
            &["-V", v, "-q", "1", "-t", &topic, "-r", "-n"],
        );
        assert_eq!(
            retained_settled(&addr, v, &topic, None),
            None,
            "MQTT {v}: the empty retained message did not clear it"
        );
    }
}

#[test]
fn a_will_is_published_when_its_client_vanishes() {
    let (_broker, addr) = broker(&[]);
    for v in VERSIONS {
        let will = format!("wills/{v}");
        let watcher = mosquitto_sub(
            &addr,
            &["-V", v, "-t", "wills/#", "-v", "-C", "1", "-W", "10"],
        );
        let doomed = mosquitto_sub(
            &addr,
            &[
                "-V",
                v,
                "-t",
                "nothing",
                "--will-topic",
                &will,
                "--will-payload",
                "gone",
                "-k",
                "5",
            ],
        );
        // SIGKILL: no DISCONNECT is sent, so the broker must publish the will.
        doomed.signal("KILL");
        let _ = doomed.finish();
        let out = watcher.finish();
        assert!(out.status.success(), "MQTT {v}: {}", out.stdout);
        assert_eq!(messages(&out.stdout), [format!("{will} gone")], "MQTT {v}");
    }
}

#[test]
fn dollar_topics_are_not_matched_by_leading_wildcards() {
    let (_broker, addr) = broker(&[]);
    for v in VERSIONS {
        let wild = mosquitto_sub(
            &addr,
            &["-V", v, "-t", "#", "-t", "+/status", "-v", "-W", "3"],
        );
        let dollar = mosquitto_sub(
            &addr,
            &["-V", v, "-t", "$pola/#", "-v", "-C", "1", "-W", "10"],
        );
        mosquitto_ok(
            "mosquitto_pub",
            &addr,
            &["-V", v, "-t", "$pola/status", "-m", "up"],
        );
        let out = dollar.finish();
        assert_eq!(messages(&out.stdout), ["$pola/status up"], "MQTT {v}");
        let out = wild.finish();
        assert!(messages(&out.stdout).is_empty(), "MQTT {v}: {}", out.stdout);
    }
}

#[test]
fn mqtt5_user_properties_reach_the_subscriber() {
    let (_broker, addr) = broker(&[]);
    let sub = mosquitto_sub(
        &addr,
        &[
            "-V", "5", "-t", "props/#", "-F", "%t %p %P", "-C", "1", "-W", "10",
        ],
    );
    mosquitto_ok(
        "mosquitto_pub",
        &addr,
        &[
            "-V",
            "5",
            "-t",
            "props/a",
            "-m",
            "hi",
            "-D",
            "publish",
            "user-property",
            "room",
            "lab",
        ],
    );
    let out = sub.finish();
    assert_eq!(messages(&out.stdout), ["props/a hi room:lab"]);
}

#[test]
fn mqtt5_topic_aliases_are_resolved() {
    let (_broker, addr) = broker(&[]);
    let sub = mosquitto_sub(
        &addr,
        &["-V", "5", "-t", "alias/#", "-v", "-C", "3", "-W", "10"],
    );
    // With -l and a topic alias, mosquitto_pub names the topic in the first PUBLISH only and
    // sends the later ones with an empty topic and the alias.
    let (host, port) = addr.split_once(':').unwrap();
    let mut child = Command::new("mosquitto_pub")
        .args([
            "-h", host, "-p", port, "-V", "5", "-t", "alias/t", "-q", "1", "-l",
        ])
        .args(["-D", "publish", "topic-alias", "1"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"a\nb\nc\n").unwrap();
    assert!(child.wait().unwrap().success());
    let out = sub.finish();
    assert_eq!(
        messages(&out.stdout),
        ["alias/t a", "alias/t b", "alias/t c"]
    );
}

#[test]
fn an_expired_mqtt5_session_keeps_nothing() {
    let (_broker, addr) = broker(&[]);
    let session = [
        "-V",
        "5",
        "-i",
        "short-lived",
        "-c",
        "-x",
        "1",
        "-q",
        "1",
        "-t",
        "expiry/#",
    ];
    mosquitto_ok("mosquitto_sub", &addr, &[&session[..], &["-E"]].concat());
    std::thread::sleep(Duration::from_secs(3));
    mosquitto_ok(
        "mosquitto_pub",
        &addr,
        &["-V", "5", "-q", "1", "-t", "expiry/a", "-m", "late"],
    );
    // The session expired 1 s after the disconnect: no subscription, nothing queued.
    let out = mosquitto_run(
        "mosquitto_sub",
        &addr,
        &[&session[..], &["-v", "-W", "2"]].concat(),
    );
    assert_eq!(out.status.code(), Some(27), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
}

/// An MQTT 5 rumqttc client connected to `addr`, with its CONNACK.
async fn v5_client(
    addr: &str,
    id: &str,
    tune: impl FnOnce(&mut MqttOptions),
) -> (AsyncClient, EventLoop, rumqttc::v5::mqttbytes::v5::ConnAck) {
    let (host, port) = addr.split_once(':').unwrap();
    let mut options = MqttOptions::new(id, host, port.parse().unwrap());
    options.set_keep_alive(Duration::from_secs(30));
    tune(&mut options);
    let (client, mut events) = AsyncClient::new(options, 64);
    loop {
        match events.poll().await.expect("connecting") {
            Event::Incoming(Packet::ConnAck(ack)) => return (client, events, ack),
            _ => continue,
        }
    }
}

/// The next incoming packet other than pings and acks of our own requests' kind we ignore.
async fn next_incoming(events: &mut EventLoop, within: Duration) -> Option<Packet> {
    tokio::time::timeout(within, async {
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::PingResp(_))) => continue,
                Ok(Event::Incoming(p)) => return Some(p),
                Ok(Event::Outgoing(_)) => continue,
                Err(_) => return None,
            }
        }
    })
    .await
    .ok()
    .flatten()
}

/// The reason codes of: SUBSCRIBE ok/# at QoS 2, UNSUBSCRIBE ok/#, UNSUBSCRIBE never/#.
async fn reason_codes() -> Vec<String> {
    let (_broker, addr) = broker(&[]);
    let (client, mut events, ack) = v5_client(&addr, "reasons", |_| {}).await;
    assert_eq!(ack.code, ConnectReturnCode::Success);
    client.subscribe("ok/#", QoS::ExactlyOnce).await.unwrap();
    client.unsubscribe("ok/#").await.unwrap();
    client.unsubscribe("never/#").await.unwrap();
    let mut codes = Vec::new();
    while codes.len() < 3 {
        match next_incoming(&mut events, HANG).await {
            Some(Packet::SubAck(s)) => {
                codes.extend(s.return_codes.iter().map(|c| format!("{c:?}")))
            }
            Some(Packet::UnsubAck(u)) => codes.extend(u.reasons.iter().map(|c| format!("{c:?}"))),
            other => panic!("expected SUBACK/UNSUBACK, got {other:?}"),
        }
    }
    codes
}

#[tokio::test(flavor = "multi_thread")]
async fn mqtt5_suback_and_unsuback_carry_reason_codes() {
    // Granted QoS 2 (0x02); unsubscribed (0x00).
    assert_eq!(
        reason_codes().await[..2],
        ["Success(ExactlyOnce)", "Success"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn mqtt5_unsuback_says_no_subscription_existed() {
    assert_eq!(reason_codes().await[2], "NoSubscriptionExisted");
}

#[tokio::test(flavor = "multi_thread")]
async fn mqtt5_session_takeover_is_told_with_reason_code_0x8e() {
    let (_broker, addr) = broker(&[]);
    let (_first, mut first_events, ack) = v5_client(&addr, "taken", |_| {}).await;
    assert_eq!(ack.code, ConnectReturnCode::Success);
    let (_second, mut second_events, _) = v5_client(&addr, "taken", |_| {}).await;
    tokio::spawn(async move { while second_events.poll().await.is_ok() {} });
    // rumqttc reports a DISCONNECT from the server as an error carrying its reason code.
    let ended = tokio::time::timeout(HANG, async {
        loop {
            if let Err(err) = first_events.poll().await {
                return err;
            }
        }
    })
    .await
    .expect("the first client was not disconnected");
    match ended {
        ConnectionError::MqttState(StateError::ServerDisconnect { reason_code, .. }) => {
            assert_eq!(reason_code, DisconnectReasonCode::SessionTakenOver)
        }
        other => panic!("expected DISCONNECT 0x8E, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn mqtt5_receive_maximum_limits_unacknowledged_deliveries() {
    let (_broker, addr) = broker(&[]);
    let (sub, mut sub_events, ack) = v5_client(&addr, "slow-reader", |o| {
        o.set_receive_maximum(Some(2));
        o.set_manual_acks(true);
    })
    .await;
    // The broker announces its own limit for what clients send it.
    let announced = ack.properties.and_then(|p| p.receive_max);
    assert!(matches!(announced, Some(n) if n > 0), "{announced:?}");
    sub.subscribe("recv-max/#", QoS::AtLeastOnce).await.unwrap();
    assert!(matches!(
        next_incoming(&mut sub_events, HANG).await,
        Some(Packet::SubAck(_))
    ));
    let (publisher, mut pub_events, _) = v5_client(&addr, "fast-writer", |_| {}).await;
    for i in 0..5 {
        publisher
            .publish("recv-max/a", QoS::AtLeastOnce, false, format!("m{i}"))
            .await
            .unwrap();
    }
    tokio::spawn(async move { while pub_events.poll().await.is_ok() {} });
    // Two deliveries, then silence until they are acknowledged.
    let mut held = Vec::new();
    while let Some(packet) = next_incoming(&mut sub_events, Duration::from_secs(2)).await {
        if let Packet::Publish(p) = packet {
            held.push(p);
        }
    }
    assert_eq!(held.len(), 2, "{held:?}");
    for p in &held {
        sub.ack(p).await.unwrap();
    }
    let mut rest = 0;
    while rest < 3 {
        match next_incoming(&mut sub_events, HANG).await {
            Some(Packet::Publish(p)) => {
                sub.ack(&p).await.unwrap();
                rest += 1;
            }
            Some(_) => {}
            None => panic!("only {rest} of the 3 held-back messages arrived"),
        }
    }
}

/// Subscribes `client` to each filter and unsubscribes from `gone`, waiting for every ack.
async fn subscribed(
    client: &AsyncClient,
    events: &mut EventLoop,
    filters: &[(&str, QoS)],
    gone: &str,
) {
    for (filter, qos) in filters {
        client.subscribe(*filter, *qos).await.unwrap();
    }
    client.subscribe(gone, QoS::AtLeastOnce).await.unwrap();
    client.unsubscribe(gone).await.unwrap();
    let mut acks = 0;
    while acks < filters.len() + 2 {
        match next_incoming(events, HANG).await {
            Some(Packet::SubAck(_)) | Some(Packet::UnsubAck(_)) => acks += 1,
            other => panic!("expected SUBACK/UNSUBACK, got {other:?}"),
        }
    }
}

/// (topic, QoS) of every PUBLISH that arrives until 2 s of silence.
async fn deliveries(events: &mut EventLoop) -> Vec<(String, QoS)> {
    let mut got = Vec::new();
    while let Some(packet) = next_incoming(events, Duration::from_secs(2)).await {
        if let Packet::Publish(p) = packet {
            got.push((String::from_utf8_lossy(&p.topic).to_string(), p.qos));
        }
    }
    got
}

/// A v5 client `id` on a fresh broker, subscribed to `filters` and then unsubscribed from
/// `dropped`, publishes to each of `topics` at QoS 1: the (topic, QoS) of every PUBLISH it gets.
async fn deliveries_to(
    id: &str,
    filters: &[(&str, QoS)],
    dropped: &str,
    topics: &[&str],
) -> Vec<(String, QoS)> {
    let (_broker, addr) = broker(&[]);
    let (client, mut events, _) = v5_client(&addr, id, |_| {}).await;
    subscribed(&client, &mut events, filters, dropped).await;
    for topic in topics {
        client
            .publish(*topic, QoS::AtLeastOnce, false, "reading")
            .await
            .unwrap();
    }
    deliveries(&mut events).await
}

#[tokio::test(flavor = "multi_thread")]
async fn unsubscribe_stops_deliveries() {
    let filters = [("kept/#", QoS::AtLeastOnce)];
    let got = deliveries_to("unsubscriber", &filters, "gone/#", &["gone/x", "kept/x"]).await;
    assert_eq!(got, [("kept/x".to_string(), QoS::AtLeastOnce)]);
}

/// Two filters that both match `o/x`, at QoS 0 and 1.
const OVERLAPPING: [(&str, QoS); 2] = [("o/#", QoS::AtMostOnce), ("o/+", QoS::AtLeastOnce)];

#[tokio::test(flavor = "multi_thread")]
async fn overlapping_filters_deliver_at_least_once() {
    let got = deliveries_to("overlap", &OVERLAPPING, "none/#", &["o/x"]).await;
    // A copy per matching subscription is allowed; at least one must come.
    assert!((1..=2).contains(&got.len()), "{got:?}");
    assert!(got.iter().all(|(t, _)| t == "o/x"), "{got:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn overlapping_filters_deliver_at_the_highest_qos() {
    let got = deliveries_to("overlap-qos", &OVERLAPPING, "none/#", &["o/x"]).await;
    // MQTT 5 (MQTT-3.3.4-2): the highest QoS of all the matching subscriptions.
    assert!(got.iter().any(|(_, q)| *q == QoS::AtLeastOnce), "{got:?}");
}
