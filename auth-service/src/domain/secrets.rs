//! Secret-bearing values: random generation, parsing, hashing. Their `Debug`
//! is redacted so a stray `{:?}` cannot leak them into a log line.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A value that did not have the expected shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed value")]
pub struct SecretParseError;

/// `n` random bytes from the OS-seeded CSPRNG, base64url without padding.
pub fn random_token(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 of `input`, base64url without padding (43 characters).
pub fn sha256_b64(input: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(input))
}

/// 256 random bits, base64url: 43 characters.
const TOKEN_BYTES: usize = 32;
const TOKEN_LEN: usize = 43;

fn parse_token(raw: &str) -> Result<String, SecretParseError> {
    let ok = raw.len() == TOKEN_LEN
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(SecretParseError)
    }
}

macro_rules! secret_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }

        impl $name {
            /// The raw value, for the one place that must send or hash it.
            pub fn expose(&self) -> &str {
                &self.0
            }
        }
    };
}

secret_newtype!(
    /// The login `state`, sent through Kakao and back: the sealed login
    /// attempt (see [`crate::domain::StateSealer`]), base64url.
    LoginState
);
secret_newtype!(
    /// The browser-binding secret held in an HttpOnly cookie; stored only as a hash.
    BrowserBinding
);
secret_newtype!(
    /// An opaque refresh token: 256 random bits; stored only as a hash.
    RefreshToken
);
secret_newtype!(
    /// Kakao's one-time authorization code.
    AuthorizationCode
);
secret_newtype!(
    /// An access JWT presented for verification.
    AccessToken
);

/// Why a presented refresh token is unusable. The two cases are answered
/// differently (and logout treats a malformed token as already ended), so
/// the session logic receives the parse result, not a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RefreshTokenError {
    /// The field is empty.
    #[error("refresh_token is required")]
    Missing,
    /// Not a token we could have issued.
    #[error("refresh token is malformed")]
    Malformed,
}

/// The longest access token accepted for verification.
const MAX_ACCESS_TOKEN_LEN: usize = 4096;

/// The longest state accepted (a sealed attempt with the longest
/// `return_to` is about 2,900 characters).
const MAX_STATE_LEN: usize = 4096;

impl LoginState {
    /// Wraps a state just sealed.
    pub(crate) fn from_sealed(sealed: String) -> Self {
        LoginState(sealed)
    }
    /// Parses a state echoed back by the browser: 1 to 4096 base64url
    /// characters. Whether it is one of ours is decided by opening it.
    pub fn parse(raw: &str) -> Result<Self, SecretParseError> {
        let ok = (1..=MAX_STATE_LEN).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(LoginState(raw.to_owned()))
        } else {
            Err(SecretParseError)
        }
    }
}

impl BrowserBinding {
    /// A fresh random binding secret.
    pub fn generate() -> Self {
        BrowserBinding(random_token(TOKEN_BYTES))
    }
    /// Parses a binding from the browser's cookie.
    pub fn parse(raw: &str) -> Result<Self, SecretParseError> {
        parse_token(raw).map(BrowserBinding)
    }
    /// An empty binding means "none yet"; a present one must be well formed.
    pub fn parse_optional(raw: &str) -> Result<Option<Self>, SecretParseError> {
        if raw.is_empty() {
            return Ok(None);
        }
        Self::parse(raw).map(Some)
    }
    /// SHA-256 of the binding: what a sealed login attempt carries.
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(self.0.as_bytes()).into()
    }
    /// Constant-time comparison with a sealed hash.
    pub fn matches(&self, sealed_hash: &[u8; 32]) -> bool {
        self.hash().ct_eq(sealed_hash).into()
    }
    /// The PKCE `code_verifier` of the login attempt `state`, derived from
    /// this binding so that it is never stored: only the browser holding the
    /// binding cookie can complete the code exchange, even with a copy of the
    /// database. 43 base64url characters, as RFC 7636 requires.
    pub fn pkce_verifier(&self, state: &LoginState) -> String {
        let mut hasher = Sha256::new();
        hasher.update(b"kakao-login pkce v1\0");
        hasher.update(self.0.as_bytes());
        hasher.update(b"\0");
        hasher.update(state.0.as_bytes());
        URL_SAFE_NO_PAD.encode(hasher.finalize())
    }
}

/// The S256 `code_challenge` of a verifier.
pub fn pkce_challenge(verifier: &str) -> String {
    sha256_b64(verifier.as_bytes())
}

impl RefreshToken {
    /// A fresh random refresh token.
    pub fn generate() -> Self {
        RefreshToken(random_token(TOKEN_BYTES))
    }
    /// Parses a refresh token from the browser's cookie.
    pub fn parse(raw: &str) -> Result<Self, RefreshTokenError> {
        if raw.is_empty() {
            return Err(RefreshTokenError::Missing);
        }
        parse_token(raw)
            .map(RefreshToken)
            .map_err(|_| RefreshTokenError::Malformed)
    }
    /// What is stored in the database (SHA-256: the token has 256 random
    /// bits, so a slow hash would add cost without adding safety).
    pub fn hash(&self) -> String {
        sha256_b64(self.0.as_bytes())
    }
    /// Wraps a value that was just unsealed.
    pub(crate) fn from_unsealed(raw: String) -> Result<Self, SecretParseError> {
        parse_token(&raw).map(RefreshToken)
    }
}

