//! The Role README.md gives is the minimum, measured: for each verb of it in turn, that verb alone
//! is taken away, the rest is bound to the limited user in a fresh namespace, and every command
//! that talks to the cluster runs as that user. [`TABLE`] says, as data, what each command does
//! without each verb:
//! - **needed**: exit 5, the authorizer's message naming the verb and the resource
//!   (`cannot patch resource "inferenceservices"`), and the object unchanged (kubectl, as the
//!   admin, before and after);
//! - **degrades**: the command still works (exit 0), says what it cannot show (README: "Without
//!   the pods or revisions permissions `status` still shows the rest and says which permission is
//!   missing; `rollback` then does not name the target's model"), and the audit log holds the
//!   request the authorizer refused (so a silent degradation, a wait's skipped pod check, is still
//!   seen to use the verb);
//! - **unused**: exit 0, nothing said missing.
//!
//! The test fails when a verb the table says is needed turns out not to be (exit 0: the Role
//! grants more than the plugin needs), when a verb of the Role changes nothing for any command
//! (superfluous), when a verb the table needs is not in the Role (missing), and when any command
//! fails with the whole Role. It prints the matrix it measured.
//!
//! Run time: a `--wait` mutation is run only where the verb can matter to it (a cell
//! [`Need::NotRun`] is a wait whose path never touches the verb; the whole Role's run shows it
//! working); one namespace per verb, the InferenceService created once in each, and the state a
//! command needs to write at all (a canaryTrafficPercent to promote, tag routing on to turn off,
//! a revision to roll back to) set up by the admin when the commands before it could not.

use std::fmt::Write as _;
use std::time::Instant;

use serde_json::{Value, json};

use crate::harness::*;

/// The InferenceService every namespace gets.
const NAME: &str = "least";

/// The commands that talk to the cluster, in the order they run in each namespace (each one
/// leaves, when it succeeds, the state the next one needs to write).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Command {
    StatusName,
    StatusAll,
    WaitReady,
    Set,
    TagOn,
    TagOff,
    PromoteAll,
    Rollback,
    Promote,
    Rollout,
    /// `status` of the Standard-mode InferenceService (KServe 0.20 spec.canary).
    StdStatus,
    /// `set --canary-name v2 --wait` on the Standard-mode InferenceService.
    StdSet,
}

use Command::*;

const COMMANDS: [Command; 12] =
    [StatusName, StatusAll, WaitReady, Set, TagOn, TagOff, PromoteAll, Rollback, Promote, Rollout, StdStatus, StdSet];

/// The Standard-mode InferenceService every namespace also gets.
const STD_NAME: &str = "least-std";

/// A model no other command of this test uses: the rollout always has a new model to send.
const MODEL_4: &str = "gs://kfserving-examples/models/sklearn/4.0/model";

impl Command {
    fn args(self) -> Vec<&'static str> {
        const WAIT: [&str; 3] = ["--wait", "--timeout", "4m"];
        match self {
            StatusName => vec!["status", NAME],
            StatusAll => vec!["status"],
            WaitReady => vec!["wait", NAME, "--for=ready", "--timeout", "2m"],
            Set => [&["set", NAME, "10", "--model-uri", MODEL_2][..], &WAIT].concat(),
            TagOn => [&["tag-routing", NAME, "on"][..], &WAIT].concat(),
            TagOff => [&["tag-routing", NAME, "off"][..], &WAIT].concat(),
            // No NAME: the only InferenceService of the namespace, found by a LIST.
            PromoteAll => vec!["promote", "--yes"],
            Rollback => [&["rollback", NAME][..], &WAIT].concat(),
            Promote => [&["promote", NAME][..], &WAIT].concat(),
            Rollout => vec!["rollout", NAME, "--model-uri", MODEL_4, "--steps", "100", "--timeout", "4m"],
            StdStatus => vec!["status", STD_NAME],
            StdSet => [&["set", STD_NAME, "25", "--model-uri", MODEL_2, "--canary-name", "v2"][..], &WAIT].concat(),
        }
    }

    /// The column's heading in the matrix.
    fn label(self) -> &'static str {
        match self {
            StatusName => "status NAME",
            StatusAll => "status",
            WaitReady => "wait ready",
            Set => "set --wait",
            TagOn => "tag on",
            TagOff => "tag off",
            PromoteAll => "promote -y",
            Rollback => "rollback",
            Promote => "promote",
            Rollout => "rollout",
            StdStatus => "std status",
            StdSet => "std set",
        }
    }

    fn mutates(self) -> bool {
        !matches!(self, StatusName | StatusAll | WaitReady | StdStatus)
    }

    /// A Standard-mode command (KServe 0.20 spec.canary): run only where the world has it.
    fn standard(self) -> bool {
        matches!(self, StdStatus | StdSet)
    }

    /// The InferenceService the command acts on.
    fn target(self) -> &'static str {
        if matches!(self, StdStatus | StdSet) { STD_NAME } else { NAME }
    }

    /// Writes without waiting: the admin waits for the rollout after it, so that the next
    /// command reads a settled object.
    fn writes_without_wait(self) -> bool {
        self == PromoteAll
    }
}

