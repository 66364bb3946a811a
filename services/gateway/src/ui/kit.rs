//! What every page shares: the page frame and menu, the session and its forms (CSRF, form errors next to their
//! fields), and how amounts, times and names are written. Page modules use it; it uses none of them.

use std::collections::HashMap;

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use bytes::Bytes;
use maud::{DOCTYPE, Markup, html};
use ttx_kernel::Timestamp;
use ttx_kernel::bus::ErrorCode;
use ttx_proto::common::v1::Role;

use crate::Deps;
use crate::auth::{CSRF_COOKIE, Principal, SESSION_COOKIE, cookie, same_secret};
use crate::i18n::Lang;
use crate::problem::{ApiError, answer};

/// The longest page one answer holds: pages show up to this many of a list (the API pages through all of it).
pub(crate) fn longest_page() -> Option<ttx_proto::common::v1::PageRequest> {
    Some(ttx_proto::common::v1::PageRequest { offset: 0, limit: ttx_kernel::bus::MAX_PAGE })
}

pub(crate) fn html_response(status: StatusCode, markup: Markup) -> Response {
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], markup.into_string()).into_response()
}

/// The logged-in user of a page request (session cookie only; forms check their CSRF field themselves).
pub(crate) fn session(deps: &Deps, headers: &HeaderMap) -> Option<Principal> {
    let token = cookie(headers, SESSION_COOKIE).filter(|t| !t.is_empty())?;
    let claims = deps.auth.keys.verify(&token, deps.auth.now_unix()).ok()?;
    Some(Principal {
        user_id: claims.sub,
        org_id: claims.org,
        roles: claims.roles.iter().filter_map(|r| Role::try_from(*r).ok()).collect(),
        by_cookie: true,
    })
}

pub(crate) fn to_login() -> Response {
    Redirect::to("/login").into_response()
}

/// A posted form: name → values (repeated names, such as checkboxes, keep every value).
pub(crate) type Form = HashMap<String, Vec<String>>;

/// A form body, parsed.
pub(crate) fn form(body: &Bytes) -> Form {
    let mut out = Form::new();
    for (k, v) in form_urlencoded::parse(body) {
        out.entry(k.into_owned()).or_default().push(v.into_owned());
    }
    out
}

pub(crate) fn field<'a>(f: &'a HashMap<String, Vec<String>>, name: &str) -> &'a str {
    f.get(name).and_then(|v| v.first()).map_or("", String::as_str)
}

pub(crate) fn csrf_ok(headers: &HeaderMap, f: &HashMap<String, Vec<String>>) -> bool {
    let expected = cookie(headers, CSRF_COOKIE).unwrap_or_default();
    !expected.is_empty() && same_secret(&expected, field(f, "csrf"))
}

/// A form a logged-in caller posted with its CSRF token, as a handler's last argument: anyone else is sent to the
/// login page (no session) or answered 403 (no token).
pub(crate) struct SignedForm {
    pub who: Principal,
    pub form: Form,
    pub lang: Lang,
    pub headers: HeaderMap,
}

impl axum::extract::FromRequest<Deps> for SignedForm {
    type Rejection = Response;

    async fn from_request(request: axum::extract::Request, deps: &Deps) -> Result<Self, Response> {
        let headers = request.headers().clone();
        let body = <Bytes as axum::extract::FromRequest<Deps>>::from_request(request, deps)
            .await
            .map_err(IntoResponse::into_response)?;
        let (who, form) = signed_form(deps, &headers, &body).map_err(|answer| *answer)?;
        Ok(Self { who, form, lang: Lang::from_headers(&headers), headers })
    }
}

/// The caller of a page only administrators and regulators see, or the answer that sends anyone else away.
pub(crate) fn supervisor(deps: &Deps, headers: &HeaderMap) -> Result<Principal, Box<Response>> {
    let Some(who) = session(deps, headers) else { return Err(Box::new(to_login())) };
    if !(who.has(Role::Admin) || who.has(Role::Regulator)) {
        return Err(Box::new(message_page(deps, headers, StatusCode::FORBIDDEN, "forbidden")));
    }
    Ok(who)
}