impl AuthorizationCode {
    /// Kakao codes are opaque; accept printable ASCII up to 1 KiB.
    pub fn parse(raw: &str) -> Result<Self, SecretParseError> {
        let ok = !raw.is_empty() && raw.len() <= 1024 && raw.bytes().all(|b| b.is_ascii_graphic());
        if ok {
            Ok(AuthorizationCode(raw.to_owned()))
        } else {
            Err(SecretParseError)
        }
    }
}

impl AccessToken {
    /// Accepts 1 to 4096 bytes; everything else about it is checked by
    /// verification. Takes the decoded field by value (no copy).
    pub fn parse(raw: impl AsRef<str> + Into<String>) -> Result<Self, SecretParseError> {
        if (1..=MAX_ACCESS_TOKEN_LEN).contains(&raw.as_ref().len()) {
            Ok(AccessToken(raw.into()))
        } else {
            Err(SecretParseError)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_have_256_bits_and_parse_back() {
        let b = BrowserBinding::generate();
        assert_eq!(b.expose().len(), 43);
        assert_eq!(BrowserBinding::parse(b.expose()).unwrap(), b);
        assert_ne!(BrowserBinding::generate(), b);
    }

    #[test]
    fn debug_output_is_redacted() {
        let b = BrowserBinding::generate();
        assert!(!format!("{b:?}").contains(b.expose()));
        let r = RefreshToken::generate();
        assert!(!format!("{r:?}").contains(r.expose()));
        let a = AccessToken::parse("eyJhbGciOiJFZERTQSJ9.e30.sig").unwrap();
        assert!(!format!("{a:?}").contains(a.expose()));
    }

    #[test]
    fn malformed_values_are_refused() {
        for bad in [
            "",
            "short",
            &"a".repeat(44),
            &format!("{}=", "a".repeat(42)),
            &format!("{}.", "a".repeat(42)),
        ] {
            assert!(BrowserBinding::parse(bad).is_err(), "{bad}");
        }
        for bad in ["", "a b", "a=", "a.b", &"a".repeat(MAX_STATE_LEN + 1)] {
            assert!(LoginState::parse(bad).is_err(), "{bad}");
        }
        assert!(LoginState::parse(&"a".repeat(MAX_STATE_LEN)).is_ok());
        assert!(AuthorizationCode::parse("").is_err());
        assert!(AuthorizationCode::parse("a b").is_err());
        assert!(AuthorizationCode::parse("abc-DEF_123").is_ok());
        assert_eq!(RefreshToken::parse(""), Err(RefreshTokenError::Missing));
        assert_eq!(
            RefreshToken::parse("short"),
            Err(RefreshTokenError::Malformed)
        );
        assert!(AccessToken::parse("").is_err());
        assert!(AccessToken::parse("a".repeat(4097)).is_err());
        assert!(AccessToken::parse("a".repeat(4096)).is_ok());
        assert_eq!(BrowserBinding::parse_optional(""), Ok(None));
        assert!(BrowserBinding::parse_optional("short").is_err());
    }

    #[test]
    fn pkce_verifier_depends_on_binding_and_state() {
        let (b1, b2) = (BrowserBinding::generate(), BrowserBinding::generate());
        let state = || LoginState::from_sealed(random_token(120));
        let s = state();
        let v = b1.pkce_verifier(&s);
        assert_eq!(v.len(), 43);
        assert_eq!(v, b1.pkce_verifier(&s));
        assert_ne!(v, b2.pkce_verifier(&s));
        assert_ne!(v, b1.pkce_verifier(&state()));
        // RFC 7636 appendix B vector: challenge of the example verifier.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn binding_matches_only_its_own_hash() {
        let b = BrowserBinding::generate();
        assert!(b.matches(&b.hash()));
        assert!(!BrowserBinding::generate().matches(&b.hash()));
    }

    use proptest::prelude::*;

    fn b64url(s: &str) -> bool {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn accepted_secrets_have_their_documented_shape(
            raw in "[A-Za-z0-9_=+/ .-]{40,45}|\\PC{0,50}"
        ) {
            if BrowserBinding::parse(&raw).is_ok() || RefreshToken::parse(&raw).is_ok() {
                prop_assert!(raw.len() == 43 && b64url(&raw));
            }
            if LoginState::parse(&raw).is_ok() {
                prop_assert!(!raw.is_empty() && b64url(&raw));
            }
            if AuthorizationCode::parse(&raw).is_ok() {
                prop_assert!(!raw.is_empty() && raw.bytes().all(|b| b.is_ascii_graphic()));
            }
        }
    }
}
