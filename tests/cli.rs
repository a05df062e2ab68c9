//! The real binary, with no cluster: help, version, argument validation, kubeconfig problems and
//! an unreachable server, each with the exit code of the contract (cli-contract.md, "Exit codes").

#[path = "e2e/proc.rs"]
mod proc;

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use proc::{Cmd, Output};

const PERCENT_MESSAGE: &str = "percent must be an integer from 0 to 100";

/// A fresh directory under cargo's per-target temporary directory.
fn scratch(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "cli-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// A loopback port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    drop(l);
    port
}

/// A kubeconfig whose only context points at `server` (token user, TLS not verified).
fn kubeconfig(server: &str) -> PathBuf {
    let dir = scratch("kubeconfig");
    let path = dir.join("config");
    let text = format!(
        "apiVersion: v1
kind: Config
clusters:
- name: c1
  cluster:
    server: {server}
    insecure-skip-tls-verify: true
users:
- name: u1
  user:
    token: not-a-real-token
contexts:
- name: ctx1
  context:
    cluster: c1
    user: u1
    namespace: ns1
current-context: ctx1
"
    );
    std::fs::write(&path, text).expect("write kubeconfig");
    path
}

/// A kubeconfig pointing at a closed loopback port, and its server URL.
fn unreachable() -> (PathBuf, String) {
    let server = format!("https://127.0.0.1:{}", closed_port());
    (kubeconfig(&server), server)
}

fn plugin<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    // HOME points at an empty directory: no ~/.kube/config of the machine can leak in.
    Cmd::plugin()
        .env("HOME", scratch("home").display().to_string())
        .env_remove("KUBERNETES_SERVICE_HOST")
        .args(args)
        .run()
}

#[test]
fn help_lists_every_subcommand_and_the_exit_codes() {
    let out = plugin(["--help"]);
    out.ok();
    for word in [
        "set",
        "promote",
        "rollback",
        "tag-routing",
        "status",
        "wait",
        "completion",
        "version",
        "--kubeconfig",
        "--context",
        "--namespace",
        "Exit codes",
    ] {
        out.stdout_has(word);
    }
    assert!(out.stderr.is_empty(), "help goes to stdout only\n{}", out.describe());
    let set = plugin(["set", "--help"]);
    set.ok().stdout_has("--model-uri").stdout_has("--wait").stdout_has("--dry-run").stdout_has("--print-patch");
    plugin(["canary", "--help"]).ok().stdout_has("--model-uri");
    plugin(["wait", "--help"]).ok().stdout_has("--for");
}

#[test]
fn help_is_kubectls_usage_own_flags_then_global_flags() {
    let globals = ["--kubeconfig", "--context", "--namespace", "--request-timeout", "--no-headers", "--v", "--yes"];
    for (sub, usage, own) in [
        ("set", "kubectl isvc-canary set [NAME] PERCENT [flags]", "--model-uri"),
        ("canary", "kubectl isvc-canary set [NAME] PERCENT [flags]", "--model-uri"),
        ("promote", "kubectl isvc-canary promote [NAME] [flags]", "--force"),
        ("rollback", "kubectl isvc-canary rollback [NAME] [flags]", "--dry-run"),
        ("tag-routing", "kubectl isvc-canary tag-routing [NAME] on|off [flags]", "--input"),
        ("status", "kubectl isvc-canary status [NAME] [flags]", "--all-namespaces"),
        ("wait", "kubectl isvc-canary wait [NAME] --for=STATE [flags]", "--for"),
        ("completion", "kubectl isvc-canary completion bash|zsh|fish|powershell [flags]", "--help"),
        ("version", "kubectl isvc-canary version [flags]", "--output"),
    ] {
        let out = plugin([sub, "--help"]);
        out.ok().stdout_has(&format!("Usage: {usage}\n"));
        let text = &out.stdout;
        assert!(!text.contains("NAME_OR_") && !text.contains("kubectl-isvc_canary"), "{}", out.describe());
        let heading = text.find("\nGlobal flags:\n").unwrap_or_else(|| panic!("no Global flags\n{}", out.describe()));
        let own_at = text.find(own).unwrap();
        assert!(own_at < heading, "{sub}: {own} is not before the global flags\n{}", out.describe());
        for g in globals {
            let at = text.find(&format!("{g} ")).or_else(|| text.find(&format!("{g}\n"))).unwrap();
            assert!(at > heading, "{sub}: {g} is not under Global flags\n{}", out.describe());
        }
    }
    plugin(["--help"]).ok().stdout_has("Usage: kubectl isvc-canary COMMAND [flags]\n").stdout_has("\nGlobal flags:\n");
    // Each command's -o lists only the formats it prints (the help wraps: compare words).
    let words = |args: &[&str]| plugin(args).stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    for (sub, formats) in [
        ("set", "json, yaml, name]"),
        ("wait", "json, yaml, name]"),
        ("status", "json, yaml, wide]"),
        ("version", "[possible values: json]"),
    ] {
        let text = words(&[sub, "--help"]);
        let at = text.find("-o, --output <FORMAT>").unwrap_or_else(|| panic!("{sub}: no -o\n{text}"));
        let values = &text[at..];
        let values = &values[..values.find(']').unwrap() + 1];
        assert!(values.ends_with(formats), "{sub}: {values}");
    }
}

