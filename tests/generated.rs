//! Generated files: `completions/` and `man/` come from the clap definition (and the completion
//! engine's scripts); the committed copies must equal what the code generates.
//!
//! Regenerate them with:
//!
//!     UPDATE_GENERATED=1 cargo test --test generated
//!
//! This target also checks the krew manifest template (`plugins/isvc-canary.yaml`) and its
//! generator (`plugins/render.sh`), that the man pages render without groff warnings (needs
//! `groff`, from man-db's groff-base), and drives the bash, zsh and fish scripts in those shells
//! (needs `zsh` and `fish` installed; bash, sh, tar and sha256sum too).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use clap::CommandFactory;
use isvc_canary::cli::{Cli, EXIT_CODES_HELP};
use isvc_canary::complete;

const BIN: &str = env!("CARGO_BIN_EXE_kubectl-isvc_canary");
const REGENERATE: &str = "UPDATE_GENERATED=1 cargo test --test generated";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

// ---------------------------------------------------------------------------------------------
// Man pages.

/// Roff text: escapes backslashes and dashes, and protects a leading dot or quote.
fn roff(text: &str) -> String {
    let mut out = text.replace('\\', "\\e").replace('-', "\\-");
    if out.starts_with('.') || out.starts_with('\'') {
        out.insert_str(0, "\\&");
    }
    out
}

/// The lines of a block of `after_help` text: the indented lines after `heading`.
fn block<'a>(text: &'a str, heading: &str) -> Vec<&'a str> {
    text.lines()
        .skip_while(|l| l.trim() != heading)
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
}

/// `"0    done"` → `("0", "done")`.
fn term(line: &str) -> (&str, &str) {
    match line.split_once(char::is_whitespace) {
        Some((k, v)) => (k, v.trim()),
        None => (line, ""),
    }
}

fn exit_status_section() -> String {
    let mut s = String::from(".SH \"EXIT STATUS\"\n.PD 0\n");
    for line in block(EXIT_CODES_HELP, "Exit codes:") {
        let (code, text) = term(line);
        let _ = write!(s, ".TP 6\n\\fB{}\\fR\n{}\n", roff(code), roff(text));
    }
    s.push_str(".PD\n");
    s
}

/// Environment variables: those the clap help lists, then the ones only some commands read.
fn environment_section() -> String {
    let mut vars: Vec<(String, String)> = block(EXIT_CODES_HELP, "Environment:")
        .into_iter()
        .map(|l| {
            let (k, v) = term(l);
            (k.to_string(), v.to_string())
        })
        .collect();
    vars.push(("INGRESS_HOST".into(), "host (or IP) of the ingress gateway, used in the curl commands that tag-routing prints (default: the literal ${INGRESS_HOST})".into()));
    vars.push((
        "INGRESS_PORT".into(),
        "port of the ingress gateway for those curl commands (default: the literal ${INGRESS_PORT})".into(),
    ));
    vars.push((complete::DEBUG_ENV.into(), "when set, shell completion explains on stderr why it offered nothing (a kubeconfig, connection or permission error)".into()));
    let mut s = String::from(".SH ENVIRONMENT\n");
    for (k, v) in vars {
        let _ = write!(s, ".TP\n\\fB{}\\fR\n{}\n", roff(&k), roff(&v));
    }
    s
}

fn examples_section(lines: &[&str]) -> String {
    if lines.is_empty() {
        return String::new();
    }
    let mut s = String::from(".SH EXAMPLES\n.RS 4\n.nf\n");
    for l in lines {
        let _ = writeln!(s, "{}", roff(l));
    }
    s.push_str(".fi\n.RE\n");
    s
}

/// Examples of a subcommand: its `after_help` "Examples:" block, or a few written here for the
/// commands whose help carries none.
fn examples_of(cmd: &clap::Command) -> Vec<String> {
    let after = cmd.get_after_help().map(|h| h.to_string()).unwrap_or_default();
    let mut lines: Vec<String> = block(&after, "Examples:").into_iter().map(str::to_string).collect();
    if lines.is_empty() && cmd.get_name() == "completion" {
        lines = vec![
            "source <(kubectl-isvc_canary completion bash)".into(),
            "kubectl-isvc_canary completion zsh > \"${fpath[1]}/_kubectl-isvc_canary\"".into(),
            "kubectl-isvc_canary completion fish > ~/.config/fish/completions/kubectl-isvc_canary.fish".into(),
            "# for `kubectl isvc-canary <TAB>`: kubectl_complete-isvc_canary on PATH".into(),
        ];
    }
    lines
}

