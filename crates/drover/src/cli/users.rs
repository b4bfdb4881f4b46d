//! `drover user`: users of the API and the CLI.

use super::Ctx;
use super::output::out;
use super::output::read_stdin_line;
use drover_api::session::NewUser;
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
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| format!("'{s}' is not a role: choose viewer, operator or admin"))
}

pub async fn run(ctx: &Ctx, cmd: Cmd) -> anyhow::Result<u8> {
    match cmd {
        Cmd::Add { name, role } => {
            let password = read_stdin_line("password")?;
            let u: User = ctx.client.post("/users", &NewUser { name, password, role }).await?;
            ctx.print(&u, |u| out!("user {} created with role {}", u.name, u.role.as_str()))?;
        }
    }
    Ok(0)
}
