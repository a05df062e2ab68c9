//! A corpus of bad input, kept as data ([`CORPUS`]): percents and flag combinations, names and
//! namespaces that cannot exist, broken kubeconfigs, and API answers no conforming server sends
//! (garbage JSON, an empty or a 20 MB body, a malformed status, terminal escapes in names and
//! messages). One case is the words typed, the kubeconfig, what the scripted server answers, the
//! exit code of the contract (docs/contract.md §6) and words of the one-line error.
//!
//! Every case, whatever its group, must also hold the rules that no input may break:
//! - the exit code is the documented one, never 101 (a panic), never a signal or a hang;
//! - nothing says "panicked" or "RUST_BACKTRACE";
//! - a failure prints exactly one `error: ` line, every other line of stderr is one the contract
//!   lists (`note: `, `warning: `, and before a write the target line and the `traffic: ` line,
//!   §5, §7), and nothing on stdout; a success prints no `error: ` line;
//! - no ESC or BEL byte reaches stdout or stderr (§5: text from the cluster is escaped; the
//!   plugin's own colours are off, NO_COLOR);
//! - nothing is written: no PATCH (nor POST, PUT, DELETE) reaches the server, and a case whose
//!   server answers nothing ([`Answer::Nothing`]) sends no request at all (usage errors come
//!   before any request, §3).
//!
//! One test per group, so that a failure names the kind of input that broke.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Value, json};

use crate::objects::{Isvc, NS, isvc_list_path, isvc_path};
use crate::proc::{Cmd, Output};
use crate::stub::{Recorded, Reply, Route, Stub, scratch};

/// A command that has not ended within this is killed (only a bound on hangs, never a verdict).
const LIMIT: Duration = Duration::from_secs(30);

const PERCENT: &str = "percent must be an integer from 0 to 100";
/// What the client-side name checks say (either word).
const VALID: &str = "valid||DNS-1123";
/// A credential an exec plugin prints: it must never reach the output (§11).
const SECRET: &str = "corpus-s3cret-t0ken-4b1d";

/// Which rules a case exercises; one test per group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Group {
    Percent,
    Flags,
    Names,
    Kubeconfig,
    Server,
}

const GROUPS: [Group; 5] = [Group::Percent, Group::Flags, Group::Names, Group::Kubeconfig, Group::Server];

/// The kubeconfig a case runs with (`--kubeconfig PATH`).
#[derive(Clone, Copy, Debug)]
enum Kc {
    /// The stub's: plain HTTP, token user, namespace `team-a`.
    Stub,
    /// A path that does not exist.
    Missing,
    /// A directory.
    Dir,
    /// This text (placeholders expanded, see [`Env::expand`]).
    Text(&'static str),
}

/// The InferenceService a scripted answer starts from (objects.rs).
#[derive(Clone, Copy, Debug)]
enum Base {
    /// r1 rolled out, no canaryTrafficPercent.
    Deployed,
    /// r2 ready and serving 10 %, r1 the rest.
    Canary10,
    /// r2 created and not ready yet, at 10 %.
    Starting10,
}

/// What the scripted API server answers. Anything not scripted answers 404 and is recorded.
#[derive(Clone, Copy, Debug)]
enum Answer {
    /// No request may be sent at all.
    Nothing,
    /// The GET of `team-a/iris` answers this status, content type and body, as bytes.
    Raw(u16, &'static str, &'static str),
    /// The GET answers bytes made at run time (too large to be written out).
    Made(fn() -> Vec<u8>),
    /// The GET answers 200 with `base`, each (JSON pointer, JSON text) set in it.
    Object(Base, &'static [(&'static str, &'static str)]),
    /// The GET answers a `Status` error: code, reason, message.
    Status(u16, &'static str, &'static str),
    /// The LIST of `team-a` (no NAME typed) answers 200 with this JSON text.
    List(&'static str),
}

/// One case of the corpus.
#[derive(Clone, Copy, Debug)]
struct Case {
    group: Group,
    /// The words after `--kubeconfig PATH` (placeholders expanded, `{a*64}` is 64 `a`).
    args: &'static [&'static str],
    kubeconfig: Kc,
    /// Files written into the case's directory first (executable), as (name, text).
    files: &'static [(&'static str, &'static str)],
    answer: Answer,
    code: i32,
    /// Words of the `error:` line (of stdout when the code is 0); `a||b` is either.
    words: &'static [&'static str],
    /// Words that must appear nowhere (stdout or stderr).
    never: &'static [&'static str],
}

const fn case(group: Group, args: &'static [&'static str], code: i32, words: &'static [&'static str]) -> Case {
    Case { group, args, kubeconfig: Kc::Stub, files: &[], answer: Answer::Nothing, code, words, never: &[] }
}

