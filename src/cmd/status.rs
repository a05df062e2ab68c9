//! `status [NAME]`: the InferenceService table exactly as `kubectl get isvc` prints it (the API
//! server renders it), then per component the split, the revisions with their models, the
//! conditions that are not True, and the pods of each revision as `kubectl get pods` shows them.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use anyhow::Result;
use futures::StreamExt;
use serde_json::{Value, json};

use super::Ctx;
use crate::cli::{OutputFormat, StatusArgs};
use crate::client::TablePage;
use crate::error::{Exit, exit_of, fail};
use crate::isvc::Isvc;
use crate::output::{ListWriter, TableWriter, render_table, to_json, to_yaml};
use crate::resolve::explain_not_found;
use crate::standard_view::StandardView;
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
    if args.name.is_none() {
        return stream(ctx, args).await;
    }
    let snapshot = Snapshot::read(ctx, args).await?;
    print!("{}", snapshot.render(ctx, args)?);
    Ok(Exit::Ok)
}

/// Views of one page read at once: each needs two requests (revisions and pods).
const CONCURRENT_VIEWS: usize = 8;

/// Everything `status` shows, read once.
struct Snapshot {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
    views: Vec<IsvcView>,
    /// For one InferenceService (named, or the only one): the revisions and why pods could not
    /// be listed.
    detail: Option<(Revisions, Option<String>)>,
    /// For one Standard-mode InferenceService: its variants, routing and pods.
    standard: Option<StandardView>,
}

impl Snapshot {
    async fn read(ctx: &Ctx, args: &StatusArgs) -> Result<Snapshot> {
        match &args.name {
            Some(name) => Snapshot::read_one(ctx, args, name).await,
            None => Snapshot::read_all(ctx, args).await,
        }
    }

    /// One InferenceService: its table, revisions and pods asked at once (the selector of its
    /// children is known from NAME).
    async fn read_one(ctx: &Ctx, args: &StatusArgs, name: &str) -> Result<Snapshot> {
        let kube = &ctx.kube;
        let ns = kube.namespace.as_str();
        let wide = ctx.output() == Some(OutputFormat::Wide);
        let selector = crate::isvc::pod_selector(name);
        let (table, revisions, pods) =
            tokio::join!(kube.isvc_table(ns, name), kube.list_revisions(ns, &selector), kube.pod_table(ns, &selector));
        let table = match table {
            Ok(t) => t,
            Err(e) if exit_of(&e) == Exit::NotFound => return Err(explain_not_found(kube, &e, Some(name)).await),
            Err(e) => return Err(e),
        };
        let (headers, rows) = view::isvc_rows(&table, args.all_namespaces, wide);
        let (revisions, pods, pods_note) = children(revisions, pods);
        let views =
            table.rows.iter().map(|row| view::build(&Isvc::from_value(row.object()), &revisions, &pods)).collect();
        let standard = match table.rows.first().map(|row| Isvc::from_value(row.object())) {
            Some(isvc) if super::standard::is_standard(&isvc) => Some(read_standard(ctx, &isvc).await),
            _ => None,
        };
        Ok(Snapshot { headers, rows, views, detail: Some((revisions, pods_note)), standard })
    }

    /// Every InferenceService of the scope, page after page, held whole (`--watch` compares one
    /// reading with the next).
    async fn read_all(ctx: &Ctx, args: &StatusArgs) -> Result<Snapshot> {
        let wide = ctx.output() == Some(OutputFormat::Wide);
        let structured = matches!(ctx.output(), Some(OutputFormat::Json | OutputFormat::Yaml));
        let mut pages = Pages::new(ctx, args, structured);
        let mut snapshot =
            Snapshot { headers: Vec::new(), rows: Vec::new(), views: Vec::new(), detail: None, standard: None };
        let mut objects = Vec::new();
        while let Some(page) = pages.next().await? {
            let (headers, rows) = view::isvc_rows(&page, args.all_namespaces, wide);
            snapshot.headers = headers;
            snapshot.rows.extend(rows);
            objects.extend(page.rows.iter().map(crate::client::TableRow::object));
        }
        let one = only_one(args, objects.len(), None);
        if one || structured {
            for object in objects {
                let isvc = Isvc::from_value(object);
                let (revisions, pods, pods_note) = read_children(ctx, &isvc).await;
                snapshot.views.push(view::build(&isvc, &revisions, &pods));
                if one {
                    snapshot.detail = Some((revisions, pods_note));
                    if super::standard::is_standard(&isvc) {
                        snapshot.standard = Some(read_standard(ctx, &isvc).await);
                    }
                }
            }
        }
        Ok(snapshot)
    }