#[test]
fn bare_command_prints_the_help_on_stdout() {
    let out = plugin(Vec::<&str>::new());
    out.ok().stdout_has("Usage: kubectl isvc-canary COMMAND [flags]").stdout_has("Commands:");
    assert!(out.stderr.is_empty(), "{}", out.describe());
    assert_eq!(out.stdout, plugin(["--help"]).stdout);
}

#[test]
fn version_flag_and_subcommand() {
    let want = format!("kubectl-isvc_canary {}\n", env!("CARGO_PKG_VERSION"));
    plugin(["--version"]).ok().stdout_is(&want);
    plugin(["version"]).ok().stdout_is(&want);
    let json = format!("{{\"version\":\"{}\"}}\n", env!("CARGO_PKG_VERSION"));
    plugin(["version", "-o", "json"]).ok().stdout_is(&json);
    // Before the subcommand, as before.
    plugin(["-o", "json", "version"]).ok().stdout_is(&json);
    plugin(["version", "-o", "yaml"]).code(2);
}

#[test]
fn each_command_takes_only_its_output_formats() {
    let (config, server) = unreachable();
    let c = config.to_str().unwrap();
    for args in [
        vec!["set", "x", "10", "-o", "wide"],
        vec!["promote", "x", "-o", "wide"],
        vec!["rollback", "x", "--output=wide"],
        vec!["tag-routing", "x", "on", "-o", "wide"],
        vec!["wait", "x", "--for=ready", "-o", "wide"],
        vec!["status", "-o", "name"],
        vec!["-o", "name", "status"],
        vec!["-o", "wide", "promote", "x"],
    ] {
        let out = plugin([&["--kubeconfig", c][..], &args[..]].concat());
        out.code(2);
        assert!(!out.stderr.contains(&server), "refused before any request\n{}", out.describe());
    }
    // Accepted formats get to the request (exit 1: nothing listens), on either side.
    for args in [
        vec!["set", "x", "10", "-o", "name"],
        vec!["status", "-o", "wide"],
        vec!["-o", "json", "status"],
        vec!["-o", "yaml", "promote", "x"],
    ] {
        plugin([&["--kubeconfig", c][..], &args[..]].concat()).code(1).stderr_has(&server);
    }
}

