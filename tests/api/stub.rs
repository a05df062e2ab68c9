//! A scripted Kubernetes API server on loopback (plain HTTP/1.1, one thread per connection).
//! Shared by the `api` and `pty` test targets. For tests that follow a person's pace rather than a
//! clock (pty): a rule whose reply a function computes at each request ([`Stub::on_fn`], e.g. from
//! a state the test moves forward), and a watch step that waits for the test's go
//! ([`Watch::when`]).
//!
//! A test gives rules: a [`Route`] (method, path, a predicate on the query) and the replies it
//! answers in turn, the last one repeating. Every request is recorded before it is answered, so
//! once the plugin has exited the log is complete. Replies are JSON bodies (with a status and
//! extra headers) or watches: a chunked stream of newline-terminated events sent over time, that
//! ends cleanly, is cut in the middle, or is held open until the client goes away.

#![allow(dead_code)]
//!
//! Connections are kept alive the way the API server keeps them (kube's hyper client pools them):
//! after a reply the next request is read from the same connection, until the client closes it.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How long a held watch stays open when the client never goes away (only a bound on hangs).
const HOLD_LIMIT: Duration = Duration::from_secs(60);

/// Which requests a rule answers.
pub struct Route {
    method: &'static str,
    path: String,
    query: Box<dyn Fn(&Recorded) -> bool + Send + Sync>,
    label: String,
}

impl Route {
    /// A GET of `path` that is not a watch (no `watch` query parameter).
    pub fn get(path: impl Into<String>) -> Route {
        let path = path.into();
        Route { method: "GET", label: format!("GET {path}"), path, query: Box::new(|r| !r.is_watch()) }
    }

    /// A PATCH of `path`, whatever its query.
    pub fn patch(path: impl Into<String>) -> Route {
        let path = path.into();
        Route { method: "PATCH", label: format!("PATCH {path}"), path, query: Box::new(|_| true) }
    }

    /// A POST to `path` (a create), whatever its query.
    pub fn post(path: impl Into<String>) -> Route {
        let path = path.into();
        Route { method: "POST", label: format!("POST {path}"), path, query: Box::new(|_| true) }
    }

    /// A watch: a GET of the list `path` with a `watch` query parameter. Nothing else of the
    /// query is looked at (order, bookmarks, timeouts and selectors are the client's business).
    pub fn watch(path: impl Into<String>) -> Route {
        let path = path.into();
        Route { method: "GET", label: format!("WATCH {path}"), path, query: Box::new(Recorded::is_watch) }
    }

    /// Narrows the route with a further predicate on the request.
    pub fn when(self, pred: impl Fn(&Recorded) -> bool + Send + Sync + 'static) -> Route {
        let before = self.query;
        Route { query: Box::new(move |r| before(r) && pred(r)), ..self }
    }

    fn matches(&self, r: &Recorded) -> bool {
        self.method == r.method && self.path == r.path && (self.query)(r)
    }
}

/// One answer.
#[derive(Clone, Debug)]
pub enum Reply {
    Json {
        status: u16,
        headers: Vec<(String, String)>,
        body: Value,
    },
    /// Bytes sent as they are, with a Content-Type: what no JSON value can be (a truncated
    /// document, an HTML error page, an empty body).
    Raw {
        status: u16,
        content_type: String,
        body: Vec<u8>,
    },
    Watch(Watch),
    /// The connection is closed with no answer: the request was received (and, for a write,
    /// may have been applied), its answer lost.
    HangUp,
}

impl Reply {
    /// 200 with a JSON body.
    pub fn ok(body: Value) -> Reply {
        Reply::status(200, body)
    }

    /// Any status with a JSON body (for errors: a `Status` object, as the API server sends).
    pub fn status(status: u16, body: Value) -> Reply {
        Reply::Json { status, headers: Vec::new(), body }
    }

