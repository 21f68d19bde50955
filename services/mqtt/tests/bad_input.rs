//! Bad input to the broker: garbage, connections closed half way, malformed MQTT packets.
//! Each test keeps a well-behaved subscriber connected throughout, sends one bad input on its
//! own connection, checks what that connection sees and what the broker logs, then checks the
//! subscriber still gets every reading a new publisher sends.

mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};

use support::*;

/// A CONNECT packet (MQTT 3.1.1 layout) with the given protocol name and level.
fn connect_packet(name: &[u8], level: u8, client_id: &[u8], keep_alive: u16) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&(name.len() as u16).to_be_bytes());
    body.extend_from_slice(name);
    body.extend_from_slice(&[level, 0b10]); // clean session
    body.extend_from_slice(&keep_alive.to_be_bytes());
    body.extend_from_slice(&(client_id.len() as u16).to_be_bytes());
    body.extend_from_slice(client_id);
    let mut packet = vec![0x10, body.len() as u8];
    packet.extend(body);
    packet
}

fn good_connect() -> Vec<u8> {
    connect_packet(b"MQTT", 4, b"bad-input", 30)
}

/// CONNACK, session not present, return code 0 (accepted).
const CONNACK_OK: [u8; 4] = [0x20, 0x02, 0x00, 0x00];

/// What a raw client saw: the bytes the broker sent back before closing the connection.
fn send_and_read_until_closed(addr: &str, bytes: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream.write_all(bytes).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return got, // the broker closed the connection
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return got,
            Err(e) => panic!("{addr}: the broker neither answered nor closed: {e}; got {got:02x?}"),
        }
    }
}

/// The scenario around one bad input: `bad` runs against a broker that already serves a
/// subscriber; `broker_says` is what the broker must log about it.
fn survives(broker_args: &[&str], bad: impl FnOnce(&str), broker_says: &str) {
    let (mut broker, addr) = broker(broker_args);
    let sub = subscriber(
        &addr,
        &[
            "--topics",
            "sensors/#",
            "--count",
            "4",
            "--client-id",
            "good-subscriber",
        ],
    );
    bad(&addr);
    broker.wait_for(broker_says);
    let p = publish(&addr, &["--count", "4"]);
    assert_eq!(field(&p.assert_success().summary(), "received"), 4);
    let s = sub.finish().assert_success().summary();
    assert_eq!(
        (field(&s, "received"), field(&s, "unexpected")),
        (4, 0),
        "{s:?}"
    );
}

#[test]
fn garbage_bytes_get_the_connection_closed_without_an_answer() {
    // An HTTP request sent to the MQTT port: 'G' reads as a packet header announcing 69 more
    // bytes, so the broker waits for a CONNECT until its connect timeout, then closes.
    survives(
        &["--connect-timeout-ms", "1000"],
        |addr| {
            assert_eq!(
                send_and_read_until_closed(addr, b"GET / HTTP/1.1\r\nHost: broker\r\n\r\n"),
                b""
            )
        },
        "Error while handling MQTT connect packet error=Timeout",
    );
}

#[test]
fn binary_garbage_is_refused_at_once() {
    survives(
        &[],
        |addr| assert_eq!(send_and_read_until_closed(addr, &[0u8; 64]), b""),
        "InvalidPacketType(0)",
    );
}

#[test]
fn a_connection_closed_half_way_through_connect_is_dropped() {
    survives(
        &[],
        |addr| {
            let mut stream = TcpStream::connect(addr).unwrap();
            stream.write_all(&good_connect()[..7]).unwrap();
            drop(stream);
        },
        // rumqttd reports a close in the middle of a packet as a reset.
        "Error while handling MQTT connect packet error=Network(Io(Custom { kind: ConnectionReset",
    );
}

#[test]
fn a_session_closed_without_disconnect_is_cleaned_up() {
    survives(
        &[],
        |addr| {
            let mut stream = TcpStream::connect(addr).unwrap();
            stream.write_all(&good_connect()).unwrap();
            let mut connack = [0u8; 4];
            stream.read_exact(&mut connack).unwrap();
            assert_eq!(connack, CONNACK_OK);
            stream.shutdown(Shutdown::Both).unwrap();
        },
        "client_id=\"bad-input\"}: rumqttd::router::routing: Disconnecting connection",
    );
}

#[test]
fn connect_with_a_bad_protocol_name_is_closed_without_connack() {
    let bad = connect_packet(b"MQXX", 4, b"bad-input", 30);
    survives(
        &[],
        |addr| assert_eq!(send_and_read_until_closed(addr, &bad), b""),
        "InvalidProtocol",
    );
}

#[test]
fn connect_with_an_unsupported_protocol_level_is_closed_without_connack() {
    // MQTT 3.1 ("MQIsdp", level 3): rumqttd closes instead of sending CONNACK code 1.
    let bad = connect_packet(b"MQIsdp", 3, b"bad-input", 30);
    survives(
        &[],
        |addr| assert_eq!(send_and_read_until_closed(addr, &bad), b""),
        "InvalidProtocol",
    );
}

#[test]
fn a_malformed_remaining_length_is_refused() {
    // Four continuation bytes: the remaining length never ends, which MQTT forbids.
    let bad = [0x10, 0xff, 0xff, 0xff, 0xff, 0x01];
    survives(
        &[],
        |addr| assert_eq!(send_and_read_until_closed(addr, &bad), b""),
        "MalformedRemainingLength",
    );
}

#[test]
fn publish_before_connect_is_refused() {
    let bad = b"\x30\x0a\x00\x03a/bhello";
    survives(
        &[],
        |addr| assert_eq!(send_and_read_until_closed(addr, bad), b""),
        "NotConnectPacket",
    );
}

#[test]
fn a_subscribe_with_qos_3_ends_that_session_after_its_connack() {
    let mut bad = good_connect();
    // SUBSCRIBE pkid 1, filter "a/b", requested QoS 3 (only 0-2 exist).
    bad.extend_from_slice(b"\x82\x08\x00\x01\x00\x03a/b\x03");
    survives(
        &[],
        |addr| assert_eq!(send_and_read_until_closed(addr, &bad), CONNACK_OK),
        "InvalidQoS(3)",
    );
}
