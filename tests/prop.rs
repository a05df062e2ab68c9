//! Property tests of the pure core, with a fixed seed and a fixed number of cases (no environment
//! variable changes either, and no failure files are written into the tree):
//!
//! 1. any InferenceService-shaped JSON (right and wrong types, missing pieces, KServe 0.20's
//!    `spec.canary[]` and `status.canaryStatuses[]`) goes through every decision, the wait
//!    predicates, the status view and the traffic preview without a panic: a decision or a clean
//!    error (a non-empty message that prints on one line), and cluster text escaped in the view
//!    and the preview (four tests, so that one defect does not hide another);
//! 2. every write the guard rails plan touches only the fields the plugin owns (contract §7), in
//!    the merge patch and in the `--expect-revision` JSON Patch, and applying it changes nothing
//!    else;
//! 3. the pure parsers: PERCENT, durations, the usage guesses, the escaping of control characters.

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use clap::CommandFactory;
use isvc_canary::cli::{Cli, WaitLimits};
use isvc_canary::duration::{format_duration, parse_duration};
use isvc_canary::error::{Exit, Fail};
use isvc_canary::isvc::{
    Component, DEPLOYMENT_MODE_ANNOTATION, FRAMEWORK_FIELDS, ISVC_LABEL, Isvc, Mode, ModelField, REVISION_LABEL,
    SOURCE_URI_ANNOTATION, TAG_ROUTING_ANNOTATION,
};
use isvc_canary::output::{sanitize, to_json, to_yaml};
use isvc_canary::patch::{Change, apply_merge, display_patch, expect_revision_patch, merge_patch};
use isvc_canary::rules::{self, Plan, SetRequest};
use isvc_canary::wait::{Goal, Verdict, WaitRequest, failure_signal, judge};
use isvc_canary::{guess, traffic, view};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, RngAlgorithm, RngSeed, TestCaseError, TestRunner};
use serde_json::{Map, Value, json};

/// The one seed of every property: the same cases on every run and every machine.
const SEED: u64 = 0x15c_ca4a_2026;

/// Runs `test` on `cases` values of `strategy`; on a failure, panics with proptest's report (the
/// reason and the minimal failing input after shrinking).
fn check<S>(name: &str, cases: u32, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S: Strategy,
    S::Value: Debug,
{
    // Built field by field rather than through the `proptest!` macro, which lets PROPTEST_*
    // variables change the cases and the seed.
    let config = Config {
        cases,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(SEED),
        failure_persistence: None,
        max_shrink_iters: 4096,
        max_shrink_time: 20_000,
        max_default_size_range: 100,
        verbose: 0,
        source_file: Some(file!()),
        test_name: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    if let Err(e) = runner.run(&strategy, test) {
        panic!("property {name}: {e}");
    }
}

// ------------------------------------------------------------------------------------------------
// Generators.

type S<T> = BoxedStrategy<T>;

const REVS: &[&str] = &[
    "m-predictor-00001",
    "m-predictor-00002",
    "m-predictor-00003",
    "m-transformer-00001",
    "m-explainer-00002",
    "m-predictor-x",
    "00001",
    "-",
    "",
];
const URIS: &[&str] = &["gs://m1", "gs://m2", "s3://b/k", "pvc://claim/model", "gs://", "model", ""];
const NAMES: &[&str] = &["m", "sklearn-iris", ""];
const MODES: &[&str] = &["Knative", "Serverless", "Standard", "RawDeployment", "ModelMesh", "knative", ""];
const CONDITION_TYPES: &[&str] = &[
    "Ready",
    "IngressReady",
    "PredictorReady",
    "PredictorRouteReady",
    "PredictorConfigurationReady",
    "TransformerReady",
    "TransformerRouteReady",
    "TransformerConfigurationReady",
    "ExplainerReady",
    "ExplainerRoutesReady",
    "ExplainerConfigurationReady",
    "CanaryPredictorReady",
    "LatestDeploymentReady",
    "Stopped",
];
const CONDITION_STATUSES: &[&str] = &["True", "False", "Unknown", ""];
const REASONS: &[&str] = &[
    "ReconcileFailed",
    "RevisionFailed",
    "RevisionMissing",
    "ModelLoadFailed",
    "AllCanariesReady",
    "CanariesNotReady",
    "Stopped",
];
const TRANSITIONS: &[&str] = &["BlockedByFailedLoad", "InvalidSpec", "UpToDate", "InProgress", ""];
const ANNOTATION_KEYS: &[&str] = &[
    DEPLOYMENT_MODE_ANNOTATION,
    TAG_ROUTING_ANNOTATION,
    "argocd.argoproj.io/instance",
    "argocd.argoproj.io/tracking-id",
    "kustomize.toolkit.fluxcd.io/name",
    "helm.toolkit.fluxcd.io/name",
    "kubectl.kubernetes.io/last-applied-configuration",
];
const ANNOTATION_VALUES: &[&str] =
    &["true", "false", "True", "Knative", "Serverless", "Standard", "RawDeployment", "ModelMesh", "x", ""];
const MANAGERS: &[&str] = &[
    "argocd-application-controller",
    "kustomize-controller",
    "helm-controller",
    "kubectl-isvc-canary",
    "kubectl-client-side-apply",
    "manager",
];
const TIMES: &[&str] = &["2026-01-01T00:00:00Z", "2026-03-01T12:30:00Z", "2999-01-01T00:00:00Z", "yesterday", ""];
const FORMATS: &[&str] = &["sklearn", "xgboost", "tensorflow", "pytorch", "huggingface", "onnx"];
const PROTOCOLS: &[&str] = &["v1", "v2", "grpc-v2", "V2", ""];
const TAGS: &[&str] = &["prev", "latest", ""];
const COMPONENT_KEYS: &[&str] = &["predictor", "transformer", "explainer"];
const COMPONENTS: [Component; 3] = [Component::Predictor, Component::Transformer, Component::Explainer];

fn lit(pool: &'static [&'static str]) -> S<String> {
    prop::sample::select(pool).prop_map(str::to_string).boxed()
}

/// Characters a cluster may hand over: mostly plain, some control (C0, DEL, C1), some odd.
fn odd_char() -> S<char> {
    prop_oneof![
        4 => prop::char::range('a', 'z'),
        1 => prop::char::range('\0', '\x1f'),
        1 => Just('\x7f'),
        1 => prop::char::range('\u{80}', '\u{9f}'),
        1 => any::<char>(),
        1 => prop::sample::select(vec!['-', '/', ':', '.', ' ', '%', '\n', '\r', '\t', '\u{1b}', '\u{202e}', 'é']),
    ]
    .boxed()
}

fn odd_string() -> S<String> {
    prop::collection::vec(odd_char(), 0..12).prop_map(|cs| cs.into_iter().collect()).boxed()
}

/// A string from a pool of meaningful values, or an odd one.
fn text(pool: &'static [&'static str]) -> S<String> {
    prop_oneof![5 => lit(pool), 1 => odd_string()].boxed()
}

