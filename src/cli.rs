//! The command line, as clap sees it. Clap parses what it can (durations, enums, `-o` per
//! command); `guess` names the likely mistakes before clap sees the words; the rest is validated
//! by each command before any API call (the `--wait` limits are shared, here).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::duration::parse_duration;
use crate::error::{Exit, Fail};
pub use crate::isvc::Component;

pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0    done, or nothing to do (already in the asked state)
  1    unexpected failure; API server unreachable; request timeout during a write
  2    usage error or invalid input (flags, PERCENT, kubeconfig, context)
  3    a wait timed out
  4    the rollout failed (a revision cannot become ready, or ReconcileFailed)
  5    unauthorized, or forbidden by RBAC
  6    not found (InferenceService, namespace, or KServe not installed)
  7    refused (guard rail, admission webhook, validation, persisting conflict)
  130  interrupted, or a prompt declined

Environment:
  KUBECONFIG   kubeconfig path(s), merged as kubectl merges them
  NO_COLOR     disables colour (so does TERM=dumb)";

/// What every usage line starts with: kubectl runs the plugin as `kubectl isvc-canary`, and the
/// plugin cannot tell whether it did, so help always names it that way.
pub const USAGE_PREFIX: &str = "kubectl isvc-canary";

/// The heading of kubectl's own flags in every `--help`, after the command's own flags.
pub const GLOBAL_FLAGS: &str = "Global flags";

/// Canary rollouts of KServe InferenceServices.
#[derive(Debug, Parser)]
#[command(
    name = "kubectl-isvc_canary",
    bin_name = USAGE_PREFIX,
    override_usage = "kubectl isvc-canary COMMAND [flags]",
    version,
    about = "Canary rollouts of KServe InferenceServices",
    long_about = "Canary rollouts of KServe InferenceServices (Knative mode): send a percentage of \
traffic to the latest revision, promote it, roll back, route by tag, and see the split with the \
pods of each revision. Run as `kubectl isvc-canary ...` or directly.",
    after_help = EXIT_CODES_HELP,
    propagate_version = true,
    disable_help_subcommand = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    /// None: a bare `kubectl isvc-canary` prints the help on stdout and exits 0, as kubectl does.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// kubectl's own flags: kubectl passes none of them to a plugin, so the plugin takes them, on
/// every subcommand, listed under "Global flags" after the command's own.
#[derive(Debug, Clone, Args, Default)]
pub struct GlobalArgs {
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)
    #[arg(long, global = true, value_name = "PATH", help_heading = GLOBAL_FLAGS)]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use
    #[arg(long, global = true, value_name = "NAME", help_heading = GLOBAL_FLAGS)]
    pub context: Option<String>,
    /// Namespace (default: the context's namespace, else "default")
    #[arg(short = 'n', long, global = true, value_name = "NS", help_heading = GLOBAL_FLAGS)]
    pub namespace: Option<String>,
    /// Time to wait for one API request, kubectl's syntax (0, 30s, 1m); 0 means no limit
    #[arg(long, global = true, value_name = "DURATION", default_value = "0", value_parser = parse_duration, help_heading = GLOBAL_FLAGS)]
    pub request_timeout: Duration,
    /// `-o` typed before the subcommand (`kubectl isvc-canary -o json status`): still read, for
    /// the scripts that write it there, but not shown; each command declares its own `-o` with
    /// only the formats it prints, and the dispatcher checks this one against the same list.
    #[arg(short = 'o', long = "output", value_enum, value_name = "FORMAT", hide = true)]
    pub output_before_command: Option<OutputFormat>,
    /// Print tables without their header line
    #[arg(long, global = true, help_heading = GLOBAL_FLAGS)]
    pub no_headers: bool,
    /// Log level, as kubectl: 6 and above log every API request on stderr
    #[arg(short = 'v', long = "v", global = true, value_name = "LEVEL", default_value_t = 0, help_heading = GLOBAL_FLAGS)]
    pub verbosity: u8,
    /// Answer yes to every prompt
    #[arg(short = 'y', long, global = true, help_heading = GLOBAL_FLAGS)]
    pub yes: bool,
    /// Disable colour (also NO_COLOR, TERM=dumb)
    #[arg(long, global = true, help_heading = GLOBAL_FLAGS)]
    pub no_color: bool,
}

/// Every `-o` format, as the rest of the code reads it (`Ctx::output`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Json,
    Yaml,
    Name,
    Wide,
}

