//! `drover group`, `drover report`, `drover overview`, and the selection flags that
//! `drover deploy` and `drover config add` share (`--group`, `--report`, `--search`,
//! `--overview`).

use super::Ctx;
use super::output::out;
use super::output::{self, path_part};
use anyhow::{Context, bail};
use drover_api::Done;
use drover_api::assets::AssetRef;
use drover_api::selections::{GroupDetail, GroupFile, GroupSummary, MemberRequest, ReportRun, RuleSpec, RunReport};
use drover_domain::report::{NewReport, Report};
use drover_domain::selection::{OverviewEntry, Selection};
use reqwest::Method;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Choosing assets by something other than their names (at most one of these).
#[derive(clap::Args, Debug, Default)]
pub struct SelectionArgs {
    /// A group (name or id): its members when the deployment starts.
    #[arg(long, conflicts_with_all = ["report", "search", "overview"])]
    group: Option<String>,
    /// A report (name or id) whose result has an AssetID column.
    #[arg(long, conflicts_with_all = ["search", "overview"])]
    report: Option<String>,
    /// A report parameter NAME=VALUE; repeat for more.
    #[arg(long = "param", requires = "report")]
    params: Vec<String>,
    /// Every asset whose columns contain these texts: `os=Debian,name=web`.
    #[arg(long, conflicts_with = "overview")]
    search: Option<String>,
    /// An overview entry: `os=Debian GNU/Linux 12`, `domain=example.com`, `subnet=10.0.0.0/24`.
    #[arg(long)]
    overview: Option<String>,
}

/// `NAME=VALUE` pairs as a map.
pub(super) fn params(list: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for p in list {
        let (k, v) = p.split_once('=').with_context(|| format!("parameter '{p}' is not NAME=VALUE"))?;
        out.insert(k.trim().to_string(), v.to_string());
    }
    Ok(out)
}

impl SelectionArgs {
    /// The selection given, if any.
    pub(super) fn selection(&self) -> anyhow::Result<Option<Selection>> {
        Ok(if let Some(g) = &self.group {
            Some(Selection::Group { group: g.clone() })
        } else if let Some(r) = &self.report {
            Some(Selection::Report { report: r.clone(), params: params(&self.params)? })
        } else if let Some(s) = &self.search {
            Some(Selection::parse_search(s).map_err(anyhow::Error::msg)?)
        } else if let Some(o) = &self.overview {
            Some(Selection::parse_overview(o).map_err(anyhow::Error::msg)?)
        } else {
            None
        })
    }
}

