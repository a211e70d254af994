//! The test tree: Cargo.toml has `autotests = false`, so a file under test/ that no target names is
//! never built and its tests never run. Each one must be a `[[test]]`, `[[bench]]` or `[[example]]`.

use std::path::{Component, Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `path` without `.` components, as Cargo resolves it from the package root.
fn normalized(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| *c != Component::CurDir)
        .collect()
}

/// The paths the `[[test]]`, `[[bench]]` and `[[example]]` targets of Cargo.toml name.
fn target_paths() -> Vec<PathBuf> {
    let manifest: toml::Table =
        toml::from_str(&std::fs::read_to_string(root().join("Cargo.toml")).unwrap()).unwrap();
    ["test", "bench", "example"]
        .iter()
        .filter_map(|kind| manifest.get(*kind)?.as_array())
        .flatten()
        .filter_map(|target| target.get("path")?.as_str())
        .map(|path| normalized(Path::new(path)))
        .collect()
}

#[test]
fn every_rust_file_under_test_is_a_registered_target() {
    let registered = target_paths();
    let mut unregistered: Vec<String> = std::fs::read_dir(root().join("test"))
        .unwrap()
        .map(|entry| Path::new("test").join(entry.unwrap().file_name()))
        .filter(|path| path.extension().is_some_and(|e| e == "rs"))
        .filter(|path| root().join(path).is_file() && !registered.contains(path))
        .map(|path| path.display().to_string())
        .collect();
    unregistered.sort();
    assert!(
        unregistered.is_empty(),
        "named by no [[test]], [[bench]] or [[example]] of Cargo.toml, so never built: {unregistered:?}"
    );
}