impl Case {
    const fn kc(self, kubeconfig: Kc) -> Case {
        Case { kubeconfig, ..self }
    }
    const fn files(self, files: &'static [(&'static str, &'static str)]) -> Case {
        Case { files, ..self }
    }
    const fn answer(self, answer: Answer) -> Case {
        Case { answer, ..self }
    }
    const fn never(self, never: &'static [&'static str]) -> Case {
        Case { never, ..self }
    }
}

/// A kubeconfig with one cluster, user and context `ctx1` (namespace `team-a`); the cluster and
/// the user are YAML flow mappings.
macro_rules! kubeconfig {
    ($cluster:literal, $user:literal) => {
        kubeconfig!($cluster, $user, "ctx1")
    };
    ($cluster:literal, $user:literal, $current:literal) => {
        concat!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c1\n  cluster: ",
            $cluster,
            "\nusers:\n- name: u1\n  user: ",
            $user,
            "\ncontexts:\n- name: ctx1\n  context: {cluster: c1, user: u1, namespace: team-a}\ncurrent-context: ",
            $current,
            "\n"
        )
    };
}

/// A user whose credential comes from an exec plugin: `{exec}` runs `{dir}/cred.sh` (the case's
/// files), `{exec-missing}` a program that does not exist.
const EXEC_USER: &str = "{exec: {apiVersion: client.authentication.k8s.io/v1, command: '{dir}/cred.sh', \
                         interactiveMode: Never}}";
const EXEC_MISSING_USER: &str = "{exec: {apiVersion: client.authentication.k8s.io/v1, \
                                 command: '{dir}/no-such/cred.sh', interactiveMode: Never}}";

use Group::{Flags, Kubeconfig, Names, Percent, Server};

