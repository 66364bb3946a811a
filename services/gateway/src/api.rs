//! The JSON API under `/api/v1`: authentication and the identity routes. Each handler checks the caller's roles,
//! turns the body into one bus command or query, and maps the answer; the services check the actor again.

use std::time::Duration;

use axum::Json;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use prost::Message;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use ttx_kernel::bus::call;
use ttx_proto::common::v1::Role;
use ttx_proto::identity::v1::{self as pb, subjects};

use crate::Deps;
use crate::auth::{self, Principal};
use crate::problem::ApiError;
use crate::token::Claims;

const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest JSON body a write route takes.
pub const MAX_BODY: usize = 64 * 1024;

/// A JSON body whose errors name the field: a missing field, a wrong type, or malformed JSON is a 422 problem.
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let json =
            req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| {
                v.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
            });
        if !json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "JSON expected",
                "send the body as application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too-large", "Body too large", e.body_text()))?;
        let de = &mut serde_json::Deserializer::from_slice(&bytes);
        serde_path_to_error::deserialize(de).map(Body).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let message = inner.to_string();
            // serde names a missing field only in its message: "missing field `name` at line …".
            let field = message
                .split_once("missing field `")
                .and_then(|(_, rest)| rest.split_once('`'))
                .map(|(name, _)| if path == "." { name.to_owned() } else { format!("{path}.{name}") })
                .unwrap_or_else(|| if path == "." { String::new() } else { path });
            ApiError::invalid(field, message)
        })
    }
}

/// The caller's idempotency key (`Idempotency-Key`), scoped to the caller, or a fresh id.
fn command_id(headers: &HeaderMap, principal: &Principal) -> Result<String, ApiError> {
    match headers.get("idempotency-key") {
        None => Ok(uuid::Uuid::now_v7().to_string()),
        Some(v) => {
            let key = v.to_str().unwrap_or_default();
            if key.is_empty()
                || key.len() > 128
                || !key.chars().all(|c| c.is_ascii_alphanumeric() || "-_:.".contains(c))
            {
                return Err(ApiError::invalid("Idempotency-Key", "1 to 128 of A-Z a-z 0-9 - _ : ."));
            }
            Ok(format!("{}:{key}", principal.user_id))
        }
    }
}

fn context(headers: &HeaderMap, principal: &Principal) -> Result<Option<pb::CommandContext>, ApiError> {
    Ok(Some(pb::CommandContext { actor: Some(principal.actor()), command_id: command_id(headers, principal)? }))
}

async fn ask<M: Message + Default>(deps: &Deps, subject: &str, request: impl Message) -> Result<M, ApiError> {
    let reply = call(deps.bus.as_ref(), subject, request.encode_to_vec().into(), CALL_TIMEOUT).await?;
    M::decode(reply).map_err(|e| {
        tracing::error!(%subject, error = %e, "a reply does not decode");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "the request failed; it is logged",
        )
    })
}

// ---- names on the wire ----

pub fn role_name(role: Role) -> &'static str {
    match role {
        Role::TechManager => "tech_manager",
        Role::EnterpriseMember => "enterprise_member",
        Role::Reviewer => "reviewer",
        Role::Regulator => "regulator",
        Role::Admin => "admin",
        Role::System => "system",
        Role::Unspecified => "unspecified",
    }
}

pub fn parse_role(field: &str, s: &str) -> Result<Role, ApiError> {
    Ok(match s {
        "tech_manager" => Role::TechManager,
        "enterprise_member" => Role::EnterpriseMember,
        "reviewer" => Role::Reviewer,
        "regulator" => Role::Regulator,
        "admin" => Role::Admin,
        _ => {
            return Err(ApiError::invalid(field, "one of tech_manager, enterprise_member, reviewer, regulator, admin"));
        }
    })
}

pub fn kind_name(kind: pb::OrgKind) -> &'static str {
    match kind {
        pb::OrgKind::University => "university",
        pb::OrgKind::Institute => "institute",
        pb::OrgKind::Enterprise => "enterprise",
        pb::OrgKind::RegulatorAgency => "regulator_agency",
        pb::OrgKind::PilotBase => "pilot_base",
        pb::OrgKind::ServiceInstitution => "service_institution",
        pb::OrgKind::Unspecified => "unspecified",
    }
}

