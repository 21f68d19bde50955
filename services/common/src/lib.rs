//! What every pola service shares, so each role's `main` stays a short read.
//!
//! Start with [`run`]: every binary's `main` hands its body to it, which sets up logging and turns
//! a fatal error into one clear line and a non-zero exit. Then [`shutdown`] (SIGTERM and SIGINT),
//! [`retry`] (a peer that is not up yet), [`summary`] (the line every client ends with) and
//! [`probe`] (the healthcheck a `FROM scratch` image runs, since it has no shell), and
//! [`recovery`] (bounded, logged reconnects and duplicate counting for clients that survive faults),
//! [`tls`] (the lab CA and the rustls set-up of the encrypted variants), and [`models`] (the one
//! table of models, `models.tsv`). [`maths`] keeps libm out of the images.

pub mod maths;
pub mod models;
pub mod probe;
pub mod recovery;
pub mod retry;
pub mod shutdown;
pub mod summary;
pub mod tls;

use std::process::ExitCode;

pub use shutdown::Stop;
pub use summary::{Outcome, Summary};

/// Parses a binary's flags: `--help` and `--version` print and exit 0; a bad flag exits 2 with
/// the one line that names it (clap's usage hint would make it three).
pub fn parse_args<T: clap::Parser>() -> T {
    T::try_parse().unwrap_or_else(|err| {
        use clap::error::ErrorKind;
        if matches!(
            err.kind(),
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
        ) {
            err.exit();
        }
        let text = err.to_string();
        eprintln!("{}", text.lines().next().unwrap_or("error: bad arguments"));
        std::process::exit(2)
    })
}

/// The one convention for durations: every duration flag ends in `-secs` and takes seconds,
/// decimals allowed (`--timeout-secs 0.25`), with the environment fallback of the same name in
/// capitals (`TIMEOUT_SECS`). Used as clap's parser, so the config field is a `Duration`:
/// `#[arg(long, env = "TIMEOUT_SECS", default_value = "3", value_parser = common::secs)]`.
pub fn secs(value: &str) -> Result<std::time::Duration, String> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .and_then(|secs| std::time::Duration::try_from_secs_f64(secs).ok())
        .ok_or_else(|| format!("{value:?} is not a number of seconds (such as 2 or 0.25)"))
}

/// Initialises env_logger with `RUST_LOG=info` unless the environment says otherwise.
pub fn init_logging() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format_timestamp_millis()
        .init();
}

/// Runs a binary's body: logging first, then the body; an error becomes a single line on stderr
/// (`error: what was being done: why`) and exit code 1, never a panic or a backtrace.
pub fn run(body: impl FnOnce() -> anyhow::Result<()>) -> ExitCode {
    init_logging();
    match body() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// A role's flags, parsed by [`main_of`]: a server names the address its `--probe` checks.
pub trait Role: clap::Parser {
    /// The address to check instead of running the role, when `--probe` was given (the
    /// healthcheck of a `FROM scratch` image); `None` to run the role.
    fn probe(&self) -> Option<&str> {
        None
    }
}

/// Implements [`Role`] for a server's config whose `--probe` flag (`probe: bool`) checks its
/// `listen` address.
#[macro_export]
macro_rules! role_probing_listen {
    ($config:ty) => {
        impl $crate::Role for $config {
            fn probe(&self) -> Option<&str> {
                self.probe.then_some(self.listen.as_str())
            }
        }
    };
}

/// The whole `main` of a role: its flags into `C`, logging, the healthcheck on `--probe`, else
/// `role` with the SIGTERM and SIGINT handlers installed, and one error line on failure.
pub fn main_of<C: Role>(role: impl FnOnce(C, Stop) -> anyhow::Result<()>) -> ExitCode {
    let config: C = parse_args();
    run(|| match config.probe() {
        Some(addr) => probe::probe(addr),
        None => role(config, Stop::install()?),
    })
}

/// [`main_of`] for an async role, on a multi-threaded tokio runtime.
pub fn main_async<C, F>(role: impl FnOnce(C, Stop) -> F) -> ExitCode
where
    C: Role,
    F: std::future::Future<Output = anyhow::Result<()>>,
{
    main_of(|config: C, stop| runtime()?.block_on(role(config, stop)))
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// Like [`run`] for an async body, on a multi-threaded tokio runtime.
pub fn run_async<F>(body: F) -> ExitCode
where
    F: std::future::Future<Output = anyhow::Result<()>>,
{
    run(|| runtime()?.block_on(body))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn durations_are_seconds_with_decimals_and_anything_else_is_refused() {
        assert_eq!(super::secs("2"), Ok(Duration::from_secs(2)));
        assert_eq!(super::secs("0.25"), Ok(Duration::from_millis(250)));
        for bad in ["-1", "abc", "", "inf", "NaN", "1s"] {
            let err = super::secs(bad).unwrap_err();
            assert!(err.contains("not a number of seconds"), "{bad}: {err}");
        }
    }
}
