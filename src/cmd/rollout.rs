//! `rollout [NAME] --model-uri URI --steps 10,50,100`: each step through the mode's write path
//! (Knative: `set N --wait`, the last one `promote --expect-revision` of the revision tested;
//! Standard: `set N --wait` of one spec.canary entry, then its `promote`: see `rollout_mode`), a
//! hold with the gates running, a rollback when a gate fails; one rollout at a time, recorded in
//! a Lease so that a killed job can be resumed from its step.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use jiff::Timestamp;
use tokio::sync::Mutex;

use super::Ctx;
use super::rollout_mode::{Mode, StepWrite};
use crate::cli::OnInconclusive;
use crate::cli::{RolloutArgs, WaitLimits};
use crate::error::{Exit, exit_of, fail};
use crate::isvc::Isvc;
use crate::output::sanitize;
use crate::resolve::resolve;
use crate::rollout::events::{RolloutEvent, gate_message, k8s_event, kind_of, reason};
use crate::rollout::gate::{self, GateContext, Tally};
use crate::rollout::lease::{self, Held, holder_identity};
use crate::rollout::metric::{Prometheus, parse_service};
use crate::rollout::plan::{
    Defaults, GateSpec, MetricDefaults, Plan, Smoke, Step, parse_metric_flag, parse_plan_file, parse_steps, validate,
};
use crate::rollout::state::{Phase, RolloutState, StepRecord, micro_time, push_history};
use crate::rollout::verdict::{GateResult, Verdict};
use crate::rollout::view::{Live, render};
use crate::rules::{check_mode, validate_model_uri};
use crate::terminal::{Redraw, Terminal};

/// How often a hold looks at the clock, the lease's control requests and the view.
const TICK: Duration = Duration::from_millis(250);

pub async fn run(ctx: &Ctx, args: &RolloutArgs) -> Result<Exit> {
    let limits = args.limits.limits();
    let base_dir = plan_dir(args);
    // Everything the flags say is checked before the first request.
    let fresh = if args.resume {
        None
    } else {
        let Some(model) = &args.model_uri else {
            return Err(fail(Exit::Usage, "--model-uri is required (or --resume to continue a recorded rollout)"));
        };
        validate_model_uri(model)?;
        let plan = plan_of(args)?;
        if plan.gates.iter().any(|g| matches!(g, GateSpec::Metric(_)))
            && args.prometheus.is_none()
            && args.prometheus_service.is_none()
        {
            return Err(fail(Exit::Usage, "metric gates need --prometheus URL or --prometheus-service NS/NAME:PORT"));
        }
        Some((model.clone(), plan))
    };
    if args.lease_duration < Duration::from_secs(3) {
        return Err(fail(Exit::Usage, "--lease-duration must be at least 3s"));
    }
    let prometheus = prometheus_of(args, &ctx.kube)?;
    let isvc = resolve(&ctx.kube, &ctx.term, args.name.as_deref()).await?;
    let mode = mode_of(ctx, args, &isvc, fresh.as_ref()).await?;
    // Asked once, at a terminal without --yes; the steps are not asked one by one.
    let what = match &fresh {
        Some((model, plan)) => {
            let canary = match &mode {
                Mode::Standard { canary } => format!(" as the canary {canary}"),
                Mode::Knative => String::new(),
            };
            format!(
                "Start the rollout of {}/{} to {}{canary} ({})?",
                isvc.namespace,
                isvc.name,
                sanitize(model),
                plan.describe()
            )
        }
        None => format!("Resume the rollout of {}/{}?", isvc.namespace, isvc.name),
    };
    ctx.term.confirm(&what)?;
    let holder = holder_identity();
    let (held, took_over) = acquire(ctx, &isvc, &holder, args.lease_duration, fresh.clone(), &mode).await?;
    let runner = Runner {
        ctx: Ctx {
            global: ctx.global.clone(),
            kube: ctx.kube.clone(),
            term: Terminal { yes: true, ..ctx.term },
            output: None,
        },
        term: ctx.term,
        json: ctx.output().is_some(),
        live: ctx.term.stderr_tty && ctx.output().is_none() && std::io::IsTerminal::is_terminal(&std::io::stdout()),
        isvc,
        mode,
        lease: Arc::new(Mutex::new(held)),
        limits,
        lease_duration: args.lease_duration,
        connect: args.ingress.clone().or_else(ingress_from_env),
        gate_timeout: args.gate_timeout,
        base_dir,
        prometheus,
        redraw: std::sync::Mutex::new((Redraw::default(), String::new())),
        split: std::sync::Mutex::new((None, String::new())),
        warned_events: std::sync::atomic::AtomicBool::new(false),
        holder,
    };
    if let Some(from) = took_over {
        let (model, at) = {
            let l = runner.lease.lock().await;
            (l.state.model.clone(), l.state.where_())
        };
        runner
            .emit(reason::TAKEN_OVER, None, format!("resuming the rollout to {model} at {at}, taken over from {from}"))
            .await;
    } else {
        let (model, plan) = {
            let l = runner.lease.lock().await;
            (l.state.model.clone(), l.state.plan.describe())
        };
        runner.emit(reason::STARTED, None, format!("rollout to {model}: {plan}")).await;
    }
    let renewer = runner.spawn_renewal();
    let outcome = runner.drive().await;
    renewer.abort();
    runner.clear_view();
    runner.finish(outcome).await
}

