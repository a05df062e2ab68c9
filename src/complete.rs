//! Completion: one engine, the hidden `__complete` subcommand speaking Cobra's protocol
//! (candidates one per line, `value<TAB>description`, then `:<directive>`), which kubectl's plugin
//! completion (`kubectl_complete-isvc_canary`) and the shell scripts of `completion SHELL` all call.
//!
//! The engine walks the clap `Command` tree (subcommands, aliases, flags, possible values), so it
//! never carries a second list of them. Live names (InferenceServices, namespaces, and the
//! revisions `--expect-revision` takes) come from the cluster named on the line so far
//! (`--kubeconfig`, `--context`, `-n`), within one second in total, with exec credential plugins
//! forced non-interactive; contexts come from the kubeconfig alone. Any error offers nothing: stdout carries only candidates and the directive, and stderr
//! stays silent unless `ISVC_CANARY_COMPLETE_DEBUG` is set.
//!
//! The shell scripts take every word after `__complete --` as typed (the `--` keeps clap from
//! reading them as flags of `__complete` itself); the last word is the one being completed and may
//! be empty.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Arg, ArgAction, CommandFactory};

use crate::cli::{Cli, GlobalArgs, Shell};
use crate::error::Exit;
use crate::isvc::{Component, Isvc};

/// Cobra's directives (a bit set).
pub const DIRECTIVE_ERROR: u8 = 1;
pub const DIRECTIVE_NO_SPACE: u8 = 2;
pub const NO_FILE_COMP: u8 = 4;
/// Cobra's `ShellCompDirectiveDefault`: the shell may fall back to file names.
pub const DIRECTIVE_DEFAULT: u8 = 0;

/// The whole budget for live lookups.
pub const LIVE_BUDGET: Duration = Duration::from_secs(1);

/// Set (non-empty) to see on stderr why a completion offered nothing.
pub const DEBUG_ENV: &str = "ISVC_CANARY_COMPLETE_DEBUG";

/// The binary, as clap knows it.
pub const BIN: &str = "kubectl-isvc_canary";
/// The executable kubectl (>= 1.26) runs to complete `kubectl isvc-canary ...`.
pub const KUBECTL_HELPER: &str = "kubectl_complete-isvc_canary";

/// `wait --for` states, as `wait::Goal::parse` reads them (a unit test keeps the two in step).
pub const FOR_STATES: &[&str] = &["ready", "promoted", "rolled-back", "traffic="];
/// `tag-routing` states.
pub const TAG_ROUTING_STATES: &[&str] = &["on", "off"];

/// One candidate: what the shell inserts, and an optional description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub value: String,
    pub help: Option<String>,
}

impl Candidate {
    fn new(value: impl Into<String>, help: Option<String>) -> Self {
        Candidate { value: value.into(), help }
    }
}

/// Names that only the cluster (or the kubeconfig) knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Live {
    /// InferenceServices in the namespace (every namespace with `-A`).
    Isvcs,
    /// Namespaces.
    Namespaces,
    /// Contexts of the kubeconfig: no API call.
    Contexts,
    /// The revisions named in the status of the InferenceService on the line (`Target::name`),
    /// or of the only one in the namespace: for `--expect-revision`.
    Revisions,
}

/// Where live names come from: the connection flags typed on the line so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub namespace: Option<String>,
    pub all_namespaces: bool,
    /// The InferenceService named on the line, if any (for `Live::Revisions`).
    pub name: Option<String>,
    /// `--component` on the line (for `Live::Revisions`).
    pub component: Component,
}

/// What to answer, before any live lookup: pure, from the words and the clap tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Candidates known without the cluster (not yet filtered by `prefix`).
    pub candidates: Vec<Candidate>,
    /// A live lookup to add to them.
    pub live: Option<Live>,
    pub target: Target,
    /// What the candidates must start with (the word being completed, or its part after `=`).
    pub prefix: String,
    pub directive: u8,
}

impl Plan {
    fn new(prefix: &str) -> Plan {
        Plan {
            candidates: Vec::new(),
            live: None,
            target: Target::default(),
            prefix: prefix.to_string(),
            directive: NO_FILE_COMP,
        }
    }

    /// The final answer, with the live names found (if any): filtered, deduplicated, and with
    /// `NoSpace` added when every candidate left ends with `=` (it wants more text).
    pub fn answer(&self, live_names: Vec<Candidate>) -> (Vec<Candidate>, u8) {
        let mut out: Vec<Candidate> = Vec::new();
        let all = self.candidates.iter().cloned().chain(live_names);
        for c in all {
            if c.value.starts_with(&self.prefix) && !out.iter().any(|o| o.value == c.value) {
                out.push(c);
            }
        }
        let mut directive = self.directive;
        if !out.is_empty() && out.iter().all(|c| c.value.ends_with('=')) {
            directive |= DIRECTIVE_NO_SPACE;
        }
        (out, directive)
    }
}

/// The lines printed on stdout for an answer: candidates, then `:<directive>`.
pub fn render(candidates: &[Candidate], directive: u8) -> String {
    let mut out = String::new();
    for c in candidates {
        let value = clean(&c.value);
        if value.is_empty() {
            continue;
        }
        out.push_str(&value);
        if let Some(help) = c.help.as_deref().map(clean).filter(|h| !h.is_empty()) {
            out.push('\t');
            out.push_str(&help);
        }
        out.push('\n');
    }
    out.push_str(&format!(":{directive}\n"));
    out
}

/// One line, no tabs, no control characters (names can come from a kubeconfig or a cluster).
fn clean(s: &str) -> String {
    let first = s.lines().next().unwrap_or_default();
    first.chars().map(|c| if c.is_control() { ' ' } else { c }).collect::<String>().trim_end().to_string()
}

