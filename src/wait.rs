//! Waiting (contract, "Waiting"): pure "done" and "failed" predicates over what status says,
//! and the watch loop that applies them until done, failed, timed out or interrupted.

use std::time::{Duration, Instant};

use anyhow::Result;
use futures::StreamExt;
use kube::api::WatchEvent;
use serde_json::Value;

use crate::cli::WaitLimits;
use crate::client::{Kube, WatchStream};
use crate::error::{Exit, exit_of, fail};
use crate::isvc::{Component, Isvc, OwnedFields, REVISION_LABEL, pod_selector};
use crate::output::dash;
use crate::terminal::Terminal;

/// What "done" means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Goal {
    /// `set N`, 0 < N < 100: latest on LCR = LRR with N%, prev on LRO with 100-N%.
    Split(i64),
    /// `set 0`, `rollback`, `--for=rolled-back`: latest 0%, prev 100% on the target (LRO of the
    /// judged status when `None`).
    Pinned(Option<String>),
    /// `promote`, `set 100`: one entry, 100% on LCR = LRR = LRO.
    Promoted,
    /// `--for=ready`: the "always" rule, LRR ready, at least one revision serving.
    Ready,
}

impl Goal {
    /// The goal that the current ctp asks for (tag routing waits by it).
    pub fn for_ctp(ctp: Option<i64>) -> Goal {
        match ctp {
            None | Some(100) => Goal::Promoted,
            Some(0) => Goal::Pinned(None),
            Some(n) => Goal::Split(n),
        }
    }

    /// Parses `--for=ready|promoted|rolled-back|traffic=N`.
    pub fn parse(text: &str) -> Result<Goal, String> {
        match text {
            "ready" => Ok(Goal::Ready),
            "promoted" => Ok(Goal::Promoted),
            "rolled-back" => Ok(Goal::Pinned(None)),
            t => match t.strip_prefix("traffic=") {
                Some(n) => {
                    let n = crate::rules::parse_percent(n).map_err(|e| e.message)?;
                    Ok(Goal::for_ctp(Some(n)))
                }
                None => Err(format!("--for must be ready, promoted, rolled-back or traffic=N (got '{text}')")),
            },
        }
    }

    /// Does the goal need LCR to carry traffic (so failures of LCR matter)?
    fn needs_latest(&self) -> bool {
        matches!(self, Goal::Split(_) | Goal::Promoted | Goal::Ready)
    }
}

/// A wait, fully described.
#[derive(Debug, Clone)]
pub struct WaitRequest {
    pub component: Component,
    pub goal: Goal,
    /// For a template change: LCR before the write. Done needs a NEW revision that is LRR.
    pub new_revision_after: Option<String>,
    pub limits: WaitLimits,
    /// For a wait tied to our own write: the owned fields as written; another writer changing
    /// them ends the wait with exit 7.
    pub guarded_spec: Option<OwnedFields>,
}

/// The verdict on one status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Done,
    /// Not there yet: what is missing (the current phase, for the spinner and the timeout message).
    Waiting(String),
}

/// Revisions that must have a ready pod: those with a non-zero percent.
pub fn serving_revisions(isvc: &Isvc, c: Component) -> Vec<String> {
    let mut out: Vec<String> =
        isvc.component_status(c).traffic.iter().filter(|t| t.pct() > 0).map(|t| t.revision().to_string()).collect();
    out.dedup();
    out
}

