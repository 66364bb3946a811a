//! The API's OpenAPI 3.1 document, generated from the handlers' annotations, and a page that lists it for people.

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, html};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::api::{
    calendar as api_calendar, demands as api_demands, identity as api, negotiation as api_negotiation,
    results as api_results, search as api_search,
};

#[derive(Debug)]
struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.bearer_format = Some("JWT (EdDSA)".into());
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "TTX technology-transfer exchange API",
        description = "The JSON API of the TTX gateway. Log in at POST /api/v1/auth/login and send the token as \
                       `Authorization: Bearer <token>`. Errors are RFC 9457 problem documents with a stable `type`.",
    ),
    paths(
        api::login,
        api::logout,
        api::me,
        api::list_organisations,
        api::create_organisation,
        api::get_organisation,
        api::list_org_users,
        api::declare_related_party,
        api::withdraw_related_party,
        api::name_representative,
        api::create_user,
        api::get_user,
        api::grant_role,
        api::revoke_role,
        api::set_password,
        api::register_tech_manager,
        api_results::create,
        api_results::list,
        api_results::get,
        api_results::edit,
        api_results::submit,
        api_results::approve,
        api_results::return_result,
        api_results::publish,
        api_results::withdraw,
        api_results::start_notice,
        api_results::raise_objection,
        api_results::list_objections,
        api_results::consent,
        api_results::answer_objection,
        api_results::resolve_objection,
        api_results::deal_status,
        api_demands::post,
        api_demands::list,
        api_demands::get,
        api_demands::apply,
        api_demands::shortlist,
        api_demands::award,
        api_demands::withdraw,
        api_search::search,
        api_search::demand_matches,
        api_search::result_matches,
        api_search::notifications,
        api_negotiation::open_negotiation,
        api_negotiation::list_negotiations,
        api_negotiation::get_negotiation,
        api_negotiation::make_offer,
        api_negotiation::accept_offer,
        api_negotiation::abandon,
        api_negotiation::open_listing,
        api_negotiation::list_listings,
        api_negotiation::get_listing,
        api_negotiation::register_intent,
        api_negotiation::relist,
        api_negotiation::open_session,
        api_negotiation::list_sessions,
        api_negotiation::get_session,
        api_negotiation::register_bidder,
        api_negotiation::confirm_deposit,
        api_negotiation::refund_deposit,
        api_negotiation::place_bid,
        api_negotiation::commit_bid,
        api_negotiation::reveal_bid,
        api_negotiation::record_default,
        api_negotiation::record_signed,
        api_negotiation::list_bids,
        api_negotiation::overdue_refunds,
        api_negotiation::get_market,
        api_negotiation::stop_licensing,
        api_calendar::get_calendar,
        api_calendar::load_schedule,
        api_calendar::pending_deadlines,
    ),
    modifiers(&Bearer),
    tags(
        (name = "auth", description = "Logging in and out"),
        (name = "organisations", description = "Organisations and their related parties"),
        (name = "users", description = "Users, roles and the technology-manager registry"),
        (name = "results", description = "Research results, their review and public notice"),
        (name = "demands", description = "Technology demands and open challenges (揭榜挂帅)"),
        (name = "search", description = "Search, matching and match notices"),
        (name = "negotiation", description = "Negotiated deals, listed-price sales and bidding sessions"),
        (name = "calendar", description = "The PRC working-day calendar: holiday schedules and pending deadlines"),
    )
)]
pub struct ApiDoc;

/// `GET /api/v1/openapi.json`.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// `GET /api/docs`: every operation with its summary, body and answers, on one page.
pub async fn page() -> Response {
    let doc = ApiDoc::openapi();
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "TTX API" }
                link rel="stylesheet" href="/static/app.css";
            }
            body {
                header class="top" { a class="brand" href="/" { "TTX" } }
                main {
                    h1 { (doc.info.title) }
                    p { (doc.info.description.clone().unwrap_or_default()) }
                    p { "Machine-readable: " a href="/api/v1/openapi.json" { "/api/v1/openapi.json" } " (OpenAPI 3.1)." }
                    @for (path, item) in &doc.paths.paths {
                        @for (method, op) in operations(item) {
                            section class="card" style="max-width:none;margin-bottom:1rem" {
                                h2 { code { (method) " " (path) } }
                                @if let Some(summary) = &op.summary { p { (summary) } }
                                @if let Some(description) = &op.description { p { (description) } }
                                @if op.security.is_some() { p { "Needs a bearer token (or the session cookie)." } }
                                ul {
                                    @for (status, response) in &op.responses.responses {
                                        li { code { (status) } " " (response_description(response)) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], markup.into_string()).into_response()
}

fn operations(item: &utoipa::openapi::PathItem) -> Vec<(&'static str, &utoipa::openapi::path::Operation)> {
    [("GET", &item.get), ("POST", &item.post), ("PUT", &item.put), ("DELETE", &item.delete), ("PATCH", &item.patch)]
        .into_iter()
        .filter_map(|(m, op)| op.as_ref().map(|op| (m, op)))
        .collect()
}

fn response_description(r: &utoipa::openapi::RefOr<utoipa::openapi::Response>) -> String {
    match r {
        utoipa::openapi::RefOr::T(r) => r.description.clone(),
        utoipa::openapi::RefOr::Ref(r) => r.ref_location.clone(),
    }
}
