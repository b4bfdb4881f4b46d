//! The client subcommands, one module per resource, each with its clap enum and its
//! `run`. Every body sent and every answer read is a `drover-api` type. Exit codes: 0
//! done, 1 a deployment had targets that did not succeed, 2 an error (message on stderr).

mod assets;
mod client;
mod configs;
mod credentials;
mod deploy;
mod deployments;
mod host_keys;
mod logs;
pub(crate) mod output;
mod packages;
mod retry;
mod scan;
mod schedules;
mod selections;
mod session;
mod share_locations;
mod threads;
mod tls;
mod tokens;
mod users;

use clap::{Args, Subcommand};
use client::Client;
use serde::Serialize;

/// Flags of every client command; they may come before or after the subcommand.
#[derive(Args, Debug)]
pub struct Global {
    /// Server URL of the client commands (default: the one saved by `drover login`,
    /// else https://127.0.0.1:8080).
    #[arg(long, global = true, env = "DROVER_SERVER")]
    server: Option<String>,
    /// API token of the client commands (default: the one saved by `drover login`).
    #[arg(long, global = true, env = "DROVER_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// SHA-256 fingerprint of the server's TLS certificate to trust (default: the one
    /// pinned by `drover login` for that server).
    #[arg(long, global = true, env = "DROVER_SERVER_FINGERPRINT")]
    server_fingerprint: Option<String>,
    /// PEM file of the certificate authority that issued the server's certificate.
    #[arg(long, global = true, env = "DROVER_SERVER_CA")]
    server_ca: Option<std::path::PathBuf>,
    /// Client commands print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand, Debug)]
pub enum ClientCommand {
    /// Log in and save the token for the next commands.
    Login(session::Login),
    /// Change your own password (reads current and new password, one a line, from
    /// standard input with --stdin; else prompts). Every token of yours ends.
    Passwd(session::Passwd),
    /// Scanning credentials: how drover logs in to assets.
    #[command(subcommand)]
    Credential(credentials::Cmd),
    /// Assets (computers).
    #[command(subcommand)]
    Asset(assets::Cmd),
    /// Pinned SSH host keys and trusted host certificate authorities (admin).
    #[command(subcommand)]
    HostKey(host_keys::Cmd),
    /// Package shares per location: IP ranges whose targets fetch package files from a
    /// nearer share (admin).
    #[command(subcommand)]
    ShareLocation(share_locations::Cmd),
    /// Packages.
    #[command(subcommand)]
    Package(packages::Cmd),
    /// Deploy a package to assets and follow it until every target has ended.
    Deploy(deploy::Deploy),
    /// Deployments: list, show, cancel, relaunch.
    #[command(subcommand)]
    Deployment(deployments::Cmd),
    /// Deployment logs: per target its state, last step, return code, run mode,
    /// credential, deployer version, server and message, then every step with its exit
    /// code and output, and every state change.
    Log(logs::Log),
    /// Targets waiting in the retry queue (offline machines of deployments with --retry).
    RetryQueue,
    /// Users of the API and the CLI (admin): add, list, disable, enable, rm, revoke.
    #[command(subcommand)]
    User(users::Cmd),
    /// Your own API tokens: list, revoke.
    #[command(subcommand)]
    Token(tokens::Cmd),
    /// Show this node's deployment threads (limit, running, queued), or set the limit
    /// live (admin).
    Threads(threads::Threads),
    /// Schedules: when deployment configurations run (add, list, show, preview, rm).
    #[command(subcommand)]
    Schedule(schedules::Cmd),
    /// Groups of assets: static (explicit members) or dynamic (a rule over asset fields
    /// and installed software).
    #[command(subcommand)]
    Group(selections::GroupCmd),
    /// Reports: saved SELECTs over the report views; one with an AssetID column can be
    /// deployed to.
    #[command(subcommand)]
    Report(selections::ReportCmd),
    /// Counts of assets by domain, os, type or subnet; each entry can be deployed to
    /// (`drover deploy PKG --overview os=…`).
    Overview {
        /// domain, os, type or subnet.
        kind: String,
    },
    /// Deployment configurations: a package deployed to assets on a schedule (add,
    /// list, show, enable, disable, runs, rm).
    #[command(subcommand)]
    Config(configs::Cmd),
    /// Inventory scans: scan targets (ranges, addresses, host names on schedules) and
    /// scanning now.
    #[command(subcommand)]
    Scan(scan::Cmd),
}

/// What every client command works with: the server connection and the output form.
pub struct Ctx {
    pub client: Client,
    /// Print JSON instead of text.
    pub json: bool,
}

impl Ctx {
    fn new(g: Global) -> anyhow::Result<Ctx> {
        Ok(Ctx { client: Client::new(g.server, g.token, g.server_fingerprint, g.server_ca)?, json: g.json })
    }