fn jtext(pool: &'static [&'static str]) -> S<Value> {
    text(pool).prop_map(Value::from).boxed()
}

/// Integers as JSON, in and out of range, with the extremes.
fn jint() -> S<Value> {
    prop_oneof![
        8 => (-5i64..=105).prop_map(Value::from),
        1 => Just(Value::from(i64::MIN)),
        1 => Just(Value::from(i64::MAX)),
        1 => any::<i64>().prop_map(Value::from),
    ]
    .boxed()
}

/// The integers where arithmetic overflows or a range check matters.
fn edge_int() -> S<Value> {
    prop::sample::select(vec![i64::MIN, i64::MIN + 1, -1, 0, 100, 101, i64::MAX]).prop_map(Value::from).boxed()
}

/// Any JSON at all (small).
fn any_json() -> S<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        jint(),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        odd_string().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(odd_string(), inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
    .boxed()
}

/// Present (most of the time) or missing.
fn opt(s: S<Value>) -> S<Option<Value>> {
    prop::option::weighted(0.8, s).boxed()
}

/// An object from named fields, each present or missing.
fn object(parts: Vec<(&'static str, S<Option<Value>>)>) -> S<Value> {
    let (keys, values): (Vec<&'static str>, Vec<S<Option<Value>>>) = parts.into_iter().unzip();
    values
        .prop_map(move |values| {
            let mut m = Map::new();
            for (k, v) in keys.iter().zip(values) {
                if let Some(v) = v {
                    m.insert((*k).to_string(), v);
                }
            }
            Value::Object(m)
        })
        .boxed()
}

fn list(item: S<Value>, max: usize) -> S<Value> {
    prop::collection::vec(item, 0..=max).prop_map(Value::Array).boxed()
}

fn ctp() -> S<Value> {
    prop_oneof![6 => (0i64..=100).prop_map(Value::from), 2 => jint(), 1 => edge_int(), 1 => any_json()].boxed()
}

/// `spec.<component>`: the model (current schema), a legacy framework field, containers.
fn component_spec() -> S<Value> {
    let model = object(vec![
        ("modelFormat", opt(object(vec![("name", opt(jtext(FORMATS)))]))),
        ("storageUri", opt(jtext(URIS))),
        ("protocolVersion", opt(jtext(PROTOCOLS))),
        ("runtime", opt(jtext(&["kserve-sklearnserver"]))),
    ]);
    let framework = object(vec![("storageUri", opt(jtext(URIS))), ("protocolVersion", opt(jtext(PROTOCOLS)))]);
    let containers = list(object(vec![("name", opt(jtext(&["kserve-container"]))), ("image", opt(jtext(&["x"])))]), 2);
    let base = object(vec![
        ("canaryTrafficPercent", prop::option::weighted(0.6, ctp()).boxed()),
        ("model", prop::option::weighted(0.6, model).boxed()),
        ("containers", prop::option::weighted(0.2, containers).boxed()),
        ("name", prop::option::weighted(0.2, jtext(&["v1", "v2"])).boxed()),
        ("minReplicas", prop::option::weighted(0.2, jint()).boxed()),
    ]);
    let legacy = prop::option::weighted(0.3, (prop::sample::select(FRAMEWORK_FIELDS), framework));
    (base, legacy)
        .prop_map(|(mut spec, legacy)| {
            if let Some((field, value)) = legacy {
                spec[field] = value;
            }
            spec
        })
        .boxed()
}

/// `spec.canary[]` of KServe 0.20 (Standard mode): named predictor variants with trafficPercent.
fn canary_entry() -> S<Value> {
    object(vec![
        ("predictor", opt(component_spec())),
        ("trafficPercent", opt(jint())),
        ("name", prop::option::weighted(0.2, jtext(&["v2", "canary"])).boxed()),
    ])
}

fn spec() -> S<Value> {
    object(vec![
        ("predictor", prop::option::weighted(0.9, component_spec()).boxed()),
        ("transformer", prop::option::weighted(0.3, component_spec()).boxed()),
        ("explainer", prop::option::weighted(0.2, component_spec()).boxed()),
        ("canary", prop::option::weighted(0.2, list(canary_entry(), 2)).boxed()),
    ])
}

fn traffic_entry() -> S<Value> {
    object(vec![
        ("tag", opt(jtext(TAGS))),
        ("revisionName", opt(jtext(REVS))),
        ("latestRevision", opt(any::<bool>().prop_map(Value::from).boxed())),
        ("percent", opt(prop_oneof![3 => jint(), 1 => edge_int()].boxed())),
        ("url", prop::option::weighted(0.3, jtext(&["http://prev-m.t.example.com"])).boxed()),
    ])
}

fn component_status() -> S<Value> {
    object(vec![
        ("latestCreatedRevision", opt(jtext(REVS))),
        ("latestReadyRevision", opt(jtext(REVS))),
        ("latestRolledoutRevision", opt(jtext(REVS))),
        ("previousRolledoutRevision", prop::option::weighted(0.5, jtext(REVS)).boxed()),
        ("traffic", opt(list(traffic_entry(), 3))),
        ("url", prop::option::weighted(0.3, jtext(&["http://m-predictor.t.example.com"])).boxed()),
    ])
}

fn condition() -> S<Value> {
    object(vec![
        ("type", opt(jtext(CONDITION_TYPES))),
        ("status", opt(jtext(CONDITION_STATUSES))),
        ("reason", opt(jtext(REASONS))),
        ("message", opt(prop_oneof![jtext(&["revision failed", "line one\nline two"]), any_json()].boxed())),
        ("severity", prop::option::weighted(0.2, jtext(&["Info", "Error"])).boxed()),
        ("lastTransitionTime", prop::option::weighted(0.3, jtext(TIMES)).boxed()),
    ])
}

fn model_status() -> S<Value> {
    object(vec![
        ("transitionStatus", opt(jtext(TRANSITIONS))),
        (
            "lastFailureInfo",
            opt(object(vec![
                ("reason", opt(jtext(&["ModelLoadFailed", "InvalidSpec"]))),
                ("message", opt(jtext(&["  no such model \n", "out of memory"]))),
                ("modelRevisionName", opt(jtext(REVS))),
                ("exitCode", opt(jint())),
            ])),
        ),
        ("states", prop::option::weighted(0.2, any_json()).boxed()),
    ])
}

/// `status.canaryStatuses[]` of KServe 0.20 (`modelStatus` is never filled there).
fn canary_status() -> S<Value> {
    object(vec![
        ("name", opt(jtext(&["v2", "canary"]))),
        ("ready", opt(any::<bool>().prop_map(Value::from).boxed())),
        ("trafficPercent", opt(jint())),
        ("modelStatus", opt(Just(json!({"transitionStatus": ""})).boxed())),
    ])
}

fn status() -> S<Value> {
    let components = prop::collection::btree_map(text(COMPONENT_KEYS), component_status(), 0..=3)
        .prop_map(|m| Value::Object(m.into_iter().collect()))
        .boxed();
    object(vec![
        ("url", opt(jtext(&["http://m.t.example.com"]))),
        ("conditions", opt(list(condition(), 6))),
        ("components", opt(components)),
        ("modelStatus", prop::option::weighted(0.5, model_status()).boxed()),
        ("deploymentMode", prop::option::weighted(0.5, jtext(MODES)).boxed()),
        ("canaryStatuses", prop::option::weighted(0.2, list(canary_status(), 2)).boxed()),
        ("observedGeneration", prop::option::weighted(0.2, jint()).boxed()),
    ])
}

fn string_map(keys: S<String>, values: S<Value>, max: usize) -> S<Value> {
    prop::collection::btree_map(keys, values, 0..=max).prop_map(|m| Value::Object(m.into_iter().collect())).boxed()
}

fn metadata() -> S<Value> {
    let annotation_value = prop_oneof![8 => jtext(ANNOTATION_VALUES), 1 => any_json()].boxed();
    let managed = object(vec![
        ("manager", opt(jtext(MANAGERS))),
        ("time", opt(jtext(TIMES))),
        ("subresource", prop::option::weighted(0.3, jtext(&["status"])).boxed()),
        ("operation", opt(jtext(&["Update", "Apply"]))),
    ]);
    object(vec![
        ("name", opt(jtext(NAMES))),
        ("namespace", opt(jtext(&["t", "default"]))),
        ("resourceVersion", opt(prop_oneof![8 => jtext(&["5", "42", "1000"]), 1 => jint()].boxed())),
        ("generation", prop::option::weighted(0.3, jint()).boxed()),
        ("annotations", opt(string_map(text(ANNOTATION_KEYS), annotation_value, 4))),
        ("labels", prop::option::weighted(0.3, string_map(text(ANNOTATION_KEYS), jtext(NAMES), 2)).boxed()),
        ("managedFields", prop::option::weighted(0.4, list(managed, 3)).boxed()),
    ])
}

/// One step of the path to a node of a JSON document.
#[derive(Debug, Clone)]
enum Step {
    Key(String),
    At(usize),
}

fn all_paths(v: &Value, here: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    out.push(here.clone());
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                here.push(Step::Key(k.clone()));
                all_paths(child, here, out);
                here.pop();
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                here.push(Step::At(i));
                all_paths(child, here, out);
                here.pop();
            }
        }
        _ => {}
    }
}

