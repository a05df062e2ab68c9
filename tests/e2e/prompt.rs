//! A person at a terminal: the preview and the prompt appear (on a pseudo-terminal, through
//! util-linux `script`), declining exits 130 and changes nothing, accepting applies the change.

use std::time::Duration;

use crate::harness::{MODEL_1, Ns, owned_view};
use crate::proc::{Cmd, Output, has_line, plugin_bin};

/// Runs the plugin on a pseudo-terminal and types `answer` once it had time to ask.
fn on_a_terminal(ns: &Ns, args: &str, answer: &str) -> Output {
    let line = format!("{} --kubeconfig {} -n {} {args}", plugin_bin().display(), ns.cluster.admin, ns.name);
    // The answer is typed after a pause, as a person would (a pty drops type-ahead when the
    // prompt switches the terminal to raw mode).
    let shell = format!("(sleep 5; printf '{answer}'; sleep 5) | script -qec '{line}' /dev/null");
    Cmd::new("sh").args(["-c", &shell]).env("NO_COLOR", "1").limit(Duration::from_secs(120)).run()
}

/// What a terminal shows of `text`: escape sequences (cursor, clear line) dropped, and of a
/// line rewritten after a carriage return only what was written last.
fn screen(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let mut plain = String::new();
        let mut chars = line.strip_suffix('\r').unwrap_or(line).chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' && chars.peek() == Some(&'[') {
                // CSI: parameters and intermediates up to the final byte (@ to ~).
                chars.next();
                for f in chars.by_ref() {
                    if ('@'..='~').contains(&f) {
                        break;
                    }
                }
            } else {
                plain.push(c);
            }
        }
        out.push_str(plain.rsplit('\r').next().unwrap_or_default());
        out.push('\n');
    }
    out
}

#[track_caller]
fn shows_line(out: &Output, line: &str) {
    assert!(has_line(&screen(&out.stdout), line), "the terminal does not show the line {line:?}\n{}", out.describe());
}

#[test]
fn declining_the_prompt_exits_130_and_changes_nothing() {
    let ns = Ns::new("prompt-declined");
    ns.create_ready("iris", MODEL_1);
    let before = owned_view(&ns.get("iris"));
    let out = on_a_terminal(&ns, "set iris 20", "n");
    out.code(130);
    // On a terminal the preview and the question are shown before anything is written.
    let shown = screen(&out.stdout);
    assert!(
        shown.lines().any(|l| l.split_whitespace().eq(["BEFORE", "AFTER"])),
        "no BEFORE/AFTER preview\n{}",
        out.describe()
    );
    shows_line(&out, &format!("Apply to {}/iris? no", ns.name));
    shows_line(&out, "error: declined: nothing was changed");
    assert_eq!(owned_view(&ns.get("iris")), before, "{}", out.describe());
}

#[test]
fn accepting_the_prompt_applies_the_change() {
    let ns = Ns::new("prompt-accepted");
    ns.create_ready("iris", MODEL_1);
    let out = on_a_terminal(&ns, "set iris 20", "y");
    out.code(0);
    shows_line(&out, &format!("Apply to {}/iris? yes", ns.name));
    shows_line(&out, "inferenceservice.serving.kserve.io/iris canary set");
    assert_eq!(ns.get("iris")["spec"]["predictor"]["canaryTrafficPercent"], 20, "{}", out.describe());
}

#[test]
fn yes_skips_the_prompt_on_a_terminal() {
    let ns = Ns::new("prompt-yes");
    ns.create_ready("iris", MODEL_1);
    let out = on_a_terminal(&ns, "--yes set iris 30", "");
    out.code(0);
    assert!(!out.stdout.contains("Apply to"), "{}", out.describe());
    assert_eq!(ns.get("iris")["spec"]["predictor"]["canaryTrafficPercent"], 30, "{}", out.describe());
}
