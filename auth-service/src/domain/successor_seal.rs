//! The refresh-grace successor: when a refresh token is rotated, its
//! successor is stored sealed on the retired token's row, so that a
//! concurrent request presenting the retired token within the grace window
//! gets the same successor.
//!
//! `sealed = base64url(key id ‖ nonce ‖ AES-256-GCM(successor) ‖ tag)`,
//! under a key derived per retired token:
//! `HKDF-SHA256(salt = state sealing key, ikm = retired token)`. Opening
//! needs both the server-side key (kept in the database, encrypted under
//! `KEY_ENCRYPTION_KEY` when set) and the retired token, which the database
//! holds only as a hash. A database dump alone opens nothing; a dump plus
//! an old refresh token opens nothing either when `KEY_ENCRYPTION_KEY` is
//! set (the sealing key is encrypted) — without it, such a pair opens the
//! successors still sealed, which exist only during the grace window (they
//! are cleared after it).

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore;
use ring::{
    aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey},
    hkdf::{HKDF_SHA256, Salt},
};

use super::RefreshToken;

/// HKDF info and AEAD associated data: separates these keys and
/// ciphertexts from the login states sealed with the same secret.
const CONTEXT: &[u8] = b"kakao-login refresh successor v2";

/// Seals and opens refresh-grace successors with the state sealing keys:
/// the newest seals, every one opens.
pub struct SuccessorSealer {
    sealing: (u8, [u8; 32]),
    opening: Vec<(u8, [u8; 32])>,
}

impl std::fmt::Debug for SuccessorSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SuccessorSealer").finish_non_exhaustive()
    }
}

fn key_for(secret: &[u8; 32], retired: &RefreshToken) -> Option<LessSafeKey> {
    let prk = Salt::new(HKDF_SHA256, secret).extract(retired.expose().as_bytes());
    let okm = prk.expand(&[CONTEXT], &AES_256_GCM).ok()?;
    Some(LessSafeKey::new(UnboundKey::from(okm)))
}

impl SuccessorSealer {
    /// From `(key id, 256-bit secret)` pairs; the highest id seals.
    pub fn new(keys: &[(u8, [u8; 32])]) -> anyhow::Result<Self> {
        let newest = keys
            .iter()
            .max_by_key(|(id, _)| *id)
            .ok_or_else(|| anyhow::anyhow!("no sealing key"))?;
        Ok(SuccessorSealer {
            sealing: *newest,
            opening: keys.to_vec(),
        })
    }

    /// `successor`, sealed so that only this service holding `retired`
    /// can open it; `None` only if sealing fails (it does not for tokens).
    pub fn seal(&self, retired: &RefreshToken, successor: &RefreshToken) -> Option<String> {
        let (id, secret) = &self.sealing;
        let key = key_for(secret, retired)?;
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let mut in_out = successor.expose().as_bytes().to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(CONTEXT),
            &mut in_out,
        )
        .ok()?;
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + in_out.len());
        sealed.push(*id);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&in_out);
        Some(URL_SAFE_NO_PAD.encode(sealed))
    }

    /// The successor sealed in `sealed` for `retired`; `None` for anything
    /// else (another token, another key, tampered).
    pub fn open(&self, retired: &RefreshToken, sealed: &str) -> Option<RefreshToken> {
        let mut bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        let (&id, rest) = bytes.split_first()?;
        if rest.len() < NONCE_LEN {
            return None;
        }
        let secret = self
            .opening
            .iter()
            .find_map(|(k, s)| (*k == id).then_some(s))?;
        let key = key_for(secret, retired)?;
        let nonce = Nonce::try_assume_unique_for_key(&rest[..NONCE_LEN]).ok()?;
        let plain = key
            .open_in_place(nonce, Aad::from(CONTEXT), &mut bytes[1 + NONCE_LEN..])
            .ok()?;
        let text = String::from_utf8(plain.to_vec()).ok()?;
        RefreshToken::from_unsealed(text).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_successor_opens_only_with_the_retired_token_and_the_server_key() {
        let sealer = SuccessorSealer::new(&[(1, [1; 32])]).unwrap();
        let (old, next) = (RefreshToken::generate(), RefreshToken::generate());
        let sealed = sealer.seal(&old, &next).unwrap();
        assert!(!sealed.contains(next.expose()));
        assert_eq!(sealer.open(&old, &sealed), Some(next.clone()));
        assert_eq!(sealer.open(&RefreshToken::generate(), &sealed), None);
        let other_key = SuccessorSealer::new(&[(1, [2; 32])]).unwrap();
        assert_eq!(other_key.open(&old, &sealed), None, "another server key");
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 3;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert_eq!(sealer.open(&old, &tampered), None);
        assert_ne!(sealer.seal(&old, &next).unwrap(), sealed, "fresh nonce");
    }

    #[test]
    fn an_older_key_still_opens_after_a_newer_one_seals() {
        let old_sealer = SuccessorSealer::new(&[(1, [1; 32])]).unwrap();
        let both = SuccessorSealer::new(&[(1, [1; 32]), (2, [2; 32])]).unwrap();
        let (old, next) = (RefreshToken::generate(), RefreshToken::generate());
        let sealed = old_sealer.seal(&old, &next).unwrap();
        assert_eq!(both.open(&old, &sealed), Some(next));
    }
}
