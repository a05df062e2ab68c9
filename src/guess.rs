//! Usage errors that guess what was meant. Pure: the words typed and the clap tree, nothing read
//! from the cluster. `main` runs [`check`] before clap parses, so each of these mistakes ends
//! with one line that says what to type instead (exit 2), before any request:
//!
//! - `--dry-run client`: the mode of a flag whose value needs `=`, typed as the next word
//!   (clap would take `client` for a positional: NAME, PERCENT or an extra word);
//! - a URI where NAME or PERCENT goes (`set 10 gs://b/model`): the `--model-uri` was forgotten;
//! - more positional words than the command takes: the first extra one is named;
//! - `set sklearn-iris`: the one word cannot be a percent but can be a name, so PERCENT is
//!   missing (no need to ask the cluster whether the name exists).

use clap::{Arg, CommandFactory};

use crate::cli::{Cli, USAGE_PREFIX};
use crate::rules::validate_model_uri;

/// A positional word, and the flag typed bare just before it when that flag's value needs `=`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Word<'a> {
    text: &'a str,
    after_bare: Option<String>,
}

/// What the words say, as far as guessing needs: the subcommand and its positional words.
#[derive(Debug, Default)]
struct Line<'a> {
    /// The subcommand's name (not an alias); `None` before one is named.
    command: Option<String>,
    positionals: Vec<Word<'a>>,
    /// `-h`/`--help`/`-V`/`--version` was typed: clap answers, nothing is guessed.
    asks_help: bool,
    /// A hidden subcommand (`__complete`) takes any words.
    hidden: bool,
}

/// The one-line message for a mistake in `args` (the words after the program name), or `None`
/// when nothing looks wrong (clap and the command then check the rest).
pub fn check(args: &[String]) -> Option<String> {
    let mut tree = Cli::command();
    tree.build();
    let line = read_line(&tree, args);
    if line.asks_help || line.hidden {
        return None;
    }
    let command = line.command.as_deref()?;
    let node = tree.find_subcommand(command)?;
    let words = &line.positionals;

    // `--dry-run client`: the mode was meant for the flag.
    for w in words {
        if let Some(flag) = &w.after_bare {
            return Some(format!("{flag} takes its value after '=': use {flag}={}", w.text));
        }
    }
    // A URI where NAME or PERCENT goes.
    let takes_name = node.get_positionals().any(|a| a.get_id() == "name");
    if let Some(uri) = words.iter().map(|w| w.text).find(|w| takes_name && is_uri(w)) {
        return Some(if command == "set" {
            format!("'{uri}' is not a NAME or PERCENT: did you mean --model-uri {uri}?")
        } else {
            format!(
                "'{uri}' is not an InferenceService name: a new model is set with \
                 `{USAGE_PREFIX} set [NAME] PERCENT --model-uri {uri}`"
            )
        });
    }
    // More words than the command takes.
    let max: usize = node.get_positionals().map(|a| a.get_num_args().map_or(1, |r| r.max_values())).sum();
    if let Some(extra) = words.get(max) {
        return Some(format!("unexpected argument '{}': usage: {}", extra.text, usage(node)));
    }
    // `set NAME` (or nothing): PERCENT is missing.
    if command == "set" {
        match words.as_slice() {
            [] => return Some(format!("PERCENT is missing: {USAGE_PREFIX} set [NAME] PERCENT")),
            [only] if could_be_name(only.text) => {
                return Some(format!("PERCENT is missing: {USAGE_PREFIX} set {} PERCENT", only.text));
            }
            _ => {}
        }
    }
    if command == "tag-routing" && words.is_empty() {
        return Some(format!("on or off is missing: {USAGE_PREFIX} tag-routing [NAME] on|off"));
    }
    None
}

/// A clap usage error on one line, as the contract wants every error: its first line, then what
/// it lists (possible values, the missing arguments, a similar value), without the usage block.
pub fn one_line(rendered: &str) -> String {
    let mut lines = rendered.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or_default().trim_start_matches("error:").trim().to_string();
    let more: Vec<&str> = lines
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .filter(|l| !l.starts_with("tip: to pass"))
        .collect();
    let text = if more.is_empty() { first } else { format!("{} {}", first, more.join("; ")) };
    format!("{text} (see --help)")
}

/// Whether `word` is a URI as `--model-uri` takes it (`scheme://rest`).
pub fn is_uri(word: &str) -> bool {
    validate_model_uri(word).is_ok()
}

