//! Dynamic group rules: conditions over asset fields and installed software joined with
//! AND/OR/NOT, their text syntax (`os starts-with Debian and software nginx < 1.24`) with
//! a parser whose errors name the position, and the same rule as JSON.
//!
//! Grammar (keywords ignore case; a value is a bare word or a '…' / "…" string):
//!
//! ```text
//! rule     := or
//! or       := and ("or" and)*
//! and      := not ("and" not)*
//! not      := "not" not | "(" rule ")" | software | cond
//! software := "software" VALUE [VOP VALUE]        VOP: = != < <= > >=
//! cond     := FIELD OP VALUE                      FIELD: name address hostname domain os arch type
//!                                                 OP: equals (=) contains starts-with ends-with
//! ```

use crate::VersionOp;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The asset fields a rule can test. Scanned facts (FQDN, kernel, …) come as more fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Name,
    Address,
    Hostname,
    /// The DNS domain: the host name (or else a non-IP address) after its first dot.
    Domain,
    Os,
    Arch,
    /// server / desktop / vm / container, as the last scan told (empty when never scanned).
    Type,
}

impl Field {
    pub const ALL: [Field; 7] =
        [Self::Name, Self::Address, Self::Hostname, Self::Domain, Self::Os, Self::Arch, Self::Type];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Address => "address",
            Self::Hostname => "hostname",
            Self::Domain => "domain",
            Self::Os => "os",
            Self::Arch => "arch",
            Self::Type => "type",
        }
    }

    pub fn parse(s: &str) -> Option<Field> {
        Self::ALL.into_iter().find(|f| f.as_str().eq_ignore_ascii_case(s))
    }
}

/// How a field is compared with a value (text, ignoring case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TextOp {
    Equals,
    Contains,
    StartsWith,
    EndsWith,
}

impl TextOp {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Equals => "equals",
            Self::Contains => "contains",
            Self::StartsWith => "starts-with",
            Self::EndsWith => "ends-with",
        }
    }

    fn parse(s: &str) -> Option<TextOp> {
        match s.to_ascii_lowercase().as_str() {
            "equals" | "=" | "==" => Some(Self::Equals),
            "contains" => Some(Self::Contains),
            "starts-with" => Some(Self::StartsWith),
            "ends-with" => Some(Self::EndsWith),
            _ => None,
        }
    }

    /// Whether `have op want` holds, ignoring case (what the SQL does).
    pub fn holds(self, have: &str, want: &str) -> bool {
        let (h, w) = (have.to_lowercase(), want.to_lowercase());
        match self {
            Self::Equals => h == w,
            Self::Contains => h.contains(&w),
            Self::StartsWith => h.starts_with(&w),
            Self::EndsWith => h.ends_with(&w),
        }
    }
}

/// A dynamic group's rule. JSON: `{"and": [..]}`, `{"or": [..]}`, `{"not": ..}`,
/// `{"field": "os", "op": "starts-with", "value": "Debian"}`,
/// `{"software": "nginx", "version": {"op": "<", "value": "1.24"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Rule {
    And {
        and: Vec<Rule>,
    },
    Or {
        or: Vec<Rule>,
    },
    Not {
        not: Box<Rule>,
    },
    Field {
        field: Field,
        op: TextOp,
        value: String,
    },
    Software {
        software: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        version: Option<VersionTest>,
    },
}

/// A software version test: installed version `op` `value`, in dpkg's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionTest {
    pub op: VersionOp,
    pub value: String,
}

/// A rule text that does not parse: what was expected, at which character (1-based).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rule error at character {position}: {message}")]
pub struct RuleError {
    pub position: usize,
    pub message: String,
}

/// Longest rule text, and deepest nesting, accepted.
const MAX_LEN: usize = 4000;
const MAX_DEPTH: usize = 32;

impl Rule {
    /// Parses the text syntax (see the module documentation).
    pub fn parse(text: &str) -> Result<Rule, RuleError> {
        if text.len() > MAX_LEN {
            return Err(RuleError { position: MAX_LEN, message: format!("a rule is at most {MAX_LEN} bytes") });
        }
        let tokens = lex(text)?;
        let mut p = Parser { tokens, at: 0, end: text.chars().count() + 1, depth: 0 };
        let rule = p.or()?;
        if let Some(t) = p.peek() {
            return Err(p.error_at(t.pos, format!("expected 'and', 'or' or the end of the rule, found '{}'", t.text)));
        }
        Ok(rule)
    }

    /// Every software name the rule tests (the store looks their versions up first).
    pub fn software_names(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.walk(&mut |r| {
            if let Rule::Software { software, .. } = r {
                out.push(software.as_str());
            }
        });
        out
    }