/// Knative or Standard mode, from the object; in Standard mode the canary entry's name (as
/// recorded on a resume, else `--canary-name` or the model's), and the plan checked against what
/// Standard mode cannot run (exit 2, before any write).
async fn mode_of(ctx: &Ctx, args: &RolloutArgs, isvc: &Isvc, fresh: Option<&(String, Plan)>) -> Result<Mode> {
    if !super::standard::is_standard(isvc) {
        if args.canary_name.is_some() {
            return Err(fail(
                Exit::Usage,
                "--canary-name is for Standard mode (spec.canary); this InferenceService runs in Knative mode",
            ));
        }
        check_mode(isvc)?;
        return Ok(Mode::Knative);
    }
    let (model, plan, recorded) = match fresh {
        Some((model, plan)) => (Some(model.clone()), Some(plan.clone()), None),
        None => match lease::read(&ctx.kube, &isvc.namespace, &isvc.name).await? {
            Some((_, rec)) => match rec.unfinished() {
                Some(s) => (Some(s.model.clone()), Some(s.plan.clone()), s.canary.clone()),
                None => (None, None, None),
            },
            None => (None, None, None),
        },
    };
    let mode = match (recorded, model) {
        (Some(canary), _) => Mode::Standard { canary },
        (None, Some(model)) => Mode::standard_for(isvc, &model, args.canary_name.as_deref())?,
        // Nothing to resume: the Lease says so.
        (None, None) => Mode::Standard { canary: String::new() },
    };
    if let Some(plan) = &plan {
        mode.check_plan(plan)?;
    }
    Ok(mode)
}

/// The plan from the flags: `--plan FILE`, or `--steps` (default 10,50,100) with `--pause` and
/// the gate flags (which add to a plan file's gates).
fn plan_of(args: &RolloutArgs) -> Result<Plan> {
    let defaults = Defaults {
        pause: args.pause.unwrap_or(Duration::ZERO),
        failure_limit: args.failure_limit.unwrap_or(1),
        interval: args.gate_interval.unwrap_or(Duration::from_secs(10)),
        metric: metric_defaults(args),
    };
    let mut plan = match &args.plan {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| fail(Exit::Usage, format!("cannot read the plan {}: {e}", path.display())))?;
            parse_plan_file(&text, defaults)?
        }
        None => Plan {
            steps: parse_steps(args.steps.as_deref().unwrap_or("10,50,100"), defaults.pause)?,
            gates: vec![],
            failure_limit: defaults.failure_limit,
            interval: defaults.interval,
        },
    };
    let smoke_flags = args.input.is_some() || args.expect_status.is_some() || args.expect_body.is_some();
    if args.smoke || smoke_flags || args.protocol.is_some() {
        if let Some(input) = &args.input
            && !input.exists()
        {
            return Err(fail(Exit::Usage, format!("--input {}: no such file", input.display())));
        }
        let input = args
            .input
            .as_ref()
            .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone()).to_string_lossy().into_owned());
        plan.gates.push(GateSpec::Smoke(Smoke {
            input,
            protocol: args.protocol.map(|p| format!("{p:?}").to_lowercase()),
            status: args.expect_status.unwrap_or(200),
            body: args.expect_body.clone(),
        }));
    }
    plan.gates.extend(args.exec.iter().map(|c| GateSpec::Exec { command: c.clone() }));
    for m in &args.metric {
        plan.gates.push(parse_metric_flag(m, metric_defaults(args))?);
    }
    validate(&plan)?;
    Ok(plan)
}

fn metric_defaults(args: &RolloutArgs) -> MetricDefaults {
    let d = MetricDefaults::default();
    MetricDefaults {
        window: args.metric_window.unwrap_or(d.window),
        min_requests: args.min_requests.unwrap_or(d.min_requests),
        inconclusive_limit: args.inconclusive_limit.or(d.inconclusive_limit),
        on_inconclusive: args.on_inconclusive.unwrap_or(d.on_inconclusive),
        scrape: args.metric_scrape.unwrap_or(d.scrape),
    }
}

