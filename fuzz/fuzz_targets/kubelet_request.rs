//! The kubelet request on stdin and the service-account token in it: decoded without a panic, and
//! a namespace is only ever one that can be part of a file name.
#![no_main]

use crio_credential_provider::kubelet;
use libfuzzer_sys::fuzz_target;
use secrecy::SecretString;

fn check_namespace(token: &SecretString) {
    if let Ok(namespace) = kubelet::token_namespace(token) {
        assert!(
            (1..=63).contains(&namespace.len())
                && namespace
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "{namespace:?}"
        );
    }
}

fuzz_target!(|bytes: &[u8]| {
    if let Ok(request) = kubelet::parse_request(bytes) {
        assert!(!request.image.is_empty());
        if let Some(token) = &request.service_account_token {
            check_namespace(token);
        }
    }
    // The token alone, so that the fuzzer need not wrap it in a request first.
    if let Ok(token) = std::str::from_utf8(bytes) {
        check_namespace(&SecretString::from(token));
    }
});