/// What a command does without a verb.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Need {
    /// Exit 5 naming the verb and the resource; the object unchanged.
    Needed,
    /// Exit 0, with this note in its output (`None`: nothing said, e.g. a wait that skips its
    /// ready-pod check), and the refused request in the audit log.
    Degrades(Option<&'static str>),
    /// Exit 0, nothing said missing.
    Unused,
    /// Unused, and not run: a `--wait` whose path never touches the verb.
    NotRun,
    /// Unused unless a conflict makes the command read the object again (a GET): exit 0, or
    /// exit 5 naming the verb with nothing changed. (KServe writes status all the time, so a
    /// LIST's resourceVersion can be stale by the PATCH.)
    OnConflict,
}

use Need::{Degrades, Needed, NotRun, OnConflict, Unused};

/// `status` without revisions: the models per revision are unknown.
const NO_REVISIONS: Need = Degrades(Some("missing permission to list revisions.serving.knative.dev"));
/// `status` without pods.
const NO_PODS: Need = Degrades(Some("missing permission to list pods"));
/// A wait without pods: the ready-pod check is skipped, silently (contract §9).
const NO_POD_CHECK: Need = Degrades(None);
/// `rollout` without writing Events.
const NO_EVENTS: Need = Degrades(Some("cannot write Kubernetes Events"));
/// `rollback` without reading the target's Knative Revision.
const NO_MODEL: Need = Degrades(Some("the target's model is not named"));
/// Standard-mode `status` without listing Deployments: replicas unknown.
const NO_DEPLOYMENTS: Need = Degrades(Some("missing permission to list deployments.apps"));
/// Standard-mode `status` without the HTTPRoute: the routing is unknown.
const NO_ROUTE: Need = Degrades(Some("routing unknown"));

/// One verb on one resource, and what each command of [`COMMANDS`] does without it.
struct Row {
    group: &'static str,
    resource: &'static str,
    verb: &'static str,
    needs: [Need; COMMANDS.len()],
}

const fn row(group: &'static str, resource: &'static str, verb: &'static str, needs: [Need; COMMANDS.len()]) -> Row {
    Row { group, resource, verb, needs }
}

const KSERVE: &str = "serving.kserve.io";
const KNATIVE: &str = "serving.knative.dev";
const COORDINATION: &str = "coordination.k8s.io";
const APPS: &str = "apps";
const GATEWAY: &str = "gateway.networking.k8s.io";

