//! A fault-injection proxy between the plugin and the real test cluster. It terminates TLS with a
//! server certificate for 127.0.0.1 signed by the test cluster's CA (minted now with openssl from
//! the world's pki/ca.key), and forwards each HTTP/1.1 request upstream over TLS with the admin's
//! client certificate, the request's headers (User-Agent included) unchanged. A script set by the
//! test — count-based, per request, never timed — picks a fault for the next requests of a verb:
//! latency, a stall, a reset, a forwarded request whose answer is dropped, a 5xx/429 answered
//! without forwarding (with Retry-After), a forwarded request answered with another status, a
//! watch answered with an ERROR 410 event, or a watch cut after some events.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{Value, json};

use crate::harness::Cluster;
use crate::proc::Cmd;

/// What the proxy does with one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Waits this long, then forwards.
    Delay(Duration),
    /// Never answers (the connection is held until the client closes it); not forwarded.
    Stall,
    /// Resets the connection (TCP RST, no TLS close); not forwarded.
    Reset,
    /// Forwards the request, reads the whole answer, then closes without answering.
    DropResponse,
    /// Answers this status (a `Status` body, with `Retry-After` when given) without forwarding.
    Status { code: u16, retry_after: Option<u32> },
    /// Forwards the request, then answers this status instead of the server's answer.
    ForwardThenStatus(u16),
    /// Answers a watch with one `ERROR` event (410 Expired), then ends the stream; not forwarded.
    WatchGone,
    /// Forwards a watch and cuts the connection after relaying this many events.
    CutAfterEvents(usize),
}

/// One rule of the script: the next `times` requests of `verb` (`get`, `watch`, `patch`, …;
/// `watch` is a GET with `watch=true`) whose path contains `path` meet `fault`.
#[derive(Debug, Clone)]
struct Rule {
    verb: String,
    path: String,
    times: usize,
    fault: Fault,
}

/// One request the proxy saw: its verb, path (with query), what it did, and the upstream status
/// when it was forwarded.
#[derive(Debug, Clone)]
pub struct Seen {
    pub verb: String,
    pub path: String,
    pub fault: Option<Fault>,
    pub upstream: Option<u16>,
}

#[derive(Default)]
struct State {
    rules: Vec<Rule>,
    seen: Vec<Seen>,
}

pub struct FaultProxy {
    pub url: String,
    dir: PathBuf,
    state: Arc<Mutex<State>>,
}

