//! The REST model on loopback: our client's full walk, curl (a real peer) driving every verb and
//! every row of the bad-input table, and after each bad request a well-behaved client that still
//! gets full service. The API runs as its real binary on an ephemeral port.

use std::process::Command;

use serde_json::Value;
use testkit::{start, Server};

const API: &str = env!("CARGO_BIN_EXE_rest-api");
const CLIENT: &str = env!("CARGO_BIN_EXE_rest-client");

/// A small body limit keeps the oversize cases small; the flag itself is under test too.
const MAX_BODY: usize = 4096;

fn api() -> Server {
    start(
        API,
        &[
            "--listen",
            "127.0.0.1:0",
            "--max-body",
            &MAX_BODY.to_string(),
        ],
    )
}

/// What curl saw: status, response headers (lower-cased) and body.
struct Answer {
    status: u16,
    headers: String,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
}

/// Runs curl against the API; `args` are curl's (method, headers, data) plus the path last.
fn curl(server: &Server, args: &[&str]) -> Answer {
    let (path, args) = args.split_last().unwrap();
    let headers = tempfile::NamedTempFile::new().unwrap();
    let out = Command::new("curl")
        .args(["-sS", "--noproxy", "*", "-D"])
        .arg(headers.path())
        .args(["-w", "\n%{http_code}"])
        .args(args)
        .arg(format!("http://{}{path}", server.addr))
        .output()
        .expect("running curl");
    assert!(
        out.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let (body, status) = stdout.rsplit_once('\n').unwrap();
    Answer {
        status: status.parse().unwrap(),
        headers: std::fs::read_to_string(headers.path())
            .unwrap()
            .to_lowercase(),
        body: body.to_string(),
    }
}

/// Runs our client for `rounds` rounds and returns its summary fields; asserts it passed.
fn good_client(server: &Server, rounds: u64) -> std::collections::BTreeMap<String, String> {
    testkit::run_to_end(
        CLIENT,
        &[
            "--connect",
            &server.addr,
            "--count",
            &rounds.to_string(),
            "--retry-secs",
            "5",
        ],
    )
    .assert_success()
    .summary()
}

const JSON: &str = "Content-Type: application/json";

/// POSTs `body` as JSON to `/items` with curl.
fn post_item(server: &Server, body: &str) -> Answer {
    curl(server, &["-H", JSON, "-d", body, "/items"])
}

#[test]
fn client_walks_every_verb_and_checks_each_answer() {
    let server = api();
    let fields = good_client(&server, 5);
    // 5 rounds of 8 requests: health, create, list, read, update, read back, delete, read (404).
    for (key, want) in [
        ("sent", "40"),
        ("received", "40"),
        ("lost", "0"),
        ("failed", "0"),
        ("rounds", "5"),
    ] {
        assert_eq!(fields[key], want, "{key}");
    }
}

#[test]
fn curl_drives_every_verb() {
    let server = api();
    let health = curl(&server, &["/health"]);
    assert_eq!(
        (health.status, health.json()),
        (200, serde_json::json!({"status": "ok"}))
    );

    let created = post_item(&server, r#"{"name":"lamp","quantity":3}"#);
    assert_eq!(created.status, 201);
    let item = created.json();
    let id = item["id"].as_u64().expect("numeric id");
    assert_eq!(
        (&item["name"], &item["quantity"]),
        (&Value::from("lamp"), &Value::from(3))
    );
    assert!(
        created
            .headers
            .contains(&format!("location: /items/{id}\r\n")),
        "{}",
        created.headers
    );

    let list = curl(&server, &["/items"]);
    assert_eq!(
        (list.status, list.json()),
        (200, Value::Array(vec![item.clone()]))
    );
    let read = curl(&server, &[&format!("/items/{id}")]);
    assert_eq!((read.status, read.json()), (200, item));

    let put = curl(
        &server,
        &[
            "-X",
            "PUT",
            "-H",
            JSON,
            "-d",
            r#"{"name":"desk lamp","quantity":4}"#,
            &format!("/items/{id}"),
        ],
    );
    let updated = serde_json::json!({"id": id, "name": "desk lamp", "quantity": 4});
    assert_eq!((put.status, put.json()), (200, updated.clone()));
    let read = curl(&server, &[&format!("/items/{id}")]);
    assert_eq!((read.status, read.json()), (200, updated));

    let deleted = curl(&server, &["-X", "DELETE", &format!("/items/{id}")]);
    assert_eq!((deleted.status, deleted.body.as_str()), (204, ""));
    let gone = curl(&server, &[&format!("/items/{id}")]);
    assert_eq!(
        (gone.status, gone.json()["status"].clone()),
        (404, Value::from(404))
    );
    let list = curl(&server, &["/items"]);
    assert_eq!(list.json(), Value::Array(vec![]));
}

/// The bad-input table: each request, the status and JSON error it must get, and the `Allow`
/// header a 405 must carry.
#[test]
fn bad_requests_get_json_errors_and_good_clients_stay_served() {
    let server = api();
    let exists = post_item(&server, r#"{"name":"kept","quantity":1}"#).json()["id"].to_string();
    let item = format!("/items/{exists}");
    let big_name = "n".repeat(MAX_BODY);
    let oversize = format!(r#"{{"name":"{big_name}","quantity":1}}"#);
    let just_fits = format!(r#"{{"name":"{}","quantity":1}}"#, "n".repeat(MAX_BODY - 40));
    let cases: Vec<(&str, Vec<&str>, u16, Option<&str>)> = vec![
        (
            "malformed JSON",
            vec!["-H", JSON, "-d", r#"{"name":"x","#, "/items"],
            400,
            None,
        ),
        (
            "empty JSON body",
            vec!["-H", JSON, "-X", "POST", "/items"],
            400,
            None,
        ),
        (
            "JSON that is not an object",
            vec!["-H", JSON, "-d", "[1,2]", "/items"],
            422,
            None,
        ),
        (
            "wrong content type",
            vec![
                "-H",
                "Content-Type: text/plain",
                "-d",
                r#"{"name":"x","quantity":1}"#,
                "/items",
            ],
            415,
            None,
        ),
        (
            "no content type",
            vec![
                "-H",
                "Content-Type:",
                "-d",
                r#"{"name":"x","quantity":1}"#,
                "/items",
            ],
            415,
            None,
        ),
        (
            "missing field",
            vec!["-H", JSON, "-d", r#"{"name":"x"}"#, "/items"],
            422,
            None,
        ),
        (
            "wrong field type",
            vec![
                "-H",
                JSON,
                "-d",
                r#"{"name":"x","quantity":"many"}"#,
                "/items",
            ],
            422,
            None,
        ),
        (
            "negative quantity",
            vec!["-H", JSON, "-d", r#"{"name":"x","quantity":-1}"#, "/items"],
            422,
            None,
        ),
        (
            "empty name",
            vec!["-H", JSON, "-d", r#"{"name":" ","quantity":1}"#, "/items"],
            422,
            None,
        ),
        (
            "bad update body",
            vec!["-X", "PUT", "-H", JSON, "-d", "{oops", &item],
            400,
            None,
        ),
        ("unknown id GET", vec!["/items/999999"], 404, None),
        (
            "unknown id PUT",
            vec![
                "-X",
                "PUT",
                "-H",
                JSON,
                "-d",
                r#"{"name":"x","quantity":1}"#,
                "/items/999999",
            ],
            404,
            None,
        ),
        (
            "unknown id DELETE",
            vec!["-X", "DELETE", "/items/999999"],
            404,
            None,
        ),
        ("id that is not a number", vec!["/items/abc"], 404, None),
        ("unknown route", vec!["/nothing/here"], 404, None),
        (
            "wrong method on an item",
            vec!["-X", "PATCH", &item],
            405,
            Some("GET, PUT, DELETE"),
        ),
        (
            "wrong method on the collection",
            vec!["-X", "DELETE", "/items"],
            405,
            Some("GET, POST"),
        ),
        (
            "wrong method on health",
            vec!["-X", "POST", "/health"],
            405,
            Some("GET"),
        ),
        (
            "oversize body with Content-Length",
            vec!["-H", JSON, "-d", &oversize, "/items"],
            413,
            None,
        ),
        (
            "oversize chunked body",
            vec![
                "-H",
                JSON,
                "-H",
                "Transfer-Encoding: chunked",
                "-d",
                &oversize,
                "/items",
            ],
            413,
            None,
        ),
    ];
    for (what, args, status, allow) in cases {
        let answer = curl(&server, &args);
        assert_eq!(answer.status, status, "{what}: {}", answer.body);
        let body = answer.json();
        assert_eq!(body["status"], Value::from(status), "{what}: {body}");
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{what}: {body}"
        );
        if let Some(allow) = allow {
            assert!(
                answer
                    .headers
                    .contains(&format!("allow: {}\r\n", allow.to_lowercase())),
                "{what}: {}",
                answer.headers
            );
        }
        // The API keeps serving: a full walk right after each bad request.
        assert_eq!(good_client(&server, 1)["failed"], "0", "after {what}");
    }
    // The limit is the flag's, not a lower one: a body just under it is accepted.
    assert_eq!(post_item(&server, &just_fits).status, 201);
    // Nothing bad changed the stored item.
    assert_eq!(curl(&server, &[&item]).json()["name"], "kept");
}