/// Which command needs which verb. Columns as [`COMMANDS`]:
/// status NAME, status, wait --for=ready, set --wait, tag-routing on --wait, tag-routing off
/// --wait, promote --yes (no NAME), rollback --wait, promote --wait, rollout (one step: 100).
#[rustfmt::skip]
const TABLE: &[Row] = &[
    // GET of NAME: every command given one. Without NAME the LIST is the read.
    row(KSERVE, "inferenceservices", "get",
        [Needed, Unused, Needed, Needed, Needed, Needed, OnConflict, Needed, Needed, Needed, Needed, Needed]),
    // LIST: every command without NAME.
    row(KSERVE, "inferenceservices", "list",
        [Unused, Needed, Unused, NotRun, NotRun, NotRun, Needed, NotRun, NotRun, NotRun, Unused, NotRun]),
    // WATCH: every wait after a write (opened before the PATCH). A wait already done (wait
    // --for=ready on a ready service) opens none.
    row(KSERVE, "inferenceservices", "watch",
        [Unused, Unused, Unused, Needed, Needed, Needed, Unused, Needed, Needed, Needed, Unused, Needed]),
    // PATCH: every mutation that has something to write.
    row(KSERVE, "inferenceservices", "patch",
        [Unused, Unused, Unused, Needed, Needed, Needed, Needed, Needed, Needed, Needed, Unused, Needed]),
    // Pods, listed (as a Table) by status and by every wait once the rest of its rule holds.
    row("", "pods", "list",
        [NO_PODS, NO_PODS, NO_POD_CHECK, NO_POD_CHECK, NO_POD_CHECK, NO_POD_CHECK, Unused, NO_POD_CHECK, NO_POD_CHECK, NO_POD_CHECK, NO_PODS, NO_POD_CHECK]),
    // Pods are never watched: no command needs it (README's Role had it until this test).
    row("", "pods", "watch",
        [Unused, Unused, Unused, Unused, Unused, Unused, Unused, Unused, Unused, Unused, Unused, Unused]),
    // The target's Knative Revision, read by rollback for its model.
    row(KNATIVE, "revisions", "get",
        [Unused, Unused, Unused, NotRun, NotRun, NotRun, Unused, NO_MODEL, NotRun, NotRun, Unused, NotRun]),
    // Knative Revisions, listed by status for the models per revision.
    row(KNATIVE, "revisions", "list",
        [NO_REVISIONS, NO_REVISIONS, Unused, NotRun, NotRun, NotRun, Unused, NotRun, NotRun, NotRun, Unused, NotRun]),
    // The rollout's Lease: read, created by a first rollout, renewed (before any other write).
    row(COORDINATION, "leases", "get",
        [Unused, Unused, Unused, NotRun, NotRun, NotRun, Unused, NotRun, NotRun, Needed, Unused, NotRun]),
    row(COORDINATION, "leases", "create",
        [Unused, Unused, Unused, NotRun, NotRun, NotRun, Unused, NotRun, NotRun, Needed, Unused, NotRun]),
    row(COORDINATION, "leases", "patch",
        [Unused, Unused, Unused, NotRun, NotRun, NotRun, Unused, NotRun, NotRun, Needed, Unused, NotRun]),
    // The rollout's Kubernetes Events: without them it goes on and says so.
    row("", "events", "create",
        [Unused, Unused, Unused, NotRun, NotRun, NotRun, Unused, NotRun, NotRun, NO_EVENTS, Unused, NotRun]),
    // Standard mode: the variants' Deployments, listed by status (replicas) and by every wait
    // (before the PATCH: without it the wait exits 5 with nothing written).
    row(APPS, "deployments", "list",
        [Unused, Unused, Unused, NotRun, NotRun, NotRun, Unused, NotRun, NotRun, NotRun, NO_DEPLOYMENTS, Needed]),
    // Standard mode: the HTTPRoute KServe wrote, read by status for the routing truth and by a
    // wait for a weighted route's share (skipped, silently, without it).
    row(GATEWAY, "httproutes", "get",
        [Unused, Unused, Unused, NotRun, NotRun, NotRun, Unused, NotRun, NotRun, NotRun, NO_ROUTE, Degrades(None)]),
];

impl Row {
    fn key(&self) -> String {
        perm_key(self.group, self.resource, self.verb)
    }

    /// Whether some command needs the verb, or says what it misses without it.
    fn used(&self) -> bool {
        self.needs.iter().any(|n| matches!(n, Needed | Degrades(_)))
    }

    /// Used by Standard-mode commands only (not measured where KServe has no spec.canary).
    fn standard_only(&self) -> bool {
        self.used() && COMMANDS.iter().zip(self.needs).all(|(c, n)| c.standard() || !matches!(n, Needed | Degrades(_)))
    }
}

fn perm_key(group: &str, resource: &str, verb: &str) -> String {
    if group.is_empty() { format!("{verb} {resource}") } else { format!("{verb} {resource}.{group}") }
}

/// The Role's rules as (group, resource, verbs), one resource each.
fn grants(rules: &Value) -> Vec<(String, String, Vec<String>)> {
    let strings = |v: &Value| -> Vec<String> {
        v.as_array().into_iter().flatten().filter_map(Value::as_str).map(String::from).collect()
    };
    let mut out = Vec::new();
    for rule in rules.as_array().into_iter().flatten() {
        for group in strings(&rule["apiGroups"]) {
            for resource in strings(&rule["resources"]) {
                out.push((group.clone(), resource, strings(&rule["verbs"])));
            }
        }
    }
    out
}