fn see_also(names: &[String], this: &str) -> String {
    let mut refs: Vec<String> =
        names.iter().filter(|n| n.as_str() != this).map(|n| format!("\\fB{}\\fR(1)", roff(n))).collect();
    refs.push("\\fBkubectl\\fR(1)".into());
    format!(".SH \"SEE ALSO\"\n{}\n", refs.join(", "))
}

fn render_page(
    man: &clap_mangen::Man,
    cmd: &clap::Command,
    examples: &[String],
    names: &[String],
    this: &str,
) -> String {
    let mut buf: Vec<u8> = format!(
        ".\\\" Generated from the clap definition by tests/generated.rs; do not edit.\n.\\\" Regenerate: {REGENERATE}\n"
    )
    .into_bytes();
    man.render_title(&mut buf).unwrap();
    man.render_name_section(&mut buf).unwrap();
    man.render_synopsis_section(&mut buf).unwrap();
    man.render_description_section(&mut buf).unwrap();
    man.render_options_section(&mut buf).unwrap();
    if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
        man.render_subcommands_section(&mut buf).unwrap();
    }
    let mut page = String::from_utf8(buf).unwrap();
    let refs: Vec<&str> = examples.iter().map(String::as_str).collect();
    page.push_str(&examples_section(&refs));
    page.push_str(&exit_status_section());
    page.push_str(&environment_section());
    page.push_str(&see_also(names, this));
    let mut version = Vec::new();
    man.render_version_section(&mut version).unwrap();
    page.push_str(&String::from_utf8(version).unwrap());
    page
}

/// `man/kubectl-isvc_canary.1` and one page per visible subcommand.
fn man_pages() -> Vec<(String, String)> {
    let mut cmd = Cli::command();
    cmd.build();
    let bin = cmd.get_name().to_string();
    let subs: Vec<&clap::Command> = cmd.get_subcommands().filter(|s| !s.is_hide_set()).collect();
    let mut names = vec![bin.clone()];
    names.extend(subs.iter().map(|s| format!("{bin}-{}", s.get_name())));

    let mut pages = Vec::new();
    // The root page: one example from each subcommand that has some.
    let examples: Vec<String> = subs.iter().filter_map(|s| examples_of(s).into_iter().next()).collect();
    let man = clap_mangen::Man::new(cmd.clone()).title(bin.to_uppercase()).manual("kubectl plugins");
    pages.push((format!("{bin}.1"), render_page(&man, &cmd, &examples, &names, &bin)));
    for sub in subs {
        let name = format!("{bin}-{}", sub.get_name());
        let page_cmd = sub.clone().display_name(name.clone()).version(env!("CARGO_PKG_VERSION"));
        let man = clap_mangen::Man::new(page_cmd.clone())
            .title(name.to_uppercase())
            .manual("kubectl plugins")
            .source(format!("{bin} {}", env!("CARGO_PKG_VERSION")));
        pages.push((format!("{name}.1"), render_page(&man, &page_cmd, &examples_of(sub), &names, &name)));
    }
    pages
}

// ---------------------------------------------------------------------------------------------
// The committed copies.

struct Generated {
    path: PathBuf,
    content: String,
    executable: bool,
}

fn generated() -> Vec<Generated> {
    let mut out = Vec::new();
    for (name, content, executable) in complete::completion_files() {
        out.push(Generated { path: PathBuf::from("completions").join(name), content, executable });
    }
    for (name, content) in man_pages() {
        out.push(Generated { path: PathBuf::from("man").join(name), content, executable: false });
    }
    out
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 == 0o111)
}

