//! The identity routes: logging in, the caller, organisations, users, technology managers.

use crate::Deps;
use crate::actions::{self, Acting};
use crate::api::kit::*;
use crate::auth::{self, Principal};
use crate::problem::ApiError;
use crate::token::Claims;
use axum::Json;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use ttx_proto::common::v1::Role;
use ttx_proto::identity::v1::{self as pb};
use utoipa::ToSchema;

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

/// A technology manager's entry in the registry.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegistryEntry {
    pub certificate_number: String,
    /// `active`, `suspended` or `revoked`.
    pub status: &'static str,
}

/// A user as the API shows it (never with a password or its hash).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub user_id: String,
    pub org_id: String,
    pub display_name: String,
    /// `tech_manager`, `enterprise_member`, `reviewer`, `regulator`, `admin`.
    pub roles: Vec<&'static str>,
    pub disabled: bool,
    pub tech_manager: Option<RegistryEntry>,
}

/// An organisation.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrganisationView {
    /// The credit code in lower case.
    pub org_id: String,
    /// `university`, `institute`, `enterprise`, `regulator_agency`, `pilot_base`, `service_institution`.
    pub kind: &'static str,
    pub name: String,
    pub credit_code: String,
    pub region: String,
    pub related_org_ids: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrganisationList {
    /// A page (`?offset=&limit=`, 50 unless asked, at most 200).
    pub organisations: Vec<OrganisationView>,
    /// How many there are in all.
    pub total: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserList {
    /// A page (`?offset=&limit=`, 50 unless asked, at most 200).
    pub users: Vec<UserView>,
    /// How many there are in all.
    pub total: u32,
}

/// What a login returns.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginAnswer {
    /// The access token (a JWT signed with Ed25519); send it as `Authorization: Bearer <token>`.
    pub token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the token expires.
    pub expires_in: i64,
    /// The CSRF token that goes with the session cookie (browsers send it as `X-CSRF-Token`).
    pub csrf_token: String,
    pub user: UserView,
}

pub fn user_view(u: &pb::User) -> UserView {
    UserView {
        user_id: u.user_id.clone(),
        org_id: u.org_id.clone(),
        display_name: u.display_name.clone(),
        roles: u.roles.iter().filter_map(|r| Role::try_from(*r).ok()).map(role_name).collect(),
        disabled: u.disabled,
        tech_manager: (!u.tech_manager_certificate.is_empty()).then(|| RegistryEntry {
            certificate_number: u.tech_manager_certificate.clone(),
            status: status_name(u.tech_manager_status),
        }),
    }
}

pub fn org_view(o: &pb::Organisation) -> OrganisationView {
    OrganisationView {
        org_id: o.org_id.clone(),
        kind: kind_name(pb::OrgKind::try_from(o.kind).unwrap_or_default()),
        name: o.name.clone(),
        credit_code: o.credit_code.clone(),
        region: o.region.clone(),
        related_org_ids: o.related_org_ids.clone(),
    }
}

// ---- authentication ----

#[derive(Debug, Deserialize, ToSchema)]
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
    // The throttle's key for the account: bounded, whatever the caller sent (logins are at most 32 characters).
    let account: String = login.user_id.chars().take(64).collect();
    if let Err(wait) = auth.throttle.check(&account, address, now) {
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
    let user: pb::User = match ask(deps, request).await {
        Ok(user) => user,
        Err(e) => {
            if e.status == StatusCode::UNAUTHORIZED {
                auth.throttle.failed(&account, address, now);
            }
            return Err(e);
        }
    };
    auth.throttle.succeeded(&account);
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

/// Log in: a bearer token for programs, and the session cookies (`ttx_session`, HttpOnly; `ttx_csrf`) for browsers.
/// Failed logins are limited per account and per client address.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginBody, responses(
    (status = 200, description = "Logged in", body = LoginAnswer),
    (status = 401, description = "Wrong login or password", body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "Account disabled", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "Invalid body", body = Problem, content_type = "application/problem+json"),
    (status = 429, description = "Too many failed logins; see Retry-After", body = Problem, content_type = "application/problem+json"),
))]
pub async fn login(State(deps): State<Deps>, req: Request) -> Result<Response, ApiError> {
    let (parts, body) = req.into_parts();
    let address = auth::client_address(&parts);
    let Body(login) = Body::<LoginBody>::from_request(Request::from_parts(parts, body), &()).await?;
    let (token, csrf, user) = issue_session(&deps, &address, login).await?;
    let expires_in = deps.auth.token_ttl_secs;
    let body = LoginAnswer {
        token: token.clone(),
        token_type: "Bearer",
        expires_in,
        csrf_token: csrf.clone(),
        user: user_view(&user),
    };
    let mut response = (StatusCode::OK, Json(body)).into_response();
    for (name, value) in auth::set_cookie_headers(&deps.auth.session_cookies(&token, &csrf)) {
        response.headers_mut().append(name, value);
    }
    Ok(response)
}

