//! The listings pages: search with facets and highlighted matches, a result's page with its public notice (a live
//! countdown) and objections, creating a result, demands and open challenges, and "my listings" per organisation.
//! Forms post back to the page they are on; each action is one command to the listings service.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use maud::{Markup, html};
use ttx_kernel::Timestamp;
use ttx_proto::common::v1::Role;
use ttx_proto::listings::v1::{self as pb};

use crate::Deps;
use crate::actions::{self, Acting};
use crate::api::kit::ask;
use crate::api::results::{
    FIELDS, FORMS, HolderBody, IP_KINDS, IpRightBody, ListingBody, MODES, ROUTES, SECRECY, STATUSES, TrlBody,
    VISIBILITY, to_name, to_wire,
};
use crate::api::search::{SearchParams, find_matches, list_notifications, run_search, search_response};
use crate::auth::{CSRF_COOKIE, Principal, cookie};
use crate::i18n::Lang;
use crate::problem::ApiError;
use crate::ui::kit::*;

pub fn routes() -> Router<Deps> {
    Router::new()
        .route("/search", get(search_page))
        .route("/results/new", get(new_result_page).post(new_result_submit))
        .route("/results/{id}", get(result_page).post(result_action))
        .route("/results/{id}/edit", get(edit_result_page).post(edit_result_submit))
        .route("/my", get(my_listings))
        .route("/demands", get(demands_page))
        .route("/demands/new", get(new_demand_page).post(new_demand_submit))
        .route("/demands/{id}", get(demand_page).post(demand_action))
}

/// Organisation id → name for the organisations a page shows, in one request to identity; ids stand in for names it
/// does not know.
async fn org_names(deps: &Deps, ids: Vec<String>) -> HashMap<String, String> {
    use ttx_proto::identity::v1 as ipb;
    let ids: std::collections::BTreeSet<String> = ids.into_iter().filter(|id| !id.is_empty()).collect();
    if ids.is_empty() {
        return HashMap::new();
    }
    let q = ipb::ListOrganisations { org_ids: ids.into_iter().collect(), page: crate::ui::kit::longest_page() };
    ask(deps, q).await.map(|l| l.organisations.into_iter().map(|o| (o.org_id, o.name)).collect()).unwrap_or_default()
}

fn name_of<'a>(names: &'a HashMap<String, String>, id: &'a str) -> &'a str {
    names.get(id).map_or(id, String::as_str)
}

fn spans(s: &[crate::api::search::SpanView]) -> Markup {
    html! { @for s in s { @if s.hit { mark { (s.text) } } @else { (s.text) } } }
}

fn csrf_of(headers: &HeaderMap) -> String {
    cookie(headers, CSRF_COOKIE).unwrap_or_default()
}

/// Turns a service's field path into the form's input name: `listing.trl.level` → `trl_level`.
fn form_field(path: &str) -> String {
    let path = path.strip_prefix("listing.").or_else(|| path.strip_prefix("demand.")).unwrap_or(path);
    let mut plain = String::new();
    let mut skip = false;
    for c in path.chars() {
        match c {
            '[' => skip = true,
            ']' => skip = false,
            _ if skip => {}
            '.' => plain.push('_'),
            _ => plain.push(c),
        }
    }
    match plain.as_str() {
        "asking_price_fen" => "price_yuan".into(),
        "budget_fen" => "budget_yuan".into(),
        "ip_rights_kind" => "ip_kind".into(),
        "ip_rights_number" => "ip_number".into(),
        "ip_rights_legal_status" => "ip_status".into(),
        "challenge_deadline" => "deadline".into(),
        _ => plain,
    }
}

fn errors_of(lang: Lang, mut e: ApiError) -> FormErrors {
    e.field = e.field.map(|f| form_field(&f));
    api_errors(lang, e)
}

fn input(
    lang: Lang,
    errors: &FormErrors,
    values: &HashMap<String, Vec<String>>,
    name: &'static str,
    kind: &str,
) -> Markup {
    labelled(lang, errors, name, |invalid, described| {
        html! { input id=(name) name=(name) type=(kind) value=(field(values, name)) aria-invalid=[invalid] aria-describedby=[described]; }
    })
}

fn textarea(lang: Lang, errors: &FormErrors, values: &HashMap<String, Vec<String>>, name: &'static str) -> Markup {
    labelled(lang, errors, name, |invalid, described| {
        html! { textarea id=(name) name=(name) rows="4" aria-invalid=[invalid] aria-describedby=[described] { (field(values, name)) } }
    })
}

