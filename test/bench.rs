//! `make bench`: whole-process runs of the release binary, each scenario beside a floor measured in
//! the same run (`cat` of the same input: the cost of exec'ing any program and feeding it). Reports
//! medians of wall time and CPU time (user + system, from `wait4`), and the peak RSS (`ru_maxrss`,
//! what `/usr/bin/time -f %M` prints). Prints a table and writes `build/bench.json`.
//!
//! `make bench-instructions` (`BENCH_INSTRUCTIONS=<budgets.json>`): each scenario once per build
//! under `valgrind --tool=callgrind`, whose count of instructions does not depend on the machine's
//! load, against the budget committed for it; a path over its budget fails. With
//! `BENCH_UPDATE_BUDGETS=1` the budgets become the counts measured plus 15 %.

#[path = "support/apiserver.rs"]
mod apiserver;

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

/// One whole-process run: wall time and CPU time of the child.
struct Sample {
    wall: Duration,
    cpu: Duration,
}

#[allow(clippy::zombie_processes)] // reaped by wait4, which also gives its resource usage
fn run_once(program: &Path, args: &[String], stdin: &Path) -> Sample {
    let started = Instant::now();
    let child = Command::new(program)
        .args(args)
        .stdin(std::fs::File::open(stdin).unwrap())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    let wall = started.elapsed();
    assert_eq!(pid, child.id() as i32, "wait4 failed");
    let exit = std::process::ExitStatus::from_raw(status);
    assert!(
        exit.success(),
        "{} {args:?} failed: {exit}",
        program.display()
    );
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    Sample {
        wall,
        cpu: time(usage.ru_utime) + time(usage.ru_stime),
    }
}

/// Peak RSS in KiB as `/usr/bin/time -f %M` reports it. (The child's `ru_maxrss` from our own
/// `wait4` would count this process's pages: the child shares them until it execs.)
fn peak_rss_kib(program: &Path, args: &[String], stdin: &Path) -> u64 {
    let output = Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .arg(program)
        .args(args)
        .stdin(std::fs::File::open(stdin).unwrap())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("running /usr/bin/time (Debian package time)");
    assert!(
        output.status.success(),
        "{} failed under /usr/bin/time",
        program.display()
    );
    let stderr = String::from_utf8(output.stderr).unwrap();
    stderr
        .lines()
        .last()
        .and_then(|line| line.trim().parse().ok())
        .expect("a peak RSS from /usr/bin/time")
}

struct Measured {
    wall_ms: f64,
    cpu_ms: f64,
    max_rss_kib: u64,
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn measure(program: &Path, args: &[String], stdin: &Path, runs: usize) -> Measured {
    run_once(program, args, stdin); // warm the page cache
    let samples: Vec<Sample> = (0..runs).map(|_| run_once(program, args, stdin)).collect();
    Measured {
        wall_ms: median(samples.iter().map(|s| s.wall.as_secs_f64() * 1e3).collect()),
        cpu_ms: median(samples.iter().map(|s| s.cpu.as_secs_f64() * 1e3).collect()),
        max_rss_kib: peak_rss_kib(program, args, stdin),
    }
}

/// The instructions one run executes, as callgrind counts them, in an environment with nothing
/// but `PATH`: the environment's size changes what the loader and std do. The profile goes to
/// `profile` (for `callgrind_annotate`), else nowhere.
fn instructions(program: &Path, args: &[String], stdin: &Path, profile: Option<&Path>) -> u64 {
    let out_file = profile.unwrap_or(Path::new("/dev/null"));
    let output = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out_file.display()))
        .arg(program)
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .stdin(std::fs::File::open(stdin).unwrap())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("running valgrind (Debian package valgrind)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{} {args:?} failed under valgrind:\n{stderr}",
        program.display()
    );
    stderr
        .lines()
        .find_map(|line| line.split_once("Collected :")?.1.trim().parse().ok())
        .unwrap_or_else(|| panic!("no instruction count from callgrind:\n{stderr}"))
}

