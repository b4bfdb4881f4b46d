//! The asset list (a search box per column, sort, 50 a page, tick boxes, "all results of
//! this search", Deploy Package) and the asset page (facts, host key, deployments).

use super::session::{AdminPage, CsrfForm, Session, ViewerPage};
use super::{Nav, PageResult, render, time};
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use drover_api::assets::{AssetQuery, AssetRef};
use drover_api::logs::LogQuery;
use drover_domain::asset_search::AssetColumn;
use drover_engine::{Engine, EngineError};
use serde::Deserialize;

/// Assets per page.
pub(crate) const PAGE: i64 = 50;

pub(super) fn routes() -> Router<Engine> {
    Router::new()
        .route("/assets", get(list))
        .route("/assets/{id}", get(show))
        .route("/assets/{id}/trust-key", post(trust_key))
}

/// The asset list's query string: the column filters, sort, page, and the package a
/// "Deploy Now" preselected.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ListQuery {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub hostname: String,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub arch: String,
    #[serde(default)]
    pub sort: String,
    #[serde(default)]
    pub dir: String,
    #[serde(default)]
    pub page: Option<i64>,
    #[serde(default)]
    pub package: String,
}

impl ListQuery {
    /// The filters, sort and page as the engine's search.
    pub fn search(&self, offset: i64, limit: i64) -> AssetQuery {
        let some = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
        AssetQuery {
            name: some(&self.name),
            address: some(&self.address),
            hostname: some(&self.hostname),
            os: some(&self.os),
            arch: some(&self.arch),
            domain: None,
            software: None,
            sort: some(&self.sort),
            dir: some(&self.dir),
            offset: Some(offset),
            limit: Some(limit),
        }
    }

    /// The filter fields (and the preselected package) as query pairs.
    pub fn filter_pairs(&self) -> Vec<(&'static str, String)> {
        [
            ("name", &self.name),
            ("address", &self.address),
            ("hostname", &self.hostname),
            ("os", &self.os),
            ("arch", &self.arch),
            ("package", &self.package),
        ]
        .into_iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| (k, v.clone()))
        .collect()
    }

    fn link(&self, sort: &str, dir: &str, page: i64) -> String {
        let mut pairs = self.filter_pairs();
        pairs.push(("sort", sort.to_string()));
        pairs.push(("dir", dir.to_string()));
        pairs.push(("page", page.to_string()));
        format!("/assets?{}", serde_urlencoded::to_string(pairs).unwrap_or_default())
    }
}

struct Column {
    key: &'static str,
    label: &'static str,
    value: String,
    sort_link: String,
    /// ` ▲`/` ▼` on the sorted column.
    arrow: &'static str,
    aria_sort: &'static str,
    searchable: bool,
}

struct Row {
    id: i64,
    name: String,
    address: String,
    hostname: String,
    os: String,
    arch: String,
    last_seen: String,
}

#[derive(Template)]
#[template(path = "assets.html")]
struct ListPage {
    nav: Nav,
    columns: Vec<Column>,
    rows: Vec<Row>,
    /// "1,234", or "10,000+" when more match than are counted.
    total: String,
    page: i64,
    /// "25", or "200+" when the total is a lower bound.
    pages: String,
    prev: String,
    next: String,
    sort: String,
    dir: String,
    package: String,
    error: String,
}