#[cfg(unix)]
fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn committed_completions_and_man_pages_are_fresh() {
    let update = std::env::var("UPDATE_GENERATED").is_ok_and(|v| v == "1");
    let files = generated();
    let mut problems = Vec::new();
    for dir in ["completions", "man"] {
        let dir_path = root().join(dir);
        if update {
            std::fs::create_dir_all(&dir_path).unwrap();
        }
        // Files nobody generates any more.
        for entry in std::fs::read_dir(&dir_path).into_iter().flatten().flatten() {
            let rel = PathBuf::from(dir).join(entry.file_name());
            if !files.iter().any(|f| f.path == rel) {
                if update {
                    std::fs::remove_file(entry.path()).unwrap();
                } else {
                    problems.push(format!("{} is not generated any more", rel.display()));
                }
            }
        }
    }
    for f in &files {
        let path = root().join(&f.path);
        if update {
            std::fs::write(&path, &f.content).unwrap();
            if f.executable {
                make_executable(&path);
            }
            continue;
        }
        match std::fs::read_to_string(&path) {
            Err(_) => problems.push(format!("{} is missing", f.path.display())),
            Ok(committed) if committed != f.content => {
                let line = committed
                    .lines()
                    .zip(f.content.lines())
                    .position(|(a, b)| a != b)
                    .map_or_else(|| "at the end".to_string(), |i| format!("from line {}", i + 1));
                problems.push(format!("{} is stale (differs {line})", f.path.display()));
            }
            Ok(_) => {}
        }
        if f.executable && !is_executable(&path) {
            problems.push(format!("{} is not executable", f.path.display()));
        }
    }
    assert!(
        problems.is_empty(),
        "the committed generated files differ from what the code generates:\n  {}\nregenerate them with `{REGENERATE}` and commit completions/ and man/",
        problems.join("\n  ")
    );
}

#[test]
fn completion_subcommand_prints_the_committed_scripts() {
    for (shell, file) in [
        ("bash", "kubectl-isvc_canary.bash"),
        ("zsh", "_kubectl-isvc_canary"),
        ("fish", "kubectl-isvc_canary.fish"),
        ("powershell", "kubectl-isvc_canary.ps1"),
    ] {
        let out = Command::new(BIN).args(["completion", shell]).stdin(Stdio::null()).output().unwrap();
        assert!(out.status.success(), "completion {shell}: {}", String::from_utf8_lossy(&out.stderr));
        let generated = complete::completion_files().into_iter().find(|(n, _, _)| n == file).unwrap().1;
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            generated,
            "completion {shell} differs from completions/{file}"
        );
    }
}

