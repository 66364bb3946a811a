//! The working-day calendar: the holiday schedules in force (anyone), loading a year's schedule (administrators), and
//! the deadlines waiting for a year that has none (administrators and regulators).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use ttx_proto::common::v1::Role;
use ttx_proto::identity::v1 as ipb;
use ttx_proto::negotiation::v1 as npb;
use utoipa::ToSchema;

use crate::Deps;
use crate::actions::{self, Acting};
use crate::api::kit::{Body, Problem, ask};
use crate::api::negotiation::show;
use crate::auth::Principal;
use crate::problem::ApiError;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct YearSchedule {
    pub year: i32,
    /// Every public-holiday day off, YYYY-MM-DD.
    pub holidays: Vec<String>,
    /// Every weekend day made a working day (调休), YYYY-MM-DD.
    #[serde(default)]
    pub make_up_workdays: Vec<String>,
    /// The notice that published the schedule.
    pub source: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CalendarView {
    /// `calendar-<n>`: decisions record it with their rule version.
    pub version: String,
    pub years: Vec<YearSchedule>,
}

/// The calendar as identity holds it.
pub async fn fetch_calendar(deps: &crate::Deps) -> Result<ipb::Calendar, ApiError> {
    ask(deps, ipb::GetCalendar {}).await
}

/// The PRC public-holiday schedules the exchange counts working days and periods with (anyone).
#[utoipa::path(get, path = "/api/v1/calendar", tag = "calendar", responses(
    (status = 200, description = "The schedules loaded, by year", body = CalendarView),
))]
pub async fn get_calendar(State(deps): State<Deps>) -> Result<Json<CalendarView>, ApiError> {
    let c = fetch_calendar(&deps).await?;
    Ok(Json(CalendarView {
        version: c.version,
        years: c
            .years
            .into_iter()
            .map(|y| YearSchedule {
                year: y.year,
                holidays: y.holidays,
                make_up_workdays: y.make_up_workdays,
                source: y.source,
            })
            .collect(),
    }))
}

/// Load a year's public-holiday schedule as the State Council published it, or a revision of a year (administrators).
/// Periods ending in a year without a schedule are refused (users) or pending (timers) until it is loaded.
#[utoipa::path(post, path = "/api/v1/calendar", tag = "calendar", security(("bearer" = [])),
    request_body = YearSchedule, params(("Idempotency-Key" = Option<String>, Header, description = "Retry key")),
    responses(
    (status = 201, description = "Loaded (the same schedule again changes nothing)", body = crate::api::kit::Accepted),
    (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "Invalid schedule; `field` names the entry", body = Problem, content_type = "application/problem+json"),
))]
pub async fn load_schedule(
    State(deps): State<Deps>,
    principal: Principal,
    headers: HeaderMap,
    Body(body): Body<YearSchedule>,
) -> Result<Response, ApiError> {
    let schedule = ipb::LoadSchedule {
        context: None,
        year: body.year,
        holidays: body.holidays,
        make_up_workdays: body.make_up_workdays,
        source: body.source,
    };
    let done = actions::load_schedule(&deps, &Acting::api(&headers, &principal)?, schedule).await?;
    Ok(crate::api::kit::accepted(StatusCode::CREATED, None, None, &done))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PendingDeadlineView {
    /// session or listing.
    pub process: String,
    pub id: String,
    pub result_id: String,
    /// The year whose schedule is missing.
    pub year: i32,
    /// RFC 3339: the deadlines count from then.
    pub since: Option<String>,
    /// refunds, contract.
    pub deadlines: Vec<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PendingDeadlineList {
    /// The oldest first, at most 1000.
    pub pending: Vec<PendingDeadlineView>,
    pub total: u32,
}

/// Fetches the pending deadlines (administrators and regulators).
pub async fn fetch_pending(deps: &Deps, principal: &Principal) -> Result<npb::PendingDeadlineList, ApiError> {
    principal.require(&[Role::Admin, Role::Regulator])?;
    let q = npb::ListPendingDeadlines { asker: Some(principal.actor()) };
    ask(deps, q).await
}

/// Deadlines a timer decided while their year had no holiday schedule: each waits for an administrator to load the
/// year, and is counted then (administrators and regulators).
#[utoipa::path(get, path = "/api/v1/calendar/pending-deadlines", tag = "calendar", security(("bearer" = [])), responses(
    (status = 200, description = "The oldest first", body = PendingDeadlineList),
    (status = 403, description = "Neither an administrator nor a regulator", body = Problem, content_type = "application/problem+json"),
))]
pub async fn pending_deadlines(
    State(deps): State<Deps>,
    principal: Principal,
) -> Result<Json<PendingDeadlineList>, ApiError> {
    let list = fetch_pending(&deps, &principal).await?;
    Ok(Json(PendingDeadlineList {
        pending: list
            .pending
            .into_iter()
            .map(|p| PendingDeadlineView {
                process: p.process,
                id: p.id,
                result_id: p.result_id,
                year: p.year,
                since: show(&p.since),
                deadlines: p.deadlines,
            })
            .collect(),
        total: list.total,
    }))
}