async fn list(State(engine): State<Engine>, ViewerPage(s): ViewerPage, Query(q): Query<ListQuery>) -> PageResult {
    let page = q.page.unwrap_or(1).max(1);
    let sort = AssetColumn::parse(&q.sort).unwrap_or_default();
    let desc = q.dir == "desc";
    let (result, error) = match engine.search_assets(&q.search((page - 1) * PAGE, PAGE)).await {
        Ok(r) => (r, String::new()),
        Err(drover_engine::EngineError::Invalid(m)) => {
            (drover_api::assets::AssetPage { total: 0, total_exact: true, assets: vec![] }, m)
        }
        Err(e) => return Err(e.into()),
    };
    let labels = [
        (AssetColumn::Name, "Name", &q.name),
        (AssetColumn::Address, "Address", &q.address),
        (AssetColumn::Hostname, "Host name", &q.hostname),
        (AssetColumn::Os, "OS", &q.os),
        (AssetColumn::Arch, "Arch", &q.arch),
    ];
    let mut columns: Vec<Column> =
        labels.iter().map(|(c, label, value)| column(&q, *c, label, value, sort, desc)).collect();
    columns.push(column(&q, AssetColumn::LastSeen, "Last seen", "", sort, desc));
    let pages = ((result.total + PAGE - 1) / PAGE).max(1);
    // past the counted matches, a full page may have a next one
    let more = page < pages || (!result.total_exact && result.assets.len() as i64 == PAGE);
    let plus = if result.total_exact { "" } else { "+" };
    let (sort_s, dir_s) = (sort.as_str().to_string(), if desc { "desc" } else { "asc" }.to_string());
    let rows = result
        .assets
        .into_iter()
        .map(|a| Row {
            id: a.id.0,
            name: a.name,
            address: a.address,
            hostname: a.hostname.unwrap_or_default(),
            os: a.os.unwrap_or_default(),
            arch: a.arch.unwrap_or_default(),
            last_seen: time(a.last_seen_ms),
        })
        .collect();
    Ok(render(&ListPage {
        nav: s.nav("assets"),
        columns,
        rows,
        total: format!("{}{plus}", thousands(result.total)),
        page,
        pages: format!("{}{plus}", thousands(pages.max(page))),
        prev: if page > 1 { q.link(&sort_s, &dir_s, page - 1) } else { String::new() },
        next: if more { q.link(&sort_s, &dir_s, page + 1) } else { String::new() },
        sort: sort_s,
        dir: dir_s,
        package: q.package.clone(),
        error,
    }))
}

/// `n` with a comma between thousands: 10000 → "10,000".
fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    if n < 0 { format!("-{out}") } else { out }
}

fn column(q: &ListQuery, c: AssetColumn, label: &'static str, value: &str, sort: AssetColumn, desc: bool) -> Column {
    let sorted = c == sort;
    let next_dir = if sorted && !desc { "desc" } else { "asc" };
    Column {
        key: c.as_str(),
        label,
        value: value.to_string(),
        sort_link: q.link(c.as_str(), next_dir, 1),
        arrow: match (sorted, desc) {
            (false, _) => "",
            (true, false) => " ▲",
            (true, true) => " ▼",
        },
        aria_sort: match (sorted, desc) {
            (false, _) => "none",
            (true, false) => "ascending",
            (true, true) => "descending",
        },
        searchable: c.is_text(),
    }
}

struct HistoryRow {
    deployment: i64,
    target: i64,
    package: String,
    state: &'static str,
    last_step: String,
    return_code: String,
    message: String,
    when: String,
}

