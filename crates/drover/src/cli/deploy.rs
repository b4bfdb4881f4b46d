//! `drover deploy`: start a deployment and follow it until every target has ended.

use super::Ctx;
use super::client::Client;
use super::output;
use super::output::out;
use drover_api::assets::AssetRef;
use drover_api::deployments::{DeployRequest, DeploymentView, OptionsRequest};
use drover_api::packages::PackageRef;
use drover_domain::deployment::{RunMode, TargetState};
use std::time::Duration;

#[derive(clap::Args, Debug)]
pub struct Deploy {
    /// Package name or id.
    package: String,
    /// Package version (default: the newest).
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
    /// Start and return without following.
    #[arg(long)]
    no_follow: bool,
}

pub(super) fn parse_run_mode(s: &str) -> Result<RunMode, String> {
    RunMode::parse(s)
        .ok_or_else(|| format!("'{s}' is not a run mode: choose system, scanning-credential or logged-on-user"))
}

/// What a deployment does with machines that do not answer; unset: the server's defaults
/// (`GET /api/v1/settings`).
#[derive(clap::Args, Debug)]
pub struct OfflineArgs {
    /// Wake machines that do not answer with Wake-on-LAN, then wait for them to boot.
    #[arg(long)]
    wol: bool,
    /// Estimated boot time after Wake-on-LAN, in seconds.
    #[arg(long)]
    boot_secs: Option<u64>,
    /// Keep offline machines in the retry queue instead of ending them offline.
    #[arg(long)]
    retry: bool,
    /// Seconds between attempts of a machine in the retry queue.
    #[arg(long)]
    retry_interval_secs: Option<u64>,
    /// Seconds after the deployment starts when retries end.
    #[arg(long)]
    retry_expiry_secs: Option<u64>,
}

impl OfflineArgs {
    /// The options given; the server fills in the rest.
    pub(super) fn request(&self) -> OptionsRequest {
        OptionsRequest {
            wake_on_lan: self.wol.then_some(true),
            boot_secs: self.boot_secs,
            retry_offline: self.retry.then_some(true),
            retry_interval_secs: self.retry_interval_secs,
            retry_expiry_secs: self.retry_expiry_secs,
        }
    }
}

pub async fn run(ctx: &Ctx, a: Deploy) -> anyhow::Result<u8> {
    let req = DeployRequest {
        package: PackageRef::parse(&a.package),
        version: a.version,
        assets: a.assets.iter().map(|s| AssetRef::parse(s)).collect(),
        selection: a.selection.selection()?,
        run_mode: a.run_mode,
        options: a.offline.request(),
    };
    let view: DeploymentView = ctx.client.post("/deployments", &req).await?;
    if !ctx.json {
        let d = &view.deployment;
        let to = match &d.selection {
            Some(s) => drover_domain::selection::label(s, view.targets.len()),
            None => format!("{} asset(s)", view.targets.len()),
        };
        out!("deployment {} of {} {} to {to}, run mode {}", d.id, d.package_name, d.package_version, d.run_mode);
    }
    if a.no_follow {
        if ctx.json {
            output::print_json(&view)?;
        }
        return Ok(0);
    }
    follow(&ctx.client, view, ctx.json).await
}

/// Prints each target's state changes until all have ended; exit 1 if any did not succeed.
pub async fn follow(c: &Client, mut view: DeploymentView, json: bool) -> anyhow::Result<u8> {
    let mut seen: Vec<(i64, String)> = Vec::new();
    loop {
        for t in &view.targets {
            let key = (t.id.0, format!("{}|{}", t.state, t.message));
            if !json && !seen.contains(&key) {
                out!("  {:<20} {:<12} {}", t.asset_name, t.state.as_str(), t.message);
                seen.push(key);
            }
        }
        if view.targets.iter().all(|t| t.state.is_final()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        view = c.get(&format!("/deployments/{}", view.deployment.id)).await?;
    }
    let failed = view.targets.iter().filter(|t| t.state != TargetState::Success).count();
    if json {
        output::print_json(&view)?;
    } else {
        out!(
            "deployment {}: {} of {} target(s) succeeded; details: drover log --deployment {}",
            view.deployment.id,
            view.targets.len() - failed,
            view.targets.len(),
            view.deployment.id
        );
    }
    Ok(if failed == 0 { 0 } else { 1 })
}
