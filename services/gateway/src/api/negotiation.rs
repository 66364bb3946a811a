//! The JSON API for negotiation: negotiated deals (协议定价), listed-price sales (挂牌) and bidding sessions (竞价,
//! open or sealed). Roles are checked here and again by the negotiation service's deciders.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use ttx_kernel::Timestamp;
use ttx_proto::common::v1::Role;
use ttx_proto::negotiation::v1::{self as pb};
use utoipa::{IntoParams, ToSchema};

use crate::Deps;
use crate::actions::{self, Acting};
use crate::api::demands::time;
use crate::api::kit::{Accepted, Body, Params, Problem, accepted, ask};
use crate::api::results::{MODES, to_name, to_wire};
use crate::auth::Principal;
use crate::problem::ApiError;

pub fn show(t: &Option<prost_types::Timestamp>) -> Option<String> {
    t.as_ref().map(|t| Timestamp::from_proto(t).to_string())
}

/// A number of PRC working days after an event of the contract.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DueAfterBody {
    /// signing, registration, delivery, acceptance.
    pub event: String,
    /// 0 to 365.
    pub working_days: u32,
}

/// One payment: when it is due (`due_on` or `after`, exactly one), and its amount in fen, or (a bidding session's
/// terms, whose price the bidding fixes) its share of the final price in basis points.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentBody {
    /// A calendar date, YYYY-MM-DD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_on: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<DueAfterBody>,
    #[serde(default)]
    pub amount_fen: i64,
    #[serde(default)]
    pub share_bp: u32,
    /// Older records only: when it was due, as free text (ignored when sent).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub due: String,
}

impl PaymentBody {
    fn to_pb(&self, field: &str) -> Result<pb::Payment, ApiError> {
        let when = match (&self.due_on, &self.after) {
            (Some(d), None) => Some(pb::payment::When::DueOn(d.clone())),
            (None, Some(a)) => {
                Some(pb::payment::When::After(pb::DueAfter { event: a.event.clone(), working_days: a.working_days }))
            }
            (None, None) => None,
            (Some(_), Some(_)) => {
                return Err(ApiError::invalid(
                    format!("{field}.due_on"),
                    "a payment is due on a date or after an event, not both",
                ));
            }
        };
        Ok(pb::Payment { due: String::new(), amount_fen: self.amount_fen, when, share_bp: self.share_bp })
    }

    fn from_pb(p: &pb::Payment) -> Self {
        let (due_on, after) = match &p.when {
            Some(pb::payment::When::DueOn(d)) => (Some(d.clone()), None),
            Some(pb::payment::When::After(a)) => {
                (None, Some(DueAfterBody { event: a.event.clone(), working_days: a.working_days }))
            }
            None => (None, None),
        };
        Self { due_on, after, amount_fen: p.amount_fen, share_bp: p.share_bp, due: p.due.clone() }
    }
}

/// A version of the terms, or the terms a sale declares. Money is integer fen, 1 fen to the rules' ceiling.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TermsBody {
    /// assignment, exclusive_licence, sole_licence, non_exclusive_licence, equity, open_licence.
    pub mode: String,
    /// 0 in a bidding session's terms: the bidding fixes it.
    #[serde(default)]
    pub price_fen: i64,
    /// At least one; they add up to the price exactly (amounts), or to 10 000 basis points (a session's shares).
    #[serde(default)]
    pub payments: Vec<PaymentBody>,
    #[serde(default)]
    pub territory: String,
    #[serde(default)]
    pub term_months: u32,
    #[serde(default)]
    pub field_of_use: String,
    /// Set by the exchange from the mode (assignment, exclusive and sole licences and equity are exclusive); ignored
    /// when sent.
    #[serde(default)]
    pub exclusive: bool,
}

impl TermsBody {
    pub(crate) fn to_pb(&self, prefix: &str) -> Result<pb::TermSheet, ApiError> {
        Ok(pb::TermSheet {
            mode: to_wire(MODES, &format!("{prefix}mode"), &self.mode)?,
            price_fen: self.price_fen,
            payments: self
                .payments
                .iter()
                .enumerate()
                .map(|(i, p)| p.to_pb(&format!("{prefix}payments[{i}]")))
                .collect::<Result<_, _>>()?,
            territory: self.territory.clone(),
            term_months: self.term_months,
            field_of_use: self.field_of_use.clone(),
            exclusive: self.exclusive,
        })
    }