fn node_mut<'a>(v: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    path.iter().try_fold(v, |node, step| match step {
        Step::Key(k) => node.get_mut(k.as_str()),
        Step::At(i) => node.get_mut(*i),
    })
}

/// Replaces a node (any node, the root included) with arbitrary JSON, or removes it: the wrong
/// types and missing pieces that a well-shaped object does not have.
fn mutate(doc: &mut Value, at: &Index, with: Option<Value>) {
    let mut paths = Vec::new();
    all_paths(doc, &mut Vec::new(), &mut paths);
    let path = at.get(&paths).clone();
    match (with, path.split_last()) {
        (Some(value), _) => {
            if let Some(node) = node_mut(doc, &path) {
                *node = value;
            }
        }
        (None, None) => *doc = Value::Null,
        (None, Some((last, parent))) => match (node_mut(doc, parent), last) {
            (Some(Value::Object(m)), Step::Key(k)) => {
                m.remove(k);
            }
            (Some(Value::Array(items)), Step::At(i)) => {
                items.remove(*i);
            }
            _ => {}
        },
    }
}

/// An InferenceService as the API server could return it, then up to three nodes replaced by
/// arbitrary JSON or removed; now and then no InferenceService at all.
fn isvc_json() -> S<Value> {
    let shaped = object(vec![
        ("apiVersion", opt(jtext(&["serving.kserve.io/v1beta1"]))),
        ("kind", opt(jtext(&["InferenceService"]))),
        ("metadata", prop::option::weighted(0.95, metadata()).boxed()),
        ("spec", prop::option::weighted(0.95, spec()).boxed()),
        ("status", opt(status())),
    ]);
    let mutations = prop_oneof![
        3 => Just(Vec::new()),
        2 => prop::collection::vec((any::<Index>(), prop::option::weighted(0.8, any_json())), 1..=3),
    ];
    prop_oneof![
        30 => (shaped, mutations).prop_map(|(mut doc, mutations)| {
            for (at, with) in mutations {
                mutate(&mut doc, &at, with);
            }
            doc
        }),
        1 => any_json(),
    ]
    .boxed()
}

/// What a command line asks, besides the object.
#[derive(Debug, Clone)]
struct Ask {
    percent: i64,
    model_uri: Option<String>,
    split_with_previous: bool,
    replace: bool,
    force: bool,
    /// `--expect-revision`'s word.
    revision: String,
    /// `--wait` after a template change: the LCR before the write.
    new_revision_after: Option<String>,
    /// Revisions with a ready pod (`None`: pods not listed).
    ready_pods: Option<Vec<String>>,
    split_goal: i64,
}

