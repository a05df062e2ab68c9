//! kubectl's flags → a kube client, the namespace, and the context name; plus the handful of raw
//! API calls the plugin makes (so that every request, query parameter and Accept header is
//! explicit, and the request budget of the contract is easy to see).

use std::path::Path;
use std::pin::Pin;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use http::{Method, Request, header};
use kube::api::{WatchEvent, WatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::Value;

use crate::cli::GlobalArgs;
use crate::error::{Exit, Fail, fail};
use crate::isvc::{GROUP, Isvc, PLURAL, VERSION};

pub const USER_AGENT: &str = concat!("kubectl-isvc-canary/", env!("CARGO_PKG_VERSION"));
/// Retries of one request on 429, 503 and 504 (contract, "Retries").
const RETRIES: usize = 3;
/// The longest Retry-After honoured: a server asking for more gets this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);

/// An HTTP answer, read whole.
struct Reply {
    status: http::StatusCode,
    retry_after: Option<Duration>,
    body: bytes::Bytes,
}

/// Why a request got no answer.
enum Unanswered {
    Timeout(Duration),
    Error(kube::Error),
}

/// The message of an error answer: a `Status` object's message or reason, else the text.
fn status_message(reply: &Reply) -> String {
    let text = String::from_utf8_lossy(&reply.body);
    match serde_json::from_str::<Value>(&text) {
        Ok(v) => {
            let field = |k: &str| v.get(k).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string);
            field("message").or_else(|| field("reason")).unwrap_or_else(|| reply.status.to_string())
        }
        Err(_) if text.trim().is_empty() => reply.status.to_string(),
        Err(_) => text.trim().lines().next().unwrap_or_default().to_string(),
    }
}

/// Watch events on InferenceServices, as raw objects.
pub type WatchStream = Pin<Box<dyn futures::Stream<Item = kube::Result<WatchEvent<Value>>> + Send>>;

const TABLE_ACCEPT: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";

/// Rows per page of a listed table: kubectl's own default chunk size. One page of full
/// InferenceServices is a few MB at most, which bounds what `status` holds at once.
pub const PAGE_SIZE: usize = 500;

/// A server-rendered Table (or one page of it), each row's object kept as the server's text:
/// parsed only for the rows that need it (a view, the namespace under `-A`).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TablePage {
    #[serde(default)]
    pub column_definitions: Vec<Value>,
    #[serde(default)]
    pub rows: Vec<TableRow>,
    #[serde(default)]
    pub metadata: PageMeta,
}

#[derive(Debug, serde::Deserialize)]
pub struct TableRow {
    #[serde(default)]
    pub cells: Vec<Value>,
    pub object: Option<Box<serde_json::value::RawValue>>,
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct PageMeta {
    /// The token of the next page; absent or empty on the last one.
    #[serde(rename = "continue")]
    pub continue_token: Option<String>,
}

impl TablePage {
    /// The token of the next page, if there is one.
    pub fn next(&self) -> Option<&str> {
        self.metadata.continue_token.as_deref().filter(|t| !t.is_empty())
    }
}

impl TableRow {
    /// The row's object as a JSON tree (`null` when the server sent none).
    pub fn object(&self) -> Value {
        self.object.as_ref().and_then(|raw| serde_json::from_str(raw.get()).ok()).unwrap_or(Value::Null)
    }
}

/// A connected client with what the commands need to know about where it points.
#[derive(Clone)]
pub struct Kube {
    client: Client,
    pub namespace: String,
    pub context: String,
    pub server: String,
    request_timeout: Option<Duration>,
    /// No retry pause may end after this (a wait's `--timeout`).
    retry_until: Option<Instant>,
    verbosity: u8,
}

/// How a patch body is to be read by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    Merge,
    Json,
}

