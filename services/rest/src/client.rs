//! The REST client's walk: health, create, list, read, update, read back, delete, read again
//! (404), over one keep-alive connection, checking each status and body. A step that fails ends
//! its round (the next steps depend on it); the next round starts afresh.
//!
//! With `retries`, a request that gets no answer (connection refused or reset, timeout) is sent
//! again if it is idempotent (GET, PUT, DELETE), with a pause and a log line per attempt. A POST
//! is never sent again blindly: its outcome is unknown (`unknown=`), so the client asks the server
//! with GET /items what it holds of the round, removes that, and walks the round again. The same
//! happens after any reconnect, since a restarted server may have lost its state.

use std::time::{Duration, Instant};

use anyhow::Context;
use common::{Outcome, Stop, Summary};
use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::Value;

use crate::api::{Item, NewItem};

/// Requests in one round of the walk.
pub const STEPS: u64 = 8;

/// Client of the pola REST model: one keep-alive connection, every verb, every status checked.
#[derive(Debug, Clone, clap::Parser)]
#[command(version)]
pub struct Config {
    /// API address (HOST:PORT).
    #[arg(long, env = "CONNECT", default_value = "127.0.0.1:8080")]
    pub connect: String,
    /// Rounds of the walk; each round is 8 requests.
    #[arg(long = "count", env = "COUNT", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub rounds: u64,
    /// Bytes in each item name sent (sets the size of the create and update bodies).
    #[arg(long, env = "SIZE", default_value_t = 16, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1 << 30))]
    pub size: usize,
    /// Seconds to keep retrying while the API is not up, then give up with exit 1.
    #[arg(long = "retry-secs", env = "RETRY_SECS", default_value = "10", value_parser = common::secs)]
    pub retry: Duration,
    /// Seconds one request may take before it counts as lost.
    #[arg(long = "timeout-secs", env = "TIMEOUT_SECS", default_value = "10", value_parser = common::secs)]
    pub timeout: Duration,
    /// Attempts per outage for a GET, PUT or DELETE that got no answer, with a pause and a log
    /// line each (0: lost at once). A POST is never sent again: its outcome is found out instead.
    #[arg(long, env = "RETRIES", default_value_t = 0)]
    pub retries: u32,
    /// Use HTTPS, trusting only the CA in this PEM file; the API's certificate must name the host
    /// of --connect. Session secrets go to the file named by SSLKEYLOGFILE.
    #[arg(long, env = "CA_FILE")]
    pub ca_file: Option<std::path::PathBuf>,
}

impl common::Role for Config {}

/// Times one round may be walked again after outages before it is given up.
const MAX_REDO: u32 = 5;

/// Why a round stopped early.
#[derive(Debug, PartialEq)]
enum RoundEnd {
    /// A check failed (counted in `failed`) or a request was lost (counted in `lost`).
    Failed,
    /// The server was unreachable for a while: what it holds must be found out first.
    Outage,
}

/// Counts requests and their outcomes across the walk. Not `Default`: a default reqwest client
/// would load the system's CA store, which a `FROM scratch` image does not have.
struct Walk {
    http: reqwest::Client,
    base: String,
    sent: u64,
    /// Responses with the expected status.
    received: u64,
    /// Requests that got no response at all.
    lost: u64,
    /// Checks that failed: wrong status, body or header.
    failed: u64,
    /// POSTs whose outcome could not be known.
    unknown: u64,
    /// Rounds walked again after an outage.
    redone: u64,
    backoff: Option<common::recovery::Backoff>,
}

/// A name of exactly `size` bytes that differs per round and per version (create or update).
pub fn name(round: u64, version: &str, size: usize) -> String {
    let mut name = format!("item-{round}-{version}-");
    while name.len() < size {
        name.push(char::from(b'a' + (name.len() % 26) as u8));
    }
    name.truncate(size.max(1));
    name
}