    fn from_pb(t: &pb::TermSheet) -> Self {
        Self {
            mode: to_name(MODES, t.mode).into(),
            price_fen: t.price_fen,
            payments: t.payments.iter().map(PaymentBody::from_pb).collect(),
            territory: t.territory.clone(),
            term_months: t.term_months,
            field_of_use: t.field_of_use.clone(),
            exclusive: t.exclusive,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DealView {
    pub deal_id: String,
    pub result_id: String,
    pub seller_org_id: String,
    pub buyer_org_id: String,
    /// negotiated, listed, auction.
    pub route: String,
    pub price_fen: i64,
    pub terms: Option<TermsBody>,
    /// RFC 3339: the contract is due by then (5 PRC working days).
    pub contract_due: Option<String>,
    /// prc_calendar; pending_calendar while the deadline's year has no holiday schedule loaded (weekdays_only in
    /// older deals).
    pub contract_due_basis: String,
    /// The year whose schedule a pending deadline waits for.
    pub pending_year: Option<i32>,
    /// An auction winner's deposit, credited toward the price.
    pub deposit_credited_fen: i64,
}

fn deal_view(d: &Option<pb::DealAgreed>) -> Option<DealView> {
    d.as_ref().map(|d| DealView {
        deal_id: d.deal_id.clone(),
        result_id: d.result_id.clone(),
        seller_org_id: d.seller_org_id.clone(),
        buyer_org_id: d.buyer_org_id.clone(),
        route: d.route.clone(),
        price_fen: d.price_fen,
        terms: d.terms.as_ref().map(TermsBody::from_pb),
        contract_due: show(&d.contract_due),
        contract_due_basis: d.contract_due_basis.clone(),
        pending_year: (d.pending_year != 0).then_some(d.pending_year),
        deposit_credited_fen: d.deposit_credited_fen,
    })
}

// ---- negotiated deals ----

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenNegotiationBody {
    pub result_id: String,
    /// The transaction mode negotiated, one the result offers: assignment, exclusive_licence, sole_licence,
    /// non_exclusive_licence, equity, open_licence. Offers keep it, and so its exclusivity.
    pub mode: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OfferView {
    pub version: u32,
    pub by_org_id: String,
    pub terms: Option<TermsBody>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NegotiationView {
    pub negotiation_id: String,
    pub result_id: String,
    pub seller_org_id: String,
    pub buyer_org_id: String,
    /// The mode declared at the opening (absent for older negotiations), and whether it is exclusive.
    pub mode: Option<String>,
    pub exclusive: bool,
    /// open, agreed, abandoned.
    pub status: String,
    /// A page of the versions of the terms, oldest first (lists carry the latest only).
    pub offers: Vec<OfferView>,
    /// How many versions there are in all.
    pub offers_total: u32,
    pub deal: Option<DealView>,
    pub version: u64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NegotiationList {
    /// A page (`?offset=&limit=`, 50 unless asked, at most 200).
    pub negotiations: Vec<NegotiationView>,
    /// How many there are in all.
    pub total: u32,
}

fn negotiation_view(v: &pb::NegotiationView) -> NegotiationView {
    NegotiationView {
        negotiation_id: v.negotiation_id.clone(),
        result_id: v.result_id.clone(),
        seller_org_id: v.seller_org_id.clone(),
        buyer_org_id: v.buyer_org_id.clone(),
        mode: (v.mode != 0).then(|| to_name(MODES, v.mode).to_owned()),
        exclusive: v.exclusive,
        status: v.status.clone(),
        offers: v
            .offers
            .iter()
            .map(|o| OfferView {
                version: o.version,
                by_org_id: o.by_org_id.clone(),
                terms: o.terms.as_ref().map(TermsBody::from_pb),
            })
            .collect(),
        offers_total: v.offers_total,
        deal: deal_view(&v.deal),
        version: v.version,
    }
}

/// Open a negotiation on a published result priced by negotiation (enterprise members).
#[utoipa::path(post, path = "/api/v1/negotiations", tag = "negotiation", security(("bearer" = [])),
    request_body = OpenNegotiationBody, responses(
    (status = 201, description = "Opened; `id` is the negotiation's", body = Accepted),
    (status = 403, description = "Not an enterprise member", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "Not published, not negotiated, or the buyer's own result", body = Problem, content_type = "application/problem+json"),
))]
pub async fn open_negotiation(
    State(deps): State<Deps>,
    principal: Principal,
    headers: HeaderMap,
    Body(body): Body<OpenNegotiationBody>,
) -> Result<Response, ApiError> {
    principal.require(&[Role::EnterpriseMember])?;
    let mode = to_wire(MODES, "mode", &body.mode)?;
    let (id, done) =
        actions::open_negotiation(&deps, &Acting::api(&headers, &principal)?, body.result_id, mode).await?;
    Ok(accepted(StatusCode::CREATED, Some(format!("/api/v1/negotiations/{id}")), Some(id), &done))
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NegotiationQuery {
    /// Only this result's.
    pub result_id: Option<String>,
    /// How many to skip.
    pub offset: Option<u32>,
    /// 1 to 200 (50 when absent).
    pub limit: Option<u32>,
}

/// The caller's organisation's negotiations (all of them for administrators and regulators), newest first.
#[utoipa::path(get, path = "/api/v1/negotiations", tag = "negotiation", security(("bearer" = [])),
    params(NegotiationQuery), responses((status = 200, description = "Newest first", body = NegotiationList)))]
pub async fn list_negotiations(
    State(deps): State<Deps>,
    principal: Principal,
    Params(q): Params<NegotiationQuery>,
) -> Result<Json<NegotiationList>, ApiError> {
    let list: pb::NegotiationList = ask(
        &deps,
        pb::ListNegotiations {
            page: crate::api::kit::ListPage { offset: q.offset, limit: q.limit }.to_pb(),
            asker: Some(principal.actor()),
            result_id: q.result_id.unwrap_or_default(),
        },
    )
    .await?;
    Ok(Json(NegotiationList {
        negotiations: list.negotiations.iter().map(negotiation_view).collect(),
        total: list.total,
    }))
}

#[derive(Debug, Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OffersQuery {
    /// Offers to skip, oldest first.
    #[serde(default)]
    pub offers_offset: u32,
    /// 1 to 100; absent: the latest 20.
    #[serde(default)]
    pub offers_limit: u32,
}

/// One negotiation with a page of its versions of the terms, the latest 20 unless asked (the parties,
/// administrators and regulators).
#[utoipa::path(get, path = "/api/v1/negotiations/{negotiation_id}", tag = "negotiation", security(("bearer" = [])),
    params(("negotiation_id" = String, Path), OffersQuery), responses(
    (status = 200, description = "The negotiation", body = NegotiationView),
    (status = 404, description = "No such negotiation that you take part in", body = Problem, content_type = "application/problem+json"),
))]
pub async fn get_negotiation(
    State(deps): State<Deps>,
    principal: Principal,
    Path(negotiation_id): Path<String>,
    Params(q): Params<OffersQuery>,
) -> Result<Json<NegotiationView>, ApiError> {
    let query = pb::GetNegotiation {
        asker: Some(principal.actor()),
        negotiation_id,
        offers_offset: q.offers_offset,
        offers_limit: q.offers_limit,
    };
    let v: pb::NegotiationView = ask(&deps, query).await?;
    Ok(Json(negotiation_view(&v)))
}