fn debug(message: impl std::fmt::Display) {
    if std::env::var_os(DEBUG_ENV).is_some_and(|v| !v.is_empty()) {
        eprintln!("isvc-canary completion: {message}");
    }
}

/// Answers one completion request on stdout. Never fails: on any error, offers nothing.
pub async fn run(global: &GlobalArgs, words: &[String]) -> Exit {
    let started = Instant::now();
    let mut plan = plan(words);
    // Flags given before `__complete` itself (nobody does, but they mean the same).
    if plan.target.kubeconfig.is_none() {
        plan.target.kubeconfig.clone_from(&global.kubeconfig);
    }
    if plan.target.context.is_none() {
        plan.target.context.clone_from(&global.context);
    }
    if plan.target.namespace.is_none() {
        plan.target.namespace.clone_from(&global.namespace);
    }
    let names = match plan.live {
        None => Vec::new(),
        Some(kind) => {
            let left = LIVE_BUDGET.saturating_sub(started.elapsed());
            match live_names(kind, &plan.target, left).await {
                Ok(names) => names,
                Err(e) => {
                    debug(format_args!("{e:#}"));
                    Vec::new()
                }
            }
        }
    };
    let (candidates, directive) = plan.answer(names);
    let mut stdout = std::io::stdout().lock();
    // A closed stdout is not worth an error message here.
    let _ = stdout.write_all(render(&candidates, directive).as_bytes());
    let _ = stdout.flush();
    Exit::Ok
}

/// The clap tree with global flags propagated to every subcommand.
pub fn command_tree() -> clap::Command {
    let mut cmd = Cli::command();
    cmd.build();
    cmd
}

/// Whether a flag reads its value from the next word (`--flag VALUE`), as clap would.
fn value_in_next_word(arg: &Arg) -> bool {
    arg.get_action().takes_values() && !arg.is_require_equals_set()
}

/// Whether a flag may be given again.
fn repeatable(arg: &Arg) -> bool {
    matches!(arg.get_action(), ArgAction::Append | ArgAction::Count)
}

fn help_of(arg: &Arg) -> Option<String> {
    arg.get_help().map(|h| h.to_string())
}

/// Decides what to offer for `words` (the words after the program name; the last is being
/// completed). Pure: walks the clap tree, reads nothing.
pub fn plan(words: &[String]) -> Plan {
    let tree = command_tree();
    let (current, done) = match words.split_last() {
        Some((last, rest)) => (last.as_str(), rest),
        None => ("", &[][..]),
    };

    let mut node = &tree;
    let mut target = Target::default();
    let mut seen: Vec<String> = Vec::new();
    let mut positionals: Vec<&str> = Vec::new();
    let mut pending: Option<&Arg> = None;
    let mut options_ended = false;

    let mut record = |arg: &Arg, value: Option<&str>, target: &mut Target| {
        let id = arg.get_id().as_str().to_string();
        match (id.as_str(), value) {
            ("kubeconfig", Some(v)) => target.kubeconfig = Some(PathBuf::from(v)),
            ("context", Some(v)) => target.context = Some(v.to_string()),
            ("namespace", Some(v)) => target.namespace = Some(v.to_string()),
            ("all_namespaces", _) => target.all_namespaces = true,
            ("component", Some(v)) => {
                target.component = <Component as clap::ValueEnum>::from_str(v, false).unwrap_or_default();
            }
            _ => {}
        }
        seen.push(id);
    };

    for word in done {
        if let Some(arg) = pending.take() {
            record(arg, Some(word), &mut target);
            continue;
        }
        if !options_ended && word == "--" {
            options_ended = true;
            continue;
        }
        if !options_ended && let Some((name, inline)) = crate::cli::long_flag(word) {
            if let Some(arg) = find_long(node, name) {
                if inline.is_none() && value_in_next_word(arg) {
                    pending = Some(arg);
                } else {
                    record(arg, inline, &mut target);
                }
            }
            continue;
        }
        if !options_ended && word.len() > 1 && word.starts_with('-') && !is_number(word) {
            // A cluster of short flags; the first one that takes a value eats the rest.
            let chars: Vec<char> = word[1..].chars().collect();
            for (i, c) in chars.iter().enumerate() {
                let Some(arg) = find_short(node, *c) else { break };
                if arg.get_action().takes_values() {
                    let rest: String = chars[i + 1..].iter().collect();
                    let rest = rest.strip_prefix('=').unwrap_or(&rest);
                    if rest.is_empty() && value_in_next_word(arg) {
                        pending = Some(arg);
                    } else {
                        record(arg, Some(rest), &mut target);
                    }
                    break;
                }
                record(arg, None, &mut target);
            }
            continue;
        }
        // A positional word: a subcommand while there is one to choose, else an argument.
        if positionals.is_empty()
            && node.has_subcommands()
            && let Some(sub) = find_subcommand(node, word)
        {
            node = sub;
            continue;
        }
        positionals.push(word);
    }

    target.name = name_on_line(node, &positionals);

    // The value of a flag typed as its own word.
    if let Some(arg) = pending {
        let mut p = Plan::new(current);
        p.target = target;
        flag_values(&mut p, arg);
        return p;
    }
    // `--flag=value` or `-n=value`: the candidates are the values (Cobra's convention; the
    // scripts put the `--flag=` back for the shells that need it).
    if !options_ended && current.starts_with('-') {
        if let Some((flag, value)) = current.split_once('=') {
            let arg = match flag.strip_prefix("--") {
                Some(long) => find_long(node, long),
                None => flag.strip_prefix('-').and_then(|s| s.chars().next()).and_then(|c| find_short(node, c)),
            };
            let mut p = Plan::new(value);
            p.target = target;
            if let Some(arg) = arg.filter(|a| a.get_action().takes_values()) {
                flag_values(&mut p, arg);
            }
            return p;
        }
        let mut p = Plan::new(current);
        p.target = target;
        p.candidates = flag_names(node, &seen);
        return p;
    }

    let mut p = Plan::new(current);
    p.target = target;
    if positionals.is_empty() && node.has_subcommands() {
        for sub in node.get_subcommands().filter(|s| !s.is_hide_set()) {
            let about = sub.get_about().map(|a| a.to_string());
            p.candidates.push(Candidate::new(sub.get_name(), about.clone()));
            for alias in sub.get_visible_aliases() {
                p.candidates.push(Candidate::new(alias, about.clone()));
            }
        }
        return p;
    }
    positional_values(&mut p, node, &positionals);
    p
}

