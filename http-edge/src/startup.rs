//! `Application`: binds the listener first (so tests can ask for port 0),
//! builds the shared state ([`crate::state::AppState`], with its one lazily
//! connected gRPC channel), and serves the routes ([`crate::server`]) until
//! the shutdown future completes.

use std::{future::Future, sync::Arc};

use anyhow::Context;
use tokio::net::TcpListener;

use crate::{configuration::Settings, revocation_feed, routes, server, state::AppState};

/// The HTTP edge, bound and ready to serve.
pub struct Application {
    port: u16,
    listener: TcpListener,
    state: Arc<AppState>,
}

impl Application {
    /// Binds `settings.addr` and prepares the auth-service channel. The
    /// channel connects lazily, so the edge starts even when the service is
    /// down (its routes then answer `unavailable`).
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let listener = TcpListener::bind(settings.addr)
            .await
            .with_context(|| format!("bind EDGE_ADDR {}", settings.addr))?;
        let port = listener
            .local_addr()
            .context("read the bound address")?
            .port();
        let state = AppState::new(settings)?;
        Ok(Application {
            port,
            listener,
            state: Arc::new(state),
        })
    }

    /// The port actually bound (useful when `EDGE_ADDR` asked for port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish.
    /// Meanwhile the key cache is refreshed and the revocation feed followed
    /// in the background.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        tracing::info!(
            addr = %self.state.settings.addr,
            port = self.port,
            auth_service = %self.state.settings.auth_service_url,
            "http-edge listening"
        );
        let refresher = tokio::spawn(self.state.jwks.clone().refresh_periodically());
        let feed = tokio::spawn(revocation_feed::follow(self.state.clone()));
        server::serve(self.listener, routes::routes(self.state), shutdown).await;
        refresher.abort();
        feed.abort();
        tracing::info!("http-edge stopped");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use tokio::{
        io::{AsyncReadExt, AsyncWriteExt},
        net::TcpStream,
    };

    use super::*;
    use crate::{filters::MAX_BODY, routes::Route};

    const TOO_LARGE: &str = r#"{"error":"payload_too_large"}"#;

    async fn start() -> (u16, tokio::sync::oneshot::Sender<()>) {
        let settings = crate::configuration::for_tests(false);
        let app = Application::build(settings).await.unwrap();
        let port = app.port();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.run_until_stopped(async {
            let _ = stopped.await;
        }));
        (port, stop)
    }

    /// Sends `request` as is and reads the answer until the server closes.
    async fn raw(port: u16, request: &[u8]) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        stream.write_all(request).await.unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        String::from_utf8_lossy(&answer).into_owned()
    }

    fn chunked_post(path: &str, size: usize) -> Vec<u8> {
        let mut request = format!(
            "POST {path} HTTP/1.1\r\nhost: localhost\r\ntransfer-encoding: chunked\r\n\
             connection: close\r\n\r\n{size:x}\r\n"
        )
        .into_bytes();
        request.extend(std::iter::repeat_n(b'x', size));
        request.extend_from_slice(b"\r\n0\r\n\r\n");
        request
    }

    #[tokio::test]
    async fn every_post_route_answers_an_oversized_body_with_the_same_413() {
        let (port, _stop) = start().await;
        service_kit::crypto::install();
        let client = reqwest::Client::new();
        let posts: Vec<_> = Route::ALL
            .into_iter()
            .filter(|route| route.allows(&http::Method::POST))
            .collect();
        assert_eq!(
            posts.len(),
            5,
            "refresh, logout, logout/all, identities/{{provider}}/unlink, unlink: {posts:?}"
        );
        for route in posts {
            let path = &route.path_for(auth_proto::v1::Provider::Naver);
            let response = client
                .post(format!("http://127.0.0.1:{port}{path}"))
                .body(vec![b'x'; MAX_BODY + 1])
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 413, "{path}");
            assert_eq!(response.text().await.unwrap(), TOO_LARGE, "{path}");

            let answer = raw(port, &chunked_post(path, MAX_BODY + 1000)).await;
            assert!(answer.starts_with("HTTP/1.1 413 "), "{path}: {answer}");
            assert!(answer.ends_with(TOO_LARGE), "{path}: {answer}");
        }
    }
}