impl Kube {
    /// Builds the client from kubectl's flags, as kubectl would: `--kubeconfig`, else every path
    /// in `KUBECONFIG` merged, else `~/.kube/config`, else the in-cluster service account.
    pub async fn connect(global: &GlobalArgs) -> Result<Kube> {
        let request_timeout = Some(global.request_timeout).filter(|d| !d.is_zero());
        let (mut config, context) = load_config(global).await?;
        if let Some(warning) = tls_off_warning(&config) {
            eprintln!("{warning}");
        }
        config.read_timeout = request_timeout;
        // Retries are the contract's policy (`call`), not kube's default layer, which resends a
        // write up to 15 times with no cap on Retry-After.
        config.default_retry = false;
        config.headers.push((header::USER_AGENT, header::HeaderValue::from_static(USER_AGENT)));
        let server = config.cluster_url.to_string().trim_end_matches('/').to_string();
        let namespace = global.namespace.clone().unwrap_or_else(|| config.default_namespace.clone());
        crate::names::check_namespace(&namespace)?;
        check_credentials(&config)?;
        let client = http_client(config).map_err(|e| match e {
            kube::Error::Auth(auth) => fail(
                Exit::Forbidden,
                format!("cannot obtain credentials from the kubeconfig: {}", credential_error(&auth)),
            ),
            other => fail(Exit::Usage, format!("cannot use the kubeconfig: {}", credential_error(&other))),
        })?;
        Ok(Kube { client, namespace, context, server, request_timeout, retry_until: None, verbosity: global.verbosity })
    }

    /// This client with no retry pause ending after `deadline` (a wait's `--timeout`): the
    /// contract's "never past --timeout".
    pub fn retries_until(&self, deadline: Instant) -> Kube {
        Kube { retry_until: Some(deadline), ..self.clone() }
    }

    /// One request, with the contract's retry policy: 429, 503 and 504 are retried at most
    /// [`RETRIES`] times, after the server's Retry-After (capped at [`MAX_RETRY_AFTER`]) or a
    /// short backoff, never past `--request-timeout`; errors mapped to the contract's exit codes.
    /// A write that got no answer (a cut connection, the request timeout) may have been applied:
    /// its error says so and is marked `unanswered`, for the write path to re-read.
    pub async fn call(
        &self,
        method: Method,
        uri: &str,
        body: Option<(&str, Vec<u8>)>,
        accept: Option<&str>,
    ) -> Result<Value> {
        self.call_as(method, uri, body, accept).await
    }

