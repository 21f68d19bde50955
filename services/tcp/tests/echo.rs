//! The TCP model's defining behaviour, proven on loopback: byte-exact echo, many concurrent
//! clients, messages larger than one segment, and bad peers (garbage, abrupt resets) that leave
//! everyone else served. The server runs in-process here; `tests/cli.rs` runs the binaries.

use std::time::Duration;

use common::Stop;
use pola_tcp::client::{self, Config};
use pola_tcp::server;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A bound-to-nothing limit: only a hang reaches it.
const HANG: Duration = Duration::from_secs(20);

/// Starts the echo server on an ephemeral port; setting the stop ends it.
async fn start() -> (String, Stop, tokio::task::JoinHandle<anyhow::Result<()>>) {
    let listener = server::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let stop = Stop::never();
    let task = tokio::spawn(server::serve(listener, stop.clone()));
    (addr, stop, task)
}

fn config(addr: &str, count: u64, size: usize, concurrency: usize) -> Config {
    Config {
        connect: addr.to_string(),
        count,
        size,
        concurrency,
        retry: Duration::from_secs(5),
        timeout: HANG,
    }
}

/// Writes `data` and reads back exactly as many bytes, concurrently (large data would otherwise
/// fill both socket buffers and stall).
async fn round_trip(stream: &mut TcpStream, data: &[u8]) -> Vec<u8> {
    let (mut r, mut w) = stream.split();
    let mut back = vec![0u8; data.len()];
    let io = async { tokio::try_join!(w.write_all(data), r.read_exact(&mut back)) };
    tokio::time::timeout(HANG, io)
        .await
        .expect("echo hung")
        .expect("echo failed");
    back
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_is_byte_exact_for_every_byte_value() {
    let (addr, _stop, _task) = start().await;
    let mut stream = TcpStream::connect(&addr).await.unwrap();
    // Every byte value, including NUL, CR, LF and 0xFF: the server must not treat any as special.
    let data: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
    assert_eq!(round_trip(&mut stream, &data).await, data);

    let report = client::run(&config(&addr, 50, 100, 1), &Stop::never())
        .await
        .unwrap();
    let line = report.summary.to_string();
    assert!(report.problem.is_none(), "{line}");
    let fields = common::summary::parse(&line).unwrap();
    assert_eq!(
        (
            &*fields["sent"],
            &*fields["received"],
            &*fields["lost"],
            &*fields["mismatched"]
        ),
        ("50", "50", "0", "0")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_five_clients_are_served_at_the_same_time() {
    let (addr, _stop, _task) = start().await;
    // All 25 stay open while each is used in reverse order of connecting: a server that handled
    // one connection at a time would never answer the last one while the first is still open.
    let mut streams = Vec::new();
    for _ in 0..25 {
        streams.push(TcpStream::connect(&addr).await.unwrap());
    }
    for (k, stream) in streams.iter_mut().enumerate().rev() {
        let data = format!("client {k} says hello\n").into_bytes();
        assert_eq!(round_trip(stream, &data).await, data);
    }
    // And the real client with 25 parallel connections, messages dealt in turns.
    let report = client::run(&config(&addr, 500, 256, 25), &Stop::never())
        .await
        .unwrap();
    assert!(report.problem.is_none(), "{}", report.summary);
    assert_eq!(
        common::summary::parse(&report.summary.to_string()).unwrap()["connections"],
        "25"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_larger_than_one_segment_come_back_whole() {
    let (addr, _stop, _task) = start().await;
    // 256 KiB is far above a loopback segment (64 KiB MSS) and above the default socket buffers.
    let report = client::run(&config(&addr, 6, 256 * 1024, 2), &Stop::never())
        .await
        .unwrap();
    assert!(report.problem.is_none(), "{}", report.summary);
    let fields = common::summary::parse(&report.summary.to_string()).unwrap();
    assert_eq!((&*fields["received"], &*fields["mismatched"]), ("6", "0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_abrupt_resets_leave_others_served() {
    let (addr, _stop, _task) = start().await;
    let mut good = TcpStream::connect(&addr).await.unwrap();
    assert_eq!(round_trip(&mut good, b"before\n").await, b"before\n");

    // Garbage is just bytes to an echo server: it gets them back, unchanged.
    let mut garbage = TcpStream::connect(&addr).await.unwrap();
    let junk: Vec<u8> = (0..10_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    assert_eq!(round_trip(&mut garbage, &junk).await, junk);

    // A peer that writes half a message and resets (RST, not FIN), twice, mid-echo.
    for _ in 0..2 {
        let rude = TcpStream::connect(&addr).await.unwrap();
        let mut rude = rude;
        rude.write_all(&vec![b'x'; 100_000]).await.unwrap();
        rude.set_zero_linger().unwrap();
        drop(rude);
    }

    // The connection opened before all that still works, and so does a fresh client.
    assert_eq!(round_trip(&mut good, b"after\n").await, b"after\n");
    let report = client::run(&config(&addr, 20, 1000, 4), &Stop::never())
        .await
        .unwrap();
    assert!(report.problem.is_none(), "{}", report.summary);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_the_server_closes_open_connections() {
    let (addr, stop, task) = start().await;
    let mut idle = TcpStream::connect(&addr).await.unwrap();
    assert_eq!(round_trip(&mut idle, b"ping\n").await, b"ping\n");
    stop.set();
    tokio::time::timeout(HANG, task)
        .await
        .expect("server hung")
        .unwrap()
        .unwrap();
    // The server closed our socket instead of leaving the task behind: we read end of stream.
    let mut buf = [0u8; 1];
    let n = tokio::time::timeout(HANG, idle.read(&mut buf))
        .await
        .expect("still open")
        .unwrap_or(0);
    assert_eq!(n, 0);
}

#[test]
fn messages_are_distinct_lines_of_the_asked_size() {
    for size in [1, 5, 9, 10, 100, 70_000] {
        let m = client::message(7, size);
        assert_eq!(m.len(), size);
        assert_eq!(*m.last().unwrap(), b'\n');
    }
    assert_ne!(client::message(1, 64), client::message(2, 64));
    assert!(client::message(12, 64).starts_with(b"00000012 "));
}
