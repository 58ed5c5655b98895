//! The load generator: virtual browsers doing the login flow without the
//! consent page, each with its own keep-alive connection pool.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Client, StatusCode};

/// Which Kakao user each login is.
#[derive(Clone)]
pub enum Users {
    /// Cycle through these (returning users).
    Cycle(Arc<Vec<i64>>),
    /// A never-seen id per login, from this counter.
    Fresh(Arc<AtomicU64>),
}

impl Users {
    fn pick(&self, n: usize) -> i64 {
        match self {
            Users::Cycle(ids) => ids[n % ids.len()],
            Users::Fresh(next) => next.fetch_add(1, Ordering::Relaxed) as i64,
        }
    }
}

/// What a load phase measured.
pub struct LoadResult {
    pub ok: u64,
    pub failed: u64,
    pub elapsed: Duration,
    /// Latency of each successful login, sorted, in microseconds.
    pub latencies_us: Vec<u32>,
    pub first_error: Option<String>,
}

impl LoadResult {
    pub fn per_second(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }

    pub fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * self.latencies_us.len() as f64).ceil() as usize;
        let i = rank.clamp(1, self.latencies_us.len()) - 1;
        f64::from(self.latencies_us[i]) / 1000.0
    }
}

pub fn browser() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(1)
        .build()
        .expect("an HTTP client")
}

/// One whole login: `GET /auth/kakao/login`, then (in place of Kakao's
/// consent page) `GET /auth/kakao/callback` with a made-up fast code, the
/// state from the authorize URL and every cookie the first answer set.
/// Returns the `access_token` cookie value.
pub async fn login(client: &Client, base: &str, kakao_id: i64) -> anyhow::Result<String> {
    let start = client
        .get(format!("{base}/auth/kakao/login?return_to=/"))
        .send()
        .await
        .context("GET /auth/kakao/login")?;
    if start.status() != StatusCode::FOUND {
        bail!("login answered {}", start.status());
    }
    let location = start
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .context("login without Location")?;
    let state = url::Url::parse(location)
        .context("authorize URL")?
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .context("authorize URL without state")?;
    let cookies = start
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter(|pair| pair.split_once('=').is_some_and(|(_, v)| !v.is_empty()))
        .collect::<Vec<_>>()
        .join("; ");
    let mut callback = url::Url::parse(&format!("{base}/auth/kakao/callback"))?;
    callback
        .query_pairs_mut()
        .append_pair("code", &format!("fast-{kakao_id}"))
        .append_pair("state", &state);
    let done = client
        .get(callback)
        .header(COOKIE, cookies)
        .send()
        .await
        .context("GET /auth/kakao/callback")?;
    let landed = done
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if done.status() != StatusCode::FOUND || landed.contains("error=") {
        bail!("callback answered {} to {landed}", done.status());
    }
    done.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("access_token="))
        .and_then(|v| v.split(';').next())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .context("callback set no access_token cookie")
}

/// `concurrency` browsers log in back to back for `duration`.
pub async fn run(base: &str, users: Users, concurrency: usize, duration: Duration) -> LoadResult {
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::with_capacity(concurrency);
    for browser_no in 0..concurrency {
        let base = base.to_owned();
        let users = users.clone();
        tasks.push(tokio::spawn(async move {
            let client = browser();
            let mut latencies = Vec::new();
            let (mut failed, mut first_error) = (0u64, None);
            let mut n = browser_no;
            while Instant::now() < deadline {
                let kakao_id = users.pick(n);
                n += concurrency;
                let t0 = Instant::now();
                match login(&client, &base, kakao_id).await {
                    Ok(_) => latencies.push(t0.elapsed().as_micros().min(u32::MAX as u128) as u32),
                    Err(error) => {
                        failed += 1;
                        first_error.get_or_insert_with(|| format!("{error:#}"));
                    }
                }
            }
            (latencies, failed, first_error)
        }));
    }
    let mut result = LoadResult {
        ok: 0,
        failed: 0,
        elapsed: Duration::ZERO,
        latencies_us: Vec::new(),
        first_error: None,
    };
    for task in tasks {
        if let Ok((latencies, failed, first_error)) = task.await {
            result.ok += latencies.len() as u64;
            result.latencies_us.extend(latencies);
            result.failed += failed;
            if result.first_error.is_none() {
                result.first_error = first_error;
            }
        }
    }
    result.elapsed = started.elapsed();
    result.latencies_us.sort_unstable();
    result
}
