//! `drover credential`: scanning credentials and where they apply.

use super::Ctx;
use super::output::out;
use super::output::{self, read_stdin_line};
use anyhow::Context;
use drover_api::Done;
use drover_api::assets::AssetRef;
use drover_api::credentials::Mapping;
use drover_domain::asset::Asset;
use drover_domain::credential::{Credential, CredentialMapping, CredentialSecret, NewCredential, Scope, SudoMode};
use std::path::PathBuf;

#[derive(clap::Subcommand, Debug)]
pub enum Cmd {
    /// Add a credential; the secret is read from standard input or a key file.
    Add {
        name: String,
        #[arg(long)]
        user: String,
        /// Read the password from standard input.
        #[arg(long, conflicts_with = "key_file")]
        password_stdin: bool,
        /// An OpenSSH private key file.
        #[arg(long)]
        key_file: Option<PathBuf>,
        /// Read the key's passphrase from standard input.
        #[arg(long, requires = "key_file")]
        passphrase_stdin: bool,
        /// How the user becomes root: none, no-password (sudo -n) or password (sudo -S).
        #[arg(long, default_value = "none", value_parser = parse_sudo)]
        sudo: SudoMode,
        /// Map the credential to every asset.
        #[arg(long)]
        global: bool,
    },
    /// Every credential (never a secret).
    List,
    /// Let a credential be tried on one asset, an IP range, a domain, or every asset
    /// (admin). Order: the one that last worked on the asset, then asset, IP range
    /// (narrowest first), domain (longest first), global; by priority within each.
    Map {
        /// Credential id.
        credential: i64,
        #[command(flatten)]
        scope: ScopeArgs,
        /// Lower goes first among the mappings of the same scope.
        #[arg(long, default_value_t = 0)]
        priority: i64,
    },
    /// Where a credential may be used: its mappings, with their ids.
    Mappings {
        /// Credential id.
        credential: i64,
    },
    /// Remove a mapping (admin): by its id (--mapping, see `credential mappings`) or by
    /// the scope it has.
    Unmap {
        /// Credential id.
        credential: i64,
        /// Mapping id.
        #[arg(long, conflicts_with_all = ["asset", "range", "domain", "global"])]
        mapping: Option<i64>,
        #[command(flatten)]
        scope: UnmapScope,
    },
    /// Remove a credential with its mappings.
    Rm {
        /// Credential id.
        id: i64,
    },
}

/// Exactly one scope of a mapping.
#[derive(clap::Args, Debug)]
#[group(required = true, multiple = false)]
pub struct ScopeArgs {
    /// Asset name or id.
    #[arg(long)]
    pub asset: Option<String>,
    /// IP range: CIDR (10.0.0.0/24) or first-last (10.0.0.5-10.0.0.40).
    #[arg(long)]
    pub range: Option<String>,
    /// DNS domain: assets whose address is it or a name under it.
    #[arg(long)]
    pub domain: Option<String>,
    /// Every asset.
    #[arg(long)]
    pub global: bool,
}

/// The scope of the mapping to remove, when not named by id.
#[derive(clap::Args, Debug)]
#[group(required = false, multiple = false)]
pub struct UnmapScope {
    #[arg(long)]
    pub asset: Option<String>,
    #[arg(long)]
    pub range: Option<String>,
    #[arg(long)]
    pub domain: Option<String>,
    #[arg(long)]
    pub global: bool,
}

fn mapping_of(
    asset: Option<String>,
    range: Option<String>,
    domain: Option<String>,
    global: bool,
    priority: i64,
) -> Mapping {
    match (asset, range, domain) {
        (Some(a), _, _) => Mapping::to_asset(AssetRef::parse(&a), priority),
        (_, Some(r), _) => Mapping::to_range(&r, priority),
        (_, _, Some(d)) => Mapping::to_domain(&d, priority),
        _ => Mapping { global, priority, ..Default::default() },
    }
}

/// How a mapping reads, e.g. `IP range 10.0.0.0/24`.
fn describe(m: &CredentialMapping, assets: &[Asset]) -> String {
    match &m.scope {
        Scope::Asset(id) => match assets.iter().find(|a| a.id == *id) {
            Some(a) => format!("asset {} '{}'", a.id, a.name),
            None => format!("asset {id}"),
        },
        other => other.to_string(),
    }
}

fn parse_sudo(s: &str) -> Result<SudoMode, String> {
    SudoMode::parse(&s.replace('-', "_"))
        .ok_or_else(|| format!("'{s}' is not a sudo mode: choose none, no-password or password"))
}

