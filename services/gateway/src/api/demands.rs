//! The JSON API for technology demands and open challenges (揭榜挂帅).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use ttx_kernel::Timestamp;
use ttx_proto::common::v1::Role;
use ttx_proto::listings::v1::{self as pb};
use utoipa::ToSchema;

use crate::Deps;
use crate::actions::{self, Acting};
use crate::api::kit::{Accepted, Body, Problem, accepted, ask};
use crate::api::results::{field_name, field_wire};
use crate::auth::Principal;
use crate::problem::ApiError;

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChallengeBody {
    /// The indicators every application must answer (1 to 10).
    pub indicators: Vec<String>,
    /// RFC 3339 in UTC; applications close then.
    pub deadline: String,
}

/// A technology demand, optionally an open challenge. Money is integer fen.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DemandBody {
    pub title: String,
    /// As for results: new_energy, new_materials, …
    pub field: String,
    #[serde(default)]
    pub indicators: String,
    pub problem: String,
    #[serde(default)]
    pub existing_conditions: String,
    pub budget_fen: i64,
    #[serde(default)]
    pub cooperation_mode: String,
    /// 1–9.
    pub wanted_trl: u32,
    /// RFC 3339 in UTC.
    pub valid_until: String,
    /// Present for a 揭榜挂帅 challenge.
    #[serde(default)]
    pub challenge: Option<ChallengeBody>,
}

/// An RFC 3339 time from a request, or invalid input for `field`.
pub(crate) fn time(field: &str, s: &str) -> Result<prost_types::Timestamp, ApiError> {
    Timestamp::parse_rfc3339(s)
        .map(Timestamp::to_proto)
        .ok_or_else(|| ApiError::invalid(field, "an RFC 3339 time in UTC, e.g. 2026-12-31T16:00:00Z"))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApplicationView {
    pub application_id: String,
    pub applicant_org_id: String,
    pub answers: Vec<String>,
    /// submitted, shortlisted, awarded.
    pub status: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DemandView {
    pub demand_id: String,
    pub poster_org_id: String,
    /// open, awarded, withdrawn, expired (its validity passed with no award).
    pub status: &'static str,
    pub demand: Option<DemandBody>,
    /// The poster, administrators and regulators see every application; an applicant sees its own.
    pub applications: Vec<ApplicationView>,
    pub version: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DemandList {
    /// A page (`?offset=&limit=`, 50 unless asked, at most 200).
    pub demands: Vec<DemandView>,
    /// How many there are in all.
    pub total: u32,
}

fn show(t: &Option<prost_types::Timestamp>) -> String {
    t.as_ref().map(|t| Timestamp::from_proto(t).to_string()).unwrap_or_default()
}

fn view(v: &pb::DemandView) -> DemandView {
    DemandView {
        demand_id: v.demand_id.clone(),
        poster_org_id: v.poster_org_id.clone(),
        status: match pb::DemandStatus::try_from(v.status) {
            Ok(pb::DemandStatus::Open) => "open",
            Ok(pb::DemandStatus::Awarded) => "awarded",
            Ok(pb::DemandStatus::Withdrawn) => "withdrawn",
            Ok(pb::DemandStatus::Expired) => "expired",
            _ => "unspecified",
        },
        demand: v.demand.as_ref().map(|d| DemandBody {
            title: d.title.clone(),
            field: field_name(d.field).into(),
            indicators: d.indicators.clone(),
            problem: d.problem.clone(),
            existing_conditions: d.existing_conditions.clone(),
            budget_fen: d.budget_fen,
            cooperation_mode: d.cooperation_mode.clone(),
            wanted_trl: d.wanted_trl,
            valid_until: show(&d.valid_until),
            challenge: v
                .challenge
                .as_ref()
                .map(|c| ChallengeBody { indicators: c.indicators.clone(), deadline: show(&c.deadline) }),
        }),
        applications: v
            .applications
            .iter()
            .map(|a| ApplicationView {
                application_id: a.application_id.clone(),
                applicant_org_id: a.applicant_org_id.clone(),
                answers: a.answers.clone(),
                status: a.status.clone(),
            })
            .collect(),
        version: v.version,
    }
}

/// Post a demand, or a challenge (enterprise members).
#[utoipa::path(post, path = "/api/v1/demands", tag = "demands", security(("bearer" = [])), request_body = DemandBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry key")), responses(
    (status = 201, description = "Posted", body = Accepted),
    (status = 403, description = "Not an enterprise member", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "Invalid input or refused by the rules", body = Problem, content_type = "application/problem+json"),
))]
pub async fn post(
    State(deps): State<Deps>,
    principal: Principal,
    headers: HeaderMap,
    Body(body): Body<DemandBody>,
) -> Result<Response, ApiError> {
    principal.require(&[Role::EnterpriseMember])?;
    let demand = pb::Demand {
        title: body.title,
        field: field_wire("demand.field", &body.field)?,
        indicators: body.indicators,
        problem: body.problem,
        existing_conditions: body.existing_conditions,
        budget_fen: body.budget_fen,
        cooperation_mode: body.cooperation_mode,
        wanted_trl: body.wanted_trl,
        valid_until: Some(time("valid_until", &body.valid_until)?),
    };
    let challenge = match body.challenge {
        Some(c) => Some(pb::ChallengeTerms {
            indicators: c.indicators,
            deadline: Some(time("challenge.deadline", &c.deadline)?),
        }),
        None => None,
    };
    let (id, done) = actions::post_demand(&deps, &Acting::api(&headers, &principal)?, demand, challenge).await?;
    Ok(accepted(StatusCode::CREATED, Some(format!("/api/v1/demands/{id}")), Some(id), &done))
}

