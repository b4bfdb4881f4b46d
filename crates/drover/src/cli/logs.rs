//! `drover log`: deployment logs, per target its fields, steps and state changes.

use super::Ctx;
use super::output::out;
use super::output::{opt, path_part, time};
use drover_api::logs::{LogEntry, LogQuery};
use drover_domain::asset::Asset;
use drover_domain::package::Package;

#[derive(clap::Args, Debug)]
pub struct Log {
    /// Deployment id.
    #[arg(long)]
    deployment: Option<i64>,
    /// Asset name or id.
    #[arg(long)]
    asset: Option<String>,
    /// Package name or id.
    #[arg(long)]
    package: Option<String>,
    /// At most this many targets, newest first.
    #[arg(long, default_value_t = 100)]
    limit: i64,
}

pub async fn run(ctx: &Ctx, a: Log) -> anyhow::Result<u8> {
    let c = &ctx.client;
    let mut q = LogQuery { deployment: a.deployment, limit: a.limit, ..Default::default() };
    if let Some(asset) = a.asset {
        let asset: Asset = c.get(&format!("/assets/{}", path_part(&asset))).await?;
        q.asset = Some(asset.id.0);
    }
    if let Some(p) = a.package {
        let p: Package = c.get(&format!("/packages/{}", path_part(&p))).await?;
        q.package = Some(p.id.0);
    }
    let entries: Vec<LogEntry> = c.get_with("/logs", &q).await?;
    ctx.print(&entries, |e| print_log(e))?;
    Ok(0)
}

/// The log in text: the target's fields, then each step and each state change.
fn print_log(entries: &[LogEntry]) {
    for e in entries {
        let t = &e.target;
        out!(
            "{} deployment {} target {}  asset {}  package {} {}  executor {}",
            time(Some(t.updated_ms)),
            t.deployment_id,
            t.id,
            t.asset_name,
            e.package_name,
            e.package_version,
            e.executor
        );
        out!(
            "  state {}  last step {}  return code {}  run mode {}  deployer {}  server {}  credential {}",
            t.state,
            opt(&t.last_step),
            opt(&t.return_code),
            t.run_mode,
            opt(&t.deployer_version),
            opt(&t.server),
            opt(&t.credential)
        );
        out!("  message: {}{}", t.message, t.error_code.as_ref().map(|c| format!(" [{c}]")).unwrap_or_default());
        for st in &e.steps {
            out!(
                "  step {} '{}': exit {} {} in {} ms{}",
                st.index + 1,
                st.name,
                opt(&st.exit_code),
                if st.success { "ok" } else { "FAILED" },
                st.duration_ms,
                if st.message.is_empty() { String::new() } else { format!(" — {}", st.message) }
            );
            let tail: Vec<&str> = st.output_tail.lines().rev().take(5).collect();
            for line in tail.into_iter().rev() {
                out!("      | {line}");
            }
        }
        for ev in &e.events {
            out!("  {} {:<12} {}", time(Some(ev.at_ms)), ev.state.as_str(), ev.message);
        }
        out!();
    }
}