/// Offer a new version of the terms (either party).
#[utoipa::path(post, path = "/api/v1/negotiations/{negotiation_id}/offers", tag = "negotiation",
    security(("bearer" = [])), request_body = TermsBody, params(("negotiation_id" = String, Path)), responses(
    (status = 201, description = "Offered; `version` is the log's", body = Accepted),
    (status = 403, description = "Not a party", body = Problem, content_type = "application/problem+json"),
))]
pub async fn make_offer(
    State(deps): State<Deps>,
    principal: Principal,
    headers: HeaderMap,
    Path(negotiation_id): Path<String>,
    Body(body): Body<TermsBody>,
) -> Result<Response, ApiError> {
    principal.require(&[Role::EnterpriseMember, Role::TechManager])?;
    let done = actions::make_offer(&deps, &Acting::api(&headers, &principal)?, negotiation_id, body.to_pb("")?).await?;
    Ok(accepted(StatusCode::CREATED, None, None, &done))
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptBody {
    /// The other side's latest version.
    pub version: u32,
}

/// Accept the other side's latest version: a deal, if the result's public notice ended cleanly at that price.
#[utoipa::path(post, path = "/api/v1/negotiations/{negotiation_id}/accept", tag = "negotiation",
    security(("bearer" = [])), request_body = AcceptBody, params(("negotiation_id" = String, Path)), responses(
    (status = 200, description = "Agreed", body = Accepted),
    (status = 422, description = "Not the latest version, or the notice does not allow it yet", body = Problem, content_type = "application/problem+json"),
))]
pub async fn accept_offer(
    State(deps): State<Deps>,
    principal: Principal,
    headers: HeaderMap,
    Path(negotiation_id): Path<String>,
    Body(body): Body<AcceptBody>,
) -> Result<Response, ApiError> {
    let by = Acting::api(&headers, &principal)?;
    Ok(ok(&actions::accept_offer(&deps, &by, negotiation_id, body.version).await?))
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonBody {
    pub reason: String,
}

/// Abandon the negotiation (either party).
#[utoipa::path(post, path = "/api/v1/negotiations/{negotiation_id}/abandon", tag = "negotiation",
    security(("bearer" = [])), request_body = ReasonBody, params(("negotiation_id" = String, Path)), responses(
    (status = 200, description = "Abandoned", body = Accepted),
    (status = 403, description = "Not a party", body = Problem, content_type = "application/problem+json"),
))]
pub async fn abandon(
    State(deps): State<Deps>,
    principal: Principal,
    headers: HeaderMap,
    Path(negotiation_id): Path<String>,
    Body(body): Body<ReasonBody>,
) -> Result<Response, ApiError> {
    let by = Acting::api(&headers, &principal)?;
    Ok(ok(&actions::abandon_negotiation(&deps, &by, negotiation_id, body.reason).await?))
}

// ---- listed-price sales ----

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenListingBody {
    pub result_id: String,
    /// The listed price is `terms.price_fen`.
    pub terms: TermsBody,
    /// The disclosure period (挂牌披露期) in PRC working days, within the rules' bounds (10 to 60); it ends at 24:00
    /// Beijing time of its last working day.
    pub disclosure_working_days: u32,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ListedSaleView {
    pub listing_id: String,
    pub result_id: String,
    pub seller_org_id: String,
    pub price_fen: i64,
    pub disclosure_ends: Option<String>,
    /// open, sold, to_auction, lapsed.
    pub status: String,
    pub registrants: u32,
    /// Whether the caller's organisation registered.
    pub registered: bool,
    /// For the seller, administrators and regulators.
    pub registrant_org_ids: Vec<String>,
    /// The bidding session two or more registrants went to.
    pub session_id: Option<String>,
    pub deal: Option<DealView>,
    pub terms: Option<TermsBody>,
    pub version: u64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ListedSaleList {
    /// A page (`?offset=&limit=`, 50 unless asked, at most 200).
    pub listed_sales: Vec<ListedSaleView>,
    /// How many there are in all.
    pub total: u32,
}

fn listing_view(v: &pb::ListingView) -> ListedSaleView {
    ListedSaleView {
        listing_id: v.listing_id.clone(),
        result_id: v.result_id.clone(),
        seller_org_id: v.seller_org_id.clone(),
        price_fen: v.price_fen,
        disclosure_ends: show(&v.disclosure_ends),
        status: v.status.clone(),
        registrants: v.registrants,
        registered: v.registered,
        registrant_org_ids: v.registrant_org_ids.clone(),
        session_id: (!v.session_id.is_empty()).then(|| v.session_id.clone()),
        deal: deal_view(&v.deal),
        terms: v.terms.as_ref().map(TermsBody::from_pb),
        version: v.version,
    }
}

/// List a published result priced by listing, at a price, for a disclosure period (the holder's technology managers).
#[utoipa::path(post, path = "/api/v1/listed-sales", tag = "negotiation", security(("bearer" = [])),
    request_body = OpenListingBody, responses(
    (status = 201, description = "Listed; `id` is the sale's", body = Accepted),
    (status = 403, description = "Not the holder's technology manager", body = Problem, content_type = "application/problem+json"),
))]
pub async fn open_listing(
    State(deps): State<Deps>,
    principal: Principal,
    headers: HeaderMap,
    Body(body): Body<OpenListingBody>,
) -> Result<Response, ApiError> {
    principal.require(&[Role::TechManager])?;
    let terms = body.terms.to_pb("terms.")?;
    let by = Acting::api(&headers, &principal)?;
    let (id, done) = actions::open_listing(&deps, &by, body.result_id, terms, body.disclosure_working_days).await?;
    Ok(accepted(StatusCode::CREATED, Some(format!("/api/v1/listed-sales/{id}")), Some(id), &done))
}