/// The demands the caller may see, newest first.
#[utoipa::path(get, operation_id = "list_demands", path = "/api/v1/demands", tag = "demands", security(("bearer" = [])),
    params(crate::api::kit::ListPage), responses(
    (status = 200, description = "Demands", body = DemandList),
    (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
))]
pub async fn list(
    State(deps): State<Deps>,
    principal: Principal,
    crate::api::kit::Params(page): crate::api::kit::Params<crate::api::kit::ListPage>,
) -> Result<Json<DemandList>, ApiError> {
    let q = pb::ListDemands { page: page.to_pb(), asker: Some(principal.actor()) };
    let list: pb::DemandList = ask(&deps, q).await?;
    Ok(Json(DemandList { demands: list.demands.iter().map(view).collect(), total: list.total }))
}

/// One demand, if the caller may see it.
#[utoipa::path(get, operation_id = "get_demand", path = "/api/v1/demands/{demand_id}", tag = "demands", security(("bearer" = [])),
    params(("demand_id" = String, Path)), responses(
    (status = 200, description = "The demand", body = DemandView),
    (status = 404, description = "No such demand that you may see", body = Problem, content_type = "application/problem+json"),
))]
pub async fn get(
    State(deps): State<Deps>,
    principal: Principal,
    Path(demand_id): Path<String>,
) -> Result<Json<DemandView>, ApiError> {
    let v: pb::DemandView = ask(&deps, pb::GetDemand { asker: Some(principal.actor()), demand_id }).await?;
    Ok(Json(view(&v)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationBody {
    /// One answer per indicator, in order.
    pub answers: Vec<String>,
}

/// Apply to a challenge with a letter of intent (technology managers and enterprise members; never a declared
/// related party of the poster, whose application is refused with the relation).
#[utoipa::path(post, path = "/api/v1/demands/{demand_id}/applications", tag = "demands", security(("bearer" = [])),
    request_body = ApplicationBody, params(("demand_id" = String, Path)), responses(
    (status = 201, description = "Submitted; `id` is the application's", body = Accepted),
    (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "Refused by the rules (related party, deadline, answers)", body = Problem, content_type = "application/problem+json"),
))]
pub async fn apply(
    State(deps): State<Deps>,
    principal: Principal,
    headers: HeaderMap,
    Path(demand_id): Path<String>,
    Body(body): Body<ApplicationBody>,
) -> Result<Response, ApiError> {
    let by = Acting::api(&headers, &principal)?;
    let (application_id, done) = actions::apply_to_challenge(&deps, &by, demand_id, body.answers).await?;
    Ok(accepted(StatusCode::CREATED, None, Some(application_id), &done))
}

/// Answers a command carried out by an action: `200` with the stream's version.
fn ok(done: &pb::CommandAccepted) -> Response {
    accepted(StatusCode::OK, None, None, done)
}

/// Shortlist an application (the poster's members).
#[utoipa::path(post, path = "/api/v1/demands/{demand_id}/applications/{application_id}/shortlist", tag = "demands",
    security(("bearer" = [])), params(("demand_id" = String, Path), ("application_id" = String, Path)), responses(
    (status = 200, description = "Shortlisted", body = Accepted),
    (status = 403, description = "Not the poster", body = Problem, content_type = "application/problem+json"),
))]
pub async fn shortlist(
    State(deps): State<Deps>,
    principal: Principal,
    headers: HeaderMap,
    Path((demand_id, application_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let by = Acting::api(&headers, &principal)?;
    Ok(ok(&actions::shortlist_application(&deps, &by, demand_id, application_id).await?))
}

/// Award the challenge to a shortlisted application (the poster's members).
#[utoipa::path(post, path = "/api/v1/demands/{demand_id}/applications/{application_id}/award", tag = "demands",
    security(("bearer" = [])), params(("demand_id" = String, Path), ("application_id" = String, Path)), responses(
    (status = 200, description = "Awarded", body = Accepted),
    (status = 403, description = "Not the poster", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "Not shortlisted, or the challenge is closed", body = Problem, content_type = "application/problem+json"),
))]
pub async fn award(
    State(deps): State<Deps>,
    principal: Principal,
    headers: HeaderMap,
    Path((demand_id, application_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let by = Acting::api(&headers, &principal)?;
    Ok(ok(&actions::award_challenge(&deps, &by, demand_id, application_id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DemandWithdrawBody {
    pub reason: String,
}

/// Withdraw an open demand (the poster's members).
#[utoipa::path(post, operation_id = "withdraw_demand", path = "/api/v1/demands/{demand_id}/withdraw", tag = "demands", security(("bearer" = [])),
    request_body = DemandWithdrawBody, params(("demand_id" = String, Path)), responses(
    (status = 200, description = "Withdrawn", body = Accepted),
    (status = 403, description = "Not the poster", body = Problem, content_type = "application/problem+json"),
))]
pub async fn withdraw(
    State(deps): State<Deps>,
    principal: Principal,
    headers: HeaderMap,
    Path(demand_id): Path<String>,
    Body(body): Body<DemandWithdrawBody>,
) -> Result<Response, ApiError> {
    Ok(ok(&actions::withdraw_demand(&deps, &Acting::api(&headers, &principal)?, demand_id, body.reason).await?))
}