/// The rules with exactly one verb on one resource taken away.
fn without(grants: &[(String, String, Vec<String>)], group: &str, resource: &str, verb: &str) -> Value {
    let rules: Vec<Value> = grants
        .iter()
        .map(|(g, r, verbs)| {
            let verbs: Vec<&String> =
                verbs.iter().filter(|v| !(g == group && r == resource && v.as_str() == verb)).collect();
            json!({"apiGroups": [g], "resources": [r], "verbs": verbs})
        })
        .filter(|rule| rule["verbs"].as_array().is_some_and(|v| !v.is_empty()))
        .collect();
    Value::Array(rules)
}

/// What one command did.
#[derive(Clone, Debug)]
enum Got {
    /// Exit 5, the verb and resource named, the object unchanged.
    Refused,
    /// Exit 0 with the note, and the refused request in the audit log.
    Noted,
    /// Exit 0, nothing said (by design: a wait skips its ready-pod check), and the refused
    /// request in the audit log.
    Quiet,
    /// Exit 0, nothing said missing.
    Ran,
    /// Not run.
    Skipped,
    /// Anything else: what, briefly.
    Odd(String),
}

impl Got {
    fn cell(&self) -> String {
        match self {
            Got::Refused => "5".into(),
            Got::Noted => "0+note".into(),
            Got::Quiet => "0+403".into(),
            Got::Ran => "0".into(),
            Got::Skipped => "-".into(),
            Got::Odd(what) => format!("!{what}"),
        }
    }
}

/// One namespace's run: the permission taken away (None: the whole Role), what each command did,
/// and what was not as the table says.
struct Measured {
    removed: Option<String>,
    got: Vec<Got>,
    problems: Vec<String>,
    seconds: u64,
}