fn is_number(word: &str) -> bool {
    word[1..].parse::<f64>().is_ok()
}

fn find_long<'a>(node: &'a clap::Command, name: &str) -> Option<&'a Arg> {
    node.get_arguments()
        .find(|a| a.get_long() == Some(name) || a.get_all_aliases().is_some_and(|aliases| aliases.contains(&name)))
}

fn find_short(node: &clap::Command, c: char) -> Option<&Arg> {
    node.get_arguments()
        .find(|a| a.get_short() == Some(c) || a.get_all_short_aliases().is_some_and(|aliases| aliases.contains(&c)))
}

fn find_subcommand<'a>(node: &'a clap::Command, word: &str) -> Option<&'a clap::Command> {
    node.get_subcommands().find(|s| s.get_name() == word || s.get_all_aliases().any(|a| a == word))
}

/// Every visible flag of a command, long and short forms, minus those already given once.
fn flag_names(node: &clap::Command, seen: &[String]) -> Vec<Candidate> {
    let mut out = Vec::new();
    for arg in node.get_arguments().filter(|a| !a.is_positional() && !a.is_hide_set()) {
        if seen.iter().any(|s| s == arg.get_id().as_str()) && !repeatable(arg) {
            continue;
        }
        let help = help_of(arg);
        if let Some(long) = arg.get_long() {
            out.push(Candidate::new(format!("--{long}"), help.clone()));
        }
        if let Some(short) = arg.get_short() {
            out.push(Candidate::new(format!("-{short}"), help.clone()));
        }
    }
    out
}

/// The values of a flag: its possible values, live names, or file names.
fn flag_values(p: &mut Plan, arg: &Arg) {
    p.directive = NO_FILE_COMP;
    match arg.get_id().as_str() {
        "namespace" => p.live = Some(Live::Namespaces),
        "context" => p.live = Some(Live::Contexts),
        "kubeconfig" | "input" => p.directive = DIRECTIVE_DEFAULT,
        "expect_revision" => p.live = Some(Live::Revisions),
        // After `traffic=` comes a number: nothing to offer.
        "for_state" if p.prefix.contains('=') => {}
        "for_state" => p.candidates = FOR_STATES.iter().map(|s| Candidate::new(*s, None)).collect(),
        _ => p.candidates = possible_values(arg),
    }
}

fn possible_values(arg: &Arg) -> Vec<Candidate> {
    arg.get_possible_values()
        .into_iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| Candidate::new(v.get_name(), v.get_help().map(|h| h.to_string())))
        .collect()
}

/// The InferenceService the positional words name: NAME when the command takes one and it was
/// typed (`set x 10`, `set x`, not `set 10`).
fn name_on_line(node: &clap::Command, given: &[&str]) -> Option<String> {
    let mut positionals = node.get_positionals().map(|a| a.get_id().as_str());
    if positionals.next() != Some("name") {
        return None;
    }
    let first = given.first()?;
    // `[NAME] X`: one word is NAME only when it cannot be X.
    let second_slot = positionals.next().is_some();
    let is_x = match node.get_name() {
        "set" => crate::rules::parse_percent(first).is_ok(),
        "tag-routing" => TAG_ROUTING_STATES.contains(first),
        _ => false,
    };
    (!second_slot || given.len() >= 2 || !is_x).then(|| first.to_string())
}

/// The revision names in an InferenceService's status, for one component: the four markers
/// (latest created, latest ready, latest rolled out, previous rolled out), then the revisions of
/// the traffic entries; each once, described by what it is.
pub fn revision_names(object: &serde_json::Value, c: Component) -> Vec<Candidate> {
    let s = Isvc::from_value(object.clone()).component_status(c);
    let mut found: Vec<(String, Vec<String>)> = Vec::new();
    let mut add = |name: Option<&str>, what: String| {
        let Some(name) = name.filter(|n| !n.is_empty()) else { return };
        match found.iter_mut().find(|(n, _)| n == name) {
            Some((_, whats)) => whats.push(what),
            None => found.push((name.to_string(), vec![what])),
        }
    };
    add(s.latest_created_revision.as_deref(), "latest created".into());
    add(s.latest_ready_revision.as_deref(), "latest ready".into());
    add(s.latest_rolledout_revision.as_deref(), "latest rolled out".into());
    add(s.previous_rolledout_revision.as_deref(), "previous rolled out".into());
    for t in &s.traffic {
        add(t.revision_name.as_deref(), format!("{}%", t.percent.unwrap_or(0)));
    }
    found.into_iter().map(|(name, whats)| Candidate::new(name, Some(whats.join(", ")))).collect()
}

/// The revisions in an answer: the object itself (a GET), or the only item of a list.
fn revisions_in_answer(answer: &serde_json::Value, c: Component) -> Vec<Candidate> {
    match answer.get("items").and_then(|i| i.as_array()) {
        None => revision_names(answer, c),
        Some(items) => {
            let more = answer.pointer("/metadata/continue").and_then(|v| v.as_str()).is_some_and(|v| !v.is_empty());
            match items.as_slice() {
                [only] if !more => revision_names(only, c),
                _ => Vec::new(),
            }
        }
    }
}

