//! Load generators for our servers, written with the crates our clients use (std/tokio sockets,
//! hyper under reqwest, zmq, rumqttc): round trips one at a time for p50/p99 (a closed loop, each
//! request sent after the previous reply), and back-to-back batches for messages per second.
//! Given a CA file (`ca`), the REST and MQTT generators speak TLS and trust only that CA, as our
//! clients do.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use pola_zmq::curve::ClientKeys;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

use super::stats::{rate, Samples};

/// Creates an item on the rest-api at `base` whose JSON is `size` bytes (name padded), and
/// returns its URL, so a GET moves a response body of the benchmark's message size.
pub async fn rest_item(base: &str, ca: Option<&Path>, size: usize) -> anyhow::Result<String> {
    let empty = r#"{"id":1,"name":"","quantity":1}"#.len();
    let item =
        serde_json::json!({"name": "x".repeat(size.saturating_sub(empty).max(1)), "quantity": 1});
    let url = format!("{base}/items");
    let post = rest_client(ca)?.post(&url).json(&item);
    let resp = success(post, &format!("POST {url}")).await?;
    let created: serde_json::Value = resp
        .json()
        .await
        .with_context(|| format!("reading the item POST {url} created"))?;
    let id = created["id"]
        .as_u64()
        .with_context(|| format!("POST {url} returned no id: {created}"))?;
    Ok(format!("{base}/items/{id}"))
}

/// Sends `request` (`what`, such as `GET URL`, for messages); its response must be a success.
async fn success(
    request: reqwest::RequestBuilder,
    what: &str,
) -> anyhow::Result<reqwest::Response> {
    let resp = request.send().await.with_context(|| what.to_string())?;
    ensure!(
        resp.status().is_success(),
        "{what} answered {}",
        resp.status()
    );
    Ok(resp)
}

/// A reqwest client as a load generator: one keep-alive connection per client, no redirects
/// followed (none are expected; the layer cost CPU per request); HTTPS trusting only `ca`.
fn rest_client(ca: Option<&Path>) -> anyhow::Result<reqwest::Client> {
    common::tls::install_provider();
    let mut builder = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
    if let Some(ca) = ca {
        builder = builder.tls_backend_preconfigured(tls_config(ca, b"http/1.1")?);
    }
    builder.build().context("building a reqwest client")
}

/// Our clients' TLS configuration (trust only `ca`) offering one ALPN protocol.
pub fn tls_config(ca: &Path, alpn: &[u8]) -> anyhow::Result<rustls::ClientConfig> {
    let mut config = common::tls::client_config(ca)?;
    config.alpn_protocols = vec![alpn.to_vec()];
    Ok(config)
}

/// One keep-alive HTTP/1.1 connection to the rest-api, driven by hyper's client connection:
/// the protocol engine under reqwest without its pool, redirect layer and URL handling, which the
/// profile of the bench's reqwest client showed at a quarter of its CPU. The connection is polled
/// by the task that sends on it, not by a task of its own, so a request and its response cost no
/// hand-over between tasks. Over HTTPS when `ca` is given, trusting only it.
struct HttpConn {
    sender: SendRequest<Empty<Bytes>>,
    /// hyper's side of the connection: reads and writes the socket while it is polled.
    conn: Pin<Box<dyn Future<Output = hyper::Result<()>> + Send>>,
    /// The request line's target and the Host header, built once.
    path: hyper::Uri,
    host: hyper::header::HeaderValue,
    url: String,
}

