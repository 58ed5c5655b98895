//! The connection loop under the warp routes, in place of `warp::serve`
//! (whose hyper settings cannot be changed), for two things warp's own loop
//! cannot do:
//!
//! - **Limits.** A request head (request line and headers) is at most
//!   [`MAX_HEAD`] bytes: hyper answers a larger one itself with
//!   `431 Request Header Fields Too Large` (HTTP/1: the read buffer may not
//!   grow past it before the head is complete; HTTP/2: the advertised
//!   `SETTINGS_MAX_HEADER_LIST_SIZE`). hyper's default would be ~400 KiB for
//!   HTTP/1 (16 KiB for HTTP/2); it also caps a head at 100 headers and the
//!   URI at 64 KiB. A client has [`HEAD_TIMEOUT`] to send a head.
//! - **Request ids.** Each request gets a [`auth_proto::RequestId`] before the routes
//!   see it: put in the request's extensions (for the handlers), echoed in
//!   the response's [`REQUEST_ID_HEADER`], and set as the `request_id` field of a
//!   `request` span that the whole answer runs in, so every log line of the
//!   request carries it.
//!
//! - **Peer addresses.** Each request carries its connection's peer address
//!   ([`PeerAddr`]) in its extensions, for the rate limits.
//!
//! Shutdown is graceful: stop accepting, then let open connections finish.

use std::{convert::Infallible, future::Future, time::Duration};

use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::{conn::auto, graceful::GracefulShutdown},
    service::TowerToHyperService,
};
use tokio::net::TcpListener;
use tracing::Instrument;
use warp::{Filter, reply::Response};

use crate::{
    rate_limits::PeerAddr,
    request_id::{self, REQUEST_ID_HEADER},
};

/// The largest request head accepted, in bytes.
pub(crate) const MAX_HEAD: usize = 16 * 1024;
/// How long a client may take to send a request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves `routes` on `listener` until `shutdown` completes, then waits for
/// the open connections to finish.
pub(crate) async fn serve<F>(
    listener: TcpListener,
    routes: F,
    shutdown: impl Future<Output = ()> + Send + 'static,
) where
    F: Filter<Extract = (Response,), Error = Infallible> + Clone + Send + Sync + 'static,
{
    let routes = TowerToHyperService::new(warp::service(routes));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_failed(error).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let routes = routes.clone();
        let peer = PeerAddr(peer);
        let service = hyper::service::service_fn(move |request| answer(&routes, peer, request));
        let builder = builder();
        let connection = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                // Clients hanging up, oversized heads, timeouts: not ours.
                tracing::debug!(%error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// HTTP/1.1, and HTTP/2 with prior knowledge, with the limits above.
fn builder() -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEAD_TIMEOUT)
        .max_buf_size(MAX_HEAD);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(MAX_HEAD as u32);
    builder
}

/// Answers one request from `peer` with the routes, under its request id.
fn answer<S>(
    routes: &S,
    peer: PeerAddr,
    mut request: http::Request<Incoming>,
) -> impl Future<Output = Result<Response, Infallible>> + Send + use<S>
where
    S: hyper::service::Service<
            http::Request<Incoming>,
            Response = Response,
            Error = Infallible,
            Future: Send,
        >,
{
    let id = request_id::from_headers(request.headers());
    let span = tracing::info_span!("request", request_id = %id);
    let header = request_id::header_value(&id);
    request.extensions_mut().insert(id);
    request.extensions_mut().insert(peer);
    let routed = span.in_scope(|| routes.call(request));
    async move {
        let mut response = routed.await?;
        if let Some(header) = header {
            response.headers_mut().insert(REQUEST_ID_HEADER, header);
        }
        Ok(response)
    }
    .instrument(span)
}

/// Like hyper's old server: a failed accept of one connection is ignored;
/// anything else (out of file descriptors...) is logged and waited out.
async fn accept_failed(error: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(%error, "accept failed");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
