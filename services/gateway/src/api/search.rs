//! The JSON API for search, matching and match notices.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use ttx_proto::listings::v1::{self as pb};
use utoipa::{IntoParams, ToSchema};

use crate::Deps;
use crate::api::kit::{Params, Problem, ask};
use crate::api::results::{FIELDS, MODES, ROUTES, to_name, to_wire};
use crate::auth::{MaybePrincipal, Principal};
use crate::problem::ApiError;

/// Search parameters; all optional.
#[derive(Debug, Default, Clone, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Free text, Chinese or English.
    pub q: Option<String>,
    /// result or demand.
    pub kind: Option<String>,
    /// A field of technology: new_energy, biomedicine, …
    pub field: Option<String>,
    pub trl_min: Option<String>,
    pub trl_max: Option<String>,
    /// A transaction mode: assignment, exclusive_licence, …
    pub mode: Option<String>,
    /// Asking price (or budget) at least this, in fen.
    pub price_min_fen: Option<String>,
    /// Asking price (or budget) at most this, in fen.
    pub price_max_fen: Option<String>,
    /// The holder's (or poster's) region, e.g. 上海市.
    pub region: Option<String>,
    /// A pricing route: negotiated, listed, auction.
    pub route: Option<String>,
    /// relevance (default), newest, price_asc, price_desc.
    pub sort: Option<String>,
    pub offset: Option<String>,
    /// 1–100, default 20.
    pub limit: Option<String>,
}

fn number<T: std::str::FromStr>(field: &str, v: &Option<String>) -> Result<Option<T>, ApiError> {
    match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s.parse().map(Some).map_err(|_| ApiError::invalid(field, "a whole number")),
    }
}