impl HttpConn {
    async fn open(url: &str, ca: Option<&Path>) -> anyhow::Result<Self> {
        let parsed: hyper::Uri = url.parse().with_context(|| format!("parsing {url}"))?;
        let host = parsed.host().context("a URL with a host")?.to_string();
        let port = parsed
            .port_u16()
            .unwrap_or(if ca.is_some() { 443 } else { 80 });
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .with_context(|| format!("connecting to {host}:{port}"))?;
        tcp.set_nodelay(true)?;
        let (sender, conn) = match ca {
            None => handshake(tcp, url).await?,
            Some(ca) => {
                common::tls::install_provider();
                let config = Arc::new(tls_config(ca, b"http/1.1")?);
                let name = rustls_pki_types::ServerName::try_from(host.clone())
                    .with_context(|| format!("{host} as a TLS server name"))?;
                let tls = tokio_rustls::TlsConnector::from(config)
                    .connect(name, tcp)
                    .await
                    .with_context(|| format!("TLS handshake with {host}:{port}"))?;
                handshake(tls, url).await?
            }
        };
        Ok(HttpConn {
            sender,
            conn,
            path: parsed
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .parse()?,
            host: format!("{host}:{port}").parse()?,
            url: url.to_string(),
        })
    }

    /// One GET whose response must be a success, body read.
    async fn get(&mut self) -> anyhow::Result<()> {
        let request = hyper::Request::get(self.path.clone())
            .header(hyper::header::HOST, self.host.clone())
            .body(Empty::new())?;
        let HttpConn {
            sender, conn, url, ..
        } = self;
        let exchange = async {
            sender.ready().await?;
            let resp = sender.send_request(request).await?;
            ensure!(resp.status().is_success(), "answered {}", resp.status());
            resp.into_body().collect().await?;
            anyhow::Ok(())
        };
        tokio::select! {
            biased;
            done = exchange => done.with_context(|| format!("GET {url}")),
            ended = conn => bail!("GET {url}: the connection ended ({ended:?})"),
        }
    }
}

/// hyper's HTTP/1.1 handshake over `io`: the sender, and the connection to poll.
async fn handshake<T>(
    io: T,
    url: &str,
) -> anyhow::Result<(
    SendRequest<Empty<Bytes>>,
    Pin<Box<dyn Future<Output = hyper::Result<()>> + Send>>,
)>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .with_context(|| format!("HTTP/1.1 handshake with {url}"))?;
    Ok((sender, Box::pin(conn)))
}

/// Sequential keep-alive GETs of `url`; every response must be a success.
pub async fn rest_latency(
    url: &str,
    ca: Option<&Path>,
    warmup: usize,
    count: usize,
) -> anyhow::Result<Samples> {
    let mut conn = HttpConn::open(url, ca).await?;
    let mut samples = Samples::with_capacity(count);
    for i in 0..warmup + count {
        let start = Instant::now();
        conn.get().await?;
        if i >= warmup {
            samples.push(start.elapsed());
        }
    }
    Ok(samples)
}

/// `count` GETs over `conns` keep-alive connections in parallel: requests per second. Each
/// connection is opened by one GET before the clock starts (over TLS, its handshake done), so
/// the rate is that of established connections.
pub async fn rest_throughput(
    url: &str,
    ca: Option<&Path>,
    conns: usize,
    count: usize,
) -> anyhow::Result<f64> {
    let ready = Arc::new(tokio::sync::Barrier::new(conns + 1));
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..conns {
        let conn = HttpConn::open(url, ca).await;
        let share = count / conns + usize::from(c < count % conns);
        let ready = ready.clone();
        tasks.spawn(async move {
            let opened = match conn {
                Ok(mut conn) => conn.get().await.map(|()| conn),
                Err(err) => Err(err),
            };
            ready.wait().await;
            let mut conn = opened?;
            for _ in 0..share {
                conn.get().await?;
            }
            anyhow::Ok(())
        });
    }
    ready.wait().await;
    let start = Instant::now();
    while let Some(done) = tasks.join_next().await {
        done.context("a REST load task panicked")??;
    }
    Ok(rate(count as u64, start.elapsed()))
}

