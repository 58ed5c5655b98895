//! The id of one request: taken from the caller's `X-Request-Id` when it is
//! a plain token (1 to 64 characters of `A-Z a-z 0-9 . _ -`), otherwise a
//! fresh UUID. It is echoed in the response's `x-request-id`, sent to the
//! auth-service as `x-request-id` gRPC metadata, and carried by every log
//! line of the request (as the `request_id` field of its span).

use std::fmt;

use http::{HeaderMap, HeaderName, HeaderValue};

/// The header that carries the id, both ways.
pub(crate) const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

const MAX_LEN: usize = 64;

/// A request id that is safe in a header, in gRPC metadata and in a log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequestId(String);

impl RequestId {
    /// The caller's id when it is acceptable, else a new one. Only the first
    /// `X-Request-Id` header is considered.
    pub(crate) fn from_headers(headers: &HeaderMap) -> RequestId {
        headers
            .get(X_REQUEST_ID)
            .and_then(|value| value.to_str().ok())
            .and_then(RequestId::parse)
            .unwrap_or_else(RequestId::generate)
    }

    /// A new random id (a UUID v4).
    pub(crate) fn generate() -> RequestId {
        RequestId(uuid::Uuid::new_v4().to_string())
    }

    fn parse(value: &str) -> Option<RequestId> {
        let plain = (1..=MAX_LEN).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        plain.then(|| RequestId(value.to_owned()))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// The id as a header value (always valid: see [`RequestId::parse`]).
    pub(crate) fn header_value(&self) -> Option<HeaderValue> {
        HeaderValue::from_str(&self.0).ok()
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(value: &[u8]) -> RequestId {
        let mut headers = HeaderMap::new();
        headers.insert(X_REQUEST_ID, HeaderValue::from_bytes(value).unwrap());
        RequestId::from_headers(&headers)
    }

    #[test]
    fn plain_ids_are_kept() {
        let longest = "a".repeat(64);
        for id in ["a", "req-1", "A.b_C-9", longest.as_str()] {
            assert_eq!(from(id.as_bytes()).as_str(), id);
        }
    }

    #[test]
    fn anything_else_is_replaced_by_a_uuid() {
        let too_long = "a".repeat(65);
        let bad: [&[u8]; 8] = [
            b"",
            too_long.as_bytes(),
            b"has space",
            b"semi;colon",
            b"new\tline",
            b"slash/",
            "한글".as_bytes(),
            b"\xff\xfe",
        ];
        for value in bad {
            let id = from(value);
            assert!(uuid::Uuid::parse_str(id.as_str()).is_ok(), "{value:?}");
        }
        assert!(uuid::Uuid::parse_str(RequestId::from_headers(&HeaderMap::new()).as_str()).is_ok());
    }

    #[test]
    fn every_id_is_a_valid_header_value() {
        assert!(from(b"req-1").header_value().is_some());
        assert!(RequestId::generate().header_value().is_some());
    }
}