/// Waits for `/health` (retrying for `cfg.retry`), then walks `cfg.rounds` rounds; stops early if
/// `stop` is requested, and the summary then says how far it got.
pub async fn run(cfg: &Config, stop: &Stop) -> anyhow::Result<Outcome> {
    common::tls::install_provider();
    let mut http = reqwest::Client::builder()
        .no_proxy() // test traffic stays on the model's own network, whatever the environment says
        .timeout(cfg.timeout);
    let mut base = format!("http://{}", cfg.connect);
    if let Some(ca) = &cfg.ca_file {
        let mut tls = common::tls::client_config(ca)?;
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        http = http.tls_backend_preconfigured(tls);
        base = format!("https://{}", cfg.connect);
    } else {
        // Plain HTTP trusts nothing: reqwest would otherwise load the system's CA store, which a
        // `FROM scratch` image does not have, and refuse to build.
        http = http.tls_certs_only(Vec::new());
    }
    let http = http.build().context("building the HTTP client")?;
    let what = format!("waiting for the REST API at {base}/health");
    common::retry::retry_async(&what, cfg.retry, || async {
        http.get(format!("{base}/health"))
            .send()
            .await
            .and_then(Response::error_for_status)
            .map(drop)
            // The cause (refused, a certificate from another CA) is what a user needs to read.
            .map_err(|err| causes(&err))
    })
    .await?;
    log::info!("connected to {base}");

    let backoff = common::recovery::Backoff::new(format!("reconnecting to {base}"), cfg.retries);
    let mut walk = Walk {
        http,
        base,
        backoff: Some(backoff),
        sent: 0,
        received: 0,
        lost: 0,
        failed: 0,
        unknown: 0,
        redone: 0,
    };
    let start = Instant::now();
    let mut complete = 0;
    let interrupted = tokio::select! {
        _ = async {
            for round in 0..cfg.rounds {
                complete += u64::from(walk.walk_round(round, cfg.size).await);
            }
        } => false,
        _ = stop.requested() => true,
    };
    if interrupted {
        log::warn!("interrupted after {} requests", walk.sent);
    }
    let summary = Summary {
        sent: walk.sent,
        received: walk.received,
        lost: walk.lost,
        elapsed: start.elapsed(),
        extra: vec![],
    }
    .with("failed", walk.failed)
    .with("rounds", cfg.rounds);
    let summary = if cfg.retries > 0 {
        let retries = walk.backoff.as_ref().map_or(0, |b| b.retries());
        summary
            .with("retries", retries)
            .with("unknown", walk.unknown)
            .with("redone", walk.redone)
    } else {
        summary
    };
    // A stop on request ends the run well; its summary says how far it got.
    let passed = walk.failed == 0 && walk.lost == 0 && complete == cfg.rounds;
    let problem = (!interrupted && !passed).then(|| format!("REST walk failed: {summary}"));
    Ok(Outcome { summary, problem })
}

impl Walk {
    /// Walks one round, again from the start after an outage (at most [`MAX_REDO`] times); true
    /// if it completed with every check passed.
    async fn walk_round(&mut self, round: u64, size: usize) -> bool {
        for _ in 0..=MAX_REDO {
            match self.round(round, size).await {
                Ok(()) => return true,
                Err(RoundEnd::Failed) => return false,
                Err(RoundEnd::Outage) => {
                    if self.find_out(round, size).await.is_err() {
                        return false;
                    }
                    self.redone += 1;
                    log::info!("round {round}: walked again from the start after an outage");
                }
            }
        }
        log::error!("round {round}: given up after {MAX_REDO} outages");
        self.failed += 1;
        false
    }