    fn walk<'a>(&'a self, f: &mut impl FnMut(&'a Rule)) {
        f(self);
        match self {
            Rule::And { and: rs } | Rule::Or { or: rs } => rs.iter().for_each(|r| r.walk(f)),
            Rule::Not { not } => not.walk(f),
            Rule::Field { .. } | Rule::Software { .. } => {}
        }
    }

    /// Checks a rule given as JSON: non-empty AND/OR, non-empty values, bounded depth.
    pub fn validate(&self) -> Result<(), String> {
        fn check(r: &Rule, depth: usize) -> Result<(), String> {
            if depth > MAX_DEPTH {
                return Err(format!("a rule nests at most {MAX_DEPTH} deep"));
            }
            match r {
                Rule::And { and: rs } | Rule::Or { or: rs } if rs.is_empty() => {
                    Err("an 'and' or 'or' needs at least one rule".into())
                }
                Rule::And { and: rs } | Rule::Or { or: rs } => rs.iter().try_for_each(|r| check(r, depth + 1)),
                Rule::Not { not } => check(not, depth + 1),
                Rule::Field { value, .. } if value.is_empty() => Err("a field test needs a value".into()),
                Rule::Software { software, .. } if software.is_empty() => Err("a software test needs a name".into()),
                Rule::Software { version: Some(v), .. } if v.value.is_empty() => {
                    Err("a software version test needs a version".into())
                }
                _ => Ok(()),
            }
        }
        check(self, 0)
    }
}

fn op_text(op: VersionOp) -> &'static str {
    match op {
        VersionOp::Eq => "=",
        VersionOp::Ne => "!=",
        VersionOp::Lt => "<",
        VersionOp::Le => "<=",
        VersionOp::Gt => ">",
        VersionOp::Ge => ">=",
    }
}

fn version_op(s: &str) -> Option<VersionOp> {
    Some(match s {
        "=" | "==" => VersionOp::Eq,
        "!=" => VersionOp::Ne,
        "<" => VersionOp::Lt,
        "<=" => VersionOp::Le,
        ">" => VersionOp::Gt,
        ">=" => VersionOp::Ge,
        _ => return None,
    })
}

/// A value as the syntax writes it: bare when that reads back the same, else quoted.
fn quoted(v: &str) -> String {
    let bare = !v.is_empty()
        && v.chars().all(|c| !c.is_whitespace() && !"()'\"<>=!".contains(c))
        && !["and", "or", "not"].contains(&v.to_ascii_lowercase().as_str());
    if bare {
        v.to_string()
    } else if !v.contains('\'') {
        format!("'{v}'")
    } else {
        format!("\"{v}\"")
    }
}

/// The text syntax, fully parenthesised where it nests; parses back to the same rule
/// (a value holding both quote kinds cannot be written as text: use JSON for it).
impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |f: &mut fmt::Formatter<'_>, rs: &[Rule], word: &str| -> fmt::Result {
            for (i, r) in rs.iter().enumerate() {
                if i > 0 {
                    write!(f, " {word} ")?;
                }
                match r {
                    Rule::And { .. } | Rule::Or { .. } => write!(f, "({r})")?,
                    _ => write!(f, "{r}")?,
                }
            }
            Ok(())
        };
        match self {
            Rule::And { and } => join(f, and, "and"),
            Rule::Or { or } => join(f, or, "or"),
            Rule::Not { not } => match **not {
                Rule::And { .. } | Rule::Or { .. } => write!(f, "not ({not})"),
                _ => write!(f, "not {not}"),
            },
            Rule::Field { field, op, value } => write!(f, "{} {} {}", field.as_str(), op.as_str(), quoted(value)),
            Rule::Software { software, version: None } => write!(f, "software {}", quoted(software)),
            Rule::Software { software, version: Some(v) } => {
                write!(f, "software {} {} {}", quoted(software), op_text(v.op), quoted(&v.value))
            }
        }
    }
}

#[derive(Debug, Clone)]
struct Token {
    text: String,
    /// 1-based character position.
    pos: usize,
    quoted: bool,
}