    /// Prints `value` as JSON with --json, else as `text` says.
    pub fn print<T: Serialize>(&self, value: &T, text: impl FnOnce(&T)) -> anyhow::Result<()> {
        if self.json {
            output::print_json(value)
        } else {
            text(value);
            Ok(())
        }
    }
}

pub async fn run(global: Global, cmd: ClientCommand) -> anyhow::Result<u8> {
    let ctx = Ctx::new(global)?;
    match cmd {
        ClientCommand::Login(a) => session::login(&ctx, a).await,
        ClientCommand::Passwd(a) => session::passwd(&ctx, a).await,
        ClientCommand::Credential(c) => credentials::run(&ctx, c).await,
        ClientCommand::Asset(c) => assets::run(&ctx, c).await,
        ClientCommand::HostKey(c) => host_keys::run(&ctx, c).await,
        ClientCommand::ShareLocation(c) => share_locations::run(&ctx, c).await,
        ClientCommand::Package(c) => packages::run(&ctx, c).await,
        ClientCommand::Deploy(a) => deploy::run(&ctx, a).await,
        ClientCommand::Deployment(c) => deployments::run(&ctx, c).await,
        ClientCommand::Log(a) => logs::run(&ctx, a).await,
        ClientCommand::RetryQueue => retry::run(&ctx).await,
        ClientCommand::User(c) => users::run(&ctx, c).await,
        ClientCommand::Token(c) => tokens::run(&ctx, c).await,
        ClientCommand::Threads(a) => threads::run(&ctx, a).await,
        ClientCommand::Schedule(c) => schedules::run(&ctx, c).await,
        ClientCommand::Config(c) => configs::run(&ctx, c).await,
        ClientCommand::Scan(c) => scan::run(&ctx, c).await,
        ClientCommand::Group(c) => selections::run_group(&ctx, c).await,
        ClientCommand::Report(c) => selections::run_report(&ctx, c).await,
        ClientCommand::Overview { kind } => selections::run_overview(&ctx, kind).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    /// The client part of the `drover` command, as `main` wires it.
    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        global: Global,
        #[command(subcommand)]
        command: ClientCommand,
    }

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("drover").chain(args.iter().copied()))
    }

    #[test]
    fn credential_map_needs_exactly_one_scope() {
        let map = |args: &[&str]| match parse(args).map(|c| c.command) {
            Ok(ClientCommand::Credential(credentials::Cmd::Map { scope, priority, .. })) => {
                Ok((scope.asset, scope.range, scope.domain, scope.global, priority))
            }
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e.kind()),
        };
        assert_eq!(map(&["credential", "map", "3", "--global"]), Ok((None, None, None, true, 0)));
        assert_eq!(
            map(&["credential", "map", "3", "--asset", "web1"]),
            Ok((Some("web1".into()), None, None, false, 0))
        );
        assert_eq!(
            map(&["credential", "map", "3", "--range", "10.0.0.5-10.0.0.40", "--priority", "2"]),
            Ok((None, Some("10.0.0.5-10.0.0.40".into()), None, false, 2))
        );
        assert_eq!(
            map(&["credential", "map", "3", "--domain", "corp.example"]),
            Ok((None, None, Some("corp.example".into()), false, 0))
        );
        assert_eq!(
            map(&["credential", "map", "3", "--asset", "web1", "--global"]),
            Err(clap::error::ErrorKind::ArgumentConflict)
        );
        assert_eq!(
            map(&["credential", "map", "3", "--range", "10.0.0.0/8", "--domain", "x.example"]),
            Err(clap::error::ErrorKind::ArgumentConflict)
        );
        assert_eq!(map(&["credential", "map", "3"]), Err(clap::error::ErrorKind::MissingRequiredArgument));
        assert!(parse(&["credential", "unmap", "3", "--mapping", "4"]).is_ok());
        assert!(parse(&["credential", "unmap", "3", "--range", "10.0.0.0/8"]).is_ok());
        assert!(parse(&["credential", "unmap", "3", "--mapping", "4", "--global"]).is_err());
        assert!(parse(&["host-key", "add-ca", "ssh-ed25519 AAAA c", "--hosts", "*.corp.example,10.0.0.0/8"]).is_ok());
        assert!(parse(&["asset", "trust-key", "web1", "--fingerprint", "SHA256:x"]).is_ok());
    }

    #[test]
    fn global_flags_go_before_or_after_the_subcommand() {
        for args in [&["--json", "log", "--asset", "web1"][..], &["log", "--asset", "web1", "--json"]] {
            let c = parse(args).unwrap();
            assert!(c.global.json, "{args:?}");
        }
        let c = parse(&["asset", "list", "--server", "http://h:1", "--token", "t"]).unwrap();
        assert_eq!((c.global.server.as_deref(), c.global.token.as_deref()), (Some("http://h:1"), Some("t")));
    }

    #[test]
    fn every_help_text_speaks_of_drover() {
        fn walk(cmd: &mut clap::Command, path: &str) {
            let help = cmd.render_long_help().to_string();
            assert!(!help.contains("Lansweeper"), "`{path} --help` names Lansweeper:\n{help}");
            for sub in cmd.get_subcommands_mut() {
                let p = format!("{path} {}", sub.get_name());
                walk(sub, &p);
            }
        }
        Cli::command().debug_assert();
        walk(&mut Cli::command(), "drover");
    }
}
