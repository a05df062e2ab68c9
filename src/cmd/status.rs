//! `status [NAME]`: the InferenceService table exactly as `kubectl get isvc` prints it (the API
//! server renders it), then per component the split, the revisions with their models, the
//! conditions that are not True, and the pods of each revision as `kubectl get pods` shows them.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use anyhow::Result;
use serde_json::{Value, json};

use super::Ctx;
use crate::cli::{OutputFormat, StatusArgs};
use crate::error::{Exit, exit_of, fail};
use crate::isvc::Isvc;
use crate::output::{render_table, to_json, to_yaml};
use crate::resolve::explain_not_found;
use crate::view::{self, IsvcView, PodView, Revisions};

pub async fn run(ctx: &Ctx, args: &StatusArgs) -> Result<Exit> {
    if args.all_namespaces && args.name.is_some() {
        return Err(fail(Exit::Usage, "NAME cannot be combined with -A (pass -n NAMESPACE instead)"));
    }
    if let Some(name) = &args.name {
        crate::names::check_name(name)?;
    }
    if args.watch {
        return watch(ctx, args).await;
    }
    let snapshot = Snapshot::read(ctx, args).await?;
    print!("{}", snapshot.render(ctx, args)?);
    Ok(Exit::Ok)
}

/// Everything `status` shows, read once.
struct Snapshot {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
    views: Vec<IsvcView>,
    /// For one InferenceService (named, or the only one): the revisions and why pods could not
    /// be listed.
    detail: Option<(Revisions, Option<String>)>,
}

impl Snapshot {
    async fn read(ctx: &Ctx, args: &StatusArgs) -> Result<Snapshot> {
        let kube = &ctx.kube;
        let ns = (!args.all_namespaces).then_some(kube.namespace.as_str());
        let wide = ctx.output() == Some(OutputFormat::Wide);
        let table = match kube.isvc_table(ns, args.name.as_deref(), args.selector.as_deref()).await {
            Ok(t) => t,
            Err(e) if exit_of(&e) == Exit::NotFound => {
                return Err(explain_not_found(kube, &e, args.name.as_deref()).await);
            }
            Err(e) => return Err(e),
        };
        let (headers, rows, objects) = view::isvc_rows(&table, args.all_namespaces, wide);
        let structured = matches!(ctx.output(), Some(OutputFormat::Json | OutputFormat::Yaml));
        let mut views = Vec::new();
        let mut detail = None;
        // One InferenceService is shown in detail: the named one, or the only one in the
        // namespace (as the mutations pick it; not the only one a selector or -A left).
        let only_one = args.selector.is_none() && !args.all_namespaces && objects.len() == 1;
        let one = args.name.is_some() || only_one;
        if one || structured {
            for object in objects {
                let isvc = Isvc::from_value(object);
                let (revisions, pods, pods_note) = read_children(ctx, &isvc).await?;
                views.push(view::build(&isvc, &revisions, &pods));
                if one {
                    detail = Some((revisions, pods_note));
                }
            }
        }
        Ok(Snapshot { headers, rows, views, detail })
    }

    fn render(&self, ctx: &Ctx, args: &StatusArgs) -> Result<String> {
        let no_headers = ctx.global.no_headers;
        match ctx.output() {
            Some(OutputFormat::Json) => to_json(&self.structured(args)),
            Some(OutputFormat::Yaml) => to_yaml(&self.structured(args)),
            _ => {
                if self.rows.is_empty() {
                    let scope = if args.all_namespaces {
                        String::new()
                    } else {
                        format!(" in {} namespace", ctx.kube.namespace)
                    };
                    eprintln!("No resources found{scope}.");
                    return Ok(String::new());
                }
                let headers: Vec<&str> = self.headers.iter().map(String::as_str).collect();
                let mut out = render_table(&headers, &self.rows, no_headers);
                if let (Some(view), Some((revisions, pods_note))) = (self.views.first(), &self.detail) {
                    out.push_str(&view::render_details(
                        view,
                        revisions,
                        pods_note.as_deref(),
                        no_headers,
                        ctx.output() == Some(OutputFormat::Wide),
                        ctx.term.color && std::io::stdout().is_terminal(),
                    ));
                }
                Ok(out)
            }
        }
    }

    fn structured(&self, args: &StatusArgs) -> Value {
        match (&args.name, self.views.first()) {
            (Some(_), Some(v)) => serde_json::to_value(v).unwrap_or(Value::Null),
            _ => json!({"apiVersion": "v1", "kind": "List", "items": self.views}),
        }
    }
}

/// Revisions (for models) and pods of one InferenceService; unreadable parts are said, not fatal.
async fn read_children(ctx: &Ctx, isvc: &Isvc) -> Result<(Revisions, Vec<PodView>, Option<String>)> {
    let kube = &ctx.kube;
    let selector = crate::isvc::pod_selector(&isvc.name);
    let revisions = match kube.list_revisions(&isvc.namespace, &selector).await {
        Ok(items) => Revisions::from_list(&items, jiff::Timestamp::now()),
        Err(e) => {
            Revisions { unreadable: Some(reason(&e, "list revisions.serving.knative.dev")), ..Default::default() }
        }
    };
    let (pods, note) = match kube.pod_table(&isvc.namespace, &selector).await {
        Ok(table) => (view::pods_from_table(&table), None),
        Err(e) => (Vec::new(), Some(reason(&e, "list pods"))),
    };
    Ok((revisions, pods, note))
}

