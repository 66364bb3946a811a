//! The JSON API for research results: create, edit, review, publish, the public notice and its objections, and
//! whether a negotiated deal may close. Roles are checked here and again by the listings service's decider.

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
use crate::api::kit::{Accepted, Body, Params, Problem, accepted, ask};
use crate::auth::{MaybePrincipal, Principal};
use crate::problem::ApiError;

/// One table per enum: the API's name for each wire value.
pub(crate) const FIELDS: &[(&str, pb::TechField)] = &[
    ("electronic_information", pb::TechField::ElectronicInformation),
    ("biomedicine", pb::TechField::Biomedicine),
    ("aerospace", pb::TechField::Aerospace),
    ("new_materials", pb::TechField::NewMaterials),
    ("high_tech_services", pb::TechField::HighTechServices),
    ("new_energy", pb::TechField::NewEnergy),
    ("resources_environment", pb::TechField::ResourcesEnvironment),
    ("advanced_manufacturing", pb::TechField::AdvancedManufacturing),
];
pub(crate) const FORMS: &[(&str, pb::ResultForm)] = &[
    ("product", pb::ResultForm::Product),
    ("process", pb::ResultForm::Process),
    ("material", pb::ResultForm::Material),
    ("software", pb::ResultForm::Software),
    ("standard", pb::ResultForm::Standard),
    ("variety", pb::ResultForm::Variety),
    ("other", pb::ResultForm::Other),
];
pub(crate) const IP_KINDS: &[(&str, pb::IpKind)] = &[
    ("invention_patent", pb::IpKind::InventionPatent),
    ("utility_model", pb::IpKind::UtilityModel),
    ("design_patent", pb::IpKind::DesignPatent),
    ("software_copyright", pb::IpKind::SoftwareCopyright),
    ("ic_layout", pb::IpKind::IcLayout),
    ("plant_variety", pb::IpKind::PlantVariety),
    ("technical_secret", pb::IpKind::TechnicalSecret),
];
pub(crate) const SECRECY: &[(&str, pb::Secrecy)] = &[
    ("public", pb::Secrecy::Public),
    ("internal", pb::Secrecy::Internal),
    ("secret", pb::Secrecy::Secret),
    ("confidential", pb::Secrecy::Confidential),
    ("top_secret", pb::Secrecy::TopSecret),
];
pub(crate) const MODES: &[(&str, pb::TransactionMode)] = &[
    ("assignment", pb::TransactionMode::Assignment),
    ("exclusive_licence", pb::TransactionMode::ExclusiveLicence),
    ("sole_licence", pb::TransactionMode::SoleLicence),
    ("non_exclusive_licence", pb::TransactionMode::NonExclusiveLicence),
    ("equity", pb::TransactionMode::Equity),
    ("open_licence", pb::TransactionMode::OpenLicence),
];
pub(crate) const ROUTES: &[(&str, pb::PricingRoute)] = &[
    ("negotiated", pb::PricingRoute::Negotiated),
    ("listed", pb::PricingRoute::Listed),
    ("auction", pb::PricingRoute::Auction),
];
pub(crate) const VISIBILITY: &[(&str, pb::Visibility)] = &[
    ("public", pb::Visibility::Public),
    ("registered_users", pb::Visibility::RegisteredUsers),
    ("under_nda", pb::Visibility::UnderNda),
];
pub(crate) const STATUSES: &[(&str, pb::ResultStatus)] = &[
    ("draft", pb::ResultStatus::Draft),
    ("submitted", pb::ResultStatus::Submitted),
    ("returned", pb::ResultStatus::Returned),
    ("approved", pb::ResultStatus::Approved),
    ("published", pb::ResultStatus::Published),
    ("under_contract", pb::ResultStatus::UnderContract),
    ("transacted", pb::ResultStatus::Transacted),
    ("withdrawn", pb::ResultStatus::Withdrawn),
];