const CORPUS: &[Case] = &[
    // ---- PERCENT: a decimal integer 0-100, no sign, no leading zero, no blanks (§3) ----
    case(Percent, &["set", "iris", "-1"], 2, &[PERCENT]),
    case(Percent, &["set", "iris", "101"], 2, &[PERCENT]),
    case(Percent, &["set", "iris", "10.5"], 2, &[PERCENT]),
    case(Percent, &["set", "iris", "010"], 2, &[PERCENT]),
    case(Percent, &["set", "iris", "1e2"], 2, &[PERCENT]),
    case(Percent, &["set", "iris", ""], 2, &[PERCENT]),
    case(Percent, &["set", "iris", " 10"], 2, &[PERCENT]),
    case(Percent, &["set", "iris", "10 "], 2, &[PERCENT]),
    case(Percent, &["set", "iris", "ten"], 2, &[PERCENT]),
    case(Percent, &["set", "iris", "0x10"], 2, &[PERCENT]),
    case(Percent, &["set", "iris", "\u{ff11}\u{ff10}"], 2, &[PERCENT]),
    case(Percent, &["set", "iris", "\u{663}"], 2, &[PERCENT]),
    case(Percent, &["set", "iris", "+5"], 2, &[PERCENT]),
    case(Percent, &["set", "iris", "10%"], 2, &[PERCENT]),
    case(Percent, &["set", "iris", "99999999999999999999"], 2, &[PERCENT]),
    case(Percent, &["canary", "iris", "-0"], 2, &[PERCENT]),
    // One word that is not a percent and cannot be a name either (§3, last paragraph).
    case(Percent, &["set", "1e2"], 2, &[PERCENT]),
    case(Percent, &["set", "0x10"], 2, &[PERCENT]),
    case(Percent, &["wait", "iris", "--for=traffic=101"], 2, &[PERCENT]),
    case(Percent, &["wait", "iris", "--for=traffic=1.5"], 2, &[PERCENT]),
    // ---- flags and their combinations (§3, §5): exit 2 before any request ----
    case(Flags, &["set", "iris", "10", "--timeout", "5s"], 2, &["--wait"]),
    case(Flags, &["promote", "iris", "--fail-window", "5s"], 2, &["--wait"]),
    case(Flags, &["rollback", "iris", "--timeout", "1m"], 2, &["--wait"]),
    case(Flags, &["set", "iris", "10", "--dry-run", "client"], 2, &["use --dry-run=client"]),
    case(Flags, &["status", "iris", "-A"], 2, &["-A"]),
    case(Flags, &["tag-routing", "iris", "maybe"], 2, &["on or off", "maybe"]),
    case(Flags, &["tag-routing", "iris", "on", "--input", "{dir}/missing.json"], 2, &["missing.json"]),
    case(Flags, &["set", "iris", "10", "--model-uri", "not a uri"], 2, &["--model-uri"]),
    case(Flags, &["set", "10", "gs://b/m"], 2, &["did you mean --model-uri gs://b/m?"]),
    case(Flags, &["set", "a", "10", "extra"], 2, &["unexpected argument 'extra'"]),
    case(Flags, &["wait", "iris", "--for=done"], 2, &["done"]),
    // -o before the subcommand is checked by the plugin, in one line; after it, by clap (below).
    case(Flags, &["-o", "wide", "promote", "iris"], 2, &["-o wide is not available"]),
    case(Flags, &["set", "iris", "10", "--dry-run=maybe"], 2, &["maybe"]),
    case(Flags, &["set", "iris", "10", "-o", "wide"], 2, &["wide"]),
    case(Flags, &["status", "-o", "name"], 2, &["name"]),
    case(Flags, &["version", "-o", "yaml"], 2, &["yaml"]),
    case(Flags, &["set", "iris", "10", "--frobnicate"], 2, &["--frobnicate"]),
    case(Flags, &["set", "iris", "10", "--component", "sidecar"], 2, &["sidecar"]),
    case(Flags, &["wait", "iris"], 2, &["--for"]),
    case(Flags, &["set", "iris", "10", "--expect-revision"], 2, &["--expect-revision"]),
    case(Flags, &["set", "iris", "10", "--wait", "--timeout", "soon"], 2, &["soon"]),
    case(Flags, &["--request-timeout", "soon", "status"], 2, &["soon"]),
    case(Flags, &["completion", "tcsh"], 2, &["tcsh"]),
    // ---- names and namespaces that cannot exist: exit 2 before any request, saying what a
    // valid one is. Red until client-side name validation lands. ----
    case(Names, &["status", "Iris"], 2, &[VALID]),
    case(Names, &["promote", "sklearn iris"], 2, &[VALID]),
    case(Names, &["promote", ".."], 2, &[VALID]),
    case(Names, &["status", "%2e%2e"], 2, &[VALID]),
    case(Names, &["rollback", "a/b"], 2, &[VALID]),
    case(Names, &["set", "iris-", "10"], 2, &[VALID]),
    case(Names, &["wait", "_iris", "--for=ready"], 2, &[VALID]),
    case(Names, &["promote", "{a*254}"], 2, &[VALID]),
    // KServe's own rule for an InferenceService: at most 63 characters (§3).
    case(Names, &["set", "{a*64}", "10"], 2, &[VALID]),
    case(Names, &["tag-routing", "ir\u{1b}]0;pwned\u{7}is", "on"], 2, &[VALID]),
    case(Names, &["-n", "Team-A", "promote", "iris"], 2, &[VALID]),
    case(Names, &["-n", "..", "status"], 2, &[VALID]),
    case(Names, &["-n", "a/b", "promote", "iris"], 2, &[VALID]),
    case(Names, &["-n", "team a", "status", "iris"], 2, &[VALID]),
    case(Names, &["-n", "kube_system", "status"], 2, &[VALID]),
    case(Names, &["-n", "{a*64}", "status"], 2, &[VALID]),
    // ---- kubeconfigs (§2, §6: missing or unreadable, unknown context or none current: 2;
    // unreachable: 1, naming the URL; credentials that cannot be obtained: 5) ----
    case(Kubeconfig, &["status", "iris"], 2, &["kubeconfig"]).kc(Kc::Missing),
    case(Kubeconfig, &["status", "iris"], 2, &["kubeconfig"]).kc(Kc::Dir),
    case(Kubeconfig, &["status", "iris"], 2, &["current context"]).kc(Kc::Text("")),
    case(Kubeconfig, &["status", "iris"], 2, &["cannot read kubeconfig"]).kc(Kc::Text("this: [is not\n")),
    case(Kubeconfig, &["status", "iris"], 2, &["cannot read kubeconfig"]).kc(Kc::Text("- just\n- a list\n")),
    // The parse error quotes the line: its escapes must not reach the terminal.
    case(Kubeconfig, &["status", "iris"], 2, &["cannot read kubeconfig"])
        .kc(Kc::Text("kind: Config\nclusters: \u{1b}]0;pwned\u{7}[\n")),
    case(Kubeconfig, &["--context", "nope", "status", "iris"], 2, &["nope"])
        .kc(Kc::Text(kubeconfig!("{server: '{stub}'}", "{token: t}"))),
    case(Kubeconfig, &["status", "iris"], 2, &["current context"]).kc(Kc::Text(kubeconfig!(
        "{server: '{stub}'}",
        "{token: t}",
        "''"
    ))),
    case(Kubeconfig, &["status", "iris"], 2, &["other"]).kc(Kc::Text(kubeconfig!(
        "{server: '{stub}'}",
        "{token: t}",
        "other"
    ))),
    case(Kubeconfig, &["status", "iris"], 2, &["url"])
        .kc(Kc::Text(kubeconfig!("{server: '::not a url'}", "{token: t}"))),
    case(Kubeconfig, &["status", "iris"], 2, &["url"]).kc(Kc::Text(kubeconfig!("{server: ''}", "{token: t}"))),
    case(Kubeconfig, &["status", "iris"], 1, &["{closed}"])
        .kc(Kc::Text(kubeconfig!("{server: '{closed}'}", "{token: t}"))),
    // A CA that signed nothing the server has, and a server that does not speak TLS: the
    // handshake fails, the server is unreachable (§6: 1, naming the URL; §11: no way around).
    case(Kubeconfig, &["promote", "iris"], 1, &["{plain}"])
        .kc(Kc::Text(kubeconfig!("{server: '{plain}', certificate-authority-data: '{ca}'}", "{token: t}"))),
    // Malformed client certificates: the code says "cannot use the kubeconfig", exit 2.
    case(Kubeconfig, &["status", "iris"], 2, &["cannot use the kubeconfig"]).kc(Kc::Text(kubeconfig!(
        "{server: '{stub}'}",
        "{client-certificate-data: bm90IGEgY2VydGlmaWNhdGU=, client-key-data: bm90IGEga2V5}"
    ))),
    case(Kubeconfig, &["status", "iris"], 2, &["cannot use the kubeconfig"]).kc(Kc::Text(kubeconfig!(
        "{server: '{stub}'}",
        "{client-certificate-data: '!!not base64!!', client-key-data: bm90IGEga2V5}"
    ))),
    // A CA that is not a certificate: kubectl refuses it before connecting ("unable to load
    // root certificates"); the plugin ignores it and fails the handshake instead.
    case(Kubeconfig, &["status", "iris"], 2, &["certificate"]).kc(Kc::Text(kubeconfig!(
        "{server: '{plain}', certificate-authority-data: bm90IGEgY2VydGlmaWNhdGU=}",
        "{token: t}"
    ))),
    // Tokens that cannot be a header value.
    case(Kubeconfig, &["status", "iris"], 2, &["kubeconfig"])
        .kc(Kc::Text(kubeconfig!("{server: '{stub}'}", "{token: \"t0k\\u001b]0;pwned\\u0007en\"}"))),
    case(Kubeconfig, &["status", "iris"], 2, &["kubeconfig"])
        .kc(Kc::Text(kubeconfig!("{server: '{stub}'}", "{token: \"t0ken\\n\"}"))),
    // Exec credential plugins that cannot give a credential (§6: 5), and never print it (§11).
    case(Kubeconfig, &["status", "iris"], 5, &["exec"])
        .kc(Kc::Text(kubeconfig!("{server: '{stub}'}", "{exec-missing}"))),
    case(Kubeconfig, &["status", "iris"], 5, &["exec"])
        .kc(Kc::Text(kubeconfig!("{server: '{stub}'}", "{exec}")))
        .files(&[(
            "cred.sh",
            "#!/bin/sh\necho '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\
             \"status\":{\"token\":\"{secret}\"}}'\nexit 1\n",
        )])
        .never(&[SECRET]),
    case(Kubeconfig, &["status", "iris"], 5, &["exec"])
        .kc(Kc::Text(kubeconfig!("{server: '{stub}'}", "{exec}")))
        .files(&[("cred.sh", "#!/bin/sh\necho 'token {secret} (not an ExecCredential)'\n")])
        .never(&[SECRET]),
    // ---- API answers no conforming server sends (§6: an unexpected answer is 1) ----
    case(Server, &["set", "iris", "10", "--yes"], 1, &["{stub}"]).answer(Answer::Raw(
        200,
        "application/json",
        "{\"kind\":\"InferenceService\",\"metadata\":{\"name\":",
    )),
    case(Server, &["promote", "iris", "--yes"], 1, &["{stub}"]).answer(Answer::Raw(
        200,
        "application/json",
        "<html><body>hello from a proxy</body></html>",
    )),
    case(Server, &["rollback", "iris", "--yes"], 1, &["{stub}"]).answer(Answer::Raw(200, "application/json", "")),
    case(Server, &["promote", "iris", "--yes"], 1, &["502||Bad Gateway"]).answer(Answer::Raw(
        502,
        "text/html",
        "<html><h1>502 Bad Gateway</h1></html>",
    )),
    // 20 MB: an InferenceService with a 20 MB annotation, already promoted: nothing to write.
    case(Server, &["promote", "iris", "--yes"], 0, &["unchanged"]).answer(Answer::Made(huge_object)),
    // 100 000 nested arrays: the parser's depth limit, not the stack, ends it.
    case(Server, &["promote", "iris", "--yes"], 1, &["{stub}"]).answer(Answer::Made(deeply_nested)),
    case(Server, &["set", "iris", "10", "--yes"], 7, &["predictor"])
        .answer(Answer::Object(Base::Deployed, &[("/spec", "\"garbage\"")])),
    // A malformed status, under a command that a readable one refuses (a new model would drop
    // the canary in progress, §8): never a write on what could not be read.
    // `conditions: null` is "absent" (Go clients write nil lists so): the status is read, and the
    // guard rail refuses to drop the canary in progress.
    case(Server, &["set", "iris", "20", "--model-uri", "gs://models/iris/v3", "--yes"], 7, &["would drop it"])
        .answer(Answer::Object(Base::Canary10, &[("/status/conditions", "null")])),
    case(Server, &["set", "iris", "20", "--model-uri", "gs://models/iris/v3", "--yes"], 1, &["status"])
        .answer(Answer::Object(Base::Canary10, &[("/status", "\"garbage\"")])),
    case(Server, &["set", "iris", "20", "--model-uri", "gs://models/iris/v3", "--yes"], 1, &["status"])
        .answer(Answer::Object(Base::Canary10, &[("/status/components/predictor/traffic", "{\"0\": {}}")])),
    case(Server, &["set", "iris", "20", "--model-uri", "gs://models/iris/v3", "--yes"], 1, &["status"])
        .answer(Answer::Object(Base::Canary10, &[("/status/components/predictor/traffic/0/percent", "\"10\"")])),
    // Terminal escapes from the cluster (§5): in a name, a condition message, an annotation
    // printed as YAML, a Status message.
    // A name with escapes is not the name asked for: refused (§4), the escapes escaped.
    case(Server, &["set", "iris", "10", "--yes"], 1, &["another object"]).answer(Answer::Object(
        Base::Deployed,
        &[("/metadata/name", "\"iris\\u001b[2J\""), ("/status/deploymentMode", "\"RawDeployment\"")],
    )),
    case(Server, &["promote", "iris", "--yes"], 1, &["another object"])
        .answer(Answer::Object(Base::Deployed, &[("/metadata/name", "\"iris\\u001b]0;pwned\\u0007\"")])),
    case(Server, &["promote", "iris", "--yes"], 7, &["--force"]).answer(Answer::Object(
        Base::Starting10,
        &[(
            "/status/conditions/2",
            "{\"type\": \"PredictorConfigurationReady\", \"status\": \"False\", \"reason\": \"RevisionFailed\", \
             \"message\": \"\\u001b]0;pwned\\u0007\\u001b[2J model failed to load\"}",
        )],
    )),
    case(Server, &["promote", "iris", "--yes", "-o", "yaml"], 0, &["kind: InferenceService"]).answer(Answer::Object(
        Base::Deployed,
        &[("/metadata/annotations", "{\"note\": \"\\u001b]0;pwned\\u0007\\u001b[2J\"}")],
    )),
    case(Server, &["set", "iris", "10", "--yes"], 1, &["boom"]).answer(Answer::Status(
        500,
        "InternalError",
        "boom \u{1b}]0;pwned\u{7} \u{1b}[2J",
    )),
    case(Server, &["promote", "iris"], 5, &["cannot get resource"]).answer(Answer::Status(
        403,
        "Forbidden",
        "inferenceservices.serving.kserve.io \"iris\" is forbidden: User \"\u{1b}[2Jmallory\" cannot get resource \
         \"inferenceservices\" in API group \"serving.kserve.io\" in the namespace \"team-a\"",
    )),
    case(Server, &["rollback", "iris"], 5, &["Unauthorized"]).answer(Answer::Status(
        401,
        "Unauthorized",
        "Unauthorized",
    )),
    // An answer about another object than the one asked: never a write to that one.
    case(Server, &["promote", "iris", "--yes"], 1, &["other"])
        .answer(Answer::Object(Base::Canary10, &[("/metadata/name", "\"other\"")])),
    case(Server, &["promote", "--yes"], 1, &["name"]).answer(Answer::List(
        "{\"kind\": \"InferenceServiceList\", \"apiVersion\": \"serving.kserve.io/v1beta1\", \"metadata\": {}, \
             \"items\": [{\"spec\": {\"predictor\": {\"canaryTrafficPercent\": 10, \
             \"model\": {\"storageUri\": \"gs://models/iris/v2\"}}}}]}",
    )),
];

