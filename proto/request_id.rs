//! The request id: one id per browser request, echoed in the edge's
//! response, sent to the auth-service in gRPC metadata and carried by every
//! log line on both sides. A caller's id is kept only in a shape that is safe
//! in a header, in metadata and in a log line; anything else is replaced.

use std::fmt;

use arrayvec::ArrayString;

/// The HTTP header and the gRPC metadata key that carry the id.
pub const REQUEST_ID_KEY: &str = "x-request-id";

/// The longest id accepted from a caller.
pub const MAX_REQUEST_ID_LEN: usize = 64;

/// A request id: 1 to 64 characters of `A-Z a-z 0-9 . _ -`.
///
/// Held inline, not on the heap: the gRPC server settles an id for every
/// call (a cached VerifyAccessToken included) and clones it into the
/// request, so two allocations per call went to the id alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(ArrayString<MAX_REQUEST_ID_LEN>);

impl RequestId {
    /// Accepts a caller's id only in the safe shape.
    pub fn parse(raw: &str) -> Option<RequestId> {
        let plain = (1..=MAX_REQUEST_ID_LEN).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !plain {
            return None;
        }
        ArrayString::from(raw).ok().map(RequestId)
    }

    /// A fresh random id (a hyphenated UUID v4).
    pub fn generate() -> RequestId {
        // Straight into a buffer: `to_string` goes through the formatting
        // machinery, a visible share of a cached VerifyAccessToken.
        let mut buffer = uuid::Uuid::encode_buffer();
        let id = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buffer);
        // 36 characters always fit the 64; the fallback is unreachable.
        RequestId(ArrayString::from(id).unwrap_or_default())
    }

    /// The caller's id when it is acceptable, else a fresh one.
    pub fn parse_or_generate(raw: Option<&str>) -> RequestId {
        raw.and_then(RequestId::parse)
            .unwrap_or_else(RequestId::generate)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_ids_are_kept() {
        let longest = "a".repeat(MAX_REQUEST_ID_LEN);
        for id in ["a", "req-1", "A.b_C-9", longest.as_str()] {
            assert_eq!(RequestId::parse_or_generate(Some(id)).as_str(), id);
        }
    }

    #[test]
    fn anything_else_is_replaced_by_a_uuid() {
        let too_long = "a".repeat(MAX_REQUEST_ID_LEN + 1);
        for raw in [
            "",
            too_long.as_str(),
            "has space",
            "semi;colon",
            "new\tline",
            "slash/",
            "한글",
        ] {
            assert_eq!(RequestId::parse(raw), None, "{raw:?}");
            let id = RequestId::parse_or_generate(Some(raw));
            assert!(uuid::Uuid::parse_str(id.as_str()).is_ok(), "{raw:?}");
        }
        assert!(uuid::Uuid::parse_str(RequestId::parse_or_generate(None).as_str()).is_ok());
    }
}