/// REQ round trips against a REP server at `endpoint` (`tcp://127.0.0.1:PORT`) with `request` as
/// the body, over CURVE if `keys` say so; every reply must be a result (not an `error`), and one
/// taking over 5 s fails the run.
pub fn req_latency(
    endpoint: &str,
    request: &[u8],
    keys: &ClientKeys,
    warmup: usize,
    count: usize,
) -> anyhow::Result<Samples> {
    let ctx = zmq::Context::new();
    let req = ctx.socket(zmq::REQ).context("creating a REQ socket")?;
    req.set_rcvtimeo(5000)
        .context("setting the REQ receive timeout")?;
    req.set_linger(0).context("setting the REQ linger")?;
    keys.apply(&req)?;
    req.connect(endpoint)
        .with_context(|| format!("connecting REQ to {endpoint}"))?;
    let mut samples = Samples::with_capacity(count);
    for i in 0..warmup + count {
        let start = Instant::now();
        req.send(request, 0)
            .with_context(|| format!("sending a request to {endpoint}"))?;
        let reply = req
            .recv_bytes(0)
            .with_context(|| format!("waiting for the reply from {endpoint}"))?;
        // The round trip ends with the reply; checking it (a scan of up to 1 KiB) is not timed.
        let took = start.elapsed();
        ensure!(
            reply.starts_with(b"{") && !reply.windows(7).any(|w| w == b"\"error\""),
            "{endpoint} answered {}",
            String::from_utf8_lossy(&reply)
        );
        if i >= warmup {
            samples.push(took);
        }
    }
    Ok(samples)
}

/// PUB to SUB delivery time through libzmq (zmq crate), one message in flight at a time, both
/// sockets in this thread. Measures the pattern's transport, not our publisher binary.
pub fn pubsub_latency(size: usize, warmup: usize, count: usize) -> anyhow::Result<Samples> {
    let ctx = zmq::Context::new();
    let publisher = ctx.socket(zmq::PUB).context("creating a PUB socket")?;
    publisher
        .bind("tcp://127.0.0.1:*")
        .context("binding PUB on tcp://127.0.0.1:*")?;
    let endpoint = publisher
        .get_last_endpoint()
        .context("reading the PUB endpoint")?
        .unwrap_or_default();
    let subscriber = ctx.socket(zmq::SUB).context("creating a SUB socket")?;
    subscriber
        .connect(&endpoint)
        .with_context(|| format!("connecting SUB to {endpoint}"))?;
    subscriber
        .set_subscribe(b"")
        .context("subscribing to every topic")?;
    subscriber
        .set_rcvtimeo(100)
        .context("setting the SUB receive timeout")?;
    let msg = vec![b'x'; size];
    // The slow joiner: PUB drops messages until the subscription has arrived, so publish until
    // one is delivered (bounded) rather than sleeping.
    let joined =
        (0..100).any(|_| publisher.send(&msg[..], 0).is_ok() && subscriber.recv_bytes(0).is_ok());
    ensure!(joined, "SUB at {endpoint} received nothing in 10 s");
    while subscriber.recv_bytes(zmq::DONTWAIT).is_ok() {}
    subscriber
        .set_rcvtimeo(5000)
        .context("setting the SUB receive timeout")?;
    let mut samples = Samples::with_capacity(count);
    for i in 0..warmup + count {
        let start = Instant::now();
        publisher
            .send(&msg[..], 0)
            .with_context(|| format!("publishing on {endpoint}"))?;
        let got = subscriber
            .recv_bytes(0)
            .with_context(|| format!("waiting for delivery from {endpoint}"))?;
        ensure!(
            got.len() == size,
            "delivered {} bytes instead of {size}",
            got.len()
        );
        if i >= warmup {
            samples.push(start.elapsed());
        }
    }
    Ok(samples)
}