/// The done rule on one status (pods judged separately: `ready_pods` lists revisions with a
/// ready pod, `None` when pods cannot be listed or min-scale is 0).
pub fn judge(isvc: &Isvc, req: &WaitRequest, ready_pods: Option<&[String]>) -> Verdict {
    let c = req.component;
    let s = isvc.component_status(c);
    if let Some(before) = &req.new_revision_after {
        if s.lcr() == before || s.lcr().is_empty() {
            return Verdict::Waiting("waiting for the new revision to be created".into());
        }
        if s.lrr() != s.lcr() {
            return Verdict::Waiting(format!("revision {} is starting", s.lcr()));
        }
    }
    let latest = s.latest_entry();
    let prev = s.prev_entry();
    let phase = match &req.goal {
        Goal::Split(n) => {
            let ok_latest = latest.is_some_and(|t| t.pct() == *n && t.revision() == s.lcr()) && s.lcr() == s.lrr();
            let ok_prev = prev.is_some_and(|t| t.pct() == 100i64.saturating_sub(*n) && t.revision() == s.lro());
            (!(ok_latest && ok_prev)).then(|| {
                format!("waiting for {n}% on {} and {}% on {}", dash(s.lcr()), 100i64.saturating_sub(*n), dash(s.lro()))
            })
        }
        Goal::Pinned(target) => {
            let target = target.clone().unwrap_or_else(|| s.lro().to_string());
            let ok =
                latest.is_some_and(|t| t.pct() == 0) && prev.is_some_and(|t| t.pct() == 100 && t.revision() == target);
            (!ok).then(|| format!("waiting for 100% on {}", dash(&target)))
        }
        Goal::Promoted => {
            let ok = s.traffic.len() == 1
                && latest.is_some_and(|t| t.pct() == 100 && t.revision() == s.lcr())
                && s.lcr() == s.lrr()
                && s.lrr() == s.lro();
            (!ok).then(|| format!("waiting for 100% on {}", dash(s.lcr())))
        }
        Goal::Ready => {
            let ok = !s.lrr().is_empty() && s.traffic.iter().any(|t| t.pct() > 0);
            (!ok).then(|| "waiting for a ready revision to serve".to_string())
        }
    };
    if let Some(p) = phase {
        return Verdict::Waiting(p);
    }
    for cond in [c.route_condition(), "IngressReady"] {
        if isvc.condition(cond).map(|x| x.status.as_str()) != Some("True") {
            return Verdict::Waiting(format!("waiting for {cond}"));
        }
    }
    if let Some(ready) = ready_pods
        && let Some(missing) = serving_revisions(isvc, c).into_iter().find(|r| !ready.contains(r))
    {
        return Verdict::Waiting(format!("waiting for a ready pod of {missing}"));
    }
    Verdict::Done
}

/// A failure signal about the revision the wait needs, if any (its text is the reason).
pub fn failure_signal(isvc: &Isvc, req: &WaitRequest) -> Option<String> {
    let c = req.component;
    let s = isvc.component_status(c);
    let concerned = match &req.new_revision_after {
        Some(before) => s.lcr() != before && !s.lcr().is_empty(),
        None => req.goal.needs_latest(),
    };
    if let Some(message) = isvc.reconcile_failure(c) {
        return Some(format!("ReconcileFailed: {message}"));
    }
    if !concerned {
        return None;
    }
    isvc.latest_failure(c).or_else(|| isvc.crash_failure(c)).map(|failure| format!("{} {failure}", s.lcr()))
}

/// The pause before reopening a watch that failed to open or ended without an event.
const WATCH_RETRY: Duration = Duration::from_millis(500);

/// An open watch on one InferenceService, opened before the write.
pub struct Waiter {
    kube: Kube,
    ns: String,
    name: String,
    resource_version: String,
    /// kube's watch stream. `next()` on it is cancel-safe (its framing buffer lives in the
    /// stream, not in the future), which the `select!` with the tick relies on: an event half
    /// read when the tick wins is completed on the next turn, never lost.
    stream: Option<WatchStream>,
    /// A watch that ended before it delivered anything is not reopened before this instant, so
    /// a server that ends every watch at once is not asked again in a tight loop.
    reopen_at: Option<Instant>,
    /// Events read from the current watch.
    events_in_stream: usize,
    last: Isvc,
    /// False between a write and the watch event of that write: events before it show the spec
    /// as it was read, which is neither "done" nor someone else's change.
    write_seen: bool,
}

impl Waiter {
    /// Opens the watch from the read's resourceVersion. A missing `watch` permission fails here,
    /// before anything is written.
    pub async fn open(kube: &Kube, isvc: &Isvc) -> Result<Waiter> {
        let stream = kube.watch_isvc(&isvc.namespace, &isvc.name, &isvc.resource_version).await?;
        Ok(Waiter {
            kube: kube.clone(),
            ns: isvc.namespace.clone(),
            name: isvc.name.clone(),
            resource_version: isvc.resource_version.clone(),
            stream: Some(stream),
            reopen_at: None,
            events_in_stream: 0,
            last: isvc.clone(),
            write_seen: true,
        })
    }

