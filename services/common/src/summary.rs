//! The one line every client ends with: `sent=N received=N lost=N elapsed_ms=N` plus the
//! model's own fields, readable by a person and parsed by tests and `pola bench`.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub sent: u64,
    pub received: u64,
    pub lost: u64,
    pub elapsed: Duration,
    /// Model-specific fields, printed after the common ones in insertion order.
    pub extra: Vec<(String, String)>,
}

impl Summary {
    /// Adds a model-specific field (`per_worker=...`, `unexpected=0`).
    pub fn with(mut self, key: &str, value: impl fmt::Display) -> Self {
        self.extra.push((key.to_string(), value.to_string()));
        self
    }

    /// Prints the line on stdout, where tests and tools read it.
    pub fn print(&self) {
        println!("{self}");
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sent={} received={} lost={} elapsed_ms={}",
            self.sent,
            self.received,
            self.lost,
            self.elapsed.as_millis()
        )?;
        for (key, value) in &self.extra {
            write!(f, " {key}={value}")?;
        }
        Ok(())
    }
}

/// Parses a summary line back into its fields; `None` if the line is not one.
pub fn parse(line: &str) -> Option<BTreeMap<String, String>> {
    let fields: BTreeMap<String, String> = line
        .split_whitespace()
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    ["sent", "received", "lost", "elapsed_ms"]
        .iter()
        .all(|k| fields.contains_key(*k))
        .then_some(fields)
}

/// Finds the last summary line in a program's output.
pub fn find(output: &str) -> Option<BTreeMap<String, String>> {
    output.lines().rev().find_map(parse)
}

/// How every client run ends: its summary line, and why the run was not complete and correct if
/// it was not. A run stopped on request (SIGTERM from compose, Ctrl-C) has no problem: its
/// summary says how far it got.
#[derive(Debug)]
pub struct Outcome {
    pub summary: Summary,
    pub problem: Option<String>,
}

impl Outcome {
    /// Prints the summary on stdout; a run with a problem ends with it as its error (exit 1).
    pub fn finish(self) -> anyhow::Result<()> {
        self.summary.print();
        match self.problem {
            Some(problem) => Err(anyhow::anyhow!(problem)),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_and_parses_back() {
        let s = Summary {
            sent: 3,
            received: 2,
            lost: 1,
            elapsed: Duration::from_millis(41),
            extra: vec![],
        }
        .with("per_worker", "a:1,b:1");
        let line = s.to_string();
        assert_eq!(
            line,
            "sent=3 received=2 lost=1 elapsed_ms=41 per_worker=a:1,b:1"
        );
        let fields = parse(&line).unwrap();
        assert_eq!(fields["lost"], "1");
        assert_eq!(fields["per_worker"], "a:1,b:1");
        assert!(parse("hello world").is_none());
        assert_eq!(find(&format!("noise\n{line}\n")).unwrap()["sent"], "3");
    }
}