/// `make bench-instructions`: every scenario's count against its budget, per build.
fn guard_instructions(budgets_path: &Path, binaries: &[(String, PathBuf)], scenarios: &[Scenario]) {
    let update = std::env::var_os("BENCH_UPDATE_BUDGETS").is_some();
    // `make bench-profile`: a callgrind profile per build and scenario, in this directory.
    let profiles = std::env::var_os("BENCH_PROFILES").map(PathBuf::from);
    if let Some(dir) = &profiles {
        std::fs::create_dir_all(dir).unwrap();
    }
    let mut budgets: serde_json::Value = match std::fs::read(budgets_path) {
        Ok(bytes) => serde_json::from_slice(&bytes).expect("the budgets are JSON"),
        Err(_) if update => json!({}),
        Err(e) => panic!("{}: {e}", budgets_path.display()),
    };
    let mut over = Vec::new();
    for (backend, binary) in binaries {
        println!(
            "\n{} (TLS {backend}): instructions per run",
            binary.display()
        );
        println!(
            "{:<48} {:>12} {:>12} {:>7}",
            "scenario", "counted", "budget", "of it"
        );
        for scenario in scenarios {
            let profile = profiles.as_ref().map(|dir| {
                let name: String = scenario
                    .name
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                    .collect();
                dir.join(format!("{backend}.{name}.callgrind"))
            });
            let counted = instructions(binary, &scenario.args, &scenario.stdin, profile.as_deref());
            if update {
                budgets[backend.as_str()][scenario.name] = json!(counted + counted * 15 / 100);
            }
            let budget = budgets[backend.as_str()][scenario.name]
                .as_u64()
                .unwrap_or_else(|| panic!("no budget for {backend} {:?}", scenario.name));
            println!(
                "{:<48} {counted:>12} {budget:>12} {:>6.1}%",
                scenario.name,
                counted as f64 * 100.0 / budget as f64
            );
            // A profiling build has symbols and no LTO: its counts are not the release's.
            if counted > budget && profiles.is_none() {
                over.push(format!(
                    "{backend} {:?}: {counted} instructions, budget {budget}",
                    scenario.name
                ));
            }
        }
    }
    if update {
        let text = serde_json::to_string_pretty(&budgets).unwrap();
        std::fs::write(budgets_path, text + "\n").unwrap();
        println!("written: {}", budgets_path.display());
    }
    assert!(over.is_empty(), "over budget:\n{}", over.join("\n"));
}

/// What one run of each path asks of the API server (the stand-in counts it): requests, TLS
/// connections, and the bytes on the wire each way, handshakes included. Printed, and returned
/// for `bench.json`.
fn print_api_load(
    server: &apiserver::FakeApiServer,
    backend: &str,
    binary: &Path,
    paths: &[(&str, Vec<String>, PathBuf)],
) -> serde_json::Value {
    println!(
        "\n{} (TLS {backend}): API load of one pull",
        binary.display()
    );
    println!(
        "{:<28} {:>9} {:>12} {:>14} {:>14}",
        "--secrets-from", "requests", "connections", "bytes sent", "bytes received"
    );
    let mut rows = Vec::new();
    for (mode, args, stdin) in paths {
        let (requests, traffic) = (server.requests().len(), server.traffic());
        run_once(binary, args, stdin);
        let requests = server.requests().len() - requests;
        // The server's side of a closed connection may still be reading the client's goodbye.
        let mut after = server.traffic();
        for _ in 0..100 {
            std::thread::sleep(Duration::from_millis(10));
            let now = server.traffic();
            if now == after {
                break;
            }
            after = now;
        }
        let connections = after.connections - traffic.connections;
        // The server's view: what it received the client sent.
        let sent = after.bytes_received - traffic.bytes_received;
        let received = after.bytes_sent - traffic.bytes_sent;
        println!("{mode:<28} {requests:>9} {connections:>12} {sent:>14} {received:>14}");
        rows.push(json!({
            "secrets_from": mode, "requests": requests, "connections": connections,
            "bytes_sent": sent, "bytes_received": received,
        }));
    }
    serde_json::Value::Array(rows)
}

fn with_secrets_from(mut args: Vec<String>, source: &str) -> Vec<String> {
    args.extend(["--secrets-from".to_string(), source.to_string()]);
    args
}

struct Scenario {
    name: &'static str,
    target: &'static str,
    args: Vec<String>,
    stdin: PathBuf,
    floor_stdin: PathBuf,
    runs: usize,
}

