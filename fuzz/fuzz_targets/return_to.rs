//! `ReturnTo::parse` (the open-redirect guard) on any string: what it
//! accepts is on an allowed origin, plain http(s) without credentials, was
//! not a scheme-relative, backslash or whitespace trick, re-parses to
//! itself, and is followed by the edge to the same place.
#![no_main]

use std::sync::LazyLock;

use auth_service::domain::{AllowedOrigins, ReturnTo};
use http_edge::fuzzing::landing_url;
use libfuzzer_sys::fuzz_target;
use url::Url;

struct Setup {
    frontend: Url,
    allowed: AllowedOrigins,
    serialized: Vec<String>,
}

static SETUP: LazyLock<Setup> = LazyLock::new(|| {
    let frontend = Url::parse("https://app.example.com/home").expect("frontend URL");
    let allowed = AllowedOrigins::parse_list(
        "https://admin.example.com, http://localhost:3000",
        &frontend,
    )
    .expect("allowed origins");
    let serialized = [
        "https://app.example.com",
        "https://admin.example.com",
        "http://localhost:3000",
    ]
    .map(str::to_owned)
    .to_vec();
    Setup {
        frontend,
        allowed,
        serialized,
    }
});

fuzz_target!(|raw: &str| {
    let s = &*SETUP;
    let Ok(accepted) = ReturnTo::parse(raw, &s.frontend, &s.allowed) else {
        return;
    };
    let out = accepted.as_str();
    let url = Url::parse(out).expect("an accepted return_to is an absolute URL");
    assert!(s.allowed.contains(&url), "{raw:?} -> {out}: foreign origin");
    assert!(matches!(url.scheme(), "http" | "https"), "{raw:?} -> {out}");
    assert!(
        url.username().is_empty() && url.password().is_none(),
        "{raw:?} -> {out}"
    );
    assert!(url.host_str().is_some(), "{raw:?} -> {out}");
    assert!(!raw.starts_with("//"), "scheme-relative {raw:?} accepted");
    assert!(!raw.contains('\\'), "backslash {raw:?} accepted");
    assert!(
        !raw.chars().any(|c| c.is_control() || c.is_whitespace()),
        "whitespace or control {raw:?} accepted"
    );
    if raw.starts_with('/') {
        assert_eq!(
            url.origin(),
            s.frontend.origin(),
            "{raw:?}: a path left the frontend"
        );
    }
    assert!(
        !out.chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\'),
        "{raw:?} -> {out:?}"
    );
    if out.len() <= 2048 {
        let again = ReturnTo::parse(out, &s.frontend, &s.allowed)
            .unwrap_or_else(|e| panic!("{raw:?} -> {out}: refused on re-parse ({e})"));
        assert_eq!(again.as_str(), out, "{raw:?}: not stable");
    }
    let stored = ReturnTo::from_stored(out).expect("a stored return_to re-reads");
    assert_eq!(stored.as_str(), out);
    let landing = landing_url(s.frontend.clone(), s.serialized.clone(), out);
    assert_eq!(landing.as_deref(), Some(out), "the edge refuses {out}");
});