/// Every listed-price sale, newest first.
#[utoipa::path(get, path = "/api/v1/listed-sales", tag = "negotiation", security(("bearer" = [])),
    params(crate::api::kit::ListPage), responses((status = 200, description = "Newest first", body = ListedSaleList)))]
pub async fn list_listings(
    State(deps): State<Deps>,
    principal: Principal,
    Params(page): Params<crate::api::kit::ListPage>,
) -> Result<Json<ListedSaleList>, ApiError> {
    let q = pb::ListListings { page: page.to_pb(), asker: Some(principal.actor()), result_id: String::new() };
    let list: pb::ListingList = ask(&deps, q).await?;
    Ok(Json(ListedSaleList { listed_sales: list.listings.iter().map(listing_view).collect(), total: list.total }))
}

/// One listed-price sale.
#[utoipa::path(get, path = "/api/v1/listed-sales/{listing_id}", tag = "negotiation", security(("bearer" = [])),
    params(("listing_id" = String, Path)), responses(
    (status = 200, description = "The sale", body = ListedSaleView),
    (status = 404, description = "No such sale", body = Problem, content_type = "application/problem+json"),
))]
pub async fn get_listing(
    State(deps): State<Deps>,
    principal: Principal,
    Path(listing_id): Path<String>,
) -> Result<Json<ListedSaleView>, ApiError> {
    let v: pb::ListingView = ask(&deps, pb::GetListing { asker: Some(principal.actor()), listing_id }).await?;
    Ok(Json(listing_view(&v)))
}

/// Register the intent to buy at the listed price (enterprise members, during the disclosure period).
#[utoipa::path(post, path = "/api/v1/listed-sales/{listing_id}/register", tag = "negotiation",
    security(("bearer" = [])), params(("listing_id" = String, Path)), responses(
    (status = 200, description = "Registered", body = Accepted),
    (status = 403, description = "Not an enterprise member", body = Problem, content_type = "application/problem+json"),
))]
pub async fn register_intent(
    State(deps): State<Deps>,
    principal: Principal,
    headers: HeaderMap,
    Path(listing_id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(ok(&actions::register_intent(&deps, &Acting::api(&headers, &principal)?, listing_id).await?))
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RelistBody {
    /// A new disclosure period in PRC working days, within the rules' bounds.
    pub disclosure_working_days: u32,
}

/// Relist a lapsed sale for a new disclosure period (the seller's technology managers).
#[utoipa::path(post, path = "/api/v1/listed-sales/{listing_id}/relist", tag = "negotiation",
    security(("bearer" = [])), request_body = RelistBody, params(("listing_id" = String, Path)), responses(
    (status = 200, description = "Relisted", body = Accepted),
    (status = 422, description = "Not lapsed", body = Problem, content_type = "application/problem+json"),
))]
pub async fn relist(
    State(deps): State<Deps>,
    principal: Principal,
    headers: HeaderMap,
    Path(listing_id): Path<String>,
    Body(body): Body<RelistBody>,
) -> Result<Response, ApiError> {
    let by = Acting::api(&headers, &principal)?;
    Ok(ok(&actions::relist(&deps, &by, listing_id, body.disclosure_working_days).await?))
}

// ---- bidding sessions ----

/// A session's rules. Times are RFC 3339 in UTC; money is integer fen.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RulesBody {
    pub start_price_fen: i64,
    pub increment_fen: i64,
    pub deposit_fen: i64,
    pub registration_closes: String,
    pub bidding_opens: String,
    /// The end of the free-bid window (or of commitments, when sealed).
    pub bidding_closes: String,
    /// extension (a bid in the last window moves the end) or period_reset (each bid after the free window starts
    /// a new period).
    pub anti_sniping: String,
    /// 60–3600.
    pub window_seconds: i64,
    /// Hidden from bidders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reserve_fen: Option<i64>,
    #[serde(default)]
    pub sealed: bool,
    /// Sealed sessions: reveals close then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reveal_closes: Option<String>,
    /// One-shot (一次报价): each bidder may place one open bid. Without it bidders bid again whenever outbid
    /// (multi-round). A sealed session always takes one commitment per bidder.
    #[serde(default)]
    pub one_shot: bool,
    /// Read only: the version of the session rules.
    #[serde(default, skip_deserializing)]
    pub version: String,
}

impl RulesBody {
    fn to_pb(&self) -> Result<pb::SessionRules, ApiError> {
        Ok(pb::SessionRules {
            start_price_fen: self.start_price_fen,
            increment_fen: self.increment_fen,
            deposit_fen: self.deposit_fen,
            registration_closes: Some(time("rules.registration_closes", &self.registration_closes)?),
            bidding_opens: Some(time("rules.bidding_opens", &self.bidding_opens)?),
            bidding_closes: Some(time("rules.bidding_closes", &self.bidding_closes)?),
            anti_sniping: self.anti_sniping.clone(),
            window_seconds: self.window_seconds,
            reserve_fen: self.reserve_fen,
            sealed: self.sealed,
            reveal_closes: self.reveal_closes.as_deref().map(|t| time("rules.reveal_closes", t)).transpose()?,
            version: String::new(),
            one_shot: self.one_shot,
        })
    }

