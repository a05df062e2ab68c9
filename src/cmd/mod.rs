//! One module per subcommand; this file holds the one `match` that dispatches, and the context
//! every command gets.

mod completion;
mod mutate;
mod promote;
mod rollback;
mod set;
mod status;
mod tag_routing;
mod wait;

use anyhow::Result;
use clap::CommandFactory;

use crate::cli::{Cli, Command, GlobalArgs, OutputFormat};
use crate::client::Kube;
use crate::error::{Exit, fail};
use crate::terminal::Terminal;

/// What a command that talks to the cluster gets.
pub struct Ctx {
    pub global: GlobalArgs,
    pub kube: Kube,
    pub term: Terminal,
}

/// The `-o` formats of commands that print an object, and of `status`.
const OBJECT_OUTPUT: &[OutputFormat] = &[OutputFormat::Json, OutputFormat::Yaml, OutputFormat::Name];
const STATUS_OUTPUT: &[OutputFormat] = &[OutputFormat::Json, OutputFormat::Yaml, OutputFormat::Wide];

impl Ctx {
    /// Checks `-o` against what the command prints, then connects.
    async fn new(global: GlobalArgs, outputs: &[OutputFormat]) -> Result<Ctx> {
        check_output(&global, outputs)?;
        let term = Terminal::detect(&global);
        let kube = Kube::connect(&global).await?;
        Ok(Ctx { global, kube, term })
    }

    pub fn output(&self) -> Option<OutputFormat> {
        self.global.output
    }
}

pub async fn dispatch(cli: Cli) -> Result<Exit> {
    let Cli { global, command } = cli;
    let Some(command) = command else {
        // A bare `kubectl isvc-canary`: the help, on stdout, exit 0 (as kubectl).
        Cli::command().print_long_help()?;
        return Ok(Exit::Ok);
    };
    match command {
        Command::Version => {
            if global.output == Some(OutputFormat::Json) {
                println!("{{\"version\":\"{}\"}}", env!("CARGO_PKG_VERSION"));
            } else {
                println!("kubectl-isvc_canary {}", env!("CARGO_PKG_VERSION"));
            }
            Ok(Exit::Ok)
        }
        Command::Completion(args) => completion::run(&args),
        Command::Complete(args) => Ok(crate::complete::run(&global, &args.words).await),
        Command::Set(args) => set::run(&Ctx::new(global, OBJECT_OUTPUT).await?, &args).await,
        Command::Promote(args) => promote::run(&Ctx::new(global, OBJECT_OUTPUT).await?, &args).await,
        Command::Rollback(args) => rollback::run(&Ctx::new(global, OBJECT_OUTPUT).await?, &args).await,
        Command::TagRouting(args) => tag_routing::run(&Ctx::new(global, OBJECT_OUTPUT).await?, &args).await,
        Command::Status(args) => status::run(&Ctx::new(global, STATUS_OUTPUT).await?, &args).await,
        Command::Wait(args) => wait::run(&Ctx::new(global, OBJECT_OUTPUT).await?, &args).await,
    }
}

/// `-o` is global, but not every format makes sense for every command.
fn check_output(global: &GlobalArgs, allowed: &[OutputFormat]) -> Result<()> {
    match global.output {
        Some(f) if !allowed.contains(&f) => {
            let names: Vec<String> = allowed.iter().map(|f| format!("{f:?}").to_lowercase()).collect();
            Err(fail(
                Exit::Usage,
                format!(
                    "-o {} is not available here (use one of: {})",
                    format!("{f:?}").to_lowercase(),
                    names.join(", ")
                ),
            ))
        }
        _ => Ok(()),
    }
}
