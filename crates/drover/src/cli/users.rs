//! `drover user`: users of the API and the CLI (admin).

use super::Ctx;
use super::output::{out, path_part, read_stdin_line, table, time};
use drover_api::Done;
use drover_api::session::{NewUser, UserEntry};
use drover_domain::user::{Role, User};

#[derive(clap::Subcommand, Debug)]
pub enum Cmd {
    /// Add a user; the password is read from standard input.
    Add {
        name: String,
        /// viewer, operator or admin.
        #[arg(long, value_parser = parse_role)]
        role: Role,
    },
    /// List users: role, whether disabled, created.
    List,
    /// Disable a user: they cannot log in, and their tokens end.
    Disable { name: String },
    /// Enable a disabled user again.
    Enable { name: String },
    /// Remove a user and their tokens.
    Rm { name: String },
    /// End every API token of a user (they log in again).
    Revoke { name: String },
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| format!("'{s}' is not a role: choose viewer, operator or admin"))
}

pub async fn run(ctx: &Ctx, cmd: Cmd) -> anyhow::Result<u8> {
    let done = |d: Done| ctx.print(&d, |d| out!("{}", d.message));
    match cmd {
        Cmd::Add { name, role } => {
            let password = read_stdin_line("password")?;
            let u: User = ctx.client.post("/users", &NewUser { name, password, role }).await?;
            ctx.print(&u, |u| out!("user {} created with role {}", u.name, u.role.as_str()))?;
        }
        Cmd::List => {
            let users: Vec<UserEntry> = ctx.client.get("/users").await?;
            ctx.print(&users, |users| {
                table(
                    &["ID", "NAME", "ROLE", "STATE", "CREATED"],
                    users.iter().map(|u| {
                        vec![
                            u.user.id.to_string(),
                            u.user.name.escape_debug().to_string(),
                            u.user.role.as_str().to_string(),
                            if u.disabled { "disabled" } else { "enabled" }.to_string(),
                            time(Some(u.created_ms)),
                        ]
                    }),
                )
            })?;
        }
        Cmd::Disable { name } => {
            done(ctx.client.post(&format!("/users/{}/disable", path_part(&name)), &drover_api::Empty {}).await?)?
        }
        Cmd::Enable { name } => {
            done(ctx.client.post(&format!("/users/{}/enable", path_part(&name)), &drover_api::Empty {}).await?)?
        }
        Cmd::Rm { name } => done(ctx.client.delete(&format!("/users/{}", path_part(&name))).await?)?,
        Cmd::Revoke { name } => {
            done(ctx.client.post(&format!("/users/{}/revoke-tokens", path_part(&name)), &drover_api::Empty {}).await?)?
        }
    }
    Ok(0)
}