/// Log out: clears the session cookies. (Bearer tokens expire by themselves.)
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", responses((status = 204, description = "Cookies cleared")))]
pub async fn logout(State(deps): State<Deps>) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    for (name, value) in auth::set_cookie_headers(&deps.auth.cleared_cookies()) {
        response.headers_mut().append(name, value);
    }
    response
}

/// The logged-in user.
#[utoipa::path(get, path = "/api/v1/me", tag = "users", security(("bearer" = [])), responses(
    (status = 200, description = "The caller", body = UserView),
    (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
))]
pub async fn me(State(deps): State<Deps>, principal: Principal) -> Result<Json<UserView>, ApiError> {
    let user: pb::User = ask(&deps, pb::GetUser { user_id: principal.user_id.clone() }).await?;
    Ok(Json(user_view(&user)))
}

// ---- organisations ----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrganisation {
    pub kind: String,
    pub name: String,
    pub credit_code: String,
    pub region: String,
}

/// Every organisation (administrators and regulators).
#[utoipa::path(get, path = "/api/v1/organisations", tag = "organisations", security(("bearer" = [])),
    params(ListPage), responses(
    (status = 200, description = "The organisations", body = OrganisationList),
    (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "The caller's roles do not allow this", body = Problem, content_type = "application/problem+json"),
))]
pub async fn list_organisations(
    State(deps): State<Deps>,
    principal: Principal,
    Params(page): Params<ListPage>,
) -> Result<Json<OrganisationList>, ApiError> {
    principal.require(&[Role::Admin, Role::Regulator])?;
    let q = pb::ListOrganisations { org_ids: Vec::new(), page: page.to_pb() };
    let list: pb::OrganisationList = ask(&deps, q).await?;
    Ok(Json(OrganisationList { organisations: list.organisations.iter().map(org_view).collect(), total: list.total }))
}

/// Register an organisation (administrators). `Idempotency-Key` makes a retry answer like the first.
#[utoipa::path(post, path = "/api/v1/organisations", tag = "organisations", security(("bearer" = [])),
    request_body = NewOrganisation, params(("Idempotency-Key" = Option<String>, Header, description = "Retry key")),
    responses(
    (status = 201, description = "Registered", body = Accepted),
    (status = 200, description = "Registered before with this Idempotency-Key", body = Accepted),
    (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "The caller's roles do not allow this", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "The credit code is registered", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "Invalid input; `field` names it", body = Problem, content_type = "application/problem+json"),
))]
pub async fn create_organisation(
    State(deps): State<Deps>,
    principal: Principal,
    headers: HeaderMap,
    Body(body): Body<NewOrganisation>,
) -> Result<Response, ApiError> {
    principal.require(&[Role::Admin])?;
    let kind = parse_kind(&body.kind)?;
    let by = Acting::api(&headers, &principal)?;
    let (org_id, done) =
        actions::register_organisation(&deps, &by, kind, body.name, body.credit_code, body.region).await?;
    let location = format!("/api/v1/organisations/{org_id}");
    Ok(accepted(StatusCode::CREATED, Some(location), Some(org_id), &done))
}

/// One organisation (its members, administrators and regulators).
#[utoipa::path(get, path = "/api/v1/organisations/{org_id}", tag = "organisations", security(("bearer" = [])),
    params(("org_id" = String, Path, description = "The credit code in lower case")), responses(
    (status = 200, description = "The organisation", body = OrganisationView),
    (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "The caller's roles do not allow this", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "No such organisation", body = Problem, content_type = "application/problem+json"),
))]
pub async fn get_organisation(
    State(deps): State<Deps>,
    principal: Principal,
    Path(org_id): Path<String>,
) -> Result<Json<OrganisationView>, ApiError> {
    principal.require_member_or(&org_id, &[Role::Admin, Role::Regulator])?;
    let org: pb::Organisation = ask(&deps, pb::GetOrganisation { org_id }).await?;
    Ok(Json(org_view(&org)))
}

