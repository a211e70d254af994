//! What the packaging suites share: the repository's files, YAML, Ignition `data:` URLs, the
//! tools they need, and the paths of the files our MachineConfigs put on an OpenShift node.

use std::path::{Path, PathBuf};

use base64::Engine;
use serde_json::Value;

/// The repository's root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A YAML file, parsed; a failure names the file.
pub fn yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The bytes of an Ignition `data:` URL (percent-encoded, or base64).
pub fn decode_data_url(source: &str) -> Vec<u8> {
    let (header, data) = source
        .strip_prefix("data:")
        .and_then(|s| s.split_once(','))
        .expect("a data: URL");
    if header.ends_with(";base64") {
        return base64::engine::general_purpose::STANDARD
            .decode(data)
            .unwrap();
    }
    let bytes = data.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&data[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// Whether `tool` is on the PATH (`super::parts_present`).
pub fn have(tool: &str, test: &str) -> bool {
    super::parts_present(test, false, &[tool], &[])
}

/// The kubelet generator of the generic MachineConfigs.
pub const GENERATOR: &str = "contrib/systemd/system-generators/crio-credential-provider-kubelet";
/// Our kubelet credential provider config on a node of a platform without a cloud provider.
pub const OUR_CONFIG: &str = "/etc/kubernetes/credential-providers/crio-credential-provider.yaml";
/// What the MCO renders for a CRIOCredentialProviderConfig on a platform without a cloud provider
/// (4.22+: helpers.go `generateDropinUnitCredProviderConfig`, constants.go
/// `KubeletCrioImageCredProviderConfPath`).
pub const MCO_CONFIG: &str =
    "/etc/kubernetes/credential-providers/generic-credential-provider.yaml";
