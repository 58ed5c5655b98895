//! Glue between HTTP headers and the contract's [`RequestId`]: the id is
//! read from the caller's header named [`REQUEST_ID_KEY`] (kept only in the
//! contract's safe shape, else a fresh one) and echoed under the same name.
//! It is also sent to the auth-service under that metadata key
//! ([`crate::state::Ctx`]) and carried by every log line of the request (as
//! the `request_id` field of its span, see [`crate::server`]).

use auth_proto::{REQUEST_ID_KEY, RequestId};
use http::{HeaderMap, HeaderName, HeaderValue};

/// The header that carries the id, both ways.
pub(crate) const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static(REQUEST_ID_KEY);

/// The caller's id when it is acceptable, else a new one. Only the first
/// header is considered.
pub(crate) fn from_headers(headers: &HeaderMap) -> RequestId {
    RequestId::parse_or_generate(
        headers
            .get(&REQUEST_ID_HEADER)
            .and_then(|value| value.to_str().ok()),
    )
}

/// The id as a header value (always valid, given the id's shape).
pub(crate) fn header_value(id: &RequestId) -> Option<HeaderValue> {
    HeaderValue::from_str(id.as_str()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(value: &[u8]) -> RequestId {
        let mut headers = HeaderMap::new();
        headers.insert(REQUEST_ID_HEADER, HeaderValue::from_bytes(value).unwrap());
        from_headers(&headers)
    }

    #[test]
    fn a_plain_id_in_the_header_is_kept() {
        assert_eq!(from(b"req-1").as_str(), "req-1");
    }

    #[test]
    fn a_missing_or_unusable_header_gets_a_uuid() {
        for value in [b"has space".as_slice(), "한글".as_bytes(), b"\xff\xfe"] {
            assert!(
                uuid::Uuid::parse_str(from(value).as_str()).is_ok(),
                "{value:?}"
            );
        }
        assert!(uuid::Uuid::parse_str(from_headers(&HeaderMap::new()).as_str()).is_ok());
    }

    #[test]
    fn every_id_is_a_valid_header_value() {
        assert!(header_value(&from(b"req-1")).is_some());
        assert!(header_value(&RequestId::generate()).is_some());
    }
}
