//! A started login, sealed into the `state` parameter instead of stored:
//! starting a login writes nothing to the database.
//!
//! `state = base64url(key id ‖ nonce ‖ AES-256-GCM(attempt) ‖ tag)`, with a
//! random 96-bit nonce per state and a key every replica shares (see
//! `persistence::state_sealing_keys`). Only a holder of the key can make or
//! read a state, so a forged, garbled or foreign state fails to open. The
//! attempt carries a 128-bit state id (what the callback claims once:
//! time-ordered, with 80 random bits), the expiry, the SHA-256 of the browser binding, the OIDC nonce and
//! the validated `return_to`, and (since v2) the provider and, for a link,
//! the user and session to attach the identity to. The PKCE verifier is
//! still derived from the binding and the state, so it is neither stored
//! nor sealed. A v1 state (sealed before providers existed, still in
//! flight across an upgrade) opens as a Kakao login.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

use super::LoginState;
use auth_proto::v1::Provider;

/// Associated data: separates these ciphertexts from any other use of a
/// key, and the v2 layout (provider, link) from v1.
const AAD: &[u8] = b"kakao-login state v2";
/// The v1 layout's associated data (no provider byte, no link).
const AAD_V1: &[u8] = b"kakao-login state v1";

/// Bytes of the sealed attempt before `return_to`.
const FIXED_LEN: usize = 16 + 8 + 32 + 16;

/// A login attempt as sealed into its state.
#[derive(Clone, PartialEq, Eq)]
pub struct LoginAttempt {
    /// The id the callback claims once (see [`LoginAttempt::new`]).
    pub state_id: [u8; 16],
    /// Unix milliseconds after which the attempt is refused.
    pub expires_at: i64,
    /// SHA-256 of the browser binding.
    pub binding_hash: [u8; 32],
    /// The OIDC nonce sent to Kakao (raw bytes; see [`LoginAttempt::nonce`]).
    pub nonce: [u8; 16],
    /// The validated `return_to`, as [`super::ReturnTo::as_str`] gives it.
    pub return_to: String,
    /// The provider the attempt was started with.
    pub provider: Provider,
    /// For a link: the logged-in user and their session.
    pub link: Option<LinkTarget>,
}

/// Whom a link attaches the provider's identity to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkTarget {
    /// Our user id.
    pub user_id: String,
    /// The session that asked (it must still be live at the callback).
    pub session_id: String,
}

impl std::fmt::Debug for LoginAttempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginAttempt")
            .field("expires_at", &self.expires_at)
            .field("return_to", &self.return_to)
            .field("provider", &self.provider)
            .field("link", &self.link.is_some())
            .finish_non_exhaustive()
    }
}

impl LoginAttempt {
    /// A new attempt with a fresh state id and a random nonce. The state
    /// id is the expiry's low 48 bits (big-endian) then 80 random bits:
    /// unique, and time-ordered so that the claims of a burst of callbacks
    /// share index pages. It never needs to be unguessable: it travels
    /// only inside the sealed state.
    pub fn new(
        expires_at: i64,
        binding_hash: [u8; 32],
        return_to: String,
        provider: Provider,
        link: Option<LinkTarget>,
    ) -> Self {
        let mut rng = rand::rng();
        let mut state_id = [0u8; 16];
        let mut nonce = [0u8; 16];
        state_id[..6].copy_from_slice(&expires_at.to_be_bytes()[2..]);
        rng.fill_bytes(&mut state_id[6..]);
        rng.fill_bytes(&mut nonce);
        LoginAttempt {
            state_id,
            expires_at,
            binding_hash,
            nonce,
            return_to,
            provider: provider.or_kakao(),
            link,
        }
    }

