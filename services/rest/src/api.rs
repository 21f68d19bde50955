//! The REST API: an in-memory JSON resource `/items` (create, list, read, update, delete) and
//! `/health`. Every error, including those actix raises before a handler runs (bad JSON, wrong
//! content type, oversize body, unknown route, wrong method), is a JSON body
//! `{"error": "...", "status": N}`, so a client always gets something it can parse.

use std::collections::BTreeMap;
use std::sync::Mutex;

use actix_web::error::{JsonPayloadError, PayloadError};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use anyhow::Context;
use common::Stop;
use serde::{Deserialize, Serialize};

/// A stored item, as the API returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub id: u64,
    pub name: String,
    pub quantity: u32,
}

/// The body of a create (POST) or a full update (PUT). Unknown fields are ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewItem {
    pub name: String,
    pub quantity: u32,
}

/// The items, behind one lock: every worker thread shares the same store.
#[derive(Default)]
pub struct Store {
    inner: Mutex<(u64, BTreeMap<u64, Item>)>,
}

/// An error answered as `{"error": message, "status": code}`; a 405 also carries `Allow`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    allow: Option<&'static str>,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            allow: None,
        }
    }
    fn no_item(id: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("no item with id {id}"))
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }
    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if let Some(allow) = self.allow {
            response.insert_header((header::ALLOW, allow));
        }
        response.json(serde_json::json!({ "error": self.message, "status": self.status.as_u16() }))
    }
}

/// Maps the JSON extractor's failures onto the status table: syntax 400, shape 422, 415, 413.
fn json_error(err: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let (status, message) = match &err {
        JsonPayloadError::ContentType => (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "expected Content-Type: application/json".to_string(),
        ),
        JsonPayloadError::OverflowKnownLength { limit, .. }
        | JsonPayloadError::Overflow { limit } => (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("body larger than the limit of {limit} bytes"),
        ),
        JsonPayloadError::Payload(PayloadError::Overflow) => (
            StatusCode::PAYLOAD_TOO_LARGE,
            "body larger than the limit".to_string(),
        ),
        // Well-formed JSON of the wrong shape (missing field, wrong type) is a validation error.
        JsonPayloadError::Deserialize(e) if e.is_data() => (
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("invalid item: {e}"),
        ),
        JsonPayloadError::Deserialize(e) => {
            (StatusCode::BAD_REQUEST, format!("malformed JSON: {e}"))
        }
        other => (StatusCode::BAD_REQUEST, format!("unreadable body: {other}")),
    };
    ApiError::new(status, message).into()
}

fn validate(item: &NewItem) -> Result<(), ApiError> {
    if item.name.trim().is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid item: name must not be empty",
        ));
    }
    Ok(())
}

async fn health() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

async fn list(store: web::Data<Store>) -> HttpResponse {
    let items: Vec<Item> = store.inner.lock().unwrap().1.values().cloned().collect();
    HttpResponse::Ok().json(items)
}

async fn create(
    store: web::Data<Store>,
    body: web::Json<NewItem>,
) -> Result<HttpResponse, ApiError> {
    validate(&body)?;
    let mut guard = store.inner.lock().unwrap();
    let (next, items) = &mut *guard;
    *next += 1;
    let item = Item {
        id: *next,
        name: body.0.name,
        quantity: body.0.quantity,
    };
    items.insert(item.id, item.clone());
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/items/{}", item.id)))
        .json(item))
}

async fn read(store: web::Data<Store>, id: web::Path<u64>) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let items = &store.inner.lock().unwrap().1;
    let item = items.get(&id).ok_or_else(|| ApiError::no_item(id))?;
    Ok(HttpResponse::Ok().json(item))
}

async fn update(
    store: web::Data<Store>,
    id: web::Path<u64>,
    body: web::Json<NewItem>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    validate(&body)?;
    let items = &mut store.inner.lock().unwrap().1;
    let item = items.get_mut(&id).ok_or_else(|| ApiError::no_item(id))?;
    (item.name, item.quantity) = (body.0.name, body.0.quantity);
    Ok(HttpResponse::Ok().json(item.clone()))
}

async fn delete(store: web::Data<Store>, id: web::Path<u64>) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    store
        .inner
        .lock()
        .unwrap()
        .1
        .remove(&id)
        .ok_or_else(|| ApiError::no_item(id))?;
    Ok(HttpResponse::NoContent().finish())
}

/// The answer for a known path with a method it does not support: 405 and the methods it does.
fn not_allowed(allow: &'static str) -> actix_web::Route {
    web::to(move |req: HttpRequest| async move {
        let message = format!("method {} not allowed on {}", req.method(), req.path());
        Err::<HttpResponse, _>(ApiError {
            allow: Some(allow),
            ..ApiError::new(StatusCode::METHOD_NOT_ALLOWED, message)
        })
    })
}