#[derive(Template)]
#[template(path = "asset.html")]
struct AssetPage {
    nav: Nav,
    id: i64,
    name: String,
    facts: Vec<(&'static str, String)>,
    interfaces: Vec<(String, String, String)>,
    /// Installed software (filtered by `software_filter`): name, version.
    software: Vec<(String, String)>,
    software_filter: String,
    /// Software changes between scans: when, package, change, old, new.
    changes: Vec<(String, String, &'static str, String, String)>,
    history: Vec<HistoryRow>,
    /// What the host-key form answered (a fingerprint to check, or the pin made).
    key_notice: String,
    key_error: String,
}

/// `?software=TEXT` filters the software list.
#[derive(Debug, Default, Deserialize)]
struct ShowQuery {
    #[serde(default)]
    software: String,
}

async fn show(
    State(engine): State<Engine>,
    ViewerPage(s): ViewerPage,
    Path(id): Path<i64>,
    Query(q): Query<ShowQuery>,
) -> PageResult {
    asset_page(&engine, &s, id, String::new(), String::new(), &q.software).await
}

async fn asset_page(
    engine: &Engine,
    s: &Session,
    id: i64,
    key_notice: String,
    key_error: String,
    software_filter: &str,
) -> PageResult {
    let a = engine.resolve_asset(&AssetRef::Id(id)).await?;
    let filter = Some(software_filter.trim()).filter(|f| !f.is_empty());
    let software = engine.asset_software(&AssetRef::Id(id), filter).await?;
    let software = software.into_iter().map(|p| (p.name, p.version)).collect();
    let changes = engine.software_history(&AssetRef::Id(id)).await?;
    let changes = changes
        .into_iter()
        .map(|c| {
            let kind = c.kind.as_str();
            (time(Some(c.at_ms)), c.name, kind, c.old_version.unwrap_or_default(), c.new_version.unwrap_or_default())
        })
        .collect();
    let interfaces = engine.asset_interfaces(&AssetRef::Id(id)).await?;
    let interfaces =
        interfaces.into_iter().map(|i| (i.name, i.mac.unwrap_or_default(), i.addresses.join(", "))).collect();
    let f = a.facts.clone();
    let disks = f
        .disks
        .iter()
        .map(|d| format!("{} {} free of {}", d.mount, bytes(d.free_bytes), bytes(d.size_bytes)))
        .collect::<Vec<_>>()
        .join("; ");
    let log = engine.log(&LogQuery { asset: Some(id), limit: 200, ..Default::default() }).await?;
    let or_none = |v: Option<String>| v.unwrap_or_else(|| "—".into());
    let facts = vec![
        ("Address", format!("{}:{}", a.address, a.ssh_port)),
        ("Host name", or_none(a.hostname)),
        ("Operating system", or_none(a.os)),
        ("Architecture", or_none(a.arch)),
        ("Type", or_none(f.machine_type.map(|t| t.to_string()))),
        (
            "Pending reboot",
            or_none(f.pending_reboot.map(|p| if p { "yes: the machine waits for a reboot" } else { "no" }.to_string())),
        ),
        ("MAC addresses", if a.macs.is_empty() { "—".into() } else { a.macs.join(", ") }),
        ("Pinned host key", or_none(a.host_key_fingerprint)),
        ("Last seen", or_none(a.last_seen_ms.map(|t| time(Some(t))))),
        ("Added", time(Some(a.created_ms))),
        ("FQDN", or_none(f.fqdn)),
        ("Domain", or_none(f.domain)),
        ("OS version", or_none(f.os_version)),
        ("Kernel", or_none(f.kernel)),
        ("CPU", or_none(f.cpu_model.map(|m| format!("{m} × {}", f.cpu_count.unwrap_or(0))))),
        ("Memory", or_none(f.memory_bytes.map(bytes))),
        ("Disks", if disks.is_empty() { "—".into() } else { disks }),
        ("Last boot", or_none(f.last_boot_ms.map(|t| time(Some(t))))),
        ("Logged-on users", if f.logged_on_users.is_empty() { "—".into() } else { f.logged_on_users.join(", ") }),
        ("Machine id", or_none(f.machine_id)),
        ("First seen", or_none(f.first_seen_ms.map(|t| time(Some(t))))),
        ("Last successful scan", or_none(f.last_scan_ok_ms.map(|t| time(Some(t))))),
        ("Last scan error", or_none(f.last_scan_error.map(|e| format!("{e} ({})", time(f.last_scan_error_ms))))),
    ];
    let history = log
        .into_iter()
        .map(|e| HistoryRow {
            deployment: e.target.deployment_id.0,
            target: e.target.id.0,
            package: format!("{} {}", e.package_name, e.package_version),
            state: e.target.state.as_str(),
            last_step: e.target.last_step.unwrap_or_default(),
            return_code: e.target.return_code.map(|c| c.to_string()).unwrap_or_default(),
            message: e.target.message,
            when: time(Some(e.target.finished_ms.unwrap_or(e.target.updated_ms))),
        })
        .collect();
    let status = if key_error.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let page = AssetPage {
        nav: s.nav("assets"),
        id: a.id.0,
        name: a.name,
        facts,
        interfaces,
        software,
        software_filter: software_filter.to_string(),
        changes,
        history,
        key_notice,
        key_error,
    };
    Ok((status, render(&page)).into_response())
}

#[derive(Deserialize)]
struct TrustForm {
    #[serde(default)]
    fingerprint: String,
}

/// Admins: without a fingerprint, reads the key the machine presents and shows its
/// fingerprint (nothing is pinned); with the fingerprint the machine itself shows, pins
/// that key (as `drover asset accept-key --fingerprint`).
async fn trust_key(
    State(engine): State<Engine>,
    AdminPage(s): AdminPage,
    Path(id): Path<i64>,
    f: CsrfForm<TrustForm>,
) -> PageResult {
    let fingerprint = f.value.fingerprint.trim().to_string();
    let pin = !fingerprint.is_empty();
    let wanted = pin.then_some(fingerprint.as_str());
    match engine.trust_host_key(&AssetRef::Id(id), wanted, pin, &s.actor()).await {
        Ok(answer) => asset_page(&engine, &s, id, answer.message, String::new(), "").await,
        Err(EngineError::Invalid(m)) => asset_page(&engine, &s, id, String::new(), m, "").await,
        Err(e) => Err(e.into()),
    }
}

/// Bytes as KiB/MiB/GiB/TiB.
fn bytes(n: i64) -> String {
    let mut v = n as f64;
    for unit in ["B", "KiB", "MiB", "GiB"] {
        if v < 1024.0 {
            return format!("{v:.1} {unit}");
        }
        v /= 1024.0;
    }
    format!("{v:.1} TiB")
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(10_000), "10,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(-1_000), "-1,000");
    }
}