#[test]
fn the_documented_role_is_the_minimum_each_verb_needed_by_some_command() {
    let started = Instant::now();
    let c = cluster();
    // The namespace of the whole Role; it also reads README's Role (through kubectl).
    let full = Ns::new("privilege-full");
    let mut rules = full.documented_rules();
    // Before KServe 0.20 there is no Standard-mode canary to measure: its verbs are left out.
    let standard = full.kserve_has_spec_canary();
    STANDARD.set(standard).ok();
    if !standard {
        eprintln!("privilege: this KServe has no spec.canary; the Standard-mode columns and verbs are not measured");
        let keep = |rule: &Value| {
            let g = rule["apiGroups"][0].as_str().unwrap_or_default();
            let r = rule["resources"][0].as_str().unwrap_or_default();
            !TABLE.iter().any(|row| row.standard_only() && row.group == g && row.resource == r)
        };
        rules = Value::Array(rules.as_array().into_iter().flatten().filter(|r| keep(r)).cloned().collect());
    }
    let grants = grants(&rules);
    let mut problems = Vec::new();

    // The table and the Role, before anything runs: every verb of the Role has a row, and every
    // verb some command needs is in the Role.
    let in_role: Vec<(String, String, String)> =
        grants.iter().flat_map(|(g, r, verbs)| verbs.iter().map(move |v| (g.clone(), r.clone(), v.clone()))).collect();
    let role_keys: Vec<String> = in_role.iter().map(|(g, r, v)| perm_key(g, r, v)).collect();
    for key in &role_keys {
        match TABLE.iter().find(|row| &row.key() == key) {
            None => problems.push(format!(
                "README's Role grants `{key}`, which the table does not list: add its row (which command needs it?)"
            )),
            Some(row) if !row.used() => problems.push(format!(
                "README's Role grants `{key}`, which no command needs (the table): remove it from the Role"
            )),
            Some(_) => {}
        }
    }
    for row in TABLE.iter().filter(|r| r.used() && (standard || !r.standard_only())) {
        if !role_keys.contains(&row.key()) {
            let users: Vec<&str> = COMMANDS
                .iter()
                .zip(row.needs)
                .filter(|(_, n)| matches!(n, Needed | Degrades(_)))
                .map(|(c, _)| c.label())
                .collect();
            problems.push(format!("README's Role lacks `{}`, which {} need(s)", row.key(), users.join(", ")));
        }
    }

    // One namespace per verb of the Role, at most ISVC_CANARY_E2E_JOBS at once (Ns's gate).
    let measured: Vec<Measured> = std::thread::scope(|scope| {
        let handles: Vec<_> = in_role
            .iter()
            .map(|(g, r, v)| {
                let rules = without(&grants, g, r, v);
                let row = TABLE.iter().find(|row| row.group == g && row.resource == r && row.verb == v);
                let key = perm_key(g, r, v);
                let handle = scope.spawn(move || {
                    // A verb without a row: every command runs, as if unused.
                    let needs = row.map(|r| r.needs).unwrap_or([Unused; COMMANDS.len()]);
                    measure(&format!("priv-no-{v}-{r}"), Some((g.as_str(), r.as_str(), v.as_str())), rules, needs)
                });
                (key, handle)
            })
            .collect();
        // The whole Role: every command runs and works, nothing said missing.
        let whole = measure_in(&full, None, rules.clone(), [Unused; COMMANDS.len()]);
        drop(full);
        let mut all = vec![whole];
        for (key, handle) in handles {
            all.push(handle.join().unwrap_or_else(|panic| Measured {
                removed: Some(key.clone()),
                got: Vec::new(),
                problems: vec![format!("without `{key}`: the run panicked: {}", panic_text(&*panic))],
                seconds: 0,
            }));
        }
        all
    });

    // Each verb of the Role must change something for some command.
    for m in measured.iter().skip(1) {
        let key = m.removed.clone().unwrap_or_default();
        let used = m.got.iter().any(|g| matches!(g, Got::Refused | Got::Noted | Got::Quiet));
        if !m.got.is_empty() && !used {
            problems.push(format!(
                "without `{key}` every command ran as with it: README's Role grants a verb no command needs; remove it"
            ));
        }
    }
    for m in &measured {
        problems.extend(m.problems.iter().cloned());
    }

    let matrix = matrix(&measured);
    eprintln!("{matrix}\nprivilege: {} s in all (user {})", started.elapsed().as_secs(), c.limited_user);
    // The problems last: a shortened log keeps the end of the message.
    assert!(problems.is_empty(), "{matrix}\nthe Role is not the minimum:\n- {}", problems.join("\n- "));
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "(no message)".into())
}

/// A fresh namespace with `rules` bound to the limited user, and every command run in it.
fn measure(test: &str, removed: Option<(&str, &str, &str)>, rules: Value, needs: [Need; COMMANDS.len()]) -> Measured {
    let ns = Ns::new(test);
    measure_in(&ns, removed, rules, needs)
}

