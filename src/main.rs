//! `kubectl-isvc_canary`: guess the likely mistakes, parse, run, print the error once, exit with
//! its code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let words: Vec<String> = std::env::args_os().skip(1).map(|w| w.to_string_lossy().into_owned()).collect();
    if let Some(message) = isvc_canary::guess::check(&words) {
        eprintln!("error: {}", isvc_canary::output::sanitize(&message));
        return ExitCode::from(isvc_canary::error::Exit::Usage.code());
    }
    let cli = match isvc_canary::cli::Cli::try_parse() {
        Ok(cli) => cli,
        // Help and version print as clap prints them (stdout, exit 0).
        Err(e) if !e.use_stderr() => e.exit(),
        Err(e) => {
            eprintln!("error: {}", isvc_canary::guess::one_line(&e.render().to_string()));
            return ExitCode::from(isvc_canary::error::Exit::Usage.code());
        }
    };
    // The runtime (and its worker threads) only once there is something to run: `--help`,
    // `--version` and usage errors never start it.
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(isvc_canary::error::Exit::Failure.code());
        }
    };
    match runtime.block_on(isvc_canary::run(cli)) {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(err) if isvc_canary::error::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", isvc_canary::output::sanitize(&format!("{err:#}")));
            ExitCode::from(isvc_canary::error::exit_of(&err).code())
        }
    }
}