fn lex(text: &str) -> Result<Vec<Token>, RuleError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let pos = i + 1;
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' || c == ')' {
            out.push(Token { text: c.to_string(), pos, quoted: false });
            i += 1;
        } else if c == '\'' || c == '"' {
            let close = chars[i + 1..].iter().position(|&d| d == c).ok_or_else(|| RuleError {
                position: pos,
                message: format!("the string opened here with {c} is never closed"),
            })?;
            let s: String = chars[i + 1..i + 1 + close].iter().collect();
            if s.chars().any(char::is_control) {
                return Err(RuleError { position: pos, message: "a string must not hold control characters".into() });
            }
            out.push(Token { text: s, pos, quoted: true });
            i += close + 2;
        } else if "<>=!".contains(c) {
            let mut s = c.to_string();
            if chars.get(i + 1) == Some(&'=') {
                s.push('=');
            }
            i += s.len();
            out.push(Token { text: s, pos, quoted: false });
        } else {
            let start = i;
            while i < chars.len() && !chars[i].is_whitespace() && !"()'\"<>=!".contains(chars[i]) {
                i += 1;
            }
            let s: String = chars[start..i].iter().collect();
            if s.chars().any(char::is_control) {
                return Err(RuleError { position: pos, message: "a rule must not hold control characters".into() });
            }
            out.push(Token { text: s, pos, quoted: false });
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    /// The position just past the text, for "ended early" errors.
    end: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn error_at(&self, position: usize, message: String) -> RuleError {
        RuleError { position, message }
    }

    fn keyword(&mut self, word: &str) -> bool {
        match self.peek() {
            Some(t) if !t.quoted && t.text.eq_ignore_ascii_case(word) => {
                self.at += 1;
                true
            }
            _ => false,
        }
    }

    fn next(&mut self, what: &str) -> Result<Token, RuleError> {
        let t = self
            .peek()
            .cloned()
            .ok_or_else(|| self.error_at(self.end, format!("the rule ends where {what} was expected")))?;
        self.at += 1;
        Ok(t)
    }

    fn value(&mut self, what: &str) -> Result<String, RuleError> {
        let t = self.next(what)?;
        if !t.quoted && (t.text == "(" || t.text == ")" || version_op(&t.text).is_some() || t.text == "!") {
            return Err(self.error_at(t.pos, format!("expected {what}, found '{}'", t.text)));
        }
        Ok(t.text)
    }

    fn or(&mut self) -> Result<Rule, RuleError> {
        let mut rs = vec![self.and()?];
        while self.keyword("or") {
            rs.push(self.and()?);
        }
        Ok(if rs.len() == 1 { rs.remove(0) } else { Rule::Or { or: rs } })
    }

    fn and(&mut self) -> Result<Rule, RuleError> {
        let mut rs = vec![self.not()?];
        while self.keyword("and") {
            rs.push(self.not()?);
        }
        Ok(if rs.len() == 1 { rs.remove(0) } else { Rule::And { and: rs } })
    }

    fn not(&mut self) -> Result<Rule, RuleError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            let pos = self.peek().map_or(self.end, |t| t.pos);
            return Err(self.error_at(pos, format!("a rule nests at most {MAX_DEPTH} deep")));
        }
        let r = self.not_inner();
        self.depth -= 1;
        r
    }

    fn not_inner(&mut self) -> Result<Rule, RuleError> {
        if self.keyword("not") {
            return Ok(Rule::Not { not: Box::new(self.not()?) });
        }
        let t = self.next("a condition (a field, 'software', 'not' or '(')")?;
        if !t.quoted && t.text == "(" {
            let inner = self.or()?;
            let close = self.next("')'")?;
            if close.quoted || close.text != ")" {
                return Err(self.error_at(close.pos, format!("expected ')', found '{}'", close.text)));
            }
            return Ok(inner);
        }
        if !t.quoted && t.text.eq_ignore_ascii_case("software") {
            let software = self.value("a software name")?;
            let op = match self.peek() {
                Some(o) if !o.quoted => version_op(&o.text),
                _ => None,
            };
            let Some(op) = op else { return Ok(Rule::Software { software, version: None }) };
            self.at += 1;
            let value = self.value("a version")?;
            return Ok(Rule::Software { software, version: Some(VersionTest { op, value }) });
        }
        let field = (!t.quoted).then(|| Field::parse(&t.text)).flatten().ok_or_else(|| {
            self.error_at(
                t.pos,
                format!(
                    "'{}' is not a field: use name, address, hostname, domain, os, arch, type, software, not or '('",
                    t.text
                ),
            )
        })?;
        let o = self.next("an operator (equals, contains, starts-with, ends-with)")?;
        let op = (!o.quoted).then(|| TextOp::parse(&o.text)).flatten().ok_or_else(|| {
            self.error_at(
                o.pos,
                format!("'{}' is not an operator: use equals, contains, starts-with or ends-with", o.text),
            )
        })?;
        let value = self.value("a value")?;
        Ok(Rule::Field { field, op, value })
    }
}

#[cfg(test)]
#[path = "rule_tests.rs"]
mod tests;