/// The cases of one group.
fn cases(pick: impl Fn(&Case) -> bool) -> Vec<&'static Case> {
    CORPUS.iter().filter(|c| pick(c)).collect()
}

#[test]
fn percents_are_usage_errors_before_any_request() {
    check_all(&cases(|c| c.group == Percent));
}

#[test]
fn bad_flags_and_combinations_are_usage_errors_before_any_request() {
    check_all(&cases(|c| c.group == Flags));
}

#[test]
fn names_and_namespaces_are_checked_before_any_request() {
    check_all(&cases(|c| c.group == Names));
}

#[test]
fn broken_kubeconfigs_get_their_documented_code() {
    check_all(&cases(|c| c.group == Kubeconfig));
}

#[test]
fn bad_server_answers_fail_cleanly_and_write_nothing() {
    check_all(&cases(|c| c.group == Server));
}

#[test]
fn corpus_has_at_least_40_cases() {
    let count = |g: Group| CORPUS.iter().filter(|c| c.group == g).count();
    let groups: Vec<String> = GROUPS.iter().map(|g| format!("{g:?} {}", count(*g))).collect();
    println!("bad-input corpus: {} cases ({})", CORPUS.len(), groups.join(", "));
    assert!(CORPUS.len() >= 40, "the corpus has only {} cases", CORPUS.len());
    for g in GROUPS {
        assert!(count(g) > 0, "no case in {g:?}");
    }
}