/// An organisation's users (its members, administrators and regulators).
#[utoipa::path(get, path = "/api/v1/organisations/{org_id}/users", tag = "organisations", security(("bearer" = [])),
    params(("org_id" = String, Path, description = "The credit code in lower case"), ListPage), responses(
    (status = 200, description = "The users", body = UserList),
    (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "The caller's roles do not allow this", body = Problem, content_type = "application/problem+json"),
))]
pub async fn list_org_users(
    State(deps): State<Deps>,
    principal: Principal,
    Path(org_id): Path<String>,
    Params(page): Params<ListPage>,
) -> Result<Json<UserList>, ApiError> {
    principal.require_member_or(&org_id, &[Role::Admin, Role::Regulator])?;
    let list: pb::UserList = ask(&deps, pb::ListUsers { page: page.to_pb(), org_id }).await?;
    Ok(Json(UserList { users: list.users.iter().map(user_view).collect(), total: list.total }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRelatedParty {
    pub related_org_id: String,
    pub relation: String,
}

/// Declare a related party (the organisation's members and administrators; used for conflict-of-interest checks).
#[utoipa::path(post, path = "/api/v1/organisations/{org_id}/related-parties", tag = "organisations",
    security(("bearer" = [])), request_body = NewRelatedParty,
    params(("org_id" = String, Path, description = "The credit code in lower case")), responses(
    (status = 201, description = "Declared", body = Accepted),
    (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "The caller's roles do not allow this", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "An organisation is not registered", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "Invalid input", body = Problem, content_type = "application/problem+json"),
))]
pub async fn declare_related_party(
    State(deps): State<Deps>,
    principal: Principal,
    headers: HeaderMap,
    Path(org_id): Path<String>,
    Body(body): Body<NewRelatedParty>,
) -> Result<Response, ApiError> {
    let by = Acting::api(&headers, &principal)?;
    let done = actions::declare_related_party(&deps, &by, org_id, body.related_org_id, body.relation).await?;
    Ok(accepted(StatusCode::CREATED, None, None, &done))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Representative {
    /// A member of the organisation.
    pub user_id: String,
}

/// Name the member who acts for the organisation as a co-holder of results (administrators, on the organisation's
/// written request): an enterprise co-holder consents to exclusive disposal only through this member.
#[utoipa::path(put, path = "/api/v1/organisations/{org_id}/representative", tag = "organisations",
    security(("bearer" = [])), request_body = Representative,
    params(("org_id" = String, Path, description = "The credit code in lower case")), responses(
    (status = 200, description = "Named", body = Accepted),
    (status = 403, description = "Not an administrator, or the user is not a member", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "No such organisation or user", body = Problem, content_type = "application/problem+json"),
))]
pub async fn name_representative(
    State(deps): State<Deps>,
    principal: Principal,
    headers: HeaderMap,
    Path(org_id): Path<String>,
    Body(body): Body<Representative>,
) -> Result<Response, ApiError> {
    let by = Acting::api(&headers, &principal)?;
    let done = actions::name_representative(&deps, &by, org_id, body.user_id).await?;
    Ok(accepted(StatusCode::OK, None, None, &done))
}

/// Withdraw a declared related party (the organisation's members and administrators). A challenge that was open
/// while the declaration held still refuses the pair.
#[utoipa::path(delete, path = "/api/v1/organisations/{org_id}/related-parties/{related_org_id}", tag = "organisations",
    security(("bearer" = [])),
    params(
        ("org_id" = String, Path, description = "The credit code in lower case"),
        ("related_org_id" = String, Path, description = "The related organisation's credit code in lower case"),
    ), responses(
    (status = 200, description = "Withdrawn", body = Accepted),
    (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "The caller's roles do not allow this", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "No such declaration", body = Problem, content_type = "application/problem+json"),
))]
pub async fn withdraw_related_party(
    State(deps): State<Deps>,
    principal: Principal,
    headers: HeaderMap,
    Path((org_id, related_org_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let by = Acting::api(&headers, &principal)?;
    let done = actions::withdraw_related_party(&deps, &by, org_id, related_org_id).await?;
    Ok(accepted(StatusCode::OK, None, None, &done))
}

// ---- users ----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub user_id: String,
    pub org_id: String,
    pub display_name: String,
    pub password: String,
    #[serde(default)]
    pub roles: Vec<String>,
}

/// Create a user (administrators). Roles must fit the organisation's kind.
#[utoipa::path(post, path = "/api/v1/users", tag = "users", security(("bearer" = [])), request_body = NewUser,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry key")), responses(
    (status = 201, description = "Created", body = Accepted),
    (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "The caller's roles do not allow this", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "The organisation is not registered", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "The login is taken", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "Invalid input, or a role that does not fit the organisation", body = Problem, content_type = "application/problem+json"),
))]
pub async fn create_user(
    State(deps): State<Deps>,
    principal: Principal,
    headers: HeaderMap,
    Body(body): Body<NewUser>,
) -> Result<Response, ApiError> {
    principal.require(&[Role::Admin])?;
    let roles = body.roles.iter().map(|r| parse_role("roles", r).map(|r| r as i32)).collect::<Result<Vec<_>, _>>()?;
    let user = pb::CreateUser {
        context: None,
        user_id: body.user_id,
        org_id: body.org_id,
        display_name: body.display_name,
        password: body.password,
        roles,
    };
    let (user_id, done) = actions::create_user(&deps, &Acting::api(&headers, &principal)?, user).await?;
    let location = format!("/api/v1/users/{user_id}");
    Ok(accepted(StatusCode::CREATED, Some(location), Some(user_id), &done))
}

