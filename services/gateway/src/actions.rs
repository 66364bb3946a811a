//! What users do, one function per action: the role check, the command with its id, the call. The JSON API and the
//! pages both call these, so a page cannot skip a check the API makes, and a command is built in one place.
//!
//! The services check the actor again (and everything else the rules say); the role checks here answer early and the
//! same way on both front ends.

use axum::http::HeaderMap;
use ttx_proto::common::v1::{CommandAccepted, CommandContext, Role};
use ttx_proto::listings::v1 as lpb;

use crate::Deps;
use crate::api::{ask, command_id, derived_id};
use crate::auth::Principal;
use crate::problem::ApiError;

/// Who acts, and the id their command carries.
#[derive(Debug)]
pub struct Acting<'a> {
    pub who: &'a Principal,
    command_id: String,
    /// With an idempotency key, a new record's id is derived from the command id, so a retry names the same record.
    retry_key: bool,
}

impl<'a> Acting<'a> {
    /// From an API request: the caller's `Idempotency-Key`, scoped to the caller, or a fresh id.
    pub fn api(headers: &HeaderMap, who: &'a Principal) -> Result<Self, ApiError> {
        Ok(Self { who, command_id: command_id(headers, who)?, retry_key: headers.contains_key("idempotency-key") })
    }

    /// From a page's form: a fresh id (the form's CSRF token is checked before).
    pub fn page(who: &'a Principal) -> Self {
        Self { who, command_id: uuid::Uuid::now_v7().to_string(), retry_key: false }
    }

    /// The context every command carries: the caller as the services see them, and the command id.
    pub fn context(&self) -> Option<CommandContext> {
        Some(CommandContext { actor: Some(self.who.actor()), command_id: self.command_id.clone() })
    }

    /// The id of a record this command creates.
    pub fn new_id(&self) -> String {
        if self.retry_key { derived_id(&self.command_id) } else { uuid::Uuid::now_v7().to_string() }
    }

    fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        self.who.require(roles)
    }
}

// ---- research results ----

/// Creates a draft result (technology managers); answers its id.
pub async fn create_result(
    deps: &Deps,
    by: &Acting<'_>,
    listing: lpb::Listing,
) -> Result<(String, CommandAccepted), ApiError> {
    by.require(&[Role::TechManager])?;
    let result_id = by.new_id();
    let done =
        ask(deps, lpb::CreateResult { context: by.context(), result_id: result_id.clone(), listing: Some(listing) })
            .await?;
    Ok((result_id, done))
}

/// Edits a draft or returned result (its holder's technology managers).
pub async fn edit_result(
    deps: &Deps,
    by: &Acting<'_>,
    result_id: String,
    listing: lpb::Listing,
) -> Result<CommandAccepted, ApiError> {
    by.require(&[Role::TechManager])?;
    ask(deps, lpb::EditResult { context: by.context(), result_id, listing: Some(listing) }).await
}

/// Submits a result for review (its holder's technology managers).
pub async fn submit_result(deps: &Deps, by: &Acting<'_>, result_id: String) -> Result<CommandAccepted, ApiError> {
    by.require(&[Role::TechManager])?;
    ask(deps, lpb::SubmitResult { context: by.context(), result_id }).await
}

/// Approves a submitted result (its holder's reviewers).
pub async fn approve_result(deps: &Deps, by: &Acting<'_>, result_id: String) -> Result<CommandAccepted, ApiError> {
    by.require(&[Role::Reviewer])?;
    ask(deps, lpb::ApproveResult { context: by.context(), result_id }).await
}

/// Returns a submitted result with reasons (its holder's reviewers).
pub async fn return_result(
    deps: &Deps,
    by: &Acting<'_>,
    result_id: String,
    reasons: Vec<String>,
) -> Result<CommandAccepted, ApiError> {
    by.require(&[Role::Reviewer])?;
    ask(deps, lpb::ReturnResult { context: by.context(), result_id, reasons }).await
}

/// Publishes an approved result (its holder's technology managers).
pub async fn publish_result(deps: &Deps, by: &Acting<'_>, result_id: String) -> Result<CommandAccepted, ApiError> {
    by.require(&[Role::TechManager])?;
    ask(deps, lpb::PublishResult { context: by.context(), result_id }).await
}

/// Withdraws a result (its holder's technology managers).
pub async fn withdraw_result(
    deps: &Deps,
    by: &Acting<'_>,
    result_id: String,
    reason: String,
) -> Result<CommandAccepted, ApiError> {
    by.require(&[Role::TechManager])?;
    ask(deps, lpb::WithdrawResult { context: by.context(), result_id, reason }).await
}

/// A co-holder's consent to exclusive sales (a member entitled to act for it).
pub async fn consent_as_co_holder(
    deps: &Deps,
    by: &Acting<'_>,
    result_id: String,
) -> Result<CommandAccepted, ApiError> {
    by.require(&[Role::TechManager, Role::EnterpriseMember])?;
    ask(deps, lpb::ConsentAsCoHolder { context: by.context(), result_id }).await
}

/// Starts the public notice of a negotiated price (its holder's technology managers).
pub async fn start_notice(
    deps: &Deps,
    by: &Acting<'_>,
    result_id: String,
    price_fen: i64,
    days: u32,
) -> Result<CommandAccepted, ApiError> {
    by.require(&[Role::TechManager])?;
    ask(deps, lpb::StartNotice { context: by.context(), result_id, price_fen, days }).await
}

/// Raises an objection to a running notice (anyone logged in but a regulator); answers the objection's id.
pub async fn raise_objection(
    deps: &Deps,
    by: &Acting<'_>,
    result_id: String,
    text: String,
) -> Result<(String, CommandAccepted), ApiError> {
    if by.who.has(Role::Regulator) && !by.who.has(Role::Admin) {
        return Err(ApiError::forbidden());
    }
    let objection_id = by.new_id();
    let command = lpb::RaiseObjection { context: by.context(), result_id, objection_id: objection_id.clone(), text };
    Ok((objection_id, ask(deps, command).await?))
}

/// Answers an objection (the holder's technology managers).
pub async fn answer_objection(
    deps: &Deps,
    by: &Acting<'_>,
    result_id: String,
    objection_id: String,
    answer: String,
) -> Result<CommandAccepted, ApiError> {
    by.require(&[Role::TechManager])?;
    ask(deps, lpb::AnswerObjection { context: by.context(), result_id, objection_id, answer }).await
}

/// Resolves an answered objection, upheld or not (the holder's reviewers).
pub async fn resolve_objection(
    deps: &Deps,
    by: &Acting<'_>,
    result_id: String,
    objection_id: String,
    upheld: bool,
    note: String,
) -> Result<CommandAccepted, ApiError> {
    by.require(&[Role::Reviewer])?;
    ask(deps, lpb::ResolveObjection { context: by.context(), result_id, objection_id, upheld, note }).await
}