    /// [`Kube::call`], the answer read as `T` rather than as a JSON tree.
    async fn call_as<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        uri: &str,
        body: Option<(&str, Vec<u8>)>,
        accept: Option<&str>,
    ) -> Result<T> {
        let started = Instant::now();
        let mut retries = 0;
        loop {
            let mut builder = Request::builder().method(method.clone()).uri(uri);
            if let Some(accept) = accept {
                builder = builder.header(header::ACCEPT, accept);
            }
            if let Some((content_type, _)) = &body {
                builder = builder.header(header::CONTENT_TYPE, *content_type);
            }
            let bytes = body.as_ref().map(|(_, b)| b.clone()).unwrap_or_default();
            let request = builder.body(bytes).context("building a request")?;
            let left = self.request_timeout.map(|limit| limit.saturating_sub(started.elapsed()));
            let attempt_started = Instant::now();
            let reply = self.send(request, left).await;
            if self.verbosity >= 6 {
                let code = match &reply {
                    Ok(r) => r.status.as_u16().to_string(),
                    Err(_) => "no answer".to_string(),
                };
                eprintln!("{method} {}{uri} {code} in {} ms", self.server, attempt_started.elapsed().as_millis());
            }
            let reply = match reply {
                Ok(reply) => reply,
                Err(err) => return Err(self.unanswered(&method, uri, err)),
            };
            if reply.status.is_success() {
                return serde_json::from_slice(&reply.body).map_err(|e| {
                    fail(
                        Exit::Failure,
                        format!("{method} {}{uri}: the API server's answer is not JSON: {e}", self.server),
                    )
                });
            }
            let code = reply.status.as_u16();
            if matches!(code, 429 | 503 | 504) && retries < RETRIES {
                let pause = reply.retry_after.unwrap_or(Duration::from_millis(500 << retries)).min(MAX_RETRY_AFTER);
                let within_limit = self.request_timeout.is_none_or(|limit| started.elapsed() + pause < limit)
                    && self.retry_until.is_none_or(|until| Instant::now() + pause < until);
                if within_limit {
                    retries += 1;
                    if self.verbosity >= 6 {
                        eprintln!(
                            "{method} {}{uri} {code}: retry {retries} of {RETRIES} in {} ms",
                            self.server,
                            pause.as_millis()
                        );
                    }
                    tokio::time::sleep(pause).await;
                    continue;
                }
            }
            return Err(Fail::from_status(code, crate::output::sanitize(&status_message(&reply))).into());
        }
    }

    /// Sends one request and reads the whole answer, within `limit` if there is one.
    async fn send(&self, request: Request<Vec<u8>>, limit: Option<Duration>) -> Result<Reply, Unanswered> {
        let exchange = async {
            let response = self.client.send(request.map(kube::client::Body::from)).await?;
            let status = response.status();
            let retry_after = response
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let body = http_body_util::BodyExt::collect(response.into_body()).await?.to_bytes();
            Ok::<Reply, kube::Error>(Reply { status, retry_after, body })
        };
        match limit {
            Some(limit) => match tokio::time::timeout(limit, exchange).await {
                Ok(result) => result.map_err(Unanswered::Error),
                Err(_) => Err(Unanswered::Timeout(self.request_timeout.unwrap_or(limit))),
            },
            None => exchange.await.map_err(Unanswered::Error),
        }
    }

    /// The error of a request that got no answer. For a write, the change may have been applied.
    fn unanswered(&self, method: &Method, uri: &str, err: Unanswered) -> anyhow::Error {
        let write = *method != Method::GET;
        let maybe = if write { " (the change may have been applied)" } else { "" };
        let mut failure = match err {
            Unanswered::Timeout(limit) => Fail::new(
                Exit::Failure,
                format!("{method} {uri}: request timed out after {}{maybe}", crate::duration::format_duration(limit)),
            ),
            // Credentials that could not be had: nothing was sent.
            Unanswered::Error(e @ kube::Error::Auth(_)) => return self.map_error(e),
            Unanswered::Error(other) => {
                Fail::new(Exit::Failure, format!("{}{maybe}", unreachable_text(&self.server, &chain_text(&other))))
            }
        };
        failure.unanswered = write;
        failure.into()
    }

    fn map_error(&self, err: kube::Error) -> anyhow::Error {
        match err {
            kube::Error::Api(status) => {
                let message = if status.message.is_empty() { status.reason.clone() } else { status.message.clone() };
                Fail::from_status(status.code, crate::output::sanitize(&message)).into()
            }
            kube::Error::Auth(e) => {
                fail(Exit::Forbidden, format!("cannot authenticate to {}: {}", self.server, credential_error(&e)))
            }
            other => fail(Exit::Failure, unreachable_text(&self.server, &chain_text(&other))),
        }
    }

    pub async fn get_isvc(&self, ns: &str, name: &str) -> Result<Isvc> {
        let v = self.call(Method::GET, &isvc_path(Some(ns), Some(name)), None, None).await?;
        Ok(Isvc::from_value(v))
    }

    /// Lists InferenceServices in a namespace (or every namespace with `None`).
    pub async fn list_isvcs(&self, ns: Option<&str>, selector: Option<&str>) -> Result<Vec<Isvc>> {
        let mut uri = isvc_path(ns, None);
        if let Some(sel) = selector {
            uri.push_str(&format!("?labelSelector={}", encode(sel)));
        }
        let v = self.call(Method::GET, &uri, None, None).await?;
        Ok(items(v).into_iter().map(Isvc::from_value).collect())
    }

    /// The server-rendered table of one InferenceService (the CRD's printer columns), with the
    /// object.
    pub async fn isvc_table(&self, ns: &str, name: &str) -> Result<TablePage> {
        let uri = format!("{}?includeObject=Object", isvc_path(Some(ns), Some(name)));
        self.call_as(Method::GET, &uri, None, Some(TABLE_ACCEPT)).await
    }

    /// One page of the server-rendered table of InferenceServices: at most [`PAGE_SIZE`] rows,
    /// from `continue_token` (the previous page's `next`), each row with its object (`Object`),
    /// its metadata (`Metadata`) or nothing (`None`).
    pub async fn isvc_table_page(
        &self,
        ns: Option<&str>,
        selector: Option<&str>,
        continue_token: Option<&str>,
        include: &str,
    ) -> Result<TablePage> {
        let mut uri = format!("{}?includeObject={include}&limit={PAGE_SIZE}", isvc_path(ns, None));
        if let Some(sel) = selector {
            uri.push_str(&format!("&labelSelector={}", encode(sel)));
        }
        if let Some(token) = continue_token {
            uri.push_str(&format!("&continue={}", encode(token)));
        }
        self.call_as(Method::GET, &uri, None, Some(TABLE_ACCEPT)).await
    }

    /// The server-rendered pods table for a label selector, with objects.
    pub async fn pod_table(&self, ns: &str, selector: &str) -> Result<Value> {
        let uri =
            format!("/api/v1/namespaces/{}/pods?includeObject=Object&labelSelector={}", encode(ns), encode(selector));
        self.call(Method::GET, &uri, None, Some(TABLE_ACCEPT)).await
    }

    pub async fn list_revisions(&self, ns: &str, selector: &str) -> Result<Vec<Value>> {
        let uri = format!(
            "/apis/serving.knative.dev/v1/namespaces/{}/revisions?labelSelector={}",
            encode(ns),
            encode(selector)
        );
        Ok(items(self.call(Method::GET, &uri, None, None).await?))
    }

    pub async fn get_revision(&self, ns: &str, name: &str) -> Result<Value> {
        let uri = format!("/apis/serving.knative.dev/v1/namespaces/{}/revisions/{}", encode(ns), encode(name));
        self.call(Method::GET, &uri, None, None).await
    }

    pub async fn get_namespace(&self, name: &str) -> Result<Value> {
        self.call(Method::GET, &format!("/api/v1/namespaces/{}", encode(name)), None, None).await
    }

    /// PATCH an InferenceService. `dry_run` sends `dryRun=All`: admission answers, nothing is stored.
    pub async fn patch_isvc(&self, ns: &str, name: &str, kind: PatchKind, body: &Value, dry_run: bool) -> Result<Isvc> {
        let mut uri = format!("{}?fieldManager={}", isvc_path(Some(ns), Some(name)), crate::patch::FIELD_MANAGER);
        if dry_run {
            uri.push_str("&dryRun=All");
        }
        let content_type = match kind {
            PatchKind::Merge => "application/merge-patch+json",
            PatchKind::Json => "application/json-patch+json",
        };
        let bytes = serde_json::to_vec(body)?;
        let v = self.call(Method::PATCH, &uri, Some((content_type, bytes)), None).await?;
        Ok(Isvc::from_value(v))
    }

    /// Opens a watch on one InferenceService from a resourceVersion: kube's own watch (the
    /// request `Api::watch` builds, and kube's event framing, bookmarks and ERROR events), read
    /// as raw JSON objects rather than through `Api<DynamicObject>`, so that what a wait prints
    /// under `-o json` is the object as the server sent it, not re-encoded metadata.
    pub async fn watch_isvc(&self, ns: &str, name: &str, resource_version: &str) -> Result<WatchStream> {
        let params = WatchParams::default().fields(&format!("metadata.name={name}")).timeout(290);
        let mut request = kube::core::Request::new(isvc_path(Some(ns), None))
            .watch(&params, resource_version)
            .context("building the watch request")?;
        request.extensions_mut().insert("watch");
        if self.verbosity >= 6 {
            eprintln!("GET {}{} (watch)", self.server, request.uri());
        }
        let events = self.client.request_events::<Value>(request).await.map_err(|e| self.map_error(e))?;
        Ok(Box::pin(events))
    }

    /// The predictor Deployments of a Standard-mode InferenceService (label selector by isvc).
    pub async fn list_deployments(&self, ns: &str, selector: &str) -> Result<Vec<Value>> {
        let uri = format!("/apis/apps/v1/namespaces/{}/deployments?labelSelector={}", encode(ns), encode(selector));
        Ok(items(self.call(Method::GET, &uri, None, None).await?))
    }

    /// A Gateway API HTTPRoute (the one KServe writes for a Standard-mode InferenceService).
    pub async fn get_httproute(&self, ns: &str, name: &str) -> Result<Value> {
        let uri = format!("/apis/gateway.networking.k8s.io/v1/namespaces/{}/httproutes/{}", encode(ns), encode(name));
        self.call(Method::GET, &uri, None, None).await
    }

    /// A networking.k8s.io Ingress (KServe's Standard mode without Gateway API).
    pub async fn get_ingress(&self, ns: &str, name: &str) -> Result<Value> {
        let uri = format!("/apis/networking.k8s.io/v1/namespaces/{}/ingresses/{}", encode(ns), encode(name));
        self.call(Method::GET, &uri, None, None).await
    }

    /// Lists pods (objects), for the waits.
    pub async fn list_pods(&self, ns: &str, selector: &str) -> Result<Value> {
        let uri = format!("/api/v1/namespaces/{}/pods?labelSelector={}", encode(ns), encode(selector));
        self.call(Method::GET, &uri, None, None).await
    }
}

