//! The pages of every role's start: logging in and out, the home page, one's organisation and registration, and the
//! administrators' organisations and users; the language switch and the style sheet.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use maud::{Markup, html};
use ttx_proto::common::v1::Role;
use ttx_proto::identity::v1::{self as pb};

use crate::Deps;
use crate::actions::{self, Acting};
use crate::api::identity::{LoginBody, parse_kind, parse_role};
use crate::api::kit::ask;
use crate::auth::{self, CSRF_COOKIE, Principal, cookie};
use crate::i18n::{LANG_COOKIE, Lang};
use crate::ui::kit::*;

const CSS: &str = include_str!("../ui.css");

pub fn routes() -> Router<Deps> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_page).post(login_submit))
        .route("/logout", post(logout_submit))
        .route("/org", get(my_org))
        .route("/registry", get(my_registry))
        .route("/admin/organisations", get(organisations_page).post(organisations_submit))
        .route("/admin/users", get(users_page).post(users_submit))
        .route("/lang/{lang}", get(set_lang))
        .route("/static/app.css", get(css))
        .route("/static/js/{name}", get(script))
}

fn role_label(lang: Lang, role: i32) -> &'static str {
    match Role::try_from(role) {
        Ok(Role::TechManager) => lang.t("role.tech_manager"),
        Ok(Role::EnterpriseMember) => lang.t("role.enterprise_member"),
        Ok(Role::Reviewer) => lang.t("role.reviewer"),
        Ok(Role::Regulator) => lang.t("role.regulator"),
        Ok(Role::Admin) => lang.t("role.admin"),
        _ => "—",
    }
}

fn kind_label(lang: Lang, kind: i32) -> &'static str {
    match pb::OrgKind::try_from(kind).unwrap_or_default() {
        pb::OrgKind::University => lang.t("kind.university"),
        pb::OrgKind::Institute => lang.t("kind.institute"),
        pb::OrgKind::Enterprise => lang.t("kind.enterprise"),
        pb::OrgKind::RegulatorAgency => lang.t("kind.regulator_agency"),
        pb::OrgKind::PilotBase => lang.t("kind.pilot_base"),
        pb::OrgKind::ServiceInstitution => lang.t("kind.service_institution"),
        pb::OrgKind::Unspecified => "—",
    }
}

async fn css() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "max-age=3600")], CSS).into_response()
}

/// The pages' scripts, each a file of its own (pages work without them).
const SCRIPTS: [(&str, &str); 2] =
    [("countdown.js", include_str!("static/countdown.js")), ("auction.js", include_str!("static/auction.js"))];

async fn script(Path(name): Path<String>) -> Response {
    match SCRIPTS.iter().find(|(n, _)| *n == name) {
        Some((_, text)) => {
            let headers =
                [(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "max-age=3600")];
            (headers, *text).into_response()
        }
        None => crate::problem::ApiError::not_found(format!("no script {name}")).into_response(),
    }
}

async fn set_lang(Path(lang): Path<String>, headers: HeaderMap) -> Response {
    let lang = if lang == "en" { "en" } else { "zh" };
    // Back to the page the switch was on, when it is one of ours.
    let back = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.split_once("://").map(|(_, rest)| rest))
        .and_then(|rest| rest.find('/').map(|i| rest[i..].to_owned()))
        .filter(|p| p.starts_with('/') && !p.starts_with("//") && !p.starts_with("/lang/"))
        .unwrap_or_else(|| "/".to_owned());
    let mut response = Redirect::to(&back).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("{LANG_COOKIE}={lang}; Path=/; SameSite=Lax; Max-Age=31536000")) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

// ---- login ----

fn login_form(lang: Lang, csrf: &str, user_id: &str, error: Option<&'static str>) -> Markup {
    page(
        lang,
        lang.t("login"),
        None,
        csrf,
        html! {
            form method="post" action="/login" class="card" novalidate {
                input type="hidden" name="csrf" value=(csrf);
                @if let Some(error) = error {
                    p class="form-error" role="alert" id="login-error" { (lang.t(error)) }
                }
                label for="user_id" { (lang.t("user_id")) }
                input id="user_id" name="user_id" type="text" autocomplete="username" required value=(user_id)
                    aria-invalid=[error.map(|_| "true")] aria-describedby=[error.map(|_| "login-error")];
                label for="password" { (lang.t("password")) }
                input id="password" name="password" type="password" autocomplete="current-password" required
                    aria-invalid=[error.map(|_| "true")] aria-describedby=[error.map(|_| "login-error")];
                button type="submit" { (lang.t("login")) }
            }
        },
    )
}