impl OutputFormat {
    pub fn name(self) -> &'static str {
        match self {
            OutputFormat::Json => "json",
            OutputFormat::Yaml => "yaml",
            OutputFormat::Name => "name",
            OutputFormat::Wide => "wide",
        }
    }
}

/// `-o` of the commands that print an object: the mutations and `wait`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ObjectFormat {
    Json,
    Yaml,
    Name,
}

/// `-o` of `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusFormat {
    Json,
    Yaml,
    Wide,
}

/// `-o` of `version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VersionFormat {
    Json,
}

impl From<ObjectFormat> for OutputFormat {
    fn from(f: ObjectFormat) -> Self {
        match f {
            ObjectFormat::Json => OutputFormat::Json,
            ObjectFormat::Yaml => OutputFormat::Yaml,
            ObjectFormat::Name => OutputFormat::Name,
        }
    }
}

impl From<StatusFormat> for OutputFormat {
    fn from(f: StatusFormat) -> Self {
        match f {
            StatusFormat::Json => OutputFormat::Json,
            StatusFormat::Yaml => OutputFormat::Yaml,
            StatusFormat::Wide => OutputFormat::Wide,
        }
    }
}

impl From<VersionFormat> for OutputFormat {
    fn from(f: VersionFormat) -> Self {
        match f {
            VersionFormat::Json => OutputFormat::Json,
        }
    }
}

/// The formats of each kind of command, for `-o` typed before the subcommand.
pub fn formats<F: ValueEnum + Into<OutputFormat> + Copy>() -> Vec<OutputFormat> {
    F::value_variants().iter().map(|f| (*f).into()).collect()
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Send PERCENT of traffic to the latest revision, optionally with a new model
    #[command(
        visible_alias = "canary",
        override_usage = "kubectl isvc-canary set [NAME] PERCENT [flags]",
        // `set 10`: the one word is PERCENT; `set NAME 10`: NAME, then PERCENT.
        allow_missing_positional = true,
        after_help = "Examples:
  kubectl isvc-canary set 10 --model-uri gs://bucket/model-2 -n kserve-test
  kubectl isvc-canary set sklearn-iris 50
  kubectl isvc-canary set 10 --model-uri s3://m/v3 --wait --timeout 10m --yes"
    )]
    Set(SetArgs),
    /// Send 100% to the latest revision (removes canaryTrafficPercent)
    #[command(
        override_usage = "kubectl isvc-canary promote [NAME] [flags]",
        after_help = "Examples:
  kubectl isvc-canary promote -n kserve-test
  kubectl isvc-canary promote sklearn-iris --expect-revision 2 --wait"
    )]
    Promote(PromoteArgs),
    /// Pin traffic to the previous model (canaryTrafficPercent: 0)
    #[command(
        override_usage = "kubectl isvc-canary rollback [NAME] [flags]",
        after_help = "Examples:
  kubectl isvc-canary rollback -n kserve-test
  kubectl isvc-canary rollback sklearn-iris --dry-run=server"
    )]
    Rollback(RollbackArgs),
    /// Turn tag routing on or off and print the latest-/prev- URLs
    #[command(
        override_usage = "kubectl isvc-canary tag-routing [NAME] on|off [flags]",
        // `tag-routing on`: the one word is on|off; `tag-routing NAME on`: NAME, then on|off.
        allow_missing_positional = true,
        after_help = "Examples:
  kubectl isvc-canary tag-routing on -n kserve-test
  kubectl isvc-canary tag-routing sklearn-iris on --input ./iris-input.json"
    )]
    TagRouting(TagRoutingArgs),
    /// Show the InferenceService table, the traffic split and the pods of each revision
    #[command(
        override_usage = "kubectl isvc-canary status [NAME] [flags]",
        after_help = "Examples:
  kubectl isvc-canary status -n kserve-test
  kubectl isvc-canary status sklearn-iris -o json
  kubectl isvc-canary status -A"
    )]
    Status(StatusArgs),
    /// Wait until a state holds: ready, promoted, rolled-back or traffic=N
    #[command(
        override_usage = "kubectl isvc-canary wait [NAME] --for=STATE [flags]",
        after_help = "Examples:
  kubectl isvc-canary wait sklearn-iris --for=ready --timeout 5m
  kubectl isvc-canary wait --for=traffic=10"
    )]
    Wait(WaitArgs),
    /// Take a new model from a first canary step to 100%, checking gates at each step
    #[command(
        override_usage = "kubectl isvc-canary rollout [NAME] --model-uri URI [--steps LIST | --plan FILE] [flags]",
        after_help = ROLLOUT_HELP
    )]
    Rollout(Box<RolloutArgs>),
    /// Hold a running rollout at its current step (until `resume`)
    #[command(
        override_usage = "kubectl isvc-canary pause [NAME] [flags]",
        after_help = "Examples:
  kubectl isvc-canary pause sklearn-iris
  kubectl isvc-canary pause -n kserve-test --timeout 2m"
    )]
    Pause(ControlArgs),
    /// Let a paused rollout go on (or end a manual `pause` step)
    #[command(
        override_usage = "kubectl isvc-canary resume [NAME] [flags]",
        after_help = "Examples:
  kubectl isvc-canary resume sklearn-iris"
    )]
    Resume(ControlArgs),
    /// Stop a rollout: roll back and record it as aborted
    #[command(
        override_usage = "kubectl isvc-canary abort [NAME] [flags]",
        after_help = "Examples:
  kubectl isvc-canary abort sklearn-iris
  kubectl isvc-canary abort sklearn-iris --timeout 10m"
    )]
    Abort(ControlArgs),
    /// List the revisions (newest first) with their model and traffic, and the rollouts recorded
    #[command(
        override_usage = "kubectl isvc-canary history [NAME] [flags]",
        after_help = "Examples:
  kubectl isvc-canary history sklearn-iris
  kubectl isvc-canary history -n kserve-test -o json"
    )]
    History(HistoryArgs),
    /// Roll forward to the model of an earlier revision, as a new canary or promoted at once
    #[command(
        override_usage = "kubectl isvc-canary undo [NAME] --to-revision N [flags]",
        after_help = "Examples:
  kubectl isvc-canary undo sklearn-iris --to-revision 1
  kubectl isvc-canary undo sklearn-iris --to-revision 1 --promote --wait"
    )]
    Undo(UndoArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell)
    #[command(override_usage = "kubectl isvc-canary completion bash|zsh|fish|powershell [flags]")]
    Completion(CompletionArgs),
    /// Print the version
    #[command(override_usage = "kubectl isvc-canary version [flags]")]
    Version(VersionArgs),
    /// Cobra-style completion protocol, used by kubectl_complete-isvc_canary
    #[command(name = "__complete", hide = true)]
    Complete(CompleteArgs),
}