#[test]
fn man_pages_have_the_sections_and_render_cleanly() {
    let pages = man_pages();
    let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
    for want in [
        "kubectl-isvc_canary.1",
        "kubectl-isvc_canary-set.1",
        "kubectl-isvc_canary-promote.1",
        "kubectl-isvc_canary-rollback.1",
        "kubectl-isvc_canary-tag-routing.1",
        "kubectl-isvc_canary-status.1",
        "kubectl-isvc_canary-wait.1",
        "kubectl-isvc_canary-completion.1",
        "kubectl-isvc_canary-version.1",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    assert!(!names.iter().any(|n| n.contains("__")), "a hidden subcommand has a page: {names:?}");
    for (name, page) in &pages {
        for section in [".SH NAME", ".SH SYNOPSIS", ".SH OPTIONS", ".SH \"EXIT STATUS\"", ".SH ENVIRONMENT"] {
            assert!(page.contains(section), "{name} lacks {section}");
        }
        for var in ["KUBECONFIG", "NO_COLOR", "INGRESS_HOST", "INGRESS_PORT"] {
            assert!(page.contains(&roff(var)), "{name} does not mention {var}");
        }
        assert!(page.contains("\\fB130\\fR"), "{name}: the exit-code table is incomplete");
        if name != "kubectl-isvc_canary-version.1" {
            assert!(page.contains(".SH EXAMPLES"), "{name} lacks EXAMPLES");
        }
    }
    // groff, as man uses it: no warnings, and the text is there.
    let dir = root().join("man");
    for (name, _) in &pages {
        let path = dir.join(name);
        if !path.exists() {
            continue; // reported by the freshness test
        }
        let out = Command::new("groff")
            .args(["-man", "-Tutf8", "-ww"])
            .arg(&path)
            .env("GROFF_NO_SGR", "1")
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run groff ({e}): install man-db (groff-base) to check the man pages"));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && stderr.trim().is_empty(), "groff on {name}: {stderr}");
        // Without SGR, groff emboldens by overstriking (`X\bX`): keep the last of each pair.
        let raw: Vec<char> = String::from_utf8_lossy(&out.stdout).chars().collect();
        let mut text = String::new();
        for (i, c) in raw.iter().enumerate() {
            if *c != '\u{8}' && raw.get(i + 1) != Some(&'\u{8}') {
                text.push(*c);
            }
        }
        for heading in ["NAME", "SYNOPSIS", "OPTIONS", "EXIT STATUS", "ENVIRONMENT"] {
            assert!(text.lines().any(|l| l == heading), "{name} renders without {heading}:\n{text}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The bash script, driven as bash drives it.

fn bash_complete(line: &str, comp_words: &[&str]) -> Vec<String> {
    let dir = Path::new(BIN).parent().unwrap();
    let script = root().join("completions").join("kubectl-isvc_canary.bash");
    let words: Vec<String> = comp_words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source '{}'\nCOMP_LINE='{line}'\nCOMP_POINT=${{#COMP_LINE}}\nCOMP_WORDS=({})\nCOMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))\n_kubectl_isvc_canary\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script.display(),
        words.join(" ")
    );
    let path = format!("{}:{}", dir.display(), std::env::var("PATH").unwrap_or_default());
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program])
        .env("PATH", path)
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .stdin(Stdio::null())
        .output()
        .expect("bash");
    assert!(out.status.success(), "bash: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().filter(|l| !l.is_empty()).map(str::to_string).collect()
}

#[test]
fn bash_script_completes_through_the_engine() {
    assert_eq!(bash_complete("kubectl-isvc_canary pro", &["kubectl-isvc_canary", "pro"]), vec!["promote"]);
    assert_eq!(
        bash_complete("kubectl-isvc_canary status -o ", &["kubectl-isvc_canary", "status", "-o", ""]),
        vec!["json", "yaml", "wide"]
    );
    // `-o` offers only what the command prints.
    assert_eq!(
        bash_complete("kubectl-isvc_canary set 10 -o ", &["kubectl-isvc_canary", "set", "10", "-o", ""]),
        vec!["json", "yaml", "name"]
    );
    // bash splits `--for=r` at `=`: the reply replaces only `r`.
    assert_eq!(
        bash_complete("kubectl-isvc_canary wait --for=r", &["kubectl-isvc_canary", "wait", "--for", "=", "r"]),
        vec!["ready", "rolled-back"]
    );
    assert_eq!(
        bash_complete("kubectl-isvc_canary wait --for=", &["kubectl-isvc_canary", "wait", "--for", "="]),
        vec!["ready", "promoted", "rolled-back", "traffic="]
    );
    assert_eq!(bash_complete("kubectl-isvc_canary --nam", &["kubectl-isvc_canary", "--nam"]), vec!["--namespace"]);
    // No kubeconfig: live names fail quietly.
    assert!(bash_complete("kubectl-isvc_canary status ", &["kubectl-isvc_canary", "status", ""]).is_empty());
}

/// PATH with the built binary first.
fn path_with_bin() -> String {
    let dir = Path::new(BIN).parent().unwrap();
    format!("{}:{}", dir.display(), std::env::var("PATH").unwrap_or_default())
}

fn shell_output(shell: &str, args: &[&str]) -> String {
    let out = Command::new(shell)
        .args(args)
        .env("PATH", path_with_bin())
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {shell} ({e}): install it (apt-get install zsh fish) to test its completion script")
        });
    assert!(out.status.success(), "{shell}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn fish_script_completes_through_the_engine() {
    let script = root().join("completions").join("kubectl-isvc_canary.fish");
    let program = format!(
        "source '{}'\nfor line in 'kubectl-isvc_canary pro' 'kubectl-isvc_canary wait --for=r' 'kubectl-isvc_canary wait --for=t' 'kubectl-isvc_canary status --kubeconfig {}/Cargo.t'\n  complete -C \"$line\"\n  echo ---\nend\n",
        script.display(),
        root().display()
    );
    let text = shell_output("fish", &["--no-config", "-c", &program]);
    let blocks: Vec<Vec<&str>> = text.split("---\n").map(|b| b.lines().collect()).collect();
    assert!(blocks[0].len() == 1 && blocks[0][0].starts_with("promote\tSend 100%"), "{text}");
    assert_eq!(blocks[1], vec!["--for=ready", "--for=rolled-back"], "{text}");
    // No space after `traffic=`: a second, longer candidate keeps fish from adding one.
    assert_eq!(blocks[2], vec!["--for=traffic=", "--for=traffic=."], "{text}");
    // Files where a file goes.
    assert_eq!(blocks[3], vec![format!("{}/Cargo.toml", root().display())], "{text}");
}

#[test]
fn zsh_script_completes_through_the_engine() {
    // The completion system's `_describe` and `_files` replaced by stubs that print what they get.
    let script = root().join("completions").join("_kubectl-isvc_canary");
    let program = format!(
        r#"_describe() {{ print -r -- "describe ${{@[1,4]}}"; print -rl -- "${{(@P)4}}"; }}
_files() {{ print files; }}
compdef() {{ :; }}
source '{}'
words=(kubectl-isvc_canary st); CURRENT=2; _kubectl_isvc_canary; print -r -- ---
words=(kubectl-isvc_canary wait --for=t); CURRENT=3; _kubectl_isvc_canary; print -r -- ---
words=(kubectl-isvc_canary status --kubeconfig ''); CURRENT=4; _kubectl_isvc_canary; print -r -- ---
words=(kubectl-isvc_canary status ''); CURRENT=3; _kubectl_isvc_canary || print nothing
"#,
        script.display()
    );
    let text = shell_output("zsh", &["-f", "-c", &program]);
    let blocks: Vec<Vec<&str>> = text.split("---\n").map(|b| b.lines().collect()).collect();
    assert_eq!(blocks[0].len(), 2, "{text}");
    assert!(blocks[0][1].starts_with("status:Show the InferenceService table"), "{text}");
    assert_eq!(blocks[1], vec!["describe -t values completions comps", "--for=traffic="], "{text}");
    assert_eq!(blocks[2], vec!["files"], "{text}");
    assert_eq!(blocks[3], vec!["nothing"], "{text}");
}

#[test]
fn kubectl_helper_runs_the_engine_with_stdin_closed() {
    let dir = Path::new(BIN).parent().unwrap();
    let path = format!("{}:{}", dir.display(), std::env::var("PATH").unwrap_or_default());
    let out = Command::new(root().join("completions").join(complete::KUBECTL_HELPER))
        .args(["status", "--"])
        .env("PATH", path)
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.lines().any(|l| l.starts_with("--all-namespaces\t")), "{text}");
    assert!(text.ends_with("\n:4\n"), "{text}");
    assert!(out.stderr.is_empty(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn live_lookups_fail_quietly_and_fast() {
    // A kubeconfig pointing at a port nothing listens on; and one whose server never answers.
    let tmp = tempdir("complete-live");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent = listener.local_addr().unwrap();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    for (label, addr) in [("closed port", closed), ("silent server", silent)] {
        let kubeconfig = tmp.join(format!("{}.yaml", label.replace(' ', "-")));
        std::fs::write(
            &kubeconfig,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://{addr}\ncontexts:\n- name: ctx-a\n  context: {{cluster: c, user: u}}\n- name: ctx-b\n  context: {{cluster: c, user: u, namespace: x}}\ncurrent-context: ctx-a\nusers:\n- name: u\n  user: {{token: t}}\n"
            ),
        )
        .unwrap();
        let started = std::time::Instant::now();
        let out = Command::new(BIN)
            .args(["__complete", "--", "status", "--kubeconfig"])
            .arg(&kubeconfig)
            .arg("")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let took = started.elapsed();
        assert!(out.status.success(), "{label}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), ":4\n", "{label}");
        assert!(out.stderr.is_empty(), "{label}: stderr {}", String::from_utf8_lossy(&out.stderr));
        assert!(
            took < std::time::Duration::from_millis(3000),
            "{label}: took {took:?} (the budget is 1 s, plus process start)"
        );

        // Contexts come from the kubeconfig, with no API call.
        let out = Command::new(BIN)
            .args(["__complete", "--", "--kubeconfig"])
            .arg(&kubeconfig)
            .args(["status", "--context", "ctx-"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "ctx-a\nctx-b\n:4\n");
    }
    drop(listener);
}

/// A stand-in API server that answers every request with `body` (200, JSON) and records the
/// request lines it got.
fn answering_server(body: String) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            let head = String::from_utf8_lossy(&buf);
            log.lock().unwrap().push(head.lines().next().unwrap_or_default().to_string());
            let resp = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(resp.as_bytes());
        }
    });
    (format!("http://{addr}"), seen)
}

#[test]
fn expect_revision_completes_the_revisions_of_the_named_service() {
    let object = serde_json::json!({"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
        "metadata": {"name": "sklearn-iris", "namespace": "ns1"},
        "status": {"components": {"predictor": {
            "latestCreatedRevision": "sklearn-iris-predictor-00002",
            "latestReadyRevision": "sklearn-iris-predictor-00002",
            "latestRolledoutRevision": "sklearn-iris-predictor-00001",
            "traffic": [
                {"revisionName": "sklearn-iris-predictor-00002", "percent": 10, "latestRevision": true},
                {"revisionName": "sklearn-iris-predictor-00001", "percent": 90, "latestRevision": false}]}}}});
    let tmp = tempdir("complete-revisions");
    for (label, body, words, want_path) in [
        (
            "named",
            object.to_string(),
            vec!["promote", "sklearn-iris", "--expect-revision", ""],
            "/apis/serving.kserve.io/v1beta1/namespaces/ns1/inferenceservices/sklearn-iris ",
        ),
        (
            "the only one",
            serde_json::json!({"kind": "InferenceServiceList", "metadata": {}, "items": [object]}).to_string(),
            vec!["set", "10", "--expect-revision=sk"],
            "/apis/serving.kserve.io/v1beta1/namespaces/ns1/inferenceservices?limit=2 ",
        ),
    ] {
        let (server, seen) = answering_server(body);
        let kubeconfig = tmp.join(format!("{}.yaml", label.replace(' ', "-")));
        std::fs::write(
            &kubeconfig,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server}\ncontexts:\n- name: ctx\n  context: {{cluster: c, user: u, namespace: ns1}}\ncurrent-context: ctx\nusers:\n- name: u\n  user: {{token: t}}\n"
            ),
        )
        .unwrap();
        let out = Command::new(BIN)
            .args(["__complete", "--", "--kubeconfig"])
            .arg(&kubeconfig)
            .args(&words)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "{label}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "sklearn-iris-predictor-00002\tlatest created, latest ready, 10%\n\
             sklearn-iris-predictor-00001\tlatest rolled out, 90%\n:4\n",
            "{label}"
        );
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 1, "{label}: one request, got {seen:?}");
        assert!(seen[0].starts_with("GET ") && seen[0].contains(want_path), "{label}: {seen:?}");
    }
}