fn ask() -> S<Ask> {
    (
        prop_oneof![3 => 0i64..=100, 1 => prop::sample::select(vec![0i64, 1, 50, 99, 100])],
        prop::option::weighted(0.5, text(URIS)),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        text(&["2", "1", "00002", "99999999999999999999999", "m-predictor-00002", "x-00009"]),
        prop::option::weighted(0.4, text(REVS)),
        prop::option::weighted(0.5, prop::collection::vec(text(REVS), 0..3)),
        1i64..=99,
    )
        .prop_map(
            |(
                percent,
                model_uri,
                split_with_previous,
                replace,
                force,
                revision,
                new_revision_after,
                ready_pods,
                split_goal,
            )| Ask {
                percent,
                model_uri,
                split_with_previous,
                replace,
                force,
                revision,
                new_revision_after,
                ready_pods,
                split_goal,
            },
        )
        .boxed()
}

/// What `status` reads beside the object: Knative revisions, the pods table, and how to render.
#[derive(Debug, Clone)]
struct Around {
    revisions: Vec<Value>,
    unreadable: Option<String>,
    pods_table: Value,
    pods_note: Option<String>,
    no_headers: bool,
    wide: bool,
}

fn around() -> S<Around> {
    let revision = prop_oneof![
        5 => object(vec![
            (
                "metadata",
                opt(object(vec![
                    ("name", opt(jtext(REVS))),
                    ("creationTimestamp", opt(jtext(TIMES))),
                    ("annotations", opt(object(vec![(SOURCE_URI_ANNOTATION, opt(jtext(URIS)))]))),
                ])),
            ),
            (
                "status",
                opt(object(vec![(
                    "conditions",
                    opt(list(
                        object(vec![("type", opt(jtext(&["Ready"]))), ("status", opt(jtext(CONDITION_STATUSES)))]),
                        2,
                    )),
                )])),
            ),
        ]),
        1 => any_json(),
    ];
    let cell = prop_oneof![
        4 => jtext(&["m-predictor-00001-deployment-abc", "1/1", "0/1", "Running", "CrashLoopBackOff", "3 (5s ago)", "5m"]),
        1 => any_json(),
    ];
    let row = object(vec![
        ("cells", opt(list(cell.boxed(), 5))),
        (
            "object",
            opt(object(vec![(
                "metadata",
                opt(object(vec![(
                    "labels",
                    opt(object(vec![
                        (REVISION_LABEL, opt(jtext(REVS))),
                        ("component", opt(jtext(&["predictor", "transformer", "explainer", ""]))),
                        (ISVC_LABEL, opt(jtext(NAMES))),
                    ])),
                )])),
            )])),
        ),
    ]);
    let columns =
        json!([{"name": "Name"}, {"name": "Ready"}, {"name": "Status"}, {"name": "Restarts"}, {"name": "Age"}]);
    let table = prop_oneof![
        5 => list(row, 3).prop_map(move |rows| json!({"columnDefinitions": columns.clone(), "rows": rows})),
        1 => any_json(),
    ];
    (
        prop::collection::vec(revision, 0..4),
        prop::option::weighted(0.2, odd_string()),
        table,
        prop::option::weighted(0.2, odd_string()),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(revisions, unreadable, pods_table, pods_note, no_headers, wide)| Around {
            revisions,
            unreadable,
            pods_table,
            pods_note,
            no_headers,
            wide,
        })
        .boxed()
}

// ------------------------------------------------------------------------------------------------
// Checks shared by the properties.

/// Every string of a document, keys included.
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|i| strings(i, out)),
        Value::Object(m) => {
            for (k, v) in m {
                out.push(k.clone());
                strings(v, out);
            }
        }
        _ => {}
    }
}

/// A clean refusal: an exit code of the contract, a non-empty message, printed on one line (the
/// plugin's own words never break a line: a line break can only come from the input).
fn clean_fail(f: &Fail, inputs: &[String]) -> Result<(), TestCaseError> {
    // Refused or a usage error; a status that cannot be read is the one failure (exit 1).
    let unreadable_status = f.exit == Exit::Failure && f.message.contains("cannot be read");
    prop_assert!(
        matches!(f.exit, Exit::Refused | Exit::Usage) || unreadable_status,
        "exit {:?}: {}",
        f.exit,
        f.message
    );
    prop_assert!(!f.message.trim().is_empty(), "empty message");
    prop_assert!(!sanitize(&f.message).chars().any(char::is_control), "printed on more than one line: {:?}", f.message);
    if f.message.contains(['\n', '\r']) {
        prop_assert!(
            inputs.iter().any(|s| s.contains(['\n', '\r'])),
            "a line break that is not the input's: {:?}",
            f.message
        );
    }
    Ok(())
}

fn clean_plan(plan: &Result<Plan, Fail>, inputs: &[String]) -> Result<(), TestCaseError> {
    match plan {
        Ok(p) => {
            for note in p.notes() {
                prop_assert!(!note.trim().is_empty(), "empty note");
            }
            Ok(())
        }
        Err(f) => clean_fail(f, inputs),
    }
}

/// The split that `predicted` gives for our own changes: percents 0..=100 that add up to 100.
fn sane_split(split: &[traffic::Split]) -> Result<(), TestCaseError> {
    prop_assert!(!split.is_empty());
    prop_assert!(split.iter().all(|s| (0..=100).contains(&s.percent)), "{split:?}");
    prop_assert_eq!(split.iter().map(|s| s.percent).sum::<i64>(), 100, "{:?}", split);
    Ok(())
}