    fn from_pb(r: &pb::SessionRules) -> Self {
        Self {
            start_price_fen: r.start_price_fen,
            increment_fen: r.increment_fen,
            deposit_fen: r.deposit_fen,
            registration_closes: show(&r.registration_closes).unwrap_or_default(),
            bidding_opens: show(&r.bidding_opens).unwrap_or_default(),
            bidding_closes: show(&r.bidding_closes).unwrap_or_default(),
            anti_sniping: r.anti_sniping.clone(),
            window_seconds: r.window_seconds,
            reserve_fen: r.reserve_fen,
            sealed: r.sealed,
            reveal_closes: show(&r.reveal_closes),
            version: r.version.clone(),
            one_shot: r.one_shot,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenSessionBody {
    pub result_id: String,
    pub rules: RulesBody,
    /// What the session sells: mode, territory, term, field of use, and payments as shares (`share_bp`) of the
    /// final price; `price_fen` 0.
    pub terms: TermsBody,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BidView {
    pub seq: u32,
    /// The bidder's organisation for the seller, supervisors and the bidder itself; "竞买人 N" for others.
    pub bidder: String,
    pub amount_fen: i64,
    pub mine: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OutcomeView {
    pub sold: bool,
    pub winner_org_id: Option<String>,
    pub price_fen: i64,
    /// When not sold: no_bids, reserve_not_met.
    pub reason: Option<String>,
    pub refunds_due: Vec<String>,
    /// RFC 3339: the deposits due back are due by then (absent while `pending_year` waits for its schedule).
    pub refunds_due_by: Option<String>,
    pub pending_year: Option<i32>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CancellationView {
    pub reason: String,
    /// The bidders whose deposits are due back (every confirmed one).
    pub refunds_due: Vec<String>,
    /// RFC 3339 (absent while `pending_year` waits for its schedule).
    pub refunds_due_by: Option<String>,
    pub pending_year: Option<i32>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionView {
    pub session_id: String,
    pub result_id: String,
    /// The result's title.
    pub result_title: String,
    pub seller_org_id: String,
    /// The reserve is shown to the seller, administrators and regulators only.
    pub rules: Option<RulesBody>,
    /// open, revealing, closed, defaulted.
    pub phase: String,
    /// When the session ends now (moved by the anti-sniping rule).
    pub ends_at: Option<String>,
    /// The latest bids (at most 50), oldest first; `GET …/bids` pages through all of them.
    pub bids: Vec<BidView>,
    /// How many bids were accepted.
    pub bid_count: u32,
    pub bidders: u32,
    pub registered: bool,
    /// unpaid, confirmed, refunded, forfeited; absent when not registered.
    pub my_deposit: Option<String>,
    /// Sealed sessions: how many committed (never an amount before the reveals).
    pub commitments: u32,
    pub committed: bool,
    pub outcome: Option<OutcomeView>,
    pub deal: Option<DealView>,
    /// The server's clock, for countdowns.
    pub server_time: Option<String>,
    /// What the session sells: mode, territory, term, field of use, the schedule as shares of the final price.
    pub terms: Option<TermsBody>,
    /// Set when the exchange cancelled the session because the holder withdrew the result: every confirmed deposit
    /// is due back, none forfeited.
    pub cancellation: Option<CancellationView>,
    pub listing_id: Option<String>,
    /// The signed contract's reference, once the winner signed; a winner who has not signed by the deal's
    /// `contract_due` defaults (phase `defaulted`) and forfeits the deposit.
    pub contract_reference: Option<String>,
    pub version: u64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionList {
    /// A page (`?offset=&limit=`, 50 unless asked, at most 200).
    pub sessions: Vec<SessionView>,
    /// How many there are in all.
    pub total: u32,
}

pub fn session_view(v: &pb::SessionView) -> SessionView {
    SessionView {
        session_id: v.session_id.clone(),
        result_id: v.result_id.clone(),
        result_title: v.result_title.clone(),
        contract_reference: (!v.contract_reference.is_empty()).then(|| v.contract_reference.clone()),
        seller_org_id: v.seller_org_id.clone(),
        rules: v.rules.as_ref().map(RulesBody::from_pb),
        phase: v.phase.clone(),
        ends_at: show(&v.ends_at),
        bids: v.bids.iter().map(bid_view).collect(),
        bid_count: v.bid_count,
        bidders: v.bidders,
        registered: v.registered,
        my_deposit: (!v.my_deposit.is_empty()).then(|| v.my_deposit.clone()),
        commitments: v.commitments,
        committed: v.committed,
        outcome: v.outcome.as_ref().map(|o| OutcomeView {
            sold: o.sold,
            winner_org_id: (!o.winner_org_id.is_empty()).then(|| o.winner_org_id.clone()),
            price_fen: o.price_fen,
            reason: (!o.reason.is_empty()).then(|| o.reason.clone()),
            refunds_due: o.refunds_due.clone(),
            refunds_due_by: show(&o.refunds_due_by),
            pending_year: (o.pending_year != 0).then_some(o.pending_year),
        }),
        deal: deal_view(&v.deal),
        server_time: show(&v.server_time),
        listing_id: (!v.listing_id.is_empty()).then(|| v.listing_id.clone()),
        terms: v.terms.as_ref().map(TermsBody::from_pb),
        cancellation: v.cancellation.as_ref().map(|c| CancellationView {
            reason: c.reason.clone(),
            refunds_due: c.refunds_due.clone(),
            refunds_due_by: show(&c.refunds_due_by),
            pending_year: (c.pending_year != 0).then_some(c.pending_year),
        }),
        version: v.version,
    }
}

/// Open a bidding session on a published result priced by auction (the holder's technology managers).
#[utoipa::path(post, path = "/api/v1/sessions", tag = "negotiation", security(("bearer" = [])),
    request_body = OpenSessionBody, responses(
    (status = 201, description = "Opened; `id` is the session's", body = Accepted),
    (status = 403, description = "Not the holder's technology manager", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "Invalid rules, or the result is not for auction", body = Problem, content_type = "application/problem+json"),
))]
pub async fn open_session(
    State(deps): State<Deps>,
    principal: Principal,
    headers: HeaderMap,
    Body(body): Body<OpenSessionBody>,
) -> Result<Response, ApiError> {
    principal.require(&[Role::TechManager])?;
    let (rules, terms) = (body.rules.to_pb()?, body.terms.to_pb("terms.")?);
    let by = Acting::api(&headers, &principal)?;
    let (id, done) = actions::open_session(&deps, &by, body.result_id, rules, terms).await?;
    Ok(accepted(StatusCode::CREATED, Some(format!("/api/v1/sessions/{id}")), Some(id), &done))
}

/// Every bidding session, newest first.
#[utoipa::path(get, path = "/api/v1/sessions", tag = "negotiation", security(("bearer" = [])),
    params(crate::api::kit::ListPage), responses((status = 200, description = "Newest first", body = SessionList)))]
pub async fn list_sessions(
    State(deps): State<Deps>,
    principal: Principal,
    Params(page): Params<crate::api::kit::ListPage>,
) -> Result<Json<SessionList>, ApiError> {
    let q = pb::ListSessions { page: page.to_pb(), asker: Some(principal.actor()), result_id: String::new() };
    let list: pb::SessionList = ask(&deps, q).await?;
    Ok(Json(SessionList { sessions: list.sessions.iter().map(session_view).collect(), total: list.total }))
}

/// Fetches a session as the caller may see it.
pub async fn fetch_session(
    deps: &Deps,
    principal: &Principal,
    session_id: String,
) -> Result<pb::SessionView, ApiError> {
    ask(deps, pb::GetSession { asker: Some(principal.actor()), session_id }).await
}

/// One session: its rules (the reserve hidden from bidders), bids, the caller's registration and deposit, the
/// outcome, and the server's time.
#[utoipa::path(get, path = "/api/v1/sessions/{session_id}", tag = "negotiation", security(("bearer" = [])),
    params(("session_id" = String, Path)), responses(
    (status = 200, description = "The session", body = SessionView),
    (status = 404, description = "No such session", body = Problem, content_type = "application/problem+json"),
))]
pub async fn get_session(
    State(deps): State<Deps>,
    principal: Principal,
    Path(session_id): Path<String>,
) -> Result<Json<SessionView>, ApiError> {
    Ok(Json(session_view(&fetch_session(&deps, &principal, session_id).await?)))
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BidsQuery {
    /// Bids after this sequence number (default 0: from the first).
    pub after: Option<u32>,
    /// 1 to 1000 (default 500).
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BidPage {
    pub bids: Vec<BidView>,
    pub bid_count: u32,
    /// Pass it as `after` for the next page; absent on the last page.
    pub next_after: Option<u32>,
}

/// A session's accepted bids in order, a page at a time (a session's view carries only the latest).
#[utoipa::path(get, path = "/api/v1/sessions/{session_id}/bids", tag = "negotiation", security(("bearer" = [])),
    params(("session_id" = String, Path), BidsQuery), responses(
    (status = 200, description = "A page of bids", body = BidPage),
    (status = 404, description = "No such session", body = Problem, content_type = "application/problem+json"),
))]
pub async fn list_bids(
    State(deps): State<Deps>,
    principal: Principal,
    Path(session_id): Path<String>,
    Params(q): Params<BidsQuery>,
) -> Result<Json<BidPage>, ApiError> {
    let limit = q.limit.unwrap_or(500);
    let query = pb::ListBids { asker: Some(principal.actor()), session_id, after_seq: q.after.unwrap_or(0), limit };
    let page: pb::BidPage = ask(&deps, query).await?;
    let next_after =
        page.bids.last().map(|b| b.seq).filter(|last| *last < page.bid_count && page.bids.len() == limit as usize);
    Ok(Json(BidPage { bids: page.bids.iter().map(bid_view).collect(), bid_count: page.bid_count, next_after }))
}

fn bid_view(b: &pb::BidView) -> BidView {
    BidView { seq: b.seq, bidder: b.bidder.clone(), amount_fen: b.amount_fen, mine: b.mine }
}

/// Register as a bidder (enterprise members, before registration closes).
#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/register", tag = "negotiation", security(("bearer" = [])),
    params(("session_id" = String, Path)), responses(
    (status = 200, description = "Registered", body = Accepted),
    (status = 403, description = "Not an enterprise member", body = Problem, content_type = "application/problem+json"),
))]
pub async fn register_bidder(
    State(deps): State<Deps>,
    principal: Principal,
    headers: HeaderMap,
    Path(session_id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(ok(&actions::register_bidder(&deps, &Acting::api(&headers, &principal)?, session_id).await?))
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DepositBody {
    pub bidder_org_id: String,
    /// For a confirmation: the amount received.
    #[serde(default)]
    pub amount_fen: i64,
    /// The payment's reference (bank, settlement system).
    pub reference: String,
}

/// Answers a command carried out by an action: `200` with the stream's version.
fn ok(done: &pb::CommandAccepted) -> Response {
    accepted(StatusCode::OK, None, None, done)
}

/// Record a bidder's deposit as received (administrators, or the settlement integration's account).
#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/deposits", tag = "negotiation", security(("bearer" = [])),
    request_body = DepositBody, params(("session_id" = String, Path)), responses(
    (status = 200, description = "Confirmed", body = Accepted),
    (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
))]
pub async fn confirm_deposit(
    State(deps): State<Deps>,
    principal: Principal,
    headers: HeaderMap,
    Path(session_id): Path<String>,
    Body(body): Body<DepositBody>,
) -> Result<Response, ApiError> {
    let by = Acting::api(&headers, &principal)?;
    let (org, amount, reference) = (body.bidder_org_id, body.amount_fen, body.reference);
    Ok(ok(&actions::confirm_deposit(&deps, &by, session_id, org, amount, reference).await?))
}

/// Record a deposit as refunded, once it is due back after the close (administrators).
#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/refunds", tag = "negotiation", security(("bearer" = [])),
    request_body = DepositBody, params(("session_id" = String, Path)), responses(
    (status = 200, description = "Refunded", body = Accepted),
    (status = 422, description = "No refund is due", body = Problem, content_type = "application/problem+json"),
))]
pub async fn refund_deposit(
    State(deps): State<Deps>,
    principal: Principal,
    headers: HeaderMap,
    Path(session_id): Path<String>,
    Body(body): Body<DepositBody>,
) -> Result<Response, ApiError> {
    let by = Acting::api(&headers, &principal)?;
    let (org, amount, reference) = (body.bidder_org_id, body.amount_fen, body.reference);
    Ok(ok(&actions::refund_deposit(&deps, &by, session_id, org, amount, reference).await?))
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BidBody {
    pub amount_fen: i64,
}

/// Bid (registered enterprise members with a confirmed deposit): at least the start price, then the high plus a
/// whole number of increments.
#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/bids", tag = "negotiation", security(("bearer" = [])),
    request_body = BidBody, params(("session_id" = String, Path)), responses(
    (status = 201, description = "Accepted", body = Accepted),
    (status = 422, description = "Refused by the rules (increment, window, deposit)", body = Problem, content_type = "application/problem+json"),
))]
pub async fn place_bid(
    State(deps): State<Deps>,
    principal: Principal,
    headers: HeaderMap,
    Path(session_id): Path<String>,
    Body(body): Body<BidBody>,
) -> Result<Response, ApiError> {
    let by = Acting::api(&headers, &principal)?;
    let done = actions::place_bid(&deps, &by, session_id, body.amount_fen).await?;
    Ok(accepted(StatusCode::CREATED, None, None, &done))
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommitBody {
    /// 64 hex digits: SHA-256 over the tag, the session, the bidder, the amount and a nonce (docs/api.md).
    pub commitment: String,
}

/// Commit to a sealed bid (registered enterprise members with a confirmed deposit, during the bid window). The
/// answer's `version` and the log's record are the receipt.
#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/commitments", tag = "negotiation",
    security(("bearer" = [])), request_body = CommitBody, params(("session_id" = String, Path)), responses(
    (status = 201, description = "Committed", body = Accepted),
    (status = 422, description = "Refused by the rules", body = Problem, content_type = "application/problem+json"),
))]
pub async fn commit_bid(
    State(deps): State<Deps>,
    principal: Principal,
    headers: HeaderMap,
    Path(session_id): Path<String>,
    Body(body): Body<CommitBody>,
) -> Result<Response, ApiError> {
    let by = Acting::api(&headers, &principal)?;
    let done = actions::commit_bid(&deps, &by, session_id, body.commitment).await?;
    Ok(accepted(StatusCode::CREATED, None, None, &done))
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevealBody {
    pub amount_fen: i64,
    /// 64 hex digits.
    pub nonce: String,
}

/// Reveal a sealed bid after the commitments closed: it must match the commitment.
#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/reveals", tag = "negotiation", security(("bearer" = [])),
    request_body = RevealBody, params(("session_id" = String, Path)), responses(
    (status = 200, description = "Revealed", body = Accepted),
    (status = 422, description = "Does not match, or not the reveal phase", body = Problem, content_type = "application/problem+json"),
))]
pub async fn reveal_bid(
    State(deps): State<Deps>,
    principal: Principal,
    headers: HeaderMap,
    Path(session_id): Path<String>,
    Body(body): Body<RevealBody>,
) -> Result<Response, ApiError> {
    let by = Acting::api(&headers, &principal)?;
    Ok(ok(&actions::reveal_bid(&deps, &by, session_id, body.amount_fen, body.nonce).await?))
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignedBody {
    /// The signed contract's number or reference.
    pub reference: String,
}

/// Record that the winner signed the contract (administrators, or the contracts service): the contract deadline
/// then passes without a default.
#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/contract-signed", tag = "negotiation",
    security(("bearer" = [])), request_body = SignedBody, params(("session_id" = String, Path)), responses(
    (status = 200, description = "Recorded", body = Accepted),
    (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "Recorded already", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "No winner, or the winner defaulted", body = Problem,
        content_type = "application/problem+json"),
))]
pub async fn record_signed(
    State(deps): State<Deps>,
    principal: Principal,
    headers: HeaderMap,
    Path(session_id): Path<String>,
    Body(body): Body<SignedBody>,
) -> Result<Response, ApiError> {
    let by = Acting::api(&headers, &principal)?;
    Ok(ok(&actions::record_signed(&deps, &by, session_id, body.reference).await?))
}