async fn login_page(State(deps): State<Deps>, headers: HeaderMap) -> Response {
    if session(&deps, &headers).is_some() {
        return Redirect::to("/").into_response();
    }
    let lang = Lang::from_headers(&headers);
    // A pre-session CSRF token, so a login form cannot be posted from another site.
    let csrf = cookie(&headers, CSRF_COOKIE).filter(|c| !c.is_empty()).unwrap_or_else(auth::random_token);
    let mut response = html_response(StatusCode::OK, login_form(lang, &csrf, "", None));
    if let Ok(v) = HeaderValue::from_str(&format!("{CSRF_COOKIE}={csrf}; Path=/; SameSite=Strict")) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

async fn login_submit(State(deps): State<Deps>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let headers = parts.headers.clone();
    let lang = Lang::from_headers(&headers);
    let Ok(body) = axum::body::to_bytes(body, crate::api::kit::MAX_BODY).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let f = form(&body);
    let csrf = cookie(&headers, CSRF_COOKIE).unwrap_or_default();
    let user_id = field(&f, "user_id").trim().to_owned();
    if !csrf_ok(&headers, &f) {
        // The form came without the token this browser was given (an old page, or another site): show a fresh one.
        let fresh = auth::random_token();
        let mut response =
            html_response(StatusCode::FORBIDDEN, login_form(lang, &fresh, &user_id, Some("form_expired")));
        if let Ok(v) = HeaderValue::from_str(&format!("{CSRF_COOKIE}={fresh}; Path=/; SameSite=Strict")) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
        return response;
    }
    let address = auth::client_address(&parts);
    let login = LoginBody { user_id: user_id.clone(), password: field(&f, "password").to_owned() };
    match crate::api::identity::issue_session(&deps, &address, login).await {
        Ok((token, new_csrf, _)) => {
            let mut response = Redirect::to("/").into_response();
            for (name, value) in auth::set_cookie_headers(&deps.auth.session_cookies(&token, &new_csrf)) {
                response.headers_mut().append(name, value);
            }
            response
        }
        Err(e) => {
            let key = match e.kind {
                "invalid-credentials" => "wrong_login",
                "too-many-attempts" => "too_many",
                "account-disabled" => "disabled",
                _ => "unavailable",
            };
            html_response(e.status, login_form(lang, &csrf, &user_id, Some(key)))
        }
    }
}

async fn logout_submit(State(deps): State<Deps>, headers: HeaderMap, body: Bytes) -> Response {
    if !csrf_ok(&headers, &form(&body)) {
        return message_page(&deps, &headers, StatusCode::FORBIDDEN, "forbidden");
    }
    let mut response = Redirect::to("/login").into_response();
    for (name, value) in auth::set_cookie_headers(&deps.auth.cleared_cookies()) {
        response.headers_mut().append(name, value);
    }
    response
}

// ---- pages ----

async fn home(State(deps): State<Deps>, headers: HeaderMap) -> Response {
    let Some(who) = session(&deps, &headers) else { return to_login() };
    let lang = Lang::from_headers(&headers);
    let csrf = cookie(&headers, CSRF_COOKIE).unwrap_or_default();
    let user: Result<pb::User, _> = ask(&deps, pb::GetUser { user_id: who.user_id.clone() }).await;
    let name = user.as_ref().map_or(who.user_id.clone(), |u| u.display_name.clone());
    let content = html! {
        p class="welcome" { (lang.t("welcome")) "，" (name) }
        p { (lang.t("your_roles")) "：" @for (i, r) in who.roles.iter().enumerate() { @if i > 0 { "、" } (role_label(lang, *r as i32)) } }
        ul class="tiles" {
            @for (href, key) in menu(&who).into_iter().skip(1) {
                li { a href=(href) { (lang.t(key)) } }
            }
        }
    };
    html_response(StatusCode::OK, page(lang, lang.t("home"), Some(&who), &csrf, content))
}

fn users_table(lang: Lang, users: &[pb::User], org_names: Option<&HashMap<String, String>>) -> Markup {
    html! {
        div class="table" {
            table {
                thead { tr {
                    th scope="col" { (lang.t("user_id")) }
                    th scope="col" { (lang.t("display_name")) }
                    @if org_names.is_some() { th scope="col" { (lang.t("organisation")) } }
                    th scope="col" { (lang.t("roles")) }
                    th scope="col" { (lang.t("status")) }
                } }
                tbody {
                    @for u in users {
                        tr {
                            td { (u.user_id) }
                            td { (u.display_name) }
                            @if let Some(names) = org_names { td { (names.get(&u.org_id).map_or(u.org_id.as_str(), String::as_str)) } }
                            td { @for (i, r) in u.roles.iter().enumerate() { @if i > 0 { "、" } (role_label(lang, *r)) } }
                            td { @if u.disabled { (lang.t("account_disabled")) } @else { (lang.t("active")) } }
                        }
                    }
                }
            }
        }
    }
}

async fn my_org(State(deps): State<Deps>, headers: HeaderMap) -> Response {
    let Some(who) = session(&deps, &headers) else { return to_login() };
    let lang = Lang::from_headers(&headers);
    let csrf = cookie(&headers, CSRF_COOKIE).unwrap_or_default();
    let org: Result<pb::Organisation, _> = ask(&deps, pb::GetOrganisation { org_id: who.org_id.clone() }).await;
    let users: Result<pb::UserList, _> =
        ask(&deps, pb::ListUsers { page: crate::ui::kit::longest_page(), org_id: who.org_id.clone() }).await;
    let (Ok(org), Ok(users)) = (org, users) else {
        return message_page(&deps, &headers, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    };
    let content = html! {
        dl class="facts" {
            dt { (lang.t("name")) } dd { (org.name) }
            dt { (lang.t("kind")) } dd { (kind_label(lang, org.kind)) }
            dt { (lang.t("credit_code")) } dd { (org.credit_code) }
            dt { (lang.t("region")) } dd { (org.region) }
            dt { (lang.t("related")) } dd { @if org.related_org_ids.is_empty() { (lang.t("none")) } @else { (org.related_org_ids.join("、")) } }
        }
        h2 { (lang.t("members")) }
        (users_table(lang, &users.users, None))
    };
    html_response(StatusCode::OK, page(lang, lang.t("my_org"), Some(&who), &csrf, content))
}

async fn my_registry(State(deps): State<Deps>, headers: HeaderMap) -> Response {
    let Some(who) = session(&deps, &headers) else { return to_login() };
    if !who.has(Role::TechManager) {
        return message_page(&deps, &headers, StatusCode::FORBIDDEN, "forbidden");
    }
    let lang = Lang::from_headers(&headers);
    let csrf = cookie(&headers, CSRF_COOKIE).unwrap_or_default();
    let Ok(user) = ask(&deps, pb::GetUser { user_id: who.user_id.clone() }).await else {
        return message_page(&deps, &headers, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    };
    let status = match pb::TechManagerStatus::try_from(user.tech_manager_status).unwrap_or_default() {
        pb::TechManagerStatus::Active => "registry.active",
        pb::TechManagerStatus::Suspended => "registry.suspended",
        pb::TechManagerStatus::Revoked => "registry.revoked",
        pb::TechManagerStatus::Unspecified => "not_registered",
    };
    let content = html! {
        @if user.tech_manager_certificate.is_empty() {
            p { (lang.t("not_registered")) }
        } @else {
            dl class="facts" {
                dt { (lang.t("certificate")) } dd { (user.tech_manager_certificate) }
                dt { (lang.t("registry_status")) } dd { (lang.t(status)) }
            }
        }
    };
    html_response(StatusCode::OK, page(lang, lang.t("my_registry"), Some(&who), &csrf, content))
}

const KINDS: [&str; 6] =
    ["university", "institute", "enterprise", "regulator_agency", "pilot_base", "service_institution"];

async fn organisations_view(
    deps: &Deps,
    headers: &HeaderMap,
    who: &Principal,
    notice: Option<&'static str>,
    errors: FormErrors,
    values: HashMap<String, Vec<String>>,
) -> Response {
    let lang = Lang::from_headers(headers);
    let csrf = cookie(headers, CSRF_COOKIE).unwrap_or_default();
    let Ok(list) = ask(deps, pb::ListOrganisations { org_ids: Vec::new(), page: crate::ui::kit::longest_page() }).await
    else {
        return message_page(deps, headers, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    };
    let admin = who.has(Role::Admin);
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let kind_error = error_for(&errors, "kind");
    let content = html! {
        @if let Some(n) = notice { p class="notice" role="status" { (lang.t(n)) } }
        @if !admin { p class="notice" { (lang.t("read_only")) } }
        div class="table" { table {
            thead { tr {
                th scope="col" { (lang.t("name")) } th scope="col" { (lang.t("kind")) }
                th scope="col" { (lang.t("credit_code")) } th scope="col" { (lang.t("region")) }
            } }
            tbody { @for o in &list.organisations { tr {
                td { (o.name) } td { (kind_label(lang, o.kind)) } td { (o.credit_code) } td { (o.region) }
            } } }
        } }
        @if admin {
            h2 { (lang.t("register_org")) }
            form method="post" action="/admin/organisations" class="card" novalidate {
                input type="hidden" name="csrf" value=(csrf);
                (form_errors_banner(lang, &errors))
                div class="field" {
                    label for="kind" { (lang.t("kind")) }
                    select id="kind" name="kind" aria-invalid=[kind_error.map(|_| "true")] aria-describedby=[kind_error.map(|_| "kind-error")] {
                        @for k in KINDS { option value=(k) selected[field(&values, "kind") == k] { (lang.t(kind_key(k))) } }
                    }
                    @if let Some(e) = kind_error { p class="field-error" id="kind-error" { (e) } }
                }
                (text_input(lang, &errors, &values, "name", "text"))
                (text_input(lang, &errors, &values, "credit_code", "text"))
                (text_input(lang, &errors, &values, "region", "text"))
                button type="submit" { (lang.t("submit_register")) }
            }
        }
    };
    let title = if admin { lang.t("organisations") } else { lang.t("all_organisations") };
    html_response(status, page(lang, title, Some(who), &csrf, content))
}

fn kind_key(kind: &str) -> &'static str {
    match kind {
        "university" => "kind.university",
        "institute" => "kind.institute",
        "enterprise" => "kind.enterprise",
        "regulator_agency" => "kind.regulator_agency",
        "pilot_base" => "kind.pilot_base",
        _ => "kind.service_institution",
    }
}

async fn organisations_page(State(deps): State<Deps>, headers: HeaderMap) -> Response {
    let who = match supervisor(&deps, &headers) {
        Ok(who) => who,
        Err(answer) => return *answer,
    };
    organisations_view(&deps, &headers, &who, None, Vec::new(), HashMap::new()).await
}

async fn organisations_submit(State(deps): State<Deps>, headers: HeaderMap, body: Bytes) -> Response {
    let (who, f) = match admin_form(&deps, &headers, &body) {
        Ok(admin) => admin,
        Err(answer) => return *answer,
    };
    let result = async {
        let kind = parse_kind(field(&f, "kind"))?;
        let text = |name: &str| field(&f, name).to_owned();
        let by = Acting::page(&who);
        actions::register_organisation(&deps, &by, kind, text("name"), text("credit_code"), text("region")).await
    }
    .await;
    match result {
        Ok(_) => organisations_view(&deps, &headers, &who, Some("created_org"), Vec::new(), HashMap::new()).await,
        Err(e) => organisations_view(&deps, &headers, &who, None, api_errors(Lang::from_headers(&headers), e), f).await,
    }
}

const ROLES: [&str; 5] = ["tech_manager", "enterprise_member", "reviewer", "regulator", "admin"];

async fn users_view(
    deps: &Deps,
    headers: &HeaderMap,
    who: &Principal,
    notice: Option<&'static str>,
    errors: FormErrors,
    values: HashMap<String, Vec<String>>,
) -> Response {
    let lang = Lang::from_headers(headers);
    let csrf = cookie(headers, CSRF_COOKIE).unwrap_or_default();
    let (Ok(orgs), Ok(users)) = (
        ask(deps, pb::ListOrganisations { org_ids: Vec::new(), page: crate::ui::kit::longest_page() }).await,
        ask(deps, pb::ListUsers { page: crate::ui::kit::longest_page(), org_id: String::new() }).await,
    ) else {
        return message_page(deps, headers, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    };
    let names: HashMap<String, String> =
        orgs.organisations.iter().map(|o| (o.org_id.clone(), o.name.clone())).collect();
    let admin = who.has(Role::Admin);
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let org_error = error_for(&errors, "org_id");
    let roles_error = error_for(&errors, "roles");
    let chosen: Vec<&str> = values.get("roles").map(|v| v.iter().map(String::as_str).collect()).unwrap_or_default();
    let content = html! {
        @if let Some(n) = notice { p class="notice" role="status" { (lang.t(n)) } }
        @if !admin { p class="notice" { (lang.t("read_only")) } }
        (users_table(lang, &users.users, Some(&names)))
        @if admin {
            h2 { (lang.t("create_user")) }
            form method="post" action="/admin/users" class="card" novalidate {
                input type="hidden" name="csrf" value=(csrf);
                (form_errors_banner(lang, &errors))
                (text_input(lang, &errors, &values, "user_id", "text"))
                (text_input(lang, &errors, &values, "display_name", "text"))
                div class="field" {
                    label for="org_id" { (lang.t("organisation")) }
                    select id="org_id" name="org_id" aria-invalid=[org_error.map(|_| "true")] aria-describedby=[org_error.map(|_| "org_id-error")] {
                        @for o in &orgs.organisations { option value=(o.org_id) selected[field(&values, "org_id") == o.org_id] { (o.name) } }
                    }
                    @if let Some(e) = org_error { p class="field-error" id="org_id-error" { (e) } }
                }
                fieldset class="field" aria-describedby=[roles_error.map(|_| "roles-error")] {
                    legend { (lang.t("roles")) }
                    @for r in ROLES {
                        label class="check" {
                            input type="checkbox" name="roles" value=(r) checked[chosen.contains(&r)];
                            " " (lang.t(role_key(r)))
                        }
                    }
                    @if let Some(e) = roles_error { p class="field-error" id="roles-error" { (e) } }
                }
                (text_input(lang, &errors, &values, "password", "password"))
                button type="submit" { (lang.t("submit_create")) }
            }
        }
    };
    let title = if admin { lang.t("users") } else { lang.t("all_users") };
    html_response(status, page(lang, title, Some(who), &csrf, content))
}

fn role_key(role: &str) -> &'static str {
    match role {
        "tech_manager" => "role.tech_manager",
        "enterprise_member" => "role.enterprise_member",
        "reviewer" => "role.reviewer",
        "regulator" => "role.regulator",
        _ => "role.admin",
    }
}

async fn users_page(State(deps): State<Deps>, headers: HeaderMap) -> Response {
    let who = match supervisor(&deps, &headers) {
        Ok(who) => who,
        Err(answer) => return *answer,
    };
    users_view(&deps, &headers, &who, None, Vec::new(), HashMap::new()).await
}

async fn users_submit(State(deps): State<Deps>, headers: HeaderMap, body: Bytes) -> Response {
    let (who, f) = match admin_form(&deps, &headers, &body) {
        Ok(admin) => admin,
        Err(answer) => return *answer,
    };
    let result = async {
        let roles = f
            .get("roles")
            .map(|v| v.iter().map(|r| parse_role("roles", r).map(|r| r as i32)).collect::<Result<Vec<_>, _>>())
            .transpose()?
            .unwrap_or_default();
        let user = pb::CreateUser {
            context: None,
            user_id: field(&f, "user_id").to_owned(),
            org_id: field(&f, "org_id").to_owned(),
            display_name: field(&f, "display_name").to_owned(),
            password: field(&f, "password").to_owned(),
            roles,
        };
        actions::create_user(&deps, &Acting::page(&who), user).await
    }
    .await;
    match result {
        Ok(_) => users_view(&deps, &headers, &who, Some("created_user"), Vec::new(), HashMap::new()).await,
        Err(e) => users_view(&deps, &headers, &who, None, api_errors(Lang::from_headers(&headers), e), f).await,
    }
}
