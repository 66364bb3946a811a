//! The web UI: server-rendered pages (maud), Chinese by default and English on request, usable on a phone. Pages use
//! the session cookie; every form that changes something carries the CSRF token and goes through
//! [`crate::actions`], as the API does. Pages work without scripts; the scripts that make them live are files of
//! their own under `/static/`.
//!
//! Each module serves its pages ([`routes`] merges them) and uses [`kit`]; none uses another's pages but
//! [`listings`], whose result page shows [`negotiation`]'s sales part.

pub mod calendar;
pub mod identity;
pub mod kit;
pub mod listings;
pub mod negotiation;
pub mod terms;

use axum::Router;

use crate::Deps;

/// Every page of the web UI.
pub fn routes() -> Router<Deps> {
    Router::new()
        .merge(identity::routes())
        .merge(listings::routes())
        .merge(negotiation::routes())
        .merge(calendar::routes())
}