/// The text of the view for a person: nothing from the cluster drives the terminal.
fn no_control_but_newlines(text: &str) -> Result<(), TestCaseError> {
    let bad: Vec<char> = text.chars().filter(|c| c.is_control() && *c != '\n').collect();
    prop_assert!(bad.is_empty(), "control characters {bad:?} reach the terminal in:\n{text}");
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// 1. Any InferenceService through every decision: a decision or a clean error, never a panic.

/// The plans of every mutation on one component: set (with and without the model URI asked),
/// promote (with and without --force), rollback; each checked clean.
/// The changes of the plans that write (see [`plans`]).
fn changes(isvc: &Isvc, c: Component, ask: &Ask, inputs: &[String]) -> Result<Vec<Change>, TestCaseError> {
    Ok(plans(isvc, c, ask, inputs)?
        .into_iter()
        .filter_map(|plan| match plan {
            Plan::Write { change, .. } => Some(change),
            Plan::Unchanged { .. } => None,
        })
        .collect())
}

fn plans(isvc: &Isvc, c: Component, ask: &Ask, inputs: &[String]) -> Result<Vec<Plan>, TestCaseError> {
    let mut plans = Vec::new();
    for model_uri in [None, ask.model_uri.as_deref()] {
        let request = SetRequest {
            component: c,
            percent: ask.percent,
            model_uri,
            split_with_previous: ask.split_with_previous,
            replace: ask.replace,
        };
        let plan = rules::plan_set(isvc, &request);
        clean_plan(&plan, inputs)?;
        plans.extend(plan.ok());
    }
    for force in [false, ask.force] {
        let plan = rules::plan_promote(isvc, c, force);
        clean_plan(&plan, inputs)?;
        plans.extend(plan.ok());
    }
    let rollback = rules::plan_rollback(isvc, c);
    if let Ok((_, target)) = &rollback {
        prop_assert!(!target.is_empty());
    }
    let rollback = rollback.map(|(plan, _)| plan);
    clean_plan(&rollback, inputs)?;
    plans.extend(rollback.ok());
    Ok(plans)
}

/// The strings of the object and of the command line: where a line break may come from.
fn inputs_of(raw: &Value, ask: &Ask) -> Vec<String> {
    let mut inputs = Vec::new();
    strings(raw, &mut inputs);
    inputs.extend(ask.model_uri.clone());
    inputs.push(ask.revision.clone());
    inputs
}

#[test]
fn any_isvc_gets_a_decision_or_a_clean_error() {
    check("any-isvc-decisions", 512, (isvc_json(), ask()), |(raw, ask)| {
        let isvc = Isvc::from_value(raw.clone());
        let inputs = inputs_of(&raw, &ask);

        // What the object says of itself.
        let _ = (isvc.protocol(), isvc.last_writer(), isvc.gitops_owners(), isvc.ready(), isvc.components());
        let mode = isvc.mode();
        match rules::check_mode(&isvc) {
            Ok(()) => prop_assert_eq!(mode, Mode::Knative),
            Err(f) => clean_fail(&f, &inputs)?,
        }
        for c in COMPONENTS {
            let _ = (isvc.model_field(c), isvc.model_uri(c), isvc.owned_fields(c), isvc.latest_failure(c));
            let _ = (isvc.reconcile_failure(c), rules::canary_in_progress(&isvc, c), rules::rollback_target(&isvc, c));
            match rules::check_component(&isvc, c) {
                Ok(()) => prop_assert!(isvc.spec_component(c).is_some()),
                Err(f) => clean_fail(&f, &inputs)?,
            }
            match rules::expand_revision(&isvc, c, &ask.revision) {
                Ok(rev) => prop_assert!(!rev.is_empty() || ask.revision.is_empty()),
                Err(f) => clean_fail(&f, &inputs)?,
            }
            plans(&isvc, c, &ask, &inputs)?;
        }
        for on in [true, false] {
            clean_plan(&Ok(rules::plan_tag_routing(&isvc, on)), &inputs)?;
        }
        Ok(())
    });
}

#[test]
fn any_isvc_waits_and_previews_without_a_panic() {
    check("any-isvc-wait-traffic", 512, (isvc_json(), ask()), |(raw, ask)| {
        let isvc = Isvc::from_value(raw.clone());
        let inputs = inputs_of(&raw, &ask);
        for c in COMPONENTS {
            // The preview of every change: ours add up to 100 on this component.
            for change in changes(&isvc, c, &ask, &inputs)? {
                let after = traffic::predicted(&isvc, c, &change);
                sane_split(&after)?;
                let before = traffic::current(&isvc, c);
                let _ = (traffic::preview(&before, &after), traffic::preview_line(&before, &after));
                let _ = (change.changes_template(), display_patch(&change));
            }
            // Changes of the other components and of tag routing keep the stored ctp, whatever
            // it holds.
            for on in [true, false] {
                let _ = traffic::predicted(&isvc, c, &Change::TagRouting(on));
            }
            for other in COMPONENTS {
                let change = Change::Traffic {
                    component: other,
                    percent: Some(ask.percent),
                    model: None,
                    tag_routing_on: false,
                };
                let _ = traffic::predicted(&isvc, c, &change);
            }

            // The wait predicates, for every goal a command can ask (tag routing waits by the
            // stored ctp, whatever it holds).
            let goals = [
                Goal::Split(ask.split_goal),
                Goal::Pinned(None),
                Goal::Pinned(rules::rollback_target(&isvc, c)),
                Goal::Promoted,
                Goal::Ready,
                Goal::for_ctp(isvc.ctp(c)),
            ];
            for goal in goals {
                for new_revision_after in [None, ask.new_revision_after.clone()] {
                    let request = WaitRequest {
                        component: c,
                        goal: goal.clone(),
                        new_revision_after,
                        limits: WaitLimits::new(None, None),
                        guarded_spec: Some(isvc.owned_fields(c)),
                    };
                    for pods in [None, ask.ready_pods.as_deref()] {
                        if let Verdict::Waiting(phase) = judge(&isvc, &request, pods) {
                            prop_assert!(!phase.trim().is_empty(), "an empty phase");
                        }
                    }
                    if let Some(reason) = failure_signal(&isvc, &request) {
                        prop_assert!(!reason.trim().is_empty(), "an empty failure");
                    }
                }
            }
        }
        Ok(())
    });
}

#[test]
fn any_isvc_traffic_preview_escapes_cluster_text() {
    check("any-isvc-preview", 512, (isvc_json(), ask()), |(raw, ask)| {
        let isvc = Isvc::from_value(raw.clone());
        let inputs = inputs_of(&raw, &ask);
        for c in COMPONENTS {
            for change in changes(&isvc, c, &ask, &inputs)? {
                // Both go to stderr as they are: the before/after table at a prompt, and the one
                // line logged before a write without one.
                let (before, after) = (traffic::current(&isvc, c), traffic::predicted(&isvc, c, &change));
                no_control_but_newlines(&traffic::preview(&before, &after))?;
                let line = traffic::preview_line(&before, &after);
                prop_assert!(!line.chars().any(char::is_control), "control characters in the log line {line:?}");
            }
        }
        Ok(())
    });
}

#[test]
fn any_isvc_status_view_escapes_cluster_text() {
    check("any-isvc-view", 512, (isvc_json(), around()), |(raw, around)| {
        let isvc = Isvc::from_value(raw);
        // The status view, as `status` builds and prints it.
        let now: jiff::Timestamp = "2026-06-01T00:00:00Z".parse().expect("a timestamp");
        let mut revisions = view::Revisions::from_list(&around.revisions, now);
        revisions.unreadable = around.unreadable.clone();
        let pods = view::pods_from_table(&around.pods_table);
        let built = view::build(&isvc, &revisions, &pods);
        let note = around.pods_note.as_deref();
        let plain = view::render_details(&built, &revisions, note, around.no_headers, around.wide, false);
        no_control_but_newlines(&plain)?;
        let _ = view::render_details(&built, &revisions, note, around.no_headers, around.wide, true);
        prop_assert!(to_json(&built).is_ok());
        prop_assert!(to_yaml(&built).is_ok(), "{:?}", to_yaml(&built).err());
        Ok(())
    });
}

// ------------------------------------------------------------------------------------------------
// 2. A write touches only the fields the plugin owns.

/// Where a change may write (contract §7): the precondition, the tag-routing annotation, the
/// component's ctp, and the storageUri in the field the read object keeps its model in.
fn allowed_merge_leaf(path: &[String], change: &Change, model_holder: Option<&str>) -> bool {
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    match (p.as_slice(), change) {
        (["metadata", "resourceVersion"], _) => true,
        (["metadata", "annotations", key], Change::TagRouting(_)) => *key == TAG_ROUTING_ANNOTATION,
        (["spec", c, "canaryTrafficPercent"], Change::Traffic { component, .. }) => *c == component.key(),
        (["spec", c, holder, "storageUri"], Change::Traffic { component, model: Some(_), .. }) => {
            *c == component.key() && Some(*holder) == model_holder
        }
        _ => false,
    }
}

fn leaves(v: &Value, here: &mut Vec<String>, out: &mut Vec<(Vec<String>, Value)>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, child) in m {
                here.push(k.clone());
                leaves(child, here, out);
                here.pop();
            }
        }
        other => out.push((here.clone(), other.clone())),
    }
}

