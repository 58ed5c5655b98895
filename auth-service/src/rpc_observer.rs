//! A tower layer on the gRPC server that, for every `AuthService` call,
//! settles the request id, counts the call in flight, and when the call
//! ends (response body finished, or the call dropped) records its duration
//! and gRPC code and logs the outcome at debug.
//!
//! Doing this below tonic's generated code means calls refused before our
//! methods run (an oversized message, an unknown method) are measured too.
//! tonic sends `grpc-status` in the response headers for errors
//! ("trailers-only") and in the trailers after the message for OK, so the
//! code is read from whichever comes.

use std::{
    fmt,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Instant,
};

use http::{HeaderMap, HeaderValue, Request, Response};
use http_body::{Frame, SizeHint};
use tonic::{Code, Status, body::Body, codegen::Bytes};
use tower::{Layer, Service};

use crate::metrics::{METHODS, Metrics, code_name};

/// The metadata key carrying the request id, set by the edge and echoed in
/// the response headers.
pub const REQUEST_ID_KEY: &str = "x-request-id";

const SERVICE_PATH: &str = "/auth.v1.AuthService/";

/// A request id: the caller's when it is 1 to 64 characters of
/// `[A-Za-z0-9._-]`, else a fresh one. Safe to log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// Accepts a caller's id only in the safe shape.
    pub fn parse(raw: &str) -> Option<RequestId> {
        let ok = (1..=64).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        ok.then(|| RequestId(raw.to_owned()))
    }

    /// A fresh random id.
    pub fn generate() -> RequestId {
        RequestId(uuid::Uuid::new_v4().simple().to_string())
    }

    /// The id in `x-request-id` when it is well formed, else a fresh one.
    pub fn from_headers(headers: &HeaderMap) -> RequestId {
        headers
            .get(REQUEST_ID_KEY)
            .and_then(|v| v.to_str().ok())
            .and_then(RequestId::parse)
            .unwrap_or_else(RequestId::generate)
    }

    /// The id of a tonic request: the one this layer settled (kept in the
    /// request's extensions), else read from its metadata.
    pub fn of<T>(request: &tonic::Request<T>) -> RequestId {
        request
            .extensions()
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(|| RequestId::from_headers(request.metadata().as_ref()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// See the module docs.
#[derive(Clone)]
pub struct RpcObserverLayer {
    metrics: Arc<Metrics>,
}

impl RpcObserverLayer {
    /// Records into `metrics`.
    pub fn new(metrics: Arc<Metrics>) -> Self {
        RpcObserverLayer { metrics }
    }
}

impl<S> Layer<S> for RpcObserverLayer {
    type Service = RpcObserver<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcObserver {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// The service made by [`RpcObserverLayer`].
#[derive(Clone)]
pub struct RpcObserver<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S> Service<Request<Body>> for RpcObserver<S>
where
    S: Service<Request<Body>, Response = Response<Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response<Body>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        let Some(method) = request.uri().path().strip_prefix(SERVICE_PATH) else {
            return Box::pin(self.inner.call(request));
        };
        let method = METHODS
            .iter()
            .copied()
            .find(|m| *m == method)
            .unwrap_or("other");
        let id = RequestId::from_headers(request.headers());
        request.extensions_mut().insert(id.clone());
        let mut rpc = Rpc::start(self.metrics.clone(), method, id);
        let response = self.inner.call(request);
        Box::pin(async move {
            let mut response = match response.await {
                Ok(response) => response,
                Err(e) => {
                    rpc.finish(Code::Unknown);
                    return Err(e);
                }
            };
            if let Ok(value) = HeaderValue::from_str(rpc.id.as_str()) {
                response.headers_mut().insert(REQUEST_ID_KEY, value);
            }
            if let Some(code) = grpc_status(response.headers()) {
                rpc.finish(code);
                return Ok(response);
            }
            Ok(response.map(|inner| {
                Body::new(ObservedBody {
                    inner,
                    rpc: Some(rpc),
                })
            }))
        })
    }
}

fn grpc_status(headers: &HeaderMap) -> Option<Code> {
    headers
        .get("grpc-status")
        .map(|v| Code::from_bytes(v.as_bytes()))
}

/// One call being answered. Dropped unfinished (client gone, server
/// timeout), it is recorded as `Cancelled`, which is what the caller sees.
struct Rpc {
    metrics: Arc<Metrics>,
    method: &'static str,
    id: RequestId,
    started: Instant,
    finished: bool,
}

impl Rpc {
    fn start(metrics: Arc<Metrics>, method: &'static str, id: RequestId) -> Rpc {
        metrics.rpc_started();
        Rpc {
            metrics,
            method,
            id,
            started: Instant::now(),
            finished: false,
        }
    }

    fn finish(&mut self, code: Code) {
        if std::mem::replace(&mut self.finished, true) {
            return;
        }
        let elapsed = self.started.elapsed();
        self.metrics.rpc_finished(self.method, code, elapsed);
        tracing::debug!(
            request_id = %self.id,
            method = self.method,
            code = code_name(code),
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            "rpc finished"
        );
    }
}

impl Drop for Rpc {
    fn drop(&mut self) {
        self.finish(Code::Cancelled);
    }
}

/// A response body that finishes its [`Rpc`] at the trailers (or the end).
struct ObservedBody {
    inner: Body,
    rpc: Option<Rpc>,
}

impl ObservedBody {
    fn finish(&mut self, code: Code) {
        if let Some(mut rpc) = self.rpc.take() {
            rpc.finish(code);
        }
    }
}

impl http_body::Body for ObservedBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(code) = frame.trailers_ref().and_then(grpc_status) {
                    self.finish(code);
                }
            }
            Poll::Ready(Some(Err(status))) => self.finish(status.code()),
            // A gRPC response that ends without a status is broken.
            Poll::Ready(None) => self.finish(Code::Unknown),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_safe_request_ids_are_taken_from_the_caller() {
        let long = "a".repeat(65);
        let max = "b".repeat(64);
        let cases = [
            ("edge-1f3a.9_Z", true),
            (max.as_str(), true),
            ("", false),
            (long.as_str(), false),
            ("has space", false),
            ("new\nline", false),
            ("quote\"", false),
            ("한글", false),
        ];
        for (raw, kept) in cases {
            assert_eq!(RequestId::parse(raw).is_some(), kept, "{raw:?}");
            let mut headers = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_str(raw) {
                headers.insert(REQUEST_ID_KEY, v);
            }
            let id = RequestId::from_headers(&headers);
            assert_eq!(id.as_str() == raw, kept, "{raw:?}");
            assert!(RequestId::parse(id.as_str()).is_some());
        }
    }
}
