//! Completion: one engine, the hidden `__complete` subcommand speaking Cobra's protocol
//! (candidates one per line, then `:<directive>`), which kubectl's plugin completion
//! (`kubectl_complete-isvc_canary`) and the shell scripts all call.

use crate::cli::{GlobalArgs, Shell};
use crate::error::Exit;

/// Cobra's directive: do not fall back to file completion.
pub const NO_FILE_COMP: u8 = 4;

/// Answers one completion request on stdout. Never fails: on any error, offers nothing.
pub async fn run(_global: &GlobalArgs, _words: &[String]) -> Exit {
    println!(":{NO_FILE_COMP}");
    Exit::Ok
}

/// The shell script for `completion SHELL`.
pub fn script(shell: Shell) -> String {
    format!("# completion for {shell:?} is not generated yet\n")
}