/// The field the read object keeps a component's model URI in (the merge patch and the JSON
/// Patch must write there and nowhere else).
fn holder_of(isvc: &Isvc, c: Component) -> Option<String> {
    match isvc.model_field(c) {
        ModelField::Model => Some("model".into()),
        ModelField::Framework(fw) => Some(fw),
        ModelField::None => None,
    }
}

/// The owned fields of a component, as JSON paths.
fn owned_paths(c: Component) -> Vec<Vec<String>> {
    let p = |parts: &[&str]| parts.iter().map(|s| (*s).to_string()).collect::<Vec<_>>();
    let mut out = vec![
        p(&["metadata", "resourceVersion"]),
        p(&["metadata", "annotations", TAG_ROUTING_ANNOTATION]),
        p(&["spec", c.key(), "canaryTrafficPercent"]),
        p(&["spec", c.key(), "model", "storageUri"]),
    ];
    out.extend(FRAMEWORK_FIELDS.iter().map(|fw| p(&["spec", c.key(), fw, "storageUri"])));
    out
}

fn get_path<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(v, |node, k| node.as_object()?.get(k))
}

fn remove_path(v: &mut Value, path: &[String]) {
    let Some((last, parent)) = path.split_last() else { return };
    let mut node = v;
    for k in parent {
        match node.as_object_mut().and_then(|m| m.get_mut(k)) {
            Some(next) => node = next,
            None => return,
        }
    }
    if let Some(m) = node.as_object_mut() {
        m.remove(last);
    }
}

/// The document without the owned fields of component `c`, and without the objects on their way
/// that are left empty (applied alike before and after: a merge patch creates `metadata` to
/// carry the resourceVersion).
fn without_owned(v: &Value, c: Component) -> Value {
    let mut v = v.clone();
    let paths = owned_paths(c);
    for path in &paths {
        remove_path(&mut v, path);
    }
    for path in &paths {
        for depth in (1..path.len()).rev() {
            if get_path(&v, &path[..depth]).and_then(Value::as_object).is_some_and(Map::is_empty) {
                remove_path(&mut v, &path[..depth]);
            }
        }
    }
    v
}

/// What the owned fields must read after the change (the rest as they were).
fn expected_owned(isvc: &Isvc, c: Component, change: &Change) -> isvc_canary::isvc::OwnedFields {
    let mut want = isvc.owned_fields(c);
    match change {
        Change::Traffic { component, percent, model, .. } if *component == c => {
            want.canary_traffic_percent = *percent;
            if let Some((_, uri)) = model {
                want.model_uri = Some(uri.clone());
            }
        }
        Change::Traffic { .. } => {}
        Change::TagRouting(on) => want.tag_routing = on.then(|| "true".to_string()),
    }
    want
}

/// Applies an RFC 6902 patch of `test`, `add` and `remove` ops, all or nothing, as the API server
/// does. `false` when a `test` failed (nothing changed).
fn apply_json_patch(doc: &mut Value, ops: &[Value]) -> bool {
    let mut out = doc.clone();
    for op in ops {
        let path = op["path"].as_str().unwrap_or_default();
        match op["op"].as_str() {
            Some("test") if out.pointer(path) != Some(&op["value"]) => return false,
            Some("add") => {
                let (parent, key) = path.rsplit_once('/').unwrap_or_default();
                match out.pointer_mut(parent).and_then(Value::as_object_mut) {
                    Some(m) => m.insert(key.to_string(), op["value"].clone()),
                    None => return false,
                };
            }
            Some("remove") => {
                let (parent, key) = path.rsplit_once('/').unwrap_or_default();
                if out.pointer_mut(parent).and_then(Value::as_object_mut).and_then(|m| m.remove(key)).is_none() {
                    return false;
                }
            }
            _ => {}
        }
    }
    *doc = out;
    true
}