struct Shared {
    upstream_addr: String,
    client: Arc<rustls::ClientConfig>,
    state: Arc<Mutex<State>>,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn run_ok(cmd: Cmd) -> String {
    let out = cmd.run();
    out.ok();
    out.stdout.clone()
}

impl FaultProxy {
    /// Starts a proxy in front of `cluster`'s API server; `tag` names its files.
    pub fn start(cluster: &Cluster, tag: &str) -> FaultProxy {
        let env = std::env::var("ISVC_CANARY_TEST_ENV").expect("ISVC_CANARY_TEST_ENV");
        let pki = Path::new(&env).parent().expect("the state dir").join("pki");
        let (ca_crt, ca_key) = (pki.join("ca.crt"), pki.join("ca.key"));
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("faultproxy-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("proxy dir");
        let p = |f: &str| dir.join(f).display().to_string();

        // The serving certificate: 127.0.0.1, signed by the cluster's CA.
        std::fs::write(
            p("ext.cnf"),
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n\
             extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n",
        )
        .expect("write ext.cnf");
        run_ok(Cmd::new("openssl").args([
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            &p("server.key"),
            "-out",
            &p("server.csr"),
        ]));
        run_ok(Cmd::new("openssl").args([
            "x509",
            "-req",
            "-in",
            &p("server.csr"),
            "-CA",
            &ca_crt.display().to_string(),
            "-CAkey",
            &ca_key.display().to_string(),
            "-CAcreateserial",
            "-CAserial",
            &p("ca.srl"),
            "-days",
            "1",
            "-extfile",
            &p("ext.cnf"),
            "-out",
            &p("server.crt"),
        ]));

        // The admin's client certificate and key, from its kubeconfig.
        let admin_field = |field: &str| -> Vec<u8> {
            let b64 = run_ok(Cmd::new("kubectl").env_remove("KUBECONFIG").args([
                "--kubeconfig",
                cluster.admin.as_str(),
                "config",
                "view",
                "--raw",
                "--minify",
                "-o",
                &format!("jsonpath={{.users[0].user.{field}}}"),
            ]));
            run_ok(Cmd::new("openssl").args(["base64", "-d", "-A"]).stdin(b64.trim().as_bytes())).into_bytes()
        };
        let client_certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(&admin_field("client-certificate-data"))
                .collect::<Result<_, _>>()
                .expect("the admin's client certificate");
        let client_key =
            PrivateKeyDer::from_pem_slice(&admin_field("client-key-data")).expect("the admin's client key");

        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_file_iter(&ca_crt).expect("ca.crt") {
            roots.add(c.expect("ca.crt")).expect("the CA");
        }
        let client = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("protocols")
            .with_root_certificates(roots)
            .with_client_auth_cert(client_certs, client_key)
            .expect("client auth");

        let server_certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(p("server.crt"))
            .expect("server.crt")
            .collect::<Result<_, _>>()
            .expect("server.crt");
        let server_key = PrivateKeyDer::from_pem_file(p("server.key")).expect("server.key");
        let server = Arc::new(
            rustls::ServerConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()
                .expect("protocols")
                .with_no_client_auth()
                .with_single_cert(server_certs, server_key)
                .expect("server certificate"),
        );

        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let url = format!("https://{}", listener.local_addr().expect("addr"));
        let state: Arc<Mutex<State>> = Default::default();
        let shared = Arc::new(Shared {
            upstream_addr: cluster.server.trim_start_matches("https://").trim_end_matches('/').to_string(),
            client: Arc::new(client),
            state: state.clone(),
        });
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let (server, shared) = (server.clone(), shared.clone());
                std::thread::spawn(move || serve(conn, server, &shared));
            }
        });
        FaultProxy { url, dir, state }
    }

    /// Adds a rule: the next `times` requests of `verb` whose path contains `path` meet `fault`
    /// (rules are tried in the order they were added; `usize::MAX` for every one).
    pub fn on(&self, verb: &str, path: &str, times: usize, fault: Fault) -> &Self {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.rules.push(Rule { verb: verb.to_string(), path: path.to_string(), times, fault });
        self
    }

    /// Every request seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).seen.clone()
    }

    /// A summary of what was seen, for messages.
    pub fn describe(&self) -> String {
        self.seen()
            .iter()
            .map(|s| format!("{} {} fault={:?} upstream={:?}\n", s.verb, s.path, s.fault, s.upstream))
            .collect()
    }

    /// A kubeconfig that points at the proxy: the cluster's CA, a user with no credentials (the
    /// proxy authenticates upstream itself).
    pub fn kubeconfig(&self) -> String {
        let env = std::env::var("ISVC_CANARY_TEST_ENV").expect("ISVC_CANARY_TEST_ENV");
        let ca = Path::new(&env).parent().expect("the state dir").join("pki").join("ca.crt");
        let v = json!({
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "proxy", "cluster": {"server": self.url, "certificate-authority": ca.display().to_string()}}],
            "users": [{"name": "anonymous", "user": {}}],
            "contexts": [{"name": "proxy", "context": {"cluster": "proxy", "user": "anonymous"}}],
            "current-context": "proxy"
        });
        let path = self.dir.join("kubeconfig");
        std::fs::write(&path, serde_json::to_string_pretty(&v).expect("json")).expect("write kubeconfig");
        path.display().to_string()
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP/1.1, just enough: requests with Content-Length; answers with Content-Length or chunked.

