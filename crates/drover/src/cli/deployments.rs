//! `drover deployment`: list, show, cancel and relaunch deployments.

use super::deploy::follow;
use super::output::out;
use super::{Ctx, output};
use drover_api::Empty;
use drover_api::deployments::{Cancelled, DeploymentQuery, DeploymentView, Relaunched};
use drover_domain::deployment::Deployment;

#[derive(clap::Subcommand, Debug)]
pub enum Cmd {
    /// The newest deployments first.
    List {
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
    /// A deployment and the state of each target.
    Show { id: i64 },
    /// Stop a deployment: queued targets end, running tasks are killed.
    Cancel { id: i64 },
    /// Deploy again to its failed, offline and timed-out targets, with the same options.
    Relaunch {
        id: i64,
        /// Start and return without following.
        #[arg(long)]
        no_follow: bool,
    },
}

pub async fn run(ctx: &Ctx, cmd: Cmd) -> anyhow::Result<u8> {
    let c = &ctx.client;
    match cmd {
        Cmd::List { limit } => {
            let list: Vec<Deployment> = c.get_with("/deployments", &DeploymentQuery { limit }).await?;
            ctx.print(&list, |list| {
                output::table(
                    &["ID", "PACKAGE", "VERSION", "EXECUTOR", "RUN MODE", "FINISHED"],
                    list.iter().map(|d| {
                        vec![
                            d.id.to_string(),
                            d.package_name.clone(),
                            d.package_version.clone(),
                            d.executor.to_string(),
                            d.run_mode.to_string(),
                            if d.finished_ms.is_some() { "yes".into() } else { "no".into() },
                        ]
                    }),
                )
            })?;
        }
        Cmd::Show { id } => {
            let view: DeploymentView = c.get(&format!("/deployments/{id}")).await?;
            ctx.print(&view, |view| {
                if let Some(sel) = &view.deployment.selection {
                    out!("selection: {}", drover_domain::selection::label(sel, view.targets.len()));
                }
                output::table(
                    &["TARGET", "ASSET", "STATE", "MESSAGE"],
                    view.targets
                        .iter()
                        .map(|t| vec![t.id.to_string(), t.asset_name.clone(), t.state.to_string(), t.message.clone()]),
                )
            })?;
        }
        Cmd::Cancel { id } => {
            let answer: Cancelled = c.post(&format!("/deployments/{id}/cancel"), &Empty {}).await?;
            ctx.print(&answer, |a| out!("deployment {id}: {} target(s) cancelled", a.cancelled))?;
        }
        Cmd::Relaunch { id, no_follow } => {
            let answer: Relaunched = c.post(&format!("/deployments/{id}/relaunch"), &Empty {}).await?;
            let view = answer.view;
            if !ctx.json {
                out!(
                    "deployment {} relaunches {} target(s) of deployment {id}",
                    view.deployment.id,
                    view.targets.len()
                );
                for t in &answer.already_succeeded {
                    out!("  {}: already succeeded (learned from the machine): not run again", t.asset_name);
                }
                for t in &answer.still_running {
                    out!("  {}: its deployer still runs there: not run again", t.asset_name);
                }
            }
            if no_follow {
                if ctx.json {
                    output::print_json(&view)?;
                }
                return Ok(0);
            }
            return follow(c, view, ctx.json).await;
        }
    }
    Ok(0)
}