#[test]
fn mistakes_are_named_with_their_fix_before_any_request() {
    let (config, server) = unreachable();
    let c = config.to_str().unwrap();
    for (args, want) in [
        (vec!["set", "10", "gs://b/model"], "did you mean --model-uri gs://b/model?"),
        (vec!["set", "sklearn-iris", "10", "s3://m/v3"], "did you mean --model-uri s3://m/v3?"),
        (vec!["promote", "gs://b/model"], "--model-uri gs://b/model"),
        (vec!["set", "sklearn-iris"], "PERCENT is missing: kubectl isvc-canary set sklearn-iris PERCENT"),
        (vec!["canary", "sklearn-iris", "--wait"], "PERCENT is missing: kubectl isvc-canary set sklearn-iris PERCENT"),
        (vec!["set"], "PERCENT is missing: kubectl isvc-canary set [NAME] PERCENT"),
        (vec!["set", "sklearn-iris", "10", "--dry-run", "client"], "use --dry-run=client"),
        (vec!["set", "10", "--dry-run", "server"], "use --dry-run=server"),
        (vec!["promote", "--dry-run", "client"], "use --dry-run=client"),
        (vec!["set", "a", "10", "extra"], "unexpected argument 'extra'"),
        (vec!["promote", "a", "b"], "unexpected argument 'b'"),
        (vec!["tag-routing"], "on or off is missing"),
    ] {
        let out = plugin([&["--kubeconfig", c][..], &args[..]].concat());
        out.code(2).stderr_has(want);
        assert_eq!(out.stderr.lines().count(), 1, "one line\n{}", out.describe());
        assert!(out.stderr.starts_with("error: "), "{}", out.describe());
        assert!(!out.stderr.contains(&server) && out.stdout.is_empty(), "{}", out.describe());
    }
}

#[test]
fn every_bad_percent_is_a_usage_error() {
    let (config, _) = unreachable();
    let config = config.display().to_string();
    let bad = ["-1", "101", "10.5", "ten", "", "010", "00", "+5", " 5", "5 ", "1e2", "0x10", "1000", "-0", "٣"];
    for p in bad {
        for args in [vec!["set", p], vec!["set", "sklearn-iris", p], vec!["canary", "sklearn-iris", p]] {
            let out = plugin([&["--kubeconfig", config.as_str()][..], &args[..]].concat());
            // `set ten`: one word that can be a name but not a percent is a NAME without PERCENT.
            let want = if args.len() == 2 && p == "ten" { "PERCENT is missing" } else { PERCENT_MESSAGE };
            out.code(2).stderr_has(want);
            assert!(out.stdout.is_empty(), "nothing on stdout\n{}", out.describe());
        }
    }
    // `wait --for=traffic=N` takes the same PERCENT.
    for p in ["-1", "101", "10.5", "ten", ""] {
        let out = plugin(["--kubeconfig", config.as_str(), "wait", "x", &format!("--for=traffic={p}")]);
        out.code(2).stderr_has(PERCENT_MESSAGE);
    }
}

#[test]
fn good_percents_get_past_validation() {
    // With a closed port, a valid PERCENT reaches the API call and fails there (exit 1).
    let (config, server) = unreachable();
    for p in ["0", "1", "9", "10", "99", "100"] {
        let out = plugin(["--kubeconfig", config.to_str().unwrap(), "set", "sklearn-iris", p]);
        out.code(1).stderr_has(&server);
        assert!(!out.stderr.contains(PERCENT_MESSAGE), "{}", out.describe());
    }
}

#[test]
fn unknown_flags_and_bad_values_are_usage_errors() {
    let (config, _) = unreachable();
    let c = config.to_str().unwrap();
    let cases: Vec<Vec<&str>> = vec![
        vec!["--frobnicate", "status"],
        vec!["status", "--frobnicate"],
        vec!["set", "10", "--bogus"],
        vec!["promote", "--model-uri", "gs://x"],
        vec!["rollback", "--force"],
        vec!["nosuchcommand"],
        vec!["set"],
        vec!["set", "a", "10", "extra"],
        vec!["tag-routing", "x", "maybe"],
        vec!["tag-routing"],
        vec!["wait", "x"],
        vec!["wait", "x", "--for=done"],
        vec!["set", "10", "--component", "sidecar"],
        vec!["set", "10", "--dry-run=maybe"],
        vec!["set", "10", "--model-uri", "not a uri"],
        vec!["set", "10", "--model-uri", ""],
        vec!["set", "10", "--model-uri", "bucket/path"],
        vec!["-o", "wide", "set", "10"],
        vec!["-o", "tsv", "status"],
        vec!["--request-timeout", "soon", "status"],
        vec!["completion", "tcsh"],
    ];
    for args in cases {
        let out = plugin([&["--kubeconfig", c][..], &args[..]].concat());
        out.code(2);
        assert!(!out.stderr.is_empty(), "a usage error says why\n{}", out.describe());
    }
}

