//! Test controls: injected faults, call counts, and what the last token
//! request looked like. Available in-process through [`Control`] and over
//! HTTP under `/_emulator/`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::state::Shared;

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
}

impl Endpoint {
    /// Every endpoint, in a fixed order.
    pub const ALL: [Endpoint; 6] = [
        Endpoint::Authorize,
        Endpoint::Token,
        Endpoint::UserMe,
        Endpoint::Unlink,
        Endpoint::Logout,
        Endpoint::TokenInfo,
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

/// A cheap, cloneable handle on a running emulator's test controls.
#[derive(Clone)]
pub struct Control {
    pub(crate) shared: Arc<Shared>,
}

impl Control {
    /// Make `endpoint` misbehave until [`Control::clear_faults`].
    pub fn set_fault(&self, endpoint: Endpoint, fault: Fault) {
        self.shared.lock().faults.insert(endpoint, fault);
    }

    /// Remove every fault.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// Requests received by `endpoint` so far, including faulted ones.
    pub fn calls(&self, endpoint: Endpoint) -> usize {
        self.shared
            .lock()
            .calls
            .get(&endpoint)
            .copied()
            .unwrap_or(0)
    }

    /// What the most recent `POST /oauth/token` carried (recorded even when
    /// a fault answered it).
    pub fn last_token_request(&self) -> Option<TokenRequestSeen> {
        self.shared.lock().last_token_request.clone()
    }

    /// Call counts for every endpoint and the last token request.
    pub fn stats(&self) -> Stats {
        self.shared.lock().stats()
    }

    /// Issue an authorization code as if `user_id` had agreed on the consent
    /// page for the configured `client_id` and this `redirect_uri` (not
    /// checked against the registered list). `code_challenge` is an S256
    /// challenge. Returns `None` for an unknown user.
    pub fn issue_code_for(
        &self,
        user_id: i64,
        redirect_uri: &str,
        code_challenge: Option<&str>,
    ) -> Option<String> {
        let config = &self.shared.config;
        let user = config.users.iter().find(|u| u.id == user_id)?;
        let grant = crate::state::CodeGrant {
            client_id: config.client_id.clone(),
            redirect_uri: redirect_uri.to_owned(),
            user_id,
            code_challenge: code_challenge.map(str::to_owned),
            scope: crate::state::granted_scope(user, &[]),
            nonce: None,
        };
        Some(self.shared.lock().issue_code(grant, config.code_ttl))
    }

    /// Make every access token issued so far expired, so the next
    /// `/v2/user/me` answers -401 "already expired" and clients must refresh.
    pub fn expire_access_tokens(&self) {
        self.shared.lock().expire_access_tokens();
    }
}