    /// Any status with these bytes as the body.
    pub fn raw(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Reply {
        Reply::Raw { status, content_type: content_type.to_string(), body: body.into() }
    }

    /// Adds a response header (e.g. `Retry-After`).
    pub fn header(self, name: &str, value: &str) -> Reply {
        match self {
            Reply::Json { status, mut headers, body } => {
                headers.push((name.to_string(), value.to_string()));
                Reply::Json { status, headers, body }
            }
            watch => watch,
        }
    }
}

/// A watch response: steps sent in order, each after its delay (or once its gate opens), then an
/// ending.
#[derive(Clone, Debug, Default)]
pub struct Watch {
    steps: Vec<(Step, String)>,
    end: End,
}

/// When a watch step is sent.
#[derive(Clone, Debug)]
enum Step {
    After(Duration),
    /// Once the test opens the gate ([`Gate::open`]).
    When(Gate),
}

/// A flag the test raises to let a watch step go.
#[derive(Clone, Debug, Default)]
pub struct Gate(Arc<AtomicBool>);

impl Gate {
    pub fn new() -> Gate {
        Gate::default()
    }

    pub fn open(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    fn is_open(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// How a watch response ends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum End {
    /// The terminating chunk (as the API server at `timeoutSeconds`, or after an ERROR event).
    Clean,
    /// The connection is dropped without the terminating chunk.
    Cut,
    /// Kept open until the client goes away (or [`HOLD_LIMIT`]).
    #[default]
    Hold,
}

impl Watch {
    pub fn new() -> Watch {
        Watch::default()
    }

    /// One event (`{"type":..,"object":..}`) as one line, `after_ms` after the previous step.
    pub fn event(mut self, after_ms: u64, event: Value) -> Watch {
        self.steps.push((Step::After(Duration::from_millis(after_ms)), format!("{event}\n")));
        self
    }

    /// One event, sent once `gate` is open.
    pub fn when(mut self, gate: &Gate, event: Value) -> Watch {
        self.steps.push((Step::When(gate.clone()), format!("{event}\n")));
        self
    }

    /// Raw bytes (e.g. the first part of an event line).
    pub fn raw(mut self, after_ms: u64, text: impl Into<String>) -> Watch {
        self.steps.push((Step::After(Duration::from_millis(after_ms)), text.into()));
        self
    }

    pub fn end(self, end: End) -> Reply {
        Reply::Watch(Watch { end, ..self })
    }
}

/// A request as the stub received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// The raw query string (without `?`).
    pub raw_query: String,
    /// The query, percent-decoded, in the order sent.
    pub query: Vec<(String, String)>,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The label of the rule that answered, or `None` (answered 404).
    pub rule: Option<String>,
}

impl Recorded {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn content_type(&self) -> Option<&str> {
        self.header("content-type")
    }

    /// A `watch` query parameter that is not explicitly false (`watch=true`, `watch=1`).
    pub fn is_watch(&self) -> bool {
        self.param("watch").is_some_and(|v| !matches!(v, "false" | "0"))
    }

    /// `WATCH` for a watch, else the method.
    pub fn verb(&self) -> &str {
        if self.method == "GET" && self.is_watch() { "WATCH" } else { &self.method }
    }

    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body of {} {} is not JSON ({e}): {}", self.method, self.path, self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// One line for assertion messages.
    pub fn line(&self) -> String {
        let query = if self.raw_query.is_empty() { String::new() } else { format!("?{}", self.raw_query) };
        let body = if self.body.is_empty() {
            String::new()
        } else {
            format!(" [{}] {}", self.content_type().unwrap_or("-"), self.text())
        };
        let rule = self.rule.clone().unwrap_or_else(|| "NO RULE: answered 404".to_string());
        format!("{} {}{query}{body}  <- {rule}", self.method, self.path)
    }
}

/// A reply computed at each request.
type Answer = Box<dyn Fn(&Recorded) -> Reply + Send + Sync>;

struct Rule {
    route: Route,
    replies: Vec<Reply>,
    served: usize,
    answer: Option<Answer>,
}

#[derive(Default)]
struct Shared {
    rules: Mutex<Vec<Rule>>,
    log: Mutex<Vec<Recorded>>,
    stopped: AtomicBool,
}

/// The running stub. Dropping it stops accepting connections.
pub struct Stub {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl Stub {
    pub fn start() -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the stub API server");
        let addr = listener.local_addr().expect("stub address");
        let shared = Arc::new(Shared::default());
        let accepting = Arc::clone(&shared);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if accepting.stopped.load(Ordering::SeqCst) {
                    return;
                }
                if let Ok(conn) = conn {
                    let shared = Arc::clone(&accepting);
                    std::thread::spawn(move || serve(conn, &shared));
                }
            }
        });
        Stub { addr, shared }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Adds a rule; the first rule (in the order added) that matches a request answers it.
    pub fn on(&self, route: Route, replies: impl IntoIterator<Item = Reply>) -> &Stub {
        let replies: Vec<Reply> = replies.into_iter().collect();
        assert!(!replies.is_empty(), "a rule needs at least one reply ({})", route.label);
        self.shared.rules.lock().expect("rules").push(Rule { route, replies, served: 0, answer: None });
        self
    }

