//! The auth file: any global pull secret merges with the chosen credentials without a panic, and
//! the file holds every chosen credential under its reference, beside the global entries.
#![no_main]

use crio_credential_provider::fuzzing::{Chosen, Credential, merge};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|bytes: &[u8]| {
    let global: Option<Value> = serde_json::from_slice(bytes).ok();
    // The global file's own keys among the references, so that namespace entries replace some.
    let mut references = vec!["mirror.local:5000/library/nginx".to_string()];
    if let Some(Value::Object(auths)) = global.as_ref().and_then(|g| g.get("auths")) {
        references.extend(auths.keys().cloned());
    }
    let credential = Credential {
        username: "user".into(),
        password: "password".into(),
        identity_token: String::new(),
    };
    let chosen: Vec<Chosen<'_>> = references
        .iter()
        .map(|reference| Chosen {
            reference,
            secret: "fuzzed",
            key: "mirror.local:5000",
            credential: &credential,
        })
        .collect();
    let (document, entries) = merge(global, &chosen);
    let auths = document["auths"].as_object().expect("auths is an object");
    assert_eq!(auths.len(), entries);
    for reference in &references {
        assert_eq!(auths[reference], credential.auth_entry());
    }
    serde_json::to_vec(&document).expect("the file serializes");
});
