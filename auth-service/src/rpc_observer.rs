//! A tower layer on the gRPC server that, for every `AuthService` call,
//! settles the request id (see [`crate::request_id`]) and echoes it in the
//! response headers, counts the call in flight, and when the call
//! ends (response body finished, or the call dropped) records its duration
//! and gRPC code and logs the outcome at debug.
//!
//! Doing this below tonic's generated code means calls refused before our
//! methods run (an oversized message, an unknown method) are measured too.
//! tonic sends `grpc-status` in the response headers for errors
//! ("trailers-only") and in the trailers after the message for OK, so the
//! code is read from whichever comes.

use std::{
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Instant,
};

use auth_proto::{REQUEST_ID_KEY, RequestId};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response};
use http_body::{Frame, SizeHint};
use tonic::{Code, Status, body::Body, codegen::Bytes};
use tower::{Layer, Service};

use crate::{
    metrics::{Metrics, code_name, method_label},
    request_id,
};

const SERVICE_PATH: &str = "/auth.v1.AuthService/";

/// Header names built once, not parsed from text on every call.
const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static(REQUEST_ID_KEY);
const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");

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
        let method = method_label(method);
        let id = request_id::from_headers(request.headers());
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
            if let Ok(mut value) = HeaderValue::from_str(rpc.id.as_str()) {
                // Never indexed by HPACK: an id is new on every call, and
                // indexing each one would churn both ends' header tables
                // (evicting the headers that do repeat).
                value.set_sensitive(true);
                response.headers_mut().insert(REQUEST_ID_HEADER, value);
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
        .get(&GRPC_STATUS)
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