    /// The state id as stored when claimed (base64url, 22 characters).
    pub fn state_id(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.state_id)
    }

    /// The OIDC nonce as sent to Kakao (base64url, 22 characters).
    pub fn nonce(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.nonce)
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(FIXED_LEN + self.return_to.len() + 16);
        out.extend_from_slice(&self.state_id);
        out.extend_from_slice(&self.expires_at.to_be_bytes());
        out.extend_from_slice(&self.binding_hash);
        out.extend_from_slice(&self.nonce);
        out.push(u8::try_from(i32::from(self.provider)).unwrap_or(0));
        // For a link: the user id and the session id, each after its length
        // (ids are at most 64 bytes, checked where they are parsed; a longer
        // one is cut at 255 and would not match at the callback). No link:
        // one zero byte.
        match &self.link {
            None => out.push(0),
            Some(link) => {
                for id in [&link.user_id, &link.session_id] {
                    let id = &id.as_bytes()[..id.len().min(255)];
                    out.push(u8::try_from(id.len()).unwrap_or(u8::MAX));
                    out.extend_from_slice(id);
                }
            }
        }
        out.extend_from_slice(self.return_to.as_bytes());
        out
    }

    fn from_bytes(bytes: &[u8], v1: bool) -> Option<Self> {
        let (fixed, rest) = bytes.split_at_checked(FIXED_LEN)?;
        let (provider, link, return_to) = if v1 {
            (Provider::Kakao, None, rest)
        } else {
            let (&provider, rest) = rest.split_first()?;
            let provider = Provider::try_from(i32::from(provider)).ok()?.or_kakao();
            let (&user_len, rest) = rest.split_first()?;
            let (link, return_to) = if user_len == 0 {
                (None, rest)
            } else {
                let (user_id, rest) = rest.split_at_checked(usize::from(user_len))?;
                let (&session_len, rest) = rest.split_first()?;
                let (session_id, rest) = rest.split_at_checked(usize::from(session_len))?;
                let link = LinkTarget {
                    user_id: String::from_utf8(user_id.to_vec()).ok()?,
                    session_id: String::from_utf8(session_id.to_vec()).ok()?,
                };
                (Some(link), rest)
            };
            (provider, link, return_to)
        };
        let (state_id, rest) = fixed.split_at(16);
        let (expires_at, rest) = rest.split_at(8);
        let (binding_hash, nonce) = rest.split_at(32);
        Some(LoginAttempt {
            state_id: state_id.try_into().ok()?,
            expires_at: i64::from_be_bytes(expires_at.try_into().ok()?),
            binding_hash: binding_hash.try_into().ok()?,
            nonce: nonce.try_into().ok()?,
            return_to: String::from_utf8(return_to.to_vec()).ok()?,
            provider,
            link,
        })
    }
}

/// Seals and opens login states with the shared keys: the newest seals,
/// every one opens (so a rotation does not break logins in flight).
pub struct StateSealer {
    sealing: (u8, LessSafeKey),
    opening: Vec<(u8, LessSafeKey)>,
}

fn aead_key(secret: &[u8; 32]) -> anyhow::Result<LessSafeKey> {
    UnboundKey::new(&AES_256_GCM, secret)
        .map(LessSafeKey::new)
        .map_err(|_| anyhow::anyhow!("unusable state sealing key"))
}

impl StateSealer {
    /// From `(key id, 256-bit secret)` pairs; the highest id seals.
    pub fn new(keys: &[(u8, [u8; 32])]) -> anyhow::Result<Self> {
        let newest = keys
            .iter()
            .max_by_key(|(id, _)| *id)
            .ok_or_else(|| anyhow::anyhow!("no state sealing key"))?;
        let opening = keys
            .iter()
            .map(|(id, secret)| Ok((*id, aead_key(secret)?)))
            .collect::<anyhow::Result<_>>()?;
        Ok(StateSealer {
            sealing: (newest.0, aead_key(&newest.1)?),
            opening,
        })
    }