fn name(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl SearchParams {
    /// The query the listings service answers, checked field by field.
    pub fn to_pb(&self, asker: ttx_proto::common::v1::Actor) -> Result<pb::Search, ApiError> {
        Ok(pb::Search {
            asker: Some(asker),
            q: self.q.clone().unwrap_or_default(),
            kind: name(&self.kind).unwrap_or_default().to_owned(),
            field: name(&self.field).map(|n| to_wire(FIELDS, "field", n)).transpose()?.unwrap_or_default(),
            trl_min: number("trl_min", &self.trl_min)?.unwrap_or_default(),
            trl_max: number("trl_max", &self.trl_max)?.unwrap_or_default(),
            mode: name(&self.mode).map(|n| to_wire(MODES, "mode", n)).transpose()?.unwrap_or_default(),
            price_min_fen: number("price_min_fen", &self.price_min_fen)?,
            price_max_fen: number("price_max_fen", &self.price_max_fen)?,
            region: name(&self.region).unwrap_or_default().to_owned(),
            route: name(&self.route).map(|n| to_wire(ROUTES, "route", n)).transpose()?.unwrap_or_default(),
            sort: name(&self.sort).unwrap_or_default().to_owned(),
            offset: number("offset", &self.offset)?.unwrap_or_default(),
            limit: number("limit", &self.limit)?.unwrap_or_default(),
        })
    }
}

/// A run of text; `hit` when it matched the query.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SpanView {
    pub text: String,
    pub hit: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HitView {
    /// result or demand.
    pub kind: String,
    pub id: String,
    pub title: String,
    /// The title, with the matched runs marked.
    pub title_spans: Vec<SpanView>,
    /// A stretch of the summary (or problem) around the first match.
    pub snippet: Vec<SpanView>,
    pub field: String,
    /// A result's TRL, or the TRL a demand wants.
    pub trl: u32,
    /// A result's asking price (null: 面议) or a demand's budget, in fen.
    pub price_fen: Option<i64>,
    pub region: String,
    /// A result's pricing route; null for a demand.
    pub route: Option<String>,
    pub modes: Vec<String>,
    /// Relevance (0 when sorted otherwise).
    pub score: f32,
    pub org_id: String,
    /// Where the whole document is.
    pub href: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FacetValue {
    /// What to pass back to filter on it (a field name, a TRL, a region…); the band's index for price.
    pub value: String,
    /// For a price band: its name (e.g. 100万–500万, 面议).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// For a price band: the filter that selects it (absent for 面议).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_min_fen: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_max_fen: Option<i64>,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Facets {
    pub kind: Vec<FacetValue>,
    pub field: Vec<FacetValue>,
    pub trl: Vec<FacetValue>,
    pub mode: Vec<FacetValue>,
    pub price: Vec<FacetValue>,
    pub region: Vec<FacetValue>,
    pub route: Vec<FacetValue>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SearchResponse {
    /// How many match, in all.
    pub total: u64,
    pub hits: Vec<HitView>,
    /// Counts over every match, with the filters applied.
    pub facets: Facets,
}

/// The price bands of the price facet, in fen, as the listings service cuts them.
const PRICE_BANDS: &[(i64, Option<i64>)] = &[
    (0, Some(9_999_999)),
    (10_000_000, Some(49_999_999)),
    (50_000_000, Some(99_999_999)),
    (100_000_000, Some(499_999_999)),
    (500_000_000, Some(999_999_999)),
    (1_000_000_000, None),
];

fn spans(s: &[pb::Span]) -> Vec<SpanView> {
    s.iter().map(|s| SpanView { text: s.text.clone(), hit: s.hit }).collect()
}

fn facets(list: &[pb::Facet]) -> Facets {
    let get = |name: &str| list.iter().find(|f| f.name == name).map(|f| f.counts.as_slice()).unwrap_or_default();
    let plain = |counts: &[pb::FacetCount], value: &dyn Fn(&pb::FacetCount) -> String| -> Vec<FacetValue> {
        counts
            .iter()
            .map(|c| FacetValue {
                value: value(c),
                label: None,
                price_min_fen: None,
                price_max_fen: None,
                count: c.count,
            })
            .collect()
    };
    Facets {
        kind: plain(get("kind"), &|c| c.label.clone()),
        field: plain(get("field"), &|c| to_name(FIELDS, c.code).to_owned()),
        trl: plain(get("trl"), &|c| c.code.to_string()),
        mode: plain(get("mode"), &|c| to_name(MODES, c.code).to_owned()),
        route: plain(get("route"), &|c| to_name(ROUTES, c.code).to_owned()),
        region: plain(get("region"), &|c| c.label.clone()),
        price: get("price")
            .iter()
            .map(|c| {
                let band = usize::try_from(c.code).ok().and_then(|i| PRICE_BANDS.get(i));
                FacetValue {
                    value: c.code.to_string(),
                    label: Some(c.label.clone()),
                    price_min_fen: band.map(|b| b.0),
                    price_max_fen: band.and_then(|b| b.1),
                    count: c.count,
                }
            })
            .collect(),
    }
}

/// The response the listings service's search reply makes.
pub fn search_response(r: &pb::SearchResults) -> SearchResponse {
    SearchResponse {
        total: r.total,
        hits: r
            .hits
            .iter()
            .map(|h| HitView {
                kind: h.kind.clone(),
                id: h.id.clone(),
                title: h.title.clone(),
                title_spans: spans(&h.title_spans),
                snippet: spans(&h.snippet),
                field: to_name(FIELDS, h.field).to_owned(),
                trl: h.trl,
                price_fen: h.price_fen,
                region: h.region.clone(),
                route: (h.route != 0).then(|| to_name(ROUTES, h.route).to_owned()),
                modes: h.modes.iter().map(|m| to_name(MODES, *m).to_owned()).collect(),
                score: h.score,
                org_id: h.org_id.clone(),
                href: format!("/api/v1/{}s/{}", h.kind, h.id),
            })
            .collect(),
        facets: facets(&r.facets),
    }
}

/// Runs a search as the caller.
pub async fn run_search(
    deps: &Deps,
    asker: ttx_proto::common::v1::Actor,
    p: &SearchParams,
) -> Result<pb::SearchResults, ApiError> {
    ask(deps, p.to_pb(asker)?).await
}

/// Search published results and open demands, in Chinese or English, with facets. Anonymous visitors find the
/// results listed as public; logged-in users also those for registered users and open demands; a result shown
/// only under NDA is found by its holder's members (and administrators and regulators).
#[utoipa::path(get, path = "/api/v1/search", tag = "search", params(SearchParams), responses(
    (status = 200, description = "The hits and the facets", body = SearchResponse),
    (status = 422, description = "A parameter is invalid (named in `field`)", body = Problem, content_type = "application/problem+json"),
))]
pub async fn search(
    State(deps): State<Deps>,
    principal: MaybePrincipal,
    Params(p): Params<SearchParams>,
) -> Result<Json<SearchResponse>, ApiError> {
    let reply = run_search(&deps, principal.actor(), &p).await?;
    Ok(Json(search_response(&reply)))
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReasonView {
    /// text, field, trl, budget, region.
    pub factor: String,
    /// What the factor added (weights: text 40, field 20, trl 15, budget 15, region 10).
    pub points: u32,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MatchView {
    pub id: String,
    pub title: String,
    pub org_id: String,
    /// 0–100.
    pub score: u32,
    pub reasons: Vec<ReasonView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MatchList {
    pub matches: Vec<MatchView>,
}

fn reasons(r: &[pb::MatchReason]) -> Vec<ReasonView> {
    r.iter().map(|r| ReasonView { factor: r.factor.clone(), points: r.points, detail: r.detail.clone() }).collect()
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MatchParams {
    /// 1–50, default 10.
    pub limit: Option<String>,
}

/// Asks for matches: one of the ids is set.
pub async fn find_matches(
    deps: &Deps,
    asker: ttx_proto::common::v1::Actor,
    demand_id: String,
    result_id: String,
    limit: &Option<String>,
) -> Result<MatchList, ApiError> {
    let q = pb::FindMatches {
        asker: Some(asker),
        demand_id,
        result_id,
        limit: number("limit", limit)?.unwrap_or_default(),
    };
    let list: pb::MatchList = ask(deps, q).await?;
    Ok(match_list(&list.matches))
}

/// Matches as the API shows them.
pub fn match_list(matches: &[pb::Match]) -> MatchList {
    MatchList {
        matches: matches
            .iter()
            .map(|m| MatchView {
                id: m.id.clone(),
                title: m.title.clone(),
                org_id: m.org_id.clone(),
                score: m.score,
                reasons: reasons(&m.reasons),
            })
            .collect(),
    }
}

/// The published results that best answer a demand, each with its score and why.
#[utoipa::path(get, path = "/api/v1/demands/{demand_id}/matches", tag = "search", security(("bearer" = [])),
    params(("demand_id" = String, Path), MatchParams), responses(
    (status = 200, description = "Best first", body = MatchList),
    (status = 404, description = "No such demand that you may see", body = Problem, content_type = "application/problem+json"),
))]
pub async fn demand_matches(
    State(deps): State<Deps>,
    principal: Principal,
    Path(demand_id): Path<String>,
    Params(p): Params<MatchParams>,
) -> Result<Json<MatchList>, ApiError> {
    Ok(Json(find_matches(&deps, principal.actor(), demand_id, String::new(), &p.limit).await?))
}

/// The open demands a result best answers, each with its score and why.
#[utoipa::path(get, path = "/api/v1/results/{result_id}/matches", tag = "search", security(("bearer" = [])),
    params(("result_id" = String, Path), MatchParams), responses(
    (status = 200, description = "Best first", body = MatchList),
    (status = 404, description = "No such result that you may see", body = Problem, content_type = "application/problem+json"),
))]
pub async fn result_matches(
    State(deps): State<Deps>,
    principal: Principal,
    Path(result_id): Path<String>,
    Params(p): Params<MatchParams>,
) -> Result<Json<MatchList>, ApiError> {
    Ok(Json(find_matches(&deps, principal.actor(), String::new(), result_id, &p.limit).await?))
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NotificationView {
    pub demand_id: String,
    pub demand_title: String,
    pub result_id: String,
    pub result_title: String,
    pub score: u32,
    pub reasons: Vec<ReasonView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NotificationList {
    /// A page (`?offset=&limit=`, 50 unless asked, at most 200).
    pub notifications: Vec<NotificationView>,
    /// How many there are in all.
    pub total: u32,
}

/// Fetches a page of the caller's organisation's match notices.
pub async fn list_notifications(
    deps: &Deps,
    principal: &Principal,
    page: crate::api::kit::ListPage,
) -> Result<NotificationList, ApiError> {
    let q = pb::ListNotifications { page: page.to_pb(), asker: Some(principal.actor()) };
    let list: pb::NotificationList = ask(deps, q).await?;
    Ok(NotificationList {
        notifications: list
            .notifications
            .iter()
            .map(|n| NotificationView {
                demand_id: n.demand_id.clone(),
                demand_title: n.demand_title.clone(),
                result_id: n.result_id.clone(),
                result_title: n.result_title.clone(),
                score: n.score,
                reasons: reasons(&n.reasons),
            })
            .collect(),
        total: list.total,
    })
}

/// New demands that match the caller's organisation's results, newest first.
#[utoipa::path(get, path = "/api/v1/notifications", tag = "search", security(("bearer" = [])),
    params(crate::api::kit::ListPage), responses(
    (status = 200, description = "Newest first", body = NotificationList),
    (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
))]
pub async fn notifications(
    State(deps): State<Deps>,
    principal: Principal,
    crate::api::kit::Params(page): crate::api::kit::Params<crate::api::kit::ListPage>,
) -> Result<Json<NotificationList>, ApiError> {
    Ok(Json(list_notifications(&deps, &principal, page).await?))
}
