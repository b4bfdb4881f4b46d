//! The client subcommands. Exit codes: 0 done, 1 a deployment had failed targets,
//! 2 an error (message on stderr).

mod client;
mod commands;
mod output;

pub use commands::ClientCommand;

pub async fn run(cmd: ClientCommand) -> anyhow::Result<u8> {
    commands::run(cmd).await
}
