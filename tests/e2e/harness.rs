//! The e2e harness: the shared test cluster (started once per run by tests/run.sh and named by
//! ISVC_CANARY_TEST_ENV), one namespace per test, kubectl as the independent oracle, the fakes'
//! knobs, the audit log, and a gate that keeps parallelism modest (two cores).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::proc::{Cmd, Output, Running};

pub const MODEL_1: &str = "gs://kfserving-examples/models/sklearn/1.0/model";
pub const MODEL_2: &str = "gs://kfserving-examples/models/sklearn/2.0/model";
pub const MODEL_3: &str = "gs://kfserving-examples/models/sklearn/3.0/model";
pub const MODEL_FAIL: &str = "gs://kfserving-examples/models/sklearn/sim-fail/model";
pub const UA_PREFIX: &str = "kubectl-isvc-canary/";

/// How long a rollout may take on this cluster before a test gives up (generous: two cores).
pub const ROLLOUT: Duration = Duration::from_secs(240);

/// The progress deadline a failure test sets on its own InferenceService (the annotation
/// `serving.knative.dev/progress-deadline`, which KServe copies into the revision template); the
/// world keeps Knative's 600 s. Knative's autoscaler scales a revision that never became ready to
/// zero 30 s after it.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// The env.json of `world up`.
#[derive(Debug, Clone)]
pub struct Cluster {
    pub server: String,
    pub admin: String,
    pub limited: String,
    pub token: String,
    pub limited_user: String,
    pub token_user: String,
    pub ingress: String,
    pub audit_log: PathBuf,
    /// The world's Prometheus (http://127.0.0.1:PORT), when tests/build-go.sh built it.
    pub prometheus: Option<String>,
    /// The KServe release whose manager the world runs (`world up --kserve`): "v0.20.0", "v0.17.0".
    pub kserve: String,
}

/// The shared cluster. Without ISVC_CANARY_TEST_ENV every e2e test FAILS (never skips).
pub fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();
    let loaded = CLUSTER.get_or_init(|| {
        let path = std::env::var("ISVC_CANARY_TEST_ENV").map_err(|_| {
            "ISVC_CANARY_TEST_ENV is not set: the e2e tests run against the test cluster that tests/run.sh starts; \
             run tests/run.sh (or start `world up` and point ISVC_CANARY_TEST_ENV at its env.json)"
                .to_string()
        })?;
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}: run tests/run.sh"))?;
        let v: Value = serde_json::from_str(&text).map_err(|e| format!("{path}: {e}: run tests/run.sh"))?;
        let s = |p: &str| -> Result<String, String> {
            v.pointer(p)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| format!("{path}: no {p}: run tests/run.sh"))
        };
        Ok(Cluster {
            server: s("/server")?,
            admin: s("/kubeconfigs/admin")?,
            limited: s("/kubeconfigs/limited")?,
            token: s("/kubeconfigs/token")?,
            limited_user: s("/users/limited")?,
            token_user: s("/users/token")?,
            ingress: s("/ingress")?,
            audit_log: PathBuf::from(s("/auditLog")?),
            prometheus: s("/prometheus").ok(),
            kserve: s("/kserve")?,
        })
    });
    match loaded {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Parallelism: at most N tests talk to the cluster at once (ISVC_CANARY_E2E_JOBS, default 3).

struct Gate {
    running: Mutex<usize>,
    cv: Condvar,
}

fn gate() -> &'static Gate {
    static GATE: OnceLock<Gate> = OnceLock::new();
    GATE.get_or_init(|| Gate { running: Mutex::new(0), cv: Condvar::new() })
}

fn max_jobs() -> usize {
    std::env::var("ISVC_CANARY_E2E_JOBS").ok().and_then(|v| v.parse().ok()).filter(|n| *n > 0).unwrap_or(3)
}

pub struct Slot;

impl Slot {
    fn take() -> Slot {
        let g = gate();
        let mut n = g.running.lock().unwrap_or_else(|e| e.into_inner());
        while *n >= max_jobs() {
            n = g.cv.wait(n).unwrap_or_else(|e| e.into_inner());
        }
        *n += 1;
        Slot
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let g = gate();
        let mut n = g.running.lock().unwrap_or_else(|e| e.into_inner());
        *n -= 1;
        g.cv.notify_one();
    }
}

// ---------------------------------------------------------------------------------------------
// One namespace per test.

pub struct Ns {
    pub name: String,
    pub cluster: &'static Cluster,
    _slot: Slot,
}