    fn render(&self, ctx: &Ctx, args: &StatusArgs) -> Result<String> {
        let no_headers = ctx.global.no_headers;
        match ctx.output() {
            Some(OutputFormat::Json) => to_json(&self.structured(args)),
            Some(OutputFormat::Yaml) => to_yaml(&self.structured(args)),
            _ => {
                if self.rows.is_empty() {
                    no_resources(ctx, args);
                    return Ok(String::new());
                }
                let headers: Vec<&str> = self.headers.iter().map(String::as_str).collect();
                let mut out = render_table(&headers, &self.rows, no_headers);
                if let Some(standard) = &self.standard {
                    out.push_str(&crate::standard_view::render(standard, no_headers));
                } else if let (Some(view), Some((revisions, pods_note))) = (self.views.first(), &self.detail) {
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
            (Some(_), Some(v)) => {
                let mut value = serde_json::to_value(v).unwrap_or(Value::Null);
                if let (Some(standard), Some(obj)) = (&self.standard, value.as_object_mut()) {
                    obj.insert("standard".to_string(), serde_json::to_value(standard).unwrap_or(Value::Null));
                }
                value
            }
            _ => json!({"apiVersion": "v1", "kind": "List", "items": self.views}),
        }
    }
}

/// "No resources found", on stderr, as kubectl says it.
fn no_resources(ctx: &Ctx, args: &StatusArgs) {
    let scope = if args.all_namespaces { String::new() } else { format!(" in {} namespace", ctx.kube.namespace) };
    eprintln!("No resources found{scope}.");
}

/// Whether the one InferenceService listed is shown in detail: the only one in the namespace
/// (as the mutations pick it), not the only one a selector or -A left; `more` is the next
/// page's token when the count is of one page.
fn only_one(args: &StatusArgs, count: usize, more: Option<&str>) -> bool {
    args.selector.is_none() && !args.all_namespaces && count == 1 && more.is_none()
}

/// The pages of the InferenceService table (`limit`/`continue`), one request each.
struct Pages<'a> {
    ctx: &'a Ctx,
    args: &'a StatusArgs,
    /// `None` before the first page; then the next page's token, `None` once the last was read.
    next: Option<Option<String>>,
    /// Every page with its objects (views are built from them).
    full: bool,
}

impl<'a> Pages<'a> {
    fn new(ctx: &'a Ctx, args: &'a StatusArgs, full: bool) -> Pages<'a> {
        Pages { ctx, args, next: None, full }
    }

    async fn next(&mut self) -> Result<Option<TablePage>> {
        let token = match &self.next {
            None => None,
            Some(None) => return Ok(None),
            Some(Some(token)) => Some(token.as_str()),
        };
        let kube = &self.ctx.kube;
        let ns = (!self.args.all_namespaces).then_some(kube.namespace.as_str());
        // The objects are needed for the views (`-o json|yaml`), and on the first page for the
        // only InferenceService of a namespace (shown in detail); a later page of the table needs
        // no more than the namespace of each row, under -A.
        let include = match (self.full, token, self.args.all_namespaces) {
            (true, _, _) | (_, None, _) => "Object",
            (false, Some(_), true) => "Metadata",
            (false, Some(_), false) => "None",
        };
        let page = match kube.isvc_table_page(ns, self.args.selector.as_deref(), token, include).await {
            Ok(page) => page,
            Err(e) if exit_of(&e) == Exit::NotFound => return Err(explain_not_found(kube, &e, None).await),
            Err(e) => return Err(e),
        };
        self.next = Some(page.next().map(str::to_string));
        Ok(Some(page))
    }
}

/// `status` without NAME (and without `--watch`): each page is printed as it arrives, and only
/// one page is held at a time. The table's columns are as wide as the widest cell seen so far
/// (contract, `status`); `-o json|yaml` writes the List one item at a time.
async fn stream(ctx: &Ctx, args: &StatusArgs) -> Result<Exit> {
    let format = ctx.output();
    let wide = format == Some(OutputFormat::Wide);
    let structured = matches!(format, Some(OutputFormat::Json | OutputFormat::Yaml));
    let mut pages = Pages::new(ctx, args, structured);
    let mut table: Option<TableWriter> = None;
    let mut list = match format {
        Some(OutputFormat::Json) => Some(ListWriter::json()),
        Some(OutputFormat::Yaml) => Some(ListWriter::yaml()),
        _ => None,
    };
    let mut first = true;
    let mut count = 0;
    while let Some(page) = pages.next().await? {
        if let Some(list) = &mut list {
            let mut views = futures::stream::iter(page.rows.iter().map(|row| async move {
                let isvc = Isvc::from_value(row.object());
                let (revisions, pods, _) = read_children(ctx, &isvc).await;
                view::build(&isvc, &revisions, &pods)
            }))
            .buffered(CONCURRENT_VIEWS);
            while let Some(view) = views.next().await {
                write_out(&list.item(&view)?)?;
            }
        } else if first && only_one(args, page.rows.len(), page.next()) {
            // The only InferenceService of the namespace: shown in detail, as with its NAME.
            let (headers, rows) = view::isvc_rows(&page, false, wide);
            let isvc = Isvc::from_value(page.rows[0].object());
            let (revisions, pods, pods_note) = read_children(ctx, &isvc).await;
            let views = vec![view::build(&isvc, &revisions, &pods)];
            let standard =
                if super::standard::is_standard(&isvc) { Some(read_standard(ctx, &isvc).await) } else { None };
            let snapshot = Snapshot { headers, rows, views, detail: Some((revisions, pods_note)), standard };
            write_out(&snapshot.render(ctx, args)?)?;
            return Ok(Exit::Ok);
        } else {
            let (headers, rows) = view::isvc_rows(&page, args.all_namespaces, wide);
            if !rows.is_empty() {
                let table = table.get_or_insert_with(|| TableWriter::new(headers, ctx.global.no_headers));
                write_out(&table.page(&rows))?;
            }
        }
        count += page.rows.len();
        first = false;
    }
    match &list {
        Some(list) => write_out(&list.end()?)?,
        None if count == 0 => no_resources(ctx, args),
        None => {}
    }
    Ok(Exit::Ok)
}

