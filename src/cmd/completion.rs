//! `completion SHELL`: prints the completion script for a shell (the same text as the committed
//! copy in `completions/`; tests/generated.rs keeps the two equal).

use anyhow::Result;

use crate::cli::CompletionArgs;
use crate::error::Exit;

pub fn run(args: &CompletionArgs) -> Result<Exit> {
    print!("{}", crate::complete::script(args.shell));
    Ok(Exit::Ok)
}