/// Runs every case and fails once, listing each case that broke a rule and why.
fn check_all(cases: &[&Case]) {
    assert!(!cases.is_empty(), "no case to run");
    let failures: Vec<String> = cases.iter().filter_map(|c| check(c).err()).collect();
    assert!(failures.is_empty(), "{} of {} cases failed:\n\n{}", failures.len(), cases.len(), failures.join("\n\n"));
}

/// Where a case runs: its stub, its directory and the addresses placeholders stand for.
struct Env {
    stub: Stub,
    dir: PathBuf,
    closed: String,
}

impl Env {
    /// `{exec}` and `{exec-missing}` (users, see [`EXEC_USER`]), `{stub}` (the stub's URL),
    /// `{closed}` (https on a closed port), `{plain}` (https on a server that answers in plain
    /// HTTP), `{dir}`, `{ca}` (a CA certificate, base64), `{secret}`, and `{x*N}`: N times x.
    fn expand(&self, text: &str) -> String {
        let text = text
            .replace("{exec}", EXEC_USER)
            .replace("{exec-missing}", EXEC_MISSING_USER)
            .replace("{stub}", &self.stub.url())
            .replace("{closed}", &self.closed)
            .replace("{plain}", plain_http_server())
            .replace("{dir}", &self.dir.display().to_string())
            .replace("{ca}", UNRELATED_CA)
            .replace("{secret}", SECRET);
        repeat(&text)
    }
}