/// Where metric gates ask: `--prometheus URL` or `--prometheus-service NS/NAME:PORT` (checked
/// before any request).
fn prometheus_of(args: &RolloutArgs, kube: &crate::client::Kube) -> Result<Option<Prometheus>> {
    if let Some(url) = &args.prometheus {
        if !url.starts_with("http://") {
            return Err(fail(Exit::Usage, format!("--prometheus {url}: an http:// URL (or --prometheus-service)")));
        }
        return Ok(Some(Prometheus::Url(url.trim_end_matches('/').to_string())));
    }
    match &args.prometheus_service {
        Some(text) => {
            let (namespace, name, port) = parse_service(text).map_err(|e| fail(Exit::Usage, e))?;
            Ok(Some(Prometheus::Service { kube: Box::new(kube.clone()), namespace, name, port }))
        }
        None => Ok(None),
    }
}

/// Relative paths of a plan file (an exec command, a smoke input) are read from its directory.
fn plan_dir(args: &RolloutArgs) -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    match args.plan.as_deref().and_then(Path::parent) {
        Some(dir) if !dir.as_os_str().is_empty() => cwd.join(dir),
        _ => cwd,
    }
}

/// `INGRESS_HOST:INGRESS_PORT`, as the curl lines of `tag-routing` use them.
fn ingress_from_env() -> Option<String> {
    let host = std::env::var("INGRESS_HOST").ok().filter(|h| !h.is_empty())?;
    let port = std::env::var("INGRESS_PORT").ok().filter(|p| !p.is_empty()).unwrap_or_else(|| "80".into());
    Some(format!("{host}:{port}"))
}

/// Takes the lease: a new rollout (`fresh`), or `--resume` of the recorded one. Refused (exit
/// 7) while someone else holds it, when an unfinished rollout is recorded and this is not a
/// resume, or when there is nothing to resume. Returns the holder it was taken from on a resume.
async fn acquire(
    ctx: &Ctx,
    isvc: &Isvc,
    holder: &str,
    duration: Duration,
    fresh: Option<(String, Plan)>,
    mode: &Mode,
) -> Result<(Held, Option<String>)> {
    let kube = &ctx.kube;
    let name = &isvc.name;
    let lease_name = crate::rollout::state::lease_name(name);
    let now = Timestamp::now();
    let read = lease::read(kube, &isvc.namespace, name).await?;
    let new_state = |model: String, plan: Plan| {
        let id = format!("{}-{}", now.as_second(), std::process::id());
        let mut state = RolloutState::new(id, model, plan, &micro_time(now));
        if let Mode::Standard { canary } = mode {
            state.canary = Some(canary.clone());
        }
        state
    };
    let Some((_, rec)) = read else {
        let Some((model, plan)) = fresh else {
            return Err(fail(
                Exit::Refused,
                format!(
                    "no rollout of {name} is recorded (no Lease {lease_name}): nothing to resume; start one with --model-uri"
                ),
            ));
        };
        let mut held = match Held::create(kube, isvc, holder, duration, new_state(model, plan)).await {
            Err(e) if crate::error::http_status_of(&e) == Some(409) => {
                return Err(fail(
                    Exit::Refused,
                    format!("another rollout of {name} started at the same moment: nothing was changed"),
                ));
            }
            other => other?,
        };
        // Renewed once before anything else is written: a lease that cannot be renewed (no
        // `patch` on leases) stops here, with the InferenceService untouched.
        held.save().await?;
        return Ok((held, None));
    };
    if rec.held(now) {
        let at = rec.unfinished().map(|s| format!(", at {}", s.where_())).unwrap_or_default();
        return Err(fail(
            Exit::Refused,
            format!(
                "a rollout of {name} is running: the lease {lease_name} is held by {} (renewed {}s ago{at}); \
                 wait for it to end, or use pause/resume/abort {name}",
                rec.holder,
                rec.renew_time.map_or(0, |t| now.duration_since(t).as_secs())
            ),
        ));
    }
    let mut history = rec.history.clone();
    match (fresh, rec.unfinished()) {
        (None, Some(state)) => {
            let mut state = state.clone();
            if let Mode::Standard { canary } = mode {
                state.canary = Some(canary.clone());
            }
            state.phase = if state.phase == Phase::Paused { Phase::Paused } else { Phase::Running };
            let from = if rec.holder.is_empty() { "a stopped process".to_string() } else { rec.holder.clone() };
            let held = Held::take(kube, isvc, &rec, holder, duration, state, history).await?;
            Ok((held, Some(from)))
        }
        (None, None) => Err(fail(
            Exit::Refused,
            format!(
                "nothing to resume: the last rollout of {name} ended {}",
                rec.state.as_ref().map_or("long ago", |s| s.phase.word())
            ),
        )),
        (Some(_), Some(state)) => Err(fail(
            Exit::Refused,
            format!(
                "an unfinished rollout of {name} to {} stopped at {} ({}): continue it with `kubectl isvc-canary -n {} rollout {name} --resume`, or roll it back with `kubectl isvc-canary -n {} abort {name}`",
                state.model,
                state.where_(),
                state.message.as_deref().unwrap_or(state.phase.word()),
                isvc.namespace,
                isvc.namespace
            ),
        )),
        (Some((model, plan)), None) => {
            if let Some(last) = &rec.state {
                push_history(&mut history, last.record());
            }
            let mut state = new_state(model, plan);
            state.control_seen = rec.control.clone();
            Ok((Held::take(kube, isvc, &rec, holder, duration, state, history).await?, None))
        }
    }
}