#[test]
fn timeout_without_wait_is_a_usage_error() {
    let (config, _) = unreachable();
    let c = config.to_str().unwrap();
    for args in [
        vec!["set", "x", "10", "--timeout", "5s"],
        vec!["promote", "x", "--timeout", "5s"],
        vec!["rollback", "x", "--timeout", "1m"],
        vec!["tag-routing", "x", "on", "--timeout", "5s"],
        vec!["set", "x", "10", "--fail-window", "5s"],
    ] {
        plugin([&["--kubeconfig", c][..], &args[..]].concat()).code(2).stderr_has("--wait");
    }
    // With --wait an invalid duration is a usage error too.
    plugin(["--kubeconfig", c, "set", "x", "10", "--wait", "--timeout", "soon"]).code(2).stderr_has("--timeout");
}

#[test]
fn bad_kubeconfig_path_is_a_usage_error() {
    let missing = scratch("missing").join("nope.yaml");
    let out = plugin(["--kubeconfig", missing.to_str().unwrap(), "status"]);
    out.code(2).stderr_has("nope.yaml");
    // Unreadable content.
    let garbage = scratch("garbage").join("config");
    std::fs::write(&garbage, "this: [is not: a kubeconfig\n").unwrap();
    plugin(["--kubeconfig", garbage.to_str().unwrap(), "status"]).code(2);
    // A directory instead of a file.
    let dir = scratch("dir");
    plugin(["--kubeconfig", dir.to_str().unwrap(), "status"]).code(2);
    // KUBECONFIG naming an unreadable file.
    let out = Cmd::plugin()
        .env("HOME", scratch("home").display().to_string())
        .env("KUBECONFIG", garbage.display().to_string())
        .args(["status"])
        .run();
    out.code(2);
}

#[test]
fn unknown_context_is_a_usage_error() {
    let (config, _) = unreachable();
    let out = plugin(["--kubeconfig", config.to_str().unwrap(), "--context", "no-such-context", "status"]);
    out.code(2).stderr_has("no-such-context");
    let out = plugin(["--kubeconfig", config.to_str().unwrap(), "--context", "no-such-context", "set", "x", "10"]);
    out.code(2).stderr_has("no-such-context");
}

#[test]
fn missing_kubeconfig_is_a_usage_error() {
    for args in [vec!["status"], vec!["set", "x", "10"], vec!["promote", "x"], vec!["wait", "x", "--for=ready"]] {
        let out = plugin(&args);
        out.code(2).stderr_has("kubeconfig");
    }
}

#[test]
fn unreachable_server_is_exit_1_naming_the_server() {
    let (config, server) = unreachable();
    let c = config.to_str().unwrap();
    for args in [
        vec!["status"],
        vec!["status", "sklearn-iris"],
        vec!["set", "sklearn-iris", "10"],
        vec!["set", "10"],
        vec!["promote", "sklearn-iris"],
        vec!["rollback", "sklearn-iris"],
        vec!["tag-routing", "sklearn-iris", "on"],
        vec!["wait", "sklearn-iris", "--for=ready", "--timeout", "5s"],
    ] {
        let out = plugin([&["--kubeconfig", c][..], &args[..]].concat());
        out.code(1).stderr_has(&server);
        assert!(out.stdout.is_empty(), "{}", out.describe());
    }
    // The same through KUBECONFIG, and --context naming the context that exists.
    let out = Cmd::plugin()
        .env("HOME", scratch("home").display().to_string())
        .env("KUBECONFIG", c)
        .args(["--context", "ctx1", "status"])
        .run();
    out.code(1).stderr_has(&server);
}

