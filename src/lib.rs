//! kubectl-isvc-canary: canary rollouts of KServe InferenceServices.
//!
//! `cli` holds the clap definition, and `guess` the usage errors that name their fix; `cmd` one
//! module per subcommand; `isvc`, `patch`, `rules`, `traffic`, `view` and `output` are pure (read,
//! build, decide, render); `wait` judges and watches; `client` makes the API calls. The behaviour
//! is specified in docs/contract.md.

pub mod cli;
pub mod client;
pub mod cmd;
pub mod complete;
pub mod duration;
pub mod error;
pub mod guess;
pub mod isvc;
pub mod names;
pub mod output;
pub mod patch;
pub mod resolve;
pub mod rollout;
pub mod rules;
pub mod standard;
pub mod standard_view;
pub mod terminal;
pub mod traffic;
pub mod view;
pub mod wait;

use error::Exit;

/// Runs one command line; the exit code on success, or an error that carries one.
pub async fn run(cli: cli::Cli) -> anyhow::Result<Exit> {
    cmd::dispatch(cli).await
}