/// Whether `word` can be an InferenceService name: a DNS-1123 label that starts with a letter
/// (KServe's `[a-z]([-a-z0-9]*[a-z0-9])?`), so never a number.
pub fn could_be_name(word: &str) -> bool {
    let b = word.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_lowercase()
        && b[b.len() - 1] != b'-'
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

/// The usage line of a subcommand, without clap's "Usage: ".
fn usage(node: &clap::Command) -> String {
    match node.get_overridden_usage() {
        Some(u) => u.to_string(),
        None => format!("{USAGE_PREFIX} {} [flags]", node.get_name()),
    }
}

/// Splits `args` as clap will: flags (and the word a flag takes as its value), the subcommand,
/// positional words. Unknown flags are skipped (clap reports them).
fn read_line<'a>(tree: &clap::Command, args: &'a [String]) -> Line<'a> {
    let mut line = Line::default();
    let mut node = tree;
    let mut takes_next = false;
    let mut bare: Option<String> = None;
    let mut options_ended = false;
    for word in args {
        let word = word.as_str();
        let after_bare = bare.take();
        if takes_next {
            takes_next = false;
            continue;
        }
        if !options_ended && word == "--" {
            options_ended = true;
            continue;
        }
        if !options_ended && let Some((name, inline)) = crate::cli::long_flag(word) {
            if matches!(name, "help" | "version") {
                line.asks_help = true;
            }
            if let Some(arg) = node.get_arguments().find(|a| a.get_long() == Some(name))
                && inline.is_none()
            {
                if value_in_next_word(arg) {
                    takes_next = true;
                } else if arg.is_require_equals_set() {
                    bare = Some(format!("--{name}"));
                }
            }
            continue;
        }
        if !options_ended && word.len() > 1 && word.starts_with('-') && !is_number(word) {
            // A cluster of short flags; the first one that takes a value takes the rest.
            for (i, c) in word[1..].char_indices() {
                if matches!(c, 'h' | 'V') {
                    line.asks_help = true;
                }
                let Some(arg) = node.get_arguments().find(|a| a.get_short() == Some(c)) else { break };
                if arg.get_action().takes_values() {
                    takes_next = word.len() == i + 2 && value_in_next_word(arg);
                    break;
                }
            }
            continue;
        }
        if line.command.is_none()
            && line.positionals.is_empty()
            && let Some(sub) = node.find_subcommand(word)
        {
            line.command = Some(sub.get_name().to_string());
            line.hidden = sub.is_hide_set();
            node = sub;
            continue;
        }
        let after_bare = after_bare.filter(|flag| flag_takes(node, flag, word));
        line.positionals.push(Word { text: word, after_bare });
    }
    line
}

/// Whether a flag reads its value from the next word (`--flag VALUE`), as clap would.
fn value_in_next_word(arg: &Arg) -> bool {
    arg.get_action().takes_values() && !arg.is_require_equals_set()
}

/// Whether `word` is one of the values `flag` (a long flag, `--name`) accepts.
fn flag_takes(node: &clap::Command, flag: &str, word: &str) -> bool {
    node.get_arguments()
        .find(|a| a.get_long() == flag.strip_prefix("--"))
        .is_some_and(|a| a.get_possible_values().iter().any(|v| v.matches(word, false)))
}

