//! `drover scan`: scan targets (ranges, addresses, host names with schedules) and running
//! a scan now.

use super::Ctx;
use super::output::{self, out, path_part};
use drover_api::Done;
use drover_api::scan::{ScanAddress, ScanReport, ScanTargetChange};
use drover_domain::scan::{NewScanTarget, ScanSchedule, ScanTarget};

#[derive(clap::Subcommand, Debug)]
pub enum Cmd {
    /// Scan targets: what scans cover and when they run (admin to change).
    #[command(subcommand)]
    Target(TargetCmd),
    /// Scan a target now (or one address with --address) and print what each host gave.
    Run {
        /// Scan target name or id.
        #[arg(required_unless_present = "address", conflicts_with = "address")]
        target: Option<String>,
        /// One IP address or host name instead of a scan target.
        #[arg(long)]
        address: Option<String>,
        /// SSH port (with --address).
        #[arg(long, default_value_t = 22)]
        port: u16,
    },
}

#[derive(clap::Subcommand, Debug)]
pub enum TargetCmd {
    /// Add a scan target: a CIDR (10.0.0.0/24), a range (10.0.0.5-10.0.0.40), an IP
    /// address or a host name.
    Add {
        name: String,
        target: String,
        /// manual (default), 'every 30m', 'every 6h' or 'daily 02:30 [Europe/Amsterdam]'.
        #[arg(long, default_value = "manual")]
        schedule: String,
        #[arg(long, default_value_t = 22)]
        port: u16,
        /// Added disabled (its schedule does not run).
        #[arg(long)]
        disabled: bool,
    },
    /// Change a scan target: only the options given change (as `PATCH /scan-targets/{t}`).
    Edit {
        /// Scan target name or id.
        target: String,
        /// A new name.
        #[arg(long)]
        name: Option<String>,
        /// What it covers: a CIDR, a range, an IP address or a host name.
        #[arg(long = "covers")]
        covers: Option<String>,
        /// manual, 'every 30m', 'every 6h' or 'daily 02:30 [Europe/Amsterdam]'.
        #[arg(long)]
        schedule: Option<String>,
        #[arg(long)]
        port: Option<u16>,
    },
    List,
    Rm {
        target: String,
    },
    Enable {
        target: String,
    },
    Disable {
        target: String,
    },
}

pub async fn run(ctx: &Ctx, cmd: Cmd) -> anyhow::Result<u8> {
    let c = &ctx.client;
    match cmd {
        Cmd::Target(TargetCmd::Add { name, target, schedule, port, disabled }) => {
            let schedule = ScanSchedule::parse(&schedule).map_err(anyhow::Error::msg)?;
            let body = NewScanTarget { name, target, ssh_port: port, schedule, enabled: !disabled };
            let t: ScanTarget = c.post("/scan-targets", &body).await?;
            ctx.print(&t, |t| {
                out!("scan target {} '{}' added: {} ({})", t.id, t.target.name, t.target.target, t.target.schedule)
            })?;
        }
        Cmd::Target(TargetCmd::Edit { target, name, covers, schedule, port }) => {
            let schedule = schedule.map(|s| ScanSchedule::parse(&s).map_err(anyhow::Error::msg)).transpose()?;
            let change = ScanTargetChange { name, target: covers, ssh_port: port, schedule, enabled: None };
            if change.is_empty() {
                anyhow::bail!("nothing to change: give --name, --covers, --schedule or --port");
            }
            let t: ScanTarget = c.patch(&format!("/scan-targets/{}", path_part(&target)), &change).await?;
            ctx.print(&t, |t| {
                out!(
                    "scan target {} '{}' changed: {} port {} ({}); next scan {}",
                    t.id,
                    t.target.name,
                    t.target.target,
                    t.target.ssh_port,
                    t.target.schedule,
                    output::time(t.next_scan_ms)
                )
            })?;
        }
        Cmd::Target(TargetCmd::List) => {
            let list: Vec<ScanTarget> = c.get("/scan-targets").await?;
            ctx.print(&list, |list| {
                output::table(
                    &["ID", "NAME", "TARGET", "PORT", "SCHEDULE", "ENABLED", "NEXT", "LAST", "FOUND"],
                    list.iter().map(|t| {
                        vec![
                            t.id.to_string(),
                            t.target.name.clone(),
                            t.target.target.clone(),
                            t.target.ssh_port.to_string(),
                            t.target.schedule.to_string(),
                            t.target.enabled.to_string(),
                            output::time(t.next_scan_ms),
                            output::time(t.last_scan_ms),
                            t.last_result
                                .map(|c| format!("{}/{} answered, {} failed", c.answered, c.probed, c.failed))
                                .unwrap_or_default(),
                        ]
                    }),
                )
            })?;
        }
        Cmd::Target(TargetCmd::Rm { target }) => {
            let done: Done = c.delete(&format!("/scan-targets/{}", path_part(&target))).await?;
            ctx.print(&done, |d| out!("{}", d.message))?;
        }
        Cmd::Target(TargetCmd::Enable { target }) => {
            let t: ScanTarget = c.post(&format!("/scan-targets/{}/enable", path_part(&target)), &()).await?;
            ctx.print(&t, |t| {
                out!("scan target '{}' enabled; next scan {}", t.target.name, output::time(t.next_scan_ms))
            })?;
        }
        Cmd::Target(TargetCmd::Disable { target }) => {
            let t: ScanTarget = c.post(&format!("/scan-targets/{}/disable", path_part(&target)), &()).await?;
            ctx.print(&t, |t| out!("scan target '{}' disabled", t.target.name))?;
        }
        Cmd::Run { target, address, port } => {
            let r: ScanReport = match (target, address) {
                (_, Some(address)) => c.post("/scans", &ScanAddress { address, ssh_port: port }).await?,
                (Some(t), None) => c.post(&format!("/scan-targets/{}/run", path_part(&t)), &()).await?,
                (None, None) => anyhow::bail!("name a scan target, or give --address"),
            };
            ctx.print(&r, print_report)?;
            return Ok(if r.failed() > 0 { 1 } else { 0 });
        }
    }
    Ok(0)
}

fn print_report(r: &ScanReport) {
    out!(
        "scan of {}: {} address(es) probed, {} answered on SSH, {} failed",
        r.target,
        r.probed,
        r.hosts.len(),
        r.failed()
    );
    output::table(
        &["ADDRESS", "ASSET", "MATCHED", "CHANGES", "DEPLOYMENTS", "ERROR"],
        r.hosts.iter().map(|h| {
            vec![
                h.address.clone(),
                h.asset_name.clone().unwrap_or_else(|| "-".into()),
                h.matched.clone(),
                h.software_changes.to_string(),
                h.deployments.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(","),
                match (&h.error_code, &h.error) {
                    (Some(c), Some(e)) => format!("{c}: {e}"),
                    _ => String::new(),
                },
            ]
        }),
    );
}
