//! `drover config`: deployment configurations — a package deployed to assets on a
//! schedule — and the runs each one fired.

use super::Ctx;
use super::deploy::{OfflineArgs, parse_run_mode};
use super::output::out;
use super::output::{self, path_part};
use drover_api::assets::AssetRef;
use drover_api::schedules::{ConfigRequest, ConfigView};
use drover_api::{Done, Empty};
use drover_domain::deploy_config::ConfigRun;
use drover_domain::deployment::RunMode;

#[derive(clap::Subcommand, Debug)]
pub enum Cmd {
    /// Add a configuration: deploy a package to assets on a schedule.
    Add(Box<Add>),
    /// Every configuration with its schedule and next run.
    List,
    /// One configuration, as JSON.
    Show {
        /// Configuration name or id.
        config: String,
    },
    /// Enable: it next runs at its schedule's first run from now (no catch-up).
    Enable {
        /// Configuration name or id.
        config: String,
    },
    /// Disable: it runs no more until enabled.
    Disable {
        /// Configuration name or id.
        config: String,
    },
    /// The runs it fired, newest first: the scheduled time and the deployment started
    /// (or `skipped`: a missed run the policy skipped, or no asset or package left).
    Runs {
        /// Configuration name or id.
        config: String,
    },
    /// Remove a configuration (its deployments stay in the log).
    Rm {
        /// Configuration name or id.
        config: String,
    },
}

#[derive(clap::Args, Debug)]
pub struct Add {
    name: String,
    /// Schedule name or id.
    #[arg(long)]
    schedule: Option<String>,
    /// Package name.
    #[arg(long)]
    package: String,
    /// A fixed package version (default: the newest version at each run).
    #[arg(long)]
    version: Option<String>,
    /// Asset name or id; repeat for more (or choose them with a selection below).
    #[arg(long = "asset", required_unless_present_any = ["group", "report", "search", "overview"])]
    assets: Vec<String>,
    #[command(flatten)]
    selection: super::selections::SelectionArgs,
    /// system, scanning-credential or logged-on-user (default: the package's).
    #[arg(long, value_parser = parse_run_mode)]
    run_mode: Option<RunMode>,
    #[command(flatten)]
    offline: OfflineArgs,
    /// Also deploy to an asset of the configuration right after that asset's inventory
    /// scan succeeds (unless this package version succeeded or runs there already).
    #[arg(long)]
    trigger_on_scan: bool,
    /// Add it disabled.
    #[arg(long)]
    disabled: bool,
}

fn row(v: &ConfigView) -> Vec<String> {
    let c = &v.config.config;
    vec![
        v.config.id.to_string(),
        c.name.clone(),
        output::opt(&v.schedule_name),
        c.package_name.clone(),
        c.package_version.clone().unwrap_or_else(|| "newest".into()),
        match &c.targets.selection {
            Some(s) if c.targets.assets.is_empty() => s.to_string(),
            Some(s) => format!("{} + {s}", c.targets.assets.len()),
            None => c.targets.assets.len().to_string(),
        },
        if c.enabled { "yes" } else { "no" }.into(),
        v.next_run.as_ref().map_or_else(|| "-".into(), |r| r.local.clone()),
    ]
}

pub async fn run(ctx: &Ctx, cmd: Cmd) -> anyhow::Result<u8> {
    let c = &ctx.client;
    let path = |config: &str, verb: &str| format!("/configs/{}{verb}", path_part(config));
    match cmd {
        Cmd::Add(a) => {
            let body = ConfigRequest {
                name: a.name,
                schedule: a.schedule,
                package: a.package,
                version: a.version,
                assets: a.assets.iter().map(|s| AssetRef::parse(s)).collect(),
                selection: a.selection.selection()?,
                run_mode: a.run_mode,
                options: a.offline.request(),
                trigger_on_scan: a.trigger_on_scan,
                enabled: !a.disabled,
            };
            let v: ConfigView = c.post("/configs", &body).await?;
            ctx.print(&v, |v| {
                out!("deployment configuration {} '{}' added; next run {}", v.config.id, v.config.config.name, next(v))
            })?;
        }
        Cmd::List => {
            let list: Vec<ConfigView> = c.get("/configs").await?;
            ctx.print(&list, |list| {
                output::table(
                    &["ID", "NAME", "SCHEDULE", "PACKAGE", "VERSION", "ASSETS", "ENABLED", "NEXT RUN"],
                    list.iter().map(row),
                )
            })?;
        }
        Cmd::Show { config } => {
            let v: ConfigView = c.get(&path(&config, "")).await?;
            output::print_json(&v)?;
        }
        Cmd::Enable { config } => {
            let v: ConfigView = c.post(&path(&config, "/enable"), &Empty {}).await?;
            ctx.print(&v, |v| out!("'{}' enabled; next run {}", v.config.config.name, next(v)))?;
        }
        Cmd::Disable { config } => {
            let v: ConfigView = c.post(&path(&config, "/disable"), &Empty {}).await?;
            ctx.print(&v, |v| out!("'{}' disabled", v.config.config.name))?;
        }
        Cmd::Runs { config } => {
            let runs: Vec<ConfigRun> = c.get(&path(&config, "/runs")).await?;
            ctx.print(&runs, |runs| {
                output::table(
                    &["SCHEDULED (UTC)", "DEPLOYMENT", "CLAIMED (UTC)"],
                    runs.iter().map(|r| {
                        vec![
                            output::time(Some(r.fire_ms)),
                            r.deployment_id.map_or_else(|| "skipped".into(), |d| d.to_string()),
                            output::time(Some(r.created_ms)),
                        ]
                    }),
                )
            })?;
        }
        Cmd::Rm { config } => {
            let done: Done = c.delete(&path(&config, "")).await?;
            ctx.print(&done, |d| out!("{}", d.message))?;
        }
    }
    Ok(0)
}

fn next(v: &ConfigView) -> String {
    v.next_run.as_ref().map_or_else(|| "-".into(), |r| r.local.clone())
}
