//! Dynamic group rules as SQL over the `report_assets` view: every value a bound
//! parameter (`$n`), never text in the statement. Software version tests are decided in
//! dpkg's order by the domain: the store first reads the versions installed of each
//! software the rule names, keeps those that pass, and binds them in an `IN (…)` list.

use drover_domain::group::{Field, Rule, TextOp};
use drover_domain::version;
use std::collections::HashMap;

/// The view column of a rule field (a fixed list: never user text).
fn column(f: Field) -> &'static str {
    match f {
        Field::Name => "ra.name",
        Field::Address => "ra.address",
        Field::Hostname => "ra.hostname",
        Field::Domain => "ra.domain",
        Field::Os => "ra.os",
        Field::Arch => "ra.arch",
        Field::Type => "ra.type",
    }
}

/// LIKE's wildcards escaped with `\`, lower case.
fn escape_like(text: &str) -> String {
    let mut p = String::new();
    for ch in text.to_lowercase().chars() {
        if matches!(ch, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(ch);
    }
    p
}

/// The SELECT of the assets `rule` matches (columns `id`, `name`), and its parameters.
/// `versions` holds, per lower-case software name, the versions installed anywhere.
pub(crate) fn compile(rule: &Rule, versions: &HashMap<String, Vec<String>>) -> (String, Vec<String>) {
    let mut binds = Vec::new();
    let cond = condition(rule, versions, &mut binds);
    (
        format!(
            "SELECT ra.AssetID AS id, ra.name AS name FROM report_assets ra WHERE {cond} ORDER BY ra.name, ra.AssetID"
        ),
        binds,
    )
}

fn bind(binds: &mut Vec<String>, v: String) -> String {
    binds.push(v);
    format!("${}", binds.len())
}

fn condition(rule: &Rule, versions: &HashMap<String, Vec<String>>, binds: &mut Vec<String>) -> String {
    match rule {
        Rule::And { and } => {
            let parts: Vec<String> = and.iter().map(|r| condition(r, versions, binds)).collect();
            format!("({})", parts.join(" AND "))
        }
        Rule::Or { or } => {
            let parts: Vec<String> = or.iter().map(|r| condition(r, versions, binds)).collect();
            format!("({})", parts.join(" OR "))
        }
        Rule::Not { not } => format!("(NOT {})", condition(not, versions, binds)),
        Rule::Field { field, op, value } => {
            let col = format!("LOWER(COALESCE({}, ''))", column(*field));
            match op {
                TextOp::Equals => format!("({col} = {})", bind(binds, value.to_lowercase())),
                TextOp::Contains => {
                    format!("({col} LIKE {} ESCAPE '\\')", bind(binds, format!("%{}%", escape_like(value))))
                }
                TextOp::StartsWith => {
                    format!("({col} LIKE {} ESCAPE '\\')", bind(binds, format!("{}%", escape_like(value))))
                }
                TextOp::EndsWith => {
                    format!("({col} LIKE {} ESCAPE '\\')", bind(binds, format!("%{}", escape_like(value))))
                }
            }
        }
        Rule::Software { software, version: test } => {
            let name = software.to_lowercase();
            let p = bind(binds, name.clone());
            let base =
                format!("EXISTS (SELECT 1 FROM asset_software s WHERE s.asset_id = ra.AssetID AND LOWER(s.name) = {p}");
            let Some(test) = test else { return format!("{base})") };
            let passing: Vec<&String> = versions
                .get(&name)
                .map(|vs| vs.iter().filter(|v| version::holds(v, test.op, &test.value)).collect())
                .unwrap_or_default();
            if passing.is_empty() {
                binds.pop();
                return "(1 = 0)".into();
            }
            let list: Vec<String> = passing.into_iter().map(|v| bind(binds, v.clone())).collect();
            format!("{base} AND s.version IN ({}))", list.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_bound_never_inlined() {
        let rule = Rule::parse("os starts-with \"Deb%' OR 1=1 --\" and not name contains x_y").unwrap();
        let (sql, binds) = compile(&rule, &HashMap::new());
        assert_eq!(
            sql,
            "SELECT ra.AssetID AS id, ra.name AS name FROM report_assets ra WHERE \
             ((LOWER(COALESCE(ra.os, '')) LIKE $1 ESCAPE '\\') AND (NOT (LOWER(COALESCE(ra.name, '')) LIKE $2 ESCAPE '\\'))) \
             ORDER BY ra.name, ra.AssetID"
        );
        assert_eq!(binds, vec!["deb\\%' or 1=1 --%".to_string(), "%x\\_y%".to_string()]);
    }

    #[test]
    fn software_versions_become_a_bound_list() {
        let versions =
            HashMap::from([("nginx".to_string(), vec!["1.22.1-9".into(), "1.24.0-1".into(), "1.18.0".into()])]);
        let rule = Rule::parse("software NGINX < 1.24 or domain equals Example.com").unwrap();
        let (sql, binds) = compile(&rule, &versions);
        assert!(
            sql.contains(
                "(EXISTS (SELECT 1 FROM asset_software s WHERE s.asset_id = ra.AssetID AND LOWER(s.name) = $1 \
                 AND s.version IN ($2, $3)) OR (LOWER(COALESCE(ra.domain, '')) = $4))"
            ),
            "{sql}"
        );
        assert_eq!(binds, vec!["nginx", "1.22.1-9", "1.18.0", "example.com"]);
        // no installed version passes: nothing matches, and no parameter is left over
        let (sql, binds) = compile(&Rule::parse("software nginx > 9 and os equals x").unwrap(), &versions);
        assert!(sql.contains("((1 = 0) AND (LOWER(COALESCE(ra.os, '')) = $1))"), "{sql}");
        assert_eq!(binds, vec!["x"]);
    }
}