/// An administrator's signed form, or the answer that sends anyone else away.
pub(crate) fn admin_form(deps: &Deps, headers: &HeaderMap, body: &Bytes) -> Result<(Principal, Form), Box<Response>> {
    let (who, f) = signed_form(deps, headers, body)?;
    if !who.has(Role::Admin) {
        return Err(Box::new(message_page(deps, headers, StatusCode::FORBIDDEN, "forbidden")));
    }
    Ok((who, f))
}

/// A form posted by a signed-in user, with this browser's CSRF token: the user and the form, or what to answer
/// instead (the login page, or 403).
pub(crate) fn signed_form(deps: &Deps, headers: &HeaderMap, body: &Bytes) -> Result<(Principal, Form), Box<Response>> {
    let Some(who) = session(deps, headers) else { return Err(Box::new(to_login())) };
    let f = form(body);
    if !csrf_ok(headers, &f) {
        return Err(Box::new(message_page(deps, headers, StatusCode::FORBIDDEN, "forbidden")));
    }
    Ok((who, f))
}

/// The shared page frame: header, the caller's menu, the language switch, and `content`.
pub(crate) fn page(lang: Lang, title: &str, who: Option<&Principal>, csrf: &str, content: Markup) -> Markup {
    let switch_to = if lang == Lang::Zh { "en" } else { "zh" };
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (lang.t("app")) }
                link rel="stylesheet" href="/static/app.css";
            }
            body {
                header class="top" {
                    a class="brand" href="/" { (lang.t("app")) }
                    a class="lang" href={ "/lang/" (switch_to) } hreflang=(switch_to) { (lang.t("switch")) }
                    @if who.is_some() {
                        form method="post" action="/logout" class="logout" {
                            input type="hidden" name="csrf" value=(csrf);
                            button type="submit" { (lang.t("logout")) }
                        }
                    } @else {
                        a href="/search" { (lang.t("search")) }
                        a href="/login" { (lang.t("login")) }
                    }
                }
                @if let Some(who) = who {
                    nav aria-label=(lang.t("nav")) {
                        ul {
                            @for (href, key) in menu(who) {
                                li { a href=(href) { (lang.t(key)) } }
                            }
                        }
                    }
                }
                main id="main" { h1 { (title) } (content) }
            }
        }
    }
}

/// The menu a caller sees: only what their roles may open.
pub fn menu(who: &Principal) -> Vec<(&'static str, &'static str)> {
    let mut items = vec![
        ("/", "home"),
        ("/search", "search"),
        ("/demands", "demands"),
        ("/sessions", "sessions"),
        ("/my", "my_listings"),
    ];
    if who.has(Role::TechManager) {
        items.push(("/results/new", "new_result"));
    }
    if who.has(Role::EnterpriseMember) {
        items.push(("/demands/new", "new_demand"));
    }
    items.push(("/org", "my_org"));
    if who.has(Role::TechManager) {
        items.push(("/registry", "my_registry"));
    }
    if who.has(Role::Admin) {
        items.push(("/admin/organisations", "organisations"));
        items.push(("/admin/users", "users"));
    } else if who.has(Role::Regulator) {
        items.push(("/admin/organisations", "all_organisations"));
        items.push(("/admin/users", "all_users"));
    }
    if who.has(Role::Admin) || who.has(Role::Regulator) {
        items.push(("/refunds/overdue", "overdue_refunds"));
        items.push(("/admin/calendar", "calendar"));
    }
    items
}

pub(crate) fn message_page(deps: &Deps, headers: &HeaderMap, status: StatusCode, key: &'static str) -> Response {
    let lang = Lang::from_headers(headers);
    let who = session(deps, headers);
    let csrf = cookie(headers, CSRF_COOKIE).unwrap_or_default();
    html_response(status, page(lang, lang.t(key), who.as_ref(), &csrf, html! { p { (lang.t(key)) } }))
}

/// Errors of a submitted form: the field they belong to ("" for the form as a whole) and the message.
pub(crate) type FormErrors = Vec<(String, String)>;

pub(crate) fn error_for<'a>(errors: &'a FormErrors, name: &str) -> Option<&'a str> {
    errors.iter().find(|(f, _)| f == name).map(|(_, m)| m.as_str())
}

