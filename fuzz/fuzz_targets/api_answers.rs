//! The API server's answers in Kubernetes' protobuf encoding: any bytes decode or are refused
//! without a panic; a list read in two parts, split anywhere, gives what it gives read at once,
//! the same secrets or the same error; and what a `Status` gives is borrowed from the answer
//! itself.
#![no_main]

use crio_credential_provider::fuzzing::{SecretListReader, protobuf_status};
use libfuzzer_sys::fuzz_target;

/// Whether `part` lies within `whole`.
fn within(part: &[u8], whole: &[u8]) -> bool {
    let range = whole.as_ptr_range();
    part.is_empty() || (range.start <= part.as_ptr() && part.as_ptr_range().end <= range.end)
}

/// The secrets of a list answer read in the given parts: (name, value of the data key), or the
/// error.
fn read(parts: &[&[u8]]) -> Result<Vec<(String, Option<Vec<u8>>)>, String> {
    let mut reader = SecretListReader::new(".dockerconfigjson");
    let mut secrets = Vec::new();
    for part in parts {
        reader
            .read(part, &mut |secret| {
                secrets.push((secret.name.to_string(), secret.data.map(<[u8]>::to_vec)));
            })
            .map_err(|e| e.to_string())?;
    }
    reader.finish().map_err(|e| e.to_string())?;
    Ok(secrets)
}

fuzz_target!(|bytes: &[u8]| {
    // Where to split: the first two bytes read as a number.
    let number = bytes.iter().take(2).fold(0, |n, &b| n << 8 | usize::from(b));
    let split = number % (bytes.len() + 1);
    let (first, second) = bytes.split_at(split);
    assert_eq!(read(&[bytes]), read(&[first, second]), "split at {split}");
    if let Ok(status) = protobuf_status(bytes) {
        assert!(within(status.message.as_bytes(), bytes));
        assert!(within(status.reason.as_bytes(), bytes));
    }
});
