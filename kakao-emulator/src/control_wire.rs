//! The test controls' data: endpoints, faults, and the stats and last token
//! request a test reads back, in their Rust and JSON forms. Shared by the
//! emulator's state (which records them) and by [`crate::Control`] and the
//! `/_emulator/` routes (which expose them).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The provider an [`Endpoint`] belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// Kakao, at the emulator's root paths.
    Kakao,
    /// Naver, under `/naver`.
    Naver,
    /// Google, under `/google`.
    Google,
}

/// An emulated endpoint, as named in fault requests and stats
/// (`snake_case` in JSON: `"token"`, `"user_me"`, `"naver_token"`,
/// `"google_userinfo"`, ...). Kakao's carry no prefix.
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
    /// `GET|POST /naver/oauth2.0/authorize` (not its consent form's post).
    NaverAuthorize,
    /// `GET|POST /naver/oauth2.0/token`: issue, refresh and `grant_type=delete`.
    NaverToken,
    /// `POST /naver/oauth2.0/revoke`.
    NaverRevoke,
    /// `GET|POST /naver/v1/nid/me`.
    NaverProfile,
    /// `GET /google/.well-known/openid-configuration`.
    GoogleDiscovery,
    /// `GET /google/o/oauth2/v2/auth` (not its consent form's post).
    GoogleAuthorize,
    /// `POST /google/token`, both grant types.
    GoogleToken,
    /// `GET|POST /google/v1/userinfo`.
    GoogleUserinfo,
    /// `GET /google/oauth2/v3/certs`.
    GoogleJwks,
    /// `POST /google/revoke`.
    GoogleRevoke,
}

impl Endpoint {
    /// Every endpoint, in a fixed order.
    pub const ALL: [Endpoint; 18] = [
        Endpoint::Authorize,
        Endpoint::Token,
        Endpoint::UserMe,
        Endpoint::Unlink,
        Endpoint::Logout,
        Endpoint::TokenInfo,
        Endpoint::Jwks,
        Endpoint::Discovery,
        Endpoint::NaverAuthorize,
        Endpoint::NaverToken,
        Endpoint::NaverRevoke,
        Endpoint::NaverProfile,
        Endpoint::GoogleDiscovery,
        Endpoint::GoogleAuthorize,
        Endpoint::GoogleToken,
        Endpoint::GoogleUserinfo,
        Endpoint::GoogleJwks,
        Endpoint::GoogleRevoke,
    ];

    /// The provider whose endpoint this is.
    pub fn provider(self) -> Provider {
        match self {
            Endpoint::Authorize
            | Endpoint::Token
            | Endpoint::UserMe
            | Endpoint::Unlink
            | Endpoint::Logout
            | Endpoint::TokenInfo
            | Endpoint::Jwks
            | Endpoint::Discovery => Provider::Kakao,
            Endpoint::NaverAuthorize
            | Endpoint::NaverToken
            | Endpoint::NaverRevoke
            | Endpoint::NaverProfile => Provider::Naver,
            Endpoint::GoogleDiscovery
            | Endpoint::GoogleAuthorize
            | Endpoint::GoogleToken
            | Endpoint::GoogleUserinfo
            | Endpoint::GoogleJwks
            | Endpoint::GoogleRevoke => Provider::Google,
        }
    }
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

impl Fault {
    /// Naver's way of failing a token request: HTTP **200** with
    /// `{"error":…,"error_description":…}` and no `access_token`.
    pub fn ok_with_error(error: &str, description: &str) -> Fault {
        Fault::Status {
            status: 200,
            body: serde_json::json!({ "error": error, "error_description": description }),
        }
    }
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

/// How the next id_tokens (Kakao's or Google's, set apart) are spoiled,
/// until the faults are cleared: each is one way a verifier must refuse a
/// token (JSON: `"wrong_signature"`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdTokenFault {
    /// Signed by a key the JWKS does not publish, under the published kid.
    WrongSignature,
    /// `iss` is not the provider's issuer.
    WrongIssuer,
    /// `aud` is another app's client id.
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

/// Body of `POST /_emulator/naver/quirks`: how Naver answers where its
/// behaviour is not documented. Every field defaults to the emulator's
/// documented-most-likely choice.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NaverQuirks {
    /// Answer a bad `client_id`/`client_secret` on the token endpoint with
    /// HTTP 401 `{"error":"invalid_client"}` (as seen on Naver's OIDC path)
    /// instead of the default 200 with the same body.
    #[serde(default)]
    pub invalid_client_as_401: bool,
}

/// Body of `POST /_emulator/google/id_token`: how Google's next id_tokens
/// look. `{}` means good tokens with a boolean `email_verified`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoogleIdTokenSettings {
    /// How they are spoiled, if at all.
    #[serde(default)]
    pub fault: Option<IdTokenFault>,
    /// Send `email_verified` as the string `"true"`/`"false"`, as an
    /// example in Google's docs does, instead of a boolean.
    #[serde(default)]
    pub email_verified_as_string: bool,
}

/// Body of `GET /_emulator/stats`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Requests received per endpoint (every provider), faulted ones included.
    pub calls: BTreeMap<Endpoint, usize>,
    /// The most recent Kakao `POST /oauth/token`, if any.
    pub last_token_request: Option<TokenRequestSeen>,
    /// The most recent Naver `/naver/oauth2.0/token` call, if any.
    #[serde(default)]
    pub naver_last_token_request: Option<TokenRequestSeen>,
    /// The most recent Google `POST /google/token`, if any.
    #[serde(default)]
    pub google_last_token_request: Option<TokenRequestSeen>,
}

/// What the last token request carried. Secret values (client secret,
/// code, verifier, refresh token) are never kept, only whether they were sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRequestSeen {
    /// `grant_type` as sent (empty when missing).
    pub grant_type: String,
    /// `client_id` as sent (empty when missing).
    pub client_id: String,
    /// `redirect_uri`, if sent.
    pub redirect_uri: Option<String>,
    /// Whether a non-empty `client_secret` was in the body (for Google,
    /// also: in an HTTP Basic `Authorization` header).
    pub had_client_secret: bool,
    /// Whether a non-empty `code_verifier` was in the body.
    pub had_code_verifier: bool,
    /// Whether a non-empty `state` was sent (Naver requires it on the token
    /// call too).
    #[serde(default)]
    pub had_state: bool,
}
