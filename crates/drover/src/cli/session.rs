//! `drover login` and `drover passwd`.

use super::Ctx;
use super::client::{Saved, save};
use super::output::out;
use super::output::read_stdin_line;
use anyhow::bail;
use drover_api::Done;
use drover_api::session::{LoggedIn, Login as LoginBody, PasswordChange};

#[derive(clap::Args, Debug)]
pub struct Login {
    #[arg(long, default_value = "admin")]
    user: String,
    /// Read the password from standard input instead of prompting.
    #[arg(long)]
    password_stdin: bool,
}

#[derive(clap::Args, Debug)]
pub struct Passwd {
    /// Read the current and the new password, one a line, from standard input.
    #[arg(long)]
    stdin: bool,
}

pub async fn login(ctx: &Ctx, a: Login) -> anyhow::Result<u8> {
    let password = if a.password_stdin {
        read_stdin_line("password")?
    } else {
        rpassword::prompt_password(format!("Password for {}: ", a.user))?
    };
    let c = ctx.client.anonymous();
    let answer: LoggedIn = c.post("/session", &LoginBody { name: a.user.clone(), password }).await?;
    let path = save(&Saved { server: Some(c.server.clone()), token: Some(answer.token) })?;
    out!("logged in to {} as {}; token saved in {}", c.server, answer.user.name, path.display());
    Ok(0)
}

pub async fn passwd(ctx: &Ctx, a: Passwd) -> anyhow::Result<u8> {
    let (current, new) = if a.stdin {
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
    let _: Done = ctx.client.post("/me/password", &PasswordChange { current, new }).await?;
    out!("password changed; log in again with `drover login`");
    Ok(0)
}
