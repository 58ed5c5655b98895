//! Google's OpenID Connect documents and id_tokens: the discovery
//! document, the JWKS, and RS256 id_tokens signed with Google's own pair of
//! development keys (see [`crate::jws`]), spoiled on request.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use warp::reply::Response;

use super::config::{GoogleConfig, GoogleUser};
use crate::control_wire::{Endpoint, GoogleIdTokenSettings, IdTokenFault};
use crate::jws::SigningKeys;
use crate::reply::{self, fault_gate};
use crate::state::Shared;

/// `Cache-Control: max-age` of the JWKS and the discovery document, in
/// seconds (Google's value varies and is UNCONFIRMED).
pub(crate) const MAX_AGE_SECONDS: u64 = 3600;

/// Lifetime of an id_token (`exp - iat`; about an hour at Google, UNCONFIRMED).
const ID_TOKEN_TTL: Duration = Duration::from_secs(3600);

/// The long scope names Google reports for `email` and `profile`.
pub(crate) const EMAIL_SCOPE: &str = "https://www.googleapis.com/auth/userinfo.email";
/// See [`EMAIL_SCOPE`].
pub(crate) const PROFILE_SCOPE: &str = "https://www.googleapis.com/auth/userinfo.profile";

/// The emulator's Google base as the request reached it.
pub(crate) fn base(host: Option<&str>) -> String {
    format!("http://{}/google", host.unwrap_or("localhost"))
}

/// The issuer: configured, or the Google base itself.
pub(crate) fn issuer(config: &GoogleConfig, host: Option<&str>) -> String {
    config.issuer.clone().unwrap_or_else(|| base(host))
}

/// The discovery document: Google's fields, endpoints on `base`. The
/// supported-values lists name only what the emulator implements (Google's
/// `grant_types_supported` and `response_modes_supported` values are
/// UNCONFIRMED anyway).
fn discovery(issuer: &str, base: &str) -> Value {
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{base}/o/oauth2/v2/auth"),
        "token_endpoint": format!("{base}/token"),
        "userinfo_endpoint": format!("{base}/v1/userinfo"),
        "revocation_endpoint": format!("{base}/revoke"),
        "jwks_uri": format!("{base}/oauth2/v3/certs"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "claims_supported": ["aud", "email", "email_verified", "exp", "family_name", "given_name", "iat", "iss", "locale", "name", "picture", "sub"],
        "code_challenge_methods_supported": ["plain", "S256"],
    })
}

/// `GET /google/.well-known/openid-configuration`
pub(crate) async fn discovery_response(shared: &Shared, host: Option<&str>) -> Response {
    if let Some(faulted) = fault_gate(shared, Endpoint::GoogleDiscovery).await {
        return faulted;
    }
    let document = discovery(&issuer(&shared.config.google, host), &base(host));
    reply::cacheable_json(&document, MAX_AGE_SECONDS)
}

/// `GET /google/oauth2/v3/certs`: the active key only.
pub(crate) async fn jwks_response(shared: &Shared) -> Response {
    if let Some(faulted) = fault_gate(shared, Endpoint::GoogleJwks).await {
        return faulted;
    }
    let active = shared.lock().google.signing_key;
    reply::cacheable_json(&SigningKeys::google().jwks(active), MAX_AGE_SECONDS)
}

/// The account's claims for the granted scope (short names): `email` and
/// `email_verified` with `email` (when the account has an email), the
/// profile claims with `profile`. No `sub`.
pub(crate) fn scoped_claims(
    user: &GoogleUser,
    scope: &[String],
    verified_as_string: bool,
) -> Map<String, Value> {
    let mut claims = Map::new();
    let granted = |item: &str| scope.iter().any(|s| s == item);
    if granted("email")
        && let Some(email) = &user.email
    {
        claims.insert("email".into(), email.clone().into());
        let verified = if verified_as_string {
            user.email_verified.to_string().into()
        } else {
            user.email_verified.into()
        };
        claims.insert("email_verified".into(), verified);
    }
    if granted("profile") {
        let profile = [
            ("name", &user.name),
            ("given_name", &user.given_name),
            ("family_name", &user.family_name),
            ("picture", &user.picture),
            ("locale", &user.locale),
        ];
        for (name, value) in profile {
            if let Some(value) = value {
                claims.insert(name.into(), value.clone().into());
            }
        }
    }
    claims
}