/// `{x*N}` → N times `x` (one character).
fn repeat(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('{') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let parsed = tail.find('}').and_then(|end| {
            let inner = &tail[1..end];
            let (x, n) = inner.split_once('*')?;
            let n: usize = n.parse().ok()?;
            (x.chars().count() == 1).then(|| (x.repeat(n), end + 1))
        });
        match parsed {
            Some((text, used)) => {
                out.push_str(&text);
                rest = &tail[used..];
            }
            None => {
                out.push('{');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn label(case: &Case) -> String {
    let args: Vec<String> = case.args.iter().map(|a| format!("{:?}", short(a))).collect();
    format!("[{:?}] {}", case.group, args.join(" "))
}

/// An argument as the label shows it (long repetitions kept short).
fn short(a: &str) -> String {
    if a.chars().count() > 40 { format!("{}…", a.chars().take(40).collect::<String>()) } else { a.to_string() }
}

/// Runs one case and checks every rule; the failure says which rules broke, with the run.
fn check(case: &Case) -> Result<(), String> {
    let env =
        Env { stub: Stub::start(), dir: scratch("corpus"), closed: format!("https://127.0.0.1:{}", closed_port()) };
    script(&env.stub, case.answer);
    for (name, text) in case.files {
        write_executable(&env.dir.join(name), &env.expand(text));
    }
    let config = match case.kubeconfig {
        Kc::Stub => env.stub.kubeconfig(NS),
        Kc::Missing => env.dir.join("missing").join("config"),
        Kc::Dir => env.dir.clone(),
        Kc::Text(text) => {
            let path = env.dir.join("config");
            std::fs::write(&path, env.expand(text)).expect("write kubeconfig");
            path
        }
    };
    let args: Vec<String> = case.args.iter().map(|a| env.expand(a)).collect();
    let out = Cmd::plugin()
        .env("HOME", scratch("home").display().to_string())
        .env_remove("KUBERNETES_SERVICE_HOST")
        // A panic says so in two lines (and "RUST_BACKTRACE"), not in a backtrace.
        .env_remove("RUST_BACKTRACE")
        .arg("--kubeconfig")
        .arg(&config)
        .args(&args)
        .limit(LIMIT)
        .run();
    let requests = env.stub.requests();
    if std::env::var_os("CORPUS_SHOW").is_some() {
        println!("{}\n{}", label(case), out.describe());
    }
    let broken = rules_broken(case, &env, &out, &requests);
    if broken.is_empty() {
        return Ok(());
    }
    let sent: Vec<String> = requests.iter().map(|r| format!("  {}", short_line(r))).collect();
    Err(format!("{}\nbroke: {}\n{}--- requests:\n{}", label(case), broken.join("; "), out.describe(), sent.join("\n")))
}

/// A request as one line, its body cut (a 20 MB answer is not a request, but a PATCH body is).
fn short_line(r: &Recorded) -> String {
    let line = r.line();
    if line.len() > 300 {
        format!("{}…", &line[..line.char_indices().nth(300).map_or(line.len(), |(i, _)| i)])
    } else {
        line
    }
}

/// The rules of the module doc, each broken one said in words.
fn rules_broken(case: &Case, env: &Env, out: &Output, requests: &[Recorded]) -> Vec<String> {
    let mut broken = Vec::new();
    if out.timed_out {
        broken.push(format!("killed after {LIMIT:?}"));
    }
    if out.code != Some(case.code) {
        broken.push(format!("exit {:?}, the contract says {}", out.code, case.code));
    }
    if out.code == Some(101) || out.stderr.contains("panicked") || out.stderr.contains("RUST_BACKTRACE") {
        broken.push("panic".to_string());
    }
    let lines: Vec<&str> = out.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let errors: Vec<&str> = lines.iter().copied().filter(|l| l.starts_with("error: ")).collect();
    if case.code == 0 {
        if !errors.is_empty() {
            broken.push("an error line on success".to_string());
        }
    } else {
        if errors.len() != 1 {
            broken.push(format!("{} error lines, not one", errors.len()));
        }
        let others: Vec<&str> = lines
            .iter()
            .copied()
            .filter(|l| !["error: ", "note: ", "warning: ", "traffic: "].iter().any(|p| l.starts_with(p)))
            .filter(|l| !is_target_line(l))
            .collect();
        if !others.is_empty() {
            let shown: Vec<&str> = others.iter().copied().take(3).collect();
            broken.push(format!("{} stderr lines the contract does not list: {shown:?}…", others.len()));
        }
    }
    if case.code != 0 && !out.stdout.is_empty() {
        broken.push("a failure printed on stdout (data only, §5)".to_string());
    }
    let haystack = if case.code == 0 { out.stdout.clone() } else { errors.join("\n") };
    for word in case.words {
        let word = env.expand(word);
        if !word.split("||").any(|w| haystack.contains(w)) {
            let place = if case.code == 0 { "stdout" } else { "the error line" };
            broken.push(format!("{place} lacks {word:?}"));
        }
    }
    for word in case.never {
        let word = env.expand(word);
        if out.stdout.contains(&word) || out.stderr.contains(&word) {
            broken.push(format!("{word:?} printed"));
        }
    }
    for (stream, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        if let Some(c) = text.chars().find(|c| matches!(c, '\u{1b}' | '\u{7}' | '\u{9b}')) {
            broken.push(format!("a raw {c:?} on {stream}"));
        }
    }
    let writes: Vec<String> = requests
        .iter()
        .filter(|r| matches!(r.method.as_str(), "PATCH" | "POST" | "PUT" | "DELETE"))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    if !writes.is_empty() {
        broken.push(format!("wrote: {writes:?}"));
    }
    if matches!(case.answer, Answer::Nothing) && !requests.is_empty() {
        broken.push(format!("{} request(s) sent, none expected", requests.len()));
    }
    broken
}

/// The target line of a mutation, `NS/NAME @ CONTEXT` (§7), which stderr may carry before a
/// refusal, as it may carry the `traffic: …` line.
fn is_target_line(line: &str) -> bool {
    line.split_once(" @ ").is_some_and(|(object, context)| {
        object.split('/').count() == 2 && !object.contains(' ') && !context.is_empty() && !context.contains(' ')
    })
}

/// Scripts the stub with the case's answer (the rest answers 404).
fn script(stub: &Stub, answer: Answer) {
    let reply = match answer {
        Answer::Nothing => return,
        Answer::List(text) => {
            let list: Value = serde_json::from_str(text).expect("the List answer is JSON");
            stub.on(Route::get(isvc_list_path()), [Reply::ok(list)]);
            // "none here" explains itself with the namespace: it exists.
            stub.on(Route::get(format!("/api/v1/namespaces/{NS}")), [Reply::ok(json!({"metadata": {"name": NS}}))]);
            return;
        }
        Answer::Raw(status, content_type, body) => Reply::raw(status, content_type, body),
        Answer::Made(make) => Reply::raw(200, "application/json", make()),
        Answer::Object(base, edits) => {
            let mut object = match base {
                Base::Deployed => Isvc::deployed(),
                Base::Canary10 => Isvc::canary(10),
                Base::Starting10 => Isvc::canary_starting(10),
            }
            .json();
            for (pointer, text) in edits {
                let value: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"));
                set(&mut object, pointer, value);
            }
            Reply::ok(object)
        }
        Answer::Status(code, reason, message) => Reply::status(code, crate::objects::status(code, reason, message)),
    };
    stub.on(Route::get(isvc_path()), [reply]);
}

/// Sets `pointer` in `v`, creating objects on the way (an array index must exist).
fn set(v: &mut Value, pointer: &str, value: Value) {
    let mut at = v;
    let parts: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
    let (last, path) = parts.split_last().expect("a pointer");
    for p in path {
        at = match at {
            Value::Array(items) => &mut items[p.parse::<usize>().expect("an index")],
            other => {
                if !other.is_object() {
                    *other = json!({});
                }
                other.as_object_mut().expect("an object").entry(p.to_string()).or_insert_with(|| json!({}))
            }
        };
    }
    match at {
        Value::Array(items) => items[last.parse::<usize>().expect("an index")] = value,
        other => {
            if !other.is_object() {
                *other = json!({});
            }
            other.as_object_mut().expect("an object").insert(last.to_string(), value);
        }
    }
}

/// An InferenceService (deployed, no canaryTrafficPercent) with a 20 MB annotation.
fn huge_object() -> Vec<u8> {
    let mut object = Isvc::deployed().json();
    object["metadata"]["annotations"] = json!({"corpus/padding": "x".repeat(20 * 1024 * 1024)});
    serde_json::to_vec(&object).expect("serialize")
}

/// `[[[[…` 100 000 deep, never closed.
fn deeply_nested() -> Vec<u8> {
    vec![b'['; 100_000]
}

/// A loopback port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// An `https://` URL whose server speaks plain HTTP: whatever it receives (a TLS ClientHello),
/// it answers `400 Bad Request` and closes, so every handshake fails at once.
fn plain_http_server() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    let _ = conn.read(&mut buf);
                    let _ =
                        conn.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                });
            }
        });
        format!("https://{addr}")
    })
}

