//! Retrying a connection to a peer that is not up yet, for a bounded time.
//!
//! Compose starts containers in parallel and a client may come up before its server; a client
//! retries for `--retry-secs` and then gives up with one clear line naming the address.

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::anyhow;

/// The pause between attempts.
pub const PAUSE: Duration = Duration::from_millis(100);

/// A duration flag given in seconds (`--retry-secs 2.5`), refused with its name if negative or
/// not finite.
pub fn secs(flag: &str, value: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(value)
        .map_err(|_| anyhow!("{flag} {value}: not a number of seconds"))
}

/// Calls `attempt` until it succeeds or `limit` has passed; the error then names `what` and the
/// last failure.
pub fn retry<T, E: std::fmt::Display>(
    what: &str,
    limit: Duration,
    mut attempt: impl FnMut() -> Result<T, E>,
) -> anyhow::Result<T> {
    let start = Instant::now();
    loop {
        match attempt() {
            Ok(value) => return Ok(value),
            Err(err) => give_up(what, limit, start, err)?,
        }
        std::thread::sleep(PAUSE);
    }
}

/// The async twin of [`retry`].
pub async fn retry_async<T, E, F, Fut>(
    what: &str,
    limit: Duration,
    mut attempt: F,
) -> anyhow::Result<T>
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let start = Instant::now();
    loop {
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(err) => give_up(what, limit, start, err)?,
        }
        tokio::time::sleep(PAUSE).await;
    }
}

/// After a failed attempt: the error that names `what` once `limit` has passed since `start`,
/// else a debug line and Ok (try again).
fn give_up(
    what: &str,
    limit: Duration,
    start: Instant,
    err: impl std::fmt::Display,
) -> anyhow::Result<()> {
    if start.elapsed() >= limit {
        return Err(anyhow!(
            "{what}: gave up after {:.1} s: {err}",
            limit.as_secs_f64()
        ));
    }
    log::debug!("{what}: {err}; retrying");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gives_up_with_the_address_and_the_cause() {
        let err = retry(
            "connecting to 127.0.0.1:9",
            Duration::from_millis(250),
            || Err::<(), _>("connection refused"),
        )
        .unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("127.0.0.1:9"), "{text}");
        assert!(text.contains("connection refused"), "{text}");
    }

    #[test]
    fn seconds_flags_refuse_negative_and_nan_by_name() {
        assert_eq!(
            secs("--retry-secs", 1.5).unwrap(),
            Duration::from_millis(1500)
        );
        for bad in [-1.0, f64::NAN, f64::INFINITY] {
            let err = secs("--retry-secs", bad).unwrap_err().to_string();
            assert!(err.starts_with("--retry-secs"), "{err}");
        }
    }

    #[test]
    fn returns_the_first_success() {
        let mut tries = 0;
        let value = retry("x", Duration::from_secs(5), || {
            tries += 1;
            if tries < 3 {
                Err("not yet")
            } else {
                Ok(tries)
            }
        })
        .unwrap();
        assert_eq!(value, 3);
    }
}