pub async fn run(ctx: &Ctx, cmd: Cmd) -> anyhow::Result<u8> {
    let c = &ctx.client;
    match cmd {
        Cmd::Add { name, user, password_stdin, key_file, passphrase_stdin, sudo, global } => {
            let mut secret = CredentialSecret::default();
            match (&key_file, password_stdin) {
                (Some(f), _) => {
                    let key =
                        std::fs::read_to_string(f).with_context(|| format!("cannot read key file {}", f.display()))?;
                    secret.private_key = Some(key);
                    if passphrase_stdin {
                        secret.passphrase = Some(read_stdin_line("passphrase")?);
                    }
                }
                (None, true) => secret.password = Some(read_stdin_line("password")?),
                (None, false) => secret.password = Some(rpassword::prompt_password(format!("Password of {user}: "))?),
            }
            let new = NewCredential { name, username: user, sudo, secret };
            let cred: Credential = c.post("/credentials", &new).await?;
            if global {
                let _: CredentialMapping =
                    c.post(&format!("/credentials/{}/mappings", cred.id), &Mapping::global(0)).await?;
            }
            ctx.print(&cred, |cred| {
                let mapped = if global { ", mapped to every asset" } else { "" };
                out!("credential {} '{}' added{mapped}", cred.id, cred.name);
            })?;
        }
        Cmd::List => {
            let list: Vec<Credential> = c.get("/credentials").await?;
            ctx.print(&list, |list| {
                output::table(
                    &["ID", "NAME", "USER", "KIND", "SUDO"],
                    list.iter().map(|c| {
                        vec![
                            c.id.to_string(),
                            c.name.clone(),
                            c.username.clone(),
                            c.kind.as_str().into(),
                            c.sudo.as_str().into(),
                        ]
                    }),
                )
            })?;
        }
        Cmd::Map { credential, scope, priority } => {
            let ScopeArgs { asset, range, domain, global } = scope;
            let body = mapping_of(asset, range, domain, global, priority);
            let m: CredentialMapping = c.post(&format!("/credentials/{credential}/mappings"), &body).await?;
            let assets: Vec<Asset> = c.get("/assets").await?;
            ctx.print(&m, |m| {
                let id = m.id.map(|i| i.to_string()).unwrap_or_default();
                out!(
                    "credential {credential} mapped to {} (mapping {id}, priority {})",
                    describe(m, &assets),
                    m.priority
                );
            })?;
        }
        Cmd::Mappings { credential } => {
            let list: Vec<CredentialMapping> = c.get(&format!("/credentials/{credential}/mappings")).await?;
            let assets: Vec<Asset> = c.get("/assets").await?;
            ctx.print(&list, |list| {
                output::table(
                    &["MAPPING", "SCOPE", "WHERE", "PRIORITY"],
                    list.iter().map(|m| {
                        vec![
                            m.id.map(|i| i.to_string()).unwrap_or_default(),
                            m.scope.kind().to_string(),
                            describe(m, &assets),
                            m.priority.to_string(),
                        ]
                    }),
                )
            })?;
        }
        Cmd::Unmap { credential, mapping, scope } => {
            let id = match mapping {
                Some(id) => id,
                None => {
                    let UnmapScope { asset, range, domain, global } = scope;
                    let list: Vec<CredentialMapping> = c.get(&format!("/credentials/{credential}/mappings")).await?;
                    let assets: Vec<Asset> = c.get("/assets").await?;
                    let found = list.iter().find(|m| match &m.scope {
                        Scope::Asset(id) => asset.as_deref().is_some_and(|a| {
                            assets.iter().any(|x| x.id == *id && (x.name == a || x.id.to_string() == a))
                        }),
                        Scope::IpRange(r) => range.as_deref().is_some_and(|x| x.trim() == r.to_string()),
                        Scope::Domain(d) => domain
                            .as_deref()
                            .is_some_and(|x| drover_domain::scope::Domain::parse(x).is_ok_and(|x| x == *d)),
                        Scope::Global => global,
                    });
                    match found.and_then(|m| m.id) {
                        Some(id) => id.0,
                        None => anyhow::bail!(
                            "credential {credential} has no such mapping: give --mapping ID (see `drover credential mappings {credential}`) or the scope it has (--asset, --range, --domain or --global)"
                        ),
                    }
                }
            };
            let done: Done = c.delete(&format!("/credentials/{credential}/mappings/{id}")).await?;
            ctx.print(&done, |d| out!("{}", d.message))?;
        }
        Cmd::Rm { id } => {
            let done: Done = c.delete(&format!("/credentials/{id}")).await?;
            ctx.print(&done, |_| out!("credential {id} removed"))?;
        }
    }
    Ok(0)
}
