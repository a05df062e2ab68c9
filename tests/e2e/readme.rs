//! README.md's walk-through, run as a reader pastes it: every `$ ` line of the section's console
//! blocks, in order, in bash, against the test cluster. The sandbox's namespace `kserve-test`
//! becomes the test's own, the sandbox's ingress address (the section's `export` lines) the test
//! cluster's; sklearn-iris is created first as the sandbox creates it. Each command must exit 0,
//! or with the code the README shows on the `$ echo $?` line after it, and print the result lines
//! the README shows (`inferenceservice.serving.kserve.io/…`, `HTTP/…`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::harness::{MODEL_1, Ns};
use crate::proc::{Cmd, plugin_bin};

/// The sandbox's namespace, as the README names it.
const SANDBOX_NS: &str = "kserve-test";
/// The InferenceService the sandbox creates (tests/world/cmd/world/sandbox.go).
const NAME: &str = "sklearn-iris";
/// The section has 17 commands; fewer than this means the extraction or the section broke.
const MIN_COMMANDS: usize = 15;

/// One `$ ` line of the walk-through and what the README shows after it.
#[derive(Debug)]
struct Step {
    command: String,
    /// The code on the `$ echo $?` line right after it; 0 when there is none.
    exit: i32,
    output: Vec<String>,
}

/// The walk-through section: from `## Walk-through` to the next `## ` heading.
fn section(readme: &str) -> &str {
    let start =
        readme.find("\n## Walk-through").unwrap_or_else(|| panic!("README.md has no `## Walk-through` section"));
    let body = &readme[start + 1..];
    let end = body[3..].find("\n## ").map(|i| i + 4).unwrap_or(body.len());
    &body[..end]
}

/// The lines of the section's ```console blocks, block by block.
fn console_blocks(section: &str) -> Vec<Vec<&str>> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in section.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```console") => current = Some(Vec::new()),
            (Some(_), "```") => blocks.extend(current.take()),
            (Some(block), _) => block.push(line),
            (None, _) => {}
        }
    }
    assert!(current.is_none(), "a ```console block of the walk-through is not closed");
    blocks
}

/// The commands in order; a `$ echo $?` line sets the exit code of the command before it.
fn steps(section: &str) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    for block in console_blocks(section) {
        let mut lines = block.into_iter().peekable();
        while let Some(line) = lines.next() {
            let Some(command) = line.strip_prefix("$ ") else { continue };
            let mut output = Vec::new();
            while let Some(next) = lines.next_if(|l| !l.starts_with("$ ")) {
                output.push(next.to_string());
            }
            if command.trim() == "echo $?" {
                let shown = output.iter().find(|l| !l.trim().is_empty()).map(|l| l.trim()).unwrap_or_default();
                let code = shown.parse().unwrap_or_else(|_| panic!("`$ echo $?` shows {shown:?}, not an exit code"));
                let previous = steps.last_mut().unwrap_or_else(|| panic!("`$ echo $?` comes before any command"));
                previous.exit = code;
                continue;
            }
            steps.push(Step { command: command.to_string(), exit: 0, output });
        }
    }
    steps
}

/// The value of `export NAME=…` in the section.
fn exported(section: &str, name: &str) -> String {
    let prefix = format!("export {name}=");
    section
        .lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .unwrap_or_else(|| panic!("the walk-through has no `{prefix}…` line"))
        .trim()
        .to_string()
}

/// A README text with the sandbox's namespace and ingress address replaced by the test's.
fn localize(text: &str, ns: &str, readme_ingress: &str, ingress: &str) -> String {
    text.replace(SANDBOX_NS, ns).replace(readme_ingress, ingress)
}

/// The README's result lines that must appear in the real output (namespace replaced): they are
/// the same on every run, unlike AGE columns, pod hashes or dates.
fn result_lines(step: &Step) -> Vec<String> {
    step.output
        .iter()
        .map(|l| l.trim().to_string())
        .filter(|l| l.starts_with("inferenceservice.serving.kserve.io/") || l.starts_with("HTTP/"))
        .collect()
}

