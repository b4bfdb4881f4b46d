//! What each client subcommand sends and prints.

use super::client::{Client, Saved, save};
use super::output;
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use drover_domain::asset::Asset;
use drover_domain::credential::Credential;
use drover_domain::deployment::{Deployment, Target};
use drover_domain::package::Package;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};
use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Args, Debug)]
pub struct Conn {
    /// Server URL (default: the one saved by `drover login`, else http://127.0.0.1:8080).
    #[arg(long, global = true, env = "DROVER_SERVER")]
    server: Option<String>,
    /// API token (default: the one saved by `drover login`).
    #[arg(long, global = true, env = "DROVER_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand, Debug)]
pub enum ClientCommand {
    /// Log in and save the token for the next commands.
    Login {
        #[arg(long, default_value = "admin")]
        user: String,
        /// Read the password from standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        conn: Conn,
    },
    /// Scanning credentials.
    #[command(subcommand)]
    Credential(CredentialCmd),
    /// Assets (computers).
    #[command(subcommand)]
    Asset(AssetCmd),
    /// Packages.
    #[command(subcommand)]
    Package(PackageCmd),
    /// Deploy a package to assets and follow it until every target has ended.
    Deploy {
        /// Package name or id.
        package: String,
        /// Package version (default: the newest).
        #[arg(long)]
        version: Option<String>,
        /// Asset name or id; repeat for more.
        #[arg(long = "asset", required = true)]
        assets: Vec<String>,
        /// system, scanning-credential or logged-on-user (default: the package's).
        #[arg(long)]
        run_mode: Option<String>,
        #[command(flatten)]
        offline: OfflineArgs,
        /// Start and return without following.
        #[arg(long)]
        no_follow: bool,
        #[command(flatten)]
        conn: Conn,
    },
    /// Targets waiting in the retry queue (offline machines of deployments with --retry).
    RetryQueue {
        #[command(flatten)]
        conn: Conn,
    },
    /// Deployments: list, show, cancel, relaunch.
    #[command(subcommand)]
    Deployment(DeploymentCmd),
    /// Deployment logs: per target the Lansweeper fields plus every step.
    Log {
        #[arg(long)]
        deployment: Option<i64>,
        /// Asset name or id.
        #[arg(long)]
        asset: Option<String>,
        /// Package name or id.
        #[arg(long)]
        package: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: i64,
        #[command(flatten)]
        conn: Conn,
    },
    /// Users of the console and API.
    #[command(subcommand)]
    User(UserCmd),
    /// Show this node's deployment threads (limit, running, queued), or set the limit
    /// live (admin).
    Threads {
        threads: Option<usize>,
        #[command(flatten)]
        conn: Conn,
    },
    /// Change your own password (reads current and new password, one a line, from
    /// standard input with --stdin; else prompts). Every token of yours ends.
    Passwd {
        #[arg(long)]
        stdin: bool,
        #[command(flatten)]
        conn: Conn,
    },
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
    /// The request fields for what was given.
    fn fields(&self, body: &mut Value) {
        if self.wol {
            body["wake_on_lan"] = true.into();
        }
        if self.retry {
            body["retry_offline"] = true.into();
        }
        for (k, v) in [
            ("boot_secs", self.boot_secs),
            ("retry_interval_secs", self.retry_interval_secs),
            ("retry_expiry_secs", self.retry_expiry_secs),
        ] {
            if let Some(v) = v {
                body[k] = v.into();
            }
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum CredentialCmd {
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
        #[arg(long, default_value = "none")]
        sudo: String,
        /// Map the credential to every asset.
        #[arg(long)]
        global: bool,
        #[command(flatten)]
        conn: Conn,
    },
    List {
        #[command(flatten)]
        conn: Conn,
    },
    /// Map a credential to an asset (or to all with --global).
    Map {
        credential: i64,
        #[arg(long, required_unless_present = "global")]
        asset: Option<String>,
        #[arg(long)]
        global: bool,
        #[arg(long, default_value_t = 0)]
        priority: i64,
        #[command(flatten)]
        conn: Conn,
    },
    Rm {
        id: i64,
        #[command(flatten)]
        conn: Conn,
    },
}

#[derive(Subcommand, Debug)]
pub enum AssetCmd {
    Add {
        name: String,
        #[arg(long)]
        address: String,
        #[arg(long, default_value_t = 22)]
        port: u16,
        /// MAC address; repeat for more.
        #[arg(long = "mac")]
        macs: Vec<String>,
        /// Credential to map to the asset.
        #[arg(long)]
        credential: Option<String>,
        #[command(flatten)]
        conn: Conn,
    },
    List {
        #[command(flatten)]
        conn: Conn,
    },
    Show {
        asset: String,
        #[command(flatten)]
        conn: Conn,
    },
    Rm {
        asset: String,
        #[command(flatten)]
        conn: Conn,
    },
    /// Accept a changed SSH host key (after a reinstall): the next connection pins it.
    AcceptKey {
        asset: String,
        #[command(flatten)]
        conn: Conn,
    },
}

#[derive(Subcommand, Debug)]
pub enum PackageCmd {
    /// Import a bundle: a folder with package.toml and files/, or a .tar.gz of one.
    Import {
        path: PathBuf,
        #[command(flatten)]
        conn: Conn,
    },
    List {
        #[command(flatten)]
        conn: Conn,
    },
    Show {
        package: String,
        #[command(flatten)]
        conn: Conn,
    },
    /// Write the package with its files as one .tar.gz bundle.
    Export {
        package: String,
        #[arg(short, long)]
        output: PathBuf,
        #[command(flatten)]
        conn: Conn,
    },
    Rm {
        package: String,
        #[command(flatten)]
        conn: Conn,
    },
}

#[derive(Subcommand, Debug)]
pub enum DeploymentCmd {
    List {
        #[arg(long, default_value_t = 20)]
        limit: i64,
        #[command(flatten)]
        conn: Conn,
    },
    /// A deployment and the state of each target.
    Show {
        id: i64,
        #[command(flatten)]
        conn: Conn,
    },
    /// Stop a deployment: queued targets end, running tasks are killed.
    Cancel {
        id: i64,
        #[command(flatten)]
        conn: Conn,
    },
    /// Deploy again to its failed, offline and timed-out targets, with the same options.
    Relaunch {
        id: i64,
        #[arg(long)]
        no_follow: bool,
        #[command(flatten)]
        conn: Conn,
    },
}

#[derive(Subcommand, Debug)]
pub enum UserCmd {
    /// Add a user; the password is read from standard input.
    Add {
        name: String,
        /// viewer, operator or admin.
        #[arg(long)]
        role: String,
        #[command(flatten)]
        conn: Conn,
    },
}

fn client(c: &Conn) -> anyhow::Result<Client> {
    Client::new(c.server.clone(), c.token.clone())
}

fn read_stdin_line(what: &str) -> anyhow::Result<String> {
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s).with_context(|| format!("cannot read the {what} from standard input"))?;
    let s = s.trim_end_matches(['\n', '\r']).to_string();
    if s.is_empty() {
        bail!("the {what} on standard input is empty");
    }
    Ok(s)
}

pub async fn run(cmd: ClientCommand) -> anyhow::Result<u8> {
    match cmd {
        ClientCommand::Login { user, password_stdin, conn } => {
            let password = if password_stdin {
                read_stdin_line("password")?
            } else {
                rpassword::prompt_password(format!("Password for {user}: "))?
            };
            let c = Client::new(conn.server.clone(), None)?;
            let v: Value = c.post("/session", &json!({ "name": user, "password": password })).await?;
            let token = v["token"].as_str().context("no token in the answer")?.to_string();
            let path = save(&Saved { server: Some(c.server.clone()), token: Some(token) })?;
            println!("logged in to {} as {user}; token saved in {}", c.server, path.display());
        }
        ClientCommand::Credential(cmd) => credential(cmd).await?,
        ClientCommand::Asset(cmd) => asset(cmd).await?,
        ClientCommand::Package(cmd) => package(cmd).await?,
        ClientCommand::Deploy { package, version, assets, run_mode, offline, no_follow, conn } => {
            let c = client(&conn)?;
            let pkg = package.parse::<i64>().map(Value::from).unwrap_or_else(|_| Value::from(package.clone()));
            let assets: Vec<Value> = assets
                .iter()
                .map(|a| a.parse::<i64>().map(Value::from).unwrap_or_else(|_| Value::from(a.clone())))
                .collect();
            let mut body = json!({ "package": pkg, "version": version, "assets": assets, "run_mode": run_mode });
            offline.fields(&mut body);
            let view: DeploymentView = c.post("/deployments", &body).await?;
            if !conn.json {
                println!(
                    "deployment {} of {} {} to {} asset(s), run mode {}",
                    view.deployment.id,
                    view.deployment.package_name,
                    view.deployment.package_version,
                    view.targets.len(),
                    view.deployment.run_mode
                );
            }
            if no_follow {
                if conn.json {
                    output::print_json(&view)?;
                }
                return Ok(0);
            }
            return follow(&c, view, conn.json).await;
        }
        ClientCommand::Log { deployment, asset, package, limit, conn } => {
            let c = client(&conn)?;
            let mut q = vec![format!("limit={limit}")];
            if let Some(d) = deployment {
                q.push(format!("deployment={d}"));
            }
            if let Some(a) = asset {
                let a: Asset = c.get(&format!("/assets/{}", output::path_part(&a))).await?;
                q.push(format!("asset={}", a.id));
            }
            if let Some(p) = package {
                let p: Package = c.get(&format!("/packages/{}", output::path_part(&p))).await?;
                q.push(format!("package={}", p.id));
            }
            let entries: Vec<Value> = c.get(&format!("/logs?{}", q.join("&"))).await?;
            if conn.json {
                output::print_json(&entries)?;
            } else {
                output::print_log(&entries);
            }
        }
        ClientCommand::Threads { threads, conn } => {
            let c = client(&conn)?;
            let v: Value = match threads {
                Some(n) => c.json(c.request(Method::PUT, "/threads").json(&json!({ "threads": n }))).await?,
                None => c.get("/threads").await?,
            };
            if conn.json {
                output::print_json(&v)?;
            } else {
                println!("deployment threads {}: {} running, {} queued", v["threads"], v["running"], v["queued"]);
            }
        }
        ClientCommand::RetryQueue { conn } => {
            let v: Vec<Value> = client(&conn)?.get("/retry-queue").await?;
            if conn.json {
                output::print_json(&v)?;
            } else {
                output::print_retry_queue(&v);
            }
        }
        ClientCommand::Deployment(cmd) => return deployment(cmd).await,
        ClientCommand::Passwd { stdin, conn } => {
            let (current, new) = if stdin {
                let text = read_stdin_line("passwords")?;
                let mut lines = text.lines();
                let current = lines.next().unwrap_or_default().to_string();
                (current, lines.next().unwrap_or_default().to_string())
            } else {
                let current = rpassword::prompt_password("Current password: ")?;
                let new = rpassword::prompt_password("New password: ")?;
                if rpassword::prompt_password("New password again: ")? != new {
                    bail!("the new passwords differ");
                }
                (current, new)
            };
            let _: Value = client(&conn)?.post("/me/password", &json!({ "current": current, "new": new })).await?;
            println!("password changed; log in again with `drover login`");
        }
        ClientCommand::User(UserCmd::Add { name, role, conn }) => {
            let c = client(&conn)?;
            let password = read_stdin_line("password")?;
            let u: Value = c.post("/users", &json!({ "name": name, "password": password, "role": role })).await?;
            println!("user {} created with role {}", u["name"], u["role"]);
        }
    }
    Ok(0)
}

async fn credential(cmd: CredentialCmd) -> anyhow::Result<()> {
    match cmd {
        CredentialCmd::Add { name, user, password_stdin, key_file, passphrase_stdin, sudo, global, conn } => {
            let c = client(&conn)?;
            let sudo = sudo.replace('-', "_");
            let mut body = json!({ "name": name, "username": user, "sudo": sudo });
            match (&key_file, password_stdin) {
                (Some(f), _) => {
                    let key =
                        std::fs::read_to_string(f).with_context(|| format!("cannot read key file {}", f.display()))?;
                    body["private_key"] = key.into();
                    if passphrase_stdin {
                        body["passphrase"] = read_stdin_line("passphrase")?.into();
                    }
                }
                (None, true) => body["password"] = read_stdin_line("password")?.into(),
                (None, false) => {
                    body["password"] = rpassword::prompt_password(format!("Password of {user}: "))?.into();
                }
            }
            let cred: Credential = c.post("/credentials", &body).await?;
            if global {
                let _: Value = c.post(&format!("/credentials/{}/mappings", cred.id), &json!({})).await?;
            }
            if conn.json {
                output::print_json(&cred)?;
            } else {
                println!(
                    "credential {} '{}' added{}",
                    cred.id,
                    cred.name,
                    if global { ", mapped to every asset" } else { "" }
                );
            }
        }
        CredentialCmd::List { conn } => {
            let list: Vec<Credential> = client(&conn)?.get("/credentials").await?;
            if conn.json {
                return output::print_json(&list);
            }
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
            );
        }
        CredentialCmd::Map { credential, asset, global: _, priority, conn } => {
            let c = client(&conn)?;
            let body = json!({ "asset": asset, "priority": priority });
            let _: Value = c.post(&format!("/credentials/{credential}/mappings"), &body).await?;
            println!("mapped");
        }
        CredentialCmd::Rm { id, conn } => {
            client(&conn)?.delete(&format!("/credentials/{id}")).await?;
            println!("credential {id} removed");
        }
    }
    Ok(())
}

async fn asset(cmd: AssetCmd) -> anyhow::Result<()> {
    match cmd {
        AssetCmd::Add { name, address, port, macs, credential, conn } => {
            let body =
                json!({ "name": name, "address": address, "ssh_port": port, "macs": macs, "credential": credential });
            let a: Asset = client(&conn)?.post("/assets", &body).await?;
            if conn.json {
                return output::print_json(&a);
            }
            println!("asset {} '{}' added", a.id, a.name);
        }
        AssetCmd::List { conn } => {
            let list: Vec<Asset> = client(&conn)?.get("/assets").await?;
            if conn.json {
                return output::print_json(&list);
            }
            output::table(&["ID", "NAME", "ADDRESS", "OS", "ARCH", "HOST KEY"], list.iter().map(output::asset_row));
        }
        AssetCmd::Show { asset, conn } => {
            let a: Asset = client(&conn)?.get(&format!("/assets/{}", output::path_part(&asset))).await?;
            output::print_json(&a)?;
        }
        AssetCmd::Rm { asset, conn } => {
            client(&conn)?.delete(&format!("/assets/{}", output::path_part(&asset))).await?;
            println!("asset {asset} removed");
        }
        AssetCmd::AcceptKey { asset, conn } => {
            let v: Value = client(&conn)?
                .post(&format!("/assets/{}/accept-host-key", output::path_part(&asset)), &json!({}))
                .await?;
            println!("{}", v["message"].as_str().unwrap_or("ok"));
        }
    }
    Ok(())
}

async fn package(cmd: PackageCmd) -> anyhow::Result<()> {
    match cmd {
        PackageCmd::Import { path, conn } => {
            let bytes = if path.is_dir() {
                output::tar_folder(&path)?
            } else {
                std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?
            };
            let c = client(&conn)?;
            let p: Package = c.json(c.request(Method::POST, "/packages").body(bytes)).await?;
            if conn.json {
                return output::print_json(&p);
            }
            println!(
                "package {} '{}' version {} imported ({} step(s), {} file(s))",
                p.id,
                p.def.name,
                p.def.version,
                p.def.steps.len(),
                p.files.len()
            );
        }
        PackageCmd::List { conn } => {
            let list: Vec<Package> = client(&conn)?.get("/packages").await?;
            if conn.json {
                return output::print_json(&list);
            }
            output::table(
                &["ID", "NAME", "VERSION", "STEPS", "FILES", "RUN MODE"],
                list.iter().map(|p| {
                    vec![
                        p.id.to_string(),
                        p.def.name.clone(),
                        p.def.version.clone(),
                        p.def.steps.len().to_string(),
                        p.files.len().to_string(),
                        format!("{:?}", p.def.run_mode).to_lowercase(),
                    ]
                }),
            );
        }
        PackageCmd::Show { package, conn } => {
            let p: Package = client(&conn)?.get(&format!("/packages/{}", output::path_part(&package))).await?;
            output::print_json(&p)?;
        }
        PackageCmd::Export { package, output: out, conn } => {
            let c = client(&conn)?;
            let resp =
                c.send(c.request(Method::GET, &format!("/packages/{}/bundle", output::path_part(&package)))).await?;
            let bytes = resp.bytes().await?;
            std::fs::write(&out, &bytes).with_context(|| format!("cannot write {}", out.display()))?;
            println!("wrote {} ({} bytes)", out.display(), bytes.len());
        }
        PackageCmd::Rm { package, conn } => {
            client(&conn)?.delete(&format!("/packages/{}", output::path_part(&package))).await?;
            println!("package {package} removed");
        }
    }
    Ok(())
}

async fn deployment(cmd: DeploymentCmd) -> anyhow::Result<u8> {
    match cmd {
        DeploymentCmd::List { limit, conn } => {
            let list: Vec<Deployment> = client(&conn)?.get(&format!("/deployments?limit={limit}")).await?;
            if conn.json {
                output::print_json(&list)?;
            } else {
                output::table(
                    &["ID", "PACKAGE", "VERSION", "EXECUTOR", "RUN MODE", "FINISHED"],
                    list.iter().map(|d| {
                        vec![
                            d.id.to_string(),
                            d.package_name.clone(),
                            d.package_version.clone(),
                            d.executor.clone(),
                            d.run_mode.to_string(),
                            if d.finished_ms.is_some() { "yes".into() } else { "no".into() },
                        ]
                    }),
                );
            }
        }
        DeploymentCmd::Show { id, conn } => {
            let view: DeploymentView = client(&conn)?.get(&format!("/deployments/{id}")).await?;
            if conn.json {
                output::print_json(&view)?;
            } else {
                output::table(
                    &["TARGET", "ASSET", "STATE", "MESSAGE"],
                    view.targets
                        .iter()
                        .map(|t| vec![t.id.to_string(), t.asset_name.clone(), t.state.to_string(), t.message.clone()]),
                );
            }
        }
        DeploymentCmd::Cancel { id, conn } => {
            let v: Value = client(&conn)?.post(&format!("/deployments/{id}/cancel"), &json!({})).await?;
            println!("deployment {id}: {} target(s) cancelled", v["cancelled"]);
        }
        DeploymentCmd::Relaunch { id, no_follow, conn } => {
            let c = client(&conn)?;
            let view: DeploymentView = c.post(&format!("/deployments/{id}/relaunch"), &json!({})).await?;
            println!(
                "deployment {} relaunches {} target(s) of deployment {id}",
                view.deployment.id,
                view.targets.len()
            );
            if !no_follow {
                return follow(&c, view, conn.json).await;
            }
        }
    }
    Ok(0)
}

#[derive(Deserialize, serde::Serialize)]
struct DeploymentView {
    deployment: Deployment,
    targets: Vec<Target>,
}

/// Prints each target's state changes until all have ended; exit 1 if any did not succeed.
async fn follow(c: &Client, mut view: DeploymentView, json: bool) -> anyhow::Result<u8> {
    let mut seen: Vec<(i64, String)> = Vec::new();
    loop {
        for t in &view.targets {
            let key = (t.id.0, format!("{}|{}", t.state, t.message));
            if !json && !seen.contains(&key) {
                println!("  {:<20} {:<12} {}", t.asset_name, t.state.as_str(), t.message);
                seen.push(key);
            }
        }
        if view.targets.iter().all(|t| t.state.is_final()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        view = c.get(&format!("/deployments/{}", view.deployment.id)).await?;
    }
    let failed = view.targets.iter().filter(|t| t.state != drover_domain::deployment::TargetState::Success).count();
    if json {
        output::print_json(&view)?;
    } else {
        println!(
            "deployment {}: {} of {} target(s) succeeded; details: drover log --deployment {}",
            view.deployment.id,
            view.targets.len() - failed,
            view.targets.len(),
            view.deployment.id
        );
    }
    Ok(if failed == 0 { 0 } else { 1 })
}