fn write_executable(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).expect("write file");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// A self-signed CA certificate (CN corpus-unrelated-ca, public part only) that signed nothing
/// any test server presents.
const UNRELATED_CA: &str = concat!(
    "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJrekNDQVRtZ0F3SUJBZ0lVWVVJVmhEQWpxSzRuSGdvZmZzREc5RjBWN0hF",
    "d0NnWUlLb1pJemowRUF3SXcKSGpFY01Cb0dBMVVFQXd3VFkyOXljSFZ6TFhWdWNtVnNZWFJsWkMxallUQWdGdzB5TmpFeE16QXhP",
    "VE0zTWpOYQpHQTh5TVRJMk1URXdOakU1TXpjeU0xb3dIakVjTUJvR0ExVUVBd3dUWTI5eWNIVnpMWFZ1Y21Wc1lYUmxaQzFqCllU",
    "QlpNQk1HQnlxR1NNNDlBZ0VHQ0NxR1NNNDlBd0VIQTBJQUJNaUJNWE9mMy9tZnpmUnF4MEZnNjd2K0NZVHoKTFFaMFVYc05FdDFk",
    "dVMrczR3amljVmpNaUFtTHp6Tkk2RVZZY3JFV1VIUGZCOEdtd3lkTWpyMUF5QWFqVXpCUgpNQjBHQTFVZERnUVdCQlRnTEJ3cE5o",
    "UXlmUktqenh4NG1zK0RGS0tvUkRBZkJnTlZIU01FR0RBV2dCVGdMQndwCk5oUXlmUktqenh4NG1zK0RGS0tvUkRBUEJnTlZIUk1C",
    "QWY4RUJUQURBUUgvTUFvR0NDcUdTTTQ5QkFNQ0EwZ0EKTUVVQ0lEY1RqVyt6S0JhVmp2TkpycWFVekNxS3pZd3pMdDY1clVDTzIz",
    "QWpBMTh5QWlFQTJncGpya3VVQU9ETQpqMWRrMVNjeG1aY0EyRnVXTFJxWFlJcjV4RitJeDY0PQotLS0tLUVORCBDRVJUSUZJQ0FU",
    "RS0tLS0tCg==",
);