    /// After an outage: GET /items shows what the server holds of this round (a POST that went
    /// through, or nothing if it restarted empty); that is deleted so the round can start over.
    async fn find_out(&mut self, round: u64, size: usize) -> Result<(), RoundEnd> {
        let ok = [StatusCode::OK];
        let (listed, _) = self
            .send(
                self.http.get(self.url("/items")),
                &ok,
                "GET /items (finding out)",
            )
            .await?;
        let items: Vec<Item> = self.parse(listed, "GET /items body").await?;
        let ours = [name(round, "v1", size), name(round, "v2", size)];
        let found: Vec<u64> = items
            .iter()
            .filter(|i| ours.contains(&i.name))
            .map(|i| i.id)
            .collect();
        log::info!(
            "round {round}: the server holds {} of its items",
            found.len()
        );
        for id in found {
            // A DELETE retried after an outage may find it already gone: 404 is the same outcome.
            let gone = [StatusCode::NO_CONTENT, StatusCode::NOT_FOUND];
            let request = self.http.delete(self.url(&format!("/items/{id}")));
            self.send(request, &gone, "DELETE (finding out)").await?;
        }
        Ok(())
    }

    /// One round; an error from a step means it failed and was already counted, or an outage.
    async fn round(&mut self, round: u64, size: usize) -> Result<(), RoundEnd> {
        self.health().await?;
        let item = self.create(round, size).await?;
        let path = format!("/items/{}", item.id);
        let listed = self.get("/items", StatusCode::OK, "GET /items").await?;
        let items: Vec<Item> = self.parse(listed, "GET /items body").await?;
        self.check(items.contains(&item), "GET /items lists the new item")?;
        self.read(
            &path,
            &item,
            "GET /items/{id}",
            "GET returns the created item",
        )
        .await?;
        let updated = self.update(&path, &item, round, size).await?;
        self.read(
            &path,
            &updated,
            "GET /items/{id} after PUT",
            "GET returns the update",
        )
        .await?;
        self.delete(&path).await
    }

    /// GET /health answers `{"status":"ok"}`.
    async fn health(&mut self) -> Result<(), RoundEnd> {
        let health = self.get("/health", StatusCode::OK, "GET /health").await?;
        self.check(
            json(health).await == Some(serde_json::json!({"status": "ok"})),
            "GET /health body",
        )
    }

    /// POST /items: 201 with the item echoed and its Location.
    async fn create(&mut self, round: u64, size: usize) -> Result<Item, RoundEnd> {
        let new = NewItem {
            name: name(round, "v1", size),
            quantity: round as u32,
        };
        let created = self
            .call(
                self.http.post(self.url("/items")).json(&new),
                StatusCode::CREATED,
                "POST /items",
            )
            .await?;
        let location = created
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let item: Item = self.parse(created, "POST /items body").await?;
        self.check(
            item.name == new.name && item.quantity == new.quantity,
            "POST /items echoes the item",
        )?;
        self.check(
            location == Some(format!("/items/{}", item.id)),
            "POST /items Location header",
        )?;
        Ok(item)
    }

    /// GET `path` answers 200 with `want`.
    async fn read(
        &mut self,
        path: &str,
        want: &Item,
        what: &str,
        check: &str,
    ) -> Result<(), RoundEnd> {
        let read = self.get(path, StatusCode::OK, what).await?;
        let got: Item = self.parse(read, "GET body").await?;
        self.check(&got == want, check)
    }

    /// PUT `path` with the round's second name: 200 with the updated item, which it returns.
    async fn update(
        &mut self,
        path: &str,
        item: &Item,
        round: u64,
        size: usize,
    ) -> Result<Item, RoundEnd> {
        let changed = NewItem {
            name: name(round, "v2", size),
            quantity: round as u32 + 1,
        };
        let updated = self
            .call(
                self.http.put(self.url(path)).json(&changed),
                StatusCode::OK,
                "PUT /items/{id}",
            )
            .await?;
        let want = Item {
            id: item.id,
            name: changed.name,
            quantity: changed.quantity,
        };
        let got: Item = self.parse(updated, "PUT body").await?;
        self.check(got == want, "PUT returns the updated item")?;
        Ok(want)
    }