/// Flags shared by every command that writes.
#[derive(Debug, Clone, Args, Default)]
pub struct WriteArgs {
    /// Show the before/after traffic and the patch without changing anything: client or server
    #[arg(long, value_name = "MODE", num_args = 0..=1, default_missing_value = "client", require_equals = true)]
    pub dry_run: Option<DryRun>,
    /// Print the patch on stdout instead of applying it
    #[arg(long)]
    pub print_patch: bool,
    /// Wait until traffic is where it was asked to be
    #[arg(long)]
    pub wait: bool,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Output format (default: the result line)
    #[arg(short = 'o', long, value_enum, value_name = "FORMAT")]
    pub output: Option<ObjectFormat>,
}

/// A long flag as typed: `--name=value` or `--name` → the name and the inline value; `None` for
/// anything else (`--` alone, short flags, words).
pub fn long_flag(word: &str) -> Option<(&str, Option<&str>)> {
    let body = word.strip_prefix("--").filter(|b| !b.is_empty())?;
    Some(match body.split_once('=') {
        Some((name, value)) => (name, Some(value)),
        None => (body, None),
    })
}

/// How long a wait may take, and how long a failure must hold before it counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitLimits {
    pub timeout: Duration,
    pub fail_window: Duration,
}

impl WaitLimits {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15 * 60);
    pub const DEFAULT_FAIL_WINDOW: Duration = Duration::from_secs(10);

    /// `--timeout` and `--fail-window` as given, the contract's defaults where not.
    pub fn new(timeout: Option<Duration>, fail_window: Option<Duration>) -> WaitLimits {
        WaitLimits {
            timeout: timeout.unwrap_or(Self::DEFAULT_TIMEOUT),
            fail_window: fail_window.unwrap_or(Self::DEFAULT_FAIL_WINDOW),
        }
    }
}

/// How long a wait may take: `--timeout` and `--fail-window` (mutations: only with `--wait`).
#[derive(Debug, Clone, Args, Default)]
pub struct LimitArgs {
    /// Give up waiting after this long (default 15m; mutations: with --wait)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// How long a failure signal must hold before the wait fails (default 10s)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub fail_window: Option<Duration>,
}