/// An MQTT client whose event loop runs in a task; incoming publishes go to the returned channel.
async fn mqtt_client(
    broker: &str,
    ca: Option<&Path>,
    id: &str,
    subscribe: Option<(&str, QoS)>,
) -> anyhow::Result<(
    AsyncClient,
    tokio::sync::mpsc::UnboundedReceiver<(Instant, usize)>,
)> {
    let (host, port) = common::probe::host_port(broker)?;
    let mut opts = MqttOptions::new(id, host, port);
    opts.set_keep_alive(Duration::from_secs(30));
    if let Some(ca) = ca {
        let config = tls_config(ca, b"mqtt")?;
        opts.set_transport(rumqttc::Transport::tls_with_config(
            rumqttc::TlsConfiguration::Rustls(Arc::new(config)),
        ));
    }
    let (client, mut events) = AsyncClient::new(opts, 1000);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<Result<(), String>>();
    let wants_suback = subscribe.is_some();
    let mut ready = Some(ready_tx);
    tokio::spawn(async move {
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let _ = tx.send((Instant::now(), p.payload.len()));
                }
                Ok(Event::Incoming(Packet::ConnAck(_))) if !wants_suback => {
                    ready.take().map(|r| r.send(Ok(())));
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    ready.take().map(|r| r.send(Ok(())));
                }
                Ok(_) => {}
                Err(err) => {
                    ready.take().map(|r| r.send(Err(err.to_string())));
                    break;
                }
            }
        }
    });
    if let Some((topic, qos)) = subscribe {
        client
            .subscribe(topic, qos)
            .await
            .with_context(|| format!("subscribing to {topic} on {broker}"))?;
    }
    tokio::time::timeout(Duration::from_secs(10), ready_rx)
        .await
        .with_context(|| format!("{id}: no CONNACK/SUBACK from {broker} within 10 s"))?
        .context("MQTT event loop ended")?
        .map_err(|e| anyhow::anyhow!("{id}: connecting to {broker}: {e}"))?;
    Ok((client, rx))
}

/// Publish-to-delivery round trips through the broker at `broker`, one message in flight.
pub async fn mqtt_latency(
    broker: &str,
    ca: Option<&Path>,
    qos: QoS,
    size: usize,
    warmup: usize,
    count: usize,
) -> anyhow::Result<Samples> {
    let topic = format!("bench/lat/{}", std::process::id());
    let (_sub, mut delivered) =
        mqtt_client(broker, ca, "bench-lat-sub", Some((&topic, qos))).await?;
    let (publisher, _) = mqtt_client(broker, ca, "bench-lat-pub", None).await?;
    let payload = vec![b'x'; size];
    let mut samples = Samples::with_capacity(count);
    for i in 0..warmup + count {
        let start = Instant::now();
        publisher
            .publish(&topic, qos, false, payload.clone())
            .await
            .with_context(|| format!("publishing to {broker}"))?;
        let (at, len) = tokio::time::timeout(Duration::from_secs(5), delivered.recv())
            .await
            .with_context(|| format!("no delivery through {broker} within 5 s"))?
            .context("subscriber event loop ended")?;
        ensure!(len == size, "delivered {len} bytes instead of {size}");
        if i >= warmup {
            samples.push(at - start);
        }
    }
    Ok(samples)
}

/// `count` publishes back to back through `broker`; returns (delivered msgs/s, lost). QoS 0 may
/// lose messages under load, and that loss is reported, not hidden.
pub async fn mqtt_throughput(
    broker: &str,
    ca: Option<&Path>,
    qos: QoS,
    size: usize,
    count: usize,
) -> anyhow::Result<(f64, u64)> {
    let topic = format!("bench/thr/{}", std::process::id());
    let (_sub, mut delivered) =
        mqtt_client(broker, ca, "bench-thr-sub", Some((&topic, qos))).await?;
    let (publisher, _) = mqtt_client(broker, ca, "bench-thr-pub", None).await?;
    let payload = vec![b'x'; size];
    let start = Instant::now();
    let sender = tokio::spawn(async move {
        for _ in 0..count {
            publisher
                .publish(&topic, qos, false, payload.clone())
                .await?;
        }
        anyhow::Ok(publisher)
    });
    let mut received = 0u64;
    let mut last = start;
    // Stop at the last message, or after 2 s of silence (messages lost at QoS 0).
    while received < count as u64 {
        match tokio::time::timeout(Duration::from_secs(2), delivered.recv()).await {
            Ok(Some((at, _))) => {
                received += 1;
                last = at;
            }
            _ => break,
        }
    }
    let _publisher = sender
        .await
        .context("publisher task panicked")?
        .with_context(|| format!("publishing to {broker}"))?;
    ensure!(received > 0, "nothing delivered through {broker}");
    Ok((rate(received, last - start), count as u64 - received))
}