/// kube's client, built as `Client::try_from` builds it (base URI, credentials, headers, the
/// connect/read/write timeouts, TLS from the kubeconfig), except that its TCP connections set
/// TCP_NODELAY. Without it, a connection whose TLS session is resumed (every one after the first)
/// sends its first request only once the server's delayed ACK (40 ms) arrives: that was most of
/// the time from the deciding status write to the end of a wait (its pod LIST), and of a PATCH
/// sent while a watch holds the first connection. A proxy in the kubeconfig goes through kube's
/// own builder, unchanged.
fn http_client(config: Config) -> Result<Client, kube::Error> {
    use kube::client::ConfigExt;
    if config.proxy_url.is_some() {
        return Client::try_from(config);
    }
    let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    let https = config.rustls_https_connector_with_connector(http)?;
    let mut connector = hyper_timeout::TimeoutConnector::new(https);
    connector.set_connect_timeout(config.connect_timeout);
    connector.set_read_timeout(config.read_timeout);
    connector.set_write_timeout(config.write_timeout);
    connector.set_reset_reader_on_write(config.reset_reader_on_write);
    let client = hyper_util::client::legacy::Builder::new(hyper_util::rt::TokioExecutor::new()).build(connector);
    let service = tower::ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(config.auth_layer()?)
        .layer(config.extra_headers_layer()?)
        .map_err(tower::BoxError::from)
        .service(client);
    Ok(Client::new(service, config.default_namespace))
}