struct Head {
    first: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

fn read_head(r: &mut impl BufRead) -> Option<Head> {
    let mut first = String::new();
    if r.read_line(&mut first).ok()? == 0 {
        return None;
    }
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (k, v) = line.split_once(':')?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    Some(Head { first: first.trim_end().to_string(), headers })
}

fn read_exact_body(r: &mut impl BufRead, head: &Head) -> Option<Vec<u8>> {
    let len: usize = head.header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some(body)
}

/// One chunk of a chunked body (None at the end or on an error).
fn read_chunk(r: &mut impl BufRead) -> Option<Vec<u8>> {
    let mut size = String::new();
    if r.read_line(&mut size).ok()? == 0 {
        return None;
    }
    let n = usize::from_str_radix(size.trim().split(';').next()?.trim(), 16).ok()?;
    if n == 0 {
        let mut trailer = String::new();
        let _ = r.read_line(&mut trailer);
        return None;
    }
    let mut data = vec![0; n + 2];
    r.read_exact(&mut data).ok()?;
    data.truncate(n);
    Some(data)
}

fn write_chunk(w: &mut impl Write, data: &[u8]) -> std::io::Result<()> {
    write!(w, "{:x}\r\n", data.len())?;
    w.write_all(data)?;
    w.write_all(b"\r\n")?;
    w.flush()
}

const HOP: &[&str] = &["connection", "keep-alive", "transfer-encoding", "content-length", "host", "authorization"];

fn verb_of(method: &str, target: &str) -> String {
    let query = target.split_once('?').map(|(_, q)| q).unwrap_or_default();
    let watch = query.split('&').any(|kv| kv == "watch=true" || kv == "watch=1");
    if method == "GET" && watch { "watch".into() } else { method.to_ascii_lowercase() }
}

fn status_body(code: u16) -> Value {
    let (reason, message) = match code {
        429 => ("TooManyRequests", "too many requests (fault proxy)"),
        500 => ("InternalError", "an error on the server (fault proxy)"),
        503 => ("ServiceUnavailable", "the server is currently unable to handle the request (fault proxy)"),
        504 => ("Timeout", "the server was unable to return a response in the time allotted (fault proxy)"),
        _ => ("Unknown", "fault proxy"),
    };
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": reason, "code": code})
}

fn reason_phrase(code: u16) -> &'static str {
    match code {
        200 => "OK",
        409 => "Conflict",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

fn answer_status(w: &mut impl Write, code: u16, retry_after: Option<u32>) -> std::io::Result<()> {
    let body = status_body(code).to_string();
    let retry = retry_after.map(|s| format!("Retry-After: {s}\r\n")).unwrap_or_default();
    write!(
        w,
        "HTTP/1.1 {code} {}\r\nContent-Type: application/json\r\n{retry}Content-Length: {}\r\n\r\n{body}",
        reason_phrase(code),
        body.len()
    )?;
    w.flush()
}

fn reset(tcp: &TcpStream) {
    let _ = rustix::net::sockopt::set_socket_linger(tcp, Some(Duration::ZERO));
    let _ = tcp.shutdown(std::net::Shutdown::Both);
}

type Tls = rustls::StreamOwned<rustls::ServerConnection, TcpStream>;

/// Serves one client connection, request after request (keep-alive), until a fault ends it.
fn serve(tcp: TcpStream, config: Arc<rustls::ServerConfig>, shared: &Shared) {
    let Ok(raw) = tcp.try_clone() else { return };
    let Ok(conn) = rustls::ServerConnection::new(config) else { return };
    let mut client = BufReader::new(Tls::new(conn, tcp));
    loop {
        let Some(head) = read_head(&mut client) else { return };
        let Some(body) = read_exact_body(&mut client, &head) else { return };
        let mut parts = head.first.split_whitespace();
        let (method, target) =
            (parts.next().unwrap_or_default().to_string(), parts.next().unwrap_or_default().to_string());
        let verb = verb_of(&method, &target);
        let fault = {
            let mut st = shared.state.lock().unwrap_or_else(|e| e.into_inner());
            let fault =
                st.rules.iter_mut().find(|r| r.times > 0 && r.verb == verb && target.contains(&r.path)).map(|r| {
                    r.times -= 1;
                    r.fault.clone()
                });
            st.seen.push(Seen { verb: verb.clone(), path: target.clone(), fault: fault.clone(), upstream: None });
            fault
        };
        let index = shared.state.lock().unwrap_or_else(|e| e.into_inner()).seen.len() - 1;
        let record = |code: u16| {
            shared.state.lock().unwrap_or_else(|e| e.into_inner()).seen[index].upstream = Some(code);
        };
        match fault {
            Some(Fault::Stall) => {
                // Hold the connection until the client gives up.
                let mut buf = [0u8; 1024];
                while matches!(client.read(&mut buf), Ok(n) if n > 0) {}
                return;
            }
            Some(Fault::Reset) => return reset(&raw),
            Some(Fault::Status { code, retry_after }) => {
                if answer_status(client.get_mut(), code, retry_after).is_err() {
                    return;
                }
                continue;
            }
            Some(Fault::WatchGone) => {
                let event = json!({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "metadata": {},
                    "status": "Failure", "message": "too old resource version (fault proxy)", "reason": "Expired", "code": 410}});
                let w = client.get_mut();
                let ok = write!(
                    w,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                )
                .and_then(|_| write_chunk(w, format!("{event}\n").as_bytes()))
                .and_then(|_| w.write_all(b"0\r\n\r\n"))
                .and_then(|_| w.flush());
                if ok.is_err() {
                    return;
                }
                continue;
            }
            Some(Fault::Delay(d)) => std::thread::sleep(d),
            _ => {}
        }

        // Forward: one upstream connection per request.
        let Some(mut up) = connect_upstream(shared) else { return reset(&raw) };
        let mut req = format!("{method} {target} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n", shared.upstream_addr);
        for (k, v) in &head.headers {
            if !HOP.contains(&k.to_ascii_lowercase().as_str()) {
                req.push_str(&format!("{k}: {v}\r\n"));
            }
        }
        req.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        if up
            .get_mut()
            .write_all(req.as_bytes())
            .and_then(|_| up.get_mut().write_all(&body))
            .and_then(|_| up.get_mut().flush())
            .is_err()
        {
            return reset(&raw);
        }
        let Some(resp) = read_head(&mut up) else { return reset(&raw) };
        let code: u16 = resp.first.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        record(code);
        let chunked = resp.header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
        let mut out_head = format!("{}\r\n", resp.first);
        for (k, v) in &resp.headers {
            if !HOP.contains(&k.to_ascii_lowercase().as_str()) {
                out_head.push_str(&format!("{k}: {v}\r\n"));
            }
        }
        if chunked && verb == "watch" {
            // Relayed event by event (each chunk as it comes), cut when the script says.
            let cut = match fault {
                Some(Fault::CutAfterEvents(n)) => Some(n),
                _ => None,
            };
            let w = client.get_mut();
            if write!(w, "{out_head}Transfer-Encoding: chunked\r\n\r\n").and_then(|_| w.flush()).is_err() {
                return;
            }
            let mut events = 0usize;
            let mut pending: Vec<u8> = Vec::new();
            loop {
                if cut.is_some_and(|n| events >= n) {
                    return reset(&raw);
                }
                let Some(data) = read_chunk(&mut up) else { break };
                pending.extend_from_slice(&data);
                // Count whole events (lines of JSON) and pass on only whole ones.
                while let Some(i) = pending.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = pending.drain(..=i).collect();
                    if write_chunk(w, &line).is_err() {
                        return;
                    }
                    events += 1;
                    if cut.is_some_and(|n| events >= n) {
                        return reset(&raw);
                    }
                }
            }
            if !pending.is_empty() && write_chunk(w, &pending).is_err() {
                return;
            }
            let _ = w.write_all(b"0\r\n\r\n").and_then(|_| w.flush());
            continue;
        }
        let data = if chunked {
            let mut all = Vec::new();
            while let Some(c) = read_chunk(&mut up) {
                all.extend_from_slice(&c);
            }
            all
        } else if resp.header("content-length").is_some() {
            let Some(b) = read_exact_body(&mut up, &resp) else { return reset(&raw) };
            b
        } else {
            let mut all = Vec::new();
            let _ = up.read_to_end(&mut all);
            all
        };
        let w = client.get_mut();
        let sent = match fault {
            Some(Fault::DropResponse) => {
                // Applied upstream; the answer is lost.
                let _ = w.sock.shutdown(std::net::Shutdown::Both);
                return;
            }
            Some(Fault::ForwardThenStatus(code)) => answer_status(w, code, None),
            _ => write!(w, "{out_head}Content-Length: {}\r\n\r\n", data.len())
                .and_then(|_| w.write_all(&data))
                .and_then(|_| w.flush()),
        };
        if sent.is_err() {
            return;
        }
    }
}

fn connect_upstream(shared: &Shared) -> Option<BufReader<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>> {
    let tcp = TcpStream::connect(&shared.upstream_addr).ok()?;
    let host = shared.upstream_addr.rsplit_once(':').map(|(h, _)| h).unwrap_or("127.0.0.1").to_string();
    let name = ServerName::try_from(host).ok()?;
    let conn = rustls::ClientConnection::new(shared.client.clone(), name).ok()?;
    Some(BufReader::new(rustls::StreamOwned::new(conn, tcp)))
}
