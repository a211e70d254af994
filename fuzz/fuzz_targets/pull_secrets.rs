//! Pull secrets: any secret data decodes or is refused without a panic; the entries chosen for each
//! reference do not depend on how the entries are spread over secrets kept in order, and which
//! references get one does not depend on the order of the secrets (only ties do: the first wins).
#![no_main]

use crio_credential_provider::fuzzing::{PullSecret, SecretType, choose, decode};
use libfuzzer_sys::fuzz_target;

/// Who serves each reference: the chosen secret's name and the key, as written.
fn choices(secrets: &[PullSecret], references: &[String]) -> Vec<(String, String, String)> {
    choose(secrets, references)
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
        let Ok(entries) = decode(secret_type, bytes) else {
            continue;
        };
        let secret = PullSecret {
            name: "fuzzed".into(),
            entries,
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
        // The same entries in two secrets with the same name, in order and the other way round.
        let (first, second) = secret.entries.split_at(secret.entries.len() / 2);
        let split = |entries: &[_]| PullSecret {
            name: "fuzzed".into(),
            entries: entries.to_vec(),
        };
        let forward = [split(first), split(second)];
        let backward = [split(second), split(first)];
        assert_eq!(choices(&forward, &references), chosen);
        let served = |choices: Vec<(String, String, String)>| -> Vec<String> {
            choices.into_iter().map(|(reference, _, _)| reference).collect()
        };
        assert_eq!(served(choices(&backward, &references)), served(chosen));
    }
});