impl LimitArgs {
    /// The limits as given, the contract's defaults where not.
    pub fn limits(&self) -> WaitLimits {
        WaitLimits::new(self.timeout, self.fail_window)
    }
}

impl WriteArgs {
    /// The limits of `--wait`, or `None` without it. Checked once, before any request:
    /// `--timeout` or `--fail-window` without `--wait` is a usage error.
    pub fn wait_limits(&self) -> Result<Option<WaitLimits>, Fail> {
        if !self.wait {
            if self.limits.timeout.is_some() || self.limits.fail_window.is_some() {
                return Err(Fail::new(Exit::Usage, "--timeout and --fail-window only apply with --wait"));
            }
            return Ok(None);
        }
        Ok(Some(self.limits.limits()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DryRun {
    Client,
    Server,
}

#[derive(Debug, Clone, Args)]
pub struct SetArgs {
    /// The InferenceService (default: the only one in the namespace)
    #[arg(value_name = "NAME", allow_negative_numbers = true)]
    pub name: Option<String>,
    /// The percent of traffic for the latest revision: an integer from 0 to 100
    #[arg(value_name = "PERCENT", allow_negative_numbers = true)]
    pub percent: String,
    /// New model URI (scheme://...): cuts a new revision that gets PERCENT
    #[arg(long, value_name = "URI")]
    pub model_uri: Option<String>,
    /// The component to change
    #[arg(long, value_enum, default_value_t)]
    pub component: Component,
    /// Allow a split between the current and the previous rollout (no model change)
    #[arg(long)]
    pub split_with_previous: bool,
    /// Allow replacing a canary of another model that is in progress
    #[arg(long)]
    pub replace: bool,
    /// Standard mode: the spec.canary entry (predictor.name) to act on
    #[arg(long, value_name = "NAME")]
    pub canary_name: Option<String>,
    /// Write only if the latest revision is this one (a name, or a number: 2 = ...-00002)
    #[arg(long, value_name = "REV")]
    pub expect_revision: Option<String>,
    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Clone, Args)]
pub struct PromoteArgs {
    /// The InferenceService (default: the only one in the namespace)
    pub name: Option<String>,
    /// The component to promote
    #[arg(long, value_enum, default_value_t)]
    pub component: Component,
    /// Promote even when the latest created revision is not ready
    #[arg(long)]
    pub force: bool,
    /// Standard mode: the spec.canary entry (predictor.name) to act on
    #[arg(long, value_name = "NAME")]
    pub canary_name: Option<String>,
    /// Write only if the latest revision is this one (a name, or a number: 2 = ...-00002)
    #[arg(long, value_name = "REV")]
    pub expect_revision: Option<String>,
    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Clone, Args)]
pub struct RollbackArgs {
    /// The InferenceService (default: the only one in the namespace)
    pub name: Option<String>,
    /// The component to roll back
    #[arg(long, value_enum, default_value_t)]
    pub component: Component,
    /// Standard mode: the spec.canary entry (predictor.name) to act on
    #[arg(long, value_name = "NAME")]
    pub canary_name: Option<String>,
    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Clone, Args)]
pub struct TagRoutingArgs {
    /// The InferenceService (default: the only one in the namespace)
    #[arg(value_name = "NAME")]
    pub name: Option<String>,
    /// on or off
    #[arg(value_name = "on|off")]
    pub state: String,
    /// Request body file for the printed curl commands (-d @FILE)
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// The InferenceService (default: every one in the namespace)
    pub name: Option<String>,
    /// Every namespace
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// Label selector, as kubectl (-l app=x)
    #[arg(short = 'l', long, value_name = "SELECTOR")]
    pub selector: Option<String>,
    /// Keep watching and show each change
    #[arg(short = 'w', long)]
    pub watch: bool,
    /// Output format (default: the table, and the details with NAME)
    #[arg(short = 'o', long, value_enum, value_name = "FORMAT")]
    pub output: Option<StatusFormat>,
}

#[derive(Debug, Clone, Args)]
pub struct WaitArgs {
    /// The InferenceService (default: the only one in the namespace)
    pub name: Option<String>,
    /// The state to wait for: ready, promoted, rolled-back, traffic=N
    #[arg(long = "for", value_name = "STATE", required = true)]
    pub for_state: String,
    /// The component to judge
    #[arg(long, value_enum, default_value_t)]
    pub component: Component,
    /// Standard mode: the spec.canary entry (predictor.name) to act on
    #[arg(long, value_name = "NAME")]
    pub canary_name: Option<String>,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Output format (default: the result line)
    #[arg(short = 'o', long, value_enum, value_name = "FORMAT")]
    pub output: Option<ObjectFormat>,
}

pub const ROLLOUT_HELP: &str = "\
Examples:
  kubectl isvc-canary rollout sklearn-iris --model-uri gs://b/model-2 --steps 10,50,100 --pause 5m --smoke
  kubectl isvc-canary rollout sklearn-iris --model-uri gs://b/model-2 --steps 10,pause,100 --exec ./check.sh
  kubectl isvc-canary rollout sklearn-iris --model-uri gs://b/model-2 --plan plan.yaml -o json
  kubectl isvc-canary rollout sklearn-iris --resume

Exit codes of a rollout:
  0    promoted
  3    a step's wait, or a gate that stayed inconclusive, ran past --timeout (the step stays applied)
  4    rolled back: a gate failed --failure-limit times, the new revision failed, or it was aborted
  7    refused: another rollout holds the lease, nothing to resume, a guard rail
  130  interrupted (the step stays applied; continue with --resume)";

/// `-o` of commands that print one JSON object per event or record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum JsonFormat {
    Json,
}