    /// A waiter that judges `isvc` first and opens the watch only if it must wait: with no write
    /// of its own, a state that already holds ends at once, whatever the watch permission.
    pub fn lazy(kube: &Kube, isvc: &Isvc) -> Waiter {
        Waiter {
            kube: kube.clone(),
            ns: isvc.namespace.clone(),
            name: isvc.name.clone(),
            resource_version: isvc.resource_version.clone(),
            stream: None,
            reopen_at: None,
            events_in_stream: 0,
            last: isvc.clone(),
            write_seen: true,
        }
    }

    /// Judges from the object the write returned; the watch's events from before the write
    /// (opened at the read's resourceVersion) are skipped until the write's own event arrives.
    pub fn after_write(mut self, written: &Isvc) -> Waiter {
        self.last = written.clone();
        self.write_seen = false;
        self
    }

    /// Takes an object from the watch as the latest state, unless it predates our write.
    fn accept(&mut self, obj: Isvc, req: &WaitRequest) {
        if !self.write_seen {
            match &req.guarded_spec {
                Some(guard) if &obj.owned_fields(req.component) != guard => return,
                _ => self.write_seen = true,
            }
        }
        self.last = obj;
    }

    /// Waits until the goal holds (the last object seen), or fails with 3, 4, 7 or 130.
    pub async fn run(mut self, term: &Terminal, req: &WaitRequest) -> Result<Isvc> {
        // One Ctrl-C listener for the whole wait, installed before the spinner shows: a fresh one
        // per turn of the loop would miss a signal between two turns, and one installed later
        // would let an early Ctrl-C end the process without the undo note.
        let mut interrupted = crate::terminal::ctrl_c();
        let spinner = term.spinner();
        let started = Instant::now();
        let deadline = started + req.limits.timeout;
        // The wait's reads retry as every request does, but never past its --timeout.
        self.kube = self.kube.retries_until(deadline);
        let mut failing_since: Option<(Instant, String)> = None;
        let mut phase;
        // Pods are listed only when everything else holds; `None` = cannot list (forbidden).
        let mut can_list_pods = true;
        let min_scale = min_scale(&self.last, req.component);
        loop {
            let isvc = self.last.clone();
            if let Some(guard) = &req.guarded_spec
                && &isvc.owned_fields(req.component) != guard
            {
                spinner.finish_and_clear();
                return Err(fail(
                    Exit::Refused,
                    format!(
                        "{} was changed by someone else while waiting ({}): stopped waiting",
                        self.name,
                        isvc.last_writer()
                    ),
                ));
            }
            let mut verdict = judge(&isvc, req, None);
            if verdict == Verdict::Done && can_list_pods && min_scale > 0 {
                match self.ready_pod_revisions().await {
                    Ok(ready) => verdict = judge(&isvc, req, Some(&ready)),
                    Err(e) if exit_of(&e) == Exit::Forbidden => can_list_pods = false,
                    Err(e) => return Err(e),
                }
            }
            match &verdict {
                Verdict::Done => {
                    spinner.finish_and_clear();
                    if isvc.ready() != "True" {
                        term.warn(&format!(
                            "{} is not Ready ({}): see `kubectl isvc-canary status {}`",
                            self.name,
                            dash(isvc.ready()),
                            self.name
                        ));
                    }
                    return Ok(isvc);
                }
                Verdict::Waiting(p) => phase = p.clone(),
            }
            // Failure held for the window; cleared only by progress (the needed revision ready).
            match failure_signal(&isvc, req) {
                Some(reason) => {
                    let since = failing_since.get_or_insert_with(|| (Instant::now(), reason.clone()));
                    if since.0.elapsed() >= req.limits.fail_window {
                        spinner.finish_and_clear();
                        return Err(fail(Exit::RolloutFailed, format!("rollout failed: {reason}")));
                    }
                }
                None => {
                    let s = isvc.component_status(req.component);
                    if s.lcr() == s.lrr() {
                        failing_since = None;
                    }
                }
            }
            // The spinner says which revision it waits for and where traffic is now.
            // The split first and short: a narrow terminal cuts the end of the line, the phase.
            spinner.set_message(format!("{}: traffic {}; {phase}", self.name, short_split(&isvc, req.component)));
            let now = Instant::now();
            if now >= deadline {
                spinner.finish_and_clear();
                return Err(fail(
                    Exit::Timeout,
                    format!(
                        "timed out after {} {phase} (last seen: {})",
                        crate::duration::format_duration(req.limits.timeout),
                        summary(&isvc, req.component)
                    ),
                ));
            }
            // Re-judge at least every second (fail windows, pods), else on the next event.
            let tick = (deadline - now).min(Duration::from_secs(1));
            tokio::select! {
                next = self.next_object() => { if let Some(obj) = next? { self.accept(obj, req); } }
                () = tokio::time::sleep(tick) => {}
                _ = &mut interrupted => {
                    spinner.finish_and_clear();
                    return Err(fail(Exit::Interrupted, format!("interrupted while {phase}")));
                }
            }
        }
    }

