//! What users do, one function per action: the role check, the command with its id, the call. The JSON API and the
//! pages both call these, so a page cannot skip a check the API makes, and a command is built in one place.
//!
//! The services check the actor again (and everything else the rules say); the role checks here answer early and the
//! same way on both front ends.

use axum::http::HeaderMap;
use ttx_proto::common::v1::{CommandAccepted, CommandContext, Role};
use ttx_proto::identity::v1 as ipb;
use ttx_proto::listings::v1 as lpb;
use ttx_proto::negotiation::v1 as npb;

use crate::Deps;
use crate::api::kit::{ask, command_id, derived_id};
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

    /// A member of `org_id` or an administrator, acting; a regulator reads but never acts for an organisation.
    fn member_not_regulator(&self, org_id: &str) -> Result<(), ApiError> {
        if self.who.has(Role::Regulator) && !self.who.has(Role::Admin) {
            return Err(ApiError::forbidden());
        }
        self.who.require_member_or(org_id, &[Role::Admin])
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

// ---- negotiation: negotiated deals, listed sales, bidding sessions ----

/// Opens a negotiation on a result for the caller's enterprise (its members); answers its id.
pub async fn open_negotiation(
    deps: &Deps,
    by: &Acting<'_>,
    result_id: String,
    mode: i32,
) -> Result<(String, CommandAccepted), ApiError> {
    by.require(&[Role::EnterpriseMember])?;
    let negotiation_id = by.new_id();
    let command =
        npb::OpenNegotiation { context: by.context(), negotiation_id: negotiation_id.clone(), result_id, mode };
    Ok((negotiation_id, ask(deps, command).await?))
}

/// Makes an offer: a new version of the terms (either party).
pub async fn make_offer(
    deps: &Deps,
    by: &Acting<'_>,
    negotiation_id: String,
    terms: npb::TermSheet,
) -> Result<CommandAccepted, ApiError> {
    by.require(&[Role::EnterpriseMember, Role::TechManager])?;
    ask(deps, npb::MakeOffer { context: by.context(), negotiation_id, terms: Some(terms) }).await
}

/// Accepts the other side's latest version (either party).
pub async fn accept_offer(
    deps: &Deps,
    by: &Acting<'_>,
    negotiation_id: String,
    version: u32,
) -> Result<CommandAccepted, ApiError> {
    by.require(&[Role::EnterpriseMember, Role::TechManager])?;
    ask(deps, npb::AcceptOffer { context: by.context(), negotiation_id, version }).await
}

/// Abandons a negotiation (either party).
pub async fn abandon_negotiation(
    deps: &Deps,
    by: &Acting<'_>,
    negotiation_id: String,
    reason: String,
) -> Result<CommandAccepted, ApiError> {
    by.require(&[Role::EnterpriseMember, Role::TechManager])?;
    ask(deps, npb::AbandonNegotiation { context: by.context(), negotiation_id, reason }).await
}

/// Lists a result at a price for a disclosure period (the holder's technology managers); answers the sale's id.
pub async fn open_listing(
    deps: &Deps,
    by: &Acting<'_>,
    result_id: String,
    terms: npb::TermSheet,
    disclosure_working_days: u32,
) -> Result<(String, CommandAccepted), ApiError> {
    by.require(&[Role::TechManager])?;
    let listing_id = by.new_id();
    let command = npb::OpenListing {
        context: by.context(),
        listing_id: listing_id.clone(),
        result_id,
        terms: Some(terms),
        disclosure_working_days,
    };
    Ok((listing_id, ask(deps, command).await?))
}

/// Registers the caller's enterprise's intent to buy a listed sale (its members).
pub async fn register_intent(deps: &Deps, by: &Acting<'_>, listing_id: String) -> Result<CommandAccepted, ApiError> {
    by.require(&[Role::EnterpriseMember])?;
    ask(deps, npb::RegisterIntent { context: by.context(), listing_id, disclosure_working_days: 0 }).await
}

/// Relists a lapsed sale for a new disclosure period (the seller's technology managers).
pub async fn relist(
    deps: &Deps,
    by: &Acting<'_>,
    listing_id: String,
    disclosure_working_days: u32,
) -> Result<CommandAccepted, ApiError> {
    by.require(&[Role::TechManager])?;
    ask(deps, npb::Relist { context: by.context(), listing_id, disclosure_working_days }).await
}

/// Opens a bidding session on a result priced by auction (the holder's technology managers); answers its id.
pub async fn open_session(
    deps: &Deps,
    by: &Acting<'_>,
    result_id: String,
    rules: npb::SessionRules,
    terms: npb::TermSheet,
) -> Result<(String, CommandAccepted), ApiError> {
    by.require(&[Role::TechManager])?;
    let session_id = by.new_id();
    let command = npb::OpenSession {
        context: by.context(),
        session_id: session_id.clone(),
        result_id,
        rules: Some(rules),
        terms: Some(terms),
    };
    Ok((session_id, ask(deps, command).await?))
}

/// Registers the caller's enterprise as a bidder (its members).
pub async fn register_bidder(deps: &Deps, by: &Acting<'_>, session_id: String) -> Result<CommandAccepted, ApiError> {
    by.require(&[Role::EnterpriseMember])?;
    ask(deps, npb::RegisterBidder { context: by.context(), session_id }).await
}

/// Records a bidder's deposit as received (administrators, or the settlement integration's account).
pub async fn confirm_deposit(
    deps: &Deps,
    by: &Acting<'_>,
    session_id: String,
    bidder_org_id: String,
    amount_fen: i64,
    reference: String,
) -> Result<CommandAccepted, ApiError> {
    by.require(&[Role::Admin])?;
    let command = npb::ConfirmDeposit { context: by.context(), session_id, bidder_org_id, amount_fen, reference };
    ask(deps, command).await
}

/// Records a deposit as paid back (administrators, or the settlement integration's account).
pub async fn refund_deposit(
    deps: &Deps,
    by: &Acting<'_>,
    session_id: String,
    bidder_org_id: String,
    amount_fen: i64,
    reference: String,
) -> Result<CommandAccepted, ApiError> {
    by.require(&[Role::Admin])?;
    let command = npb::RefundDeposit { context: by.context(), session_id, bidder_org_id, amount_fen, reference };
    ask(deps, command).await
}

/// Places an open bid (a registered bidder's members).
pub async fn place_bid(
    deps: &Deps,
    by: &Acting<'_>,
    session_id: String,
    amount_fen: i64,
) -> Result<CommandAccepted, ApiError> {
    by.require(&[Role::EnterpriseMember])?;
    ask(deps, npb::PlaceBid { context: by.context(), session_id, amount_fen }).await
}

/// Commits a sealed bid (a registered bidder's members).
pub async fn commit_bid(
    deps: &Deps,
    by: &Acting<'_>,
    session_id: String,
    commitment: String,
) -> Result<CommandAccepted, ApiError> {
    by.require(&[Role::EnterpriseMember])?;
    ask(deps, npb::CommitBid { context: by.context(), session_id, commitment }).await
}

/// Reveals a committed sealed bid (the bidder's members).
pub async fn reveal_bid(
    deps: &Deps,
    by: &Acting<'_>,
    session_id: String,
    amount_fen: i64,
    nonce: String,
) -> Result<CommandAccepted, ApiError> {
    by.require(&[Role::EnterpriseMember])?;
    ask(deps, npb::RevealBid { context: by.context(), session_id, amount_fen, nonce }).await
}

/// Records that the winner signed the contract (administrators).
pub async fn record_signed(
    deps: &Deps,
    by: &Acting<'_>,
    session_id: String,
    reference: String,
) -> Result<CommandAccepted, ApiError> {
    by.require(&[Role::Admin])?;
    ask(deps, npb::RecordSigned { context: by.context(), session_id, reference }).await
}

/// Records that the winner defaulted (administrators).
pub async fn record_default(
    deps: &Deps,
    by: &Acting<'_>,
    session_id: String,
    reason: String,
) -> Result<CommandAccepted, ApiError> {
    by.require(&[Role::Admin])?;
    ask(deps, npb::RecordDefault { context: by.context(), session_id, reason }).await
}

// ---- demands and open challenges ----

/// Posts a technology demand, or an open challenge with its terms (enterprise members); answers its id.
pub async fn post_demand(
    deps: &Deps,
    by: &Acting<'_>,
    demand: lpb::Demand,
    challenge: Option<lpb::ChallengeTerms>,
) -> Result<(String, CommandAccepted), ApiError> {
    by.require(&[Role::EnterpriseMember])?;
    let demand_id = by.new_id();
    let command =
        lpb::PostDemand { context: by.context(), demand_id: demand_id.clone(), demand: Some(demand), challenge };
    Ok((demand_id, ask(deps, command).await?))
}

/// Applies to an open challenge (technology managers and enterprise members); answers the application's id.
pub async fn apply_to_challenge(
    deps: &Deps,
    by: &Acting<'_>,
    demand_id: String,
    answers: Vec<String>,
) -> Result<(String, CommandAccepted), ApiError> {
    by.require(&[Role::TechManager, Role::EnterpriseMember])?;
    let application_id = by.new_id();
    let command =
        lpb::ApplyToChallenge { context: by.context(), demand_id, application_id: application_id.clone(), answers };
    Ok((application_id, ask(deps, command).await?))
}

/// Shortlists an application (the poster's members).
pub async fn shortlist_application(
    deps: &Deps,
    by: &Acting<'_>,
    demand_id: String,
    application_id: String,
) -> Result<CommandAccepted, ApiError> {
    by.require(&[Role::EnterpriseMember])?;
    ask(deps, lpb::ShortlistApplication { context: by.context(), demand_id, application_id }).await
}

/// Awards the challenge to a shortlisted application (the poster's members).
pub async fn award_challenge(
    deps: &Deps,
    by: &Acting<'_>,
    demand_id: String,
    application_id: String,
) -> Result<CommandAccepted, ApiError> {
    by.require(&[Role::EnterpriseMember])?;
    ask(deps, lpb::AwardChallenge { context: by.context(), demand_id, application_id }).await
}

/// Withdraws a demand (the poster's members).
pub async fn withdraw_demand(
    deps: &Deps,
    by: &Acting<'_>,
    demand_id: String,
    reason: String,
) -> Result<CommandAccepted, ApiError> {
    by.require(&[Role::EnterpriseMember])?;
    ask(deps, lpb::WithdrawDemand { context: by.context(), demand_id, reason }).await
}

// ---- organisations, users, the calendar ----

/// Registers an organisation (administrators); answers its id (the credit code in lower case).
pub async fn register_organisation(
    deps: &Deps,
    by: &Acting<'_>,
    kind: ipb::OrgKind,
    name: String,
    credit_code: String,
    region: String,
) -> Result<(String, CommandAccepted), ApiError> {
    by.require(&[Role::Admin])?;
    let org_id = credit_code.trim().to_ascii_lowercase();
    let command = ipb::RegisterOrganisation { context: by.context(), kind: kind.into(), name, credit_code, region };
    Ok((org_id, ask(deps, command).await?))
}

/// Creates a user of an organisation with roles (administrators); answers the login.
pub async fn create_user(
    deps: &Deps,
    by: &Acting<'_>,
    user: ipb::CreateUser,
) -> Result<(String, CommandAccepted), ApiError> {
    by.require(&[Role::Admin])?;
    let user_id = user.user_id.trim().to_owned();
    let command = ipb::CreateUser { context: by.context(), user_id: user_id.clone(), ..user };
    Ok((user_id, ask(deps, command).await?))
}

/// Loads a year's public-holiday schedule (administrators).
pub async fn load_schedule(
    deps: &Deps,
    by: &Acting<'_>,
    schedule: ipb::LoadSchedule,
) -> Result<CommandAccepted, ApiError> {
    by.require(&[Role::Admin])?;
    ask(deps, ipb::LoadSchedule { context: by.context(), ..schedule }).await
}

/// Declares a related party of an organisation (its members and administrators; regulators only read).
pub async fn declare_related_party(
    deps: &Deps,
    by: &Acting<'_>,
    org_id: String,
    related_org_id: String,
    relation: String,
) -> Result<CommandAccepted, ApiError> {
    by.member_not_regulator(&org_id)?;
    ask(deps, ipb::DeclareRelatedParty { context: by.context(), org_id, related_org_id, relation }).await
}

/// Withdraws a declared related party (the organisation's members and administrators).
pub async fn withdraw_related_party(
    deps: &Deps,
    by: &Acting<'_>,
    org_id: String,
    related_org_id: String,
) -> Result<CommandAccepted, ApiError> {
    by.member_not_regulator(&org_id)?;
    ask(deps, ipb::WithdrawRelatedParty { context: by.context(), org_id, related_org_id }).await
}

/// Names the member who acts for an organisation as a co-holder (administrators, on its written request).
pub async fn name_representative(
    deps: &Deps,
    by: &Acting<'_>,
    org_id: String,
    user_id: String,
) -> Result<CommandAccepted, ApiError> {
    by.require(&[Role::Admin])?;
    ask(deps, ipb::NameRepresentative { context: by.context(), org_id, user_id }).await
}

/// Grants a role (administrators).
pub async fn grant_role(
    deps: &Deps,
    by: &Acting<'_>,
    user_id: String,
    role: Role,
) -> Result<CommandAccepted, ApiError> {
    by.require(&[Role::Admin])?;
    ask(deps, ipb::GrantRole { context: by.context(), user_id, role: role.into() }).await
}

/// Revokes a role (administrators; identity refuses one's own administrator role).
pub async fn revoke_role(
    deps: &Deps,
    by: &Acting<'_>,
    user_id: String,
    role: Role,
) -> Result<CommandAccepted, ApiError> {
    by.require(&[Role::Admin])?;
    ask(deps, ipb::RevokeRole { context: by.context(), user_id, role: role.into() }).await
}

/// Sets a password (the user themself, or administrators).
pub async fn set_password(
    deps: &Deps,
    by: &Acting<'_>,
    user_id: String,
    password: String,
) -> Result<CommandAccepted, ApiError> {
    if by.who.user_id != user_id {
        by.require(&[Role::Admin])?;
    }
    ask(deps, ipb::SetPassword { context: by.context(), user_id, password }).await
}

/// Enters a technology manager in the registry (administrators; the user must hold the role).
pub async fn register_tech_manager(
    deps: &Deps,
    by: &Acting<'_>,
    user_id: String,
    certificate_number: String,
) -> Result<CommandAccepted, ApiError> {
    by.require(&[Role::Admin])?;
    ask(deps, ipb::RegisterTechManager { context: by.context(), user_id, certificate_number }).await
}

/// Stops granting non-exclusive licences of a result (the holder's technology managers; licences granted stay).
pub async fn stop_licensing(deps: &Deps, by: &Acting<'_>, result_id: String) -> Result<CommandAccepted, ApiError> {
    by.require(&[Role::TechManager])?;
    ask(deps, npb::StopLicensing { context: by.context(), result_id }).await
}