/// How a rollout ended, before its lease is written for the last time.
enum End {
    Promoted,
    /// Rolled back (a gate, a failed revision, an abort): the phase, the message.
    RolledBack(Phase, String),
    /// Stopped with a step applied: the error, as the step's wait or the hold gave it.
    Stopped(anyhow::Error),
}

/// How a hold ended.
enum Hold {
    Passed,
    GateFailed(String),
    Abort(String),
}

struct Runner {
    /// The context of the steps' writes: no prompt per step (the rollout is asked for once).
    ctx: Ctx,
    term: Terminal,
    json: bool,
    live: bool,
    isvc: Isvc,
    mode: Mode,
    lease: Arc<Mutex<Held>>,
    limits: WaitLimits,
    lease_duration: Duration,
    connect: Option<String>,
    gate_timeout: Duration,
    base_dir: PathBuf,
    prometheus: Option<Prometheus>,
    /// The view's redraw state and the text last drawn (drawn again only when it changes).
    redraw: std::sync::Mutex<(Redraw, String)>,
    /// The split the view shows, and when it was read.
    split: std::sync::Mutex<(Option<Instant>, String)>,
    warned_events: std::sync::atomic::AtomicBool,
    holder: String,
}

impl Runner {
    fn spawn_renewal(&self) -> tokio::task::JoinHandle<()> {
        let lease = self.lease.clone();
        // A third of the lease's duration, at most 5 s: control requests are seen that soon.
        let period = (self.lease_duration / 3).min(Duration::from_secs(5));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(period).await;
                lease.lock().await.renew().await;
            }
        })
    }

    /// Prints an event (a line, or JSON) and writes it as a Kubernetes Event. A write that fails
    /// is warned about once; the rollout goes on.
    async fn emit(&self, why: &str, gate: Option<GateResult>, message: String) {
        let ev = {
            let l = self.lease.lock().await;
            event_of(&self.isvc, why, &l.state, gate, &message)
        };
        self.clear_view();
        if self.json {
            println!("{}", serde_json::to_string(&ev).unwrap_or_default());
        } else {
            println!("{}", ev.line());
        }
        if let Err(e) = post_event(&self.ctx.kube, &self.isvc, &ev, &self.holder).await
            && !self.warned_events.swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            self.term.warn(&format!("cannot write Kubernetes Events ({e:#}): the rollout goes on without them"));
        }
    }

    fn clear_view(&self) {
        if !self.live {
            return;
        }
        if let Ok(mut r) = self.redraw.lock() {
            let top = r.0.top(console::Term::stderr().size_checked().map(|(_, c)| usize::from(c)));
            eprint!("{top}");
            *r = (Redraw::default(), String::new());
        }
    }

    async fn draw(&self, hold_left: Option<Duration>, doing: Option<&str>) {
        if !self.live {
            return;
        }
        let state = self.lease.lock().await.state.clone();
        // The split is read again at most every 2 s: the view must not load the API server.
        let stale =
            self.split.lock().map(|s| s.0.is_none_or(|at| at.elapsed() >= Duration::from_secs(2))).unwrap_or(true);
        if stale {
            let split = match self.ctx.kube.get_isvc(&self.isvc.namespace, &self.isvc.name).await {
                Ok(i) => self.mode.split(&i),
                Err(_) => "-".to_string(),
            };
            if let Ok(mut s) = self.split.lock() {
                *s = (Some(Instant::now()), split);
            }
        }
        let split = self.split.lock().map(|s| s.1.clone()).unwrap_or_default();
        let text = render(
            &state,
            &Live { namespace: &self.isvc.namespace, name: &self.isvc.name, split: &split, hold_left, doing },
        );
        if let Ok(mut r) = self.redraw.lock() {
            if r.1 == text {
                return;
            }
            let width = console::Term::stderr().size_checked().map(|(_, c)| usize::from(c));
            let top = r.0.top(width);
            r.0.count(&text);
            eprint!("{top}{text}");
            r.1 = text;
        }
    }

    async fn save(&self) -> Result<()> {
        self.lease.lock().await.save().await
    }

    /// The steps, from the recorded one to the end.
    async fn drive(&self) -> End {
        loop {
            let (index, step, applied) = {
                let l = self.lease.lock().await;
                let s = &l.state;
                match s.plan.steps.get(s.step) {
                    Some(step) => (s.step, step.clone(), s.applied),
                    None => return End::Promoted,
                }
            };
            match step {
                Step::Manual => {
                    if let Err(end) = self.manual_step().await {
                        return end;
                    }
                }
                Step::Weight { percent, pause } => {
                    if let Err(end) = self.weight_step(index, percent, applied).await {
                        return end;
                    }
                    if percent == 100 {
                        return End::Promoted;
                    }
                    match self.hold(pause).await {
                        Ok(Hold::Passed) => {}
                        Ok(Hold::GateFailed(message)) => return self.roll_back(Phase::RolledBack, message).await,
                        Ok(Hold::Abort(by)) => return self.roll_back(Phase::Aborted, format!("aborted by {by}")).await,
                        Err(e) => return End::Stopped(e),
                    }
                }
            }
            let mut l = self.lease.lock().await;
            l.state.step += 1;
            l.state.applied = false;
            l.state.hold_started_at = None;
            l.state.gates = vec![None; l.state.plan.gates.len()];
            if let Err(e) = l.save().await {
                return End::Stopped(e);
            }
        }
    }

    /// Applies one weight step through the mode's write path (the last one, 100 %, is the
    /// promotion), and waits until it holds. On a resume the same call finds the step in place
    /// and writes nothing.
    async fn weight_step(&self, index: usize, percent: i64, applied: bool) -> Result<(), End> {
        let (model, revision, first, smoke) = {
            let l = self.lease.lock().await;
            let s = &l.state;
            let first = s.plan.steps[..index].iter().all(|st| matches!(st, Step::Manual));
            let smoke = s.plan.gates.iter().any(|g| matches!(g, GateSpec::Smoke(_)));
            (s.model.clone(), s.revision.clone(), first, smoke)
        };
        // The step's wait shows its own spinner: no view during it.
        self.clear_view();
        if first && !applied {
            self.record_stable().await;
        }
        let result = if percent == 100 && !first {
            self.mode.promote(&self.ctx, &self.isvc, self.limits, revision.as_deref()).await
        } else {
            let step = StepWrite { percent, first, model: &model, revision: revision.as_deref(), smoke };
            self.mode.set_step(&self.ctx, &self.isvc, self.limits, &step).await
        };
        let after = match result {
            Ok(a) => a,
            Err(e) if exit_of(&e) == Exit::RolloutFailed => {
                let message = format!("{e:#}");
                self.mark_applied(percent, None).await;
                self.emit(reason::REVISION_FAILED, None, message.clone()).await;
                return Err(self.roll_back(Phase::RolledBack, message).await);
            }
            Err(e) => {
                // Timeout, Ctrl-C, a lost connection, a refusal: written or not, the step is
                // where the write path left it; a resume decides again from the object.
                return Err(End::Stopped(e));
            }
        };
        let lcr = self.mode.revision_of(&after.isvc);
        if let Some(rev) = &revision
            && first
            && &lcr != rev
        {
            return Err(End::Stopped(fail(
                Exit::Refused,
                format!(
                    "{} changed since the rollout stopped: its latest revision is {lcr}, not {rev}",
                    self.isvc.name
                ),
            )));
        }
        if !applied || after.written {
            self.mark_applied(percent, Some(lcr.clone())).await;
            if let Err(e) = self.save().await {
                return Err(End::Stopped(e));
            }
            let message = match (&self.mode, percent) {
                (Mode::Knative, 100) => format!("promoted {lcr}: 100% of traffic"),
                (Mode::Knative, _) => format!("{percent}% of traffic to {lcr}"),
                (Mode::Standard { .. }, 100) => format!("promoted {lcr}: it is the stable predictor"),
                (Mode::Standard { .. }, _) => format!("{percent}% to the canary {lcr} (spec.canary trafficPercent)"),
            };
            self.emit(reason::STEP_APPLIED, None, message).await;
        }
        Ok(())
    }

    /// What the canary's traffic comes back to on a rollback, read before step 1.
    async fn record_stable(&self) {
        if let Ok(isvc) = self.ctx.kube.get_isvc(&self.isvc.namespace, &self.isvc.name).await {
            self.lease.lock().await.state.stable = self.mode.stable_of(&isvc);
        }
    }

    async fn mark_applied(&self, percent: i64, revision: Option<String>) {
        let mut l = self.lease.lock().await;
        let s = &mut l.state;
        if !s.applied {
            s.traffic.push(StepRecord { percent, at: micro_time(Timestamp::now()) });
        }
        s.applied = true;
        if s.hold_started_at.is_none() {
            s.hold_started_at = Some(micro_time(Timestamp::now()));
        }
        if revision.is_some() && s.revision.is_none() {
            s.revision = revision;
        }
    }

    fn gate_context(&self, state: &RolloutState, url: Option<String>, protocol: &str) -> GateContext {
        GateContext {
            namespace: self.isvc.namespace.clone(),
            name: self.isvc.name.clone(),
            url,
            revision: state.revision.clone().unwrap_or_default(),
            step: state.step + 1,
            percent: state.percent().unwrap_or_default(),
            protocol: protocol.to_string(),
            connect: self.connect.clone(),
            timeout: self.gate_timeout,
            base_dir: self.base_dir.clone(),
            stable: state.stable.clone(),
            prometheus: self.prometheus.clone(),
        }
    }

    /// Holds the applied step for its pause with the gates running every interval; passes once
    /// the pause is over and every gate's last result is a pass (inconclusive holds, up to
    /// `--timeout` past the pause); a gate at its failure limit ends it. Control requests are
    /// acted upon here: pause holds past the pause, resume lets go, abort ends it.
    async fn hold(&self, pause: Duration) -> Result<Hold> {
        let (gates, limit, interval, started) = {
            let l = self.lease.lock().await;
            let s = &l.state;
            let started: Option<Timestamp> = s.hold_started_at.as_deref().and_then(|t| t.parse().ok());
            (s.plan.gates.clone(), s.plan.failure_limit, s.plan.interval, started)
        };
        let elapsed = started.map_or(Duration::ZERO, |t| Timestamp::now().duration_since(t).unsigned_abs());
        let hold_end = Instant::now() + pause.saturating_sub(elapsed);
        let give_up = hold_end + self.limits.timeout;
        let mut tally = Tally::new(gates.len());
        let mut next_gate = Instant::now();
        let mut interrupted = crate::terminal::ctrl_c();
        loop {
            if let Some(end) = self.control().await? {
                return Ok(end);
            }
            let paused = self.lease.lock().await.state.phase == Phase::Paused;
            if !gates.is_empty() && Instant::now() >= next_gate {
                if let Some(message) = self.run_gates(&gates, &mut tally, limit).await? {
                    return Ok(Hold::GateFailed(message));
                }
                next_gate = Instant::now() + interval;
            }
            let now = Instant::now();
            if now >= hold_end && !paused && tally.all_pass() {
                return Ok(Hold::Passed);
            }
            if now >= give_up && !paused {
                let why = tally.holding().unwrap_or_default();
                return Err(fail(
                    Exit::Timeout,
                    format!(
                        "timed out after {} holding the step: {why}",
                        crate::duration::format_duration(self.limits.timeout)
                    ),
                ));
            }
            self.draw(Some(hold_end.saturating_duration_since(now)), None).await;
            tokio::select! {
                () = tokio::time::sleep(TICK) => {}
                () = &mut interrupted => return Err(fail(Exit::Interrupted, "interrupted while holding the step")),
            }
        }
    }

    /// Runs every gate once and records the results; the failure message when one reached the
    /// failure limit.
    async fn run_gates(&self, gates: &[GateSpec], tally: &mut Tally, limit: u32) -> Result<Option<String>> {
        let current = self.ctx.kube.get_isvc(&self.isvc.namespace, &self.isvc.name).await?;
        let url = self.mode.canary_url(&current);
        let gctx = {
            let l = self.lease.lock().await;
            self.gate_context(&l.state, url, current.protocol())
        };
        for (i, spec) in gates.iter().enumerate() {
            let r = gate::evaluate(spec, &gctx).await;
            let before = tally.last[i].as_ref().map(|p| p.verdict);
            let reached = tally.record(i, r.clone(), limit);
            let count = tally.failures[i];
            {
                let mut l = self.lease.lock().await;
                if let Some(slot) = l.state.gates.get_mut(i) {
                    *slot = Some(r.clone());
                }
            }
            let message = gate_message(&r);
            match r.verdict {
                Verdict::Fail => {
                    let m = format!("{message} (failure {count} of {limit})");
                    self.emit(reason::GATE_FAILED, Some(r.clone()), m).await;
                }
                Verdict::Pass if before != Some(Verdict::Pass) => {
                    self.emit(reason::GATE_PASSED, Some(r.clone()), message).await
                }
                Verdict::Inconclusive if before != Some(Verdict::Inconclusive) => {
                    self.emit(reason::GATE_INCONCLUSIVE, Some(r.clone()), message).await;
                }
                _ => {}
            }
            // A metric gate inconclusive too often in this step fails when the plan says so.
            if let GateSpec::Metric(m) = spec
                && r.verdict == Verdict::Inconclusive
                && m.on_inconclusive == OnInconclusive::Fail
                && let Some(cap) = m.inconclusive_limit
                && tally.inconclusive[i] >= cap
            {
                let at = self.lease.lock().await.state.where_();
                return Ok(Some(format!(
                    "gate {} was inconclusive {cap} times at {at} (the plan's limit): {}",
                    r.gate, r.reason
                )));
            }
            if reached.is_some() {
                let at = self.lease.lock().await.state.where_();
                return Ok(Some(format!(
                    "gate {} failed at {at}: {} against a threshold of {} ({}): {}",
                    r.gate,
                    r.value,
                    r.threshold,
                    if limit == 1 { "1 failure".to_string() } else { format!("{limit} failures") },
                    r.reason
                )));
            }
        }
        self.save().await?;
        Ok(None)
    }

    /// Acts on a new control request (pause, resume, abort) from another process, and on a
    /// lost lease.
    async fn control(&self) -> Result<Option<Hold>> {
        let (control, seen, lost) = {
            let l = self.lease.lock().await;
            (l.control.clone(), l.state.control_seen.clone(), l.lost.clone())
        };
        if let Some((exit, why)) = lost {
            return Err(fail(exit, why));
        }
        let Some(control) = control.filter(|c| Some(c) != seen.as_ref()) else { return Ok(None) };
        let mut words = control.splitn(3, ' ');
        let verb = words.next().unwrap_or_default().to_string();
        let by = words.nth(1).unwrap_or("another process").to_string();
        {
            let mut l = self.lease.lock().await;
            l.state.control_seen = Some(control.clone());
            match verb.as_str() {
                "pause" => l.state.phase = Phase::Paused,
                "resume" => l.state.phase = Phase::Running,
                _ => {}
            }
            l.save().await?;
        }
        match verb.as_str() {
            "pause" => {
                let m = format!("paused by {by}: holding until `kubectl isvc-canary resume {}`", self.isvc.name);
                self.emit(reason::PAUSED, None, m).await;
            }
            "resume" => self.emit(reason::RESUMED, None, format!("resumed by {by}")).await,
            "abort" => return Ok(Some(Hold::Abort(by))),
            _ => {}
        }
        Ok(None)
    }

    /// A manual step: paused until `resume` (or `abort`).
    async fn manual_step(&self) -> Result<(), End> {
        {
            let mut l = self.lease.lock().await;
            l.state.phase = Phase::Paused;
            l.state.applied = true;
            if let Err(e) = l.save().await {
                return Err(End::Stopped(e));
            }
        }
        let m = format!(
            "manual step: holding until `kubectl isvc-canary -n {} resume {}`",
            self.isvc.namespace, self.isvc.name
        );
        self.emit(reason::PAUSED, None, m).await;
        let mut interrupted = crate::terminal::ctrl_c();
        loop {
            match self.control().await {
                Ok(Some(Hold::Abort(by))) => {
                    return Err(self.roll_back(Phase::Aborted, format!("aborted by {by}")).await);
                }
                Ok(_) => {}
                Err(e) => return Err(End::Stopped(e)),
            }
            if self.lease.lock().await.state.phase == Phase::Running {
                return Ok(());
            }
            self.draw(None, None).await;
            tokio::select! {
                () = tokio::time::sleep(TICK) => {}
                () = &mut interrupted => return Err(End::Stopped(fail(Exit::Interrupted, "interrupted while paused"))),
            }
        }
    }

    /// `rollback --wait` through the mode's write path; the outcome recorded as `phase`.
    async fn roll_back(&self, phase: Phase, message: String) -> End {
        let stable = self.lease.lock().await.state.stable.clone();
        match self.mode.roll_back(&self.ctx, &self.isvc, self.limits, stable).await {
            Ok(to) => {
                let done = format!("{message}; rolled back: {}", to.text);
                self.emit(
                    if phase == Phase::Aborted { reason::ABORTED } else { reason::ROLLED_BACK },
                    None,
                    done.clone(),
                )
                .await;
                End::RolledBack(phase, done)
            }
            Err(e) => End::Stopped(e.context(format!("{message}; the rollback did not finish"))),
        }
    }

    /// Stopped in step 1 with the new model not in the spec (re-read): no write of the rollout
    /// took effect. Unknown (the object cannot be read) counts as applied.
    async fn nothing_applied(&self) -> bool {
        let (first, model) = {
            let l = self.lease.lock().await;
            (l.state.step == 0 && !l.state.applied && l.state.traffic.is_empty(), l.state.model.clone())
        };
        if !first {
            return false;
        }
        match self.ctx.kube.get_isvc(&self.isvc.namespace, &self.isvc.name).await {
            Ok(now) => !self.mode.model_in_spec(&now, &model),
            Err(_) => false,
        }
    }

    /// Writes the outcome in the lease, releases it, and turns the end into the exit code.
    async fn finish(&self, end: End) -> Result<Exit> {
        let ns = &self.isvc.namespace;
        let name = &self.isvc.name;
        let (phase, message, err) = match end {
            End::Promoted => {
                let rev = self.lease.lock().await.state.revision.clone().unwrap_or_default();
                (Phase::Promoted, format!("{rev} promoted"), None)
            }
            End::RolledBack(phase, message) => (phase, message.clone(), Some(fail(Exit::RolloutFailed, message))),
            End::Stopped(e) if self.nothing_applied().await => {
                // The first write never took effect: nothing to resume or roll back.
                let message = format!("{e:#}: nothing was changed");
                self.emit(reason::REFUSED, None, message.clone()).await;
                (Phase::Refused, message.clone(), Some(fail(exit_of(&e), message)))
            }
            End::Stopped(e) => {
                let at = self.lease.lock().await.state.where_();
                let applied = self.lease.lock().await.state.applied;
                let how = format!(
                    "continue with `kubectl isvc-canary -n {ns} rollout {name} --resume`, or roll back with `kubectl isvc-canary -n {ns} abort {name}`"
                );
                let state = if applied { "is applied" } else { "is being applied (the write may be in place)" };
                let message = format!("{e:#}: the rollout stopped at {at}, which {state}; nothing was reverted; {how}");
                let exit = exit_of(&e);
                self.emit(reason::INTERRUPTED, None, format!("stopped at {at}: {e:#}")).await;
                (Phase::Interrupted, message.clone(), Some(fail(exit, message)))
            }
        };
        if phase == Phase::Promoted {
            self.emit(reason::PROMOTED, None, message.clone()).await;
        }
        let mut l = self.lease.lock().await;
        l.state.phase = phase;
        l.state.message = Some(message.clone());
        if phase.is_final() {
            l.state.ended_at = Some(micro_time(Timestamp::now()));
            let record = l.state.record();
            push_history(&mut l.history, record);
        }
        if let Err(e) = l.release().await {
            self.term.warn(&format!("cannot record the outcome in the lease ({e:#}): it expires by itself"));
        }
        drop(l);
        match err {
            None => {
                if !self.json {
                    println!("inferenceservice.serving.kserve.io/{name} promoted");
                }
                Ok(Exit::Ok)
            }
            Some(e) => Err(e),
        }
    }
}