fn main() {
    // `backend=path` pairs: every build of the binary to measure, one per TLS backend.
    let binaries: Vec<(String, PathBuf)> = std::env::var("BENCH_BINARIES")
        .unwrap_or_else(|_| "rustls=build/crio-credential-provider".into())
        .split_whitespace()
        .map(|pair| {
            let (backend, path) = pair
                .split_once('=')
                .expect("BENCH_BINARIES holds backend=path pairs");
            (backend.to_string(), PathBuf::from(path))
        })
        .collect();
    let out =
        PathBuf::from(std::env::var("BENCH_JSON").unwrap_or_else(|_| "build/bench.json".into()));
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);

    let server = apiserver::FakeApiServer::start();
    std::fs::write(path("ca.crt"), &server.ca_pem).unwrap();
    let mirror = "mirror.example.com:5000";
    let secret = apiserver::docker_config_json(&[(mirror, "user", "password")]);
    for (namespace, secrets) in [("one", 1), ("many", 2000)] {
        server.allow_token(&apiserver::service_account_token(namespace), namespace);
        for i in 0..secrets {
            // In the big namespace only the last secret matches the mirror.
            let config = if i + 1 == secrets {
                secret.clone()
            } else {
                apiserver::docker_config_json(&[(&format!("other-{i}.example.com"), "u", "p")])
            };
            server.add_pull_secret(namespace, &format!("pull-{i:04}"), &config);
        }
    }
    // Least privilege: the service account names its pull secrets, and its Role allows getting
    // exactly those (and itself); listing is forbidden.
    for (namespace, secrets) in [("named-one", 1), ("named-twenty", 20)] {
        let token = apiserver::service_account_token(namespace);
        server.add_account(&token, namespace, "default");
        let names: Vec<String> = (0..secrets).map(|i| format!("pull-{i:02}")).collect();
        for (i, name) in names.iter().enumerate() {
            // Only the last named secret matches the mirror.
            let config = if i + 1 == secrets {
                secret.clone()
            } else {
                apiserver::docker_config_json(&[(&format!("other-{i}.example.com"), "u", "p")])
            };
            server.add_pull_secret(namespace, name, &config);
        }
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        server.add_service_account(namespace, "default", &names);
        server.grant(
            namespace,
            "default",
            &["get"],
            "serviceaccounts",
            &["default"],
        );
        server.grant(namespace, "default", &["get"], "secrets", &names);
        // `--secrets-from pod`: the token's pod names the same secrets.
        server.add_pod(namespace, apiserver::POD_NAME, apiserver::POD_UID, &names);
        server.grant(
            namespace,
            "default",
            &["get"],
            "pods",
            &[apiserver::POD_NAME],
        );
    }
    std::fs::write(
        path("registries.conf"),
        format!(
            "[[registry]]\nlocation = \"docker.io\"\n[[registry.mirror]]\nlocation = \"{mirror}\"\n"
        ),
    )
    .unwrap();
    let mut big = String::with_capacity(2 << 20);
    for i in 0..10_000 {
        big.push_str(&format!(
            "[[registry]]\nprefix = \"registry-{i}.example.com/team\"\nlocation = \"registry-{i}.example.com/team\"\n[[registry.mirror]]\nlocation = \"mirror-{i}.example.com/team\"\n"
        ));
    }
    std::fs::write(path("big.conf"), big).unwrap();
    // A file at the size limit that is almost all blank lines: reading must stay linear.
    let entry = "[[registry]]\nlocation = \"docker.io\"\n[[registry.mirror]]\nlocation = \"mirror.example.com:5000\"\n";
    let mut blank = "\n".repeat(4 * 1024 * 1024 - entry.len());
    blank.push_str(entry);
    std::fs::write(path("blank.conf"), blank).unwrap();
    std::fs::create_dir(path("registries.conf.d")).unwrap();
    // One entry in each of 4,000 drop-ins: merging must cost the same per entry as in one file.
    std::fs::create_dir(path("drop-ins")).unwrap();
    for i in 0..4_000 {
        std::fs::write(
            path(&format!("drop-ins/{i:04}.conf")),
            format!(
                "[[registry]]\nlocation = \"registry-{i}.example.com\"\n[[registry.mirror]]\nlocation = \"mirror-{i}.example.com\"\n"
            ),
        )
        .unwrap();
    }
    let request = |name: &str, image: &str, namespace: &str| -> PathBuf {
        let file = path(name);
        let body = json!({"apiVersion": "credentialprovider.kubelet.k8s.io/v1", "kind": "CredentialProviderRequest",
                          "image": image, "serviceAccountToken": apiserver::service_account_token(namespace)});
        std::fs::write(&file, body.to_string()).unwrap();
        file
    };
    let no_mirror = request("no-mirror.json", "quay.io/team/app", "one");
    let mirrored = request("mirror.json", "docker.io/library/nginx", "one");
    let many = request("many.json", "docker.io/library/nginx", "many");
    let big_image = request("big.json", "registry-5000.example.com/elsewhere/app", "one");
    let named_one = request("named-one.json", "docker.io/library/nginx", "named-one");
    let named_twenty = request(
        "named-twenty.json",
        "docker.io/library/nginx",
        "named-twenty",
    );
    let node_args_with = |conf: &str, drop_ins: &str| -> Vec<String> {
        [
            ("--config", path("crio-credential-provider.conf")),
            ("--registries-conf", path(conf)),
            ("--registries-conf-dir", path(drop_ins)),
            ("--auth-dir", path("auth")),
            ("--global-auth-file", path("config.json")),
            ("--kube-config-dir", path("kubernetes")),
            ("--ca-file", path("ca.crt")),
        ]
        .into_iter()
        .flat_map(|(flag, value)| [flag.to_string(), value.display().to_string()])
        .chain(["--api-server".to_string(), server.url.clone()])
        .collect()
    };
    let node_args = |conf: &str| node_args_with(conf, "registries.conf.d");
    let scenarios = [
        Scenario {
            name: "registries.conf missing",
            target: "<= 1.5x floor",
            args: node_args("missing.conf"),
            stdin: no_mirror.clone(),
            floor_stdin: no_mirror.clone(),
            runs: 50,
        },
        Scenario {
            name: "no mirror for the image",
            target: "<= 2x floor",
            args: node_args("registries.conf"),
            stdin: no_mirror.clone(),
            floor_stdin: no_mirror.clone(),
            runs: 50,
        },
        Scenario {
            name: "mirror, 1 secret (TLS, list, write)",
            target: "<= 10 ms CPU",
            args: node_args("registries.conf"),
            stdin: mirrored.clone(),
            floor_stdin: mirrored.clone(),
            runs: 30,
        },
        Scenario {
            name: "mirror, 2,000 secrets",
            target: "<= 40 ms CPU",
            args: node_args("registries.conf"),
            stdin: many.clone(),
            floor_stdin: many.clone(),
            runs: 10,
        },
        Scenario {
            name: "service-account, 1 named secret",
            target: "<= 1-secret list + 1 ms CPU",
            args: with_secrets_from(node_args("registries.conf"), "service-account"),
            stdin: named_one.clone(),
            floor_stdin: named_one.clone(),
            runs: 30,
        },
        Scenario {
            name: "service-account, 20 named secrets",
            target: "one round trip for all",
            args: with_secrets_from(node_args("registries.conf"), "service-account"),
            stdin: named_twenty.clone(),
            floor_stdin: named_twenty.clone(),
            runs: 30,
        },
        Scenario {
            name: "auto, list forbidden, 1 named secret",
            target: "-",
            args: node_args("registries.conf"),
            stdin: named_one.clone(),
            floor_stdin: named_one.clone(),
            runs: 30,
        },
        Scenario {
            name: "4 MiB of blank lines, one entry",
            target: "<= 50 ms wall",
            args: node_args("blank.conf"),
            stdin: no_mirror.clone(),
            floor_stdin: path("blank.conf"),
            runs: 10,
        },
        Scenario {
            name: "4,000 registries.conf drop-ins, one entry each",
            target: "<= 2x 10,000 entries in one file",
            args: node_args_with("registries.conf", "drop-ins"),
            stdin: no_mirror.clone(),
            floor_stdin: no_mirror.clone(),
            runs: 5,
        },
        Scenario {
            name: "10,000 registries.conf entries",
            target: "<= 50 ms wall",
            args: node_args("big.conf"),
            stdin: big_image.clone(),
            floor_stdin: path("big.conf"),
            runs: 10,
        },
    ];

    // What one pull asks of the API server in each `--secrets-from` mode.
    let load_paths = [
        (
            "namespace",
            with_secrets_from(node_args("registries.conf"), "namespace"),
            mirrored.clone(),
        ),
        (
            "service-account (1 named)",
            with_secrets_from(node_args("registries.conf"), "service-account"),
            named_one.clone(),
        ),
        (
            "service-account (20 named)",
            with_secrets_from(node_args("registries.conf"), "service-account"),
            named_twenty.clone(),
        ),
        (
            "pod (1 named)",
            with_secrets_from(node_args("registries.conf"), "pod"),
            named_one.clone(),
        ),
        (
            "auto, list allowed",
            node_args("registries.conf"),
            mirrored.clone(),
        ),
        (
            "auto, list forbidden",
            node_args("registries.conf"),
            named_one.clone(),
        ),
    ];
    let api_loads: Vec<serde_json::Value> = binaries
        .iter()
        .map(|(backend, binary)| print_api_load(&server, backend, binary, &load_paths))
        .collect();

    // `BENCH_ONLY=<part of a name>`: those scenarios alone (measuring or profiling one path).
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let scenarios: Vec<Scenario> = scenarios
        .into_iter()
        .filter(|scenario| scenario.name.contains(only.as_str()))
        .collect();
    if let Some(budgets) = std::env::var_os("BENCH_INSTRUCTIONS") {
        guard_instructions(Path::new(&budgets), &binaries, &scenarios);
        return;
    }
    let cat = PathBuf::from("/bin/cat");
    let mut reports = Vec::new();
    for (backend, binary) in &binaries {
        let size = std::fs::metadata(binary)
            .unwrap_or_else(|e| panic!("{}: {e} (make bench builds it)", binary.display()))
            .len();
        println!(
            "\ncrio-credential-provider bench: {} ({size} bytes, TLS {backend}), medians of whole-process runs",
            binary.display()
        );
        println!(
            "{:<38} {:>9} {:>9} {:>9} {:>9} {:>7} {:>9}  target",
            "scenario", "wall ms", "floor ms", "ratio", "cpu ms", "runs", "peak KiB"
        );
        let mut rows = Vec::new();
        for scenario in &scenarios {
            let floor = measure(&cat, &[], &scenario.floor_stdin, scenario.runs);
            let measured = measure(binary, &scenario.args, &scenario.stdin, scenario.runs);
            let ratio = measured.wall_ms / floor.wall_ms;
            println!(
                "{:<38} {:>9.2} {:>9.2} {:>8.2}x {:>9.2} {:>7} {:>9}  {}",
                scenario.name,
                measured.wall_ms,
                floor.wall_ms,
                ratio,
                measured.cpu_ms,
                scenario.runs,
                measured.max_rss_kib,
                scenario.target
            );
            rows.push(json!({
                "scenario": scenario.name, "target": scenario.target, "runs": scenario.runs,
                "wall_ms": measured.wall_ms, "cpu_ms": measured.cpu_ms, "peak_rss_kib": measured.max_rss_kib,
                "floor_wall_ms": floor.wall_ms, "floor_cpu_ms": floor.cpu_ms, "ratio_to_floor": ratio,
            }));
        }
        let _ = std::fs::remove_dir_all(path("auth"));
        println!(
            "stripped binary: {size} bytes ({:.2} MiB), target <= 8 MiB; peak RSS target <= 8 MiB (8192 KiB) on every path",
            size as f64 / 1048576.0
        );
        reports.push(json!({
            "tls_backend": backend, "binary": binary.display().to_string(), "binary_bytes": size,
            "scenarios": rows, "api_load": api_loads[reports.len()],
        }));
    }
    let report = json!({
        "machine": {"cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)},
        "builds": reports,
    });
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    let mut file = std::fs::File::create(&out).unwrap();
    writeln!(file, "{}", serde_json::to_string_pretty(&report).unwrap()).unwrap();
    println!("written: {}", out.display());
}
