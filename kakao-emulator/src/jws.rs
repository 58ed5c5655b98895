//! RS256 signing with fixed development keys, shared by Kakao's and
//! Google's id_tokens: a provider builds the claims (and spoils them as its
//! claim faults say), this module signs them (and spoils the header or the
//! signature as the signature faults say) and publishes the JWKS.
//!
//! The keys are RSA-2048 *development* keys checked in under `keys/`, two
//! per provider: anyone can read them, which is fine for an emulator and
//! keeps its start fast (no key generation). Each provider has its own pair,
//! so a token of one never verifies against the other's JWKS.

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::hmac;
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair, RsaPublicKeyComponents};
use serde_json::{Value, json};

use crate::control_wire::IdTokenFault;

/// The `kid` of [`IdTokenFault::UnknownKid`] tokens, never published.
const NEVER_PUBLISHED_KID: &str = "emulator-never-published";

/// Kakao's keys (PKCS#8 PEM) and their key ids.
const KAKAO_KEY_FILES: [(&str, &str); 2] = [
    ("emulator-dev-a", include_str!("../keys/dev-signing-a.pem")),
    ("emulator-dev-b", include_str!("../keys/dev-signing-b.pem")),
];

/// Google's keys (PKCS#8 PEM) and their key ids.
const GOOGLE_KEY_FILES: [(&str, &str); 2] = [
    (
        "google-emulator-dev-a",
        include_str!("../keys/google-dev-signing-a.pem"),
    ),
    (
        "google-emulator-dev-b",
        include_str!("../keys/google-dev-signing-b.pem"),
    ),
];

/// One signing key: its kid, the key pair, and its public numbers.
struct SigningKey {
    kid: &'static str,
    pair: RsaKeyPair,
    modulus: Vec<u8>,
    exponent: Vec<u8>,
}

/// One provider's two development keys; one is active at a time.
pub(crate) struct SigningKeys([SigningKey; 2]);

static KAKAO: OnceLock<SigningKeys> = OnceLock::new();
static GOOGLE: OnceLock<SigningKeys> = OnceLock::new();

impl SigningKeys {
    /// Kakao's keys (parsed once per process, on first use).
    pub(crate) fn kakao() -> &'static SigningKeys {
        KAKAO.get_or_init(|| SigningKeys(KAKAO_KEY_FILES.map(|(kid, pem)| parse(kid, pem))))
    }

    /// Google's keys (parsed once per process, on first use).
    pub(crate) fn google() -> &'static SigningKeys {
        GOOGLE.get_or_init(|| SigningKeys(GOOGLE_KEY_FILES.map(|(kid, pem)| parse(kid, pem))))
    }

    /// The key at `index` (0 or 1; any other number wraps).
    fn key(&self, index: usize) -> &SigningKey {
        &self.0[index % self.0.len()]
    }

    /// The JWKS document publishing the key at `index` only.
    pub(crate) fn jwks(&self, index: usize) -> Value {
        let key = self.key(index);
        json!({ "keys": [{
            "kid": key.kid,
            "kty": "RSA",
            "alg": "RS256",
            "use": "sig",
            "n": URL_SAFE_NO_PAD.encode(&key.modulus),
            "e": URL_SAFE_NO_PAD.encode(&key.exponent),
        }]})
    }

    /// `claims` as a compact JWS by the key at `index`, spoiled as the
    /// signature faults say ([`IdTokenFault::AlgNone`], `Hs256`,
    /// `UnknownKid`, `WrongSignature`); `None` for [`IdTokenFault::Missing`].
    /// Claim faults are the caller's to apply.
    pub(crate) fn sign(
        &self,
        claims: &Value,
        index: usize,
        fault: Option<IdTokenFault>,
    ) -> Option<String> {
        let key = self.key(index);
        let (alg, kid) = match fault {
            Some(IdTokenFault::Missing) => return None,
            Some(IdTokenFault::AlgNone) => ("none", key.kid),
            Some(IdTokenFault::Hs256) => ("HS256", key.kid),
            Some(IdTokenFault::UnknownKid) => ("RS256", NEVER_PUBLISHED_KID),
            _ => ("RS256", key.kid),
        };
        let header = json!({ "alg": alg, "typ": "JWT", "kid": kid });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = match fault {
            Some(IdTokenFault::AlgNone) => Vec::new(),
            Some(IdTokenFault::Hs256) => {
                let hmac_key = hmac::Key::new(hmac::HMAC_SHA256, &key.modulus);
                hmac::sign(&hmac_key, signing_input.as_bytes())
                    .as_ref()
                    .to_vec()
            }
            // Signed by the other key, which the JWKS does not publish.
            Some(IdTokenFault::WrongSignature) => rs256(self.key(index + 1), &signing_input)?,
            _ => rs256(key, &signing_input)?,
        };
        Some(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }
}

/// Parses a checked-in key. These are constants of this crate, not input:
/// a failure is a bug caught by the first test that signs.
fn parse(kid: &'static str, pem: &str) -> SigningKey {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = STANDARD.decode(body).expect("the dev key is base64");
    let pair = RsaKeyPair::from_pkcs8(&der).expect("the dev key is an RSA PKCS#8 key");
    let public = RsaPublicKeyComponents::<Vec<u8>>::from(pair.public());
    SigningKey {
        kid,
        modulus: public.n,
        exponent: public.e,
        pair,
    }
}

fn rs256(key: &SigningKey, input: &str) -> Option<Vec<u8>> {
    let mut signature = vec![0; key.pair.public().modulus_len()];
    key.pair
        .sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            input.as_bytes(),
            &mut signature,
        )
        .ok()?;
    Some(signature)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checked_in_keys_parse_and_differ() {
        let kakao = SigningKeys::kakao();
        let (a, b) = (kakao.jwks(0), kakao.jwks(1));
        assert_eq!(a["keys"][0]["kid"], "emulator-dev-a");
        assert_eq!(b["keys"][0]["kid"], "emulator-dev-b");
        assert_ne!(a["keys"][0]["n"], b["keys"][0]["n"]);
        assert_eq!(a["keys"][0]["e"], "AQAB");
        let google = SigningKeys::google();
        let (c, d) = (google.jwks(0), google.jwks(1));
        assert_eq!(c["keys"][0]["kid"], "google-emulator-dev-a");
        for other in [&a, &b, &d] {
            assert_ne!(c["keys"][0]["n"], other["keys"][0]["n"]);
        }
    }
}