/// The values of the next positional argument of a subcommand.
fn positional_values(p: &mut Plan, node: &clap::Command, given: &[&str]) {
    // Which positional argument (and which of its values) the next word fills.
    let mut index = given.len();
    let mut slot: Option<(&Arg, usize)> = None;
    for arg in node.get_positionals() {
        let max = arg.get_num_args().map_or(1, |r| r.max_values());
        if index < max {
            slot = Some((arg, index));
            break;
        }
        index -= max;
    }
    let Some((arg, nth)) = slot else { return };
    let states = || TAG_ROUTING_STATES.iter().map(|s| Candidate::new(*s, None));
    // `set` and `tag-routing` take `[NAME] X`: the first word may already be X.
    match (node.get_name(), arg.get_id().as_str(), nth) {
        ("tag-routing", "name", 0) => {
            p.candidates.extend(states());
            p.live = Some(Live::Isvcs);
        }
        (_, "name", 0) => p.live = Some(Live::Isvcs),
        ("tag-routing", "state", 0) if !TAG_ROUTING_STATES.contains(&given[given.len() - 1]) => {
            p.candidates.extend(states());
        }
        ("tag-routing", "state", _) => {}
        _ => p.candidates = possible_values(arg),
    }
}

// ---------------------------------------------------------------------------------------------
// Live names.

