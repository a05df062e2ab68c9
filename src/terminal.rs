//! Everything that talks to a person on stderr: notes, warnings, prompts, pickers and spinners,
//! each only where a terminal is there to see it.

use std::io::IsTerminal;
use std::time::Duration;

use dialoguer::theme::SimpleTheme;
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::GlobalArgs;
use crate::error::{Exit, fail};
use crate::output::{Color, color_enabled, paint, sanitize};

/// What the session can do with the person in front of it.
#[derive(Debug, Clone, Copy)]
pub struct Terminal {
    /// stdin and stderr are terminals: prompts and pickers are possible.
    pub interactive: bool,
    /// stderr is a terminal: spinners are possible.
    pub stderr_tty: bool,
    pub color: bool,
    pub yes: bool,
}

impl Terminal {
    pub fn detect(global: &GlobalArgs) -> Terminal {
        let stderr_tty = std::io::stderr().is_terminal();
        Terminal {
            interactive: stderr_tty && std::io::stdin().is_terminal(),
            stderr_tty,
            color: color_enabled(global.no_color),
            yes: global.yes,
        }
    }

    pub fn note(&self, text: &str) {
        eprintln!("{} {}", paint("note:", Color::Bold, self.color), sanitize(text));
    }

    pub fn warn(&self, text: &str) {
        eprintln!("{} {}", paint("warning:", Color::Yellow, self.color), sanitize(text));
    }

    /// Asks before a write. Without a terminal, or with --yes, proceeds as kubectl does.
    pub fn confirm(&self, question: &str) -> anyhow::Result<()> {
        if !self.interactive || self.yes {
            return Ok(());
        }
        let answer = dialoguer::Confirm::with_theme(&SimpleTheme)
            .with_prompt(question)
            .default(false)
            .interact_opt()
            .unwrap_or(None);
        match answer {
            Some(true) => Ok(()),
            _ => Err(fail(Exit::Interrupted, "declined: nothing was changed")),
        }
    }

    /// Lets a person pick one name; `None` if there is no terminal to ask on.
    pub fn pick(&self, prompt: &str, names: &[String]) -> anyhow::Result<Option<String>> {
        if !self.interactive || self.yes {
            return Ok(None);
        }
        let chosen = dialoguer::Select::with_theme(&SimpleTheme)
            .with_prompt(prompt)
            .items(names)
            .default(0)
            .interact_opt()
            .unwrap_or(None);
        match chosen {
            Some(i) => Ok(Some(names[i].clone())),
            None => Err(fail(Exit::Interrupted, "no InferenceService picked: nothing was changed")),
        }
    }

    /// A spinner on stderr, or a hidden one without a terminal.
    pub fn spinner(&self) -> ProgressBar {
        if !self.stderr_tty {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new_spinner();
        if let Ok(style) = ProgressStyle::with_template("{spinner} {elapsed:>4} {wide_msg}") {
            bar.set_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    }
}
