//! Transport figures with h2load (Debian's nghttp2-client).

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};

/// What h2load reported.
pub struct H2Result {
    pub rps: f64,
    pub succeeded: u64,
    pub failed: u64,
}

/// Runs `h2load` for `duration` and parses its summary.
pub async fn run(
    url: &str,
    connections: usize,
    streams: usize,
    http1: bool,
    headers: &[&str],
    body: Option<&Path>,
    duration: Duration,
) -> anyhow::Result<H2Result> {
    let mut cmd = tokio::process::Command::new("h2load");
    cmd.arg("-c")
        .arg(connections.to_string())
        .arg("-m")
        .arg(streams.to_string())
        .arg("-t")
        .arg("1")
        .arg("-D")
        .arg(duration.as_secs().max(1).to_string());
    if http1 {
        cmd.arg("--h1");
    }
    for header in headers {
        cmd.arg("-H").arg(header);
    }
    if let Some(body) = body {
        cmd.arg("-d").arg(body);
    }
    cmd.arg(url);
    let out = cmd
        .output()
        .await
        .context("running h2load (apt-get install nghttp2-client)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "h2load failed: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let result = parse(&text).with_context(|| format!("unexpected h2load output:\n{text}"))?;
    if result.succeeded == 0 {
        bail!("no request to {url} succeeded:\n{text}");
    }
    Ok(result)
}

fn parse(text: &str) -> Option<H2Result> {
    let rps = text
        .lines()
        .find(|l| l.starts_with("finished in"))?
        .split(',')
        .nth(1)?
        .trim()
        .strip_suffix(" req/s")?
        .parse()
        .ok()?;
    let requests = text.lines().find(|l| l.starts_with("requests:"))?;
    let count = |word: &str| {
        requests
            .split(',')
            .find(|part| part.trim().ends_with(word))
            .and_then(|part| part.split_whitespace().rev().nth(1))
            .and_then(|n| n.parse().ok())
    };
    Some(H2Result {
        rps,
        succeeded: count("succeeded")?,
        failed: count("failed")? + count("errored")? + count("timeout")?,
    })
}

/// A gRPC request body: the 5-byte frame prefix (uncompressed, big-endian
/// length) and the protobuf message.
pub fn grpc_frame(message: &[u8]) -> Vec<u8> {
    let mut frame = vec![0];
    frame.extend_from_slice(&(message.len() as u32).to_be_bytes());
    frame.extend_from_slice(message);
    frame
}

/// One h2load target: what [`run`] takes besides the duration.
pub struct Target<'a> {
    pub url: String,
    pub connections: usize,
    pub streams: usize,
    pub http1: bool,
    pub headers: &'a [&'a str],
    pub body: Option<&'a Path>,
}

impl Target<'_> {
    async fn run(&self, duration: Duration) -> anyhow::Result<H2Result> {
        run(
            &self.url,
            self.connections,
            self.streams,
            self.http1,
            self.headers,
            self.body,
            duration,
        )
        .await
    }
}

/// Two targets measured for a ratio, in the order a, b, b, a with half of
/// `duration` each, so that a drift of the machine during the measurement
/// (a neighbour's work starting or ending) weighs on both alike. Each
/// result sums its two runs: rps is their mean.
pub async fn pair(
    a: &Target<'_>,
    b: &Target<'_>,
    duration: Duration,
) -> anyhow::Result<(H2Result, H2Result)> {
    let half = (duration / 2).max(Duration::from_secs(1));
    let a1 = a.run(half).await?;
    let b1 = b.run(half).await?;
    let b2 = b.run(half).await?;
    let a2 = a.run(half).await?;
    // Each run's rate, so that a reader sees how much one run moves.
    eprintln!(
        "   runs (rps, in order): a {:.0}, b {:.0}, b {:.0}, a {:.0}",
        a1.rps, b1.rps, b2.rps, a2.rps
    );
    let sum = |x: H2Result, y: H2Result| H2Result {
        rps: (x.rps + y.rps) / 2.0,
        succeeded: x.succeeded + y.succeeded,
        failed: x.failed + y.failed,
    };
    Ok((sum(a1, a2), sum(b1, b2)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rate_and_counts() {
        let text = "finished in 5.00s, 1234.50 req/s, 1.2MB/s\n\
                    requests: 6172 total, 6200 started, 6172 done, 6170 succeeded, 2 failed, 0 errored, 0 timeout\n";
        let r = parse(text).unwrap();
        assert_eq!(r.rps, 1234.5);
        assert_eq!((r.succeeded, r.failed), (6170, 2));
    }
}