    /// The state that carries `attempt`.
    pub fn seal(&self, attempt: &LoginAttempt) -> LoginState {
        let (id, key) = &self.sealing;
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let mut in_out = attempt.to_bytes();
        // Sealing only fails for inputs of gigabytes; return_to is at most 2 KiB.
        if key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(AAD),
                &mut in_out,
            )
            .is_err()
        {
            in_out.clear();
        }
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + in_out.len());
        sealed.push(*id);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&in_out);
        LoginState::from_sealed(URL_SAFE_NO_PAD.encode(sealed))
    }

    /// The attempt sealed in `state`; `None` for anything we did not seal
    /// (forged, garbled, truncated, or sealed under an unknown key).
    pub fn open(&self, state: &LoginState) -> Option<LoginAttempt> {
        let bytes = URL_SAFE_NO_PAD.decode(state.expose()).ok()?;
        let (&id, rest) = bytes.split_first()?;
        if rest.len() < NONCE_LEN {
            return None;
        }
        let key = self
            .opening
            .iter()
            .find_map(|(k, key)| (*k == id).then_some(key))?;
        let nonce: [u8; NONCE_LEN] = rest[..NONCE_LEN].try_into().ok()?;
        let sealed = bytes[1 + NONCE_LEN..].to_vec();
        for (aad, v1) in [(AAD, false), (AAD_V1, true)] {
            let mut ciphertext = sealed.clone();
            let nonce = Nonce::assume_unique_for_key(nonce);
            if let Ok(plain) = key.open_in_place(nonce, Aad::from(aad), &mut ciphertext) {
                return LoginAttempt::from_bytes(plain, v1);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer(keys: &[(u8, u8)]) -> StateSealer {
        let keys: Vec<_> = keys.iter().map(|&(id, fill)| (id, [fill; 32])).collect();
        StateSealer::new(&keys).unwrap()
    }

    fn attempt() -> LoginAttempt {
        LoginAttempt::new(
            1_700_000_000_000,
            [7; 32],
            "http://localhost:3000/x?y=1".into(),
            Provider::Kakao,
            None,
        )
    }

    #[test]
    fn a_sealed_attempt_opens_to_itself_and_hides_its_content() {
        let s = sealer(&[(1, 1)]);
        let a = attempt();
        let state = s.seal(&a);
        assert_eq!(s.open(&state), Some(a.clone()));
        assert!(!state.expose().contains(&a.state_id()));
        assert!(!state.expose().contains(&a.nonce()));
        assert_ne!(s.seal(&a), state, "a fresh nonce per seal");
        assert!(LoginState::parse(state.expose()).is_ok());
    }

    #[test]
    fn tampered_truncated_or_foreign_states_do_not_open() {
        let s = sealer(&[(1, 1)]);
        let state = s.seal(&attempt());
        let raw = state.expose();
        for i in [0, 1, 5, 20, raw.len() / 2, raw.len() - 2] {
            let mut b = raw.as_bytes().to_vec();
            b[i] = if b[i] == b'A' { b'B' } else { b'A' };
            let tampered = LoginState::from_sealed(String::from_utf8(b).unwrap());
            assert_eq!(s.open(&tampered), None, "flip at {i}");
        }
        for cut in [0, 1, 10, raw.len() - 1] {
            let truncated = LoginState::from_sealed(raw[..cut].to_owned());
            assert_eq!(s.open(&truncated), None, "cut at {cut}");
        }
        assert_eq!(sealer(&[(1, 2)]).open(&state), None, "another key");
        assert_eq!(sealer(&[(2, 1)]).open(&state), None, "another key id");
        let junk = LoginState::from_sealed("A".repeat(43));
        assert_eq!(s.open(&junk), None);
    }

    #[test]
    fn the_provider_and_the_link_travel_sealed_and_a_v1_state_is_a_kakao_login() {
        let s = sealer(&[(1, 1)]);
        let link = LinkTarget {
            user_id: "0193a8f2-0000-7000-8000-000000000001".into(),
            session_id: "0193a8f2-0000-7000-8000-000000000002".into(),
        };
        let a = LoginAttempt::new(9, [1; 32], "/x".into(), Provider::Naver, Some(link));
        assert_eq!(s.open(&s.seal(&a)), Some(a.clone()));
        assert!(!s.seal(&a).expose().contains("0193a8f2"));

        // A state sealed by the release before providers: v1 layout and AAD.
        let (id, key) = &s.sealing;
        let mut v1 = a.to_bytes();
        v1.drain(
            FIXED_LEN
                ..FIXED_LEN
                    + 2
                    + a.link
                        .as_ref()
                        .map_or(0, |l| l.user_id.len() + 1 + l.session_id.len()),
        );
        let nonce = [3u8; NONCE_LEN];
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(AAD_V1),
            &mut v1,
        )
        .unwrap();
        let mut raw = vec![*id];
        raw.extend_from_slice(&nonce);
        raw.extend_from_slice(&v1);
        let opened = s
            .open(&LoginState::from_sealed(URL_SAFE_NO_PAD.encode(raw)))
            .unwrap();
        assert_eq!((opened.provider, opened.link), (Provider::Kakao, None));
        assert_eq!(opened.return_to, "/x");
    }

    #[test]
    fn the_newest_key_seals_and_older_keys_still_open() {
        let old = sealer(&[(1, 1)]);
        let rotated = sealer(&[(1, 1), (2, 2)]);
        let a = attempt();
        assert_eq!(rotated.open(&old.seal(&a)), Some(a.clone()));
        assert_eq!(old.open(&rotated.seal(&a)), None);
    }

    use proptest::{prelude::*, sample::Index};

    const B64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn any_attempt_opens_to_itself_and_no_changed_or_cut_state_opens(
            state_id in any::<[u8; 16]>(),
            expires_at in any::<i64>(),
            binding_hash in any::<[u8; 32]>(),
            nonce in any::<[u8; 16]>(),
            return_to in "\\PC{0,64}",
            at in any::<Index>(),
            to in 0..B64URL.len(),
            cut in any::<Index>(),
        ) {
            let s = sealer(&[(1, 1), (2, 2)]);
            let a = LoginAttempt {
                state_id, expires_at, binding_hash, nonce, return_to,
                provider: Provider::Google,
                link: Some(LinkTarget { user_id: "u".into(), session_id: "s".into() }),
            };
            let state = s.seal(&a);
            prop_assert_eq!(s.open(&state), Some(a));
            let raw = state.expose();
            let mut b = raw.as_bytes().to_vec();
            let i = at.index(b.len());
            if b[i] != B64URL[to] {
                b[i] = B64URL[to];
                let tampered = LoginState::from_sealed(String::from_utf8(b).unwrap());
                prop_assert_eq!(s.open(&tampered), None);
            }
            let truncated = LoginState::from_sealed(raw[..cut.index(raw.len())].to_owned());
            prop_assert_eq!(s.open(&truncated), None);
        }
    }
}