/// Names for a live lookup, within `budget`. Runs on its own thread with its own runtime: an
/// exec credential plugin runs synchronously inside kube, and a hung one must not hold the answer
/// (the process exits once the answer is printed, whatever that thread is doing).
async fn live_names(kind: Live, target: &Target, budget: Duration) -> anyhow::Result<Vec<Candidate>> {
    if kind == Live::Contexts {
        let kubeconfig = crate::client::read_kubeconfig(target.kubeconfig.as_deref())?
            .ok_or_else(|| anyhow::anyhow!("no kubeconfig"))?;
        return Ok(kubeconfig.contexts.into_iter().map(|c| Candidate::new(c.name, None)).collect());
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    let target = target.clone();
    std::thread::Builder::new().name("complete-live".into()).spawn(move || {
        let result = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(anyhow::Error::from)
            .and_then(|rt| rt.block_on(fetch_names(kind, &target, budget)));
        let _ = tx.send(result);
    })?;
    match tokio::time::timeout(budget, rx).await {
        Ok(Ok(result)) => result,
        Ok(Err(_)) => Err(anyhow::anyhow!("the lookup thread ended without an answer")),
        Err(_) => Err(anyhow::anyhow!("no answer within {} ms", budget.as_millis())),
    }
}

/// One request: a metadata-only list, or for revisions the GET of the named InferenceService (a
/// list of at most two without a name: the only one's revisions, or none).
async fn fetch_names(kind: Live, target: &Target, budget: Duration) -> anyhow::Result<Vec<Candidate>> {
    use kube::config::{ExecInteractiveMode, KubeConfigOptions};
    let mut config = match crate::client::read_kubeconfig(target.kubeconfig.as_deref())? {
        Some(mut kubeconfig) => {
            // An exec credential plugin must never prompt while a shell waits for completions.
            for named in &mut kubeconfig.auth_infos {
                if let Some(exec) = named.auth_info.as_mut().and_then(|a| a.exec.as_mut()) {
                    exec.interactive_mode = Some(ExecInteractiveMode::Never);
                }
            }
            let options = KubeConfigOptions { context: target.context.clone(), ..Default::default() };
            kube::Config::from_custom_kubeconfig(kubeconfig, &options).await?
        }
        None => kube::Config::incluster()?,
    };
    config.connect_timeout = Some(budget);
    config.read_timeout = Some(budget);
    config.write_timeout = Some(budget);
    let namespace = target.namespace.clone().unwrap_or_else(|| config.default_namespace.clone());
    const METADATA: &str = "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json";
    let (uri, accept) = match kind {
        Live::Namespaces => ("/api/v1/namespaces".to_string(), METADATA),
        Live::Isvcs if target.all_namespaces => (crate::client::isvc_path(None, None), METADATA),
        Live::Isvcs => (crate::client::isvc_path(Some(&namespace), None), METADATA),
        Live::Revisions => match &target.name {
            Some(name) => (crate::client::isvc_path(Some(&namespace), Some(name)), "application/json"),
            None => (format!("{}?limit=2", crate::client::isvc_path(Some(&namespace), None)), "application/json"),
        },
        Live::Contexts => unreachable!("contexts need no API call"),
    };
    let client = kube::Client::try_from(config)?;
    let request = http::Request::builder()
        .uri(uri)
        .header(http::header::ACCEPT, accept)
        .header(http::header::USER_AGENT, crate::client::USER_AGENT)
        .body(Vec::new())?;
    let list: serde_json::Value = client.request(request).await?;
    if kind == Live::Revisions {
        return Ok(revisions_in_answer(&list, target.component));
    }
    let mut names: Vec<String> = list
        .get("items")
        .and_then(|i| i.as_array())
        .into_iter()
        .flatten()
        .filter_map(|item| item.pointer("/metadata/name").and_then(|n| n.as_str()).map(str::to_string))
        .collect();
    names.sort();
    names.dedup();
    Ok(names.into_iter().map(|n| Candidate::new(n, None)).collect())
}

// ---------------------------------------------------------------------------------------------
// Scripts. One source: these functions; `completions/` holds their output (tests/generated.rs).

/// The files of `completions/`: name, content, executable.
pub fn completion_files() -> Vec<(String, String, bool)> {
    vec![
        (KUBECTL_HELPER.to_string(), kubectl_helper(), true),
        (format!("{BIN}.bash"), script(Shell::Bash), false),
        (format!("_{BIN}"), script(Shell::Zsh), false),
        (format!("{BIN}.fish"), script(Shell::Fish), false),
        (format!("{BIN}.ps1"), script(Shell::Powershell), false),
    ]
}

/// `kubectl_complete-isvc_canary`: what kubectl runs to complete `kubectl isvc-canary ...`.
pub fn kubectl_helper() -> String {
    KUBECTL_HELPER_SH.replace("@BIN@", BIN).replace("@HELPER@", KUBECTL_HELPER)
}

/// The shell script for `completion SHELL`.
pub fn script(shell: Shell) -> String {
    let (template, func) = match shell {
        Shell::Bash => (BASH, "_kubectl_isvc_canary"),
        Shell::Zsh => (ZSH, "_kubectl_isvc_canary"),
        Shell::Fish => (FISH, "__kubectl_isvc_canary"),
        Shell::Powershell => (POWERSHELL, ""),
    };
    template.replace("@BIN@", BIN).replace("@FUNC@", func).replace("@DEBUG@", DEBUG_ENV)
}

const KUBECTL_HELPER_SH: &str = r#"#!/bin/sh
# @HELPER@: kubectl (1.26 and later) runs this to complete `kubectl isvc-canary ...`,
# with the words typed after the plugin name, the last one being completed.
# Put it on PATH next to @BIN@. Generated by `@BIN@` (tests/generated.rs); do not edit.
dir=$(dirname "$0")
if [ -x "$dir/@BIN@" ]; then
  exec "$dir/@BIN@" __complete -- "$@" </dev/null
fi
exec @BIN@ __complete -- "$@" </dev/null
"#;

const BASH: &str = r#"# bash completion for @BIN@ (and `kubectl isvc-canary` through kubectl_complete-isvc_canary).
# Load with: source <(@BIN@ completion bash)
# Every answer comes from `@BIN@ __complete`; set @DEBUG@=1 to see why one is empty.
# Generated by `@BIN@ completion bash`; do not edit.

@FUNC@() {
    local line=${COMP_LINE:0:COMP_POINT}
    local -a words
    read -r -a words <<< "$line"
    if [[ -z $line || $line == *[[:space:]] ]]; then
        words+=("")
    fi
    (( ${#words[@]} >= 2 )) || return 0
    local cur=${words[${#words[@]}-1]}
    local prog=${words[0]/#\~/$HOME}

    local out
    out=$("$prog" __complete -- "${words[@]:1}" 2>/dev/null </dev/null) || return 0
    local -a lines
    mapfile -t lines <<< "$out"
    local last=${lines[${#lines[@]}-1]}
    local directive=0
    if [[ $last =~ ^:([0-9]+)$ ]]; then
        directive=${BASH_REMATCH[1]}
        unset 'lines[${#lines[@]}-1]'
    fi
    (( directive & 1 )) && return 0

    # Candidates for `--flag=value` are values: put the `--flag=` back.
    local flag=""
    if [[ $cur == -*=* ]]; then
        flag=${cur%%=*}=
    fi
    # bash replaces only the part of the word after its last word break (`=` or `:`).
    local part=${COMP_WORDS[COMP_CWORD]}
    [[ $part == "=" || $part == ":" ]] && part=""
    [[ $line == *[[:space:]] ]] && part=""
    local strip=$(( ${#cur} - ${#part} ))

    COMPREPLY=()
    local l value
    for l in "${lines[@]}"; do
        [[ -z $l ]] && continue
        value=$flag${l%%$'\t'*}
        [[ $value == "$cur"* ]] || continue
        COMPREPLY+=("${value:strip}")
    done

    if type compopt >/dev/null 2>&1; then
        (( directive & 2 )) && compopt -o nospace 2>/dev/null
        if (( directive & 4 )); then
            compopt +o default 2>/dev/null
        elif (( ${#COMPREPLY[@]} == 0 )); then
            compopt -o default 2>/dev/null
        fi
    fi
    return 0
}

complete -o default -F @FUNC@ @BIN@
"#;

const ZSH: &str = r#"#compdef @BIN@
# zsh completion for @BIN@. Put this file (named _@BIN@) in a directory of $fpath,
# or load it with: source <(@BIN@ completion zsh)
# Every answer comes from `@BIN@ __complete`; set @DEBUG@=1 to see why one is empty.
# Generated by `@BIN@ completion zsh`; do not edit.

@FUNC@() {
    local cur=${words[CURRENT]}
    local -a args
    args=("${(@)words[2,CURRENT]}")
    local out
    out=$(${words[1]} __complete -- "${args[@]}" 2>/dev/null </dev/null) || return 1
    local -a lines
    lines=("${(@f)out}")
    local directive=0
    if [[ ${lines[-1]} == :<-> ]]; then
        directive=${lines[-1]#:}
        lines[-1]=()
    fi
    (( directive & 1 )) && return 1

    # Candidates for `--flag=value` are values: put the `--flag=` back.
    local flag=""
    if [[ $cur == -*=* ]]; then
        flag=${cur%%=*}=
    fi
    local -a comps
    local l value desc
    for l in "${lines[@]}"; do
        [[ -z $l ]] && continue
        value=${l%%$'\t'*}
        desc=""
        [[ $l == *$'\t'* ]] && desc=${l#*$'\t'}
        value=$flag$value
        if [[ -n $desc ]]; then
            comps+=("${value//:/\\:}:$desc")
        else
            comps+=("${value//:/\\:}")
        fi
    done

    if (( ${#comps} == 0 )); then
        (( directive & 4 )) && return 1
        _files
        return
    fi
    if (( directive & 2 )); then
        _describe -t values 'completions' comps -S ''
    else
        _describe -t values 'completions' comps
    fi
}

if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
    @FUNC@ "$@"
else
    compdef @FUNC@ @BIN@
fi
"#;

const FISH: &str = r#"# fish completion for @BIN@. Put this file in ~/.config/fish/completions/,
# or load it with: @BIN@ completion fish | source
# Every answer comes from `@BIN@ __complete`; set @DEBUG@=1 to see why one is empty.
# Generated by `@BIN@ completion fish`; do not edit.

function @FUNC@_prepare
    set --global @FUNC@_results
    set -l args (commandline -opc)
    set -l cur (commandline -ct)
    set -l out ($args[1] __complete -- $args[2..-1] "$cur" 2>/dev/null </dev/null)
    or return 0
    set -l directive 0
    if string match -qr '^:[0-9]+$' -- "$out[-1]"
        set directive (string sub -s 2 -- "$out[-1]")
        set -e out[-1]
    end
    if test (math "bitand($directive, 1)") -ne 0
        return 0
    end
    # Candidates for `--flag=value` are values: put the `--flag=` back.
    set -l flag (string match -r -- '^-[^=]*=' "$cur")
    for l in $out
        test -n "$l"; and set --global --append @FUNC@_results "$flag$l"
    end
    set -l n (count $@FUNC@_results)
    # No space after a lone candidate that wants more text: a second, longer one stops fish.
    if test $n -eq 1; and test (math "bitand($directive, 2)") -ne 0
        set -l only (string split -f1 \t -- $@FUNC@_results[1])
        set --global --append @FUNC@_results "$only."
    end
    # Nothing, and files allowed: fail, so fish offers file names.
    if test $n -eq 0; and test (math "bitand($directive, 4)") -eq 0
        return 1
    end
    return 0
end

complete -c @BIN@ -e
complete -c @BIN@ -n '@FUNC@_prepare' -f -a '$@FUNC@_results'
"#;

const POWERSHELL: &str = r#"# PowerShell completion for @BIN@. Load it with:
#   @BIN@ completion powershell | Out-String | Invoke-Expression
# Every answer comes from `@BIN@ __complete`; set @DEBUG@=1 to see why one is empty.
# Generated by `@BIN@ completion powershell`; do not edit.

Register-ArgumentCompleter -Native -CommandName '@BIN@', '@BIN@.exe' -ScriptBlock {
    param($WordToComplete, $CommandAst, $CursorPosition)
    $line = $CommandAst.Extent.Text
    $offset = $CursorPosition - $CommandAst.Extent.StartOffset
    if ($offset -lt $line.Length) { $line = $line.Substring(0, [Math]::Max($offset, 0)) }
    $words = @($line -split '\s+' | Where-Object { $_ -ne '' })
    if ($words.Count -eq 0) { return }
    $prog = $words[0]
    $rest = @($words | Select-Object -Skip 1)
    if ($line -match '\s$' -or $line.Length -eq 0) {
        # Before 7.3, PowerShell drops empty arguments to native commands: quote it.
        if ($PSVersionTable.PSVersion -lt [version]'7.3') { $rest += '""' } else { $rest += '' }
    }
    $cur = if ($line -match '\s$') { '' } else { $words[-1] }
    $out = @(& $prog __complete -- @rest 2>$null)
    if ($out.Count -eq 0) { return }
    $directive = 0
    if ($out[-1] -match '^:(\d+)$') {
        $directive = [int]$Matches[1]
        $out = @($out | Select-Object -SkipLast 1)
    }
    if ($directive -band 1) { return }
    $flag = ''
    if ($cur -match '^(-[^=]*=)') { $flag = $Matches[1] }
    $results = @()
    foreach ($l in $out) {
        if ($l -eq '') { continue }
        $parts = $l -split "`t", 2
        $value = $flag + $parts[0]
        $desc = if ($parts.Count -gt 1 -and $parts[1] -ne '') { $parts[1] } else { $parts[0] }
        if (-not $value.StartsWith($cur)) { continue }
        $text = if ($directive -band 2) { $value } else { "$value " }
        $results += [System.Management.Automation.CompletionResult]::new($text, $value, 'ParameterValue', $desc)
    }
    if ($results.Count -eq 0 -and ($directive -band 4)) {
        # Offer nothing rather than file names.
        return [System.Management.Automation.CompletionResult]::new(' ', ' ', 'ParameterValue', ' ')
    }
    $results
}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        let mut w: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        if line.is_empty() || line.ends_with(' ') {
            w.push(String::new());
        }
        w
    }

    fn values(line: &str) -> (Vec<String>, u8, Option<Live>) {
        let p = plan(&words(line));
        let (c, d) = p.answer(Vec::new());
        (c.into_iter().map(|c| c.value).collect(), d, p.live)
    }

    #[test]
    fn subcommands_and_the_alias_from_the_clap_tree() {
        let (v, d, live) = values("");
        for name in [
            "set",
            "canary",
            "promote",
            "rollback",
            "tag-routing",
            "status",
            "wait",
            "rollout",
            "pause",
            "resume",
            "abort",
            "history",
            "undo",
            "completion",
            "version",
        ] {
            assert!(v.contains(&name.to_string()), "{name} missing from {v:?}");
        }
        assert!(!v.iter().any(|c| c.starts_with("__")), "hidden subcommands offered: {v:?}");
        assert_eq!(d, NO_FILE_COMP);
        assert_eq!(live, None);
        assert_eq!(values("pr").0, vec!["promote"]);
        assert_eq!(values("p").0, vec!["promote", "pause"]);
        assert_eq!(values("ca").0, vec!["canary"]);
    }

    #[test]
    fn subcommands_carry_their_about() {
        let p = plan(&words("st"));
        let (c, _) = p.answer(Vec::new());
        assert_eq!(c.len(), 1);
        assert!(c[0].help.as_deref().unwrap_or_default().contains("traffic split"), "{c:?}");
        let text = render(&c, NO_FILE_COMP);
        assert!(text.starts_with("status\tShow the InferenceService table"), "{text}");
        assert!(text.ends_with("\n:4\n"), "{text}");
    }

    #[test]
    fn flags_long_and_short_global_included() {
        let (v, _, _) = values("status -");
        for f in [
            "--namespace",
            "-n",
            "--context",
            "--kubeconfig",
            "--all-namespaces",
            "-A",
            "--selector",
            "-l",
            "--watch",
            "--output",
            "-o",
            "--help",
        ] {
            assert!(v.contains(&f.to_string()), "{f} missing from {v:?}");
        }
        assert!(!v.contains(&"--model-uri".to_string()));
        let (v, _, _) = values("set 10 --mo");
        assert_eq!(v, vec!["--model-uri"]);
        let (v, _, _) = values("set --dry");
        assert_eq!(v, vec!["--dry-run"]);
        // Flags before the subcommand are the root's (global) ones.
        let (v, _, _) = values("--cont");
        assert_eq!(v, vec!["--context"]);
    }

    #[test]
    fn flags_already_given_are_not_offered_again() {
        let (v, _, _) = values("status -n ns --");
        assert!(!v.contains(&"--namespace".to_string()), "{v:?}");
        assert!(v.contains(&"--context".to_string()));
        let (v, _, _) = values("status -A -");
        assert!(!v.contains(&"-A".to_string()) && !v.contains(&"--all-namespaces".to_string()), "{v:?}");
    }

    #[test]
    fn flag_values_from_possible_values() {
        assert_eq!(values("promote --component ").0, vec!["predictor", "transformer", "explainer"]);
        assert_eq!(values("promote --component=t").0, vec!["transformer"]);
        assert_eq!(values("status -o ").0, vec!["json", "yaml", "wide"]);
        assert_eq!(values("set 10 -o ").0, vec!["json", "yaml", "name"]);
        assert_eq!(values("wait x --output=").0, vec!["json", "yaml", "name"]);
        assert_eq!(values("version -o ").0, vec!["json"]);
        // `-o` typed before the subcommand is still read, so the subcommand after it is found.
        assert_eq!(values("-o json st").0, vec!["status"]);
        assert_eq!(values("status -o=y").0, vec!["yaml"]);
        assert_eq!(values("status --output w").0, vec!["wide"]);
        assert_eq!(values("set 10 --dry-run=").0, vec!["client", "server"]);
        assert_eq!(values("completion ").0, vec!["bash", "zsh", "fish", "powershell"]);
        assert_eq!(values("completion f").0, vec!["fish"]);
        assert_eq!(values("completion bash ").0, Vec::<String>::new());
    }

    #[test]
    fn dry_run_does_not_eat_the_next_word() {
        // `--dry-run` takes its value only after `=`: the next word is a positional.
        let (v, _, live) = values("rollback --dry-run ");
        assert_eq!(live, Some(Live::Isvcs));
        assert!(v.is_empty());
    }

    #[test]
    fn wait_for_states() {
        assert_eq!(values("wait --for=").0, FOR_STATES);
        assert_eq!(values("wait --for ").0, FOR_STATES);
        let (v, d, _) = values("wait --for=t");
        assert_eq!(v, vec!["traffic="]);
        assert_eq!(d, NO_FILE_COMP | DIRECTIVE_NO_SPACE, "traffic= wants a number right after it");
        assert_eq!(values("wait --for=traffic=").0, Vec::<String>::new());
        for state in FOR_STATES.iter().filter(|s| !s.ends_with('=')) {
            assert!(crate::wait::Goal::parse(state).is_ok(), "{state} is not a --for state");
        }
        assert!(crate::wait::Goal::parse("traffic=10").is_ok());
    }

    #[test]
    fn tag_routing_states_and_names() {
        let (v, _, live) = values("tag-routing ");
        assert_eq!(v, vec!["on", "off"]);
        assert_eq!(live, Some(Live::Isvcs));
        let (v, _, live) = values("tag-routing sklearn ");
        assert_eq!(v, vec!["on", "off"]);
        assert_eq!(live, None);
        let (v, _, live) = values("tag-routing on ");
        assert!(v.is_empty());
        assert_eq!(live, None);
        assert_eq!(values("tag-routing x o").0, vec!["on", "off"]);
        assert_eq!(values("tag-routing x of").0, vec!["off"]);
    }

    #[test]
    fn live_names_where_a_name_goes() {
        for line in
            ["status ", "promote ", "rollback ", "wait ", "set ", "canary ", "wait --for=ready ", "status -n ns s"]
        {
            assert_eq!(values(line).2, Some(Live::Isvcs), "{line}");
        }
        for line in ["status x ", "promote x ", "set x ", "set x 10 ", "version "] {
            assert_eq!(values(line).2, None, "{line}");
        }
        assert_eq!(values("status -n ").2, Some(Live::Namespaces));
        assert_eq!(values("status --namespace=k").2, Some(Live::Namespaces));
        assert_eq!(values("--context ").2, Some(Live::Contexts));
        assert_eq!(values("status --context=").2, Some(Live::Contexts));
    }

    #[test]
    fn the_line_so_far_names_the_target() {
        let p = plan(&words("status --kubeconfig /k --context=c1 -n ns1 "));
        assert_eq!(
            p.target,
            Target {
                kubeconfig: Some("/k".into()),
                context: Some("c1".into()),
                namespace: Some("ns1".into()),
                all_namespaces: false,
                name: None,
                component: Component::Predictor,
            }
        );
        let p = plan(&words("-nns2 status -A "));
        assert_eq!(p.target.namespace.as_deref(), Some("ns2"));
        assert!(p.target.all_namespaces);
        let p = plan(&words("promote --namespace=ns3 "));
        assert_eq!(p.target.namespace.as_deref(), Some("ns3"));
    }

    #[test]
    fn file_flags_fall_back_to_files_and_free_text_offers_nothing() {
        let (v, d, _) = values("status --kubeconfig ");
        assert!(v.is_empty());
        assert_eq!(d, DIRECTIVE_DEFAULT);
        assert_eq!(values("tag-routing x on --input ").1, DIRECTIVE_DEFAULT);
        let (v, d, live) = values("set 10 --model-uri ");
        assert!(v.is_empty() && live.is_none());
        assert_eq!(d, NO_FILE_COMP);
    }

    #[test]
    fn live_names_are_filtered_and_deduplicated() {
        let p = plan(&words("status sk"));
        let names = ["sklearn-iris", "xgb", "sklearn-iris"].map(|n| Candidate::new(n, None));
        let (c, d) = p.answer(names.to_vec());
        assert_eq!(c, vec![Candidate::new("sklearn-iris", None)]);
        assert_eq!(d, NO_FILE_COMP);
    }

    #[test]
    fn expect_revision_completes_revisions_of_the_named_service() {
        for (line, name) in [
            ("set x 10 --expect-revision ", Some("x")),
            ("set x --expect-revision ", Some("x")),
            ("canary x 10 --expect-revision=", Some("x")),
            ("set 10 --expect-revision ", None),
            ("set --expect-revision ", None),
            ("promote sklearn-iris --expect-revision ", Some("sklearn-iris")),
            ("promote --expect-revision ", None),
            ("-n ns promote x --component transformer --expect-revision s", Some("x")),
        ] {
            let p = plan(&words(line));
            assert_eq!(p.live, Some(Live::Revisions), "{line}");
            assert_eq!(p.target.name.as_deref(), name, "{line}");
        }
        let p = plan(&words("promote x --component transformer --expect-revision "));
        assert_eq!(p.target.component, Component::Transformer);
        // Only set and promote take the flag.
        assert_ne!(plan(&words("rollback x --expect-revision ")).live, Some(Live::Revisions));
    }

    #[test]
    fn revision_names_come_from_the_markers_and_the_traffic() {
        let object = serde_json::json!({"metadata": {"name": "m"}, "status": {"components": {
            "predictor": {
                "latestCreatedRevision": "m-predictor-00003",
                "latestReadyRevision": "m-predictor-00003",
                "latestRolledoutRevision": "m-predictor-00002",
                "previousRolledoutRevision": "m-predictor-00001",
                "traffic": [
                    {"revisionName": "m-predictor-00003", "percent": 10, "latestRevision": true, "tag": "latest"},
                    {"revisionName": "m-predictor-00002", "percent": 90, "latestRevision": false, "tag": "prev"},
                    {"revisionName": "m-predictor-00000", "percent": 0}
                ]},
            "transformer": {"latestCreatedRevision": "m-transformer-00001", "latestReadyRevision": ""}}}});
        let got = revision_names(&object, Component::Predictor);
        let pairs: Vec<(&str, &str)> =
            got.iter().map(|c| (c.value.as_str(), c.help.as_deref().unwrap_or_default())).collect();
        assert_eq!(
            pairs,
            vec![
                ("m-predictor-00003", "latest created, latest ready, 10%"),
                ("m-predictor-00002", "latest rolled out, 90%"),
                ("m-predictor-00001", "previous rolled out"),
                ("m-predictor-00000", "0%"),
            ]
        );
        let t = revision_names(&object, Component::Transformer);
        assert_eq!(t, vec![Candidate::new("m-transformer-00001", Some("latest created".into()))]);
        assert!(revision_names(&object, Component::Explainer).is_empty());
        assert!(revision_names(&serde_json::json!({"metadata": {"name": "new"}}), Component::Predictor).is_empty());

        // A list: the only item's revisions; two items, or more to come, offer nothing.
        let list = |items: Vec<serde_json::Value>, more: &str| serde_json::json!({"kind": "InferenceServiceList", "metadata": {"continue": more}, "items": items});
        assert_eq!(revisions_in_answer(&list(vec![object.clone()], ""), Component::Predictor).len(), 4);
        assert!(revisions_in_answer(&list(vec![object.clone(), object.clone()], ""), Component::Predictor).is_empty());
        assert!(revisions_in_answer(&list(vec![object.clone()], "abc"), Component::Predictor).is_empty());
        assert!(revisions_in_answer(&list(vec![], ""), Component::Predictor).is_empty());
        assert_eq!(revisions_in_answer(&object, Component::Predictor), got);
    }

    #[test]
    fn rendering_keeps_one_line_per_candidate() {
        let c = vec![Candidate::new("a\nb", Some("x\ty".into())), Candidate::new("", None)];
        assert_eq!(render(&c, 4), "a\tx y\n:4\n");
        assert_eq!(render(&[], 0), ":0\n");
    }

    #[test]
    fn no_words_at_all_is_the_empty_word() {
        let p = plan(&[]);
        assert!(p.answer(Vec::new()).0.iter().any(|c| c.value == "status"));
    }

    #[test]
    fn scripts_delegate_to_the_engine() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish, Shell::Powershell] {
            let s = script(shell);
            assert!(s.contains("__complete --"), "{shell:?}");
            assert!(!s.contains("@BIN@") && !s.contains("@FUNC@") && !s.contains("@DEBUG@"), "{shell:?}");
            assert!(s.contains(BIN));
        }
        let helper = kubectl_helper();
        assert!(helper.starts_with("#!/bin/sh\n"));
        assert!(helper.contains("__complete -- \"$@\" </dev/null"));
    }
}