impl Ns {
    /// Creates a namespace named after the test (unique per run). Kept when the test fails.
    pub fn new(test: &str) -> Ns {
        let cluster = cluster();
        let slot = Slot::take();
        static N: AtomicUsize = AtomicUsize::new(0);
        let stem: String =
            test.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
        let stem = &stem[..stem.len().min(40)];
        let name =
            format!("{}-{}-{}", stem.trim_matches('-'), std::process::id() % 100_000, N.fetch_add(1, Ordering::SeqCst));
        let ns = Ns { name, cluster, _slot: slot };
        ns.kubectl_global(["create", "namespace", ns.name.as_str()]).ok();
        ns
    }

    /// kubectl as the admin (its kubeconfig only, no KUBECONFIG, no `-n`), to add to and run.
    pub fn kubectl_cmd(&self) -> Cmd {
        Cmd::new("kubectl").env_remove("KUBECONFIG").args(["--kubeconfig", self.cluster.admin.as_str()])
    }

    /// kubectl as the admin, without `-n`.
    pub fn kubectl_global<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.kubectl_cmd().args(args).run()
    }

    /// kubectl as the admin in this namespace.
    pub fn kubectl<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.kubectl_cmd().args(["-n", self.name.as_str()]).args(args).run()
    }

    /// `kubectl apply -f -` of a YAML or JSON document, as the admin, in this namespace.
    pub fn apply(&self, doc: &str) -> Output {
        let out = self.kubectl_cmd().args(["-n", self.name.as_str(), "apply", "-f", "-"]).stdin(doc.as_bytes()).run();
        out.ok();
        out
    }

    /// The plugin as the admin in this namespace.
    pub fn plugin<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.plugin_as(&self.cluster.admin.clone(), args)
    }

    /// The plugin with another kubeconfig (limited or token user) in this namespace.
    pub fn plugin_as<I, S>(&self, kubeconfig: &str, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.plugin_cmd(kubeconfig, args).limit(Duration::from_secs(600)).run()
    }

    pub fn plugin_cmd<I, S>(&self, kubeconfig: &str, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        Cmd::plugin().args(["--kubeconfig", kubeconfig, "-n", self.name.as_str()]).args(args)
    }

    /// Starts the plugin in the background (as the admin).
    pub fn plugin_spawn<I, S>(&self, args: I) -> Running
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.plugin_cmd(&self.cluster.admin.clone(), args).limit(Duration::from_secs(600)).spawn()
    }

    // -- InferenceServices ------------------------------------------------------------------

    /// Creates an sklearn InferenceService (new schema) with `kubectl apply`.
    pub fn create_sklearn(&self, name: &str, uri: &str) {
        self.apply(&sklearn_yaml(name, uri, None));
    }

    /// Creates it and waits (through kubectl) until its first revision serves 100%.
    pub fn create_ready(&self, name: &str, uri: &str) -> Value {
        self.create_sklearn(name, uri);
        self.wait_rolled_out(name)
    }

    /// Creates an sklearn InferenceService with these metadata annotations and extra predictor
    /// fields (e.g. `minReplicas`) and waits until its first revision serves 100%.
    pub fn create_ready_with(&self, name: &str, uri: &str, annotations: Value, predictor: Value) -> Value {
        let mut p = sklearn_predictor(uri);
        if let (Some(p), Some(extra)) = (p.as_object_mut(), predictor.as_object()) {
            p.extend(extra.clone());
        }
        let mut doc = isvc_doc(name, json!({"predictor": p}));
        doc["metadata"]["annotations"] = annotations;
        self.apply(&doc.to_string());
        self.wait_rolled_out(name)
    }

    /// Creates it ready with a progress deadline of DEADLINE of its own.
    pub fn create_ready_failing_fast(&self, name: &str, uri: &str) -> Value {
        let deadline = format!("{}s", DEADLINE.as_secs());
        self.create_ready_with(name, uri, json!({"serving.knative.dev/progress-deadline": deadline}), json!({}))
    }

    /// A Knative Revision's condition (status, reason, message), as kubectl reads it.
    pub fn revision_condition(&self, revision: &str, ty: &str) -> (String, String, String) {
        let out = self.kubectl(["get", "revisions.serving.knative.dev", revision, "-o", "json"]).ok().json();
        let c = out["status"]["conditions"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["type"] == ty))
            .cloned()
            .unwrap_or_default();
        let s = |k: &str| c[k].as_str().unwrap_or_default().to_string();
        (s("status"), s("reason"), s("message"))
    }

    /// The names of a revision's pods (kubectl, terminating ones included).
    pub fn revision_pods(&self, revision: &str) -> Vec<String> {
        let sel = format!("serving.knative.dev/revision={revision}");
        let out = self.kubectl(["get", "pods", "-l", sel.as_str(), "-o", "jsonpath={.items[*].metadata.name}"]);
        out.ok().stdout.split_whitespace().map(str::to_string).collect()
    }

    /// Polls until `pred` holds for the revision's Ready condition; panics after `limit`.
    pub fn wait_revision_ready(&self, revision: &str, want: &str, limit: Duration) -> (String, String, String) {
        let start = Instant::now();
        loop {
            let c = self.revision_condition(revision, "Ready");
            if c.0 == want {
                return c;
            }
            assert!(start.elapsed() < limit, "{}: {revision} Ready is {c:?} after {limit:?}, want {want}", self.name);
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// Whether the cluster's KServe has Standard-mode canaries (`spec.canary`, v0.20+): read from
    /// the InferenceService CRD's v1beta1 schema.
    pub fn kserve_has_spec_canary(&self) -> bool {
        let path = "jsonpath={.spec.versions[?(@.name==\"v1beta1\")].schema.openAPIV3Schema.properties.spec.properties.canary.type}";
        let out = self.kubectl(["get", "crd", "inferenceservices.serving.kserve.io", "-o", path]);
        out.code == Some(0) && out.stdout.trim() == "array"
    }

    /// The object as kubectl reads it.
    pub fn get(&self, name: &str) -> Value {
        self.kubectl(["get", "inferenceservice.serving.kserve.io", name, "-o", "json", "--show-managed-fields"])
            .ok()
            .json()
    }

    /// Polls the object (kubectl) until `pred` holds; panics with the last object after `limit`.
    pub fn wait_isvc(&self, name: &str, what: &str, limit: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            let out = self.kubectl(["get", "inferenceservice.serving.kserve.io", name, "-o", "json"]);
            if out.code == Some(0) {
                let v = out.json();
                if pred(&v) {
                    return v;
                }
                if start.elapsed() > limit {
                    panic!(
                        "{}/{name}: timed out after {limit:?} waiting for {what}; last seen status:\n{}",
                        self.name,
                        serde_json::to_string_pretty(&v["status"]).unwrap_or_default()
                    );
                }
            } else if start.elapsed() > limit {
                panic!("{}/{name}: timed out waiting for {what}\n{}", self.name, out.describe());
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// Waits until the predictor's latest created revision is ready, rolled out, and serves 100%
    /// alone, with Ready True: the state after a first deploy or a promote.
    pub fn wait_rolled_out(&self, name: &str) -> Value {
        self.wait_isvc(name, "a rolled-out revision serving 100% with Ready True", ROLLOUT, |v| {
            let p = &v["status"]["components"]["predictor"];
            let lcr = p["latestCreatedRevision"].as_str().unwrap_or_default();
            !lcr.is_empty()
                && p["latestReadyRevision"].as_str() == Some(lcr)
                && p["latestRolledoutRevision"].as_str() == Some(lcr)
                && p["traffic"].as_array().is_some_and(|t| {
                    t.len() == 1 && t[0]["percent"] == json!(100) && t[0]["revisionName"].as_str() == Some(lcr)
                })
                && condition(v, "Ready") == "True"
        })
    }

    /// Waits until KServe's controller has taken the object in (its finalizer is on; ModelMesh
    /// objects get none, only a status), so that what it adds does not count as our change.
    pub fn wait_reconciled(&self, name: &str) -> Value {
        self.wait_isvc(name, "KServe's finalizer (or a ModelMesh status)", ROLLOUT, |v| {
            let finalized = v["metadata"]["finalizers"]
                .as_array()
                .is_some_and(|f| f.iter().any(|x| x == "inferenceservice.finalizers"));
            finalized || v["status"]["deploymentMode"] == "ModelMesh"
        })
    }

    /// Waits until the predictor's latest created revision is `-0000n` (it exists).
    pub fn wait_created(&self, name: &str, n: u32) -> Value {
        let want = rev(name, n);
        self.wait_isvc(name, &format!("latest created revision {want}"), ROLLOUT, |v| {
            v["status"]["components"]["predictor"]["latestCreatedRevision"].as_str() == Some(want.as_str())
        })
    }

    // -- knobs ------------------------------------------------------------------------------

    /// Writes the fakes' ConfigMap `isvc-sim` in this namespace.
    pub fn knobs(&self, paused: bool, rules: Value) {
        let cm = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "isvc-sim", "namespace": self.name},
            "data": {"paused": if paused { "true" } else { "false" }, "rules": rules.to_string()}
        });
        self.apply(&cm.to_string());
    }

    pub fn pause(&self, paused: bool) {
        // Keep the rules that are there.
        let out = self.kubectl(["get", "configmap", "isvc-sim", "-o", "jsonpath={.data.rules}"]);
        let rules: Value = if out.code == Some(0) && !out.stdout.trim().is_empty() {
            serde_json::from_str(out.stdout.trim()).unwrap_or(json!([]))
        } else {
            json!([])
        };
        self.knobs(paused, rules);
    }

    // -- RBAC ---------------------------------------------------------------------------------

    /// A Role named `role` with `rules`, bound to `user` in this namespace.
    pub fn grant(&self, user: &str, role: &str, rules: Value) {
        let role_doc = json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": role, "namespace": self.name},
            "rules": rules
        });
        let binding = json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": role, "namespace": self.name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]
        });
        self.apply(&role_doc.to_string());
        self.apply(&binding.to_string());
    }

    /// The rules of the Role README.md gives ("The Role it needs"), read from README.md itself
    /// (kubectl turns its YAML into JSON), so that the tests use the documented Role and no copy.
    pub fn documented_rules(&self) -> Value {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("README.md");
        let readme = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let yaml = readme
            .split_once("## The Role it needs")
            .and_then(|(_, section)| section.split_once("```yaml\n"))
            .and_then(|(_, block)| block.split_once("```"))
            .map(|(yaml, _)| yaml)
            .unwrap_or_else(|| panic!("{}: no ```yaml block under \"## The Role it needs\"", path.display()));
        let out = self
            .kubectl_cmd()
            .args(["create", "--dry-run=client", "-o", "json", "-f", "-"])
            .stdin(yaml.as_bytes())
            .run();
        let role = out.ok().json();
        assert_eq!(role["kind"], "Role", "README.md's Role block\n{}", out.describe());
        role["rules"].clone()
    }

    /// The documented Role bound to `user`, as `isvc-canary`; without `watch` when `with_watch`
    /// is false.
    pub fn grant_least_privilege(&self, user: &str, with_watch: bool) {
        let mut rules = self.documented_rules();
        if !with_watch {
            for verbs in rules.as_array_mut().into_iter().flatten().filter_map(|r| r["verbs"].as_array_mut()) {
                verbs.retain(|v| v != "watch");
            }
        }
        self.grant(user, "isvc-canary", rules);
    }

    /// Starts `kubectl get pods -l SELECTOR --watch` in the background, recording each pod's
    /// Ready condition as the events arrive.
    pub fn watch_readiness(&self, selector: &str) -> ReadinessWatch {
        ReadinessWatch::start(self, selector)
    }

    // -- comparisons with kubectl -------------------------------------------------------------

    /// The one retry-then-compare loop: with the fakes paused, reads kubectl's view, runs ours,
    /// reads kubectl's view again, and retries (a second apart, 20 times at most) while kubectl's
    /// two reads differ (a controller still writing); then `check`s our output against kubectl's
    /// view and resumes the fakes.
    #[track_caller]
    fn compare_with_kubectl<T: PartialEq + std::fmt::Debug>(
        &self,
        what: &str,
        kubectl_view: impl Fn() -> T,
        ours: impl Fn() -> Output,
        check: impl FnOnce(&T, &Output),
    ) {
        self.pause(true);
        let mut last = String::new();
        for _ in 0..20 {
            let before = kubectl_view();
            let out = ours();
            out.ok();
            let after = kubectl_view();
            if before != after {
                last = format!("{before:#?}\n{after:#?}");
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
            check(&before, &out);
            self.pause(false);
            return;
        }
        panic!("{what} kept changing; cannot compare with kubectl; its last two reads:\n{last}");
    }

    /// Compares our InferenceService table with `kubectl get isvc NAME` (AGE aside) and our pods
    /// with `kubectl get pods -l serving.kserve.io/inferenceservice=NAME`, with the fakes paused.
    #[track_caller]
    pub fn assert_status_matches_kubectl(&self, name: &str) {
        let selector = format!("serving.kserve.io/inferenceservice={name}");
        let kubectl_view = || {
            let table = self.kubectl(["get", "inferenceservice.serving.kserve.io", name]).ok().stdout.clone();
            let pods = self.kubectl(["get", "pods", "-l", selector.as_str()]).ok().stdout.clone();
            (without_age(&table), pod_rows(&parse_table(&pods)))
        };
        let what = format!("the InferenceService {name}");
        self.compare_with_kubectl(
            &what,
            kubectl_view,
            || self.plugin(["status", name]),
            |(table, pods), ours| {
                let first_table: String = ours.stdout.split("\n\n").next().unwrap_or_default().to_string() + "\n";
                assert_eq!(
                    &without_age(&first_table),
                    table,
                    "InferenceService table differs from kubectl's (AGE aside)\n{}",
                    ours.describe()
                );
                assert_eq!(
                    &pod_rows(&our_pod_tables(&ours.stdout)),
                    pods,
                    "pods differ from kubectl's\n{}",
                    ours.describe()
                );
            },
        );
    }

    /// `status NAME --no-headers`: its first line equals `kubectl get isvc NAME --no-headers`
    /// (AGE, the last cell, aside), with the fakes paused.
    #[track_caller]
    pub fn assert_no_headers_matches_kubectl(&self, name: &str) {
        let cut_age = |line: &str| {
            line.trim_end().rsplit_once(' ').map(|(rest, _)| rest.trim_end().to_string()).unwrap_or_default()
        };
        let kubectl_view =
            || cut_age(&self.kubectl(["get", "inferenceservice.serving.kserve.io", name, "--no-headers"]).ok().stdout);
        let ours = || self.plugin(["status", name, "--no-headers"]);
        self.compare_with_kubectl(&format!("the InferenceService {name}"), kubectl_view, ours, |row, ours| {
            let first = ours.stdout.lines().next().unwrap_or_default();
            assert_eq!(&cut_age(first), row, "--no-headers row differs from kubectl's\n{}", ours.describe());
        });
    }

    /// `status` without NAME (plus `extra` flags) equals `kubectl get isvc` with the same flags.
    #[track_caller]
    pub fn assert_list_matches_kubectl(&self, extra: &[&str]) {
        let kubectl_view = || {
            without_age(&self.kubectl([&["get", "inferenceservice.serving.kserve.io"][..], extra].concat()).ok().stdout)
        };
        let ours = || self.plugin([&["status"][..], extra].concat());
        self.compare_with_kubectl("the InferenceServices", kubectl_view, ours, |list, ours| {
            assert_eq!(&without_age(&ours.stdout), list, "the list differs from kubectl's\n{}", ours.describe());
        });
    }

    // -- audit log ----------------------------------------------------------------------------

    /// The current end of the audit log: requests after it belong to what runs next.
    pub fn audit_mark(&self) -> u64 {
        std::fs::metadata(&self.cluster.audit_log).map(|m| m.len()).unwrap_or(0)
    }

    /// Our requests (user agent `kubectl-isvc-canary/…`) since `mark` that touch this namespace,
    /// plus every one of ours that names no namespace at all (discovery, cluster-wide reads) when
    /// made by `user`. Waits until the log has caught up with `until` (e.g. a PATCH seen) or 5 s.
    pub fn audit_since(&self, mark: u64, user: &str, settle: impl Fn(&[AuditEvent]) -> bool) -> Vec<AuditEvent> {
        let start = Instant::now();
        loop {
            let events = self.read_audit(mark, user);
            if settle(&events) && start.elapsed() > Duration::from_millis(700)
                || start.elapsed() > Duration::from_secs(5)
            {
                return events;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The audit window of `commands` runs of the plugin that must not write anything: waits
    /// until the log holds their reads, then asserts that it holds exactly `commands` GETs of the
    /// InferenceService `name` (answered 200), one per run, so that the window really covers
    /// those runs and "no write" is not true of an empty list; and that none of the plugin's
    /// requests in it is a write (create, update, patch or delete, dry runs included).
    #[track_caller]
    pub fn assert_no_write_after_read(&self, mark: u64, user: &str, name: &str, commands: usize) -> Vec<AuditEvent> {
        let reads = |events: &[AuditEvent]| {
            let mut ids: Vec<&str> = events
                .iter()
                .filter(|e| e.verb == "get" && e.resource == "inferenceservices" && e.name == name && e.code == 200)
                .map(|e| e.audit_id.as_str())
                .collect();
            ids.sort();
            ids.dedup();
            ids.len()
        };
        let events = self.audit_since(mark, user, |ev| reads(ev) >= commands);
        let summary: Vec<String> = events.iter().map(|e| format!("{} {} -> {}", e.verb, e.uri, e.code)).collect();
        assert_eq!(
            reads(&events),
            commands,
            "each of the {commands} run(s) reads InferenceService {name} once (a window without them proves nothing): {summary:#?}"
        );
        let writes: Vec<&String> = events
            .iter()
            .zip(&summary)
            .filter(|(e, _)| WRITE_VERBS.contains(&e.verb.as_str()))
            .map(|(_, s)| s)
            .collect();
        assert!(writes.is_empty(), "no write after the read, not even a dry run: {writes:#?}\nall: {summary:#?}");
        events
    }

    fn read_audit(&self, mark: u64, user: &str) -> Vec<AuditEvent> {
        use std::io::{Read, Seek, SeekFrom};
        let mut f = std::fs::File::open(&self.cluster.audit_log).expect("audit log");
        f.seek(SeekFrom::Start(mark)).expect("seek");
        let mut text = String::new();
        f.read_to_string(&mut text).expect("read audit log");
        let ns_part = format!("/namespaces/{}/", self.name);
        let ns_end = format!("/namespaces/{}", self.name);
        text.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|e| e["userAgent"].as_str().unwrap_or_default().starts_with(UA_PREFIX))
            .map(|e| AuditEvent {
                verb: e["verb"].as_str().unwrap_or_default().to_string(),
                uri: e["requestURI"].as_str().unwrap_or_default().to_string(),
                user: e["user"]["username"].as_str().unwrap_or_default().to_string(),
                resource: e["objectRef"]["resource"].as_str().unwrap_or_default().to_string(),
                name: e["objectRef"]["name"].as_str().unwrap_or_default().to_string(),
                code: e["responseStatus"]["code"].as_i64().unwrap_or(0),
                stage: e["stage"].as_str().unwrap_or_default().to_string(),
                audit_id: e["auditID"].as_str().unwrap_or_default().to_string(),
            })
            .filter(|e| {
                let path = e.uri.split('?').next().unwrap_or_default();
                path.contains(&ns_part) || path.ends_with(&ns_end) || (e.user == user && !path.contains("/namespaces/"))
            })
            .collect()
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("(namespace {} kept for inspection)", self.name);
            return;
        }
        let _ = self.kubectl_global(["delete", "namespace", self.name.as_str(), "--wait=false"]);
    }
}

/// The audit verbs of requests that write (a dry run of one is still one of these).
pub const WRITE_VERBS: &[&str] = &["create", "update", "patch", "delete", "deletecollection"];

#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub verb: String,
    pub uri: String,
    pub user: String,
    pub resource: String,
    pub name: String,
    pub code: i64,
    /// ResponseStarted (long-running requests: watches) or ResponseComplete.
    pub stage: String,
    pub audit_id: String,
}

