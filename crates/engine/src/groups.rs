//! Groups and reports as the API and CLI use them: create, list, show, remove, members
//! of static groups, run a report, export as a file. Changes are audited.

use crate::error::{EngineError, Result};
use crate::{Engine, now_ms};
use drover_api::assets::AssetRef;
use drover_api::selections::{GroupDetail, GroupFile, GroupSummary, ReportRun, RuleSpec};
use drover_domain::audit::AuditAction;
use drover_domain::executor::Executor;
use drover_domain::group::{Group, NewGroup};
use drover_domain::ids::{GroupId, ReportId};
use drover_domain::report::{NewReport, Report, builtins};
use drover_store::ReportLimits;
use std::collections::BTreeMap;

impl Engine {
    /// A group by id (all digits) or name.
    pub async fn resolve_group(&self, r: &str) -> Result<Group> {
        Ok(match r.parse::<i64>() {
            Ok(id) => self.store().group(GroupId(id)).await?,
            Err(_) => self.store().group_by_name(r).await?,
        })
    }

    async fn summary(&self, group: Group) -> Result<(GroupSummary, Vec<drover_domain::group::Member>)> {
        let members = self.store().group_members(&group).await?;
        let summary = GroupSummary {
            kind: group.kind().into(),
            rule_text: group.rule.as_ref().map(ToString::to_string),
            member_count: members.len(),
            group,
        };
        Ok((summary, members))
    }

    /// Creates a group (or imports a group file): a rule makes it dynamic; a static
    /// group's listed members must exist.
    pub async fn create_group(&self, f: GroupFile, by: &Executor) -> Result<GroupDetail> {
        let rule =
            f.rule.as_ref().map(RuleSpec::rule).transpose().map_err(|e| EngineError::Invalid(format!("rule: {e}")))?;
        if rule.is_some() && !f.members.is_empty() {
            return Err(EngineError::Invalid(
                "a dynamic group (with a rule) has no explicit members: give a rule or members, not both".into(),
            ));
        }
        let mut new = NewGroup { name: f.name, description: f.description, rule };
        new.validate().map_err(EngineError::Invalid)?;
        let mut members = Vec::new();
        for m in &f.members {
            members.push(self.resolve_asset(m).await.map_err(|e| EngineError::Invalid(format!("members: {e}")))?.id);
        }
        let g = self.store().create_group(&new, now_ms()).await?;
        for id in members {
            self.store().add_group_member(g.id, id).await?;
        }
        let detail = format!("group {} '{}' ({})", g.id, g.name, g.kind());
        self.audit_done(by, AuditAction::GroupCreate, &detail).await;
        self.group_detail(&g.id.to_string()).await
    }

    /// Every group with its member count now.
    pub async fn list_groups(&self) -> Result<Vec<GroupSummary>> {
        let mut out = Vec::new();
        for g in self.store().list_groups().await? {
            out.push(self.summary(g).await?.0);
        }
        Ok(out)
    }

    /// A group and its members now (a dynamic group's rule is resolved).
    pub async fn group_detail(&self, r: &str) -> Result<GroupDetail> {
        let (summary, members) = self.summary(self.resolve_group(r).await?).await?;
        Ok(GroupDetail { summary, members })
    }

    pub async fn delete_group(&self, r: &str, by: &Executor) -> Result<Group> {
        let g = self.resolve_group(r).await?;
        self.store().delete_group(g.id).await?;
        self.audit_done(by, AuditAction::GroupDelete, &format!("group {} '{}'", g.id, g.name)).await;
        Ok(g)
    }

    /// Adds (`add`) or removes an asset of a static group; true when that changed it.
    pub async fn change_group_member(&self, r: &str, asset: &AssetRef, add: bool, by: &Executor) -> Result<bool> {
        let g = self.resolve_group(r).await?;
        if g.is_dynamic() {
            return Err(EngineError::Invalid(format!(
                "group '{}' is dynamic: its members follow its rule; change the rule or use a static group",
                g.name
            )));
        }
        let a = self.resolve_asset(asset).await?;
        let changed = if add {
            self.store().add_group_member(g.id, a.id).await?
        } else {
            self.store().remove_group_member(g.id, a.id).await?
        };
        if changed {
            let verb = if add { "added to" } else { "removed from" };
            let detail = format!("asset {} '{}' {verb} group {} '{}'", a.id, a.name, g.id, g.name);
            self.audit_done(by, AuditAction::GroupMembers, &detail).await;
        }
        Ok(changed)
    }

    /// The group as a file: its rule as text (or JSON when text cannot hold it), or its
    /// members by name.
    pub async fn export_group(&self, r: &str) -> Result<GroupFile> {
        let d = self.group_detail(r).await?;
        let g = d.summary.group;
        let rule = g.rule.map(|rule| {
            let text = rule.to_string();
            if drover_domain::group::Rule::parse(&text).ok().as_ref() == Some(&rule) {
                RuleSpec::Text(text)
            } else {
                RuleSpec::Json(rule)
            }
        });
        let members =
            if rule.is_some() { vec![] } else { d.members.into_iter().map(|m| AssetRef::Name(m.name)).collect() };
        Ok(GroupFile { name: g.name, description: g.description, rule, members })
    }

    /// A report by id or name: a built-in one first, then the saved ones.
    pub async fn resolve_report(&self, r: &str) -> Result<Report> {
        if let Some(b) = builtins().into_iter().find(|b| b.report.name == r) {
            return Ok(b);
        }
        Ok(match r.parse::<i64>() {
            Ok(id) => self.store().report(ReportId(id)).await?,
            Err(_) => self.store().report_by_name(r).await?,
        })
    }

    /// The built-in reports, then the saved ones by name.
    pub async fn list_reports(&self) -> Result<Vec<Report>> {
        let mut out = builtins();
        out.extend(self.store().list_reports().await?);
        Ok(out)
    }

    /// Saves a report (or imports a report file) after checking its SQL.
    pub async fn create_report(&self, mut r: NewReport, by: &Executor) -> Result<Report> {
        r.validate().map_err(EngineError::Invalid)?;
        if builtins().iter().any(|b| b.report.name == r.name) {
            return Err(EngineError::Conflict(format!(
                "'{}' is the name of a built-in report: choose another",
                r.name
            )));
        }
        let saved = self.store().create_report(&r, now_ms()).await?;
        let detail = format!("report {} '{}'", saved.id, saved.report.name);
        self.audit_done(by, AuditAction::ReportCreate, &detail).await;
        Ok(saved)
    }

    pub async fn delete_report(&self, r: &str, by: &Executor) -> Result<Report> {
        let report = self.resolve_report(r).await?;
        if report.builtin {
            return Err(EngineError::Invalid(format!(
                "'{}' is a built-in report: it cannot be removed",
                report.report.name
            )));
        }
        self.store().delete_report(report.id).await?;
        let detail = format!("report {} '{}'", report.id, report.report.name);
        self.audit_done(by, AuditAction::ReportDelete, &detail).await;
        Ok(report)
    }

    /// Runs a report read-only (time limit and row cap: `ReportLimits::default()`).
    pub async fn run_report(&self, r: &str, params: &BTreeMap<String, String>) -> Result<ReportRun> {
        let report = self.resolve_report(r).await?;
        let binds = report.report.bind_values(params, now_ms()).map_err(EngineError::Invalid)?;
        let result = self.store().run_report_sql(&report.report.sql, &binds, ReportLimits::default()).await?;
        let deployable = result.asset_column().is_some();
        Ok(ReportRun { report, result, deployable })
    }
}