/// Record that the winner did not sign: the deposit is forfeited (administrators). The contract deadline's timer
/// does the same by itself once the deadline has passed.
#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/default", tag = "negotiation", security(("bearer" = [])),
    request_body = ReasonBody, params(("session_id" = String, Path)), responses(
    (status = 200, description = "Recorded", body = Accepted),
    (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
))]
pub async fn record_default(
    State(deps): State<Deps>,
    principal: Principal,
    headers: HeaderMap,
    Path(session_id): Path<String>,
    Body(body): Body<ReasonBody>,
) -> Result<Response, ApiError> {
    let by = Acting::api(&headers, &principal)?;
    Ok(ok(&actions::record_default(&deps, &by, session_id, body.reason).await?))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OverdueRefundView {
    pub session_id: String,
    pub result_id: String,
    pub bidder_org_id: String,
    pub amount_fen: i64,
    /// RFC 3339: it was due back by then.
    pub due_by: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OverdueRefundList {
    /// The oldest first, at most 1000.
    pub refunds: Vec<OverdueRefundView>,
    /// How many are overdue in all.
    pub total: u32,
}

/// Fetches the overdue deposit refunds (administrators and regulators).
pub async fn fetch_overdue_refunds(deps: &Deps, principal: &Principal) -> Result<pb::OverdueRefundList, ApiError> {
    principal.require(&[Role::Admin, Role::Regulator])?;
    ask(deps, pb::ListOverdueRefunds { asker: Some(principal.actor()) }).await
}

/// Deposits due back after a close whose refund is past its due date (the rules' working days after the close), the
/// oldest first (administrators and regulators).
#[utoipa::path(get, path = "/api/v1/refunds/overdue", tag = "negotiation", security(("bearer" = [])), responses(
    (status = 200, description = "The oldest first", body = OverdueRefundList),
    (status = 403, description = "Neither an administrator nor a regulator", body = Problem, content_type = "application/problem+json"),
))]
pub async fn overdue_refunds(
    State(deps): State<Deps>,
    principal: Principal,
) -> Result<Json<OverdueRefundList>, ApiError> {
    let list = fetch_overdue_refunds(&deps, &principal).await?;
    Ok(Json(OverdueRefundList {
        refunds: list
            .refunds
            .iter()
            .map(|r| OverdueRefundView {
                session_id: r.session_id.clone(),
                result_id: r.result_id.clone(),
                bidder_org_id: r.bidder_org_id.clone(),
                amount_fen: r.amount_fen,
                due_by: show(&r.due_by),
            })
            .collect(),
        total: list.total,
    }))
}

