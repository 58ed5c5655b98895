//! `StateSealer::open` of attacker-supplied states, and the secrets'
//! parsers: `open(seal(x)) == x`; a tampered, truncated, forged or foreign
//! state never opens; accepted secrets have exactly their documented shape.
#![no_main]

use std::sync::LazyLock;

use arbitrary::Arbitrary;
use auth_service::{
    domain::{
        AuthorizationCode, BrowserBinding, LinkTarget, LoginAttempt, LoginState, RefreshToken,
        StateSealer,
    },
    providers::Provider,
};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    state_id: [u8; 16],
    expires_at: i64,
    binding_hash: [u8; 32],
    nonce: [u8; 16],
    return_to: String,
    provider: u8,
    link: Option<(String, String)>,
    flip_at: usize,
    flip_to: u8,
    cut: usize,
    forged: String,
}

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static SEALER: LazyLock<StateSealer> =
    LazyLock::new(|| StateSealer::new(&[(1, [1; 32]), (2, [2; 32])]).expect("sealer"));
static FOREIGN: LazyLock<StateSealer> =
    LazyLock::new(|| StateSealer::new(&[(2, [3; 32])]).expect("sealer"));

fn is_b64url(s: &str) -> bool {
    s.bytes().all(|b| ALPHABET.contains(&b))
}

fuzz_target!(|input: Input| {
    // Link ids are parsed ids (at most 64 bytes) in every real attempt.
    if input
        .link
        .as_ref()
        .is_some_and(|(u, s)| u.is_empty() || u.len() > 64 || s.len() > 64)
    {
        return;
    }
    let provider = [Provider::Kakao, Provider::Naver, Provider::Google]
        [usize::from(input.provider) % 3];
    let attempt = LoginAttempt {
        state_id: input.state_id,
        expires_at: input.expires_at,
        binding_hash: input.binding_hash,
        nonce: input.nonce,
        return_to: input.return_to,
        provider,
        link: input.link.map(|(user_id, session_id)| LinkTarget {
            user_id,
            session_id,
        }),
    };
    let sealed = SEALER.seal(&attempt);
    let raw = sealed.expose();
    assert_eq!(
        SEALER.open(&sealed).as_ref(),
        Some(&attempt),
        "open(seal(x)) != x"
    );
    assert_eq!(FOREIGN.open(&sealed), None, "a foreign key opened a state");
    if let Ok(echoed) = LoginState::parse(raw) {
        assert_eq!(SEALER.open(&echoed).as_ref(), Some(&attempt));
    } else {
        assert!(
            raw.len() > 4096,
            "a sealed state of {} chars refused",
            raw.len()
        );
    }

    let mut bytes = raw.as_bytes().to_vec();
    let at = input.flip_at % bytes.len();
    let to = ALPHABET[usize::from(input.flip_to) % ALPHABET.len()];
    if bytes[at] != to {
        bytes[at] = to;
        let tampered = String::from_utf8(bytes).expect("base64url is ASCII");
        if let Ok(tampered) = LoginState::parse(&tampered) {
            assert_eq!(
                SEALER.open(&tampered),
                None,
                "a state tampered at {at} opened"
            );
        }
    }
    let cut = &raw[..input.cut % raw.len()];
    if let Ok(truncated) = LoginState::parse(cut) {
        assert_eq!(
            SEALER.open(&truncated),
            None,
            "a state cut at {} opened",
            cut.len()
        );
    }

    let forged = input.forged.as_str();
    if let Ok(state) = LoginState::parse(forged) {
        assert!((1..=4096).contains(&forged.len()) && is_b64url(forged));
        assert_eq!(SEALER.open(&state), None, "a forged state opened");
    }
    if BrowserBinding::parse(forged).is_ok() || RefreshToken::parse(forged).is_ok() {
        assert!(forged.len() == 43 && is_b64url(forged), "{forged:?}");
    }
    if AuthorizationCode::parse(forged).is_ok() {
        assert!((1..=1024).contains(&forged.len()));
        assert!(forged.bytes().all(|b| b.is_ascii_graphic()), "{forged:?}");
    }
});
