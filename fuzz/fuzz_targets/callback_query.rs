//! The login and callback queries, any bytes: a callback that proceeds has
//! exactly one non-empty code and state and a query within the limit, and
//! re-encoding them gives the same decision; a login query over the limit
//! is refused.
#![no_main]

use http_edge::fuzzing::{parse_callback, parse_login};
use libfuzzer_sys::fuzz_target;

const MAX_QUERY_LEN: usize = 4096;

fuzz_target!(|query: &str| {
    match parse_login(query) {
        Ok(_) => assert!(query.len() <= MAX_QUERY_LEN),
        Err(_) => assert!(query.len() > MAX_QUERY_LEN),
    }
    if let Ok((code, state)) = parse_callback(query) {
        assert!(!code.is_empty(), "{query:?}: empty code");
        assert!(!state.is_empty(), "{query:?}: empty state");
        assert!(query.len() <= MAX_QUERY_LEN);
        let mut pairs = 0;
        for (name, _) in url::form_urlencoded::parse(query.as_bytes()) {
            pairs += usize::from(matches!(name.as_ref(), "code" | "state" | "error"));
        }
        assert_eq!(pairs, 2, "{query:?}: repeated or error parameter accepted");
        let again = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("state", &state)
            .append_pair("code", &code)
            .finish();
        if again.len() <= MAX_QUERY_LEN {
            assert_eq!(parse_callback(&again), Ok((code, state)));
        }
    }
});