/// A process open on a result, as its market records it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SaleView {
    /// negotiation, listing, session.
    pub kind: String,
    /// Empty for a negotiation, except to the holder, administrators and regulators (negotiations are confidential).
    pub process_id: String,
    pub mode: String,
    pub exclusive: bool,
    /// Who opened it, shown to the holder, administrators and regulators only.
    pub opened_by_org_id: Option<String>,
}

/// What is on sale of a result and what has been granted (ADR 0008).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MarketView {
    pub result_id: String,
    /// The processes open now.
    pub open: Vec<SaleView>,
    /// The deal whose exclusive right stands, if any.
    pub exclusive_deal_id: Option<String>,
    /// Non-exclusive licences granted (deal ids): the first 200.
    pub licences: Vec<String>,
    /// How many licences stand in all.
    pub licences_total: u32,
    pub licensing_stopped: bool,
    pub version: u64,
}

/// What is on sale of a result: the open processes, the exclusive right granted, the non-exclusive licences
/// (everyone logged in).
#[utoipa::path(get, path = "/api/v1/results/{result_id}/market", tag = "negotiation", security(("bearer" = [])),
    params(("result_id" = String, Path)), responses((status = 200, description = "The result's market", body = MarketView)))]
pub async fn get_market(
    State(deps): State<Deps>,
    principal: Principal,
    Path(result_id): Path<String>,
) -> Result<Json<MarketView>, ApiError> {
    let m: pb::MarketView = ask(&deps, pb::GetMarket { asker: Some(principal.actor()), result_id }).await?;
    Ok(Json(MarketView {
        result_id: m.result_id,
        open: m
            .open
            .iter()
            .map(|s| SaleView {
                kind: s.kind.clone(),
                process_id: s.process_id.clone(),
                mode: to_name(MODES, s.mode).into(),
                exclusive: s.exclusive,
                opened_by_org_id: (!s.opened_by_org_id.is_empty()).then(|| s.opened_by_org_id.clone()),
            })
            .collect(),
        exclusive_deal_id: (!m.exclusive_deal_id.is_empty()).then_some(m.exclusive_deal_id),
        licences: m.licences,
        licences_total: m.licences_total,
        licensing_stopped: m.licensing_stopped,
        version: m.version,
    }))
}

/// Stop granting non-exclusive licences of a result (the holder's technology managers). Licences granted stay.
#[utoipa::path(post, path = "/api/v1/results/{result_id}/stop-licensing", tag = "negotiation",
    security(("bearer" = [])), params(("result_id" = String, Path)), responses(
    (status = 200, description = "Recorded", body = Accepted),
    (status = 403, description = "Not the holder's technology manager", body = Problem, content_type = "application/problem+json"),
))]
pub async fn stop_licensing(
    State(deps): State<Deps>,
    principal: Principal,
    headers: HeaderMap,
    Path(result_id): Path<String>,
) -> Result<Response, ApiError> {
    let done = actions::stop_licensing(&deps, &Acting::api(&headers, &principal)?, result_id).await?;
    Ok(ok(&done))
}
