//! No credential ever reaches output, at any verbosity (contract §11): the bearer token, the
//! client key (as the kubeconfig holds it, base64, and as its PEM body), a basic-auth password,
//! whatever the command does (reads, dry runs, writes, waits) and however it fails (401, 403,
//! server unreachable, certificate not trusted). And TLS verification is off only when the
//! kubeconfig says `insecure-skip-tls-verify: true`, with one warning; a server certificate the
//! kubeconfig's CA did not sign is refused before any request is sent.

use std::collections::HashSet;
use std::path::PathBuf;

use serde_json::{Value, json};

use crate::harness::*;
use crate::proc::{Cmd, Output};

/// The verbosity flags every read runs with: `-v 0` … `-v 10`, and `--v=9`.
fn levels() -> Vec<Vec<String>> {
    let mut levels: Vec<Vec<String>> = (0..=10).map(|n| vec!["-v".to_string(), n.to_string()]).collect();
    levels.push(vec!["--v=9".to_string()]);
    levels
}

/// Whether these flags log every request (`-v 6` or more).
fn logs_requests(level: &[String]) -> bool {
    let n = level.last().map(|l| l.trim_start_matches("--v=")).and_then(|l| l.parse::<u8>().ok());
    n.is_some_and(|n| n >= 6)
}

// ---------------------------------------------------------------------------------------------
// Secrets and where they must not be.

/// A secret and the 20-byte runs of it that must not appear (all of it, when shorter).
struct Secret {
    label: String,
    len: usize,
    runs: HashSet<Vec<u8>>,
}

const RUN: usize = 20;

impl Secret {
    fn new(label: &str, text: &str) -> Secret {
        assert!(!text.is_empty(), "the secret {label} is empty: the test would prove nothing");
        let bytes = text.as_bytes();
        let len = bytes.len().min(RUN);
        let runs = bytes.windows(len).map(<[u8]>::to_vec).collect();
        Secret { label: label.to_string(), len, runs }
    }

    /// The byte ranges of `text` that are a run of this secret.
    fn found_in(&self, text: &str) -> Vec<(usize, usize)> {
        let bytes = text.as_bytes();
        let mut hits = Vec::new();
        if bytes.len() >= self.len {
            for (i, w) in bytes.windows(self.len).enumerate() {
                if self.runs.contains(w) {
                    hits.push((i, i + self.len));
                }
            }
        }
        hits
    }
}

