//! The table of pola's models, read from `models.tsv` at the root of the repository: every model
//! and encrypted twin, its hub's ports, the protocol on them, and what the report proves. The
//! Makefile and scripts read the same file with awk; this module is how the Rust side reads it.

use std::sync::OnceLock;

/// The table's text, compiled in so the binaries need no file at run time.
const TABLE: &str = include_str!("../../../models.tsv");

/// One line of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelRow {
    /// `mqtt`, `rest-tls`...: the compose profile, the capture target and the pcap's name.
    pub name: &'static str,
    /// The plain model an encrypted variant repeats; `None` for a plain model.
    pub twin_of: Option<&'static str>,
    /// The hub's TCP ports, the only ones its capture keeps.
    pub ports: Vec<u16>,
    /// `mqtt`, `raw`, `http`, `zmtp` or `tls`.
    pub protocol: &'static str,
    /// What `pola report` proves from the packets, in a sentence.
    pub proof: &'static str,
}

impl ModelRow {
    /// The tcpdump (BPF) filter that keeps the model's conversations and nothing else.
    pub fn filter(&self) -> String {
        let ports: Vec<String> = self.ports.iter().map(|p| format!("tcp port {p}")).collect();
        ports.join(" or ")
    }
}

/// Every row, plain models first, in the table's order (the order `make capture` runs them).
pub fn all() -> &'static [ModelRow] {
    static ROWS: OnceLock<Vec<ModelRow>> = OnceLock::new();
    ROWS.get_or_init(|| parse(TABLE).unwrap_or_else(|err| panic!("models.tsv: {err}")))
}

/// The plain models' names.
pub fn plain() -> impl Iterator<Item = &'static str> {
    all().iter().filter(|m| m.twin_of.is_none()).map(|m| m.name)
}

/// The encrypted twins' names.
pub fn variants() -> impl Iterator<Item = &'static str> {
    all().iter().filter(|m| m.twin_of.is_some()).map(|m| m.name)
}

/// The row named `name`, or an error that lists every valid name.
pub fn find(name: &str) -> anyhow::Result<&'static ModelRow> {
    all().iter().find(|m| m.name == name).ok_or_else(|| {
        let names: Vec<&str> = all().iter().map(|m| m.name).collect();
        anyhow::anyhow!("unknown model {name:?}; valid models: {}", names.join(", "))
    })
}

/// The row whose hub listens on `port`.
pub fn by_port(port: u16) -> Option<&'static ModelRow> {
    all().iter().find(|m| m.ports.contains(&port))
}

/// The next word of `rest`, which is left holding what follows it.
fn word(rest: &mut &'static str) -> Option<&'static str> {
    let text = rest.trim_start();
    let end = text.find(char::is_whitespace).unwrap_or(text.len());
    let (word, after) = text.split_at(end);
    *rest = after;
    Some(word).filter(|w| !w.is_empty())
}

fn parse(text: &'static str) -> Result<Vec<ModelRow>, String> {
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |what: &str| format!("line {}: {what}: {line}", n + 1);
        let mut rest = line;
        let name = word(&mut rest).ok_or_else(|| bad("no name"))?;
        let twin_of = Some(word(&mut rest).ok_or_else(|| bad("no twin_of"))?).filter(|t| *t != "-");
        let ports = word(&mut rest)
            .ok_or_else(|| bad("no ports"))?
            .split(',')
            .map(|p| p.parse::<u16>().map_err(|_| bad("a port is not a number")))
            .collect::<Result<Vec<_>, _>>()?;
        let protocol = word(&mut rest).ok_or_else(|| bad("no protocol"))?;
        let proof = Some(rest.trim())
            .filter(|p| !p.is_empty())
            .ok_or_else(|| bad("no proof"))?;
        rows.push(ModelRow {
            name,
            twin_of,
            ports,
            protocol,
            proof,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_reads_with_its_plain_models_first_and_every_twin_pointing_at_one() {
        let plain: Vec<_> = plain().collect();
        assert_eq!(
            plain,
            ["mqtt", "tcp", "rest", "reqrep", "pushpull", "pubsub"]
        );
        assert!(variants().count() >= 2);
        for row in all() {
            assert!(!row.ports.is_empty() && !row.proof.is_empty(), "{row:?}");
            if let Some(base) = row.twin_of {
                assert!(
                    plain.contains(&base),
                    "{} is a twin of unknown {base}",
                    row.name
                );
                assert!(row.name.starts_with(&format!("{base}-")), "{row:?}");
            }
        }
        let names: Vec<_> = all().iter().map(|m| m.name).collect();
        let unique: std::collections::BTreeSet<_> = names.iter().collect();
        assert_eq!(unique.len(), names.len(), "a name twice: {names:?}");
        let ports: Vec<_> = all().iter().flat_map(|m| m.ports.clone()).collect();
        let unique: std::collections::BTreeSet<_> = ports.iter().collect();
        assert_eq!(unique.len(), ports.len(), "a port twice: {ports:?}");
    }

    #[test]
    fn filters_keep_every_port_of_the_hub() {
        assert_eq!(find("mqtt").unwrap().filter(), "tcp port 1883");
        assert_eq!(
            find("pushpull").unwrap().filter(),
            "tcp port 5557 or tcp port 5558"
        );
        assert_eq!(by_port(5558).unwrap().name, "pushpull");
        assert_eq!(by_port(8883).unwrap().twin_of, Some("mqtt"));
        assert!(by_port(9).is_none());
    }

    #[test]
    fn an_unknown_name_lists_the_valid_ones_and_bad_lines_name_their_line() {
        let err = find("amqp").unwrap_err().to_string();
        assert!(
            err.contains("\"amqp\"") && err.contains("mqtt, tcp, rest, reqrep"),
            "{err}"
        );
        assert!(parse("x - 1,y raw proof")
            .unwrap_err()
            .starts_with("line 1: a port"));
        assert!(parse("# c\nx - 1")
            .unwrap_err()
            .starts_with("line 2: no protocol"));
    }

    /// `.env` is what a bare `docker compose up` reads: it must enable exactly the plain models.
    #[test]
    fn dot_env_enables_every_plain_model() {
        let env = include_str!("../../../.env");
        let line = env
            .lines()
            .find(|l| l.starts_with("COMPOSE_PROFILES="))
            .expect(".env: COMPOSE_PROFILES");
        let profiles: Vec<_> = line["COMPOSE_PROFILES=".len()..].split(',').collect();
        assert_eq!(profiles, plain().collect::<Vec<_>>());
    }

    /// Each row's name is a compose profile whose services publish nothing else's ports.
    #[test]
    fn compose_has_a_profile_and_a_capture_service_per_row() {
        let compose = include_str!("../../../compose.yaml");
        for row in all() {
            assert!(
                compose.contains(&format!("profiles: [{}]", row.name)),
                "no profile {}",
                row.name
            );
            assert!(
                compose.contains(&format!("  capture-{}:\n", row.name)),
                "no capture-{}",
                row.name
            );
        }
    }
}
