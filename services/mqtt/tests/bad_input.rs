//! Bad input to the broker: garbage, connections closed half way, malformed MQTT packets.
//! Each test keeps a well-behaved subscriber connected throughout, sends one bad input on its
//! own connection, checks what that connection sees on the wire, then checks the subscriber
//! still gets every reading a new publisher sends.

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
    stream.set_read_timeout(Some(HANG)).unwrap();
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

/// The first four bytes the broker answers `connect` with (a CONNACK for MQTT 3.x).
fn connack_for(addr: &str, connect: &[u8]) -> [u8; 4] {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(HANG)).unwrap();
    stream.write_all(connect).unwrap();
    let mut connack = [0u8; 4];
    stream.read_exact(&mut connack).unwrap();
    connack
}

/// The scenario around one bad input: `bad` runs against a broker that already serves a
/// subscriber, and checks what its own connection saw.
fn survives(broker_args: &[&str], bad: impl FnOnce(&str)) {
    let (_broker, addr) = broker(broker_args);
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
fn text_that_looks_like_a_packet_header_is_refused_at_once() {
    // An HTTP request sent to the MQTT port: 'G' reads as a PUBACK header, and a connection
    // must start with CONNECT, so the broker closes it without waiting for more.
    survives(&["--connect-timeout-secs", "1"], |addr| {
        assert_eq!(
            send_and_read_until_closed(addr, b"GET / HTTP/1.1\r\nHost: broker\r\n\r\n"),
            b""
        )
    });
}

#[test]
fn binary_garbage_is_refused_at_once() {
    survives(&[], |addr| {
        assert_eq!(send_and_read_until_closed(addr, &[0u8; 64]), b"")
    });
}

#[test]
fn a_connection_closed_half_way_through_connect_is_dropped() {
    survives(&[], |addr| {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.write_all(&good_connect()[..7]).unwrap();
        drop(stream);
    });
}

#[test]
fn a_session_closed_without_disconnect_is_cleaned_up() {
    survives(&[], |addr| {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.write_all(&good_connect()).unwrap();
        let mut connack = [0u8; 4];
        stream.read_exact(&mut connack).unwrap();
        assert_eq!(connack, CONNACK_OK);
        stream.shutdown(Shutdown::Both).unwrap();
        // The same client id connects again and finds no session left over. While the broker is
        // still tearing the old connection down it may answer 3 (server unavailable), a transient
        // refusal that MQTT allows; it must accept within a couple of seconds.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        let mut connack = connack_for(addr, &good_connect());
        while connack == [0x20, 2, 0, 3] && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(50));
            connack = connack_for(addr, &good_connect());
        }
        assert_eq!(connack, CONNACK_OK);
    });
}

#[test]
fn connect_with_a_bad_protocol_name_is_closed_without_connack() {
    let bad = connect_packet(b"MQXX", 4, b"bad-input", 30);
    survives(&[], |addr| {
        assert_eq!(send_and_read_until_closed(addr, &bad), b"")
    });
}

#[test]
fn connect_with_mqtt_3_1_is_accepted() {
    // MQTT 3.1 ("MQIsdp", level 3), which some old clients still send.
    let connect = connect_packet(b"MQIsdp", 3, b"bad-input", 30);
    survives(&[], |addr| {
        assert_eq!(connack_for(addr, &connect), CONNACK_OK)
    });
}

#[test]
fn a_malformed_remaining_length_is_refused() {
    // Four continuation bytes: the remaining length never ends, which MQTT forbids.
    let bad = [0x10, 0xff, 0xff, 0xff, 0xff, 0x01];
    survives(&[], |addr| {
        assert_eq!(send_and_read_until_closed(addr, &bad), b"")
    });
}

#[test]
fn publish_before_connect_is_refused() {
    let bad = b"\x30\x0a\x00\x03a/bhello";
    survives(&[], |addr| {
        assert_eq!(send_and_read_until_closed(addr, bad), b"")
    });
}

#[test]
fn a_subscribe_with_qos_3_ends_that_session_after_its_connack() {
    let mut bad = good_connect();
    // SUBSCRIBE pkid 1, filter "a/b", requested QoS 3 (only 0-2 exist).
    bad.extend_from_slice(b"\x82\x08\x00\x01\x00\x03a/b\x03");
    survives(&[], |addr| {
        assert_eq!(send_and_read_until_closed(addr, &bad), CONNACK_OK)
    });
}

#[test]
fn keep_alive_0_turns_keep_alive_off_instead_of_being_refused() {
    survives(&[], |addr| {
        let connect = connect_packet(b"MQTT", 4, b"no-keep-alive", 0);
        assert_eq!(connack_for(addr, &connect), CONNACK_OK);
    });
}

#[test]
fn a_zero_length_client_id_is_accepted_only_with_a_clean_session() {
    survives(&[], |addr| {
        assert_eq!(
            connack_for(addr, &connect_packet(b"MQTT", 4, b"", 30)),
            CONNACK_OK
        );
        // MQTT 3.1.1 (MQTT-3.1.3-8): a persistent session needs an id, so return code 2.
        let mut persistent = connect_packet(b"MQTT", 4, b"", 30);
        persistent[9] = 0; // connect flags: clean session off
        assert_eq!(connack_for(addr, &persistent), [0x20, 0x02, 0x00, 0x02]);
    });
}

#[test]
fn a_good_client_is_served_after_1000_idle_connections() {
    survives(&[], |addr| {
        // Idle connections that never send CONNECT, all open while the good clients run.
        let idle: Vec<TcpStream> = (0..1000)
            .map(|i| TcpStream::connect(addr).unwrap_or_else(|e| panic!("connection {i}: {e}")))
            .collect();
        assert_eq!(connack_for(addr, &good_connect()), CONNACK_OK);
        drop(idle);
    });
}
