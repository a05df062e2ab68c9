//! One module per subcommand; this file holds the one `match` that dispatches, and the context
//! every command gets.

mod completion;
mod control;
mod history;
mod mutate;
mod promote;
mod rollback;
mod rollout;
mod rollout_mode;
mod set;
mod standard;
mod status;
mod tag_routing;
mod undo;
mod wait;

use anyhow::Result;
use clap::CommandFactory;

use crate::cli::{
    Cli, Command, GlobalArgs, JsonFormat, ObjectFormat, OutputFormat, StatusFormat, VersionFormat, formats,
};
use crate::client::Kube;
use crate::error::{Exit, fail};
use crate::terminal::Terminal;

/// What a command that talks to the cluster gets.
pub struct Ctx {
    pub global: GlobalArgs,
    pub kube: Kube,
    pub term: Terminal,
    output: Option<OutputFormat>,
}

impl Ctx {
    async fn new(global: GlobalArgs, output: Option<OutputFormat>) -> Result<Ctx> {
        let term = Terminal::detect(&global);
        let kube = Kube::connect(&global).await?;
        Ok(Ctx { global, kube, term, output })
    }

    /// `-o`, whichever side of the subcommand it was typed on.
    pub fn output(&self) -> Option<OutputFormat> {
        self.output
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
        Command::Version(args) => {
            if output::<VersionFormat>(&global, args.output)? == Some(OutputFormat::Json) {
                println!("{{\"version\":\"{}\"}}", env!("CARGO_PKG_VERSION"));
            } else {
                println!("kubectl-isvc_canary {}", env!("CARGO_PKG_VERSION"));
            }
            Ok(Exit::Ok)
        }
        Command::Completion(args) => completion::run(&args),
        Command::Complete(args) => Ok(crate::complete::run(&global, &args.words).await),
        Command::Set(args) => {
            let o = output::<ObjectFormat>(&global, args.write.output)?;
            set::run(&Ctx::new(global, o).await?, &args).await
        }
        Command::Promote(args) => {
            let o = output::<ObjectFormat>(&global, args.write.output)?;
            promote::run(&Ctx::new(global, o).await?, &args).await
        }
        Command::Rollback(args) => {
            let o = output::<ObjectFormat>(&global, args.write.output)?;
            rollback::run(&Ctx::new(global, o).await?, &args).await
        }
        Command::TagRouting(args) => {
            let o = output::<ObjectFormat>(&global, args.write.output)?;
            tag_routing::run(&Ctx::new(global, o).await?, &args).await
        }
        Command::Status(args) => {
            let o = output::<StatusFormat>(&global, args.output)?;
            status::run(&Ctx::new(global, o).await?, &args).await
        }
        Command::Rollout(args) => {
            let o = output::<JsonFormat>(&global, args.output)?;
            rollout::run(&Ctx::new(global, o).await?, &args).await
        }
        Command::Pause(args) => control::run(&Ctx::new(global, None).await?, &args, control::Verb::Pause).await,
        Command::Resume(args) => control::run(&Ctx::new(global, None).await?, &args, control::Verb::Resume).await,
        Command::Abort(args) => control::run(&Ctx::new(global, None).await?, &args, control::Verb::Abort).await,
        Command::History(args) => {
            let o = output::<JsonFormat>(&global, args.output)?;
            history::run(&Ctx::new(global, o).await?, &args).await
        }
        Command::Undo(args) => {
            let o = output::<ObjectFormat>(&global, args.write.output)?;
            undo::run(&Ctx::new(global, o).await?, &args).await
        }
        Command::Wait(args) => {
            let o = output::<ObjectFormat>(&global, args.output)?;
            wait::run(&Ctx::new(global, o).await?, &args).await
        }
    }
}

/// The command's `-o` (clap offered and checked only its formats), else an `-o` typed before the
/// subcommand, checked here against the same formats `F`, before any request.
fn output<F>(global: &GlobalArgs, own: Option<F>) -> Result<Option<OutputFormat>>
where
    F: clap::ValueEnum + Into<OutputFormat> + Copy,
{
    if let Some(f) = own {
        return Ok(Some(f.into()));
    }
    let allowed = formats::<F>();
    match global.output_before_command {
        Some(f) if !allowed.contains(&f) => {
            let names: Vec<&str> = allowed.iter().map(|f| f.name()).collect();
            Err(fail(Exit::Usage, format!("-o {} is not available here (use one of: {})", f.name(), names.join(", "))))
        }
        other => Ok(other),
    }
}
