//! Kakao's id_token header and JWKS document, read from untrusted bytes:
//! a header is read only from a three-part token, the keys kept are ones
//! the document names, and a JWKS lifetime always stays within its bounds.
#![no_main]

use auth_service::{
    fuzzing,
    kakao_oidc::{MAX_LIFETIME, MIN_LIFETIME},
};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if fuzzing::id_token_header(&text).is_ok() {
        assert_eq!(text.split('.').count(), 3, "{text:?}");
    }
    let lifetime = fuzzing::jwks_lifetime(Some(&text));
    assert!(
        (MIN_LIFETIME..=MAX_LIFETIME).contains(&lifetime),
        "{text:?}: {lifetime:?}"
    );
    if let Some(kids) = fuzzing::jwks_kids(data) {
        let json: Value = serde_json::from_slice(data).expect("it parsed once");
        // serde also reads a struct from its sequence form: `[[keys...]]`.
        let keys = json.get("keys").unwrap_or(&json[0]);
        let named: Vec<&str> = keys
            .as_array()
            .expect("a key list")
            .iter()
            .filter_map(|k| k["kid"].as_str())
            .collect();
        for kid in &kids {
            assert!(
                named.contains(&kid.as_str()),
                "{kid:?} is not in the document"
            );
        }
    }
});