    /// Adds a rule whose reply `answer` computes at each request it matches.
    pub fn on_fn(&self, route: Route, answer: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> &Stub {
        let rule = Rule { route, replies: Vec::new(), served: 0, answer: Some(Box::new(answer)) };
        self.shared.rules.lock().expect("rules").push(rule);
        self
    }

    /// Every request received so far, in order of arrival.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.log.lock().expect("log").clone()
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

/// Serves one connection: requests one after another (keep-alive) until the client closes it.
fn serve(stream: TcpStream, shared: &Shared) {
    let _ = stream.set_nodelay(true);
    let Ok(mut out) = stream.try_clone() else { return };
    let mut input = BufReader::new(stream);
    while let Some(mut request) = read_request(&mut input) {
        let reply = pick(shared, &mut request);
        let open = match reply {
            Reply::Json { status, headers, body } => write_json(&mut out, status, &headers, &body).is_ok(),
            Reply::Raw { status, content_type, body } => write_raw(&mut out, status, &content_type, &[], &body).is_ok(),
            Reply::Watch(watch) => play(&input, &mut out, &watch),
            Reply::HangUp => false,
        };
        if !open {
            let _ = out.shutdown(Shutdown::Both);
            return;
        }
    }
}

/// Records the request and chooses its reply.
fn pick(shared: &Shared, request: &mut Recorded) -> Reply {
    let mut rules = shared.rules.lock().expect("rules");
    let reply = rules.iter_mut().find(|rule| rule.route.matches(request)).map(|rule| {
        let reply = match &rule.answer {
            Some(answer) => answer(request),
            None => rule.replies[rule.served.min(rule.replies.len() - 1)].clone(),
        };
        rule.served += 1;
        request.rule = Some(rule.route.label.clone());
        reply
    });
    shared.log.lock().expect("log").push(request.clone());
    reply.unwrap_or_else(|| {
        Reply::status(
            404,
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                   "message": "the server could not find the requested resource", "reason": "NotFound",
                   "details": {}, "code": 404}),
        )
    })
}

/// Reads one request; `None` when the client closed the connection (or sent garbage).
fn read_request(input: &mut BufReader<TcpStream>) -> Option<Recorded> {
    let mut line = String::new();
    // Skip stray empty lines between requests (allowed by RFC 9112).
    while line.trim().is_empty() {
        line.clear();
        if input.read_line(&mut line).ok()? == 0 {
            return None;
        }
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if input.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let header = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let body = if header("transfer-encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked")) {
        read_chunked(input)?
    } else {
        let len: usize = header("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
        let mut body = vec![0; len];
        input.read_exact(&mut body).ok()?;
        body
    };
    let (path, raw_query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target, String::new()),
    };
    let query = raw_query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (decode(k), decode(v))
        })
        .collect();
    Some(Recorded { method, path, raw_query, query, headers, body, rule: None })
}

