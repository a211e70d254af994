//! The kubelet request on stdin and the service-account token in it: decoded without a panic; a
//! namespace is only ever one that can be part of a file name, and a service account or pod name
//! only ever one that cannot change a request path.
#![no_main]

use crio_credential_provider::fuzzing::{parse_request, token_claims};
use libfuzzer_sys::fuzz_target;
use secrecy::SecretString;

fn check_claims(token: &SecretString) {
    let Ok(claims) = token_claims(token) else {
        return;
    };
    let namespace = &claims.namespace;
    assert!(
        (1..=63).contains(&namespace.len())
            && namespace
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
        "{namespace:?}"
    );
    let names = claims.service_account.iter().chain(claims.pod.iter().map(|p| &p.name));
    for name in names {
        assert!(
            !name.is_empty()
                && name.len() <= 253
                && !name.split('.').any(str::is_empty)
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.'),
            "{name:?}"
        );
    }
}

fuzz_target!(|bytes: &[u8]| {
    if let Ok(request) = parse_request(bytes) {
        assert!(!request.image.is_empty());
        if let Some(token) = &request.service_account_token {
            check_claims(token);
        }
    }
    // The token alone, so that the fuzzer need not wrap it in a request first.
    if let Ok(token) = std::str::from_utf8(bytes) {
        check_claims(&SecretString::from(token));
    }
});