fn reason(err: &anyhow::Error, permission: &str) -> String {
    if exit_of(err) == Exit::Forbidden {
        format!("cannot be listed: missing permission to {permission} (forbidden)")
    } else {
        format!("cannot be listed: {err:#}")
    }
}

/// `status --watch`: redraw in place on a terminal, else one line (or JSON object) per change.
///
/// On a terminal each change replaces the previous frame (`Redraw`): the screen then shows what
/// one `status` run would show, at any width. A warning printed between frames is covered by the
/// next one, which is drawn as soon as the reads succeed again.
async fn watch(ctx: &Ctx, args: &StatusArgs) -> Result<Exit> {
    let tty = std::io::stdout().is_terminal();
    let in_place = tty && ctx.output().is_none();
    // stderr's lines land among the frames only when it is the same terminal.
    let stderr_tty = std::io::stderr().is_terminal();
    let json = ctx.output() == Some(OutputFormat::Json);
    let mut last_key: Option<Value> = None;
    let mut redraw = crate::terminal::Redraw::default();
    // One Ctrl-C listener for the whole watch, installed before the first read, so that a
    // Ctrl-C during a read is not lost.
    let mut interrupted = crate::terminal::ctrl_c();
    loop {
        let snapshot = Snapshot::read(ctx, &StatusArgs { watch: false, ..args.clone() }).await;
        let snapshot = match snapshot {
            Ok(s) => s,
            Err(e) if exit_of(&e) == Exit::Failure => {
                let warning = format!("warning: {} (retrying)\n", crate::output::sanitize(&format!("{e:#}")));
                let _ = std::io::stderr().write_all(warning.as_bytes());
                if in_place && stderr_tty {
                    redraw.count(&warning);
                    last_key = None;
                }
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(2)) => {}
                    _ = &mut interrupted => return Ok(end_watch(in_place)),
                }
                continue;
            }
            Err(e) => return Err(e),
        };
        let key = change_key(&snapshot);
        if last_key.as_ref() != Some(&key) {
            let mut stdout = std::io::stdout().lock();
            let now = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
            if json {
                for v in &snapshot.views {
                    let mut obj = serde_json::to_value(v)?;
                    obj["observedAt"] = Value::from(now.clone());
                    writeln!(stdout, "{}", serde_json::to_string(&obj)?)?;
                }
            } else if in_place {
                // Back to the top of the previous frame (and what followed it) and clear it, then
                // the new frame. Rendering may print "No resources found" on stderr: after the
                // clear, and counted as part of the frame.
                write!(stdout, "{}", redraw.top(crate::terminal::stdout_width()))?;
                stdout.flush()?;
                let text = snapshot.render(ctx, args)?;
                if snapshot.rows.is_empty() && stderr_tty {
                    redraw.count("No resources found\n");
                }
                write!(stdout, "{text}")?;
                redraw.count(&text);
            } else {
                for v in &snapshot.views {
                    writeln!(stdout, "{}", watch_line(&now, v))?;
                }
                if snapshot.views.is_empty() {
                    // Without NAME (table only): one line per row change.
                    for row in &snapshot.rows {
                        writeln!(stdout, "{now} {}", row.join(" "))?;
                    }
                }
            }
            stdout.flush()?;
            last_key = Some(key);
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(700)) => {}
            _ = &mut interrupted => return Ok(end_watch(in_place)),
        }
    }
}

/// Ctrl-C ends the watch with exit 0. Redrawing in place, the last frame stays as it is and the
/// terminal's `^C` echo under it is wiped, so that the prompt that follows starts on a clean line.
fn end_watch(in_place: bool) -> Exit {
    if in_place {
        let mut stdout = std::io::stdout();
        let _ = stdout.write_all(b"\r\x1b[K\x1b[?25h");
        let _ = stdout.flush();
    }
    Exit::Ok
}

/// What counts as a change: the views and rows without AGE.
fn change_key(s: &Snapshot) -> Value {
    let age = s.headers.iter().position(|h| h == "AGE");
    let rows: Vec<Vec<String>> = s
        .rows
        .iter()
        .map(|r| r.iter().enumerate().filter(|(i, _)| Some(*i) != age).map(|(_, c)| c.clone()).collect())
        .collect();
    let mut views = serde_json::to_value(&s.views).unwrap_or(Value::Null);
    if let Some(items) = views.as_array_mut() {
        for v in items {
            if let Some(components) = v.get_mut("components").and_then(Value::as_object_mut) {
                for c in components.values_mut() {
                    if let Some(pods) = c.get_mut("pods").and_then(Value::as_array_mut) {
                        for p in pods {
                            p.as_object_mut().map(|o| o.remove("age"));
                        }
                    }
                }
            }
        }
    }
    json!({"rows": rows, "views": views})
}

/// `observedAt name ready latest-revision:percent prev-revision:percent`.
fn watch_line(now: &str, v: &IsvcView) -> String {
    let p = v.components.get("predictor");
    let entry = |want_latest: bool| {
        p.and_then(|c| c.traffic.iter().find(|t| if want_latest { t.latest } else { t.tag.as_deref() == Some("prev") }))
            .map_or_else(|| "-".to_string(), |t| format!("{}:{}", t.revision, t.percent))
    };
    format!("{now} {} {} {} {}", v.name, if v.ready.is_empty() { "-" } else { &v.ready }, entry(true), entry(false))
}