impl From<JsonFormat> for OutputFormat {
    fn from(f: JsonFormat) -> Self {
        match f {
            JsonFormat::Json => OutputFormat::Json,
        }
    }
}

/// The protocol of a smoke request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Protocol {
    V1,
    V2,
}

#[derive(Debug, Clone, Args)]
pub struct RolloutArgs {
    /// The InferenceService (default: the only one in the namespace)
    pub name: Option<String>,
    /// The new model (scheme://...): step 1 sends it its first share
    #[arg(long, value_name = "URI")]
    pub model_uri: Option<String>,
    /// The steps: percents that grow to 100, and `pause` for a manual hold (default 10,50,100)
    #[arg(long, value_name = "LIST", conflicts_with = "plan")]
    pub steps: Option<String>,
    /// The plan as YAML: steps (with their own pause), gates, failureLimit, interval
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    /// Standard mode: the spec.canary entry's name (default: from the model, as `set` names it)
    #[arg(long, value_name = "NAME", conflicts_with = "resume")]
    pub canary_name: Option<String>,
    /// How long to hold each step with its gates running (default 0: the gates run once)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub pause: Option<Duration>,
    /// A smoke gate: a request through the canary's own tag URL (tag routing switched on if off)
    #[arg(long)]
    pub smoke: bool,
    /// The smoke request's body (a POST to predict/infer; default: a GET of the model's readiness)
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// The HTTP status the smoke request must get (default 200)
    #[arg(long, value_name = "CODE")]
    pub expect_status: Option<u16>,
    /// Text the smoke answer's body must contain
    #[arg(long, value_name = "TEXT")]
    pub expect_body: Option<String>,
    /// The smoke request's protocol (default: the InferenceService's)
    #[arg(long, value_enum)]
    pub protocol: Option<Protocol>,
    /// An exec gate: a shell command whose exit code decides (repeatable); it gets
    /// ISVC_CANARY_URL, ISVC_CANARY_REVISION, ISVC_CANARY_STEP and ISVC_CANARY_PERCENT
    #[arg(long = "exec", value_name = "COMMAND")]
    pub exec: Vec<String>,
    /// Failures of one gate within one step that roll back (default 1)
    #[arg(long, value_name = "N")]
    pub failure_limit: Option<u32>,
    /// How often the gates run during a hold (default 10s)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub gate_interval: Option<Duration>,
    /// A gate that takes longer is inconclusive
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "30s")]
    pub gate_timeout: Duration,
    /// Where the smoke request connects, keeping the tag URL's host in its Host header (as curl
    /// --resolve); default: $INGRESS_HOST:$INGRESS_PORT when both are set, else the URL's host
    #[arg(long, value_name = "HOST:PORT")]
    pub ingress: Option<String>,
    /// A metric gate: a preset (success-rate, error-rate, latency-p50, latency-p95, latency-p99) and
    /// a threshold, absolute ('success-rate >= 0.99') or against stable ('latency-p99 <= 1.2 x
    /// stable'); repeatable
    #[arg(long = "metric", value_name = "PRESET THRESHOLD")]
    pub metric: Vec<String>,
    /// Prometheus's URL (http), for metric gates
    #[arg(long, value_name = "URL", conflicts_with = "prometheus_service")]
    pub prometheus: Option<String>,
    /// Prometheus as a Service, reached through the API server's service proxy with the
    /// kubeconfig's credentials (no port-forward)
    #[arg(long, value_name = "NS/NAME:PORT")]
    pub prometheus_service: Option<String>,
    /// The window of metric gates' queries (default 1m)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub metric_window: Option<Duration>,
    /// Fewer requests than this in the window makes a metric gate inconclusive (default 10)
    #[arg(long, value_name = "N")]
    pub min_requests: Option<u64>,
    /// Inconclusive results of a metric gate in one step before --on-inconclusive applies
    /// (default: none, the step holds up to --timeout)
    #[arg(long, value_name = "N")]
    pub inconclusive_limit: Option<u32>,
    /// What a metric gate at its inconclusive limit does: hold (up to --timeout, exit 3) or fail
    /// (roll back, exit 4)
    #[arg(long, value_enum, value_name = "ACTION")]
    pub on_inconclusive: Option<OnInconclusive>,
    /// How the presets find a revision's series: target-info (a join on target_info, any scrape
    /// of queue-proxy) or labels (namespace and revision relabelled from the pod's labels)
    #[arg(long, value_enum, value_name = "SCRAPE")]
    pub metric_scrape: Option<Scrape>,
    /// Continue the rollout recorded in the lease from its step (after a killed job)
    #[arg(long, conflicts_with_all = ["model_uri", "steps", "plan"])]
    pub resume: bool,
    /// How long the lease stays held without renewal (a killed rollout can be resumed after it)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "30s")]
    pub lease_duration: Duration,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Output format (default: one line per event; json: one object per event)
    #[arg(short = 'o', long, value_enum, value_name = "FORMAT")]
    pub output: Option<JsonFormat>,
}

