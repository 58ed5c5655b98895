//! Reading cookies from any `Cookie` headers, and building `Set-Cookie`
//! from any value: a read value is never empty and never holds `;`; a value
//! the edge sets cannot add an attribute and is read back as itself.
#![no_main]

use http_edge::{
    ACCESS_COOKIE, BINDING_COOKIE, REFRESH_COOKIE,
    fuzzing::{HeaderMap, HeaderValue, access_cookie, read_cookie},
};
use libfuzzer_sys::fuzz_target;

// Each line of the input is one `Cookie` header, and a value to set.
fuzz_target!(|data: &[u8]| {
    let lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    let mut headers = HeaderMap::new();
    for raw in &lines {
        if let Ok(value) = HeaderValue::from_bytes(raw) {
            headers.append("cookie", value);
        }
    }
    for name in [ACCESS_COOKIE, REFRESH_COOKIE, BINDING_COOKIE, "x"] {
        if let Some(value) = read_cookie(&headers, name) {
            assert!(!value.is_empty(), "{name}: empty value read");
            assert!(!value.contains(';'), "{name}: {value:?} holds ';'");
            assert!(
                lines
                    .iter()
                    .any(|h| h.windows(value.len()).any(|w| w == value.as_bytes())),
                "{name}: {value:?} is in no header"
            );
        }
    }

    for value in lines.iter().filter_map(|l| std::str::from_utf8(l).ok()) {
        set_and_read_back(value);
    }
});

fn set_and_read_back(value: &str) {
    if let Some(set) = access_cookie(value) {
        let set = set.to_str().expect("a visible-ASCII header");
        let expected = format!("{ACCESS_COOKIE}={value}; ");
        assert!(set.starts_with(&expected), "{set:?}");
        assert!(
            !value
                .bytes()
                .any(|b| matches!(b, b';' | b',' | b' ' | b'"' | b'\\') || !b.is_ascii_graphic()),
            "{value:?} was set"
        );
        let mut echoed = HeaderMap::new();
        let cookie = format!("theme=dark; {ACCESS_COOKIE}={value}; other=1");
        echoed.append("cookie", HeaderValue::from_str(&cookie).expect("a header"));
        assert_eq!(read_cookie(&echoed, ACCESS_COOKIE).as_deref(), Some(value));
    }
}
