//! Bounded polling: wait for a condition instead of sleeping a fixed time.

use std::{
    fmt::Display,
    future::Future,
    time::{Duration, Instant},
};

/// How long to wait between two probes.
pub const POLL_INTERVAL: Duration = Duration::from_millis(25);

/// Runs `probe` until it answers `Ok`, at most for `timeout` (the probe
/// runs at least once). On time out, the last `Err` is returned, for the
/// caller's message.
pub async fn poll<T, E, F, Fut>(timeout: Duration, mut probe: F) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        match probe().await {
            Ok(value) => return Ok(value),
            Err(last) if Instant::now() >= deadline => return Err(last),
            Err(_) => tokio::time::sleep(POLL_INTERVAL).await,
        }
    }
}

/// Waits until `condition` holds; panics with `what` after `timeout`.
///
/// ```ignore
/// wait_until(Duration::from_secs(2), "the token call arrived", || async {
///     kakao.control().calls(Endpoint::Token) == 1
/// })
/// .await;
/// ```
pub async fn wait_until<F, Fut>(timeout: Duration, what: impl Display, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let holds = poll(timeout, || {
        let check = condition();
        async move { if check.await { Ok(()) } else { Err(()) } }
    })
    .await;
    if holds.is_err() {
        panic!("waited {timeout:?} in vain until {what}");
    }
}
