//! registries.conf: any bytes are read without a panic, and wherever the streaming reader reads a
//! file, the TOML deserializer reads the same.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    crio_credential_provider::fuzzing::fuzz_one_file(bytes);
});