#[derive(clap::Subcommand, Debug)]
pub enum GroupCmd {
    /// Add a group: with --rule a dynamic one, else a static one (add members with
    /// --asset or `drover group add-asset`).
    Add {
        name: String,
        /// A rule, e.g. `os starts-with Debian and software nginx < 1.24` (see the README).
        #[arg(long)]
        rule: Option<String>,
        /// The rule as JSON (`{"and": [...]}`) instead of text.
        #[arg(long, conflicts_with = "rule")]
        rule_json: Option<String>,
        #[arg(long, default_value = "")]
        description: String,
        /// A member of a static group (name or id); repeat for more.
        #[arg(long = "asset")]
        assets: Vec<String>,
    },
    /// Every group, its kind and how many members it has now.
    List,
    /// A group and its members now, as JSON.
    Show { group: String },
    /// A group's members now (a dynamic group's rule is resolved).
    Members { group: String },
    /// Remove a group (its assets stay).
    Rm { group: String },
    /// Add an asset to a static group.
    AddAsset { group: String, asset: String },
    /// Remove an asset from a static group.
    RemoveAsset { group: String, asset: String },
    /// Write a group as a JSON file (standard output without --output).
    Export {
        group: String,
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Add a group from a file written by `export`.
    Import { file: PathBuf },
}

#[derive(clap::Subcommand, Debug)]
pub enum ReportCmd {
    /// Save a report: one SELECT over the report views (see the README).
    Add {
        name: String,
        /// The SQL; `-` reads it from standard input.
        #[arg(long)]
        sql: String,
        /// A parameter name, bound as $1, $2, … in order; repeat for more.
        #[arg(long = "param")]
        params: Vec<String>,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// The built-in and saved reports.
    List,
    /// A report as JSON.
    Show { report: String },
    /// Run a report and print its result.
    Run {
        report: String,
        /// A parameter NAME=VALUE; repeat for more.
        #[arg(long = "param")]
        params: Vec<String>,
    },
    /// Remove a saved report.
    Rm { report: String },
    /// Write a report as a JSON file (standard output without --output).
    Export {
        report: String,
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Add a report from a file written by `export`.
    Import { file: PathBuf },
}

fn write_file(v: &impl serde::Serialize, to: Option<PathBuf>) -> anyhow::Result<()> {
    match to {
        Some(p) => {
            std::fs::write(&p, serde_json::to_string_pretty(v)? + "\n")
                .with_context(|| format!("cannot write {}", p.display()))?;
            output::line(&format!("written to {}", p.display()));
            Ok(())
        }
        None => output::print_json(v),
    }
}

fn read_file<T: serde::de::DeserializeOwned>(p: &PathBuf) -> anyhow::Result<T> {
    let text = std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a file written by export", p.display()))
}

fn print_members(d: &GroupDetail) {
    output::table(&["ASSET ID", "NAME"], d.members.iter().map(|m| vec![m.asset_id.to_string(), m.name.clone()]));
}

pub async fn run_group(ctx: &Ctx, cmd: GroupCmd) -> anyhow::Result<u8> {
    let c = &ctx.client;
    let path = |g: &str, verb: &str| format!("/groups/{}{verb}", path_part(g));
    match cmd {
        GroupCmd::Add { name, rule, rule_json, description, assets } => {
            let rule = match (rule, rule_json) {
                (Some(t), _) => Some(RuleSpec::Text(t)),
                (None, Some(j)) => Some(RuleSpec::Json(serde_json::from_str(&j).context("--rule-json is not a rule")?)),
                (None, None) => None,
            };
            let members = assets.iter().map(|a| AssetRef::parse(a)).collect();
            let d: GroupDetail = c.post("/groups", &GroupFile { name, description, rule, members }).await?;
            ctx.print(&d, |d| {
                let s = &d.summary;
                out!("{} group {} '{}' added with {} member(s)", s.kind, s.group.id, s.group.name, s.member_count)
            })?;
        }
        GroupCmd::List => {
            let list: Vec<GroupSummary> = c.get("/groups").await?;
            ctx.print(&list, |list| {
                output::table(
                    &["ID", "NAME", "KIND", "MEMBERS", "RULE"],
                    list.iter().map(|g| {
                        vec![
                            g.group.id.to_string(),
                            g.group.name.clone(),
                            g.kind.clone(),
                            g.member_count.to_string(),
                            output::opt(&g.rule_text),
                        ]
                    }),
                )
            })?;
        }
        GroupCmd::Show { group } => {
            let d: GroupDetail = c.get(&path(&group, "")).await?;
            output::print_json(&d)?;
        }
        GroupCmd::Members { group } => {
            let d: GroupDetail = c.get(&path(&group, "/members")).await?;
            ctx.print(&d, print_members)?;
        }
        GroupCmd::Rm { group } => {
            let d: Done = c.delete(&path(&group, "")).await?;
            ctx.print(&d, |d| out!("{}", d.message))?;
        }
        GroupCmd::AddAsset { group, asset } => {
            let d: Done = c.post(&path(&group, "/members"), &MemberRequest { asset: AssetRef::parse(&asset) }).await?;
            ctx.print(&d, |d| out!("{}", d.message))?;
        }
        GroupCmd::RemoveAsset { group, asset } => {
            let body = MemberRequest { asset: AssetRef::parse(&asset) };
            let d: Done = c.json(c.request(Method::DELETE, &path(&group, "/members")).json(&body)).await?;
            ctx.print(&d, |d| out!("{}", d.message))?;
        }
        GroupCmd::Export { group, output: to } => {
            let f: GroupFile = c.get(&path(&group, "/export")).await?;
            write_file(&f, to)?;
        }
        GroupCmd::Import { file } => {
            let f: GroupFile = read_file(&file)?;
            let d: GroupDetail = c.post("/groups", &f).await?;
            ctx.print(&d, |d| {
                out!("group {} '{}' imported ({})", d.summary.group.id, d.summary.group.name, d.summary.kind)
            })?;
        }
    }
    Ok(0)
}

fn cell(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => "-".into(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub async fn run_report(ctx: &Ctx, cmd: ReportCmd) -> anyhow::Result<u8> {
    let c = &ctx.client;
    let path = |r: &str, verb: &str| format!("/reports/{}{verb}", path_part(r));
    match cmd {
        ReportCmd::Add { name, sql, params, description } => {
            let sql = if sql == "-" { output::read_stdin_line("report SQL")? } else { sql };
            let r: Report = c.post("/reports", &NewReport { name, description, sql, params }).await?;
            ctx.print(&r, |r| out!("report {} '{}' added", r.id, r.report.name))?;
        }
        ReportCmd::List => {
            let list: Vec<Report> = c.get("/reports").await?;
            ctx.print(&list, |list| {
                output::table(
                    &["ID", "NAME", "BUILT-IN", "PARAMETERS", "DESCRIPTION"],
                    list.iter().map(|r| {
                        vec![
                            if r.builtin { "-".into() } else { r.id.to_string() },
                            r.report.name.clone(),
                            if r.builtin { "yes" } else { "no" }.into(),
                            r.report.params.join(","),
                            r.report.description.clone(),
                        ]
                    }),
                )
            })?;
        }
        ReportCmd::Show { report } => {
            let r: Report = c.get(&path(&report, "")).await?;
            output::print_json(&r)?;
        }
        ReportCmd::Run { report, params: p } => {
            let run: ReportRun = c.post(&path(&report, "/run"), &RunReport { params: params(&p)? }).await?;
            ctx.print(&run, |run| {
                let headers: Vec<&str> = run.result.columns.iter().map(String::as_str).collect();
                output::table(&headers, run.result.rows.iter().map(|r| r.iter().map(cell).collect()));
                let more = if run.result.truncated { " (more exist: the row cap was reached)" } else { "" };
                let deploy = if run.deployable { "; deployable (drover deploy PKG --report …)" } else { "" };
                out!("{} row(s){more}{deploy}", run.result.rows.len())
            })?;
        }
        ReportCmd::Rm { report } => {
            let d: Done = c.delete(&path(&report, "")).await?;
            ctx.print(&d, |d| out!("{}", d.message))?;
        }
        ReportCmd::Export { report, output: to } => {
            let r: Report = c.get(&path(&report, "")).await?;
            write_file(&r.report, to)?;
        }
        ReportCmd::Import { file } => {
            let f: NewReport = read_file(&file)?;
            let r: Report = c.post("/reports", &f).await?;
            ctx.print(&r, |r| out!("report {} '{}' imported", r.id, r.report.name))?;
        }
    }
    Ok(0)
}

/// `drover overview KIND`: counts of assets by domain, os, type or subnet.
pub async fn run_overview(ctx: &Ctx, kind: String) -> anyhow::Result<u8> {
    if drover_domain::selection::OverviewKind::parse(&kind).is_none() {
        bail!("overview '{kind}' is not one of domain, os, type, subnet");
    }
    let list: Vec<OverviewEntry> = ctx.client.get(&format!("/overviews/{}", path_part(&kind))).await?;
    ctx.print(&list, |list| {
        output::table(
            &["VALUE", "ASSETS", "DEPLOY WITH"],
            list.iter().map(|e| vec![e.value.clone(), e.count.to_string(), format!("--overview '{kind}={}'", e.value)]),
        )
    })?;
    Ok(0)
}