// ---------------------------------------------------------------------------------------------
// Helpers on objects and tables.

/// The predictor revision `<name>-predictor-0000n`.
pub fn rev(name: &str, n: u32) -> String {
    format!("{name}-predictor-{n:05}")
}

/// A condition's status ("" when absent).
pub fn condition(v: &Value, ty: &str) -> String {
    v["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == ty))
        .and_then(|c| c["status"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// The predictor's status traffic as (revision, percent, tag, latestRevision).
pub fn traffic(v: &Value) -> Vec<(String, i64, String, bool)> {
    v["status"]["components"]["predictor"]["traffic"]
        .as_array()
        .map(|ts| {
            ts.iter()
                .map(|t| {
                    (
                        t["revisionName"].as_str().unwrap_or_default().to_string(),
                        t["percent"].as_i64().unwrap_or(0),
                        t["tag"].as_str().unwrap_or_default().to_string(),
                        t["latestRevision"].as_bool().unwrap_or(false),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The object minus what the server and the controllers own: status, resourceVersion,
/// generation, managedFields.
pub fn owned_view(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("status");
    }
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("resourceVersion");
        m.remove("generation");
        m.remove("managedFields");
    }
    v
}

/// RFC 7386 merge patch, applied to a copy.
pub fn merged(target: &Value, patch: &Value) -> Value {
    fn apply(t: &mut Value, p: &Value) {
        match p.as_object() {
            Some(p) => {
                if !t.is_object() {
                    *t = json!({});
                }
                let t = t.as_object_mut().expect("object");
                for (k, v) in p {
                    if v.is_null() {
                        t.remove(k);
                    } else {
                        apply(t.entry(k.clone()).or_insert(Value::Null), v);
                    }
                }
            }
            None => *t = p.clone(),
        }
    }
    let mut out = target.clone();
    apply(&mut out, patch);
    out
}

/// A kubectl-like table as rows of column → cell, using the header's column positions.
pub fn parse_table(text: &str) -> Vec<BTreeMap<String, String>> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let Some(header) = lines.next() else { return Vec::new() };
    let mut starts = Vec::new();
    let mut prev_space = true;
    for (i, ch) in header.char_indices() {
        if ch != ' ' && prev_space {
            starts.push(i);
        }
        prev_space = ch == ' ';
    }
    let names: Vec<String> = starts
        .iter()
        .enumerate()
        .map(|(k, s)| {
            let end = starts.get(k + 1).copied().unwrap_or(header.len());
            header[*s..end].trim().to_string()
        })
        .collect();
    lines
        .map(|l| {
            let mut row = BTreeMap::new();
            for (k, s) in starts.iter().enumerate() {
                let end = starts.get(k + 1).copied().unwrap_or(l.len()).min(l.len());
                let cell = if *s < l.len() { l[*s..end].trim().to_string() } else { String::new() };
                row.insert(names[k].clone(), cell);
            }
            row
        })
        .collect()
}

/// A table with the AGE column cut off (it is last), trailing spaces trimmed.
pub fn without_age(table: &str) -> String {
    let mut lines = table.lines();
    let Some(header) = lines.next() else { return String::new() };
    let cut = header.find("AGE").unwrap_or(header.len());
    let mut out = String::new();
    for l in table.lines() {
        out.push_str(l.get(..cut.min(l.len())).unwrap_or(l).trim_end());
        out.push('\n');
    }
    out
}

/// Pod rows as (name, ready, status, restarts without "(… ago)"), sorted by name.
pub fn pod_rows(rows: &[BTreeMap<String, String>]) -> Vec<(String, String, String, String)> {
    let mut out: Vec<_> = rows
        .iter()
        .map(|r| {
            let get = |k: &str| r.get(k).cloned().unwrap_or_default();
            let restarts = get("RESTARTS").split_whitespace().next().unwrap_or_default().to_string();
            (get("NAME"), get("READY"), get("STATUS"), restarts)
        })
        .collect();
    out.sort();
    out
}

/// The rows of the revision table of our `status NAME` output (the table under the REVISION
/// header, up to the line after it that is not a row).
pub fn revision_rows(text: &str) -> Vec<BTreeMap<String, String>> {
    // The table ends at a blank line, or at the lines of their own under it (failures, notes).
    let table: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("REVISION "))
        .take_while(|l| !l.trim().is_empty() && !l.contains(" failed: ") && !l.starts_with("note: "))
        .collect();
    parse_table(&table.join("\n"))
}

/// The pod tables of our `status NAME` output ("pods of REV:" sections).
pub fn our_pod_tables(text: &str) -> Vec<BTreeMap<String, String>> {
    let mut rows = Vec::new();
    let mut section = String::new();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with("pods of ") {
            if inside {
                rows.extend(parse_table(&section));
            }
            section.clear();
            inside = true;
            continue;
        }
        if inside {
            if line.trim().is_empty() {
                rows.extend(parse_table(&section));
                section.clear();
                inside = false;
            } else {
                section.push_str(line);
                section.push('\n');
            }
        }
    }
    if inside {
        rows.extend(parse_table(&section));
    }
    rows
}

/// An InferenceService document with this spec.
pub fn isvc_doc(name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": name},
        "spec": spec
    })
}

/// An sklearn predictor (new schema) serving `uri`.
pub fn sklearn_predictor(uri: &str) -> Value {
    json!({"model": {"modelFormat": {"name": "sklearn"}, "storageUri": uri}})
}

/// An sklearn InferenceService (new schema), optionally with extra predictor fields.
pub fn sklearn_yaml(name: &str, uri: &str, ctp: Option<i64>) -> String {
    let mut predictor = sklearn_predictor(uri);
    if let Some(p) = ctp {
        predictor["canaryTrafficPercent"] = json!(p);
    }
    isvc_doc(name, json!({"predictor": predictor})).to_string()
}

/// One HTTP/1.1 request through the fake ingress with a Host header; (status line, headers, body).
pub fn http(
    ingress: &str,
    host: &str,
    method: &str,
    path: &str,
    body: &str,
) -> (String, BTreeMap<String, String>, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(ingress).unwrap_or_else(|e| panic!("connect {ingress}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).expect("write request");
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).expect("read response");
    let text = String::from_utf8_lossy(&resp).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines.next().unwrap_or_default().to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, body.to_string())
}

// ---------------------------------------------------------------------------------------------
// Pod readiness as kubectl watches it, each change stamped with the moment it was seen.

/// One watch event of a pod: whether it was Ready, and when the event arrived.
#[derive(Debug, Clone)]
pub struct ReadyEvent {
    pub at: Instant,
    pub pod: String,
    pub revision: String,
    pub ready: bool,
}

/// A background `kubectl get pods --watch`; [`ReadinessWatch::stop`] ends it and returns what it saw.
pub struct ReadinessWatch {
    child: std::process::Child,
    seen: std::sync::Arc<Mutex<Vec<ReadyEvent>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl ReadinessWatch {
    fn start(ns: &Ns, selector: &str) -> ReadinessWatch {
        use std::io::BufRead;
        let template = r#"jsonpath={.metadata.name}{" "}{.metadata.labels.serving\.knative\.dev/revision}{" "}{.status.conditions[?(@.type=="Ready")].status}{"\n"}"#;
        let mut child = ns
            .kubectl_cmd()
            .args(["-n", ns.name.as_str(), "get", "pods", "-l", selector, "--watch", "-o", template])
            .command()
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("run kubectl get pods --watch");
        let stdout = child.stdout.take().expect("stdout piped");
        let seen: std::sync::Arc<Mutex<Vec<ReadyEvent>>> = Default::default();
        let sink = seen.clone();
        let reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                let at = Instant::now();
                let mut fields = line.split_whitespace();
                let (Some(pod), revision, ready) = (fields.next(), fields.next(), fields.next()) else { continue };
                let event = ReadyEvent {
                    at,
                    pod: pod.to_string(),
                    revision: revision.unwrap_or_default().to_string(),
                    ready: ready == Some("True"),
                };
                sink.lock().unwrap_or_else(|e| e.into_inner()).push(event);
            }
        });
        ReadinessWatch { child, seen, reader: Some(reader) }
    }

    /// Waits until the watch has reported at least `pods` pods (its first list), so that what
    /// runs next is watched from its start.
    #[track_caller]
    pub fn wait_listed(&self, pods: usize) {
        let start = Instant::now();
        loop {
            let listed = {
                let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
                let mut names: Vec<&str> = seen.iter().map(|e| e.pod.as_str()).collect();
                names.sort();
                names.dedup();
                names.len()
            };
            if listed >= pods {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "kubectl get pods --watch listed {listed} of {pods} pods"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops kubectl and returns every event it reported, in order.
    pub fn stop(mut self) -> Vec<ReadyEvent> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        std::mem::take(&mut *self.seen.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Drop for ReadinessWatch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The events in which a pod that was Ready is seen not Ready, seen between `from` and `to`.
pub fn readiness_drops(events: &[ReadyEvent], from: Instant, to: Instant) -> Vec<ReadyEvent> {
    let mut was_ready: BTreeMap<&str, bool> = BTreeMap::new();
    let mut drops = Vec::new();
    for e in events {
        if was_ready.insert(e.pod.as_str(), e.ready) == Some(true) && !e.ready && e.at >= from && e.at <= to {
            drops.push(e.clone());
        }
    }
    drops
}

// ---------------------------------------------------------------------------------------------
// A TCP proxy in front of the API server that can cut every open connection (a watch cut in the
// middle). TLS passes through untouched: the serving certificate is for 127.0.0.1.

pub struct CutProxy {
    pub url: String,
    conns: std::sync::Arc<Mutex<Vec<std::net::TcpStream>>>,
}

impl CutProxy {
    pub fn start(upstream: &str) -> CutProxy {
        let target = upstream.trim_start_matches("https://").trim_end_matches('/').to_string();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let url = format!("https://{}", listener.local_addr().expect("addr"));
        let conns: std::sync::Arc<Mutex<Vec<std::net::TcpStream>>> = Default::default();
        let held = conns.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(server) = std::net::TcpStream::connect(&target) else { continue };
                if let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) {
                    let mut list = held.lock().unwrap_or_else(|e| e.into_inner());
                    list.push(c2);
                    list.push(s2);
                }
                let (Ok(mut c_read), Ok(mut s_write)) = (client.try_clone(), server.try_clone()) else { continue };
                let (mut s_read, mut c_write) = (server, client);
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut c_read, &mut s_write);
                    let _ = s_write.shutdown(std::net::Shutdown::Both);
                });
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut s_read, &mut c_write);
                    let _ = c_write.shutdown(std::net::Shutdown::Both);
                });
            }
        });
        CutProxy { url, conns }
    }

    /// Closes every connection open through the proxy; new ones are still accepted.
    pub fn cut(&self) -> usize {
        let mut list = self.conns.lock().unwrap_or_else(|e| e.into_inner());
        let n = list.len() / 2;
        for s in list.drain(..) {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
        n
    }

    /// A copy of `kubeconfig` that points at the proxy.
    pub fn kubeconfig(&self, kubeconfig: &str, server: &str, dir_tag: &str) -> String {
        let text = std::fs::read_to_string(kubeconfig).expect("read kubeconfig");
        assert!(text.contains(server), "{kubeconfig} names {server}");
        let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("proxy-{dir_tag}-{}.kubeconfig", std::process::id()));
        std::fs::write(&path, text.replace(server, &self.url)).expect("write kubeconfig");
        path.display().to_string()
    }
}
