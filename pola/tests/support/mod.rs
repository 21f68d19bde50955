//! What the capture tests share: free ports, tcpdump started and stopped without sleeps, real
//! peers (mosquitto, python's http.server, pyzmq) waited for in the kernel's socket tables, and
//! hand-built pcaps for the bad-input table. Tests run as root (tcpdump needs it) and skip nothing.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use pola::decode::link::{self, Net};

pub const POLA: &str = env!("CARGO_BIN_EXE_pola");

/// A port nothing listens on right now, below Linux's ephemeral range (32768-60999): tcpdump
/// filters on the port, and an ephemeral port could be some other test's client end.
pub fn free_port() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let base = 20000 + (std::process::id() % 600) as u16 * 20;
    loop {
        let port = base + NEXT.fetch_add(1, Ordering::Relaxed) % 12000;
        let port = 20000 + (port - 20000) % 12700;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Waits until something listens on TCP `port` (a server we started), or panics. It reads the
/// kernel's socket tables instead of connecting: a probe connection that the server handles late
/// (a TLS server answers its EOF with an alert) would land in a capture started right after.
pub fn wait_listening(port: u16, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !listens(port) {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("server for port {port} exited early: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "nothing listens on {port} after 20 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether /proc/net/tcp or tcp6 holds a socket in LISTEN state (0A) on local `port`.
fn listens(port: u16) -> bool {
    let local = format!(":{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"].iter().any(|table| {
        std::fs::read_to_string(table)
            .unwrap_or_default()
            .lines()
            .skip(1)
            .any(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                fields.len() > 3 && fields[1].ends_with(&local) && fields[3] == "0A"
            })
    })
}

/// A tcpdump writing `file`, with a UDP marker port to know when it has seen everything.
pub struct Tcpdump {
    child: Child,
    stderr: mpsc::Receiver<String>,
    _serial: std::sync::MutexGuard<'static, ()>,
    pub file: PathBuf,
    marker: u16,
}

impl Tcpdump {
    /// Starts tcpdump on `iface` for TCP `ports`; returns once it says it is listening.
    pub fn start(dir: &Path, name: &str, iface: &str, extra: &[&str], ports: &[u16]) -> Tcpdump {
        // One capture at a time, to keep the kernel from dropping packets on a loaded 2-core machine
        // (--immediate-mode dropped bursts of ZeroMQ packets: its ring is small, so it is not used).
        static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let file = dir.join(name);
        let marker = UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut filter: Vec<String> = ports.iter().map(|p| format!("tcp port {p}")).collect();
        filter.push(format!("udp port {marker}"));
        let mut child = Command::new("tcpdump")
            .args(["-i", iface, "-U", "-n", "-w"])
            .arg(&file)
            .args(extra)
            .arg(filter.join(" or "))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("running tcpdump");
        let (tx, rx) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        loop {
            let line = rx
                .recv_timeout(Duration::from_secs(20))
                .expect("tcpdump never said it was listening");
            if line.contains("listening on") {
                break;
            }
        }
        Tcpdump {
            child,
            stderr: rx,
            _serial: serial,
            file,
            marker,
        }
    }

    /// Stops tcpdump once the file holds a marker datagram sent after the traffic: everything
    /// before it has been written too.
    pub fn stop(mut self) -> PathBuf {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let want = format!(":{} len=", self.marker);
        loop {
            udp.send_to(b"marker", ("127.0.0.1", self.marker)).unwrap();
            let mut seen = false;
            let _ = pola::decode::pcap::for_each_frame(&self.file, |f| {
                if let Net::Other(text) = link::decode(f.linktype, f.data) {
                    seen |= text.contains(&want);
                }
                Ok(())
            });
            if seen {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "tcpdump did not write the marker within 20 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap();
        self.child.wait().unwrap();
        // tcpdump's last words say whether the kernel dropped packets; a lossy capture proves nothing.
        let last: Vec<String> = self.stderr.iter().collect();
        let dropped = last
            .iter()
            .find(|l| l.contains("dropped by kernel"))
            .cloned()
            .unwrap_or_default();
        assert!(dropped.starts_with("0 "), "tcpdump lost packets: {last:?}");
        // POLA_KEEP_PCAPS=DIR keeps a copy of every test capture, to look at a failure.
        if let Some(keep) = std::env::var_os("POLA_KEEP_PCAPS") {
            let name = format!(
                "{}-{}",
                self.marker,
                self.file.file_name().unwrap().to_string_lossy()
            );
            let _ = std::fs::copy(&self.file, Path::new(&keep).join(name));
        }
        self.file
    }
}

/// Kills a peer we started when the test ends, passing or not.
pub struct Peer(pub Child);

impl Peer {
    /// Starts `cmd` (its stderr dropped) and returns once something listens on `port`.
    pub fn listening(cmd: &mut Command, port: u16) -> Peer {
        let mut peer = Peer(cmd.stderr(Stdio::null()).spawn().unwrap());
        wait_listening(port, &mut peer.0);
        peer
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `pola inspect` of `pcap`, as text.
pub fn inspect_text(pcap: &Path) -> String {
    String::from_utf8(run_ok(Command::new(POLA).arg("inspect").arg(pcap)).stdout).unwrap()
}

/// Asserts that `text` holds each of `needles`; the message names the first one missing.
pub fn assert_contains(text: &str, needles: &[&str]) {
    for needle in needles {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
}

/// Runs a command to completion, panicking with its output if it fails.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `pola inspect --counts` of a capture, as JSON.
pub fn counts(pcap: &Path) -> serde_json::Value {
    let out = run_ok(Command::new(POLA).args(["inspect", "--counts"]).arg(pcap));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Runs wireshark/check.sh (pola against tshark and the Lua dissector) on `pcaps`.
pub fn tshark_agrees(pcaps: &[&Path]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../wireshark/check.sh");
    let out = run_ok(
        Command::new("bash")
            .arg(script)
            .args(pcaps)
            .env("POLA", POLA),
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A pcap built by hand: Ethernet frames of TCP segments (or anything) with the given link type.
pub struct PcapWriter {
    pub bytes: Vec<u8>,
    t: u32,
}

impl PcapWriter {
    pub fn new(linktype: u32) -> Self {
        let mut bytes = Vec::new();
        for word in [
            0xa1b2c3d4u32.to_le_bytes(),
            [2, 0, 4, 0],
            [0; 4],
            [0; 4],
            65535u32.to_le_bytes(),
            linktype.to_le_bytes(),
        ] {
            bytes.extend_from_slice(&word);
        }
        PcapWriter { bytes, t: 0 }
    }

    pub fn frame(&mut self, data: &[u8]) {
        self.t += 1;
        for v in [
            1_700_000_000u32,
            self.t * 1000,
            data.len() as u32,
            data.len() as u32,
        ] {
            self.bytes.extend_from_slice(&v.to_le_bytes());
        }
        self.bytes.extend_from_slice(data);
    }

    /// An Ethernet/IPv4/TCP frame from 10.0.0.1:`sport` to 10.0.0.2:`dport`.
    pub fn tcp(&mut self, sport: u16, dport: u16, seq: u32, syn: bool, payload: &[u8]) {
        let (a, b) = if sport > dport {
            ([10, 0, 0, 1], [10, 0, 0, 2])
        } else {
            ([10, 0, 0, 2], [10, 0, 0, 1])
        };
        let builder = etherparse::PacketBuilder::ethernet2([2; 6], [4; 6])
            .ipv4(a, b, 64)
            .tcp(sport, dport, seq, 65535);
        // A SYN from the lower (server) port is the SYN-ACK.
        let builder = match (syn, sport < dport) {
            (true, false) => builder.syn(),
            (true, true) => builder.syn().ack(101),
            _ => builder.psh().ack(1),
        };
        let mut data = Vec::new();
        builder.write(&mut data, payload).unwrap();
        self.frame(&data);
    }

    /// An Ethernet/IPv4/UDP frame, a DNS-like `query` from 10.0.0.1:5353 to 10.0.0.2:53.
    pub fn udp_query(&mut self) {
        let mut data = Vec::new();
        etherparse::PacketBuilder::ethernet2([2; 6], [4; 6])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .udp(5353, 53)
            .write(&mut data, b"query")
            .unwrap();
        self.frame(&data);
    }

    /// A client on port 40000 opening a connection to `port` and sending `chunks` in order.
    pub fn conversation(&mut self, port: u16, chunks: &[&[u8]]) {
        self.tcp(40000, port, 100, true, &[]);
        self.tcp(port, 40000, 500, true, &[]);
        let mut seq = 101;
        for c in chunks {
            self.tcp(40000, port, seq, false, c);
            seq += c.len() as u32;
        }
    }

    pub fn write(&self, path: &Path) {
        std::fs::write(path, &self.bytes).unwrap();
    }
}

/// Runs `tests/peers/<script> <pattern> <port> <count>` (both ends of a real conversation) under
/// tcpdump; returns the capture.
pub fn peers_capture(dir: &Path, script: &str, pattern: &str, count: usize) -> PathBuf {
    let port = free_port();
    let cap = Tcpdump::start(dir, &format!("{pattern}.pcap"), "lo", &[], &[port]);
    let peers = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/peers")
        .join(script);
    run_ok(
        Command::new("timeout")
            .args(["60", "/usr/bin/python3"])
            .arg(peers)
            .args([pattern, &port.to_string(), &count.to_string()]),
    );
    cap.stop()
}

/// The records of a little-endian pcap file (as tcpdump writes it here): its 24-byte header and
/// each packet's 16-byte record header with its bytes, so a test can doctor a real capture.
pub struct Records {
    pub header: Vec<u8>,
    pub packets: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Records {
    pub fn read(path: &Path) -> Records {
        let bytes = std::fs::read(path).unwrap();
        assert_eq!(bytes[..4], [0xd4, 0xc3, 0xb2, 0xa1], "a little-endian pcap");
        let mut packets = Vec::new();
        let mut at = 24;
        while at + 16 <= bytes.len() {
            let caplen = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
            packets.push((
                bytes[at..at + 16].to_vec(),
                bytes[at + 16..at + 16 + caplen].to_vec(),
            ));
            at += 16 + caplen;
        }
        Records {
            header: bytes[..24].to_vec(),
            packets,
        }
    }

    /// The index of the `nth` (0-based) packet whose bytes contain `needle`.
    pub fn find(&self, needle: &[u8], nth: usize) -> usize {
        let hits: Vec<usize> = (0..self.packets.len())
            .filter(|&i| self.packets[i].1.windows(needle.len()).any(|w| w == needle))
            .collect();
        *hits
            .get(nth)
            .unwrap_or_else(|| panic!("{} packets hold {needle:?}, not {}", hits.len(), nth + 1))
    }

    /// Replaces the first `from` in packet `i` by `to` (the same length: TCP lengths stay true).
    pub fn replace(&mut self, i: usize, from: &[u8], to: &[u8]) {
        assert_eq!(from.len(), to.len());
        let data = &mut self.packets[i].1;
        let at = data
            .windows(from.len())
            .position(|w| w == from)
            .unwrap_or_else(|| panic!("packet {i} has no {from:?}"));
        data[at..at + from.len()].copy_from_slice(to);
    }

    pub fn write(&self, path: &Path) {
        let mut bytes = self.header.clone();
        for (head, data) in &self.packets {
            bytes.extend_from_slice(head);
            bytes.extend_from_slice(data);
        }
        std::fs::write(path, bytes).unwrap();
    }
}

/// Opens `html` in headless Chromium with a script that measures every text (getBBox) of the SVGs
/// that `selector` picks against its SVG; returns how many texts were measured and those outside.
pub fn texts_outside_their_svg(html: &Path, selector: &str) -> (u64, Vec<String>) {
    let page = std::fs::read_to_string(html).unwrap();
    let probe = r#"<pre id="verdict"></pre><script>
const bad = [];
let texts = 0;
document.querySelectorAll(SELECTOR).forEach((svg, i) => {
  const w = svg.width.baseVal.value, h = svg.height.baseVal.value;
  svg.querySelectorAll('text').forEach(t => {
    texts++;
    const b = t.getBBox();
    if (b.x < 0 || b.y < 0 || b.x + b.width > w || b.y + b.height > h)
      bad.push(i + ' ' + t.textContent + ' ' + [b.x, b.y, b.width, b.height].map(Math.round).join(','));
  });
});
document.getElementById('verdict').textContent = 'VERDICT ' + JSON.stringify({texts, bad});
</script></body>"#;
    let probed = html.with_file_name("probed.html");
    let probe = probe.replace("SELECTOR", &format!("{selector:?}"));
    std::fs::write(&probed, page.replace("</body>", &probe)).unwrap();
    let out = run_ok(
        Command::new("timeout")
            .args([
                "120",
                "chromium",
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
            ])
            .args(["--dump-dom", &format!("file://{}", probed.display())]),
    );
    let dom = String::from_utf8_lossy(&out.stdout);
    let line = dom
        .lines()
        .find_map(|l| {
            l.split("VERDICT {")
                .nth(1)
                .filter(|_| !l.contains("stringify"))
        })
        .unwrap_or_else(|| panic!("no verdict in the DOM Chromium dumped:\n{dom}"));
    let json = format!("{{{}", line.split("</pre>").next().unwrap());
    let v: serde_json::Value = serde_json::from_str(
        &json
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
    .unwrap();
    let bad = v["bad"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_str().unwrap().to_string())
        .collect();
    (v["texts"].as_u64().unwrap(), bad)
}