/// Every write the guard rails plan for the asked component (after the mode and component checks
/// a command makes first) and for `tag-routing`.
fn planned_writes(isvc: &Isvc, ask: &Ask) -> Vec<(Component, Change)> {
    let mut out = Vec::new();
    let mut keep = |c: Component, plan: Result<Plan, Fail>| {
        if let Ok(Plan::Write { change, .. }) = plan {
            out.push((c, change));
        }
    };
    for c in COMPONENTS {
        if rules::check_component(isvc, c).is_err() {
            continue;
        }
        for model_uri in [None, ask.model_uri.as_deref()] {
            let request = SetRequest {
                component: c,
                percent: ask.percent,
                model_uri,
                split_with_previous: ask.split_with_previous,
                replace: ask.replace,
            };
            keep(c, rules::plan_set(isvc, &request));
        }
        keep(c, rules::plan_promote(isvc, c, ask.force));
        keep(c, rules::plan_rollback(isvc, c).map(|(plan, _)| plan));
    }
    for on in [true, false] {
        keep(Component::Predictor, Ok(rules::plan_tag_routing(isvc, on)));
    }
    out
}

/// `metadata` and its annotations are objects (ObjectMeta: the API server never returns
/// anything else); a merge patch replaces whatever is not an object on its way, by RFC 7386.
fn object_meta(raw: &Value) -> bool {
    raw.is_object()
        && raw.get("metadata").is_none_or(Value::is_object)
        && raw.pointer("/metadata/annotations").is_none_or(Value::is_object)
}

/// Every component's latest created revision made its latest ready one (where status has one),
/// as `--expect-revision` needs to write at all.
fn settle(raw: &mut Value) {
    let Some(components) = raw.pointer_mut("/status/components").and_then(Value::as_object_mut) else { return };
    for status in components.values_mut().filter_map(Value::as_object_mut) {
        if let Some(ready) = status.get("latestReadyRevision").cloned() {
            status.insert("latestCreatedRevision".into(), ready);
        }
    }
}

#[test]
fn a_write_touches_only_the_owned_fields() {
    static WRITES: AtomicUsize = AtomicUsize::new(0);
    static MERGES_APPLIED: AtomicUsize = AtomicUsize::new(0);
    static JSON_PATCHES_APPLIED: AtomicUsize = AtomicUsize::new(0);
    check("owned-fields", 1024, (isvc_json(), ask(), any::<bool>()), |(mut raw, ask, settled)| {
        if settled {
            settle(&mut raw);
        }
        let isvc = Isvc::from_value(raw.clone());
        for (c, change) in planned_writes(&isvc, &ask) {
            WRITES.fetch_add(1, Ordering::Relaxed);
            let holder = holder_of(&isvc, c);
            if let Change::Traffic { component, model, percent, .. } = &change {
                prop_assert_eq!(*component, c);
                prop_assert!(percent.is_none_or(|p| (0..100).contains(&p)), "{:?}", percent);
                if let Some((field, _)) = model {
                    prop_assert_eq!(Some(field), Some(&isvc.model_field(c)));
                    prop_assert!(holder.is_some(), "a model URI where the component has none");
                }
            }

            // The merge patch: its leaves, and what applying it does.
            let patch = merge_patch(&change, &isvc.resource_version);
            let mut found = Vec::new();
            leaves(&patch, &mut Vec::new(), &mut found);
            for (path, value) in &found {
                prop_assert!(
                    allowed_merge_leaf(path, &change, holder.as_deref()),
                    "{change:?} writes {path:?} = {value} (patch {patch})"
                );
            }
            prop_assert_eq!(&patch["metadata"]["resourceVersion"], &json!(isvc.resource_version));
            let mut shown = Vec::new();
            leaves(&display_patch(&change), &mut Vec::new(), &mut shown);
            for (path, _) in &shown {
                prop_assert!(
                    allowed_merge_leaf(path, &change, holder.as_deref())
                        && path.get(1).map(String::as_str) != Some("resourceVersion")
                );
            }
            if object_meta(&raw) {
                MERGES_APPLIED.fetch_add(1, Ordering::Relaxed);
                let mut after = raw.clone();
                apply_merge(&mut after, &patch);
                prop_assert_eq!(
                    without_owned(&after, c),
                    without_owned(&raw, c),
                    "{:?} changed a field it does not own (patch {})",
                    change,
                    patch
                );
                prop_assert_eq!(Isvc::from_value(after).owned_fields(c), expected_owned(&isvc, c, &change));
            }

            // The --expect-revision JSON Patch, for the revision asked and for the one read.
            let s = isvc.component_status(c);
            for revision in [ask.revision.as_str(), s.lrr()] {
                let patch = expect_revision_patch(&change, revision, &isvc);
                let Some(ops) = patch.as_array() else {
                    // Not a traffic change: the merge patch, checked as such.
                    prop_assert!(matches!(change, Change::TagRouting(_)));
                    prop_assert_eq!(&patch, &merge_patch(&change, &isvc.resource_version));
                    continue;
                };
                let key = c.key();
                let tests = [
                    ("/metadata/resourceVersion".to_string(), json!(isvc.resource_version)),
                    (format!("/status/components/{key}/latestReadyRevision"), json!(revision)),
                    (format!("/status/components/{key}/latestCreatedRevision"), json!(revision)),
                ];
                let mut writes = vec![format!("/spec/{key}/canaryTrafficPercent")];
                writes.extend(holder.iter().map(|h| format!("/spec/{key}/{h}/storageUri")));
                for op in ops {
                    let path = op["path"].as_str().unwrap_or_default().to_string();
                    match op["op"].as_str() {
                        Some("test") => prop_assert!(tests.contains(&(path, op["value"].clone())), "{op}"),
                        Some("add") => {
                            prop_assert!(writes.contains(&path), "{op}");
                            let (parent, _) = path.rsplit_once('/').unwrap_or_default();
                            prop_assert!(
                                raw.pointer(parent).is_some_and(Value::is_object),
                                "{op}: no object to add to"
                            );
                        }
                        Some("remove") => {
                            prop_assert_eq!(&path, &writes[0], "{}", op);
                            prop_assert!(raw.pointer(&path).is_some(), "{op}: nothing to remove");
                        }
                        other => prop_assert!(false, "op {other:?}"),
                    }
                }
                let tested: BTreeSet<&str> =
                    ops.iter().filter(|op| op["op"] == "test").filter_map(|op| op["path"].as_str()).collect();
                prop_assert_eq!(tested.len(), 3, "{}", patch);
                let mut after = raw.clone();
                if apply_json_patch(&mut after, ops) {
                    JSON_PATCHES_APPLIED.fetch_add(1, Ordering::Relaxed);
                    prop_assert_eq!(without_owned(&after, c), without_owned(&raw, c), "{}", patch);
                    prop_assert_eq!(Isvc::from_value(after).owned_fields(c), expected_owned(&isvc, c, &change));
                }
            }
        }
        Ok(())
    });
    // Not vacuous: the rules planned writes, and both patches were applied on many of them.
    let (writes, merges, json_patches) = (
        WRITES.load(Ordering::Relaxed),
        MERGES_APPLIED.load(Ordering::Relaxed),
        JSON_PATCHES_APPLIED.load(Ordering::Relaxed),
    );
    assert!(writes >= 1000 && merges >= writes / 2 && json_patches >= 50, "{writes} {merges} {json_patches}");
}

