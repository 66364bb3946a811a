//! The JSON API under `/api/v1`, one module per context, each handler turning a request into an action
//! ([`crate::actions`]) or a query and its answer into JSON. [`kit`] is what they share; no module uses another's
//! routes.

pub mod calendar;
pub mod demands;
pub mod identity;
pub mod kit;
pub mod negotiation;
pub mod results;
pub mod search;

use axum::Router;
use axum::routing::{delete, get, post, put};

use crate::Deps;

/// Every route under `/api/v1`.
pub fn routes() -> Router<Deps> {
    Router::new()
        .route("/auth/login", post(identity::login))
        .route("/auth/logout", post(identity::logout))
        .route("/me", get(identity::me))
        .route("/organisations", get(identity::list_organisations).post(identity::create_organisation))
        .route("/organisations/{org_id}", get(identity::get_organisation))
        .route("/organisations/{org_id}/users", get(identity::list_org_users))
        .route("/organisations/{org_id}/related-parties", post(identity::declare_related_party))
        .route("/organisations/{org_id}/representative", axum::routing::put(identity::name_representative))
        .route(
            "/organisations/{org_id}/related-parties/{related_org_id}",
            axum::routing::delete(identity::withdraw_related_party),
        )
        .route("/users", post(identity::create_user))
        .route("/users/{user_id}", get(identity::get_user))
        .route("/users/{user_id}/roles", post(identity::grant_role))
        .route("/users/{user_id}/roles/{role}", delete(identity::revoke_role))
        .route("/users/{user_id}/password", put(identity::set_password))
        .route("/tech-managers", post(identity::register_tech_manager))
        .route("/results", get(results::list).post(results::create))
        .route("/results/{result_id}", get(results::get).put(results::edit))
        .route("/results/{result_id}/submit", post(results::submit))
        .route("/results/{result_id}/approve", post(results::approve))
        .route("/results/{result_id}/return", post(results::return_result))
        .route("/results/{result_id}/publish", post(results::publish))
        .route("/results/{result_id}/withdraw", post(results::withdraw))
        .route("/results/{result_id}/notice", post(results::start_notice))
        .route("/results/{result_id}/consent", post(results::consent))
        .route("/results/{result_id}/objections", post(results::raise_objection).get(results::list_objections))
        .route("/results/{result_id}/objections/{objection_id}/answer", post(results::answer_objection))
        .route("/results/{result_id}/objections/{objection_id}/resolution", post(results::resolve_objection))
        .route("/results/{result_id}/deal-status", get(results::deal_status))
        .route("/demands", get(demands::list).post(demands::post))
        .route("/demands/{demand_id}", get(demands::get))
        .route("/demands/{demand_id}/applications", post(demands::apply))
        .route("/demands/{demand_id}/applications/{application_id}/shortlist", post(demands::shortlist))
        .route("/demands/{demand_id}/applications/{application_id}/award", post(demands::award))
        .route("/demands/{demand_id}/withdraw", post(demands::withdraw))
        .route("/demands/{demand_id}/matches", get(search::demand_matches))
        .route("/results/{result_id}/matches", get(search::result_matches))
        .route("/search", get(search::search))
        .route("/notifications", get(search::notifications))
        .route("/negotiations", get(negotiation::list_negotiations).post(negotiation::open_negotiation))
        .route("/negotiations/{negotiation_id}", get(negotiation::get_negotiation))
        .route("/negotiations/{negotiation_id}/offers", post(negotiation::make_offer))
        .route("/negotiations/{negotiation_id}/accept", post(negotiation::accept_offer))
        .route("/negotiations/{negotiation_id}/abandon", post(negotiation::abandon))
        .route("/listed-sales", get(negotiation::list_listings).post(negotiation::open_listing))
        .route("/listed-sales/{listing_id}", get(negotiation::get_listing))
        .route("/listed-sales/{listing_id}/register", post(negotiation::register_intent))
        .route("/listed-sales/{listing_id}/relist", post(negotiation::relist))
        .route("/sessions", get(negotiation::list_sessions).post(negotiation::open_session))
        .route("/sessions/{session_id}", get(negotiation::get_session))
        .route("/sessions/{session_id}/register", post(negotiation::register_bidder))
        .route("/sessions/{session_id}/deposits", post(negotiation::confirm_deposit))
        .route("/sessions/{session_id}/refunds", post(negotiation::refund_deposit))
        .route("/sessions/{session_id}/bids", post(negotiation::place_bid).get(negotiation::list_bids))
        .route("/sessions/{session_id}/commitments", post(negotiation::commit_bid))
        .route("/sessions/{session_id}/reveals", post(negotiation::reveal_bid))
        .route("/sessions/{session_id}/default", post(negotiation::record_default))
        .route("/sessions/{session_id}/contract-signed", post(negotiation::record_signed))
        .route("/refunds/overdue", get(negotiation::overdue_refunds))
        .route("/calendar", get(calendar::get_calendar).post(calendar::load_schedule))
        .route("/calendar/pending-deadlines", get(calendar::pending_deadlines))
        .route("/results/{result_id}/market", get(negotiation::get_market))
        .route("/results/{result_id}/stop-licensing", post(negotiation::stop_licensing))
        .route("/openapi.json", get(crate::openapi::document))
}