#[cfg(unix)]
#[test]
fn exec_credential_plugins_never_prompt_nor_hold_the_answer() {
    let tmp = tempdir("complete-exec");
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = server.local_addr().unwrap();
    let info = tmp.join("exec-info.json");
    // One plugin records what it was told and tries to read a password; one never finishes.
    let prompting = tmp.join("prompting.sh");
    std::fs::write(
        &prompting,
        format!(
            "#!/bin/sh\nprintf '%s' \"$KUBERNETES_EXEC_INFO\" > '{}'\nread -r password || echo 'no stdin' >&2\necho '{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"t\"}}}}'\n",
            info.display()
        ),
    )
    .unwrap();
    let hanging = tmp.join("hanging.sh");
    std::fs::write(&hanging, "#!/bin/sh\nexec sleep 20\n").unwrap();
    for script in [&prompting, &hanging] {
        make_executable(script);
    }
    for (label, plugin) in [("prompting", &prompting), ("hanging", &hanging)] {
        let kubeconfig = tmp.join(format!("{label}.yaml"));
        std::fs::write(
            &kubeconfig,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://{addr}\ncontexts:\n- name: c\n  context: {{cluster: c, user: u}}\ncurrent-context: c\nusers:\n- name: u\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {}\n      interactiveMode: Always\n",
                plugin.display()
            ),
        )
        .unwrap();
        let started = std::time::Instant::now();
        // stdin is a terminal-less pipe that stays open: a plugin reading it would wait forever.
        let mut child = Command::new(BIN)
            .args(["__complete", "--", "status", "--kubeconfig"])
            .arg(&kubeconfig)
            .arg("")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let _stdin = child.stdin.take();
        let out = child.wait_with_output().unwrap();
        let took = started.elapsed();
        assert!(out.status.success(), "{label}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), ":4\n", "{label}");
        assert!(out.stderr.is_empty(), "{label}: stderr {}", String::from_utf8_lossy(&out.stderr));
        assert!(
            took < std::time::Duration::from_millis(3000),
            "{label}: took {took:?} (the budget is 1 s, plus process start)"
        );
    }
    let told = std::fs::read_to_string(&info).expect("the exec plugin ran");
    assert!(told.contains("\"interactive\":false"), "exec plugin was not told it cannot prompt: {told}");
    drop(server);
}