fn select<E: Copy>(
    lang: Lang,
    errors: &FormErrors,
    values: &HashMap<String, Vec<String>>,
    name: &'static str,
    prefix: &str,
    table: &[(&'static str, E)],
) -> Markup {
    labelled(lang, errors, name, |invalid, described| {
        html! {
            select id=(name) name=(name) aria-invalid=[invalid] aria-describedby=[described] {
                @for (n, _) in table { option value=(n) selected[field(values, name) == *n] { (label(lang, prefix, n)) } }
            }
        }
    })
}

fn checkboxes<E: Copy>(
    lang: Lang,
    errors: &FormErrors,
    values: &HashMap<String, Vec<String>>,
    name: &'static str,
    prefix: &str,
    table: &[(&'static str, E)],
) -> Markup {
    let error = error_for(errors, name);
    let chosen: Vec<&str> = values.get(name).map(|v| v.iter().map(String::as_str).collect()).unwrap_or_default();
    html! {
        fieldset class="field" aria-describedby=[error.map(|_| format!("{name}-error"))] {
            legend { (lang.t(name)) }
            @for (n, _) in table {
                label class="check" { input type="checkbox" name=(name) value=(n) checked[chosen.contains(n)]; " " (label(lang, prefix, n)) }
            }
            @if let Some(e) = error { p class="field-error" id={ (name) "-error" } { (e) } }
        }
    }
}

fn list_of(s: &str) -> Vec<String> {
    s.split([',', '，', '、', '\n', ';', '；']).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

fn lines_of(s: &str) -> Vec<String> {
    s.lines().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

fn see_other(to: String) -> Response {
    Redirect::to(&to).into_response()
}

// ---- search ----

/// The search URL with one parameter set to `value` (or removed), paging reset.
fn search_href(p: &SearchParams, set: &[(&str, Option<&str>)]) -> String {
    let current: [(&str, &Option<String>); 12] = [
        ("q", &p.q),
        ("kind", &p.kind),
        ("field", &p.field),
        ("trl_min", &p.trl_min),
        ("trl_max", &p.trl_max),
        ("mode", &p.mode),
        ("price_min_fen", &p.price_min_fen),
        ("price_max_fen", &p.price_max_fen),
        ("region", &p.region),
        ("route", &p.route),
        ("sort", &p.sort),
        ("limit", &p.limit),
    ];
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (name, value) in current {
        if set.iter().any(|(n, _)| *n == name) {
            continue;
        }
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            out.append_pair(name, v);
        }
    }
    for (name, value) in set {
        if let Some(v) = value {
            out.append_pair(name, v);
        }
    }
    format!("/search?{}", out.finish())
}

async fn search_page(State(deps): State<Deps>, headers: HeaderMap, Query(p): Query<SearchParams>) -> Response {
    let who = session(&deps, &headers);
    let lang = Lang::from_headers(&headers);
    let csrf = csrf_of(&headers);
    let asker = who.as_ref().map(Principal::actor).unwrap_or_default();
    let (found, error) = match run_search(&deps, asker, &p).await {
        Ok(r) => (Some(search_response(&r)), None),
        Err(e) => (None, Some(errors_of(lang, e))),
    };
    let offset: usize = p.offset.as_deref().and_then(|o| o.parse().ok()).unwrap_or(0);
    let limit: usize = p.limit.as_deref().and_then(|o| o.parse().ok()).filter(|l| *l > 0).unwrap_or(20);
    let active: Vec<(&str, String)> = [
        ("kind", p.kind.as_deref().map(|k| label(lang, "kind", k))),
        ("field", p.field.as_deref().map(|f| label(lang, "field", f))),
        ("trl_min", p.trl_min.clone().map(|t| format!("TRL ≥ {t}"))),
        ("trl_max", p.trl_max.clone().map(|t| format!("TRL ≤ {t}"))),
        ("mode", p.mode.as_deref().map(|m| label(lang, "mode", m))),
        ("price_min_fen", p.price_min_fen.as_deref().and_then(|f| f.parse().ok()).map(|f| format!("≥ {}", yuan(f)))),
        ("price_max_fen", p.price_max_fen.as_deref().and_then(|f| f.parse().ok()).map(|f| format!("≤ {}", yuan(f)))),
        ("region", p.region.clone()),
        ("route", p.route.as_deref().map(|r| label(lang, "route", r))),
    ]
    .into_iter()
    .filter_map(|(n, v)| v.filter(|v| !v.is_empty()).map(|v| (n, v)))
    .collect();
    let sort = p.sort.clone().unwrap_or_default();
    let content = html! {
        form method="get" action="/search" class="searchbar" role="search" {
            label class="visually-hidden" for="q" { (lang.t("search")) }
            input id="q" name="q" type="search" value=(p.q.clone().unwrap_or_default()) placeholder=(lang.t("search_placeholder"));
            label class="visually-hidden" for="sort" { (lang.t("sort")) }
            select id="sort" name="sort" {
                @for s in ["relevance", "newest", "price_asc", "price_desc"] {
                    option value=(s) selected[sort == s] { (label(lang, "sort", s)) }
                }
            }
            @for (name, value) in &active {
                @let raw = match *name {
                    "kind" => p.kind.clone(), "field" => p.field.clone(), "trl_min" => p.trl_min.clone(),
                    "trl_max" => p.trl_max.clone(), "mode" => p.mode.clone(), "price_min_fen" => p.price_min_fen.clone(),
                    "price_max_fen" => p.price_max_fen.clone(), "region" => p.region.clone(), _ => p.route.clone(),
                };
                @let _ = value;
                input type="hidden" name=(name) value=(raw.unwrap_or_default());
            }
            button type="submit" { (lang.t("search_button")) }
        }
        @if !active.is_empty() {
            p class="chips" {
                @for (name, value) in &active {
                    a class="chip" href=(search_href(&p, &[(name, None)])) aria-label={ (lang.t("remove_filter")) " " (value) } { (value) " ×" }
                }
                a href=(search_href(&p, &[("kind", None), ("field", None), ("trl_min", None), ("trl_max", None), ("mode", None), ("price_min_fen", None), ("price_max_fen", None), ("region", None), ("route", None)])) { (lang.t("clear_filters")) }
            }
        }
        @if let Some(errors) = &error { (form_errors_banner(lang, errors)) @for (_, m) in errors { p class="field-error" { (m) } } }
        @if let Some(found) = &found {
            div class="search-layout" {
                aside class="facets" aria-label=(lang.t("facets")) {
                    (facet(lang, "kind", &found.facets.kind, |v| label(lang, "kind", v), |v| search_href(&p, &[("kind", Some(v))])))
                    (facet(lang, "field", &found.facets.field, |v| label(lang, "field", v), |v| search_href(&p, &[("field", Some(v))])))
                    (facet(lang, "trl", &found.facets.trl, |v| format!("TRL {v}"), |v| search_href(&p, &[("trl_min", Some(v)), ("trl_max", Some(v))])))
                    (facet(lang, "mode", &found.facets.mode, |v| label(lang, "mode", v), |v| search_href(&p, &[("mode", Some(v))])))
                    section class="facet" {
                        h2 { (lang.t("facet.price")) }
                        ul { @for b in &found.facets.price {
                            li {
                                @if b.price_min_fen.is_some() {
                                    @let (lo, hi) = (b.price_min_fen.map(|v| v.to_string()), b.price_max_fen.map(|v| v.to_string()));
                                    a href=(search_href(&p, &[("price_min_fen", lo.as_deref()), ("price_max_fen", hi.as_deref())])) { (b.label.clone().unwrap_or_default()) }
                                } @else { (lang.t("negotiable")) }
                                " " span class="count" { "(" (b.count) ")" }
                            }
                        } }
                    }
                    (facet(lang, "region", &found.facets.region, |v| v.to_owned(), |v| search_href(&p, &[("region", Some(v))])))
                    (facet(lang, "route", &found.facets.route, |v| label(lang, "route", v), |v| search_href(&p, &[("route", Some(v))])))
                }
                section class="hits" aria-live="polite" {
                    p class="total" { (found.total) " " (lang.t("total_hits")) }
                    @if found.hits.is_empty() { p { (lang.t("no_hits")) } }
                    @for h in &found.hits {
                        article class="hit" {
                            h2 { a href={ "/" (h.kind) "s/" (h.id) } { (spans(&h.title_spans)) } }
                            p class="meta" {
                                span class="badge" { (label(lang, "kind", &h.kind)) } " "
                                (label(lang, "field", &h.field)) " · TRL " (h.trl) " · "
                                @if h.kind == "demand" { (lang.t("budget")) " " }
                                (h.price_fen.map_or_else(|| lang.t("negotiable").to_owned(), yuan))
                                @if !h.region.is_empty() { " · " (h.region) }
                                @if let Some(r) = &h.route { " · " (label(lang, "route", r)) }
                            }
                            p class="snippet" { (spans(&h.snippet)) }
                        }
                    }
                    nav class="pages" aria-label="pages" {
                        @if offset > 0 {
                            @let prev = offset.saturating_sub(limit).to_string();
                            a rel="prev" href={ (search_href(&p, &[])) "&offset=" (prev) } { (lang.t("previous")) }
                        }
                        @if (offset + found.hits.len()) < found.total as usize {
                            a rel="next" href={ (search_href(&p, &[])) "&offset=" (offset + limit) } { (lang.t("next")) }
                        }
                    }
                }
            }
        }
    };
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    html_response(status, page(lang, lang.t("search"), who.as_ref(), &csrf, content))
}

fn facet(
    lang: Lang,
    name: &str,
    values: &[crate::api::search::FacetValue],
    show: impl Fn(&str) -> String,
    href: impl Fn(&str) -> String,
) -> Markup {
    html! {
        @if !values.is_empty() {
            section class="facet" {
                h2 { (label(lang, "facet", name)) }
                ul { @for v in values { li { a href=(href(&v.value)) { (show(&v.value)) } " " span class="count" { "(" (v.count) ")" } } } }
            }
        }
    }
}

// ---- a result ----

async fn result_page(
    State(deps): State<Deps>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let done = q.contains_key("done").then_some("done");
    result_view(&deps, &headers, &id, done, Vec::new()).await
}

fn remaining(lang: Lang, seconds: i64) -> String {
    let s = seconds.max(0);
    format!(
        "{} {} {} {} {} {}",
        s / 86_400,
        lang.t("days"),
        s % 86_400 / 3600,
        lang.t("hours"),
        s % 3600 / 60,
        lang.t("minutes")
    )
}

async fn result_view(
    deps: &Deps,
    headers: &HeaderMap,
    id: &str,
    done: Option<&'static str>,
    errors: FormErrors,
) -> Response {
    let who = session(deps, headers);
    let lang = Lang::from_headers(headers);
    let csrf = csrf_of(headers);
    let asker = who.as_ref().map(Principal::actor).unwrap_or_default();
    // One request to listings (the result, the names it mentions, its matches) and, for a sale route, one to
    // negotiation (its sales): the page joins nothing itself.
    let q = pb::GetResultPage {
        asker: Some(asker.clone()),
        result_id: id.to_owned(),
        with_matches: true,
        matches_limit: 0,
    };
    let (view, names, found) = match ask(deps, q).await {
        Ok(p) => (p.result.unwrap_or_default(), p.org_names.into_iter().collect::<HashMap<_, _>>(), p.matches),
        Err(e) if e.status == StatusCode::NOT_FOUND => {
            return message_page(deps, headers, StatusCode::NOT_FOUND, "not_found");
        }
        Err(_) => return message_page(deps, headers, StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
    };
    let l = view.listing.clone().unwrap_or_default();
    let status = to_name(STATUSES, view.status);
    let ours = who.as_ref().is_some_and(|w| w.org_id == view.owner_org_id);
    let manager = ours && who.as_ref().is_some_and(|w| w.has(Role::TechManager));
    let reviewer = ours && who.as_ref().is_some_and(|w| w.has(Role::Reviewer));
    // A member entitled to act for a co-holder that has not consented yet.
    let co_holder = who
        .as_ref()
        .filter(|w| w.has(Role::TechManager) || w.has(Role::EnterpriseMember))
        .is_some_and(|w| view.co_holder_org_ids.contains(&w.org_id) && !view.consented_org_ids.contains(&w.org_id));
    let now = deps.auth.now_unix();
    let trl = l.trl.clone().unwrap_or_default();
    let notice_running = view.notice.as_ref().is_some_and(|n| !n.ended);
    let matches = ((ours || who.as_ref().is_some_and(|w| w.has(Role::Admin))) && status == "published")
        .then(|| crate::api::search::match_list(&found));
    let route = to_name(ROUTES, l.route);
    let sales = if who.is_some() && route != "negotiated" {
        crate::ui::negotiation::sales_of(deps, asker, id).await
    } else {
        crate::ui::negotiation::Sales::default()
    };
    let action = format!("/results/{id}");
    let hidden = html! { input type="hidden" name="csrf" value=(csrf); };
    let content = html! {
        @if let Some(d) = done { p class="notice" role="status" { (lang.t(d)) } }
        (form_errors_banner(lang, &errors))
        @for (f, m) in &errors { @if f.is_empty() { } @else { p class="field-error" { (m) } } }
        p { span class="badge" id="status" { (label(lang, "rstatus", status)) } }
        @if !view.return_reasons.is_empty() && status == "returned" {
            p class="form-error" { (lang.t("return_reasons")) "：" (view.return_reasons.join("；")) }
        }
        p class="summary" { (l.summary) }
        dl class="facts" {
            dt { (lang.t("field")) } dd { (label(lang, "field", to_name(FIELDS, l.field))) }
            @if !l.industry.is_empty() { dt { (lang.t("industry")) } dd { (l.industry) } }
            @if !l.keywords.is_empty() { dt { (lang.t("keywords_short")) } dd { (l.keywords.join("、")) } }
            @if !l.innovations.is_empty() { dt { (lang.t("innovations_short")) } dd { ul class="plain" { @for i in &l.innovations { li { (i) } } } } }
            @if !l.indicators.is_empty() { dt { (lang.t("indicators")) } dd { (l.indicators) } }
            dt { (lang.t("trl")) } dd { "TRL " (trl.level) " · " (trl.assessor) " · " (trl.assessed_on) " · " (trl.evidence) }
            dt { (lang.t("result_form")) } dd { (label(lang, "form", to_name(FORMS, l.form))) }
            @if !l.ip_rights.is_empty() {
                dt { (lang.t("ip_rights")) }
                dd { ul class="plain" { @for r in &l.ip_rights { li { (label(lang, "ip", to_name(IP_KINDS, r.kind))) " " (r.number) " " (r.legal_status) } } } }
            }
            dt { (lang.t("holders")) } dd { @for (i, h) in l.holders.iter().enumerate() { @if i > 0 { "、" } (name_of(&names, &h.org_id)) " " (h.share_bp / 100) "%" } }
            dt { (lang.t("inventors_short")) } dd { (l.inventors.join("、")) }
            dt { (lang.t("modes")) } dd { @for (i, m) in l.modes.iter().enumerate() { @if i > 0 { "、" } (label(lang, "mode", to_name(MODES, *m))) } }
            dt { (lang.t("price")) } dd { (l.asking_price_fen.map_or_else(|| lang.t("negotiable").to_owned(), yuan)) }
            dt { (lang.t("route")) } dd { (label(lang, "route", to_name(ROUTES, l.route))) }
            dt { (lang.t("visibility")) } dd { (label(lang, "visibility", to_name(VISIBILITY, l.visibility))) }
        }
        @if let Some(n) = &view.notice {
            @let ends = n.ends_at.as_ref().map(Timestamp::from_proto).unwrap_or(Timestamp::from_unix_micros(0));
            @let starts = n.starts_at.as_ref().map(Timestamp::from_proto).unwrap_or(Timestamp::from_unix_micros(0));
            section class="notice-box" aria-labelledby="notice-heading" {
                h2 id="notice-heading" { (lang.t("notice")) }
                dl class="facts" {
                    dt { (lang.t("notice_price")) } dd { (yuan(n.price_fen)) }
                    dt { (lang.t("notice_period")) } dd { (beijing(starts)) " — " (beijing(ends)) " " (lang.t("beijing_time")) }
                    @if n.ended {
                        dt { (lang.t("status_label")) } dd id="notice-state" { (lang.t("notice_ended")) }
                    } @else {
                        dt { (lang.t("notice_left")) }
                        dd { time id="countdown" datetime=(ends.to_string()) data-now=(now * 1000)
                            data-d=(lang.t("days")) data-h=(lang.t("hours")) data-m=(lang.t("minutes")) {
                            (remaining(lang, ends.unix_micros() / 1_000_000 - now))
                        } }
                    }
                }
                h3 { (lang.t("objections")) }
                @if n.objections.is_empty() { p { (lang.t("no_objections")) } }
                @if n.objections_total as usize > n.objections.len() {
                    p { (n.objections.len()) " / " (n.objections_total) " · "
                        a href={ "/api/v1/results/" (view.result_id) "/objections?limit=100" } { (lang.t("all_objections")) } }
                }
                @for o in &n.objections {
                    @let resolution = match o.resolution { 1 => "upheld", 2 => "dismissed", _ => "open" };
                    article class="objection" {
                        p {
                            strong { @if o.by_org_id.is_empty() { (lang.t("an_objector")) } @else { (name_of(&names, &o.by_org_id)) } }
                            "：" (o.text) " " span class="badge" { (label(lang, "resolution", resolution)) }
                        }
                        @if o.raised_at.is_some() { p class="meta" { (lang.t("raised_at")) " " (crate::ui::kit::when(&o.raised_at)) } }
                        @if !o.answer.is_empty() {
                            p { (lang.t("answer")) "：" (o.answer) @if o.answered_at.is_some() { " · " (crate::ui::kit::when(&o.answered_at)) } }
                        }
                        @if resolution != "open" && (!o.resolution_note.is_empty() || o.resolved_at.is_some()) {
                            p { (lang.t("note")) "：" (o.resolution_note) @if o.resolved_at.is_some() { " · " (crate::ui::kit::when(&o.resolved_at)) } }
                        }
                        @if manager && resolution == "open" && o.answer.is_empty() {
                            form method="post" action=(action) class="inline" {
                                (hidden) input type="hidden" name="do" value="answer"; input type="hidden" name="objection_id" value=(o.objection_id);
                                label for={ "answer-" (o.objection_id) } { (lang.t("answer")) }
                                input id={ "answer-" (o.objection_id) } name="answer" type="text" required;
                                button type="submit" { (lang.t("do.answer")) }
                            }
                        }
                        @if reviewer && resolution == "open" {
                            form method="post" action=(action) class="inline" {
                                (hidden) input type="hidden" name="objection_id" value=(o.objection_id);
                                label for={ "note-" (o.objection_id) } { (lang.t("note")) }
                                input id={ "note-" (o.objection_id) } name="note" type="text" required;
                                button type="submit" name="do" value="dismiss" { (lang.t("do.dismiss")) }
                                button type="submit" name="do" value="uphold" class="secondary" { (lang.t("do.uphold")) }
                            }
                        }
                    }
                }
                @if who.is_some() && !ours && notice_running {
                    form method="post" action=(action) class="card" {
                        (hidden) input type="hidden" name="do" value="object";
                        label for="objection" { (lang.t("objection_text")) }
                        textarea id="objection" name="text" rows="3" required {}
                        button type="submit" { (lang.t("do.object")) }
                    }
                }
            }
            @if !n.ended { script src="/static/js/countdown.js" defer {} }
        }
        @if !view.co_holder_org_ids.is_empty() {
            section aria-labelledby="co-holders-heading" id="co-holders" {
                h2 id="co-holders-heading" { (lang.t("co_holders")) }
                p { (lang.t("co_holders_help")) }
                ul { @for org in &view.co_holder_org_ids {
                    li { (name_of(&names, org)) " · "
                        @if view.consented_org_ids.contains(org) { (lang.t("consented")) } @else { (lang.t("not_consented")) } }
                } }
                @if co_holder {
                    form method="post" action=(action) { (hidden) button type="submit" name="do" value="consent" { (lang.t("do.consent")) } }
                }
            }
        }
        @if manager || reviewer {
            section aria-labelledby="actions-heading" {
                h2 id="actions-heading" { (lang.t("actions")) }
                div class="actions" {
                    @if manager && matches!(status, "draft" | "returned") {
                        a class="button secondary" id="edit" href={ "/results/" (id) "/edit" } { (lang.t("do.edit")) }
                        form method="post" action=(action) { (hidden) button type="submit" name="do" value="submit" { (lang.t("do.submit")) } }
                    }
                    @if reviewer && status == "submitted" {
                        form method="post" action=(action) { (hidden) button type="submit" name="do" value="approve" { (lang.t("do.approve")) } }
                        form method="post" action=(action) class="inline" {
                            (hidden)
                            label for="reasons" { (lang.t("return_reasons")) }
                            input id="reasons" name="reasons" type="text";
                            button type="submit" name="do" value="return" class="secondary" { (lang.t("do.return")) }
                        }
                    }
                    @if manager && status == "approved" {
                        form method="post" action=(action) { (hidden) button type="submit" name="do" value="publish" { (lang.t("do.publish")) } }
                    }
                    @if manager && status == "published" && !notice_running {
                        form method="post" action=(action) class="inline" {
                            (hidden) input type="hidden" name="do" value="notice";
                            label for="notice_price" { (lang.t("price_yuan")) }
                            input id="notice_price" name="price_yuan" type="text" inputmode="decimal" required
                                value=(l.asking_price_fen.map(|f| (f / 100).to_string()).unwrap_or_default());
                            label for="notice_days" { (lang.t("notice_days")) }
                            input id="notice_days" name="days" type="number" min="15" value="15";
                            button type="submit" { (lang.t("do.notice")) }
                        }
                    }
                    @if manager && matches!(status, "draft" | "returned" | "approved" | "published") {
                        form method="post" action=(action) class="inline" {
                            (hidden)
                            label for="withdraw_reason" { (lang.t("reason")) }
                            input id="withdraw_reason" name="reason" type="text" required;
                            button type="submit" name="do" value="withdraw" class="secondary" { (lang.t("do.withdraw")) }
                        }
                    }
                }
            }
        }
        @if who.as_ref().is_some_and(|w| w.has(Role::EnterpriseMember)) && !ours && status == "published" && to_name(ROUTES, l.route) == "negotiated" {
            form method="post" action=(action) class="inline" {
                (hidden)
                label for="negotiate_mode" { (lang.t("modes")) }
                select id="negotiate_mode" name="mode" {
                    @for (name, _) in MODES.iter().filter(|(_, w)| l.modes.is_empty() || l.modes.contains(&(*w as i32))) {
                        option value=(name) { (label(lang, "mode", name)) }
                    }
                }
                button type="submit" class="button" name="do" value="negotiate" id="negotiate" { (lang.t("do.negotiate")) }
            }
        }
        @if who.is_some() && route != "negotiated" {
            (crate::ui::negotiation::sales_part(lang, &sales, &action, &csrf, manager && status == "published", who.as_ref().is_some_and(|w| w.has(Role::EnterpriseMember)) && !ours, route, l.asking_price_fen, &l.modes))
        }
        @if let Some(m) = &matches { (matches_table(lang, "demands", &m.matches)) }
        @if who.is_none() { p { a href="/login" { (lang.t("login")) } " " (lang.t("login_to_see")) } }
    };
    let code = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    html_response(code, page(lang, &l.title, who.as_ref(), &csrf, content))
}

fn matches_table(lang: Lang, kind: &str, matches: &[crate::api::search::MatchView]) -> Markup {
    html! {
        section aria-labelledby="matches-heading" {
            h2 id="matches-heading" { (lang.t("matches")) }
            @if matches.is_empty() { p { (lang.t("no_matches")) } }
            @else {
                div class="table" { table {
                    thead { tr { th scope="col" { (lang.t("title")) } th scope="col" { (lang.t("match_score")) } th scope="col" { (lang.t("reason")) } } }
                    tbody { @for m in matches { tr {
                        td { a href={ "/" (kind) "/" (m.id) } { (m.title) } }
                        td { (m.score) }
                        td class="wrap" { @for (i, r) in m.reasons.iter().filter(|r| r.points > 0).enumerate() {
                            @if i > 0 { "；" } (label(lang, "factor", &r.factor)) " +" (r.points)
                            @if r.factor == "text" && !r.detail.is_empty() { "（" (r.detail) "）" }
                        } }
                    } } }
                } }
            }
        }
    }
}

async fn result_action(State(deps): State<Deps>, Path(id): Path<String>, posted: SignedForm) -> Response {
    let SignedForm { who, form: f, lang, headers } = posted;
    let by = Acting::page(&who);
    let result_id = id.clone();
    let objection_id = field(&f, "objection_id").to_owned();
    let text = |name: &str| field(&f, name).to_owned();
    let outcome: Result<pb::CommandAccepted, ApiError> = match field(&f, "do") {
        "submit" => actions::submit_result(&deps, &by, result_id).await,
        "approve" => actions::approve_result(&deps, &by, result_id).await,
        "publish" => actions::publish_result(&deps, &by, result_id).await,
        "return" => actions::return_result(&deps, &by, result_id, list_of(field(&f, "reasons"))).await,
        "consent" => actions::consent_as_co_holder(&deps, &by, result_id).await,
        "withdraw" => actions::withdraw_result(&deps, &by, result_id, text("reason")).await,
        "notice" => match (parse_yuan(field(&f, "price_yuan")), field(&f, "days").trim().parse::<u32>()) {
            (Some(price_fen), Ok(days)) => actions::start_notice(&deps, &by, result_id, price_fen, days).await,
            (None, _) => Err(ApiError::invalid("price_yuan", "an amount in yuan")),
            (_, Err(_)) => Err(ApiError::invalid("days", "a number of days")),
        },
        "object" => actions::raise_objection(&deps, &by, result_id, text("text")).await.map(|(_, done)| done),
        "answer" => actions::answer_objection(&deps, &by, result_id, objection_id, text("answer")).await,
        "uphold" | "dismiss" => {
            let upheld = field(&f, "do") == "uphold";
            actions::resolve_objection(&deps, &by, result_id, objection_id, upheld, text("note")).await
        }
        "negotiate" => match crate::ui::negotiation::open_from_result(&deps, &who, &id, field(&f, "mode")).await {
            Ok(n) => return see_other(format!("/negotiations/{n}")),
            Err(e) => Err(e),
        },
        "auction" | "list_sale" | "register_intent" => {
            match crate::ui::negotiation::sale_action(&deps, &who, &id, field(&f, "do"), &f).await {
                Ok(Some(to)) => return see_other(to),
                Ok(None) => Ok(pb::CommandAccepted::default()),
                Err(e) => Err(e),
            }
        }
        _ => Err(ApiError::invalid("do", "not an action")),
    };
    match outcome {
        Ok(_) => see_other(format!("/results/{id}?done=1")),
        Err(e) => result_view(&deps, &headers, &id, None, errors_of(lang, e)).await,
    }
}

// ---- a new result ----

async fn new_result_page(State(deps): State<Deps>, headers: HeaderMap) -> Response {
    let Some(who) = session(&deps, &headers) else { return to_login() };
    if !who.has(Role::TechManager) {
        return message_page(&deps, &headers, StatusCode::FORBIDDEN, "forbidden");
    }
    let mut values: HashMap<String, Vec<String>> = HashMap::new();
    for (k, v) in [("trl_level", "5"), ("secrecy", "public"), ("visibility", "public"), ("route", "negotiated")] {
        values.insert(k.into(), vec![v.into()]);
    }
    result_form_view(&headers, &who, None, Vec::new(), &values)
}

/// The result form: a new result, or an edit of result `editing`.
fn result_form_view(
    headers: &HeaderMap,
    who: &Principal,
    editing: Option<&str>,
    errors: FormErrors,
    values: &HashMap<String, Vec<String>>,
) -> Response {
    let lang = Lang::from_headers(headers);
    let csrf = csrf_of(headers);
    let action = editing.map_or_else(|| "/results/new".to_owned(), |id| format!("/results/{id}/edit"));
    let content = html! {
        form method="post" action=(action) class="card wide" novalidate {
            input type="hidden" name="csrf" value=(csrf);
            (form_errors_banner(lang, &errors))
            @if let Some(general) = error_for(&errors, "") { p class="field-error" { (general) } }
            (input(lang, &errors, values, "title", "text"))
            (textarea(lang, &errors, values, "summary"))
            (select(lang, &errors, values, "field", "field", FIELDS))
            (input(lang, &errors, values, "industry", "text"))
            (input(lang, &errors, values, "keywords", "text"))
            (textarea(lang, &errors, values, "innovations"))
            (input(lang, &errors, values, "indicators", "text"))
            fieldset class="field" {
                legend { (lang.t("trl")) }
                (input(lang, &errors, values, "trl_level", "number"))
                (input(lang, &errors, values, "trl_assessor", "text"))
                (input(lang, &errors, values, "trl_assessed_on", "date"))
                (input(lang, &errors, values, "trl_evidence", "text"))
            }
            (select(lang, &errors, values, "form", "form", FORMS))
            fieldset class="field" {
                legend { (lang.t("ip_rights")) }
                (select(lang, &errors, values, "ip_kind", "ip", IP_KINDS))
                (input(lang, &errors, values, "ip_number", "text"))
                (input(lang, &errors, values, "ip_status", "text"))
            }
            (input(lang, &errors, values, "inventors", "text"))
            (select(lang, &errors, values, "secrecy", "secrecy", SECRECY))
            (checkboxes(lang, &errors, values, "modes", "mode", MODES))
            (input(lang, &errors, values, "price_yuan", "text"))
            (select(lang, &errors, values, "route", "route", ROUTES))
            (select(lang, &errors, values, "visibility", "visibility", VISIBILITY))
            button type="submit" { (lang.t(if editing.is_some() { "save" } else { "create_draft" })) }
        }
    };
    let code = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let title = lang.t(if editing.is_some() { "edit_result" } else { "new_result" });
    html_response(code, page(lang, title, Some(who), &csrf, content))
}

/// The listing a result form describes; `holders` are kept from the stored listing when editing.
fn listing_from_form(f: &HashMap<String, Vec<String>>, holders: Vec<HolderBody>) -> Result<pb::Listing, ApiError> {
    let price = field(f, "price_yuan").trim();
    let asking_price_fen = if price.is_empty() {
        None
    } else {
        Some(parse_yuan(price).ok_or_else(|| ApiError::invalid("price_yuan", "an amount in yuan"))?)
    };
    let level = field(f, "trl_level").trim().parse().map_err(|_| ApiError::invalid("trl_level", "1 to 9"))?;
    let number = field(f, "ip_number").trim();
    let body = ListingBody {
        title: field(f, "title").to_owned(),
        summary: field(f, "summary").to_owned(),
        field: field(f, "field").to_owned(),
        industry: field(f, "industry").to_owned(),
        keywords: list_of(field(f, "keywords")),
        innovations: lines_of(field(f, "innovations")),
        indicators: field(f, "indicators").to_owned(),
        trl: TrlBody {
            level,
            assessor: field(f, "trl_assessor").to_owned(),
            assessed_on: field(f, "trl_assessed_on").to_owned(),
            evidence: field(f, "trl_evidence").to_owned(),
        },
        form: field(f, "form").to_owned(),
        ip_rights: if number.is_empty() {
            Vec::new()
        } else {
            vec![IpRightBody {
                kind: field(f, "ip_kind").to_owned(),
                number: number.to_owned(),
                legal_status: field(f, "ip_status").to_owned(),
                licences_granted: 0,
                exclusive_licence_granted: false,
            }]
        },
        holders,
        inventors: list_of(field(f, "inventors")),
        secrecy: field(f, "secrecy").to_owned(),
        modes: f.get("modes").cloned().unwrap_or_default(),
        asking_price_fen,
        route: field(f, "route").to_owned(),
        visibility: field(f, "visibility").to_owned(),
    };
    if body.modes.is_empty() {
        return Err(ApiError::invalid("modes", "at least one"));
    }
    body.to_pb()
}

/// A stored listing as the result form's values.
fn form_from_listing(l: &pb::Listing) -> HashMap<String, Vec<String>> {
    let trl = l.trl.clone().unwrap_or_default();
    let ip = l.ip_rights.first().cloned().unwrap_or_default();
    let mut v: HashMap<String, Vec<String>> = [
        ("title", l.title.clone()),
        ("summary", l.summary.clone()),
        ("field", to_name(FIELDS, l.field).to_owned()),
        ("industry", l.industry.clone()),
        ("keywords", l.keywords.join("，")),
        ("innovations", l.innovations.join("\n")),
        ("indicators", l.indicators.clone()),
        ("trl_level", trl.level.to_string()),
        ("trl_assessor", trl.assessor),
        ("trl_assessed_on", trl.assessed_on),
        ("trl_evidence", trl.evidence),
        ("form", to_name(FORMS, l.form).to_owned()),
        ("ip_kind", to_name(IP_KINDS, ip.kind).to_owned()),
        ("ip_number", ip.number),
        ("ip_status", ip.legal_status),
        ("inventors", l.inventors.join("，")),
        ("secrecy", to_name(SECRECY, l.secrecy).to_owned()),
        ("price_yuan", l.asking_price_fen.map(|f| yuan(f).trim_start_matches('¥').to_owned()).unwrap_or_default()),
        ("route", to_name(ROUTES, l.route).to_owned()),
        ("visibility", to_name(VISIBILITY, l.visibility).to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), vec![v]))
    .collect();
    v.insert("modes".into(), l.modes.iter().map(|m| to_name(MODES, *m).to_owned()).collect());
    v
}

async fn new_result_submit(State(deps): State<Deps>, posted: SignedForm) -> Response {
    let SignedForm { who, form: f, lang, headers } = posted;
    if !who.has(Role::TechManager) {
        return message_page(&deps, &headers, StatusCode::FORBIDDEN, "forbidden");
    }
    let outcome = async {
        let holders = vec![HolderBody { org_id: who.org_id.clone(), share_bp: 10_000 }];
        let listing = listing_from_form(&f, holders)?;
        actions::create_result(&deps, &Acting::page(&who), listing).await
    }
    .await;
    match outcome {
        Ok((id, _)) => see_other(format!("/results/{id}")),
        Err(e) => result_form_view(&headers, &who, None, errors_of(lang, e), &f),
    }
}

async fn stored_listing(deps: &Deps, who: &Principal, id: &str) -> Result<pb::ResultView, ApiError> {
    ask(deps, pb::GetResult { asker: Some(who.actor()), result_id: id.to_owned() }).await
}

async fn edit_result_page(State(deps): State<Deps>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let Some(who) = session(&deps, &headers) else { return to_login() };
    let Ok(view) = stored_listing(&deps, &who, &id).await else {
        return message_page(&deps, &headers, StatusCode::NOT_FOUND, "not_found");
    };
    if !who.has(Role::TechManager) || who.org_id != view.owner_org_id {
        return message_page(&deps, &headers, StatusCode::FORBIDDEN, "forbidden");
    }
    let values = form_from_listing(&view.listing.unwrap_or_default());
    result_form_view(&headers, &who, Some(&id), Vec::new(), &values)
}

async fn edit_result_submit(State(deps): State<Deps>, Path(id): Path<String>, posted: SignedForm) -> Response {
    let SignedForm { who, form: f, lang, headers } = posted;
    if !who.has(Role::TechManager) {
        return message_page(&deps, &headers, StatusCode::FORBIDDEN, "forbidden");
    }
    let outcome = async {
        let view = stored_listing(&deps, &who, &id).await?;
        let holders = view
            .listing
            .unwrap_or_default()
            .holders
            .iter()
            .map(|h| HolderBody { org_id: h.org_id.clone(), share_bp: h.share_bp })
            .collect();
        let listing = listing_from_form(&f, holders)?;
        actions::edit_result(&deps, &Acting::page(&who), id.clone(), listing).await
    }
    .await;
    match outcome {
        Ok(_) => see_other(format!("/results/{id}?done=1")),
        Err(e) => result_form_view(&headers, &who, Some(&id), errors_of(lang, e), &f),
    }
}

// ---- my listings ----

async fn my_listings(State(deps): State<Deps>, headers: HeaderMap) -> Response {
    let Some(who) = session(&deps, &headers) else { return to_login() };
    let lang = Lang::from_headers(&headers);
    let csrf = csrf_of(&headers);
    let results: Result<pb::ResultList, _> = ask(
        &deps,
        pb::ListResults {
            page: crate::ui::kit::longest_page(),
            asker: Some(who.actor()),
            owner_org_id: who.org_id.clone(),
        },
    )
    .await;
    let demands: Result<pb::DemandList, _> =
        ask(&deps, pb::ListDemands { page: crate::ui::kit::longest_page(), asker: Some(who.actor()) }).await;
    let longest = crate::api::kit::ListPage { offset: None, limit: Some(ttx_kernel::bus::MAX_PAGE) };
    let notices = list_notifications(&deps, &who, longest).await;
    let (Ok(results), Ok(demands), Ok(notices)) = (results, demands, notices) else {
        return message_page(&deps, &headers, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    };
    let ours: Vec<&pb::DemandView> = demands.demands.iter().filter(|d| d.poster_org_id == who.org_id).collect();
    let content = html! {
        section aria-labelledby="notices-heading" {
            h2 id="notices-heading" { (lang.t("notifications")) }
            @if notices.notifications.is_empty() { p { (lang.t("no_notifications")) } }
            ul class="notices" { @for n in &notices.notifications {
                li { (lang.t("notification_text")) "：" a href={ "/demands/" (n.demand_id) } { (n.demand_title) } " → "
                    a href={ "/results/" (n.result_id) } { (n.result_title) } " · " (lang.t("match_score")) " " (n.score) }
            } }
        }
        section aria-labelledby="results-heading" {
            h2 id="results-heading" { (lang.t("our_results")) }
            div class="table" { table id="our-results" {
                thead { tr { th scope="col" { (lang.t("title")) } th scope="col" { (lang.t("status_label")) } th scope="col" { (lang.t("price")) } } }
                tbody { @for r in &results.results {
                    @let l = r.listing.clone().unwrap_or_default();
                    tr {
                        td { a href={ "/results/" (r.result_id) } { (l.title) } }
                        td { (label(lang, "rstatus", to_name(STATUSES, r.status))) }
                        td { (l.asking_price_fen.map_or_else(|| lang.t("negotiable").to_owned(), yuan)) }
                    }
                } }
            } }
        }
        section aria-labelledby="demands-heading" {
            h2 id="demands-heading" { (lang.t("our_demands")) }
            (demand_table(lang, &ours))
        }
    };
    html_response(StatusCode::OK, page(lang, lang.t("my_listings"), Some(&who), &csrf, content))
}

fn demand_status(status: i32) -> &'static str {
    match pb::DemandStatus::try_from(status).unwrap_or_default() {
        pb::DemandStatus::Open => "open",
        pb::DemandStatus::Awarded => "awarded",
        pb::DemandStatus::Withdrawn => "withdrawn",
        pb::DemandStatus::Expired => "expired",
        pb::DemandStatus::Unspecified => "open",
    }
}

fn demand_table(lang: Lang, demands: &[&pb::DemandView]) -> Markup {
    html! {
        div class="table" { table {
            thead { tr {
                th scope="col" { (lang.t("title")) } th scope="col" { (lang.t("field")) } th scope="col" { (lang.t("budget")) }
                th scope="col" { "TRL" } th scope="col" { (lang.t("status_label")) }
            } }
            tbody { @for d in demands {
                @let body = d.demand.clone().unwrap_or_default();
                tr {
                    td { a href={ "/demands/" (d.demand_id) } { (body.title) } @if d.challenge.is_some() { " " span class="badge" { (lang.t("challenge")) } } }
                    td { (label(lang, "field", to_name(FIELDS, body.field))) }
                    td { (yuan(body.budget_fen)) }
                    td { (body.wanted_trl) }
                    td { (label(lang, "dstatus", demand_status(d.status))) }
                }
            } }
        } }
    }
}

// ---- demands ----

async fn demands_page(State(deps): State<Deps>, headers: HeaderMap) -> Response {
    let Some(who) = session(&deps, &headers) else { return to_login() };
    let lang = Lang::from_headers(&headers);
    let csrf = csrf_of(&headers);
    let Ok(list) = ask(&deps, pb::ListDemands { page: crate::ui::kit::longest_page(), asker: Some(who.actor()) }).await
    else {
        return message_page(&deps, &headers, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    };
    let all: Vec<&pb::DemandView> = list.demands.iter().collect();
    let content = html! {
        @if who.has(Role::EnterpriseMember) { p { a class="button" href="/demands/new" { (lang.t("new_demand")) } } }
        (demand_table(lang, &all))
    };
    html_response(StatusCode::OK, page(lang, lang.t("demands"), Some(&who), &csrf, content))
}

async fn demand_page(State(deps): State<Deps>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    demand_view(&deps, &headers, &id, Vec::new()).await
}

async fn demand_view(deps: &Deps, headers: &HeaderMap, id: &str, errors: FormErrors) -> Response {
    let Some(who) = session(deps, headers) else { return to_login() };
    let lang = Lang::from_headers(headers);
    let csrf = csrf_of(headers);
    let view: pb::DemandView =
        match ask(deps, pb::GetDemand { asker: Some(who.actor()), demand_id: id.to_owned() }).await {
            Ok(v) => v,
            Err(e) if e.status == StatusCode::NOT_FOUND => {
                return message_page(deps, headers, StatusCode::NOT_FOUND, "not_found");
            }
            Err(_) => return message_page(deps, headers, StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        };
    let d = view.demand.clone().unwrap_or_default();
    let poster = who.org_id == view.poster_org_id;
    let open = demand_status(view.status) == "open";
    let matches =
        if poster { find_matches(deps, who.actor(), id.to_owned(), String::new(), &None).await.ok() } else { None };
    let time =
        |t: &Option<prost_types::Timestamp>| t.as_ref().map(|t| beijing(Timestamp::from_proto(t))).unwrap_or_default();
    let mut shown = vec![view.poster_org_id.clone()];
    shown.extend(view.applications.iter().map(|a| a.applicant_org_id.clone()));
    let names = org_names(deps, shown).await;
    let action = format!("/demands/{id}");
    let applied = view.applications.iter().any(|a| a.applicant_org_id == who.org_id);
    let content = html! {
        (form_errors_banner(lang, &errors))
        @for (_, m) in &errors { p class="field-error" { (m) } }
        p { span class="badge" { (label(lang, "dstatus", demand_status(view.status))) } }
        dl class="facts" {
            dt { (lang.t("problem")) } dd { (d.problem) }
            dt { (lang.t("field")) } dd { (label(lang, "field", to_name(FIELDS, d.field))) }
            @if !d.indicators.is_empty() { dt { (lang.t("indicators")) } dd { (d.indicators) } }
            @if !d.existing_conditions.is_empty() { dt { (lang.t("existing_conditions")) } dd { (d.existing_conditions) } }
            dt { (lang.t("budget")) } dd { (yuan(d.budget_fen)) }
            @if !d.cooperation_mode.is_empty() { dt { (lang.t("cooperation_mode")) } dd { (d.cooperation_mode) } }
            dt { "TRL" } dd { (d.wanted_trl) }
            dt { (lang.t("valid_until")) } dd { (time(&d.valid_until)) }
            dt { (lang.t("organisation")) } dd { (name_of(&names, &view.poster_org_id)) }
        }
        @if let Some(c) = &view.challenge {
            section aria-labelledby="challenge-heading" {
                h2 id="challenge-heading" { (lang.t("challenge")) }
                p { (lang.t("deadline")) "：" (time(&c.deadline)) }
                ol { @for i in &c.indicators { li { (i) } } }
                @if open && !poster && !applied && !who.has(Role::Regulator) {
                    form method="post" action=(action) class="card" {
                        input type="hidden" name="csrf" value=(csrf);
                        input type="hidden" name="do" value="apply";
                        @for (i, indicator) in c.indicators.iter().enumerate() {
                            label for={ "answer-" (i) } { (indicator) }
                            input id={ "answer-" (i) } name="answer" type="text" required;
                        }
                        button type="submit" { (lang.t("do.apply")) }
                    }
                }
                h3 { (lang.t("applications")) }
                @if view.applications.is_empty() { p { (lang.t("no_applications")) } }
                @for a in &view.applications {
                    article class="objection" {
                        p { strong { (name_of(&names, &a.applicant_org_id)) } " " span class="badge" { (label(lang, "astatus", &a.status)) } }
                        ol { @for answer in &a.answers { li { (answer) } } }
                        @if poster && open {
                            form method="post" action=(action) class="inline" {
                                input type="hidden" name="csrf" value=(csrf);
                                input type="hidden" name="application_id" value=(a.application_id);
                                @if a.status == "submitted" { button type="submit" name="do" value="shortlist" { (lang.t("do.shortlist")) } }
                                @if a.status == "shortlisted" { button type="submit" name="do" value="award" { (lang.t("do.award")) } }
                            }
                        }
                    }
                }
            }
        }
        @if let Some(m) = &matches { (matches_table(lang, "results", &m.matches)) }
    };
    let code = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    html_response(code, page(lang, &d.title, Some(&who), &csrf, content))
}

async fn demand_action(State(deps): State<Deps>, Path(id): Path<String>, posted: SignedForm) -> Response {
    let SignedForm { who, form: f, lang, headers } = posted;
    let by = Acting::page(&who);
    let demand_id = id.clone();
    let application_id = field(&f, "application_id").to_owned();
    let outcome: Result<pb::CommandAccepted, ApiError> = match field(&f, "do") {
        "apply" => {
            let answers = f.get("answer").cloned().unwrap_or_default();
            actions::apply_to_challenge(&deps, &by, demand_id, answers).await.map(|(_, done)| done)
        }
        "shortlist" => actions::shortlist_application(&deps, &by, demand_id, application_id).await,
        "award" => actions::award_challenge(&deps, &by, demand_id, application_id).await,
        _ => Err(ApiError::invalid("do", "not an action")),
    };
    match outcome {
        Ok(_) => see_other(format!("/demands/{id}")),
        Err(e) => demand_view(&deps, &headers, &id, errors_of(lang, e)).await,
    }
}

async fn new_demand_page(State(deps): State<Deps>, headers: HeaderMap) -> Response {
    let Some(who) = session(&deps, &headers) else { return to_login() };
    if !who.has(Role::EnterpriseMember) {
        return message_page(&deps, &headers, StatusCode::FORBIDDEN, "forbidden");
    }
    let mut values: HashMap<String, Vec<String>> = HashMap::new();
    values.insert("wanted_trl".into(), vec!["6".into()]);
    new_demand_view(&headers, &who, Vec::new(), &values)
}

fn new_demand_view(
    headers: &HeaderMap,
    who: &Principal,
    errors: FormErrors,
    values: &HashMap<String, Vec<String>>,
) -> Response {
    let lang = Lang::from_headers(headers);
    let csrf = csrf_of(headers);
    let content = html! {
        form method="post" action="/demands/new" class="card wide" novalidate {
            input type="hidden" name="csrf" value=(csrf);
            (form_errors_banner(lang, &errors))
            @if let Some(general) = error_for(&errors, "") { p class="field-error" { (general) } }
            (input(lang, &errors, values, "title", "text"))
            (select(lang, &errors, values, "field", "field", FIELDS))
            (textarea(lang, &errors, values, "problem"))
            (input(lang, &errors, values, "indicators", "text"))
            (input(lang, &errors, values, "existing_conditions", "text"))
            (input(lang, &errors, values, "budget_yuan", "text"))
            (input(lang, &errors, values, "cooperation_mode", "text"))
            (input(lang, &errors, values, "wanted_trl", "number"))
            (input(lang, &errors, values, "valid_until", "date"))
            fieldset class="field" {
                legend { (lang.t("challenge")) }
                label class="check" { input type="checkbox" name="is_challenge" value="1" checked[field(values, "is_challenge") == "1"]; " " (lang.t("is_challenge")) }
                (textarea(lang, &errors, values, "challenge_indicators"))
                (input(lang, &errors, values, "deadline", "date"))
            }
            button type="submit" { (lang.t("post_demand")) }
        }
    };
    let code = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    html_response(code, page(lang, lang.t("new_demand"), Some(who), &csrf, content))
}

/// A date from a form (YYYY-MM-DD) as the end of that day in China (23:59:59 +08:00).
fn end_of_day(field_name: &str, s: &str) -> Result<prost_types::Timestamp, ApiError> {
    Timestamp::parse_rfc3339(&format!("{}T15:59:59Z", s.trim()))
        .map(Timestamp::to_proto)
        .ok_or_else(|| ApiError::invalid(field_name, "a date"))
}

async fn new_demand_submit(State(deps): State<Deps>, posted: SignedForm) -> Response {
    let SignedForm { who, form: f, lang, headers } = posted;
    if !who.has(Role::EnterpriseMember) {
        return message_page(&deps, &headers, StatusCode::FORBIDDEN, "forbidden");
    }
    let outcome = async {
        let budget_fen = parse_yuan(field(&f, "budget_yuan"))
            .ok_or_else(|| ApiError::invalid("budget_yuan", "an amount in yuan"))?;
        let wanted_trl =
            field(&f, "wanted_trl").trim().parse().map_err(|_| ApiError::invalid("wanted_trl", "1 to 9"))?;
        let challenge = if field(&f, "is_challenge") == "1" {
            Some(pb::ChallengeTerms {
                indicators: lines_of(field(&f, "challenge_indicators")),
                deadline: Some(end_of_day("deadline", field(&f, "deadline"))?),
            })
        } else {
            None
        };
        let demand = pb::Demand {
            title: field(&f, "title").to_owned(),
            field: to_wire(FIELDS, "field", field(&f, "field"))?,
            indicators: field(&f, "indicators").to_owned(),
            problem: field(&f, "problem").to_owned(),
            existing_conditions: field(&f, "existing_conditions").to_owned(),
            budget_fen,
            cooperation_mode: field(&f, "cooperation_mode").to_owned(),
            wanted_trl,
            valid_until: Some(end_of_day("valid_until", field(&f, "valid_until"))?),
        };
        actions::post_demand(&deps, &Acting::page(&who), demand, challenge).await
    }
    .await;
    match outcome {
        Ok((id, _)) => see_other(format!("/demands/{id}")),
        Err(e) => new_demand_view(&headers, &who, errors_of(lang, e), &f),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuan_reads_and_writes_exact_amounts() {
        assert_eq!(yuan(500_000_000), "¥5,000,000");
        assert_eq!(yuan(1_250), "¥12.50");
        assert_eq!(yuan(5), "¥0.05");
        assert_eq!(parse_yuan("5,000,000"), Some(500_000_000));
        assert_eq!(beijing(Timestamp::from_unix_micros(1_790_000_000_000_000)), "2026-09-21 22:13");
        assert_eq!(parse_yuan("12.5"), Some(1_250));
        assert_eq!(parse_yuan("0.05"), Some(5));
        for bad in ["", "-1", "1.234", "abc", "1e5", ".5"] {
            assert_eq!(parse_yuan(bad), None, "{bad}");
        }
    }

    #[test]
    fn service_field_paths_become_form_names() {
        assert_eq!(form_field("listing.trl.level"), "trl_level");
        assert_eq!(form_field("listing.modes[0]"), "modes");
        assert_eq!(form_field("listing.asking_price_fen"), "price_yuan");
        assert_eq!(form_field("listing.ip_rights[0].number"), "ip_number");
        assert_eq!(form_field("demand.budget_fen"), "budget_yuan");
        assert_eq!(form_field("challenge.indicators[1]"), "challenge_indicators");
    }
}
