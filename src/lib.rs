//! crio-credential-provider: a kubelet image credential provider that writes the pod namespace's
//! pull secrets for registry mirrors into the auth file CRI-O reads for that one pull. A library
//! so that the fuzz targets (`fuzz/`) reach the parsers; `main.rs` is the binary.

#[cfg(all(feature = "rustls", feature = "openssl"))]
compile_error!("choose one TLS backend: the features rustls and openssl exclude each other");
#[cfg(not(any(feature = "rustls", feature = "openssl")))]
compile_error!("choose a TLS backend: feature rustls (the default) or openssl");

pub mod authfile;
pub mod cli;
pub mod files;
pub mod kube;
pub mod kubelet;
pub mod logging;
pub mod mirrors;
pub mod provider;
pub mod registries;
pub mod secrets;
pub mod selinux;
pub mod version;
