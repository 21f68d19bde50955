//! The REST client's walk: health, create, list, read, update, read back, delete, read again
//! (404), over one keep-alive connection, checking each status and body. A step that fails ends
//! its round (the next steps depend on it); the next round starts afresh.

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::Context;
use common::Summary;
use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::Value;

use crate::api::{Item, NewItem};

/// Requests in one round of the walk.
pub const STEPS: u64 = 8;

/// What one run does.
#[derive(Debug, Clone)]
pub struct Config {
    /// The API's HOST:PORT.
    pub connect: String,
    pub rounds: u64,
    /// Length of the item names sent (the payload size of creates and updates).
    pub size: usize,
    /// How long to keep retrying while the API is not up.
    pub retry: Duration,
    /// How long one request may take before it counts as lost.
    pub timeout: Duration,
}

/// The result of a run: the summary line, whether every check passed, and whether a signal cut
/// it short.
pub struct Report {
    pub summary: Summary,
    pub ok: bool,
    pub interrupted: bool,
}

/// Counts requests and their outcomes across the walk.
#[derive(Default)]
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
/// `shutdown` completes, and the summary then says how far it got.
pub async fn run(cfg: &Config, shutdown: impl Future<Output = ()>) -> anyhow::Result<Report> {
    let http = reqwest::Client::builder()
        .no_proxy() // test traffic stays on the model's own network, whatever the environment says
        .timeout(cfg.timeout)
        .build()
        .context("building the HTTP client")?;
    let base = format!("http://{}", cfg.connect);
    let what = format!("waiting for the REST API at {base}/health");
    common::retry::retry_async(&what, cfg.retry, || async {
        http.get(format!("{base}/health"))
            .send()
            .await?
            .error_for_status()
            .map(drop)
    })
    .await?;
    log::info!("connected to {base}");

    let mut walk = Walk {
        http,
        base,
        ..Walk::default()
    };
    let start = Instant::now();
    let interrupted = tokio::select! {
        _ = async { for round in 0..cfg.rounds { walk.round(round, cfg.size).await; } } => false,
        _ = shutdown => true,
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
    let ok =
        !interrupted && walk.failed == 0 && walk.lost == 0 && walk.received == cfg.rounds * STEPS;
    Ok(Report {
        summary,
        ok,
        interrupted,
    })
}

impl Walk {
    /// One round; `None` from a step means it failed and was already counted.
    async fn round(&mut self, round: u64, size: usize) -> Option<()> {
        let health = self
            .call(
                self.http.get(self.url("/health")),
                StatusCode::OK,
                "GET /health",
            )
            .await?;
        self.check(
            json(health).await == Some(serde_json::json!({"status": "ok"})),
            "GET /health body",
        )?;

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
        let path = format!("/items/{}", item.id);
        self.check(
            location.as_deref() == Some(path.as_str()),
            "POST /items Location header",
        )?;

        let listed = self
            .call(
                self.http.get(self.url("/items")),
                StatusCode::OK,
                "GET /items",
            )
            .await?;
        let items: Vec<Item> = self.parse(listed, "GET /items body").await?;
        self.check(items.contains(&item), "GET /items lists the new item")?;

        let read = self
            .call(
                self.http.get(self.url(&path)),
                StatusCode::OK,
                "GET /items/{id}",
            )
            .await?;
        let got: Item = self.parse(read, "GET body").await?;
        self.check(got == item, "GET returns the created item")?;

        let changed = NewItem {
            name: name(round, "v2", size),
            quantity: round as u32 + 1,
        };
        let updated = self
            .call(
                self.http.put(self.url(&path)).json(&changed),
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

        let read = self
            .call(
                self.http.get(self.url(&path)),
                StatusCode::OK,
                "GET /items/{id} after PUT",
            )
            .await?;
        let got: Item = self.parse(read, "GET body").await?;
        self.check(got == want, "GET returns the update")?;

        let deleted = self
            .call(
                self.http.delete(self.url(&path)),
                StatusCode::NO_CONTENT,
                "DELETE /items/{id}",
            )
            .await?;
        self.check(
            deleted.bytes().await.map(|b| b.is_empty()).unwrap_or(false),
            "DELETE has no body",
        )?;

        let gone = self
            .call(
                self.http.get(self.url(&path)),
                StatusCode::NOT_FOUND,
                "GET deleted item",
            )
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

    /// Sends one request; counts it as received only with the expected status.
    async fn call(
        &mut self,
        request: RequestBuilder,
        expect: StatusCode,
        what: &str,
    ) -> Option<Response> {
        self.sent += 1;
        match request.send().await {
            Err(err) => {
                self.lost += 1;
                log::error!("{what}: no response: {err}");
                None
            }
            Ok(response) if response.status() != expect => {
                self.failed += 1;
                let status = response.status();
                let body = response.text().await.unwrap_or_default();
                log::error!("{what}: expected {expect}, got {status}: {body}");
                None
            }
            Ok(response) => {
                self.received += 1;
                Some(response)
            }
        }
    }

    async fn parse<T: serde::de::DeserializeOwned>(
        &mut self,
        response: Response,
        what: &str,
    ) -> Option<T> {
        match response.json::<T>().await {
            Ok(value) => Some(value),
            Err(err) => {
                self.failed += 1;
                log::error!("{what}: {err}");
                None
            }
        }
    }

    fn check(&mut self, passed: bool, what: &str) -> Option<()> {
        if !passed {
            self.failed += 1;
            log::error!("check failed: {what}");
        }
        passed.then_some(())
    }
}

async fn json(response: Response) -> Option<Value> {
    response.json().await.ok()
}
