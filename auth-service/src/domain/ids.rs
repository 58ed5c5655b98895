//! Identifiers a caller hands us: our user and session ids (UUIDs we issued,
//! accepted up to a bounded length) and Kakao's numeric user id.

use std::fmt;

/// A new id for a row we create (user, session, refresh-token row): a
/// UUIDv7, time-ordered, so that the rows a burst of logins inserts land
/// next to each other in every index keyed by id (a random UUIDv4 dirtied
/// one index page per index per login: most of SQLite's WAL writes).
/// These ids are not secrets; the creation time they carry is in the
/// access token's `iat` anyway.
pub fn new_row_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// The longest user or session id accepted (ours are 36-character UUIDs).
const MAX_ID_LEN: usize = 64;

/// An id that is empty, oversized or not in the expected shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed id")]
pub struct IdParseError;

fn bounded(raw: &str) -> Result<String, IdParseError> {
    if (1..=MAX_ID_LEN).contains(&raw.len()) {
        Ok(raw.to_owned())
    } else {
        Err(IdParseError)
    }
}

/// Our user id (an access token's `sub`): 1 to 64 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserId(String);

impl UserId {
    /// Accepts 1 to 64 bytes; an unknown id is answered later, by lookup.
    pub fn parse(raw: &str) -> Result<Self, IdParseError> {
        bounded(raw).map(UserId)
    }

    /// The id as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A session family id (an access token's `sid`): 1 to 64 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionId(String);

impl SessionId {
    /// Empty means "no session given"; else 1 to 64 bytes.
    pub fn parse_optional(raw: &str) -> Result<Option<Self>, IdParseError> {
        if raw.is_empty() {
            return Ok(None);
        }
        bounded(raw).map(|id| Some(SessionId(id)))
    }

    /// The id as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Kakao's user id: a decimal 64-bit integer (real ids exceed int32).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KakaoUserId(i64);

impl KakaoUserId {
    /// Parses Kakao's decimal `user_id`.
    pub fn parse(raw: &str) -> Result<Self, IdParseError> {
        raw.parse().map(KakaoUserId).map_err(|_| IdParseError)
    }

    /// The id as stored.
    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for KakaoUserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_bounded_and_kakao_ids_are_decimal() {
        let max = "u".repeat(MAX_ID_LEN);
        let long = "u".repeat(MAX_ID_LEN + 1);
        assert!(UserId::parse(&max).is_ok());
        assert!(UserId::parse("").is_err());
        assert!(UserId::parse(&long).is_err());
        assert_eq!(SessionId::parse_optional(""), Ok(None));
        let (a, b) = (new_row_id(), new_row_id());
        assert!(a < b && a.len() == 36, "row ids are time-ordered UUIDs");
        assert!(SessionId::parse_optional(&long).is_err());
        assert_eq!(
            SessionId::parse_optional("s1").map(|s| s.map(|s| s.as_str().to_owned())),
            Ok(Some("s1".to_owned()))
        );
        assert_eq!(
            KakaoUserId::parse("3208537903").map(KakaoUserId::get),
            Ok(3208537903)
        );
        for bad in ["", "12a", "1.5", "99999999999999999999"] {
            assert!(KakaoUserId::parse(bad).is_err(), "{bad}");
        }
    }
}