#[test]
fn readme_walk_through_runs_as_shown() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).expect("read README.md");
    let section = section(&readme);
    let steps = steps(section);
    assert!(
        steps.len() >= MIN_COMMANDS,
        "found {} `$ ` commands in the README's walk-through, expected at least {MIN_COMMANDS}: {steps:#?}",
        steps.len()
    );
    assert!(steps.iter().any(|s| s.exit != 0), "no command of the walk-through shows a failing exit code");
    let readme_ingress = format!("{}:{}", exported(section, "INGRESS_HOST"), exported(section, "INGRESS_PORT"));

    let ns = Ns::new("readme-walk-through");
    let (host, port) = ns.cluster.ingress.split_once(':').unwrap_or_else(|| panic!("ingress {}", ns.cluster.ingress));

    // sklearn-iris exactly as the sandbox creates it (the API, not `kubectl apply`), Ready.
    let isvc = format!(
        "apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata:\n  name: {NAME}\n  namespace: {}\n\
         spec:\n  predictor:\n    model:\n      modelFormat:\n        name: sklearn\n      storageUri: {MODEL_1}\n",
        ns.name
    );
    Cmd::new("kubectl")
        .env_remove("KUBECONFIG")
        .args(["--kubeconfig", ns.cluster.admin.as_str(), "create", "-f", "-"])
        .stdin(isvc.into_bytes())
        .run()
        .ok();
    ns.wait_rolled_out(NAME);

    // The reader's folder: KServe's example input is there; examples/ is the clone's.
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("readme-{}", ns.name));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the walk-through's folder");
    std::fs::write(dir.join("iris-input.json"), r#"{"instances": [[6.8, 2.8, 4.8, 1.4], [6.0, 3.4, 4.5, 1.6]]}"#)
        .expect("write iris-input.json");
    let bin_dir = plugin_bin().parent().map(Path::to_path_buf).expect("the plugin's folder");
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());

    let total = steps.len();
    let mut done = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let mut command = localize(&step.command, &ns.name, &readme_ingress, &ns.cluster.ingress);
        if command.starts_with("examples/") || command.starts_with("tests/") {
            command = format!("{}/{command}", root.display());
        }
        if step.command.contains("curl ") {
            assert!(
                command.contains(ns.cluster.ingress.as_str()),
                "the README's curl line does not use the sandbox's ingress {readme_ingress} (its export lines):\n$ {}",
                step.command
            );
        }
        // A shell per line, as pasted: stderr interleaved with stdout, in the reader's folder.
        let out = Cmd::new("bash")
            .arg("-c")
            .arg(format!("exec 2>&1\ncd \"$README_WALK_DIR\" || exit 125\n{command}"))
            .env("README_WALK_DIR", dir.display().to_string())
            .env("PATH", path.as_str())
            .env("KUBECONFIG", ns.cluster.admin.as_str())
            .env("INGRESS_HOST", host)
            .env("INGRESS_PORT", port)
            .limit(Duration::from_secs(600))
            .run();
        let missing: Vec<String> = result_lines(step)
            .iter()
            .map(|l| localize(l, &ns.name, &readme_ingress, &ns.cluster.ingress))
            .filter(|want| !out.stdout.lines().any(|l| l.trim() == want))
            .collect();
        if out.code != Some(step.exit) || !missing.is_empty() {
            panic!(
                "README walk-through, command {} of {total}, does not do what the README shows\n\
                 $ {}\nrun as (namespace {}, cwd {}):\n$ {command}\n\
                 exit code: {:?}{} (the README shows {})\nlines the README shows that are missing: {missing:#?}\n\
                 --- output (stdout and stderr):\n{}--- the commands before it, all as shown:\n{}",
                i + 1,
                step.command,
                ns.name,
                dir.display(),
                out.code,
                if out.timed_out { " (killed: time limit)" } else { "" },
                step.exit,
                out.stdout,
                done.join("\n")
            );
        }
        done.push(format!("$ {command}  (exit {})", step.exit));
    }
    let _ = std::fs::remove_dir_all(&dir);
}