pub fn parse_kind(s: &str) -> Result<pb::OrgKind, ApiError> {
    Ok(match s {
        "university" => pb::OrgKind::University,
        "institute" => pb::OrgKind::Institute,
        "enterprise" => pb::OrgKind::Enterprise,
        "regulator_agency" => pb::OrgKind::RegulatorAgency,
        "pilot_base" => pb::OrgKind::PilotBase,
        "service_institution" => pb::OrgKind::ServiceInstitution,
        _ => {
            return Err(ApiError::invalid(
                "kind",
                "one of university, institute, enterprise, regulator_agency, pilot_base, service_institution",
            ));
        }
    })
}

fn status_name(s: i32) -> &'static str {
    match pb::TechManagerStatus::try_from(s) {
        Ok(pb::TechManagerStatus::Active) => "active",
        Ok(pb::TechManagerStatus::Suspended) => "suspended",
        Ok(pb::TechManagerStatus::Revoked) => "revoked",
        _ => "unspecified",
    }
}

pub fn user_json(u: &pb::User) -> Value {
    let roles: Vec<&str> = u.roles.iter().filter_map(|r| Role::try_from(*r).ok()).map(role_name).collect();
    let tech_manager = (!u.tech_manager_certificate.is_empty()).then(
        || json!({ "certificate_number": u.tech_manager_certificate, "status": status_name(u.tech_manager_status) }),
    );
    json!({
        "user_id": u.user_id,
        "org_id": u.org_id,
        "display_name": u.display_name,
        "roles": roles,
        "disabled": u.disabled,
        "tech_manager": tech_manager,
    })
}

pub fn org_json(o: &pb::Organisation) -> Value {
    json!({
        "org_id": o.org_id,
        "kind": kind_name(pb::OrgKind::try_from(o.kind).unwrap_or_default()),
        "name": o.name,
        "credit_code": o.credit_code,
        "region": o.region,
        "related_org_ids": o.related_org_ids,
    })
}

fn accepted(status: StatusCode, location: Option<String>, extra: Value, a: &pb::CommandAccepted) -> Response {
    let mut body = extra;
    body["version"] = json!(a.version);
    body["duplicate"] = json!(a.duplicate);
    let status = if a.duplicate { StatusCode::OK } else { status };
    let mut response = (status, Json(body)).into_response();
    if let Some(location) = location.and_then(|l| header::HeaderValue::from_str(&l).ok()) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

// ---- authentication ----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    pub user_id: String,
    pub password: String,
}

/// Checks a login with the identity service and issues a token; throttled per account and per address.
pub async fn issue_session(
    deps: &Deps,
    address: &str,
    login: LoginBody,
) -> Result<(String, String, pb::User), ApiError> {
    let auth = &deps.auth;
    let now = auth.now_unix();
    if let Err(wait) = auth.throttle.check(&login.user_id, address, now) {
        let retry = header::HeaderValue::from_str(&wait.to_string()).unwrap_or(header::HeaderValue::from_static("60"));
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too-many-attempts",
            "Too many failed logins",
            format!("try again in {wait} seconds"),
        )
        .with_header(header::RETRY_AFTER, retry));
    }
    let request = pb::Authenticate { user_id: login.user_id.clone(), password: login.password };
    let user: pb::User = match ask(deps, subjects::AUTHENTICATE, request).await {
        Ok(user) => user,
        Err(e) => {
            if e.status == StatusCode::UNAUTHORIZED {
                auth.throttle.failed(&login.user_id, address, now);
            }
            return Err(e);
        }
    };
    auth.throttle.succeeded(&login.user_id);
    let claims = Claims {
        sub: user.user_id.clone(),
        org: user.org_id.clone(),
        roles: user.roles.clone(),
        iat: now,
        exp: now + auth.token_ttl_secs,
        jti: auth::random_token(),
    };
    Ok((auth.keys.sign(&claims), auth::random_token(), user))
}

