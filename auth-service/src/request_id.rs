//! The request id of a gRPC call, built on the contract's
//! [`auth_proto::RequestId`]: the caller's id from the
//! [`REQUEST_ID_KEY`] metadata when it has the safe shape, else a fresh
//! one. The observer layer (`rpc_observer`) settles it once per call and keeps it in the
//! request's extensions, where [`of`] finds it.

use auth_proto::{REQUEST_ID_KEY, RequestId};
use http::HeaderMap;
use tonic::{Extensions, metadata::MetadataMap};

/// The id in the request id header when it is well formed, else a fresh one.
pub fn from_headers(headers: &HeaderMap) -> RequestId {
    RequestId::parse_or_generate(headers.get(REQUEST_ID_KEY).and_then(|v| v.to_str().ok()))
}

/// The id of a tonic request: the one the observer layer settled, else read
/// from its metadata.
pub fn of<T>(request: &tonic::Request<T>) -> RequestId {
    of_parts(request.metadata(), request.extensions())
}

/// [`of`], for a request taken apart with `into_parts`.
pub fn of_parts(metadata: &MetadataMap, extensions: &Extensions) -> RequestId {
    extensions
        .get::<RequestId>()
        .cloned()
        .unwrap_or_else(|| from_headers(metadata.as_ref()))
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

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
            let mut headers = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_str(raw) {
                headers.insert(REQUEST_ID_KEY, v);
            }
            let id = from_headers(&headers);
            assert_eq!(id.as_str() == raw, kept, "{raw:?}");
            assert!(RequestId::parse(id.as_str()).is_some());
        }
    }
}
