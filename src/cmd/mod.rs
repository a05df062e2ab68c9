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

pub use mutate::{last_writer, spec_fingerprint};

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

impl Ctx {
    async fn new(global: GlobalArgs) -> Result<Ctx> {
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
        Command::Set(args) => {
            check_output(&global, &[OutputFormat::Json, OutputFormat::Yaml, OutputFormat::Name])?;
            set::run(&Ctx::new(global).await?, &args).await
        }
        Command::Promote(args) => {
            check_output(&global, &[OutputFormat::Json, OutputFormat::Yaml, OutputFormat::Name])?;
            promote::run(&Ctx::new(global).await?, &args).await
        }
        Command::Rollback(args) => {
            check_output(&global, &[OutputFormat::Json, OutputFormat::Yaml, OutputFormat::Name])?;
            rollback::run(&Ctx::new(global).await?, &args).await
        }
        Command::TagRouting(args) => {
            check_output(&global, &[OutputFormat::Json, OutputFormat::Yaml, OutputFormat::Name])?;
            tag_routing::run(&Ctx::new(global).await?, &args).await
        }
        Command::Status(args) => {
            check_output(&global, &[OutputFormat::Json, OutputFormat::Yaml, OutputFormat::Wide])?;
            status::run(&Ctx::new(global).await?, &args).await
        }
        Command::Wait(args) => {
            check_output(&global, &[OutputFormat::Json, OutputFormat::Yaml, OutputFormat::Name])?;
            wait::run(&Ctx::new(global).await?, &args).await
        }
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