/// `POST /api/v1/auth/login`: a bearer token for programs, and the session cookies for browsers.
pub async fn login(State(deps): State<Deps>, req: Request) -> Result<Response, ApiError> {
    let (parts, body) = req.into_parts();
    let address = auth::client_address(&parts);
    let Body(login) = Body::<LoginBody>::from_request(Request::from_parts(parts, body), &()).await?;
    let (token, csrf, user) = issue_session(&deps, &address, login).await?;
    let expires_in = deps.auth.token_ttl_secs;
    let body = json!({
        "token": token,
        "token_type": "Bearer",
        "expires_in": expires_in,
        "csrf_token": csrf,
        "user": user_json(&user),
    });
    let mut response = (StatusCode::OK, Json(body)).into_response();
    for (name, value) in auth::set_cookie_headers(&deps.auth.session_cookies(&token, &csrf)) {
        response.headers_mut().append(name, value);
    }
    Ok(response)
}

/// `POST /api/v1/auth/logout`: clears the session cookies. (Bearer tokens expire by themselves.)
pub async fn logout(State(deps): State<Deps>) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    for (name, value) in auth::set_cookie_headers(&deps.auth.cleared_cookies()) {
        response.headers_mut().append(name, value);
    }
    response
}

/// `GET /api/v1/me`.
pub async fn me(State(deps): State<Deps>, principal: Principal) -> Result<Json<Value>, ApiError> {
    let user: pb::User = ask(&deps, subjects::GET_USER, pb::GetUser { user_id: principal.user_id.clone() }).await?;
    Ok(Json(user_json(&user)))
}

// ---- organisations ----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOrganisation {
    pub kind: String,
    pub name: String,
    pub credit_code: String,
    pub region: String,
}

pub async fn list_organisations(State(deps): State<Deps>, principal: Principal) -> Result<Json<Value>, ApiError> {
    principal.require(&[Role::Admin, Role::Regulator])?;
    let list: pb::OrganisationList = ask(&deps, subjects::LIST_ORGANISATIONS, pb::ListOrganisations {}).await?;
    Ok(Json(json!({ "organisations": list.organisations.iter().map(org_json).collect::<Vec<_>>() })))
}

pub async fn create_organisation(
    State(deps): State<Deps>,
    principal: Principal,
    headers: HeaderMap,
    Body(body): Body<NewOrganisation>,
) -> Result<Response, ApiError> {
    principal.require(&[Role::Admin])?;
    let command = pb::RegisterOrganisation {
        context: context(&headers, &principal)?,
        kind: parse_kind(&body.kind)?.into(),
        name: body.name,
        credit_code: body.credit_code.clone(),
        region: body.region,
    };
    let done: pb::CommandAccepted = ask(&deps, subjects::REGISTER_ORGANISATION, command).await?;
    let org_id = body.credit_code.trim().to_ascii_lowercase();
    let location = format!("/api/v1/organisations/{org_id}");
    Ok(accepted(StatusCode::CREATED, Some(location), json!({ "org_id": org_id }), &done))
}