    /// The next InferenceService from the watch, resuming after the stream ends or is cut, and
    /// re-reading after an ERROR event (410 Gone: the resourceVersion expired).
    async fn next_object(&mut self) -> Result<Option<Isvc>> {
        loop {
            let Some(stream) = self.stream.as_mut() else {
                // The instant lives in `self`: a sleep cut short by the caller's tick resumes.
                if let Some(at) = self.reopen_at {
                    tokio::time::sleep_until(at.into()).await;
                }
                match self.kube.watch_isvc(&self.ns, &self.name, &self.resource_version).await {
                    Ok(s) => {
                        self.stream = Some(s);
                        self.reopen_at = None;
                        self.events_in_stream = 0;
                    }
                    Err(e) if exit_of(&e) == Exit::Forbidden => return Err(e),
                    Err(_) => {
                        self.reopen_at = Some(Instant::now() + WATCH_RETRY);
                        return Ok(None);
                    }
                }
                continue;
            };
            let event = stream.next().await;
            self.events_in_stream += 1;
            match event {
                // Ended (the server's timeout) or cut: watch again from the last resourceVersion,
                // at once unless this watch brought nothing.
                None | Some(Err(_)) => {
                    self.stream = None;
                    if self.events_in_stream == 1 {
                        self.reopen_at = Some(Instant::now() + WATCH_RETRY);
                    }
                }
                Some(Ok(WatchEvent::Added(object) | WatchEvent::Modified(object))) => {
                    let isvc = Isvc::from_value(object);
                    self.resource_version = isvc.resource_version.clone();
                    return Ok(Some(isvc));
                }
                Some(Ok(WatchEvent::Bookmark(bookmark))) => {
                    self.resource_version = bookmark.metadata.resource_version;
                }
                Some(Ok(WatchEvent::Deleted(_))) => {
                    return Err(fail(
                        Exit::NotFound,
                        format!("inferenceservice {} was deleted while waiting", self.name),
                    ));
                }
                Some(Ok(WatchEvent::Error(_))) => {
                    // 410 Gone: start again from a fresh read.
                    self.stream = None;
                    let fresh = self.kube.get_isvc(&self.ns, &self.name).await?;
                    self.resource_version = fresh.resource_version.clone();
                    return Ok(Some(fresh));
                }
            }
        }
    }

    /// The next object from the watch, for a wait that drives its own loop (Standard mode):
    /// `None` when the watch had nothing (reopening), an error when the object was deleted.
    pub async fn next_isvc(&mut self) -> Result<Option<Isvc>> {
        self.next_object().await
    }

    /// The reads of a wait retry as every request does, but never past its deadline.
    pub fn retry_until(&mut self, deadline: Instant) {
        self.kube = self.kube.retries_until(deadline);
    }