/// What an id_token is issued for.
pub(crate) struct IdTokenFor<'a> {
    pub(crate) user: &'a GoogleUser,
    pub(crate) client_id: &'a str,
    pub(crate) issuer: &'a str,
    pub(crate) scope: &'a [String],
    /// `None` on a refresh, or when the authorize request sent none.
    pub(crate) nonce: Option<&'a str>,
    /// The access token issued with it, hashed into `at_hash`.
    pub(crate) access_token: &'a str,
    /// The active key's index.
    pub(crate) key: usize,
    pub(crate) settings: GoogleIdTokenSettings,
}

/// The id_token for `request`, spoiled as its settings say; `None` for
/// [`IdTokenFault::Missing`].
pub(crate) fn id_token(request: &IdTokenFor<'_>) -> Option<String> {
    let fault = request.settings.fault;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let sub = if fault == Some(IdTokenFault::WrongSubject) {
        format!("{}0", request.user.sub)
    } else {
        request.user.sub.clone()
    };
    let aud = if fault == Some(IdTokenFault::WrongAudience) {
        "another-client.apps.googleusercontent.com"
    } else {
        request.client_id
    };
    let mut claims = json!({
        "iss": if fault == Some(IdTokenFault::WrongIssuer) { "https://accounts.google.example" } else { request.issuer },
        "azp": request.client_id,
        "aud": aud,
        "sub": sub,
        "at_hash": at_hash(request.access_token),
        "iat": now,
        "exp": if fault == Some(IdTokenFault::Expired) { now.saturating_sub(3600) } else { now + ID_TOKEN_TTL.as_secs() },
    });
    let nonce = match fault {
        Some(IdTokenFault::NoNonce) => None,
        Some(IdTokenFault::WrongNonce) => Some("not-the-nonce-you-sent"),
        _ => request.nonce,
    };
    if let Some(map) = claims.as_object_mut() {
        if let Some(nonce) = nonce {
            map.insert("nonce".into(), nonce.into());
        }
        map.extend(scoped_claims(
            request.user,
            request.scope,
            request.settings.email_verified_as_string,
        ));
    }
    SigningKeys::google().sign(&claims, request.key, fault)
}

/// OIDC `at_hash`: base64url of the left half of SHA-256(access token).
fn at_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn claims_follow_the_granted_scope() {
        let users = GoogleUser::defaults();
        let kim = &users[0];
        let only_openid = scoped_claims(kim, &scope(&["openid"]), false);
        assert!(only_openid.is_empty());
        let all = scoped_claims(kim, &scope(&["openid", "email", "profile"]), false);
        assert_eq!(all["email_verified"], true);
        assert_eq!(all["name"], "김구글 🙂");
        let as_string = scoped_claims(&users[1], &scope(&["email"]), true);
        assert_eq!(as_string["email_verified"], "false");
        let no_email = scoped_claims(&users[2], &scope(&["email", "profile"]), false);
        assert!(!no_email.contains_key("email"));
        assert!(!no_email.contains_key("email_verified"));
    }

    #[test]
    fn the_issuer_defaults_to_where_the_discovery_document_lives() {
        let config = GoogleConfig::default();
        assert_eq!(
            issuer(&config, Some("127.0.0.1:9")),
            "http://127.0.0.1:9/google"
        );
        let fixed = GoogleConfig {
            issuer: Some("https://accounts.google.com".into()),
            ..GoogleConfig::default()
        };
        assert_eq!(issuer(&fixed, Some("x")), "https://accounts.google.com");
        let document = discovery("i", "http://h/google");
        assert_eq!(document["jwks_uri"], "http://h/google/oauth2/v3/certs");
    }
}