/// `text` with every byte of a leaked run replaced by `*`.
fn redacted(text: &str, hits: &[(usize, usize)]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for &(from, to) in hits {
        bytes[from..to].fill(b'*');
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Which secrets appear in the command's stdout or stderr: `None`, or which, where, and the
/// output with the leaked runs masked (the secret itself is never printed).
fn leaks(out: &Output, secrets: &[Secret]) -> Option<String> {
    let mut leaks = Vec::new();
    let (mut stdout_hits, mut stderr_hits) = (Vec::new(), Vec::new());
    for s in secrets {
        for (stream, text, all) in
            [("stdout", &out.stdout, &mut stdout_hits), ("stderr", &out.stderr, &mut stderr_hits)]
        {
            let hits = s.found_in(text);
            if !hits.is_empty() {
                leaks.push(format!("{} in {stream} ({} run(s) of {RUN} bytes)", s.label, hits.len()));
                all.extend(hits);
            }
        }
    }
    (!leaks.is_empty()).then(|| {
        format!(
            "LEAK: {}\n$ {} {}\n--- exit: {:?}\n--- stdout (redacted):\n{}--- stderr (redacted):\n{}",
            leaks.join("; "),
            out.program,
            out.args.join(" "),
            out.code,
            redacted(&out.stdout, &stdout_hits),
            redacted(&out.stderr, &stderr_hits)
        )
    })
}

#[track_caller]
fn assert_no_secret(out: &Output, secrets: &[Secret]) {
    if let Some(report) = leaks(out, secrets) {
        panic!("{report}");
    }
}

/// Runs the plugin with `kubeconfig` in the namespace, with `level` and `args`; checks the exit
/// code, that no secret leaked, and that `-v 6`+ logged its requests (so the logs were checked).
#[track_caller]
fn run_checked(ns: &Ns, kubeconfig: &str, level: &[String], args: &[&str], code: i32, secrets: &[Secret]) -> Output {
    let mut words = level.to_vec();
    words.extend(args.iter().map(|a| a.to_string()));
    let out = ns.plugin_as(kubeconfig, &words);
    // The secrets first: a failing exit code must not print a leak unredacted.
    assert_no_secret(&out, secrets);
    assert_eq!(out.code, Some(code), "unexpected exit code\n{}", redacted_describe(&out, secrets));
    if logs_requests(level) {
        assert!(out.stderr.contains("GET https://"), "-v 6+ logs its requests\n{}", out.describe());
    }
    out
}

/// `describe()`, with the secrets masked (used once none was found, so it is only a precaution).
fn redacted_describe(out: &Output, secrets: &[Secret]) -> String {
    let hits = |t: &str| secrets.iter().flat_map(|s| s.found_in(t)).collect::<Vec<_>>();
    format!(
        "$ {} {}\n--- exit: {:?}\n--- stdout:\n{}--- stderr:\n{}",
        out.program,
        out.args.join(" "),
        out.code,
        redacted(&out.stdout, &hits(&out.stdout)),
        redacted(&out.stderr, &hits(&out.stderr))
    )
}

// ---------------------------------------------------------------------------------------------
// Kubeconfig copies.

/// A kubeconfig as JSON (`kubectl config view --raw`), to read its secrets and edit copies.
fn kubeconfig_json(path: &str) -> Value {
    let out = Cmd::new("kubectl")
        .env_remove("KUBECONFIG")
        .args(["config", "view", "--raw", "-o", "json"])
        .args(["--kubeconfig", path]);
    let out = out.run();
    let v = out.ok().json();
    for list in ["clusters", "users", "contexts"] {
        assert_eq!(v[list].as_array().map(Vec::len), Some(1), "{path}: one of each ({list})");
    }
    v
}

fn user(v: &Value) -> &Value {
    &v["users"][0]["user"]
}

fn cluster_of(v: &mut Value) -> &mut serde_json::Map<String, Value> {
    v["clusters"][0]["cluster"].as_object_mut().expect("a cluster")
}

/// Writes a kubeconfig (JSON is YAML) for this test and returns its path.
fn write_kubeconfig(ns: &Ns, tag: &str, v: &Value) -> String {
    let path = tmp(ns, &format!("{tag}.kubeconfig"));
    std::fs::write(&path, serde_json::to_string_pretty(v).expect("json")).expect("write kubeconfig");
    path
}

fn tmp(ns: &Ns, file: &str) -> String {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("secrets-{}-{file}", ns.name)).display().to_string()
}

/// 32 random hex digits: a secret that nothing else the tests print can contain.
fn random_hex() -> String {
    use std::hash::{BuildHasher, Hasher};
    let word = || std::collections::hash_map::RandomState::new().build_hasher().finish();
    format!("{:016x}{:016x}", word(), word())
}

/// A copy of `v` whose API server is a local port nobody listens on.
fn unreachable_copy(v: &Value) -> Value {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let mut v = v.clone();
    cluster_of(&mut v).insert("server".into(), json!(format!("https://127.0.0.1:{port}")));
    v
}

/// A self-signed certificate and its key, made by openssl now: (certificate file, key file).
fn self_signed(ns: &Ns, cn: &str) -> (String, String) {
    let (cert, key) = (tmp(ns, &format!("{cn}.crt")), tmp(ns, &format!("{cn}.key")));
    let subject = format!("/CN={cn}");
    Cmd::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1"])
        .args(["-subj", subject.as_str(), "-keyout", key.as_str(), "-out", cert.as_str()])
        .run()
        .ok();
    (cert, key)
}

/// The base64 body of a PEM block (its lines between BEGIN and END, joined).
fn pem_body(pem: &str) -> String {
    pem.lines().filter(|l| !l.starts_with("-----") && !l.trim().is_empty()).map(str::trim).collect()
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_decode(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes().filter(|c| !c.is_ascii_whitespace() && *c != b'=') {
        let d = B64.iter().position(|b| *b == c).unwrap_or_else(|| panic!("not base64: {:?}", c as char)) as u32;
        acc = (acc << 6) | d;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

fn base64_encode(data: &[u8]) -> String {
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The admin kubeconfig's key: as the kubeconfig holds it (base64 of the PEM) and the PEM body.
fn client_key_secrets(label: &str, v: &Value) -> Vec<Secret> {
    let data = user(v)["client-key-data"].as_str().unwrap_or_else(|| panic!("{label}: no client-key-data"));
    let pem = String::from_utf8(base64_decode(data)).expect("a PEM key");
    assert!(pem.contains("PRIVATE KEY-----"), "{label}: client-key-data is a PEM private key");
    vec![
        Secret::new(&format!("{label} client-key-data (base64)"), data),
        Secret::new(&format!("{label} client key (PEM body)"), &pem_body(&pem)),
    ]
}

/// The secrets of a key file (its PEM body).
fn key_file_secrets(label: &str, path: &str) -> Vec<Secret> {
    let pem = std::fs::read_to_string(path).expect("key file");
    vec![Secret::new(&format!("{label} client key (PEM body)"), &pem_body(&pem))]
}

fn token_secrets(label: &str, token: &str) -> Vec<Secret> {
    assert!(token.len() >= RUN, "{label}: a token of {} bytes is not distinctive", token.len());
    vec![
        Secret::new(&format!("{label} token"), token),
        Secret::new(&format!("{label} Authorization: Bearer <token>"), &format!("Authorization: Bearer {token}")),
        Secret::new(&format!("{label} Bearer <token>"), &format!("Bearer {token}")),
    ]
}

/// Every kubeconfig the tests use, each with the secrets it holds.
struct Kubeconfigs {
    /// The token user's kubeconfig, copied (its token read from the world's file).
    token: String,
    /// The same token against a port nobody listens on.
    token_unreachable: String,
    /// A token the server does not know (401).
    wrong_token: String,
    /// The token user's kubeconfig with another CA: the server's certificate is not trusted.
    token_wrong_ca: String,
    /// The admin's own kubeconfig (client certificate and key).
    admin: String,
    /// The admin impersonating the limited user (`as:`): the admin's credentials, answered 403.
    admin_as_limited: String,
    admin_unreachable: String,
    /// The admin's kubeconfig with another CA: the server's certificate is not trusted.
    admin_wrong_ca: String,
    /// A client certificate the cluster's CA did not sign (401), with its own key.
    stranger: String,
    /// `username`/`password` (the API server has no basic auth: 401).
    basic: String,
    secrets: Vec<Secret>,
}

fn kubeconfigs(ns: &Ns) -> Kubeconfigs {
    let c = ns.cluster;
    let mut secrets = Vec::new();

    let token_v = kubeconfig_json(&c.token);
    let token = user(&token_v)["token"].as_str().expect("the token user's kubeconfig holds a token").to_string();
    secrets.extend(token_secrets("the token user's", &token));
    let token_copy = write_kubeconfig(ns, "token", &token_v);
    let token_unreachable = write_kubeconfig(ns, "token-unreachable", &unreachable_copy(&token_v));
    let wrong = format!("wrongtoken{}", random_hex());
    secrets.extend(token_secrets("the wrong", &wrong));
    let mut wrong_v = token_v.clone();
    wrong_v["users"][0]["user"]["token"] = json!(wrong);
    let wrong_token = write_kubeconfig(ns, "wrong-token", &wrong_v);

    let admin_v = kubeconfig_json(&c.admin);
    secrets.extend(client_key_secrets("the admin's", &admin_v));
    let mut as_v = admin_v.clone();
    as_v["users"][0]["user"]["as"] = json!(c.limited_user);
    let admin_as_limited = write_kubeconfig(ns, "admin-as-limited", &as_v);
    let admin_unreachable = write_kubeconfig(ns, "admin-unreachable", &unreachable_copy(&admin_v));
    let (wrong_ca, _) = self_signed(ns, "wrong-ca");
    let mut wrong_ca_v = admin_v.clone();
    cluster_of(&mut wrong_ca_v).remove("certificate-authority-data");
    cluster_of(&mut wrong_ca_v).insert("certificate-authority".into(), json!(wrong_ca));
    let admin_wrong_ca = write_kubeconfig(ns, "admin-wrong-ca", &wrong_ca_v);
    let mut wrong_ca_v = token_v.clone();
    cluster_of(&mut wrong_ca_v).remove("certificate-authority-data");
    cluster_of(&mut wrong_ca_v).insert("certificate-authority".into(), json!(wrong_ca));
    let token_wrong_ca = write_kubeconfig(ns, "token-wrong-ca", &wrong_ca_v);

    let (cert, key) = self_signed(ns, "stranger");
    secrets.extend(key_file_secrets("the stranger's", &key));
    let mut stranger_v = admin_v.clone();
    stranger_v["users"][0]["user"] = json!({"client-certificate": cert, "client-key": key});
    let stranger = write_kubeconfig(ns, "stranger", &stranger_v);

    let password = format!("basicpassword{}", random_hex());
    secrets.push(Secret::new("the basic-auth password", &password));
    secrets.push(Secret::new(
        "the basic-auth Authorization (base64 of user:password)",
        &base64_encode(format!("basic-user:{password}").as_bytes()),
    ));
    let mut basic_v = admin_v.clone();
    basic_v["users"][0]["user"] = json!({"username": "basic-user", "password": password});
    let basic = write_kubeconfig(ns, "basic", &basic_v);

    Kubeconfigs {
        token: token_copy,
        token_unreachable,
        wrong_token,
        token_wrong_ca,
        admin: c.admin.clone(),
        admin_as_limited,
        admin_unreachable,
        admin_wrong_ca,
        stranger,
        basic,
        secrets,
    }
}

// ---------------------------------------------------------------------------------------------
// The tests.

#[test]
fn base64_helpers_round_trip() {
    for text in ["", "a", "ab", "abc", "basic-user:pässword", "-----BEGIN EC PRIVATE KEY-----\n"] {
        assert_eq!(base64_decode(&base64_encode(text.as_bytes())), text.as_bytes(), "{text}");
    }
    assert_eq!(base64_encode(b"user:pass"), "dXNlcjpwYXNz");
}

/// The checker finds any 20-byte run of a secret, says which, and masks it in what it prints.
#[test]
fn the_leak_checker_finds_and_masks_partial_secrets() {
    let token = format!("tok{}", random_hex());
    let secrets = token_secrets("a", &token);
    let fake = |stderr: String| Output {
        program: "plugin".into(),
        args: vec!["-v".into(), "9".into()],
        code: Some(0),
        stdout: String::new(),
        stderr,
        timed_out: false,
    };
    // Clean output passes; the token's first 19 bytes are below the threshold.
    assert_no_secret(&fake(format!("GET https://x/api 200 OK\n{}\n", &token[..RUN - 1])), &secrets);
    for leaked in [token.clone(), token[5..5 + RUN].to_string(), format!("authorization: Bearer {}", &token[..RUN])] {
        let out = fake(format!("GET https://x/api\nheader: {leaked}\n"));
        let message = leaks(&out, &secrets).expect("a leak is found");
        assert!(message.starts_with("LEAK: a token in stderr"), "{message}");
        assert!(message.contains("\nheader:") && message.contains(&"*".repeat(RUN)), "{message}");
        assert!(!message.contains(&token[5..5 + RUN]), "the leak is masked: {message}");
    }
}

/// Reads, dry runs and failures at every verbosity, with each kubeconfig.
#[test]
fn no_secret_in_output_at_any_verbosity() {
    let ns = Ns::new("secrets-levels");
    let name = "quiet";
    let c = ns.cluster;
    ns.grant_least_privilege(&c.token_user, true);
    ns.create_ready(name, MODEL_1);
    let k = kubeconfigs(&ns);
    let s = &k.secrets;
    // The secrets are those of the files: printed, each kubeconfig's would be caught.
    for (path, label) in [(&k.token, "the token user's token"), (&k.admin, "the admin's client-key-data (base64)")] {
        let shown = kubeconfig_json(path).to_string();
        let secret = s.iter().find(|x| x.label == label).expect("a secret");
        assert!(!secret.found_in(&shown).is_empty(), "{label} is in {path}");
    }
    let dry_run = ["set", name, "10", "--model-uri", MODEL_2, "--dry-run=server"];
    let untrusted = "its certificate is not trusted";
    for level in levels() {
        for kubeconfig in [&k.token, &k.admin] {
            run_checked(&ns, kubeconfig, &level, &["status"], 0, s).stdout_has(name);
            run_checked(&ns, kubeconfig, &level, &["status", name, "-o", "json"], 0, s);
            run_checked(&ns, kubeconfig, &level, &dry_run, 0, s).stdout_has("(dry run)");
        }
        // 401: a token the server does not know, a client certificate it did not sign, basic auth.
        for kubeconfig in [&k.wrong_token, &k.stranger, &k.basic] {
            run_checked(&ns, kubeconfig, &level, &["status", name], 5, s);
        }
        // 403: the token user reading every namespace; the admin's credentials impersonating.
        run_checked(&ns, &k.token, &level, &["status", "-A"], 5, s).stderr_has(&c.token_user);
        run_checked(&ns, &k.admin_as_limited, &level, &["status", name], 5, s).stderr_has(&c.limited_user);
        run_checked(&ns, &k.admin_as_limited, &level, &dry_run, 5, s);
        // No server; a server whose certificate is not trusted.
        for kubeconfig in [&k.token_unreachable, &k.admin_unreachable] {
            run_checked(&ns, kubeconfig, &level, &["status", name], 1, s).stderr_has("cannot reach the API server");
        }
        for kubeconfig in [&k.token_wrong_ca, &k.admin_wrong_ca] {
            run_checked(&ns, kubeconfig, &level, &["status", name], 1, s).stderr_has(untrusted);
        }
    }
}

/// Writes and waits (a canary, tag routing, promote, rollback, a wait) at `-v 0` and `-v 9`.
fn writes_and_waits(ns: &Ns, kubeconfig: &str, secrets: &[Secret]) {
    let name = "busy";
    let v = |n: &str| vec!["-v".to_string(), n.to_string()];
    for (level, model, routing) in [(v("0"), MODEL_2, "on"), (v("9"), MODEL_3, "off")] {
        let run = |args: &[&str]| run_checked(ns, kubeconfig, &level, args, 0, secrets);
        run(&["set", name, "10", "--model-uri", model, "--wait"]).stdout_has("canary set");
        run(&["wait", name, "--for=ready", "--timeout", "4m"]);
        run(&["tag-routing", name, routing, "--wait"]).stdout_has("tag routing");
        run(&["promote", name, "--wait"]).stdout_has("promoted");
        run(&["rollback", name, "--wait"]).stdout_has("rolled back");
    }
}

#[test]
fn no_secret_in_output_of_writes_and_waits_with_a_token() {
    let ns = Ns::new("secrets-token-writes");
    ns.grant_least_privilege(&ns.cluster.token_user, true);
    ns.create_ready("busy", MODEL_1);
    let k = kubeconfigs(&ns);
    writes_and_waits(&ns, &k.token, &k.secrets);
}

#[test]
fn no_secret_in_output_of_writes_and_waits_with_a_client_certificate() {
    let ns = Ns::new("secrets-admin-writes");
    ns.create_ready("busy", MODEL_1);
    let k = kubeconfigs(&ns);
    writes_and_waits(&ns, &k.admin, &k.secrets);
}

const TLS_OFF: &str = "TLS verification is off for";

#[test]
fn tls_verification_is_off_only_when_the_kubeconfig_says_so() {
    let ns = Ns::new("secrets-tls");
    let name = "guarded";
    let c = ns.cluster;
    ns.grant_least_privilege(&c.token_user, true);
    ns.create_sklearn(name, MODEL_1);
    ns.wait_reconciled(name);
    let k = kubeconfigs(&ns);
    let s = &k.secrets;
    let warning = format!(
        "warning: {TLS_OFF} {} (insecure-skip-tls-verify in the kubeconfig): the server's identity is not checked",
        c.server.trim_end_matches('/')
    );

    // The kubeconfigs as they are: verified, no warning.
    for kubeconfig in [&k.admin, &k.token] {
        let out = run_checked(&ns, kubeconfig, &[], &["status", name], 0, s);
        assert!(!out.stderr.contains(TLS_OFF), "{}", out.describe());
    }

    // No CA and insecure-skip-tls-verify: true: it works, with one warning, whatever the command
    // sends (one request or several) and at any verbosity.
    for (tag, source) in [("admin", &c.admin), ("token", &c.token)] {
        let mut v = kubeconfig_json(source);
        cluster_of(&mut v).remove("certificate-authority-data");
        cluster_of(&mut v).insert("insecure-skip-tls-verify".into(), json!(true));
        let insecure = write_kubeconfig(&ns, &format!("{tag}-insecure"), &v);
        for (level, args) in [
            (vec![], vec!["status", name]),
            (vec!["-v".to_string(), "9".to_string()], vec!["status", name, "-o", "json"]),
            (vec![], vec!["set", name, "10", "--model-uri", MODEL_2, "--dry-run=server"]),
        ] {
            let out = run_checked(&ns, &insecure, &level, &args, 0, s);
            out.stderr_has_line(&warning);
            assert_eq!(out.stderr.matches(TLS_OFF).count(), 1, "one warning\n{}", out.describe());
            assert!(!out.stdout.contains(TLS_OFF), "the warning is not data\n{}", out.describe());
        }
    }

    // Another CA (self-signed, made now), and no CA at all (the system's roots): refused, exit 1,
    // naming the server; and no request reaches the API server.
    let mark = ns.audit_mark();
    let mut no_ca = kubeconfig_json(&c.token);
    cluster_of(&mut no_ca).remove("certificate-authority-data");
    let token_no_ca = write_kubeconfig(&ns, "token-no-ca", &no_ca);
    for kubeconfig in [&k.admin_wrong_ca, &k.token_wrong_ca, &token_no_ca] {
        for args in [vec!["status", name], vec!["set", name, "10", "--model-uri", MODEL_2]] {
            let out = run_checked(&ns, kubeconfig, &[], &args, 1, s);
            out.stderr_has(&format!("cannot reach the API server at {}: its certificate is not trusted", c.server));
            assert_eq!(out.stderr.lines().filter(|l| l.starts_with("error: ")).count(), 1, "{}", out.describe());
            assert!(!out.stderr.contains(TLS_OFF), "{}", out.describe());
        }
    }
    // The one GET the audit log holds is the verified control run's, made after them.
    run_checked(&ns, &k.token, &[], &["status", name], 0, s);
    ns.assert_no_write_after_read(mark, &c.token_user, name, 1);
}

/// A client certificate signed by the cluster's own CA but expired (valid in 2020 only), and its
/// key: (certificate file, key file). `openssl ca` is the one openssl command that takes dates in
/// the past; it wants a small database, made here, and v3 extensions (rustls refuses a v1 client
/// certificate before sending it).
fn expired_client_cert(ns: &Ns) -> (String, String) {
    let env = std::env::var("ISVC_CANARY_TEST_ENV").expect("the test cluster's env.json");
    let pki = PathBuf::from(env).parent().expect("the state dir").join("pki");
    let dir = PathBuf::from(tmp(ns, "expired-ca"));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let file = |name: &str| dir.join(name).display().to_string();
    std::fs::write(file("index.txt"), "").expect("index");
    std::fs::write(file("serial"), "1000\n").expect("serial");
    let config = format!(
        "[ca]\ndefault_ca = c\n[c]\ndatabase = {}\nserial = {}\nnew_certs_dir = {}\ndefault_md = sha256\n\
         policy = p\nunique_subject = no\nx509_extensions = client\n[p]\ncommonName = supplied\n\
         [client]\nbasicConstraints = CA:FALSE\nkeyUsage = digitalSignature\nextendedKeyUsage = clientAuth\n",
        file("index.txt"),
        file("serial"),
        dir.display()
    );
    std::fs::write(file("ca.cnf"), config).expect("config");
    let (key, csr, cert) = (file("client.key"), file("client.csr"), file("client.crt"));
    Cmd::new("openssl")
        .args(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"])
        .args(["-subj", "/CN=expired-admin", "-keyout", key.as_str(), "-out", csr.as_str()])
        .run()
        .ok();
    let (ca_crt, ca_key) = (pki.join("ca.crt").display().to_string(), pki.join("ca.key").display().to_string());
    Cmd::new("openssl")
        .args(["ca", "-batch", "-notext", "-config", file("ca.cnf").as_str(), "-in", csr.as_str()])
        .args(["-cert", ca_crt.as_str(), "-keyfile", ca_key.as_str(), "-out", cert.as_str()])
        .args(["-startdate", "20200101000000Z", "-enddate", "20200102000000Z"])
        .run()
        .ok();
    (cert, key)
}

#[test]
fn an_expired_client_certificate_is_refused_as_unauthorized() {
    let ns = Ns::new("secrets-expired");
    let admin = kubeconfig_json(&ns.cluster.admin);
    let (cert, key) = expired_client_cert(&ns);
    let mut v = admin.clone();
    let u = v["users"][0]["user"].as_object_mut().expect("a user");
    u.remove("client-certificate-data");
    u.remove("client-key-data");
    u.insert("client-certificate".into(), json!(cert));
    u.insert("client-key".into(), json!(key));
    let config = write_kubeconfig(&ns, "expired", &v);
    let secrets = key_file_secrets("the expired certificate's key", &key);
    for level in [&["-v", "0"][..], &["-v", "9"]] {
        let args: Vec<&str> = level.iter().copied().chain(["status", "any"]).collect();
        let out = ns.plugin_as(&config, &args);
        out.code(5).stderr_has("Unauthorized");
        assert_eq!(out.stderr.lines().filter(|l| l.starts_with("error: ")).count(), 1, "{}", out.describe());
        assert_no_secret(&out, &secrets);
    }
}
