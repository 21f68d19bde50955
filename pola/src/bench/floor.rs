//! The physical floor: the least a round trip or a stream of messages can cost over loopback TCP,
//! written here with blocking std sockets and no framing, so every model's figure can be read as a
//! multiple of it. The same echo client also drives our `tcp-echo-server`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::Instant;

use anyhow::{ensure, Context};

use super::stats::{rate, Samples};

/// A message of `size` bytes that is also one line, so a line-based echo server returns it whole.
pub fn line(size: usize) -> Vec<u8> {
    let mut msg = vec![b'x'; size.max(1)];
    *msg.last_mut().unwrap() = b'\n';
    msg
}

/// A listener on a free port of 127.0.0.1 for the `what`, and its address.
fn listen(what: &str) -> anyhow::Result<(TcpListener, String)> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .with_context(|| format!("binding the {what} on 127.0.0.1:0"))?;
    let addr = listener
        .local_addr()
        .with_context(|| format!("reading the {what}'s address"))?;
    Ok((listener, addr.to_string()))
}

/// A raw echo server on 127.0.0.1:0 serving one connection: whatever arrives goes straight back.
pub fn echo_server() -> anyhow::Result<(String, JoinHandle<()>)> {
    let (listener, addr) = listen("floor server")?;
    let handle = std::thread::spawn(move || {
        let Ok((mut conn, _)) = listener.accept() else {
            return;
        };
        let _ = conn.set_nodelay(true);
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = conn.read(&mut buf) {
            if n == 0 || conn.write_all(&buf[..n]).is_err() {
                break;
            }
        }
    });
    Ok((addr, handle))
}

fn connect(addr: &str) -> anyhow::Result<TcpStream> {
    let conn = TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
    conn.set_nodelay(true)
        .with_context(|| format!("setting TCP_NODELAY towards {addr}"))?;
    Ok(conn)
}

/// Ping-pong against an echo server: `warmup` unmeasured round trips, then `count` measured ones,
/// each sent only after the previous reply (a closed loop, so no coordinated omission can hide a
/// stall: every stall is inside some sample).
pub fn ping_pong(addr: &str, size: usize, warmup: usize, count: usize) -> anyhow::Result<Samples> {
    let mut conn = connect(addr)?;
    let msg = line(size);
    let mut back = vec![0u8; msg.len()];
    let mut samples = Samples::with_capacity(count);
    for i in 0..warmup + count {
        let start = Instant::now();
        conn.write_all(&msg)
            .with_context(|| format!("sending to {addr}"))?;
        conn.read_exact(&mut back)
            .with_context(|| format!("reading the echo from {addr}"))?;
        if i >= warmup {
            samples.push(start.elapsed());
        }
    }
    ensure!(
        back == msg,
        "the echo from {addr} differs from what was sent"
    );
    Ok(samples)
}

/// Pipelined echo: one thread writes `count` messages back to back while this one reads the
/// echoes; messages per second from the first write to the last echoed byte.
pub fn echo_stream(addr: &str, size: usize, count: usize) -> anyhow::Result<f64> {
    let mut conn = connect(addr)?;
    let mut writer = conn
        .try_clone()
        .with_context(|| format!("cloning the socket to {addr}"))?;
    let msg = line(size);
    let start = Instant::now();
    let sender = std::thread::spawn(move || -> std::io::Result<()> {
        for _ in 0..count {
            writer.write_all(&msg)?;
        }
        Ok(())
    });
    let total = read_exactly(&mut conn, size.max(1) * count)
        .with_context(|| format!("reading echoes from {addr}"))?;
    let elapsed = start.elapsed();
    sender
        .join()
        .expect("writer thread")
        .with_context(|| format!("writing to {addr}"))?;
    ensure!(
        total == size.max(1) * count,
        "short echo stream from {addr}"
    );
    Ok(rate(count as u64, elapsed))
}

fn read_exactly(conn: &mut TcpStream, want: usize) -> std::io::Result<usize> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = 0;
    while got < want {
        let n = conn.read(&mut buf[..(want - got).min(64 * 1024)])?;
        if n == 0 {
            break;
        }
        got += n;
    }
    Ok(got)
}

/// The floor's one-way stream: `count` messages written back to back to a reader that sends one
/// byte back after the last, so the clock stops only when every byte has arrived.
pub fn stream(size: usize, count: usize) -> anyhow::Result<f64> {
    let (listener, addr) = listen("floor sink")?;
    let want = size * count;
    let sink = std::thread::spawn(move || -> std::io::Result<usize> {
        let (mut conn, _) = listener.accept()?;
        let got = read_exactly(&mut conn, want)?;
        conn.write_all(b"k")?;
        Ok(got)
    });
    let mut conn = connect(&addr)?;
    let msg = vec![b'x'; size];
    let start = Instant::now();
    for _ in 0..count {
        conn.write_all(&msg)
            .with_context(|| format!("streaming to {addr}"))?;
    }
    let mut ack = [0u8; 1];
    conn.read_exact(&mut ack)
        .with_context(|| format!("waiting for the floor sink at {addr}"))?;
    let elapsed = start.elapsed();
    let got = sink
        .join()
        .expect("sink thread")
        .with_context(|| format!("floor sink at {addr}"))?;
    ensure!(got == want, "floor sink got {got} of {want} bytes");
    Ok(rate(count as u64, elapsed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ping_pong_against_the_floor_server_yields_every_sample() {
        let (addr, server) = echo_server().unwrap();
        let mut samples = ping_pong(&addr, 64, 5, 50).unwrap();
        assert_eq!(samples.len(), 50);
        assert!(samples.percentile(50.0) > 0.0);
        server.join().unwrap();
    }

    #[test]
    fn streams_deliver_every_byte() {
        assert!(stream(1024, 1000).unwrap() > 0.0);
        let (addr, _server) = echo_server().unwrap();
        assert!(echo_stream(&addr, 64, 1000).unwrap() > 0.0);
    }
}