#[test]
fn completion_scripts_are_printed() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = plugin(["completion", shell]);
        out.ok();
        assert!(!out.stdout.is_empty(), "{}", out.describe());
    }
}

/// A stand-in API server without KServe: every path answers 404 as kube-apiserver answers for a
/// group it does not serve.
fn server_without_kserve() -> String {
    use std::io::{Read, Write};
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let body = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the server could not find the requested resource","reason":"NotFound","details":{},"code":404}"#;
                let resp = format!(
                    "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(resp.as_bytes());
            });
        }
    });
    format!("http://{addr}")
}

#[test]
fn missing_inferenceservice_api_is_not_found() {
    let server = server_without_kserve();
    let config = kubeconfig(&server);
    let c = config.to_str().unwrap();
    for args in [
        vec!["status"],
        vec!["status", "sklearn-iris"],
        vec!["set", "sklearn-iris", "10"],
        vec!["set", "10"],
        vec!["promote", "sklearn-iris"],
    ] {
        let out = plugin([&["--kubeconfig", c][..], &args[..]].concat());
        out.code(6).stderr_has("KServe");
    }
}

#[test]
fn a_rollout_plan_is_checked_before_any_request() {
    let (config, server) = unreachable();
    let c = config.to_str().unwrap();
    let plan_dir = scratch("plan");
    let bad_plan = plan_dir.join("plan.yaml");
    std::fs::write(&bad_plan, "steps: [10, 50]\n").expect("plan");
    let unknown = plan_dir.join("unknown.yaml");
    std::fs::write(&unknown, "steps: [10, 100]\nstep_pause: 1m\n").expect("plan");
    let m = "gs://b/model-2";
    for (args, want) in [
        (vec!["rollout", "iris"], "--model-uri is required (or --resume"),
        (vec!["rollout", "iris", "--model-uri", "model-2"], "--model-uri must be a URI"),
        (vec!["rollout", "iris", "--model-uri", m, "--steps", "10,50"], "the last step must be 100"),
        (vec!["rollout", "iris", "--model-uri", m, "--steps", "50,10,100"], "steps must grow"),
        (vec!["rollout", "iris", "--model-uri", m, "--steps", "pause,100"], "cannot start with a manual pause"),
        (vec!["rollout", "iris", "--model-uri", m, "--steps", "10,soon,100"], "'soon' is neither a percent"),
        (vec!["rollout", "iris", "--model-uri", m, "--failure-limit", "0"], "--failure-limit must be at least 1"),
        (vec!["rollout", "iris", "--model-uri", m, "--smoke", "--input", "/nonexistent/in.json"], "no such file"),
        (vec!["rollout", "iris", "--model-uri", m, "--plan", bad_plan.to_str().unwrap()], "the last step must be 100"),
        (vec!["rollout", "iris", "--model-uri", m, "--plan", unknown.to_str().unwrap()], "not a valid plan"),
        (vec!["rollout", "iris", "--model-uri", m, "--lease-duration", "1s"], "--lease-duration must be at least 3s"),
        (vec!["rollout", "iris", "--resume", "--model-uri", m], "cannot be used with"),
        (vec!["rollout", "iris", "--model-uri", m, "-o", "yaml"], "invalid value 'yaml'"),
        (vec!["undo", "iris"], "--to-revision"),
    ] {
        let out = plugin([&["--kubeconfig", c][..], &args[..]].concat());
        out.code(2).stderr_has(want);
        // The test kubeconfig skips TLS verification: its warning may come first.
        let errors: Vec<&str> =
            out.stderr.lines().filter(|l| !l.starts_with("warning: TLS verification is off")).collect();
        assert_eq!(errors.len(), 1, "one line\n{}", out.describe());
        assert!(errors[0].starts_with("error: ") && !errors[0].contains(&server), "{}", out.describe());
        assert!(
            !out.stderr.contains("cannot reach") && out.stdout.is_empty(),
            "no request was made\n{}",
            out.describe()
        );
    }
}
