//! The API server's answers in Kubernetes' protobuf encoding: any bytes decode or are refused
//! without a panic, and what a list gives is borrowed from the answer itself.
#![no_main]

use crio_credential_provider::fuzzing::{protobuf_status, secret_list};
use libfuzzer_sys::fuzz_target;

/// Whether `part` lies within `whole`.
fn within(part: &[u8], whole: &[u8]) -> bool {
    let range = whole.as_ptr_range();
    part.is_empty() || (range.start <= part.as_ptr() && part.as_ptr_range().end <= range.end)
}

fuzz_target!(|bytes: &[u8]| {
    if let Ok(secrets) = secret_list(bytes, ".dockerconfigjson") {
        for secret in secrets {
            assert!(within(secret.name.as_bytes(), bytes));
            assert!(secret.data.is_none_or(|data| within(data, bytes)));
        }
    }
    if let Ok(status) = protobuf_status(bytes) {
        assert!(within(status.message.as_bytes(), bytes));
        assert!(within(status.reason.as_bytes(), bytes));
    }
});