#[derive(Debug, Clone, Args)]
pub struct ControlArgs {
    /// The InferenceService (default: the only one in the namespace)
    pub name: Option<String>,
    /// Give up waiting for the rollout to act on it after this long (default 1m; abort: 15m)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
}

#[derive(Debug, Clone, Args)]
pub struct HistoryArgs {
    /// The InferenceService (default: the only one in the namespace)
    pub name: Option<String>,
    /// Output format (default: the tables)
    #[arg(short = 'o', long, value_enum, value_name = "FORMAT")]
    pub output: Option<JsonFormat>,
}

#[derive(Debug, Clone, Args)]
pub struct UndoArgs {
    /// The InferenceService (default: the only one in the namespace)
    pub name: Option<String>,
    /// The revision whose model comes back (a number: 1 = ...-00001, or a name)
    #[arg(long, value_name = "N", required = true)]
    pub to_revision: String,
    /// Send it 100% at once instead of a canary share
    #[arg(long)]
    pub promote: bool,
    /// The canary's share without --promote
    #[arg(long, value_name = "PERCENT", default_value = "10", conflicts_with = "promote")]
    pub percent: String,
    #[command(flatten)]
    pub write: WriteArgs,
}

#[derive(Debug, Clone, Args)]
pub struct VersionArgs {
    /// Output format (default: the version line)
    #[arg(short = 'o', long, value_enum, value_name = "FORMAT")]
    pub output: Option<VersionFormat>,
}

#[derive(Debug, Clone, Args)]
pub struct CompletionArgs {
    /// The shell
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Powershell,
}

#[derive(Debug, Clone, Args)]
pub struct CompleteArgs {
    /// The words typed so far, the last one being completed (may be empty)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub words: Vec<String>,
}

// The metric gates' choices, with the flags they come from (as `WaitLimits`).

/// How a preset finds a revision's series: queue-proxy puts the revision only into its resource
/// (`target_info`), so either the scrape configuration relabels the pod's labels onto every
/// series (`labels`: `namespace` and `revision`), or the query joins on `target_info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, Default, ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Scrape {
    #[default]
    TargetInfo,
    Labels,
}

/// What to do once a gate has been inconclusive `limit` times in one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, Default, ValueEnum)]
#[serde(rename_all = "camelCase")]
pub enum OnInconclusive {
    /// Keep holding (until `--timeout`, exit 3).
    #[default]
    Hold,
    /// Count as a failure: roll back (exit 4).
    Fail,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
