//! REST: each request is answered exactly once and in order on its keep-alive connection (HTTP/1.1
//! answers in the order asked), each verb with its status; and each item's life: created by a
//! POST to its collection, changed by PUT, removed by DELETE, and 404 when asked for afterwards.

use std::collections::{BTreeMap, HashMap, VecDeque};

use super::{ends, first, Claim, Proof, Prover};
use crate::decode::names::Names;
use crate::decode::walk::Tcp;
use crate::decode::Message;

#[derive(Default)]
struct Conversation {
    name: String,
    /// Requests not answered yet: method and path.
    asked: VecDeque<(String, String)>,
    requests: u64,
    /// Responses that came with no request waiting for them.
    unasked: u64,
}

#[derive(Default)]
pub struct Http {
    streams: BTreeMap<u64, Conversation>,
    /// How often each (verb, route, status) was seen: `GET /items/{id} → 200`.
    verbs: BTreeMap<(String, String, u16), u64>,
    /// Every answered request on an item path, in order: (method, status).
    lives: BTreeMap<String, Vec<(String, u16)>>,
    /// Collections that had an item created (POST answered 201) before each item's first request.
    created: HashMap<String, u64>,
    /// Items whose first request came after a POST 201 to their collection.
    born: HashMap<String, bool>,
}

/// A path with its numeric segments replaced by `{id}`: the route a request took.
fn route(path: &str) -> String {
    let path = path.split('?').next().unwrap_or(path);
    path.split('/')
        .map(|s| {
            if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
                "{id}"
            } else {
                s
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The collection an item path belongs to (`/items/3` → `/items`), if the path names an item.
fn collection(path: &str) -> Option<&str> {
    let (parent, last) = path.rsplit_once('/')?;
    (!last.is_empty() && last.bytes().all(|b| b.is_ascii_digit())).then_some(parent)
}

impl Http {
    fn answered(&mut self, method: String, path: String, status: u16) {
        *self
            .verbs
            .entry((method.clone(), route(&path), status))
            .or_default() += 1;
        if method == "POST" && status == 201 {
            *self.created.entry(path.clone()).or_default() += 1;
        }
        if let Some(parent) = collection(&path) {
            let created = self.created.get(parent).is_some_and(|n| *n > 0);
            self.born.entry(path.clone()).or_insert(created);
            self.lives.entry(path).or_default().push((method, status));
        }
    }
}

/// True if `life` has a PUT answered 2xx, then a DELETE answered 2xx, then a GET answered 404.
fn full_life(life: &[(String, u16)]) -> bool {
    let mut steps = [("PUT", 200..300), ("DELETE", 200..300), ("GET", 404..405)].into_iter();
    let mut want = steps.next();
    for (method, status) in life {
        if let Some((m, range)) = &want {
            if method == m && range.contains(status) {
                want = steps.next();
            }
        }
    }
    want.is_none()
}

impl Prover for Http {
    fn segment(&mut self, t: &Tcp, names: &Names) {
        for m in &t.messages {
            let Message::Http(h) = m else { continue };
            let c = self
                .streams
                .entry(t.stream)
                .or_insert_with(|| Conversation {
                    name: names.endpoint(&ends(t).0),
                    ..Default::default()
                });
            match (&h.method, &h.path, h.status) {
                (Some(method), Some(path), _) if t.from_client => {
                    c.requests += 1;
                    c.asked.push_back((method.clone(), path.clone()));
                }
                (_, _, Some(status)) if !t.from_client => match c.asked.pop_front() {
                    Some((method, path)) => self.answered(method, path, status),
                    None => c.unasked += 1,
                },
                _ => {}
            }
        }
    }

    fn proofs(&self) -> Vec<Proof> {
        let requests: u64 = self.streams.values().map(|c| c.requests).sum();
        let unanswered: usize = self.streams.values().map(|c| c.asked.len()).sum();
        let unasked: u64 = self.streams.values().map(|c| c.unasked).sum();
        let busiest = self.streams.values().map(|c| c.requests).max().unwrap_or(0);
        let mut details: Vec<String> = self
            .verbs
            .iter()
            .map(|((m, r, s), n)| format!("{m} {r} → {s} ×{n}"))
            .collect();
        for c in self.streams.values().filter(|c| !c.asked.is_empty()) {
            let left: Vec<String> = c.asked.iter().map(|(m, p)| format!("{m} {p}")).collect();
            details.push(format!("{}: no response to {}", c.name, first(&left, 4)));
        }
        let items: Vec<(&String, &Vec<(String, u16)>)> = self
            .lives
            .iter()
            .filter(|(_, life)| life.iter().any(|(m, _)| m == "DELETE"))
            .collect();
        let whole = items
            .iter()
            .filter(|(path, life)| self.born.get(*path) == Some(&true) && full_life(life))
            .count();
        let lives: Vec<String> = items
            .iter()
            .map(|(path, life)| {
                let born = if self.born.get(*path) == Some(&true) {
                    "POST 201"
                } else {
                    "?"
                };
                let steps: Vec<String> = life.iter().map(|(m, s)| format!("{m} {s}")).collect();
                format!("{path}: {born} → {}", steps.join(" → "))
            })
            .collect();
        vec![
            Proof {
                claim: Claim::Answered,
                holds: requests > 0 && unanswered == 0 && unasked == 0,
                args: vec![
                    requests.to_string(),
                    self.streams.len().to_string(),
                    unanswered.to_string(),
                    unasked.to_string(),
                    busiest.to_string(),
                ],
                details,
            },
            Proof {
                claim: Claim::ItemLife,
                holds: !items.is_empty() && whole == items.len(),
                args: vec![whole.to_string(), items.len().to_string()],
                details: lives.into_iter().take(8).collect(),
            },
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn life(steps: &[(&str, u16)]) -> Vec<(String, u16)> {
        steps.iter().map(|(m, s)| (m.to_string(), *s)).collect()
    }

    #[test]
    fn routes_and_collections_name_items_by_their_numbers() {
        assert_eq!(route("/items/42?x=1"), "/items/{id}");
        assert_eq!(route("/health"), "/health");
        assert_eq!(collection("/items/42"), Some("/items"));
        assert_eq!(collection("/items"), None);
    }

    #[test]
    fn a_whole_life_is_put_then_delete_then_404() {
        let whole = [("GET", 200), ("PUT", 200), ("DELETE", 204), ("GET", 404)];
        assert!(full_life(&life(&whole)));
        // Deleted before it was changed, or still there after the DELETE: not a whole life.
        assert!(!full_life(&life(&[
            ("DELETE", 204),
            ("PUT", 200),
            ("GET", 404)
        ])));
        assert!(!full_life(&life(&[
            ("PUT", 200),
            ("DELETE", 204),
            ("GET", 200)
        ])));
    }
}