fn read_chunked(input: &mut BufReader<TcpStream>) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        input.read_line(&mut size).ok()?;
        let size = usize::from_str_radix(size.trim().split(';').next()?.trim(), 16).ok()?;
        if size == 0 {
            // Trailers, up to the empty line.
            loop {
                let mut t = String::new();
                input.read_line(&mut t).ok()?;
                if t.trim().is_empty() {
                    return Some(body);
                }
            }
        }
        let mut chunk = vec![0; size + 2];
        input.read_exact(&mut chunk).ok()?;
        body.extend_from_slice(&chunk[..size]);
    }
}

/// Percent-decoding of a query component (`+` is a space, as form encoding writes it).
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        410 => "Gone",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

fn write_json(out: &mut TcpStream, status: u16, headers: &[(String, String)], body: &Value) -> std::io::Result<()> {
    write_raw(out, status, "application/json", headers, body.to_string().as_bytes())
}

fn write_raw(
    out: &mut TcpStream,
    status: u16,
    content_type: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n",
        reason(status),
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())?;
    out.write_all(body)?;
    out.flush()
}

/// Plays a watch; true when the connection can serve another request.
fn play(input: &BufReader<TcpStream>, out: &mut TcpStream, watch: &Watch) -> bool {
    let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nCache-Control: no-cache, private\r\n\
                Transfer-Encoding: chunked\r\n\r\n";
    if out.write_all(head.as_bytes()).and_then(|()| out.flush()).is_err() {
        return false;
    }
    for (step, text) in &watch.steps {
        let open = match step {
            Step::After(delay) => pause(input.get_ref(), *delay),
            Step::When(gate) => hold_until(input.get_ref(), gate),
        };
        if !open {
            return false;
        }
        let chunk = format!("{:x}\r\n{text}\r\n", text.len());
        if out.write_all(chunk.as_bytes()).and_then(|()| out.flush()).is_err() {
            return false;
        }
    }
    match watch.end {
        End::Cut => false,
        End::Hold if !pause(input.get_ref(), HOLD_LIMIT) => false,
        End::Clean | End::Hold => out.write_all(b"0\r\n\r\n").and_then(|()| out.flush()).is_ok(),
    }
}

/// Waits for the gate, watching the connection; false as soon as the client has closed it (or
/// after [`HOLD_LIMIT`]).
fn hold_until(stream: &TcpStream, gate: &Gate) -> bool {
    let deadline = Instant::now() + HOLD_LIMIT;
    while !gate.is_open() {
        if Instant::now() >= deadline || !pause(stream, Duration::from_millis(20)) {
            return false;
        }
    }
    true
}

/// Waits `d`, watching the connection; false as soon as the client has closed it.
fn pause(stream: &TcpStream, d: Duration) -> bool {
    let deadline = Instant::now() + d;
    let _ = stream.set_read_timeout(Some(Duration::from_millis(50)));
    let mut open = true;
    while Instant::now() < deadline {
        let mut probe = [0u8; 1];
        match stream.peek(&mut probe) {
            Ok(0) => {
                open = false;
                break;
            }
            // The client sent something while the response is in progress: it is alive.
            Ok(_) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted) => {}
            Err(_) => {
                open = false;
                break;
            }
        }
    }
    let _ = stream.set_read_timeout(None);
    open
}

/// A fresh directory under cargo's per-target temporary directory.
pub fn scratch(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "stub-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

impl Stub {
    /// A kubeconfig pointing at this stub over plain HTTP (token user, namespace `ns`).
    pub fn kubeconfig(&self, ns: &str) -> PathBuf {
        let path = scratch("kubeconfig").join("config");
        let text = format!(
            "apiVersion: v1
kind: Config
clusters:
- name: stub
  cluster:
    server: {server}
users:
- name: tester
  user:
    token: stub-token
contexts:
- name: stub
  context:
    cluster: stub
    user: tester
    namespace: {ns}
current-context: stub
",
            server = self.url()
        );
        std::fs::write(&path, text).expect("write kubeconfig");
        path
    }
}
