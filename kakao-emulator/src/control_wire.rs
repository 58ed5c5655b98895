//! The test controls' data: endpoints, faults, and the stats and last token
//! request a test reads back, in their Rust and JSON forms. Shared by the
//! emulator's state (which records them) and by [`crate::Control`] and the
//! `/_emulator/` routes (which expose them).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// An emulated endpoint, as named in fault requests and stats
/// (`snake_case` in JSON: `"token"`, `"user_me"`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// `GET /oauth/authorize` (the consent page's own form post is not counted).
    Authorize,
    /// `POST /oauth/token`, both grant types.
    Token,
    /// `GET|POST /v2/user/me`.
    UserMe,
    /// `POST /v1/user/unlink`.
    Unlink,
    /// `POST /v1/user/logout`.
    Logout,
    /// `GET /v1/user/access_token_info`.
    TokenInfo,
    /// `GET /.well-known/jwks.json` (the id_token signing keys).
    Jwks,
    /// `GET /.well-known/openid-configuration`.
    Discovery,
}

impl Endpoint {
    /// Every endpoint, in a fixed order.
    pub const ALL: [Endpoint; 8] = [
        Endpoint::Authorize,
        Endpoint::Token,
        Endpoint::UserMe,
        Endpoint::Unlink,
        Endpoint::Logout,
        Endpoint::TokenInfo,
        Endpoint::Jwks,
        Endpoint::Discovery,
    ];
}

/// A misbehaviour an endpoint shows until the faults are cleared.
///
/// JSON forms: `{"status":503,"body":{...}}`, `{"delay_ms":3000}`, `"hang"`,
/// `"garbage"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "FaultWire", into = "FaultWire")]
pub enum Fault {
    /// Answer with this status and JSON body instead of doing the work.
    Status {
        /// HTTP status, 100..=599.
        status: u16,
        /// The JSON body to send (`{}` when omitted over HTTP).
        body: serde_json::Value,
    },
    /// Wait this long, then answer normally.
    Delay(Duration),
    /// Never answer (the request sleeps for an hour, or until shutdown).
    Hang,
    /// Answer `200 text/html` with `<html>oops</html>`.
    Garbage,
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum FaultWire {
    Status {
        status: u16,
        #[serde(default = "empty_object")]
        body: serde_json::Value,
    },
    Delay {
        delay_ms: u64,
    },
    Keyword(FaultKeyword),
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum FaultKeyword {
    Hang,
    Garbage,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

impl TryFrom<FaultWire> for Fault {
    type Error = String;

    fn try_from(wire: FaultWire) -> Result<Self, Self::Error> {
        Ok(match wire {
            FaultWire::Status { status, body } if (100..=599).contains(&status) => {
                Fault::Status { status, body }
            }
            FaultWire::Status { status, .. } => {
                return Err(format!("status {status} is not an HTTP status (100..=599)"));
            }
            FaultWire::Delay { delay_ms } => Fault::Delay(Duration::from_millis(delay_ms)),
            FaultWire::Keyword(FaultKeyword::Hang) => Fault::Hang,
            FaultWire::Keyword(FaultKeyword::Garbage) => Fault::Garbage,
        })
    }
}

impl From<Fault> for FaultWire {
    fn from(fault: Fault) -> Self {
        match fault {
            Fault::Status { status, body } => FaultWire::Status { status, body },
            Fault::Delay(d) => FaultWire::Delay {
                delay_ms: u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
            },
            Fault::Hang => FaultWire::Keyword(FaultKeyword::Hang),
            Fault::Garbage => FaultWire::Keyword(FaultKeyword::Garbage),
        }
    }
}

/// How the next id_tokens are spoiled, until the faults are cleared: each
/// is one way a verifier must refuse a token (JSON: `"wrong_signature"`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdTokenFault {
    /// Signed by a key the JWKS does not publish, under the published kid.
    WrongSignature,
    /// `iss` is not `https://kauth.kakao.com`.
    WrongIssuer,
    /// `aud` is another app's key.
    WrongAudience,
    /// `exp` an hour ago.
    Expired,
    /// No `nonce` claim although the authorize request sent one.
    NoNonce,
    /// A `nonce` other than the one sent.
    WrongNonce,
    /// `sub` is another user's id.
    WrongSubject,
    /// `alg: none` and no signature.
    AlgNone,
    /// HS256, keyed with the published key's modulus (algorithm confusion).
    Hs256,
    /// A `kid` the JWKS never publishes (properly signed otherwise).
    UnknownKid,
    /// No `id_token` in the token response at all.
    Missing,
}

/// Body of `POST /_emulator/faults`: `{"endpoint":"token","fault":...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultRequest {
    /// The endpoint to break; omitted means every endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<Endpoint>,
    /// What it should do.
    pub fault: Fault,
}

/// Body of `GET /_emulator/stats`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Requests received per endpoint, faulted ones included.
    pub calls: BTreeMap<Endpoint, usize>,
    /// The most recent `POST /oauth/token`, if any.
    pub last_token_request: Option<TokenRequestSeen>,
}

/// What the last `POST /oauth/token` carried. Secret values (client secret,
/// code, verifier, refresh token) are never kept, only whether they were sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRequestSeen {
    /// `grant_type` as sent (empty when missing).
    pub grant_type: String,
    /// `client_id` as sent (empty when missing).
    pub client_id: String,
    /// `redirect_uri`, if sent.
    pub redirect_uri: Option<String>,
    /// Whether a non-empty `client_secret` was in the body.
    pub had_client_secret: bool,
    /// Whether a non-empty `code_verifier` was in the body.
    pub had_code_verifier: bool,
}