    async fn ready_pod_revisions(&self) -> Result<Vec<String>> {
        let list = self.kube.list_pods(&self.ns, &pod_selector(&self.name)).await?;
        Ok(ready_revisions(&list))
    }
}

/// Revisions with at least one ready pod (not terminating), from a pod list.
pub fn ready_revisions(list: &Value) -> Vec<String> {
    let mut out: Vec<String> = list
        .get("items")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|p| p.pointer("/metadata/deletionTimestamp").is_none())
        .filter(|p| {
            p.pointer("/status/conditions").and_then(Value::as_array).is_some_and(|cs| {
                cs.iter().any(|c| {
                    c.get("type").and_then(Value::as_str) == Some("Ready")
                        && c.get("status").and_then(Value::as_str) == Some("True")
                })
            })
        })
        .filter_map(|p| {
            p.pointer("/metadata/labels")
                .and_then(|l| l.get(REVISION_LABEL))
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The component's min-scale, from its `minReplicas` (default 1): at 0, no pod is required.
pub fn min_scale(isvc: &Isvc, c: Component) -> i64 {
    isvc.spec_component(c).and_then(|s| s.get("minReplicas")).and_then(Value::as_i64).unwrap_or(1)
}

/// One line: the split as status reports it.
pub fn summary(isvc: &Isvc, c: Component) -> String {
    let s = isvc.component_status(c);
    format!(
        "ready {}, traffic [{}], latest created {}, latest ready {}",
        dash(isvc.ready()),
        split_text(isvc, c),
        dash(s.lcr()),
        dash(s.lrr())
    )
}

/// The split in few columns, revisions by their number: `00002 10%, 00001 90% prev`.
pub fn short_split(isvc: &Isvc, c: Component) -> String {
    let s = isvc.component_status(c);
    let prefix = s.revision_prefix().unwrap_or_default();
    let entries: Vec<String> = s
        .traffic
        .iter()
        .map(|t| {
            let rev = t.revision().strip_prefix(prefix.as_str()).unwrap_or(t.revision());
            let tag = t.tag.as_deref().map(|g| format!(" {g}")).unwrap_or_default();
            format!("{} {}%{tag}", dash(rev), t.pct())
        })
        .collect();
    if entries.is_empty() { "none yet".to_string() } else { entries.join(", ") }
}

/// The split as status reports it: `rev:90%(prev) rev:10%`.
pub fn split_text(isvc: &Isvc, c: Component) -> String {
    let entries: Vec<String> = isvc
        .component_status(c)
        .traffic
        .iter()
        .map(|t| {
            format!("{}:{}%{}", t.revision(), t.pct(), t.tag.as_deref().map(|g| format!("({g})")).unwrap_or_default())
        })
        .collect();
    entries.join(" ")
}

/// `wait --for` on an InferenceService that was just read (no write of its own).
pub async fn wait_for(kube: &Kube, term: &Terminal, isvc: &Isvc, req: &WaitRequest) -> Result<Isvc> {
    Waiter::lazy(kube, isvc).run(term, req).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const R1: &str = "m-predictor-00001";
    const R2: &str = "m-predictor-00002";

    fn isvc(ctp: Option<i64>, comp: Value, conds_true: bool) -> Isvc {
        let status = if conds_true { "True" } else { "Unknown" };
        let mut predictor = json!({"model": {"storageUri": "gs://2"}});
        if let Some(p) = ctp {
            predictor["canaryTrafficPercent"] = json!(p);
        }
        Isvc::from_value(json!({"metadata": {"name": "m"}, "spec": {"predictor": predictor},
            "status": {"components": {"predictor": comp},
              "conditions": [{"type": "PredictorRouteReady", "status": status}, {"type": "IngressReady", "status": "True"}, {"type": "Ready", "status": status}]}}))
    }

    fn req(goal: Goal) -> WaitRequest {
        WaitRequest {
            component: Component::Predictor,
            goal,
            new_revision_after: None,
            limits: WaitLimits { timeout: Duration::from_secs(1), fail_window: Duration::from_secs(1) },
            guarded_spec: None,
        }
    }

    #[test]
    fn split_done_needs_latest_on_new_ready_revision() {
        let pending = isvc(
            Some(10),
            json!({"latestCreatedRevision": R2, "latestReadyRevision": R1, "latestRolledoutRevision": R1,
            "traffic": [{"latestRevision": true, "percent": 10, "revisionName": R1}, {"percent": 90, "revisionName": R1, "tag": "prev", "latestRevision": false}]}),
            true,
        );
        assert!(matches!(judge(&pending, &req(Goal::Split(10)), None), Verdict::Waiting(_)));
        let done = isvc(
            Some(10),
            json!({"latestCreatedRevision": R2, "latestReadyRevision": R2, "latestRolledoutRevision": R1,
            "traffic": [{"latestRevision": true, "percent": 10, "revisionName": R2}, {"percent": 90, "revisionName": R1, "tag": "prev", "latestRevision": false}]}),
            true,
        );
        assert_eq!(judge(&done, &req(Goal::Split(10)), None), Verdict::Done);
        let pods = vec![R2.to_string()];
        assert!(matches!(judge(&done, &req(Goal::Split(10)), Some(&pods)), Verdict::Waiting(p) if p.contains(R1)));
    }

    #[test]
    fn transient_rollback_pass_is_not_done() {
        // §4.5-6 pass 1: prev still names r2 (the new revision) at 100%.
        let pass1 = isvc(
            Some(0),
            json!({"latestCreatedRevision": R2, "latestReadyRevision": R2, "latestRolledoutRevision": R1,
            "previousRolledoutRevision": R1,
            "traffic": [{"latestRevision": true, "percent": 0, "revisionName": R2}, {"percent": 100, "revisionName": R2, "tag": "prev", "latestRevision": false}]}),
            true,
        );
        assert!(matches!(judge(&pass1, &req(Goal::Pinned(Some(R1.into()))), None), Verdict::Waiting(_)));
        let pass2 = isvc(
            Some(0),
            json!({"latestCreatedRevision": R2, "latestReadyRevision": R2, "latestRolledoutRevision": R1,
            "previousRolledoutRevision": R1,
            "traffic": [{"latestRevision": true, "percent": 0, "revisionName": R2}, {"percent": 100, "revisionName": R1, "tag": "prev", "latestRevision": false}]}),
            true,
        );
        assert_eq!(judge(&pass2, &req(Goal::Pinned(Some(R1.into()))), None), Verdict::Done);
    }

    #[test]
    fn promoted_needs_one_entry_and_markers() {
        let mid = isvc(
            None,
            json!({"latestCreatedRevision": R2, "latestReadyRevision": R2, "latestRolledoutRevision": R1,
            "traffic": [{"latestRevision": true, "percent": 100, "revisionName": R2}]}),
            true,
        );
        assert!(matches!(judge(&mid, &req(Goal::Promoted), None), Verdict::Waiting(_)));
        let done = isvc(
            None,
            json!({"latestCreatedRevision": R2, "latestReadyRevision": R2, "latestRolledoutRevision": R2,
            "traffic": [{"latestRevision": true, "percent": 100, "revisionName": R2}]}),
            true,
        );
        assert_eq!(judge(&done, &req(Goal::Promoted), None), Verdict::Done);
    }

    #[test]
    fn route_condition_must_be_true() {
        let done_but_route = isvc(
            None,
            json!({"latestCreatedRevision": R2, "latestReadyRevision": R2, "latestRolledoutRevision": R2,
            "traffic": [{"latestRevision": true, "percent": 100, "revisionName": R2}]}),
            false,
        );
        assert!(
            matches!(judge(&done_but_route, &req(Goal::Promoted), None), Verdict::Waiting(p) if p.contains("PredictorRouteReady"))
        );
    }

    #[test]
    fn template_change_needs_a_new_revision() {
        let same = isvc(
            None,
            json!({"latestCreatedRevision": R1, "latestReadyRevision": R1, "latestRolledoutRevision": R1,
            "traffic": [{"latestRevision": true, "percent": 100, "revisionName": R1}]}),
            true,
        );
        let mut r = req(Goal::Promoted);
        r.new_revision_after = Some(R1.into());
        assert!(matches!(judge(&same, &r, None), Verdict::Waiting(p) if p.contains("new revision")));
    }

    #[test]
    fn failed_load_is_a_failure_signal_only_for_the_needed_revision() {
        let mut raw = isvc(
            Some(10),
            json!({"latestCreatedRevision": R2, "latestReadyRevision": R1, "latestRolledoutRevision": R1}),
            true,
        )
        .raw;
        raw["status"]["modelStatus"] = json!({"transitionStatus": "BlockedByFailedLoad", "lastFailureInfo": {"reason": "ModelLoadFailed", "message": "x"}});
        let failing = Isvc::from_value(raw);
        let mut r = req(Goal::Split(10));
        r.new_revision_after = Some(R1.into());
        assert!(failure_signal(&failing, &r).unwrap().contains("ModelLoadFailed"));
        // Rolling back does not need r2: its failure is not this wait's failure.
        assert_eq!(failure_signal(&failing, &req(Goal::Pinned(None))), None);
        // A template change whose new revision does not exist yet: not concerned.
        r.new_revision_after = Some(R2.into());
        assert_eq!(failure_signal(&failing, &r), None);
    }

    #[test]
    fn a_ready_revision_that_crash_loops_is_a_failure_signal() {
        let mut raw = isvc(
            Some(10),
            json!({"latestCreatedRevision": R2, "latestReadyRevision": R2, "latestRolledoutRevision": R1}),
            false,
        )
        .raw;
        raw["status"]["modelStatus"] = json!({"transitionStatus": "BlockedByFailedLoad", "lastFailureInfo": {"reason": "ModelLoadFailed", "exitCode": 137}});
        let kserve_only = Isvc::from_value(raw.clone());
        // KServe's modelStatus alone (Knative still counts the revision healthy): no signal.
        assert_eq!(failure_signal(&kserve_only, &req(Goal::Promoted)), None);
        raw["status"]["conditions"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "PredictorConfigurationReady", "status": "False", "reason": "RevisionFailed"}));
        let crashing = Isvc::from_value(raw);
        assert_eq!(
            failure_signal(&crashing, &req(Goal::Promoted)).as_deref(),
            Some("m-predictor-00002 ModelLoadFailed: exit code 137")
        );
        assert_eq!(failure_signal(&crashing, &req(Goal::Pinned(None))), None);
    }

    #[test]
    fn short_split_names_revisions_by_number() {
        let i = isvc(
            Some(10),
            json!({"latestCreatedRevision": R2, "latestReadyRevision": R2, "latestRolledoutRevision": R1,
                "traffic": [{"latestRevision": true, "percent": 10, "revisionName": R2},
                            {"latestRevision": false, "percent": 90, "revisionName": R1, "tag": "prev"}]}),
            true,
        );
        assert_eq!(short_split(&i, Component::Predictor), "00002 10%, 00001 90% prev");
        assert_eq!(short_split(&isvc(None, json!({}), true), Component::Predictor), "none yet");
    }

    #[test]
    fn parses_for_values() {
        assert_eq!(Goal::parse("ready"), Ok(Goal::Ready));
        assert_eq!(Goal::parse("traffic=10"), Ok(Goal::Split(10)));
        assert_eq!(Goal::parse("traffic=0"), Ok(Goal::Pinned(None)));
        assert_eq!(Goal::parse("traffic=100"), Ok(Goal::Promoted));
        assert!(Goal::parse("traffic=101").is_err());
        assert!(Goal::parse("done").is_err());
    }

    #[test]
    fn ready_revisions_skip_terminating_and_unready_pods() {
        let list = json!({"items": [
            {"metadata": {"labels": {REVISION_LABEL: R1}}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}},
            {"metadata": {"labels": {REVISION_LABEL: R2}, "deletionTimestamp": "x"}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}},
            {"metadata": {"labels": {REVISION_LABEL: "r3"}}, "status": {"conditions": [{"type": "Ready", "status": "False"}]}}]});
        assert_eq!(ready_revisions(&list), vec![R1.to_string()]);
    }
}
