//! The stand-in API server as a program, for `make demo`: serves one namespace's pull secrets,
//! writes its URL, CA and a service-account token for that namespace into a directory, and runs
//! until it is killed.
//!
//! Usage: fake-apiserver --dir DIR --namespace NS [--pull-secret NAME=DOCKERCONFIGJSON_FILE]...

#[path = "support/apiserver.rs"]
mod apiserver;

fn main() {
    let mut dir = None;
    let mut namespace = None;
    let mut pull_secrets = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args
            .next()
            .unwrap_or_else(|| usage(&format!("{arg} needs a value")));
        match arg.as_str() {
            "--dir" => dir = Some(std::path::PathBuf::from(value)),
            "--namespace" => namespace = Some(value),
            "--pull-secret" => pull_secrets.push(value),
            _ => usage(&format!("unknown argument {arg}")),
        }
    }
    let dir = dir.unwrap_or_else(|| usage("--dir is required"));
    let namespace = namespace.unwrap_or_else(|| usage("--namespace is required"));
    let server = apiserver::FakeApiServer::start();
    let token = apiserver::service_account_token(&namespace);
    server.allow_token(&token, &namespace);
    for secret in pull_secrets {
        let (name, file) = secret
            .split_once('=')
            .unwrap_or_else(|| usage("--pull-secret takes NAME=FILE"));
        let content = std::fs::read_to_string(file)
            .unwrap_or_else(|e| usage(&format!("reading {file}: {e}")));
        server.add_pull_secret(&namespace, name, &content);
    }
    std::fs::write(dir.join("ca.crt"), &server.ca_pem).expect("writing ca.crt");
    std::fs::write(dir.join("token"), &token).expect("writing token");
    // Written last: its presence tells a waiting script that the server is ready.
    std::fs::write(dir.join("url"), &server.url).expect("writing url");
    eprintln!(
        "fake-apiserver: serving namespace {namespace} at {}",
        server.url
    );
    loop {
        std::thread::park();
    }
}

fn usage(problem: &str) -> ! {
    eprintln!(
        "fake-apiserver: {problem}\nusage: fake-apiserver --dir DIR --namespace NS [--pull-secret NAME=FILE]..."
    );
    std::process::exit(2);
}