fn measure_in(ns: &Ns, removed: Option<(&str, &str, &str)>, rules: Value, needs: [Need; COMMANDS.len()]) -> Measured {
    let started = Instant::now();
    let c = ns.cluster;
    let label = removed.map(|(g, r, v)| perm_key(g, r, v));
    let context = label.as_ref().map(|k| format!("without `{k}`")).unwrap_or_else(|| "with the whole Role".into());
    ns.grant(&c.limited_user, "isvc-canary", rules);
    ns.create_ready(NAME, MODEL_1);
    let standard = STANDARD.get().copied().unwrap_or(false);
    // Made only once the Knative commands have run: the commands without NAME need the Knative
    // one to be the only InferenceService of the namespace.
    let mut standard_made = false;
    let mut got = Vec::new();
    let mut problems = Vec::new();
    for (cmd, need) in COMMANDS.into_iter().zip(needs) {
        if need == NotRun || (cmd.standard() && !standard) {
            got.push(Got::Skipped);
            continue;
        }
        if cmd.standard() && !standard_made {
            create_standard(ns);
            standard_made = true;
        }
        prepare(ns, cmd);
        let before = owned_view(&ns.get(cmd.target()));
        let mark = ns.audit_mark();
        let t = Instant::now();
        let out = ns.plugin_as(&c.limited, cmd.args());
        let after = owned_view(&ns.get(cmd.target()));
        let said = format!("{}{}", out.stdout, out.stderr);
        let says_missing =
            said.contains("forbidden") || said.contains("missing permission") || said.contains("not named");
        // A conflict's re-read is a GET: then the verb was needed after all, and said so.
        let need = match (need, out.code) {
            (OnConflict, Some(5)) => Needed,
            (OnConflict, _) => Unused,
            (other, _) => other,
        };
        let (result, problem) = match (need, out.code) {
            (Needed, Some(5)) => {
                let (_, resource, verb) = removed.unwrap_or_default();
                let wanted = format!("cannot {verb} resource \"{resource}\"");
                if !out.stderr.contains(&wanted) {
                    (Got::Odd("5 unnamed".into()), Some(format!("exit 5 without saying {wanted:?}")))
                } else if before != after {
                    (Got::Odd("5 changed".into()), Some("exit 5, yet the object changed".into()))
                } else {
                    (Got::Refused, None)
                }
            }
            (Needed, Some(0)) => (
                Got::Ran,
                Some("exit 0: the table says it needs the verb; either the table is wrong or the Role grants a verb it does not need".into()),
            ),
            (Degrades(note), Some(0)) => {
                let (group, resource, verb) = removed.unwrap_or_default();
                let refused = ns.audit_since(mark, &c.limited_user, |ev| {
                    ev.iter().any(|e| e.code == 403 && e.resource == resource && e.verb == verb)
                });
                let refused = refused.iter().any(|e| e.code == 403 && e.resource == resource && e.verb == verb);
                match note {
                    Some(note) if !said.contains(note) => {
                        (Got::Odd("0 no note".into()), Some(format!("exit 0 without the note {note:?}")))
                    }
                    _ if !refused => (
                        Got::Odd("0 no 403".into()),
                        Some(format!(
                            "exit 0, and no request for `{}` was refused: it does not use the verb",
                            perm_key(group, resource, verb)
                        )),
                    ),
                    Some(_) => (Got::Noted, None),
                    None => (Got::Quiet, None),
                }
            }
            (Unused, Some(0)) if says_missing => {
                (Got::Odd("0 noted".into()), Some("exit 0, yet it says something is missing or forbidden".into()))
            }
            (Unused, Some(0)) => (Got::Ran, None),
            (_, Some(5)) => (Got::Refused, Some("exit 5: the table says it works without the verb".into())),
            (_, code) => (
                Got::Odd(code.map(|c| c.to_string()).unwrap_or_else(|| "killed".into())),
                Some(format!("exit {code:?}")),
            ),
        };
        eprintln!(
            "privilege: {context}: {} -> {} ({} ms)",
            cmd.args().join(" "),
            result.cell(),
            t.elapsed().as_millis()
        );
        if let Some(p) = problem {
            problems.push(format!("{context}, `{}`: {p}\n{}", cmd.args().join(" "), out.describe()));
        }
        if out.code == Some(0) && cmd.writes_without_wait() {
            ns.wait_rolled_out(NAME);
        }
        // A mutation that found nothing to write would not have reached the verbs it needs.
        if out.code == Some(0) && cmd.mutates() && out.stdout.contains(" unchanged") {
            problems.push(format!("{context}: nothing to write, so this run proves nothing\n{}", out.describe()));
        }
        // Also with the whole Role, rollback names the target's model.
        if removed.is_none() && cmd == Rollback && out.code == Some(0) && !out.stderr.contains("(model ") {
            problems.push(format!("{context}: rollback does not name the target's model\n{}", out.describe()));
        }
        got.push(result);
    }
    Measured { removed: label, got, problems, seconds: started.elapsed().as_secs() }
}