fn tempdir(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("isvc-canary-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

// ---------------------------------------------------------------------------------------------
// krew.

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Manifest {
    api_version: String,
    kind: String,
    metadata: BTreeMap<String, String>,
    spec: Spec,
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Spec {
    version: String,
    homepage: String,
    short_description: String,
    description: String,
    caveats: String,
    platforms: Vec<Platform>,
}

#[derive(Debug, serde::Deserialize)]
struct Platform {
    selector: Selector,
    uri: String,
    sha256: String,
    bin: String,
    files: Vec<FileOp>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Selector {
    match_labels: BTreeMap<String, String>,
}

#[derive(Debug, serde::Deserialize)]
struct FileOp {
    from: String,
    to: String,
}

const PLATFORMS: &[(&str, &str)] =
    &[("linux", "amd64"), ("linux", "arm64"), ("darwin", "amd64"), ("darwin", "arm64"), ("windows", "amd64")];

/// Fields of the template and of a rendered manifest; `rendered` checks the filled-in values too.
fn check_manifest(m: &Manifest, rendered: bool) {
    assert_eq!(m.api_version, "krew.googlecontainertools.github.com/v1alpha2");
    assert_eq!(m.kind, "Plugin");
    assert_eq!(m.metadata.get("name").map(String::as_str), Some("isvc-canary"));
    if rendered {
        assert!(m.spec.homepage.starts_with("https://"), "homepage {}", m.spec.homepage);
    } else {
        assert_eq!(m.spec.homepage, "@HOMEPAGE@");
    }
    assert!(
        !m.spec.short_description.is_empty() && m.spec.short_description.len() <= 50,
        "shortDescription: a few words"
    );
    assert!(m.spec.description.contains("InferenceService"));
    assert!(m.spec.caveats.contains(complete::KUBECTL_HELPER), "the caveats must tell about the completion helper");
    let mut seen = Vec::new();
    for p in &m.spec.platforms {
        let os = p.selector.match_labels.get("os").expect("os").as_str();
        let arch = p.selector.match_labels.get("arch").expect("arch").as_str();
        seen.push((os.to_string(), arch.to_string()));
        let exe = if os == "windows" { ".exe" } else { "" };
        assert_eq!(p.bin, format!("{BIN_NAME}{exe}"), "{os}/{arch}: bin must be the binary kubectl looks for");
        assert!(p.files.iter().any(|f| f.from == p.bin && f.to == "."), "{os}/{arch}: the binary is not installed");
        assert!(p.files.iter().any(|f| f.from == "LICENSE"), "{os}/{arch}: LICENSE is not installed");
        if os != "windows" {
            assert!(
                p.files.iter().any(|f| f.from == complete::KUBECTL_HELPER),
                "{os}/{arch}: the completion helper is not installed"
            );
        }
        if rendered {
            assert!(p.uri.starts_with("https://"), "{os}/{arch}: uri {}", p.uri);
            assert!(p.uri.contains(&format!("_{os}_{arch}.")), "{os}/{arch}: uri {}", p.uri);
        } else {
            assert_eq!(p.uri, format!("@URI_{}_{}@", os.to_uppercase(), arch.to_uppercase()));
        }
    }
    for (os, arch) in PLATFORMS {
        assert!(seen.contains(&(os.to_string(), arch.to_string())), "no platform {os}/{arch}");
    }
}

const BIN_NAME: &str = "kubectl-isvc_canary";

#[test]
fn krew_template_has_every_field_and_no_fake_sha256() {
    let text = std::fs::read_to_string(root().join("plugins/isvc-canary.yaml")).unwrap();
    let m: Manifest = serde_saphyr::from_str(&text).expect("plugins/isvc-canary.yaml parses");
    check_manifest(&m, false);
    assert_eq!(m.spec.version, "@VERSION@", "the template keeps the version placeholder");
    for p in &m.spec.platforms {
        assert!(
            p.sha256.starts_with('@') && p.sha256.ends_with('@'),
            "the template keeps sha256 placeholders: {}",
            p.sha256
        );
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn krew_render_fills_version_urls_and_sha256_from_archives() {
    let tmp = tempdir("krew");
    let stage = tmp.join("stage");
    std::fs::create_dir_all(&stage).unwrap();
    for (name, body) in [(BIN_NAME, "binary"), (complete::KUBECTL_HELPER, "#!/bin/sh\n"), ("LICENSE", "Apache-2.0")] {
        std::fs::write(stage.join(name), body).unwrap();
    }
    let mut archives = Vec::new();
    for (os, arch) in PLATFORMS {
        let archive = if *os == "windows" {
            let exe = format!("{BIN_NAME}.exe");
            std::fs::copy(stage.join(BIN_NAME), stage.join(&exe)).unwrap();
            // The content does not matter to the generator: any file gets its sha256.
            let path = tmp.join(format!("isvc-canary_v1.2.3_{os}_{arch}.zip"));
            std::fs::write(&path, format!("zip for {os}/{arch}")).unwrap();
            path
        } else {
            let path = tmp.join(format!("isvc-canary_v1.2.3_{os}_{arch}.tar.gz"));
            let status = Command::new("tar")
                .arg("-czf")
                .arg(&path)
                .arg("-C")
                .arg(&stage)
                .args([BIN_NAME, complete::KUBECTL_HELPER, "LICENSE"])
                .status()
                .unwrap();
            assert!(status.success());
            path
        };
        archives.push(archive);
    }
    let out = Command::new("sh")
        .arg(root().join("plugins/render.sh"))
        .args(["--version", "v1.2.3", "--url-base", "https://example.invalid/releases/download/v1.2.3/"])
        .args(["--homepage", "https://example.invalid/isvc-canary"])
        .args(&archives)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "render.sh: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains('@'), "placeholders left:\n{text}");
    let m: Manifest = serde_saphyr::from_str(&text).expect("the rendered manifest parses");
    check_manifest(&m, true);
    assert_eq!(m.spec.version, "v1.2.3");
    assert!(m.spec.caveats.contains("v1.2.3"), "the caveats name the installed version's folder");
    for p in &m.spec.platforms {
        let os = &p.selector.match_labels["os"];
        let arch = &p.selector.match_labels["arch"];
        let archive = archives
            .iter()
            .find(|a| {
                let n = a.file_name().unwrap().to_string_lossy();
                n.contains(&format!("_{os}_{arch}."))
            })
            .unwrap();
        let name = archive.file_name().unwrap().to_string_lossy();
        assert_eq!(p.uri, format!("https://example.invalid/releases/download/v1.2.3/{name}"));
        assert_eq!(p.sha256, sha256_hex(&std::fs::read(archive).unwrap()), "{os}/{arch}");
    }

    // A missing archive is an error, not a manifest with a hole.
    let out = Command::new("sh")
        .arg(root().join("plugins/render.sh"))
        .args([
            "--version",
            "v1.2.3",
            "--url-base",
            "https://example.invalid/x",
            "--homepage",
            "https://example.invalid/",
        ])
        .arg(&archives[0])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success(), "render.sh accepted a missing platform");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no archive"), "{}", String::from_utf8_lossy(&out.stderr));
    let _ = std::fs::remove_dir_all(&tmp);
}
