//! `ttx admin …`: the operator's commands that work on the log or the keys directly, such as creating the first
//! administrator (there is no default account and no default password).

use std::io::BufRead as _;
use std::sync::Arc;

use anyhow::{Context, bail};
use ttx_kernel::bus::ReplyError;
use ttx_kernel::{Clock, SystemClock};
use ttx_proto::identity::v1::{self as pb};

use crate::cli::CreateUserArgs;
use crate::config::Config;

fn reply_error(what: &str, e: ReplyError) -> anyhow::Error {
    if e.field.is_empty() {
        anyhow::anyhow!("{what}: {} ({})", e.message, e.code)
    } else {
        anyhow::anyhow!("{what}: {}: {} ({})", e.field, e.message, e.code)
    }
}

/// Reads the password from the first line of standard input (so it is neither an argument nor in the history).
fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("cannot read the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        bail!(
            "give the password on the first line of standard input, e.g. `read -rs P; echo \"$P\" | ttx admin create-user …`"
        );
    }
    Ok(password)
}

/// `ttx admin create-user`: registers the organisation when it is new, then the user, as the system.
pub async fn create_user(config: &Config, args: CreateUserArgs) -> anyhow::Result<()> {
    let password = read_password()?;
    let log = crate::serve::open_log(config).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let identity = Arc::new(ttx_identity::Service::new(log, clock)).router();
    let actor = ttx_identity::service::system_actor();
    let context = |id: &str| Some(pb::CommandContext { actor: Some(actor.clone()), command_id: id.to_owned() });
    let run = uuid::Uuid::now_v7();

    let org_id = args.org.trim().to_ascii_lowercase();
    match identity.call(&pb::GetOrganisation { org_id: org_id.clone() }).await {
        Ok(_) => {}
        Err(e) if e.code == "not_found" => {
            let Some(name) = &args.org_name else {
                bail!("organisation {} is not registered; give --org-name (and --org-kind) to register it", args.org);
            };
            let kind = ttx_gateway::api::identity::parse_kind(&args.org_kind)
                .map_err(|e| anyhow::anyhow!("--org-kind: {}", e.detail))?;
            let command = pb::RegisterOrganisation {
                context: context(&format!("admin-{run}-org")),
                kind: kind.into(),
                name: name.clone(),
                credit_code: args.org.clone(),
                region: args.region.clone(),
            };
            identity.call(&command).await.map_err(|e| reply_error("cannot register the organisation", e))?;
            println!("registered organisation {org_id} ({name})");
        }
        Err(e) => return Err(reply_error("cannot look up the organisation", e)),
    }
    let roles = args
        .roles
        .iter()
        .map(|r| {
            ttx_gateway::api::identity::parse_role("role", r)
                .map(|r| r as i32)
                .map_err(|e| anyhow::anyhow!("--role: {}", e.detail))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let command = pb::CreateUser {
        context: context(&format!("admin-{run}-user")),
        user_id: args.user.clone(),
        org_id: org_id.clone(),
        display_name: args.name.clone(),
        password,
        roles,
    };
    identity.call(&command).await.map_err(|e| reply_error("cannot create the user", e))?;
    println!("created user {} in organisation {org_id} with roles {}", args.user, args.roles.join(", "));
    Ok(())
}

/// `ttx admin rotate-key`: a new token signing key; the older ones keep verifying the tokens they signed.
pub fn rotate_key(config: &Config) -> anyhow::Result<()> {
    let dir = config.keys_dir();
    let now = SystemClock.now().unix_micros() / 1_000_000;
    let kid = ttx_gateway::token::generate_key(&dir, now)
        .with_context(|| format!("cannot write a key into {}", dir.display()))?;
    println!("new signing key {kid} in {}; restart the gateways to sign with it", dir.display());
    Ok(())
}