async fn unknown_route(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        StatusCode::NOT_FOUND,
        format!("no route for {} {}", req.method(), req.path()),
    ))
}

/// Registers the routes, the store and the body limit on an actix App.
pub fn configure(
    store: web::Data<Store>,
    max_body: usize,
) -> impl Fn(&mut web::ServiceConfig) + Clone {
    move |cfg: &mut web::ServiceConfig| {
        let json = web::JsonConfig::default()
            .limit(max_body)
            .error_handler(json_error);
        // An id that is not a number names no item: 404 like any other unknown id.
        let path = web::PathConfig::default()
            .error_handler(|_, req| ApiError::no_item(req.match_info().query("id")).into());
        cfg.app_data(store.clone())
            .app_data(json)
            .app_data(path)
            .service(
                web::resource("/health")
                    .route(web::get().to(health))
                    .default_service(not_allowed("GET")),
            )
            .service(
                web::resource("/items")
                    .route(web::get().to(list))
                    .route(web::post().to(create))
                    .default_service(not_allowed("GET, POST")),
            )
            .service(
                web::resource("/items/{id}")
                    .route(web::get().to(read))
                    .route(web::put().to(update))
                    .route(web::delete().to(delete))
                    .default_service(not_allowed("GET, PUT, DELETE")),
            )
            .default_service(web::to(unknown_route));
    }
}

/// Binds the listen address, with an error that names it (port in use, unresolvable host).
/// Tokio's bind sets SO_REUSEADDR, so a restart does not trip over connections in TIME_WAIT.
pub async fn bind(listen: &str) -> anyhow::Result<std::net::TcpListener> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding REST API to {listen}"))?;
    listener
        .into_std()
        .with_context(|| format!("handing the socket of {listen} to actix"))
}

/// The API's flags.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// Address to listen on (HOST:PORT; port 0 picks a free one and logs it).
    #[arg(long, env = "LISTEN", default_value = "0.0.0.0:8080")]
    pub listen: String,
    /// Largest accepted request body in bytes; a bigger one is refused with 413.
    #[arg(long, env = "MAX_BODY", default_value_t = 64 * 1024, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1 << 30))]
    pub max_body: usize,
    /// Worker threads serving requests.
    #[arg(long, env = "WORKERS", default_value_t = 2, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=256))]
    pub workers: usize,
    /// Serve HTTPS with this PEM certificate chain (needs --tls-key).
    #[arg(long, env = "TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// The private key of --tls-cert, PEM.
    #[arg(long, env = "TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
}

/// Binds `cfg.listen` and serves the API, over TLS when `cfg` names a certificate, until `stop`.
pub async fn run(cfg: &Config, stop: Stop) -> anyhow::Result<()> {
    let tls = match (&cfg.tls_cert, &cfg.tls_key) {
        (Some(cert), Some(key)) => Some(common::tls::server_config(cert, key)?),
        _ => None,
    };
    let listener = bind(&cfg.listen).await?;
    serve_tls(listener, cfg.max_body, cfg.workers, tls, stop).await
}

/// Serves the API on `listener` until `stop` is requested; in-flight requests then get up to a
/// second to finish, so the process exits well within compose's grace period.
pub async fn serve(
    listener: std::net::TcpListener,
    max_body: usize,
    workers: usize,
    stop: Stop,
) -> anyhow::Result<()> {
    serve_tls(listener, max_body, workers, None, stop).await
}

/// [`serve`], over TLS (HTTPS) when `tls` is given.
pub async fn serve_tls(
    listener: std::net::TcpListener,
    max_body: usize,
    workers: usize,
    tls: Option<rustls::ServerConfig>,
    stop: Stop,
) -> anyhow::Result<()> {
    let addr = listener
        .local_addr()
        .context("reading the listen address")?;
    let routes = configure(web::Data::new(Store::default()), max_body);
    let server =
        actix_web::HttpServer::new(move || actix_web::App::new().configure(routes.clone()))
            .workers(workers)
            .shutdown_timeout(1)
            .shutdown_signal(async move { stop.requested().await });
    let over = if tls.is_some() { " over HTTPS" } else { "" };
    let server = match tls {
        Some(mut config) => {
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            server.listen_rustls_0_23(listener, config)
        }
        None => server.listen(listener),
    }
    .with_context(|| format!("listening on {addr}"))?
    .run();
    log::info!("REST API{over} listening on {addr}");
    server.await.with_context(|| format!("serving on {addr}"))?;
    log::info!("stopped");
    Ok(())
}