pub async fn get_organisation(
    State(deps): State<Deps>,
    principal: Principal,
    Path(org_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    principal.require_member_or(&org_id, &[Role::Admin, Role::Regulator])?;
    let org: pb::Organisation = ask(&deps, subjects::GET_ORGANISATION, pb::GetOrganisation { org_id }).await?;
    Ok(Json(org_json(&org)))
}

pub async fn list_org_users(
    State(deps): State<Deps>,
    principal: Principal,
    Path(org_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    principal.require_member_or(&org_id, &[Role::Admin, Role::Regulator])?;
    let list: pb::UserList = ask(&deps, subjects::LIST_USERS, pb::ListUsers { org_id }).await?;
    Ok(Json(json!({ "users": list.users.iter().map(user_json).collect::<Vec<_>>() })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRelatedParty {
    pub related_org_id: String,
    pub relation: String,
}

pub async fn declare_related_party(
    State(deps): State<Deps>,
    principal: Principal,
    headers: HeaderMap,
    Path(org_id): Path<String>,
    Body(body): Body<NewRelatedParty>,
) -> Result<Response, ApiError> {
    if principal.has(Role::Regulator) && !principal.has(Role::Admin) {
        return Err(ApiError::forbidden());
    }
    principal.require_member_or(&org_id, &[Role::Admin])?;
    let command = pb::DeclareRelatedParty {
        context: context(&headers, &principal)?,
        org_id,
        related_org_id: body.related_org_id,
        relation: body.relation,
    };
    let done: pb::CommandAccepted = ask(&deps, subjects::DECLARE_RELATED_PARTY, command).await?;
    Ok(accepted(StatusCode::CREATED, None, json!({}), &done))
}

// ---- users ----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub user_id: String,
    pub org_id: String,
    pub display_name: String,
    pub password: String,
    #[serde(default)]
    pub roles: Vec<String>,
}

pub async fn create_user(
    State(deps): State<Deps>,
    principal: Principal,
    headers: HeaderMap,
    Body(body): Body<NewUser>,
) -> Result<Response, ApiError> {
    principal.require(&[Role::Admin])?;
    let roles = body.roles.iter().map(|r| parse_role("roles", r).map(|r| r as i32)).collect::<Result<Vec<_>, _>>()?;
    let user_id = body.user_id.trim().to_owned();
    let command = pb::CreateUser {
        context: context(&headers, &principal)?,
        user_id: user_id.clone(),
        org_id: body.org_id,
        display_name: body.display_name,
        password: body.password,
        roles,
    };
    let done: pb::CommandAccepted = ask(&deps, subjects::CREATE_USER, command).await?;
    let location = format!("/api/v1/users/{user_id}");
    Ok(accepted(StatusCode::CREATED, Some(location), json!({ "user_id": user_id }), &done))
}

pub async fn get_user(
    State(deps): State<Deps>,
    principal: Principal,
    Path(user_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let user: Result<pb::User, ApiError> =
        ask(&deps, subjects::GET_USER, pb::GetUser { user_id: user_id.clone() }).await;
    let user = match user {
        Ok(user) => user,
        // Someone who may not see the user learns nothing, not even whether it exists.
        Err(e)
            if !(principal.has(Role::Admin) || principal.has(Role::Regulator)) && e.status == StatusCode::NOT_FOUND =>
        {
            return Err(ApiError::forbidden());
        }
        Err(e) => return Err(e),
    };
    if principal.user_id != user.user_id {
        principal.require_member_or(&user.org_id, &[Role::Admin, Role::Regulator])?;
    }
    Ok(Json(user_json(&user)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    pub role: String,
}

pub async fn grant_role(
    State(deps): State<Deps>,
    principal: Principal,
    headers: HeaderMap,
    Path(user_id): Path<String>,
    Body(body): Body<RoleBody>,
) -> Result<Response, ApiError> {
    principal.require(&[Role::Admin])?;
    let role = parse_role("role", &body.role)?;
    let command = pb::GrantRole { context: context(&headers, &principal)?, user_id, role: role.into() };
    let done: pb::CommandAccepted = ask(&deps, subjects::GRANT_ROLE, command).await?;
    Ok(accepted(StatusCode::OK, None, json!({}), &done))
}

pub async fn revoke_role(
    State(deps): State<Deps>,
    principal: Principal,
    headers: HeaderMap,
    Path((user_id, role)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    principal.require(&[Role::Admin])?;
    let role = parse_role("role", &role)?;
    let command = pb::RevokeRole { context: context(&headers, &principal)?, user_id, role: role.into() };
    let done: pb::CommandAccepted = ask(&deps, subjects::REVOKE_ROLE, command).await?;
    Ok(accepted(StatusCode::OK, None, json!({}), &done))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    pub password: String,
}

pub async fn set_password(
    State(deps): State<Deps>,
    principal: Principal,
    headers: HeaderMap,
    Path(user_id): Path<String>,
    Body(body): Body<PasswordBody>,
) -> Result<Response, ApiError> {
    if principal.user_id != user_id {
        principal.require(&[Role::Admin])?;
    }
    let command = pb::SetPassword { context: context(&headers, &principal)?, user_id, password: body.password };
    let done: pb::CommandAccepted = ask(&deps, subjects::SET_PASSWORD, command).await?;
    Ok(accepted(StatusCode::OK, None, json!({}), &done))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTechManager {
    pub user_id: String,
    pub certificate_number: String,
}

pub async fn register_tech_manager(
    State(deps): State<Deps>,
    principal: Principal,
    headers: HeaderMap,
    Body(body): Body<NewTechManager>,
) -> Result<Response, ApiError> {
    principal.require(&[Role::Admin])?;
    let command = pb::RegisterTechManager {
        context: context(&headers, &principal)?,
        user_id: body.user_id,
        certificate_number: body.certificate_number,
    };
    let done: pb::CommandAccepted = ask(&deps, subjects::REGISTER_TECH_MANAGER, command).await?;
    Ok(accepted(StatusCode::CREATED, None, json!({}), &done))
}