/// What the kubeconfig holds that kube would take without a word, or crash on: a token that is
/// not a valid HTTP header value (a pasted trailing newline, a control character) panics inside
/// the client; a certificate authority with no PEM certificate in it is silently no CA at all.
fn check_credentials(config: &Config) -> Result<()> {
    use secrecy::ExposeSecret;
    if let Some(token) = &config.auth_info.token
        && header::HeaderValue::from_str(&format!("Bearer {}", token.expose_secret())).is_err()
    {
        return Err(fail(
            Exit::Usage,
            "the kubeconfig's token is not a valid HTTP header value (a trailing newline or a control character?): fix the kubeconfig",
        ));
    }
    if config.root_cert.as_ref().is_some_and(Vec::is_empty) {
        return Err(fail(
            Exit::Usage,
            "the kubeconfig's certificate-authority holds no PEM certificate: fix the kubeconfig (kubectl refuses it too)",
        ));
    }
    Ok(())
}

/// A credential error without what an exec plugin printed: its output may hold the credential
/// (contract, "Security"). What failed stays; what it said does not.
fn credential_error(err: &dyn std::error::Error) -> String {
    let text = chain_text(err);
    if let Some(at) = text.find("auth exec command") {
        let command = text[at..].split('\'').nth(1).unwrap_or("?");
        return format!(
            "the exec credential plugin '{command}' failed; its output is not shown (it may hold credentials)"
        );
    }
    if text.contains("failed to parse auth exec output") {
        return "the exec credential plugin's output is not an ExecCredential; it is not shown (it may hold credentials)"
            .to_string();
    }
    text
}

/// The API path of InferenceServices: all, a namespace's, or one (segments percent-encoded).
pub fn isvc_path(ns: Option<&str>, name: Option<&str>) -> String {
    let mut path = format!("/apis/{GROUP}/{VERSION}");
    if let Some(ns) = ns {
        path.push_str(&format!("/namespaces/{}", encode(ns)));
    }
    path.push_str(&format!("/{PLURAL}"));
    if let Some(name) = name {
        path.push_str(&format!("/{}", encode(name)));
    }
    path
}

/// The kubeconfig as kubectl picks it: `--kubeconfig`, else every path in `KUBECONFIG` merged,
/// else `~/.kube/config`; `None` when there is none. A file that cannot be read is a usage error.
pub fn read_kubeconfig(explicit: Option<&Path>) -> Result<Option<Kubeconfig>> {
    let read = |path: &Path| {
        Kubeconfig::read_from(path)
            .map_err(|e| fail(Exit::Usage, format!("cannot read kubeconfig {}: {}", path.display(), chain_text(&e))))
    };
    if let Some(path) = explicit {
        return read(path).map(Some);
    }
    if std::env::var_os("KUBECONFIG").is_some_and(|v| !v.is_empty()) {
        return Kubeconfig::read()
            .map(Some)
            .map_err(|e| fail(Exit::Usage, format!("cannot read the kubeconfig in $KUBECONFIG: {}", chain_text(&e))));
    }
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    match home.map(|h| h.join(".kube").join("config")).filter(|p| p.exists()) {
        Some(path) => read(&path).map(Some),
        None => Ok(None),
    }
}