pub(crate) fn to_wire<E: Copy + Into<i32>>(table: &[(&str, E)], field: &str, name: &str) -> Result<i32, ApiError> {
    table.iter().find(|(n, _)| *n == name).map(|(_, v)| (*v).into()).ok_or_else(|| {
        let names: Vec<&str> = table.iter().map(|(n, _)| *n).collect();
        ApiError::invalid(field, format!("one of {}", names.join(", ")))
    })
}

pub(crate) fn to_name<E: Copy + Into<i32>>(table: &[(&'static str, E)], value: i32) -> &'static str {
    table.iter().find(|(_, v)| (*v).into() == value).map_or("unspecified", |(n, _)| *n)
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrlBody {
    /// 1–9.
    pub level: u32,
    pub assessor: String,
    /// YYYY-MM-DD.
    pub assessed_on: String,
    pub evidence: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IpRightBody {
    /// invention_patent, utility_model, design_patent, software_copyright, ic_layout, plant_variety, technical_secret.
    pub kind: String,
    #[serde(default)]
    pub number: String,
    #[serde(default)]
    pub legal_status: String,
    #[serde(default)]
    pub licences_granted: u32,
    #[serde(default)]
    pub exclusive_licence_granted: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HolderBody {
    pub org_id: String,
    /// Basis points; the holders' shares add up to 10000.
    pub share_bp: u32,
}

/// A result listing (DOMAIN.md's fields). Money is integer fen.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListingBody {
    pub title: String,
    pub summary: String,
    /// electronic_information, biomedicine, aerospace, new_materials, high_tech_services, new_energy,
    /// resources_environment, advanced_manufacturing.
    pub field: String,
    #[serde(default)]
    pub industry: String,
    /// At most 3.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// At most 3.
    #[serde(default)]
    pub innovations: Vec<String>,
    #[serde(default)]
    pub indicators: String,
    pub trl: TrlBody,
    /// product, process, material, software, standard, variety, other.
    pub form: String,
    #[serde(default)]
    pub ip_rights: Vec<IpRightBody>,
    pub holders: Vec<HolderBody>,
    /// In order of contribution.
    pub inventors: Vec<String>,
    /// public, internal, secret, confidential, top_secret; only public results are ever published.
    pub secrecy: String,
    /// assignment, exclusive_licence, sole_licence, non_exclusive_licence, equity, open_licence.
    pub modes: Vec<String>,
    /// Asking price in fen; null for 面议 (negotiable).
    pub asking_price_fen: Option<i64>,
    /// negotiated, listed, auction.
    pub route: String,
    /// public, registered_users, under_nda.
    pub visibility: String,
}

impl ListingBody {
    pub(crate) fn to_pb(&self) -> Result<pb::Listing, ApiError> {
        Ok(pb::Listing {
            title: self.title.clone(),
            summary: self.summary.clone(),
            field: to_wire(FIELDS, "listing.field", &self.field)?,
            industry: self.industry.clone(),
            keywords: self.keywords.clone(),
            innovations: self.innovations.clone(),
            indicators: self.indicators.clone(),
            trl: Some(pb::TrlAssessment {
                level: self.trl.level,
                assessor: self.trl.assessor.clone(),
                assessed_on: self.trl.assessed_on.clone(),
                evidence: self.trl.evidence.clone(),
            }),
            form: to_wire(FORMS, "listing.form", &self.form)?,
            ip_rights: self
                .ip_rights
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    Ok(pb::IpRight {
                        kind: to_wire(IP_KINDS, &format!("listing.ip_rights[{i}].kind"), &r.kind)?,
                        number: r.number.clone(),
                        legal_status: r.legal_status.clone(),
                        licences_granted: r.licences_granted,
                        exclusive_licence_granted: r.exclusive_licence_granted,
                    })
                })
                .collect::<Result<_, ApiError>>()?,
            holders: self
                .holders
                .iter()
                .map(|h| pb::Holder { org_id: h.org_id.clone(), share_bp: h.share_bp })
                .collect(),
            inventors: self.inventors.clone(),
            secrecy: to_wire(SECRECY, "listing.secrecy", &self.secrecy)?,
            modes: self
                .modes
                .iter()
                .enumerate()
                .map(|(i, m)| to_wire(MODES, &format!("listing.modes[{i}]"), m))
                .collect::<Result<_, _>>()?,
            asking_price_fen: self.asking_price_fen,
            route: to_wire(ROUTES, "listing.route", &self.route)?,
            visibility: to_wire(VISIBILITY, "listing.visibility", &self.visibility)?,
        })
    }

    fn from_pb(p: &pb::Listing) -> Self {
        let trl = p.trl.clone().unwrap_or_default();
        Self {
            title: p.title.clone(),
            summary: p.summary.clone(),
            field: to_name(FIELDS, p.field).into(),
            industry: p.industry.clone(),
            keywords: p.keywords.clone(),
            innovations: p.innovations.clone(),
            indicators: p.indicators.clone(),
            trl: TrlBody {
                level: trl.level,
                assessor: trl.assessor,
                assessed_on: trl.assessed_on,
                evidence: trl.evidence,
            },
            form: to_name(FORMS, p.form).into(),
            ip_rights: p
                .ip_rights
                .iter()
                .map(|r| IpRightBody {
                    kind: to_name(IP_KINDS, r.kind).into(),
                    number: r.number.clone(),
                    legal_status: r.legal_status.clone(),
                    licences_granted: r.licences_granted,
                    exclusive_licence_granted: r.exclusive_licence_granted,
                })
                .collect(),
            holders: p.holders.iter().map(|h| HolderBody { org_id: h.org_id.clone(), share_bp: h.share_bp }).collect(),
            inventors: p.inventors.clone(),
            secrecy: to_name(SECRECY, p.secrecy).into(),
            modes: p.modes.iter().map(|m| to_name(MODES, *m).into()).collect(),
            asking_price_fen: p.asking_price_fen,
            route: to_name(ROUTES, p.route).into(),
            visibility: to_name(VISIBILITY, p.visibility).into(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ObjectionView {
    pub objection_id: String,
    /// Absent for anonymous visitors.
    pub by_org_id: Option<String>,
    pub text: String,
    pub answer: Option<String>,
    /// open, upheld, dismissed.
    pub resolution: &'static str,
    /// The reviewer's note with the resolution.
    pub resolution_note: Option<String>,
    /// RFC 3339: raised, answered and resolved (absent for steps not taken, and in records older than the times).
    pub raised_at: Option<String>,
    pub answered_at: Option<String>,
    pub resolved_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ObjectionPage {
    /// In the order they were raised.
    pub objections: Vec<ObjectionView>,
    pub total: u32,
}

fn objection_view(o: &pb::ObjectionView) -> ObjectionView {
    let some = |s: &String| (!s.is_empty()).then(|| s.clone());
    let at = |t: &Option<prost_types::Timestamp>| t.as_ref().map(|t| Timestamp::from_proto(t).to_string());
    ObjectionView {
        objection_id: o.objection_id.clone(),
        by_org_id: some(&o.by_org_id),
        text: o.text.clone(),
        answer: some(&o.answer),
        resolution: match o.resolution {
            1 => "upheld",
            2 => "dismissed",
            _ => "open",
        },
        resolution_note: some(&o.resolution_note),
        raised_at: at(&o.raised_at),
        answered_at: at(&o.answered_at),
        resolved_at: at(&o.resolved_at),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NoticeView {
    pub price_fen: i64,
    /// RFC 3339, UTC.
    pub starts_at: String,
    pub ends_at: String,
    pub ended: bool,
    /// The first 20 objections in the order they were raised; `GET …/objections` pages through all of them.
    pub objections: Vec<ObjectionView>,
    pub objections_total: u32,
    pub open_objections: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ResultView {
    pub result_id: String,
    pub owner_org_id: String,
    /// draft, submitted, returned, approved, published, under_contract, transacted, withdrawn.
    pub status: &'static str,
    pub listing: Option<ListingBody>,
    pub return_reasons: Vec<String>,
    pub notice: Option<NoticeView>,
    /// The holders other than the creator: each consents before an exclusive sale opens.
    pub co_holder_org_ids: Vec<String>,
    /// Those that consented.
    pub consented_org_ids: Vec<String>,
    pub version: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ResultList {
    /// A page (`?offset=&limit=`, 50 unless asked, at most 200).
    pub results: Vec<ResultView>,
    /// How many there are in all.
    pub total: u32,
}

fn time(t: &Option<prost_types::Timestamp>) -> String {
    t.as_ref().map(|t| Timestamp::from_proto(t).to_string()).unwrap_or_default()
}

fn result_view(v: &pb::ResultView) -> ResultView {
    ResultView {
        result_id: v.result_id.clone(),
        owner_org_id: v.owner_org_id.clone(),
        status: to_name(STATUSES, v.status),
        listing: v.listing.as_ref().map(ListingBody::from_pb),
        return_reasons: v.return_reasons.clone(),
        notice: v.notice.as_ref().map(|n| NoticeView {
            price_fen: n.price_fen,
            starts_at: time(&n.starts_at),
            ends_at: time(&n.ends_at),
            ended: n.ended,
            objections: n.objections.iter().map(objection_view).collect(),
            objections_total: n.objections_total,
            open_objections: n.open_objections,
        }),
        co_holder_org_ids: v.co_holder_org_ids.clone(),
        consented_org_ids: v.consented_org_ids.clone(),
        version: v.version,
    }
}

/// Regulators read and change nothing.
/// Create a draft result (technology managers of a holder institution).
#[utoipa::path(post, path = "/api/v1/results", tag = "results", security(("bearer" = [])), request_body = ListingBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry key")), responses(
    (status = 201, description = "Created as a draft", body = Accepted),
    (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "Not a technology manager of a holder", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "Invalid input (`field` names it) or a rule refused it", body = Problem, content_type = "application/problem+json"),
))]
pub async fn create(
    State(deps): State<Deps>,
    principal: Principal,
    headers: HeaderMap,
    Body(body): Body<ListingBody>,
) -> Result<Response, ApiError> {
    principal.require(&[Role::TechManager])?;
    let by = Acting::api(&headers, &principal)?;
    let (id, done) = actions::create_result(&deps, &by, body.to_pb()?).await?;
    Ok(accepted(StatusCode::CREATED, Some(format!("/api/v1/results/{id}")), Some(id), &done))
}

/// The results the caller may see: their institution's in every state, others' once published.
#[utoipa::path(get, operation_id = "list_results", path = "/api/v1/results", tag = "results", security(("bearer" = [])),
    params(crate::api::kit::ListPage), responses(
    (status = 200, description = "Newest first", body = ResultList),
    (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
))]
pub async fn list(
    State(deps): State<Deps>,
    principal: Principal,
    Params(page): Params<crate::api::kit::ListPage>,
) -> Result<Json<ResultList>, ApiError> {
    let q = pb::ListResults { page: page.to_pb(), asker: Some(principal.actor()), owner_org_id: String::new() };
    let list: pb::ResultList = ask(&deps, q).await?;
    Ok(Json(ResultList { results: list.results.iter().map(result_view).collect(), total: list.total }))
}

/// One result, if the caller may see it (404 otherwise, whether or not it exists). Anonymous visitors see published
/// results listed as public.
#[utoipa::path(get, operation_id = "get_result", path = "/api/v1/results/{result_id}", tag = "results",
    params(("result_id" = String, Path)), responses(
    (status = 200, description = "The result", body = ResultView),
    (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "No such result that you may see", body = Problem, content_type = "application/problem+json"),
))]
pub async fn get(
    State(deps): State<Deps>,
    principal: MaybePrincipal,
    Path(result_id): Path<String>,
) -> Result<Json<ResultView>, ApiError> {
    let q = pb::GetResult { asker: Some(principal.actor()), result_id };
    let view: pb::ResultView = ask(&deps, q).await?;
    Ok(Json(result_view(&view)))
}

#[derive(Debug, Deserialize, ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// How many to skip.
    #[serde(default)]
    pub offset: u32,
    /// 1 to 100 (default 20).
    #[serde(default)]
    pub limit: u32,
}

/// A page of a result's notice objections, in the order they were raised, with when each was raised, answered and
/// resolved (the objector's organisation is not shown to anonymous visitors).
#[utoipa::path(get, path = "/api/v1/results/{result_id}/objections", tag = "results",
    params(("result_id" = String, Path), PageQuery), responses(
    (status = 200, description = "The page", body = ObjectionPage),
    (status = 404, description = "No such result that you may see", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "A limit out of range", body = Problem, content_type = "application/problem+json"),
))]
pub async fn list_objections(
    State(deps): State<Deps>,
    principal: MaybePrincipal,
    Path(result_id): Path<String>,
    Params(q): Params<PageQuery>,
) -> Result<Json<ObjectionPage>, ApiError> {
    let query = pb::ListObjections { asker: Some(principal.actor()), result_id, offset: q.offset, limit: q.limit };
    let page: pb::ObjectionPage = ask(&deps, query).await?;
    Ok(Json(ObjectionPage { objections: page.objections.iter().map(objection_view).collect(), total: page.total }))
}

/// Edit a draft or returned result (its institution's technology managers).
#[utoipa::path(put, path = "/api/v1/results/{result_id}", tag = "results", security(("bearer" = [])),
    request_body = ListingBody, params(("result_id" = String, Path)), responses(
    (status = 200, description = "Edited", body = Accepted),
    (status = 403, description = "Not the holder's technology manager", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "Invalid input, or not editable now", body = Problem, content_type = "application/problem+json"),
))]
pub async fn edit(
    State(deps): State<Deps>,
    principal: Principal,
    headers: HeaderMap,
    Path(result_id): Path<String>,
    Body(body): Body<ListingBody>,
) -> Result<Response, ApiError> {
    principal.require(&[Role::TechManager])?;
    let done = actions::edit_result(&deps, &Acting::api(&headers, &principal)?, result_id, body.to_pb()?).await?;
    Ok(accepted(StatusCode::OK, None, None, &done))
}

/// Answers a command carried out by an action: `200` with the stream's version.
fn ok(done: &pb::CommandAccepted) -> Response {
    accepted(StatusCode::OK, None, None, done)
}

/// Submit for review (the holder's technology managers).
#[utoipa::path(post, path = "/api/v1/results/{result_id}/submit", tag = "results", security(("bearer" = [])),
    params(("result_id" = String, Path)), responses(
    (status = 200, description = "Submitted", body = Accepted),
    (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "Not now (status), or classified", body = Problem, content_type = "application/problem+json"),
))]
pub async fn submit(
    State(deps): State<Deps>,
    principal: Principal,
    headers: HeaderMap,
    Path(result_id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(ok(&actions::submit_result(&deps, &Acting::api(&headers, &principal)?, result_id).await?))
}

/// Approve a submitted result (the holder's reviewers, not the submitter).
#[utoipa::path(post, path = "/api/v1/results/{result_id}/approve", tag = "results", security(("bearer" = [])),
    params(("result_id" = String, Path)), responses(
    (status = 200, description = "Approved", body = Accepted),
    (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
))]
pub async fn approve(
    State(deps): State<Deps>,
    principal: Principal,
    headers: HeaderMap,
    Path(result_id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(ok(&actions::approve_result(&deps, &Acting::api(&headers, &principal)?, result_id).await?))
}

/// Publish an approved result (the holder's technology managers; never a classified one).
#[utoipa::path(post, path = "/api/v1/results/{result_id}/publish", tag = "results", security(("bearer" = [])),
    params(("result_id" = String, Path)), responses(
    (status = 200, description = "Published", body = Accepted),
    (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
))]
pub async fn publish(
    State(deps): State<Deps>,
    principal: Principal,
    headers: HeaderMap,
    Path(result_id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(ok(&actions::publish_result(&deps, &Acting::api(&headers, &principal)?, result_id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnBody {
    pub reasons: Vec<String>,
}

/// Return a submitted result with reasons (the holder's reviewers).
#[utoipa::path(post, path = "/api/v1/results/{result_id}/return", tag = "results", security(("bearer" = [])),
    request_body = ReturnBody, params(("result_id" = String, Path)), responses(
    (status = 200, description = "Returned", body = Accepted),
    (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
))]
pub async fn return_result(
    State(deps): State<Deps>,
    principal: Principal,
    headers: HeaderMap,
    Path(result_id): Path<String>,
    Body(body): Body<ReturnBody>,
) -> Result<Response, ApiError> {
    Ok(ok(&actions::return_result(&deps, &Acting::api(&headers, &principal)?, result_id, body.reasons).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawBody {
    pub reason: String,
}

/// Withdraw a result (the holder's technology managers).
#[utoipa::path(post, operation_id = "withdraw_result", path = "/api/v1/results/{result_id}/withdraw", tag = "results", security(("bearer" = [])),
    request_body = WithdrawBody, params(("result_id" = String, Path)), responses(
    (status = 200, description = "Withdrawn", body = Accepted),
    (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
))]
pub async fn withdraw(
    State(deps): State<Deps>,
    principal: Principal,
    headers: HeaderMap,
    Path(result_id): Path<String>,
    Body(body): Body<WithdrawBody>,
) -> Result<Response, ApiError> {
    Ok(ok(&actions::withdraw_result(&deps, &Acting::api(&headers, &principal)?, result_id, body.reason).await?))
}

/// Consent, for a co-holder, to the result being offered for assignment, an exclusive or sole licence or equity
/// (its technology managers, or enterprise members for an enterprise co-holder). Until every co-holder has, such a sale
/// does not open (Patent Law art. 14); an edit of the listing sets the consents aside.
#[utoipa::path(post, path = "/api/v1/results/{result_id}/consent", tag = "results", security(("bearer" = [])),
    params(("result_id" = String, Path)), responses(
    (status = 200, description = "Consented (again: nothing changes)", body = Accepted),
    (status = 403, description = "Not a member of a co-holder entitled to act for it", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "No such result", body = Problem, content_type = "application/problem+json"),
))]
pub async fn consent(
    State(deps): State<Deps>,
    principal: Principal,
    headers: HeaderMap,
    Path(result_id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(ok(&actions::consent_as_co_holder(&deps, &Acting::api(&headers, &principal)?, result_id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoticeBody {
    /// The proposed price, in fen.
    pub price_fen: i64,
    /// Calendar days; at least the rules' minimum (15).
    pub days: u32,
}

/// Start the public notice (公示) of a negotiated price (the holder's technology managers).
#[utoipa::path(post, path = "/api/v1/results/{result_id}/notice", tag = "results", security(("bearer" = [])),
    request_body = NoticeBody, params(("result_id" = String, Path)), responses(
    (status = 201, description = "The notice runs", body = Accepted),
    (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "Too short, no price, not the negotiated route, or a notice exists", body = Problem, content_type = "application/problem+json"),
))]
pub async fn start_notice(
    State(deps): State<Deps>,
    principal: Principal,
    headers: HeaderMap,
    Path(result_id): Path<String>,
    Body(body): Body<NoticeBody>,
) -> Result<Response, ApiError> {
    let by = Acting::api(&headers, &principal)?;
    let done = actions::start_notice(&deps, &by, result_id, body.price_fen, body.days).await?;
    Ok(accepted(StatusCode::CREATED, None, None, &done))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectionBody {
    pub text: String,
}

/// Object to a running notice (anyone logged in but regulators).
#[utoipa::path(post, path = "/api/v1/results/{result_id}/objections", tag = "results", security(("bearer" = [])),
    request_body = ObjectionBody, params(("result_id" = String, Path)), responses(
    (status = 201, description = "Raised; `id` is the objection's", body = Accepted),
    (status = 403, description = "Regulators do not object", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "No notice is running", body = Problem, content_type = "application/problem+json"),
))]
pub async fn raise_objection(
    State(deps): State<Deps>,
    principal: Principal,
    headers: HeaderMap,
    Path(result_id): Path<String>,
    Body(body): Body<ObjectionBody>,
) -> Result<Response, ApiError> {
    let by = Acting::api(&headers, &principal)?;
    let (objection_id, done) = actions::raise_objection(&deps, &by, result_id, body.text).await?;
    Ok(accepted(StatusCode::CREATED, None, Some(objection_id), &done))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerBody {
    pub answer: String,
}

/// Answer an objection (the holder's technology managers).
#[utoipa::path(post, path = "/api/v1/results/{result_id}/objections/{objection_id}/answer", tag = "results",
    security(("bearer" = [])), request_body = AnswerBody,
    params(("result_id" = String, Path), ("objection_id" = String, Path)), responses(
    (status = 200, description = "Answered", body = Accepted),
    (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
))]
pub async fn answer_objection(
    State(deps): State<Deps>,
    principal: Principal,
    headers: HeaderMap,
    Path((result_id, objection_id)): Path<(String, String)>,
    Body(body): Body<AnswerBody>,
) -> Result<Response, ApiError> {
    let by = Acting::api(&headers, &principal)?;
    Ok(ok(&actions::answer_objection(&deps, &by, result_id, objection_id, body.answer).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolutionBody {
    /// Upheld: the notice failed and a new one is needed.
    pub upheld: bool,
    pub note: String,
}

/// Resolve an answered objection (the holder's reviewers).
#[utoipa::path(post, path = "/api/v1/results/{result_id}/objections/{objection_id}/resolution", tag = "results",
    security(("bearer" = [])), request_body = ResolutionBody,
    params(("result_id" = String, Path), ("objection_id" = String, Path)), responses(
    (status = 200, description = "Resolved", body = Accepted),
    (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
))]
pub async fn resolve_objection(
    State(deps): State<Deps>,
    principal: Principal,
    headers: HeaderMap,
    Path((result_id, objection_id)): Path<(String, String)>,
    Body(body): Body<ResolutionBody>,
) -> Result<Response, ApiError> {
    let by = Acting::api(&headers, &principal)?;
    Ok(ok(&actions::resolve_objection(&deps, &by, result_id, objection_id, body.upheld, body.note).await?))
}

#[derive(Debug, Deserialize, ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DealQuery {
    /// The price the deal would close at, in fen.
    pub price_fen: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DealStatusView {
    pub may_close: bool,
    /// not_on_sale, no_notice, notice_running, objections_open, notice_failed, price_differs; null when it may close.
    pub blocked_by: Option<String>,
    pub notice_ends_at: Option<String>,
}

/// Whether a negotiated deal at this price may close now: only after a notice at that price ended with no objection
/// open or upheld. Answered by the negotiation service, by the rule it applies when an offer is accepted.
#[utoipa::path(get, path = "/api/v1/results/{result_id}/deal-status", tag = "results", security(("bearer" = [])),
    params(("result_id" = String, Path), DealQuery), responses(
    (status = 200, description = "The answer", body = DealStatusView),
    (status = 404, description = "No such result that you may see", body = Problem, content_type = "application/problem+json"),
))]
pub async fn deal_status(
    State(deps): State<Deps>,
    principal: Principal,
    Path(result_id): Path<String>,
    Params(q): Params<DealQuery>,
) -> Result<Json<DealStatusView>, ApiError> {
    // Only for those who may see the result.
    let _: pb::ResultView =
        ask(&deps, pb::GetResult { asker: Some(principal.actor()), result_id: result_id.clone() }).await?;
    let q = ttx_proto::negotiation::v1::GetDealStatus { result_id, price_fen: q.price_fen };
    let reply = ask(&deps, q).await?;
    Ok(Json(DealStatusView {
        may_close: reply.may_close,
        blocked_by: (!reply.blocked_by.is_empty()).then_some(reply.blocked_by),
        notice_ends_at: reply.notice_ends_at.map(|t| Timestamp::from_proto(&t).to_string()),
    }))
}

/// The API's name of a field of high technology.
pub fn field_name(value: i32) -> &'static str {
    to_name(FIELDS, value)
}

/// A field of high technology by its API name; an unknown one is invalid input for `field`.
pub fn field_wire(field: &str, name: &str) -> Result<i32, ApiError> {
    to_wire(FIELDS, field, name)
}