/// A labelled form control with its error, if any, next to it. `control` is given the values of its
/// `aria-invalid` and `aria-describedby` attributes (both absent when the field is fine).
pub(crate) fn labelled(
    lang: Lang,
    errors: &FormErrors,
    name: &'static str,
    control: impl FnOnce(Option<&str>, Option<&str>) -> Markup,
) -> Markup {
    let error = error_for(errors, name);
    let error_id = format!("{name}-error");
    html! {
        div class="field" {
            label for=(name) { (lang.t(name)) }
            (control(error.map(|_| "true"), error.map(|_| error_id.as_str())))
            @if let Some(e) = error { p class="field-error" id=(error_id) { (e) } }
        }
    }
}

pub(crate) fn text_input(
    lang: Lang,
    errors: &FormErrors,
    values: &HashMap<String, Vec<String>>,
    name: &'static str,
    kind: &str,
) -> Markup {
    let value = if kind == "password" { "" } else { field(values, name) };
    labelled(lang, errors, name, |invalid, described| {
        html! { input id=(name) name=(name) type=(kind) required value=(value) aria-invalid=[invalid] aria-describedby=[described]; }
    })
}

pub(crate) fn form_errors_banner(lang: Lang, errors: &FormErrors) -> Markup {
    html! {
        @if !errors.is_empty() {
            div class="form-error" role="alert" {
                p { (lang.t("form_errors")) }
                @if let Some(general) = error_for(errors, "") { p { (general) } }
            }
        }
    }
}

/// A service's answer as form errors, in the page's language: a field's own message next to it, or one for the form.
pub(crate) fn api_errors(lang: Lang, e: ApiError) -> FormErrors {
    let field = e.field.unwrap_or_default();
    // The gateway's own errors name their problem type; the table gives their code.
    let code = e.code.or_else(|| ErrorCode::ALL.into_iter().find(|c| answer(*c).kind == e.kind));
    let message = match code {
        // A field's own message when there is one; else the service's words.
        Some(ErrorCode::InvalidInput) => lang.lookup(&format!("invalid.{field}")).map_or(e.detail, str::to_owned),
        // The rules' own words follow the page's.
        Some(code @ (ErrorCode::Rejected | ErrorCode::TooMany)) => format!("{}{}", lang.t(answer(code).page), e.detail),
        Some(code) => lang.t(answer(code).page).to_owned(),
        None => lang.t("unavailable").to_owned(),
    };
    vec![(field, message)]
}

/// The page's words for an API name, e.g. `label(lang, "field", "new_energy")`.
pub(crate) fn label(lang: Lang, prefix: &str, name: &str) -> String {
    lang.lookup(&format!("{prefix}.{name}")).map_or_else(|| name.to_owned(), str::to_owned)
}

/// Fen as yuan, with thousands separators: ¥5,000,000 or ¥12.50.
pub fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let fen = fen.unsigned_abs();
    let whole = (fen / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match fen % 100 {
        0 => format!("{sign}¥{grouped}"),
        cents => format!("{sign}¥{grouped}.{cents:02}"),
    }
}

/// Yuan as typed (`1,234.5`) to fen, exactly; `None` when it is not an amount.
pub fn parse_yuan(s: &str) -> Option<i64> {
    let s: String = s.trim().chars().filter(|c| *c != ',' && *c != '，').collect();
    let (whole, cents) = s.split_once('.').unwrap_or((&s, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) || cents.len() > 2 {
        return None;
    }
    if !cents.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let cents: i64 = format!("{cents:0<2}").parse().ok()?;
    whole.parse::<i64>().ok()?.checked_mul(100)?.checked_add(cents)
}

/// A moment as Beijing time (UTC+8), to the minute: 2026-12-11 17:15.
pub fn beijing(t: Timestamp) -> String {
    let secs = t.unix_micros().div_euclid(1_000_000) + 8 * 3600;
    let (y, m, d) = ttx_kernel::time::civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}", s / 3600, s % 3600 / 60)
}

/// A moment as Beijing time, or nothing.
pub(crate) fn when(t: &Option<prost_types::Timestamp>) -> String {
    t.as_ref().map(|t| beijing(Timestamp::from_proto(t))).unwrap_or_default()
}