/// One user (the user, members of the same organisation, administrators, regulators).
#[utoipa::path(get, path = "/api/v1/users/{user_id}", tag = "users", security(("bearer" = [])),
    params(("user_id" = String, Path, description = "The login")), responses(
    (status = 200, description = "The user", body = UserView),
    (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "The caller's roles do not allow this", body = Problem, content_type = "application/problem+json"),
))]
pub async fn get_user(
    State(deps): State<Deps>,
    principal: Principal,
    Path(user_id): Path<String>,
) -> Result<Json<UserView>, ApiError> {
    let user: Result<pb::User, ApiError> = ask(&deps, pb::GetUser { user_id: user_id.clone() }).await;
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
    Ok(Json(user_view(&user)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    pub role: String,
}

/// Grant a role (administrators).
#[utoipa::path(post, path = "/api/v1/users/{user_id}/roles", tag = "users", security(("bearer" = [])),
    request_body = RoleBody, params(("user_id" = String, Path, description = "The login")), responses(
    (status = 200, description = "Granted (or held already)", body = Accepted),
    (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "The caller's roles do not allow this", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "Invalid role, or one that does not fit the organisation", body = Problem, content_type = "application/problem+json"),
))]
pub async fn grant_role(
    State(deps): State<Deps>,
    principal: Principal,
    headers: HeaderMap,
    Path(user_id): Path<String>,
    Body(body): Body<RoleBody>,
) -> Result<Response, ApiError> {
    principal.require(&[Role::Admin])?;
    let role = parse_role("role", &body.role)?;
    let done = actions::grant_role(&deps, &Acting::api(&headers, &principal)?, user_id, role).await?;
    Ok(accepted(StatusCode::OK, None, None, &done))
}

/// Revoke a role (administrators; not one's own administrator role).
#[utoipa::path(delete, path = "/api/v1/users/{user_id}/roles/{role}", tag = "users", security(("bearer" = [])),
    params(("user_id" = String, Path, description = "The login"), ("role" = String, Path, description = "The role")),
    responses(
    (status = 200, description = "Revoked (or not held)", body = Accepted),
    (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "The caller's roles do not allow this", body = Problem, content_type = "application/problem+json"),
))]
pub async fn revoke_role(
    State(deps): State<Deps>,
    principal: Principal,
    headers: HeaderMap,
    Path((user_id, role)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    principal.require(&[Role::Admin])?;
    let role = parse_role("role", &role)?;
    let done = actions::revoke_role(&deps, &Acting::api(&headers, &principal)?, user_id, role).await?;
    Ok(accepted(StatusCode::OK, None, None, &done))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    pub password: String,
}

/// Set a password (the user, or administrators).
#[utoipa::path(put, path = "/api/v1/users/{user_id}/password", tag = "users", security(("bearer" = [])),
    request_body = PasswordBody, params(("user_id" = String, Path, description = "The login")), responses(
    (status = 200, description = "Set", body = Accepted),
    (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "The caller's roles do not allow this", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "Too short or too long", body = Problem, content_type = "application/problem+json"),
))]
pub async fn set_password(
    State(deps): State<Deps>,
    principal: Principal,
    headers: HeaderMap,
    Path(user_id): Path<String>,
    Body(body): Body<PasswordBody>,
) -> Result<Response, ApiError> {
    let done = actions::set_password(&deps, &Acting::api(&headers, &principal)?, user_id, body.password).await?;
    Ok(accepted(StatusCode::OK, None, None, &done))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTechManager {
    pub user_id: String,
    pub certificate_number: String,
}

/// Enter a technology manager in the registry (administrators; the user must hold the role).
#[utoipa::path(post, path = "/api/v1/tech-managers", tag = "users", security(("bearer" = [])),
    request_body = NewTechManager, responses(
    (status = 201, description = "Registered", body = Accepted),
    (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "The caller's roles do not allow this", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "Registered already", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "Invalid input, or the user is not a technology manager", body = Problem, content_type = "application/problem+json"),
))]
pub async fn register_tech_manager(
    State(deps): State<Deps>,
    principal: Principal,
    headers: HeaderMap,
    Body(body): Body<NewTechManager>,
) -> Result<Response, ApiError> {
    let by = Acting::api(&headers, &principal)?;
    let done = actions::register_tech_manager(&deps, &by, body.user_id, body.certificate_number).await?;
    Ok(accepted(StatusCode::CREATED, None, None, &done))
}