    /// DELETE `path`: 204 with no body, and a GET after it 404 with a JSON error.
    async fn delete(&mut self, path: &str) -> Result<(), RoundEnd> {
        let deleted = self
            .call(
                self.http.delete(self.url(path)),
                StatusCode::NO_CONTENT,
                "DELETE /items/{id}",
            )
            .await?;
        self.check(
            deleted.bytes().await.map(|b| b.is_empty()).unwrap_or(false),
            "DELETE has no body",
        )?;
        let gone = self
            .get(path, StatusCode::NOT_FOUND, "GET deleted item")
            .await?;
        let error = json(gone).await.unwrap_or_default();
        self.check(
            error["status"] == 404 && error["error"].is_string(),
            "404 has a JSON error body",
        )
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// [`call`](Self::call) with a GET of `path`.
    async fn get(
        &mut self,
        path: &str,
        expect: StatusCode,
        what: &str,
    ) -> Result<Response, RoundEnd> {
        self.call(self.http.get(self.url(path)), expect, what).await
    }

    /// Sends one request of the walk; counts it as received only with the expected status. A
    /// request that needed a reconnect ends the round as an outage, whatever its answer.
    async fn call(
        &mut self,
        request: RequestBuilder,
        expect: StatusCode,
        what: &str,
    ) -> Result<Response, RoundEnd> {
        match self.send(request, &[expect], what).await? {
            (_, true) => Err(RoundEnd::Outage),
            (response, false) => Ok(response),
        }
    }

    /// Sends one request, again after a failure if it is idempotent and attempts are left;
    /// returns the answer and whether it needed a reconnect.
    async fn send(
        &mut self,
        request: RequestBuilder,
        expect: &[StatusCode],
        what: &str,
    ) -> Result<(Response, bool), RoundEnd> {
        self.sent += 1;
        let retrying = self.backoff.as_ref().is_some_and(|b| b.max() > 0);
        let mut reconnected = false;
        let response = loop {
            let attempt = request
                .try_clone()
                .expect("requests without streamed bodies");
            let err = match attempt.send().await {
                Ok(response) => break response,
                Err(err) => causes(&err),
            };
            if retrying && what.starts_with("POST") {
                // It may have been applied before the connection broke: never sent blindly again.
                self.unknown += 1;
                log::warn!("{what}: outcome unknown ({err}); finding out with GET /items");
                return Err(RoundEnd::Outage);
            }
            let backoff = self.backoff.as_mut().expect("set in run");
            match backoff.failed(&format!("{what}: {err}")) {
                Some(pause) => {
                    reconnected = true;
                    tokio::time::sleep(pause).await;
                }
                None => {
                    self.lost += 1;
                    log::error!("{what}: no response: {err}");
                    return Err(RoundEnd::Failed);
                }
            }
        };
        if let Some(b) = self.backoff.as_mut() {
            b.succeeded();
        }
        if !expect.contains(&response.status()) {
            if reconnected {
                // Answered by a server that may have restarted empty: not a failed check.
                self.received += 1;
                return Ok((response, true));
            }
            self.failed += 1;
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            log::error!("{what}: expected {expect:?}, got {status}: {body}");
            return Err(RoundEnd::Failed);
        }
        self.received += 1;
        Ok((response, reconnected))
    }

    async fn parse<T: serde::de::DeserializeOwned>(
        &mut self,
        response: Response,
        what: &str,
    ) -> Result<T, RoundEnd> {
        match response.json::<T>().await {
            Ok(value) => Ok(value),
            Err(err) => {
                self.failed += 1;
                log::error!("{what}: {err}");
                Err(RoundEnd::Failed)
            }
        }
    }

    fn check(&mut self, passed: bool, what: &str) -> Result<(), RoundEnd> {
        if !passed {
            self.failed += 1;
            log::error!("check failed: {what}");
            return Err(RoundEnd::Failed);
        }
        Ok(())
    }
}

/// An error with its causes (`error sending request: connection refused`): reqwest's own text
/// names only the URL.
fn causes(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

async fn json(response: Response) -> Option<Value> {
    response.json().await.ok()
}
