//! `completion SHELL`: prints the committed completion script for a shell.

use anyhow::Result;

use crate::cli::{CompletionArgs, Shell};
use crate::error::Exit;

pub fn run(args: &CompletionArgs) -> Result<Exit> {
    print!("{}", crate::complete::script(args.shell));
    Ok(Exit::Ok)
}

#[allow(dead_code)]
fn _shells() -> [Shell; 4] {
    [Shell::Bash, Shell::Zsh, Shell::Fish, Shell::Powershell]
}
