//! Pull secrets: any secret data decodes or is refused without a panic, and the entries chosen for
//! each reference do not depend on how the entries are spread over secrets or listed.
#![no_main]

use crio_credential_provider::secrets::{self, PullSecret, SecretType};
use libfuzzer_sys::fuzz_target;

/// Who serves each reference: the chosen secret's name and the key, as written.
fn choices(secrets: &[PullSecret], references: &[String]) -> Vec<(String, String, String)> {
    secrets::choose(secrets, references)
        .iter()
        .map(|c| {
            (
                c.reference.to_string(),
                c.secret.to_string(),
                c.key.to_string(),
            )
        })
        .collect()
}

fuzz_target!(|bytes: &[u8]| {
    for secret_type in [SecretType::DockerConfigJson, SecretType::DockerCfg] {
        let Ok(secret) = secrets::decode("fuzzed", secret_type, bytes) else {
            continue;
        };
        let mut references: Vec<String> = [
            "docker.io/library/nginx",
            "index.docker.io/library/nginx",
            "mirror.local:5000/library/nginx",
            "[fd00::1]:5000/team/app",
            "localhost/app",
        ]
        .map(String::from)
        .to_vec();
        for (key, _) in &secret.entries {
            references.push(key.clone());
            references.push(format!("{key}/app"));
        }
        let chosen = choices(std::slice::from_ref(&secret), &references);
        assert!(chosen.len() <= references.len());
        // The same entries in two secrets with the same name, listed in either order.
        let (first, second) = secret.entries.split_at(secret.entries.len() / 2);
        let split = |entries: &[_]| PullSecret {
            name: "fuzzed".into(),
            entries: entries.to_vec(),
        };
        let forward = [split(first), split(second)];
        let backward = [split(second), split(first)];
        assert_eq!(choices(&forward, &references), chosen);
        assert_eq!(choices(&backward, &references), chosen);
    }
});
