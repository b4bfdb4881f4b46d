//! The `drover` command: `serve` runs the server (the composition root: it picks the
//! store from the database URL and wires engine and web); every other subcommand is a
//! client of the server's JSON API.

mod cli;
mod serve;

use clap::Parser;

#[derive(Parser)]
#[command(name = "drover", version, about = "Agentless software deployment over SSH")]
struct Args {
    #[command(flatten)]
    global: cli::Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Run the drover server.
    Serve(serve::ServeArgs),
    #[command(flatten)]
    Client(cli::ClientCommand),
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    // one crypto provider for every rustls user in the process (ring; russh's aws-lc is
    // not rustls's), chosen before any TLS configuration is built
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async {
        match args.command {
            Command::Serve(a) => serve::run(a).await.map(|()| 0),
            Command::Client(c) => cli::run(args.global, c).await,
        }
    });
    match result {
        Ok(code) => std::process::ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {}", cli::output::escape(&format!("{e:#}")));
            std::process::ExitCode::from(2)
        }
    }
}
