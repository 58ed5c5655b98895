//! Keys at rest: with `KEY_ENCRYPTION_KEY` set, every private or secret key
//! the service keeps in the database (signing keys, state sealing keys) is
//! stored as `kek1:` + base64(nonce ‖ AES-256-GCM(key) ‖ tag), with the row's
//! identity (table and key id) as associated data, so a ciphertext moved to
//! another row does not open. Without it keys are stored as plain base64
//! (the development default; the service warns at start).

use base64::{Engine, engine::general_purpose::STANDARD};
use rand::RngCore;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

/// What marks an encrypted value (plain base64 never holds a `:`).
const PREFIX: &str = "kek1:";

/// The key-encryption key (`KEY_ENCRYPTION_KEY`): 32 random bytes. Its
/// `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyEncryptionKey([u8; 32]);

impl std::fmt::Debug for KeyEncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyEncryptionKey(..)")
    }
}

impl KeyEncryptionKey {
    /// Parses the base64 (standard or URL-safe, padded or not) of exactly
    /// 32 bytes.
    pub fn parse(value: &str) -> Option<Self> {
        use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
        let value = value.trim();
        [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode(value).ok())
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .map(KeyEncryptionKey)
    }

    /// From raw bytes (tests, generated keys).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        KeyEncryptionKey(bytes)
    }

    fn aead(&self) -> LessSafeKey {
        // 32 bytes is always a valid AES-256 key.
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &self.0).unwrap_or_else(|_| unreachable!()))
    }

    /// `secret` encrypted for the row named `row` (e.g. `signing_keys/<kid>`).
    pub fn seal(&self, row: &str, secret: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let mut in_out = secret.to_vec();
        // Sealing only fails for inputs of gigabytes; keys are bytes.
        if self
            .aead()
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(row.as_bytes()),
                &mut in_out,
            )
            .is_err()
        {
            in_out.clear();
        }
        let mut out = nonce.to_vec();
        out.extend_from_slice(&in_out);
        format!("{PREFIX}{}", STANDARD.encode(out))
    }

    fn open_encrypted(&self, row: &str, body: &str) -> Result<Vec<u8>, OpenError> {
        let mut bytes = STANDARD.decode(body).map_err(|_| OpenError::Malformed)?;
        if bytes.len() < NONCE_LEN {
            return Err(OpenError::Malformed);
        }
        let nonce = Nonce::try_assume_unique_for_key(&bytes[..NONCE_LEN])
            .map_err(|_| OpenError::Malformed)?;
        let plain = self
            .aead()
            .open_in_place(nonce, Aad::from(row.as_bytes()), &mut bytes[NONCE_LEN..])
            .map_err(|_| OpenError::WrongKey)?;
        Ok(plain.to_vec())
    }
}

/// Why a stored key could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// It is encrypted and no `KEY_ENCRYPTION_KEY` is set.
    #[error("the key is encrypted and no key-encryption key is set")]
    NoKey,
    /// The key-encryption key does not open it (another key, or a
    /// ciphertext moved from another row).
    #[error("the key-encryption key does not open the key")]
    WrongKey,
    /// Neither plain base64 nor our ciphertext.
    #[error("the stored key is malformed")]
    Malformed,
}

/// How keys are stored: encrypted under a [`KeyEncryptionKey`], or in the
/// clear. `Default` is in the clear.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyEncryption(Option<KeyEncryptionKey>);

impl KeyEncryption {
    /// Keys encrypted under `kek`, or stored in the clear when `None`.
    pub fn new(kek: Option<KeyEncryptionKey>) -> Self {
        KeyEncryption(kek)
    }

    /// Whether keys are encrypted.
    pub fn is_on(&self) -> bool {
        self.0.is_some()
    }

    /// The value to store for `secret` in the row named `row`.
    pub fn seal(&self, row: &str, secret: &[u8]) -> String {
        match &self.0 {
            Some(kek) => kek.seal(row, secret),
            None => STANDARD.encode(secret),
        }
    }

    /// The secret stored as `stored` in the row named `row`.
    pub fn open(&self, row: &str, stored: &str) -> Result<Vec<u8>, OpenError> {
        match (stored.strip_prefix(PREFIX), &self.0) {
            (None, _) => STANDARD.decode(stored).map_err(|_| OpenError::Malformed),
            (Some(_), None) => Err(OpenError::NoKey),
            (Some(body), Some(kek)) => kek.open_encrypted(row, body),
        }
    }
}

/// Whether a stored key value is encrypted.
pub fn is_encrypted(stored: &str) -> bool {
    stored.starts_with(PREFIX)
}

/// The associated data of a signing key's row.
pub fn signing_key_row(kid: &str) -> String {
    format!("signing_keys/{kid}")
}

/// The associated data of a state sealing key's row.
pub fn state_sealing_key_row(id: i16) -> String {
    format!("state_sealing_keys/{id}")
}

/// The associated data of a provider grant kept on an identity's row (the
/// token that revokes our access at Naver or Google when it is unlinked).
pub fn provider_grant_row(provider: &str, subject: &str) -> String {
    format!("identities/{provider}/{subject}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on(fill: u8) -> KeyEncryption {
        KeyEncryption::new(Some(KeyEncryptionKey::from_bytes([fill; 32])))
    }

    #[test]
    fn an_encrypted_key_opens_only_with_its_kek_and_its_row() {
        let secret = b"a private key of some bytes";
        let stored = on(1).seal("signing_keys/a", secret);
        assert!(is_encrypted(&stored));
        assert!(!stored.contains(&STANDARD.encode(secret)));
        assert_eq!(on(1).open("signing_keys/a", &stored).unwrap(), secret);
        assert_eq!(
            on(2).open("signing_keys/a", &stored),
            Err(OpenError::WrongKey)
        );
        assert_eq!(
            on(1).open("signing_keys/b", &stored),
            Err(OpenError::WrongKey),
            "moved to another row"
        );
        assert_eq!(
            KeyEncryption::default().open("signing_keys/a", &stored),
            Err(OpenError::NoKey)
        );
        assert_ne!(on(1).seal("signing_keys/a", secret), stored, "fresh nonce");
    }

    #[test]
    fn plain_keys_open_with_or_without_a_kek() {
        let stored = KeyEncryption::default().seal("x", b"plain");
        assert!(!is_encrypted(&stored));
        assert_eq!(on(1).open("x", &stored).unwrap(), b"plain");
        assert_eq!(
            KeyEncryption::default().open("x", &stored).unwrap(),
            b"plain"
        );
        assert_eq!(on(1).open("x", "kek1:!!"), Err(OpenError::Malformed));
    }

    #[test]
    fn a_kek_is_the_base64_of_32_bytes_and_never_printed() {
        let raw = [7u8; 32];
        for text in [
            STANDARD.encode(raw),
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw),
        ] {
            assert_eq!(KeyEncryptionKey::parse(&text), Some(KeyEncryptionKey(raw)));
        }
        for bad in ["", "short", &STANDARD.encode([1u8; 31]), "not base64!"] {
            assert_eq!(KeyEncryptionKey::parse(bad), None, "{bad}");
        }
        assert!(!format!("{:?}", KeyEncryptionKey(raw)).contains("7"));
    }
}