/// Makes the object one that `cmd` has something to write to, as the admin, when the commands
/// before it (refused, or not run) did not leave it so. The first two mutations (`set` with a
/// new model, `tag-routing on`) always find the object as created.
fn prepare(ns: &Ns, cmd: Command) {
    if cmd == StdSet {
        // No canary: `set --model-uri` has an entry to add.
        if ns.get(STD_NAME).pointer("/spec/canary").is_some_and(|c| !c.is_null()) {
            ns.kubectl([
                "patch",
                "inferenceservice.serving.kserve.io",
                STD_NAME,
                "--type=merge",
                "-p",
                r#"{"spec":{"canary":null}}"#,
            ])
            .ok();
            ns.wait_isvc(STD_NAME, "no canary status", STD_READY, |v| {
                v.pointer("/status/canaryStatuses").is_none_or(|c| c.as_array().is_none_or(Vec::is_empty))
            });
        }
        return;
    }
    if cmd == StdStatus {
        return;
    }
    let v = ns.get(NAME);
    let ctp = v.pointer("/spec/predictor/canaryTrafficPercent").and_then(Value::as_i64);
    let tagged = v.pointer("/metadata/annotations/serving.kserve.io~1enable-tag-routing") == Some(&json!("true"));
    let s = &v["status"]["components"]["predictor"];
    let field = |k: &str| s[k].as_str().unwrap_or_default().to_string();
    let (lcr, lro, pro) =
        (field("latestCreatedRevision"), field("latestRolledoutRevision"), field("previousRolledoutRevision"));
    let admin = |args: &[&str]| {
        ns.plugin(args).ok();
    };
    match cmd {
        TagOff if !tagged => admin(&["tag-routing", NAME, "on", "--wait", "--timeout", "4m"]),
        PromoteAll | Promote if ctp.is_none() => {
            ns.kubectl([
                "patch",
                "inferenceservice.serving.kserve.io",
                NAME,
                "--type=merge",
                "-p",
                r#"{"spec":{"predictor":{"canaryTrafficPercent":50}}}"#,
            ])
            .ok();
        }
        // Something to roll back to: the rolled-out revision while a newer one is the latest,
        // else the previous one.
        Rollback if lcr == lro && pro.is_empty() => {
            let model = v.pointer("/spec/predictor/model/storageUri").and_then(Value::as_str);
            let other = if model == Some(MODEL_2) { MODEL_3 } else { MODEL_2 };
            admin(&["set", NAME, "10", "--model-uri", other, "--wait", "--timeout", "4m"]);
        }
        Rollback if ctp == Some(0) => admin(&["promote", NAME, "--wait", "--timeout", "4m"]),
        // No canary in progress, and the split settled: a rollout's new model would be refused as
        // dropping a canary, and a split KServe is still applying (the prepare of promote left one)
        // would be refused as not ready, before the rollout reaches the verb taken away.
        Rollout if ctp.is_some() => admin(&["promote", NAME, "--wait", "--timeout", "4m"]),
        _ => {}
    }
}

/// Whether this cluster's KServe has `spec.canary` (set once, at the start of the test).
static STANDARD: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

/// How long a Standard-mode InferenceService may take to be Ready.
const STD_READY: std::time::Duration = std::time::Duration::from_secs(240);

/// The Standard-mode InferenceService of the namespace (KServe 0.20: the annotation), Ready.
fn create_standard(ns: &Ns) {
    let mut doc = isvc_doc(STD_NAME, json!({"predictor": sklearn_predictor(MODEL_1)}));
    doc["metadata"]["annotations"] = json!({"serving.kserve.io/deploymentMode": "Standard"});
    ns.apply(&doc.to_string());
    ns.wait_isvc(STD_NAME, "Ready True in Standard mode", STD_READY, |v| condition(v, "Ready") == "True");
}

/// The measured matrix: one line per verb taken away, one column per command.
fn matrix(measured: &[Measured]) -> String {
    let first =
        measured.iter().map(|m| m.removed.as_deref().unwrap_or("(whole Role)").len()).max().unwrap_or(0).max(20);
    let widths: Vec<usize> = COMMANDS.iter().map(|c| c.label().len().max(8)).collect();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "5 = refused (exit 5, verb and resource named, object unchanged); 0+note = works, says what it misses;\n\
         0+403 = works, says nothing (a wait skips its ready-pod check), the audit log shows the refused request;\n\
         0 = works, the verb unused; - = not run (a wait the verb cannot matter to)"
    );
    let _ = write!(out, "{:first$}", "without");
    for (c, w) in COMMANDS.iter().zip(&widths) {
        let _ = write!(out, "  {:w$}", c.label());
    }
    let _ = writeln!(out, "  time");
    for m in measured {
        let _ = write!(out, "{:first$}", m.removed.as_deref().unwrap_or("(whole Role)"));
        for (k, w) in widths.iter().enumerate() {
            let cell = m.got.get(k).map(Got::cell).unwrap_or_else(|| "?".into());
            let _ = write!(out, "  {cell:w$}");
        }
        let _ = writeln!(out, "  {} s", m.seconds);
    }
    out
}