// ------------------------------------------------------------------------------------------------
// 3. Pure parsers.

fn near_miss_percent() -> S<String> {
    prop_oneof![
        any::<String>(),
        odd_string(),
        "[0-9]{0,4}",
        "[-+ 0]?[0-9]{1,3}[ .0]?",
        "0[0-9]{1,2}",
        "1[0-9]{2}",
        "(0|[1-9][0-9]?|100)",
        "[٠-٩０-９¹²³]{1,3}",
        (-1000i64..1000).prop_map(|n| n.to_string()),
    ]
    .boxed()
}

#[test]
fn percent_is_exactly_0_to_100_in_decimal() {
    // ^(0|[1-9][0-9]?|100)$ is exactly the decimal spelling of 0..=100.
    let valid: Vec<String> = (0..=100).map(|n: i64| n.to_string()).collect();
    check("percent", 2048, near_miss_percent(), |text| {
        let expected = valid.iter().position(|v| *v == text);
        match (rules::parse_percent(&text), expected) {
            (Ok(n), Some(i)) => prop_assert_eq!(n, i as i64),
            (Err(f), None) => {
                prop_assert_eq!(f.exit, Exit::Usage);
                prop_assert!(f.message.starts_with("percent must be an integer from 0 to 100"), "{}", f.message);
            }
            (got, _) => prop_assert!(false, "{text:?}: {got:?}"),
        }
        // `--for=traffic=N` reads N the same way.
        prop_assert_eq!(Goal::parse(&format!("traffic={text}")).is_ok(), expected.is_some());
        Ok(())
    });
}

fn near_miss_duration() -> S<String> {
    prop_oneof![
        any::<String>(),
        odd_string(),
        "[ ]?([0-9.]{0,4}(ms|s|m|h|d|us|)){0,3}[ ]?",
        "[0-9]{1,25}(ms|s|m|h)",
        "([0-9]{1,16}h){1,3}",
        "([1-9][0-9]{15}h){2,3}",
        "[0-9]{0,3}\\.[0-9]{0,3}(ms|s|m|h)",
        any::<u64>().prop_map(|s| format_duration(Duration::from_secs(s))),
        any::<u64>().prop_map(|s| s.to_string()),
    ]
    .boxed()
}

#[test]
fn durations_never_panic() {
    check("duration-parse", 2048, near_miss_duration(), |text| {
        match parse_duration(&text) {
            Ok(d) => {
                if let Ok(secs) = text.trim().parse::<u64>() {
                    prop_assert_eq!(d, Duration::from_secs(secs));
                }
            }
            Err(message) => prop_assert!(!message.trim().is_empty()),
        }
        Ok(())
    });
}

#[test]
fn whole_seconds_round_trip_through_format_duration() {
    // Up to 2^53 seconds (285 million years), where every term of the text is exact in an f64.
    let seconds = prop_oneof![3 => 0u64..=100_000, 1 => 0u64..=(1 << 53)];
    check("duration-round-trip", 1024, seconds, |secs| {
        let d = Duration::from_secs(secs);
        let text = format_duration(d);
        prop_assert_eq!(parse_duration(&text), Ok(d), "{}", text);
        Ok(())
    });
}

/// The flags of one command, spelled every way a person may type them.
fn flag_words(cmd: &clap::Command, pool: &mut BTreeSet<String>) {
    for arg in cmd.get_arguments() {
        if let Some(long) = arg.get_long() {
            pool.insert(format!("--{long}"));
            pool.insert(format!("--{long}="));
            for v in arg.get_possible_values() {
                pool.insert(format!("--{long}={}", v.get_name()));
                pool.insert(v.get_name().to_string());
            }
        }
        if let Some(short) = arg.get_short() {
            pool.insert(format!("-{short}"));
            pool.insert(format!("-{short}x"));
        }
    }
}

/// The words of a command line: the real subcommands and flags, their values, URIs, names,
/// numbers and odd words.
fn words() -> S<Vec<String>> {
    let tree = Cli::command();
    let mut pool: BTreeSet<String> = BTreeSet::new();
    flag_words(&tree, &mut pool);
    for sub in tree.get_subcommands() {
        pool.insert(sub.get_name().to_string());
        pool.extend(sub.get_all_aliases().map(str::to_string));
        flag_words(sub, &mut pool);
    }
    pool.extend(
        ["--", "-", "-h", "-hn", "--help", "-V", "0", "10", "100", "101", "-5", "1.5", "gs://b/m", "s3://x/y"]
            .map(str::to_string),
    );
    pool.extend(["sklearn-iris", "on", "off", "client", "server", "traffic=10", "x-", ""].map(str::to_string));
    let pool: Vec<String> = pool.into_iter().collect();
    let word = prop_oneof![6 => prop::sample::select(pool), 1 => odd_string(), 1 => any::<String>()];
    prop::collection::vec(word, 0..7).boxed()
}

#[test]
fn usage_guesses_never_panic() {
    check("guess", 512, words(), |args| {
        if let Some(message) = guess::check(&args) {
            prop_assert!(!message.trim().is_empty());
        }
        Ok(())
    });
}

#[test]
fn sanitize_lets_no_control_character_through() {
    check("sanitize", 2048, prop_oneof![odd_string(), any::<String>()], |text| {
        let out = sanitize(&text);
        prop_assert!(!out.chars().any(char::is_control), "{text:?} -> {out:?}");
        if !text.chars().any(char::is_control) {
            prop_assert_eq!(out, text);
        }
        Ok(())
    });
}