fn is_number(word: &str) -> bool {
    word[1..].parse::<f64>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guess(line: &str) -> Option<String> {
        let args: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        check(&args)
    }

    #[test]
    fn a_uri_where_percent_or_name_goes_is_a_forgotten_model_uri() {
        for line in ["set 10 gs://b/model", "set gs://b/model 10", "set x 10 gs://b/model", "canary 10 s3://m/v3"] {
            let uri = line.split(' ').find(|w| w.contains("://")).unwrap();
            assert_eq!(
                guess(line).as_deref(),
                Some(format!("'{uri}' is not a NAME or PERCENT: did you mean --model-uri {uri}?").as_str()),
                "{line}"
            );
        }
        let m = guess("promote gs://b/model").unwrap();
        assert!(
            m.contains("not an InferenceService name") && m.contains("set [NAME] PERCENT --model-uri gs://b/model")
        );
        // The value of --model-uri is not a positional.
        assert_eq!(guess("set 10 --model-uri gs://b/model"), None);
        assert_eq!(guess("set 10 --model-uri=gs://b/model"), None);
    }

    #[test]
    fn a_mode_after_a_bare_dry_run_wants_the_equals_sign() {
        for (line, want) in [
            ("set x 10 --dry-run client", "use --dry-run=client"),
            ("set 10 --dry-run server", "use --dry-run=server"),
            ("promote --dry-run client", "use --dry-run=client"),
            ("rollback x --dry-run server", "use --dry-run=server"),
            ("tag-routing x on --dry-run client", "use --dry-run=client"),
            ("-n ns set x 10 --dry-run client --wait", "use --dry-run=client"),
        ] {
            let m = guess(line).unwrap_or_else(|| panic!("{line}: no guess"));
            assert!(m.ends_with(want) && m.starts_with("--dry-run takes its value after '='"), "{line}: {m}");
        }
        // Not a mode: an ordinary positional after the flag.
        assert_eq!(guess("promote --dry-run sklearn-iris"), None);
        assert_eq!(guess("set --dry-run x 10"), None);
        assert_eq!(guess("set x 10 --dry-run=client"), None);
        assert_eq!(guess("set x 10 --dry-run"), None);
    }

    #[test]
    fn too_many_words_name_the_first_extra_one() {
        assert_eq!(
            guess("set a 10 extra").as_deref(),
            Some("unexpected argument 'extra': usage: kubectl isvc-canary set [NAME] PERCENT [flags]")
        );
        assert_eq!(
            guess("promote a b").as_deref(),
            Some("unexpected argument 'b': usage: kubectl isvc-canary promote [NAME] [flags]")
        );
        assert!(guess("tag-routing a on off").unwrap().starts_with("unexpected argument 'off'"));
        assert!(guess("version x").unwrap().starts_with("unexpected argument 'x'"));
        assert!(guess("completion bash zsh").unwrap().starts_with("unexpected argument 'zsh'"));
        // Flag values are not positionals.
        assert_eq!(guess("status x -n ns -l a=b -o json"), None);
        assert_eq!(guess("wait x --for ready --timeout 5s"), None);
        assert_eq!(guess("-n ns --context c promote x"), None);
    }

    #[test]
    fn set_with_a_name_and_no_percent_says_percent_is_missing() {
        assert_eq!(
            guess("set sklearn-iris").as_deref(),
            Some("PERCENT is missing: kubectl isvc-canary set sklearn-iris PERCENT")
        );
        assert_eq!(guess("canary sklearn-iris --wait").as_deref(), guess("set sklearn-iris").as_deref());
        assert_eq!(guess("set").as_deref(), Some("PERCENT is missing: kubectl isvc-canary set [NAME] PERCENT"));
        // A word that cannot be a name is a bad PERCENT: the command says so.
        for p in ["10", "101", "-1", "10.5", "010", "1e2", "0x10", "Sklearn", "a_b", "x-"] {
            assert_eq!(guess(&format!("set {p}")), None, "{p}");
        }
        assert_eq!(guess("set sklearn-iris 10"), None);
        assert!(guess("tag-routing").unwrap().starts_with("on or off is missing"));
        assert_eq!(guess("tag-routing on"), None);
    }

    #[test]
    fn help_and_hidden_commands_are_left_to_clap() {
        assert_eq!(guess("set sklearn-iris --help"), None);
        assert_eq!(guess("set -h"), None);
        assert_eq!(guess("__complete set 10 gs://x extra"), None);
        assert_eq!(guess(""), None);
        assert_eq!(guess("--namespace ns"), None);
        assert_eq!(guess("nosuchcommand a b c"), None);
    }

    #[test]
    fn names_are_kserve_names() {
        for ok in ["a", "sklearn-iris", "m2", "a-1-b"] {
            assert!(could_be_name(ok), "{ok}");
        }
        for bad in ["", "1a", "-a", "a-", "A", "a.b", "a_b", "ten percent", &"a".repeat(64)] {
            assert!(!could_be_name(bad), "{bad}");
        }
    }

    #[test]
    fn clap_errors_fold_into_one_line() {
        let rendered = "error: invalid value 'tcsh' for '<SHELL>'\n  [possible values: bash, zsh, fish, powershell]\n\n  tip: a similar value exists: 'zsh'\n\nFor more information, try '--help'.\n";
        assert_eq!(
            one_line(rendered),
            "invalid value 'tcsh' for '<SHELL>' [possible values: bash, zsh, fish, powershell]; tip: a similar value exists: 'zsh' (see --help)"
        );
        let missing = "error: the following required arguments were not provided:\n  --for <STATE>\n\nUsage: kubectl isvc-canary wait [NAME] --for=STATE [flags]\n\nFor more information, try '--help'.\n";
        assert_eq!(one_line(missing), "the following required arguments were not provided: --for <STATE> (see --help)");
    }
}