/// Writes to stdout at once (a page is shown as soon as it is rendered).
fn write_out(text: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(())
}

/// Revisions (for models) and pods of one InferenceService, asked at once; unreadable parts are
/// said, not fatal.
async fn read_children(ctx: &Ctx, isvc: &Isvc) -> (Revisions, Vec<PodView>, Option<String>) {
    let kube = &ctx.kube;
    let selector = crate::isvc::pod_selector(&isvc.name);
    let (revisions, pods) =
        tokio::join!(kube.list_revisions(&isvc.namespace, &selector), kube.pod_table(&isvc.namespace, &selector));
    children(revisions, pods)
}

/// A Standard-mode InferenceService's variants: its predictor Deployments, the route KServe wrote
/// (the HTTPRoute `{isvc}`, else the Ingress `{isvc}`, else unknown) and the pods of each
/// variant. Unreadable parts are said, not fatal.
async fn read_standard(ctx: &Ctx, isvc: &Isvc) -> StandardView {
    use crate::standard::{DeploymentState, deployment_name, variant_pod_selector};
    use crate::standard_view::RouteSource;
    let (kube, ns, name) = (&ctx.kube, isvc.namespace.as_str(), isvc.name.as_str());
    let deployments = match kube.list_deployments(ns, &super::standard::deployment_selector(name)).await {
        Ok(items) => items.iter().map(DeploymentState::from_value).collect(),
        Err(e) => {
            ctx.term.warn(&format!("Deployments {}", reason(&e, "list deployments.apps")));
            Vec::new()
        }
    };
    let route = match kube.get_httproute(ns, name).await {
        Ok(object) => RouteSource::HttpRoute { name: name.to_string(), object },
        Err(route_err) => match kube.get_ingress(ns, name).await {
            Ok(object) => RouteSource::Ingress { name: name.to_string(), object },
            Err(ingress_err) => RouteSource::Unknown(format!(
                "neither the HTTPRoute {name} ({}) nor the Ingress {name} ({}) could be read",
                short_reason(&route_err),
                short_reason(&ingress_err)
            )),
        },
    };
    let mut variants: Vec<Option<String>> = vec![isvc.predictor_name().map(str::to_string)];
    variants.extend(isvc.canaries().into_iter().map(|c| Some(c.name)));
    let mut pods = Vec::new();
    let mut pods_note = None;
    for v in variants {
        match kube.pod_table(ns, &variant_pod_selector(name, v.as_deref())).await {
            Ok(table) => pods.push((deployment_name(name, v.as_deref()), view::pods_from_table(&table))),
            Err(e) => pods_note = Some(reason(&e, "list pods")),
        }
    }
    crate::standard_view::build(isvc, &deployments, &route, &pods, pods_note)
}

fn short_reason(err: &anyhow::Error) -> String {
    match exit_of(err) {
        Exit::NotFound => "not found".to_string(),
        Exit::Forbidden => "forbidden".to_string(),
        _ => format!("{err:#}"),
    }
}

/// The answers to the revisions and pods requests, each error said rather than fatal.
fn children(revisions: Result<Vec<Value>>, pods: Result<Value>) -> (Revisions, Vec<PodView>, Option<String>) {
    let revisions = match revisions {
        Ok(items) => Revisions::from_list(&items, jiff::Timestamp::now()),
        Err(e) => {
            Revisions { unreadable: Some(reason(&e, "list revisions.serving.knative.dev")), ..Default::default() }
        }
    };
    let (pods, note) = match pods {
        Ok(table) => (view::pods_from_table(&table), None),
        Err(e) => (Vec::new(), Some(reason(&e, "list pods"))),
    };
    (revisions, pods, note)
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