/// Reads the kubeconfig the way kubectl does and returns the config and the context name.
async fn load_config(global: &GlobalArgs) -> Result<(Config, String)> {
    let Some(kubeconfig) = read_kubeconfig(global.kubeconfig.as_deref())? else {
        if std::env::var_os("KUBERNETES_SERVICE_HOST").is_some() {
            let config = Config::incluster()
                .map_err(|e| fail(Exit::Usage, format!("cannot use the in-cluster service account: {e}")))?;
            return Ok((config, "in-cluster".to_string()));
        }
        return Err(fail(Exit::Usage, "no kubeconfig found: set KUBECONFIG or pass --kubeconfig PATH"));
    };
    let context = match &global.context {
        Some(c) => {
            if !kubeconfig.contexts.iter().any(|n| &n.name == c) {
                let known: Vec<&str> = kubeconfig.contexts.iter().map(|n| n.name.as_str()).collect();
                return Err(fail(
                    Exit::Usage,
                    format!("context \"{c}\" is not in the kubeconfig (known: {})", known.join(", ")),
                ));
            }
            c.clone()
        }
        None => kubeconfig
            .current_context
            .clone()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| fail(Exit::Usage, "the kubeconfig has no current context: pass --context NAME"))?,
    };
    let options = KubeConfigOptions { context: Some(context.clone()), ..Default::default() };
    let config = Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| fail(Exit::Usage, format!("cannot use context \"{context}\": {}", chain_text(&e))))?;
    Ok((config, context))
}

/// Why the API server could not be used: a server certificate that TLS verification refused
/// (rustls's "invalid peer certificate") is said to be not trusted, in words.
fn unreachable_text(server: &str, cause: &str) -> String {
    if cause.contains("invalid peer certificate") {
        format!(
            "cannot reach the API server at {server}: its certificate is not trusted (not signed by the kubeconfig's certificate authority, or not for this server): {cause}"
        )
    } else {
        format!("cannot reach the API server at {server}: {cause}")
    }
}

/// The one warning when the kubeconfig turns TLS verification off (`insecure-skip-tls-verify:
/// true`, which kube honours as kubectl does); `None` when the server's certificate is checked.
fn tls_off_warning(config: &Config) -> Option<String> {
    config.accept_invalid_certs.then(|| {
        let server = crate::output::sanitize(config.cluster_url.to_string().trim_end_matches('/'));
        format!(
            "warning: TLS verification is off for {server} (insecure-skip-tls-verify in the kubeconfig): \
             the server's identity is not checked"
        )
    })
}

/// An error and its sources on one line (no credentials are ever part of these messages).
fn chain_text(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

fn items(list: Value) -> Vec<Value> {
    match list.get("items") {
        Some(Value::Array(items)) => items.clone(),
        _ => Vec::new(),
    }
}

/// Percent-encodes a query value.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warns_only_when_tls_verification_is_off() {
        let mut config = Config::new("https://127.0.0.1:6443".parse().expect("url"));
        assert_eq!(tls_off_warning(&config), None);
        config.accept_invalid_certs = true;
        assert_eq!(
            tls_off_warning(&config).as_deref(),
            Some(
                "warning: TLS verification is off for https://127.0.0.1:6443 (insecure-skip-tls-verify in the \
                 kubeconfig): the server's identity is not checked"
            )
        );
    }

    #[test]
    fn an_untrusted_certificate_is_named() {
        let cause = "ServiceError: client error (Connect): invalid peer certificate: UnknownIssuer";
        let text = unreachable_text("https://127.0.0.1:6443", cause);
        assert!(
            text.starts_with("cannot reach the API server at https://127.0.0.1:6443: its certificate is not trusted")
        );
        assert!(text.ends_with(cause));
        let refused = "ServiceError: client error (Connect): tcp connect error: Connection refused (os error 111)";
        assert_eq!(
            unreachable_text("https://127.0.0.1:1", refused),
            format!("cannot reach the API server at https://127.0.0.1:1: {refused}")
        );
    }

    #[test]
    fn encodes_selectors() {
        assert_eq!(
            encode("serving.kserve.io/inferenceservice=a,b!=c"),
            "serving.kserve.io%2Finferenceservice%3Da%2Cb%21%3Dc"
        );
    }
}