/// The event record of a rollout event, at the state's current step.
fn event_of(isvc: &Isvc, why: &str, s: &RolloutState, gate: Option<GateResult>, message: &str) -> RolloutEvent {
    let step =
        (s.step < s.plan.steps.len() && !matches!(why, reason::STARTED | reason::TAKEN_OVER)).then_some(s.step + 1);
    RolloutEvent {
        time: Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        namespace: isvc.namespace.clone(),
        name: isvc.name.clone(),
        reason: why.to_string(),
        kind: kind_of(why).to_string(),
        step,
        steps: s.plan.steps.len(),
        percent: step.and(s.percent()),
        revision: s.revision.clone(),
        gate,
        message: sanitize(message),
    }
}

/// Writes a rollout event as a Kubernetes Event on the InferenceService.
async fn post_event(kube: &crate::client::Kube, isvc: &Isvc, ev: &RolloutEvent, instance: &str) -> Result<()> {
    let body = serde_json::to_vec(&k8s_event(ev, isvc, instance))?;
    let uri = format!("/api/v1/namespaces/{}/events", crate::client::encode(&isvc.namespace));
    kube.call(http::Method::POST, &uri, Some(("application/json", body)), None).await?;
    Ok(())
}

/// An event written by another command about a rollout (`abort` of a stopped one): printed as
/// a line on stderr, and written as a Kubernetes Event (a failure is only warned about).
pub(super) async fn publish(kube: &crate::client::Kube, isvc: &Isvc, why: &str, s: &RolloutState, message: &str) {
    let ev = event_of(isvc, why, s, None, message);
    if let Err(e) = post_event(kube, isvc, &ev, &holder_identity()).await {
        eprintln!("warning: cannot write the Kubernetes Event {why} ({})", sanitize(&format!("{e:#}")));
    }
}
