//! The negotiation pages: bidding sessions (the auction page updates live by server-sent events and counts down by the
//! server's clock; sealed bids are committed from the browser, so the amount never leaves it before the reveal) and
//! the negotiation room, where term-sheet versions stand side by side with their differences marked.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use maud::{Markup, html};
use ttx_kernel::Timestamp;
use ttx_proto::common::v1::Role;
use ttx_proto::negotiation::v1::{self as pb};

use crate::Deps;
use crate::actions::{self, Acting};
use crate::api::kit::ask;
use crate::api::negotiation::{fetch_session, session_view};
use crate::api::results::{MODES, to_name, to_wire};
use crate::auth::{CSRF_COOKIE, Principal, cookie};
use crate::i18n::Lang;
use crate::problem::ApiError;
use crate::ui::kit::*;

pub fn routes() -> Router<Deps> {
    Router::new()
        .route("/sessions", get(sessions_page))
        .route("/refunds/overdue", get(overdue_refunds_page))
        .route("/sessions/{id}", get(session_page).post(session_action))
        .route("/sessions/{id}/live", get(session_live))
        .route("/negotiations/{id}", get(negotiation_page).post(negotiation_action))
}

fn rfc3339(t: &Option<prost_types::Timestamp>) -> String {
    t.as_ref().map(|t| Timestamp::from_proto(t).to_string()).unwrap_or_default()
}

// ---- sessions ----

async fn sessions_page(State(deps): State<Deps>, headers: HeaderMap) -> Response {
    let Some(who) = session(&deps, &headers) else { return to_login() };
    let lang = Lang::from_headers(&headers);
    let csrf = cookie(&headers, CSRF_COOKIE).unwrap_or_default();
    let Ok(list) = ask(
        &deps,
        pb::ListSessions { page: crate::ui::kit::longest_page(), asker: Some(who.actor()), result_id: String::new() },
    )
    .await
    else {
        return message_page(&deps, &headers, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    };
    let content = html! {
        @if list.sessions.is_empty() { p { (lang.t("no_sessions")) } }
        div class="table" { table id="sessions" {
            thead { tr {
                th scope="col" { (lang.t("session")) } th scope="col" { (lang.t("phase")) }
                th scope="col" { (lang.t("start_price")) } th scope="col" { (lang.t("high")) } th scope="col" { (lang.t("ends_at")) }
            } }
            tbody { @for s in &list.sessions {
                @let rules = s.rules.clone().unwrap_or_default();
                tr {
                    td { a href={ "/sessions/" (s.session_id) } { (if s.result_title.is_empty() { &s.result_id } else { &s.result_title }) @if rules.sealed { " " span class="badge" { (lang.t("sealed")) } } } }
                    td { (label(lang, "phase", &s.phase)) }
                    td { (yuan(rules.start_price_fen)) }
                    td { (s.bids.last().map_or_else(|| "—".to_owned(), |b| yuan(b.amount_fen))) }
                    td { (when(&s.ends_at)) }
                }
            } }
        } }
    };
    html_response(StatusCode::OK, page(lang, lang.t("sessions"), Some(&who), &csrf, content))
}

/// Deposits due back and not refunded by their due date (administrators and regulators).
async fn overdue_refunds_page(State(deps): State<Deps>, headers: HeaderMap) -> Response {
    let Some(who) = session(&deps, &headers) else { return to_login() };
    let lang = Lang::from_headers(&headers);
    let csrf = cookie(&headers, CSRF_COOKIE).unwrap_or_default();
    let list = match crate::api::negotiation::fetch_overdue_refunds(&deps, &who).await {
        Ok(list) => list,
        Err(e) if e.status == StatusCode::FORBIDDEN => {
            return message_page(&deps, &headers, StatusCode::FORBIDDEN, "forbidden");
        }
        Err(_) => return message_page(&deps, &headers, StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
    };
    let content = html! {
        @if list.refunds.is_empty() { p { (lang.t("no_overdue_refunds")) } } @else {
            div class="table" { table id="overdue-refunds" {
                thead { tr {
                    th scope="col" { (lang.t("session")) } th scope="col" { (lang.t("bidder")) }
                    th scope="col" { (lang.t("amount")) } th scope="col" { (lang.t("refunds_due_by")) }
                } }
                tbody { @for r in &list.refunds {
                    tr {
                        td { a href={ "/sessions/" (r.session_id) } { (r.session_id) } }
                        td { (r.bidder_org_id) }
                        td { (yuan(r.amount_fen)) }
                        td { (when(&r.due_by)) }
                    }
                } }
            } }
            @if list.total as usize > list.refunds.len() { p { (list.refunds.len()) " / " (list.total) } }
        }
    };
    html_response(StatusCode::OK, page(lang, lang.t("overdue_refunds"), Some(&who), &csrf, content))
}

async fn session_page(State(deps): State<Deps>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    session_view_page(&deps, &headers, &id, Vec::new()).await
}

/// The live part of the auction page: the high, the end, the bids. Rendered on the server and, as JSON, pushed to it.
fn live_part(lang: Lang, v: &pb::SessionView) -> Markup {
    html! {
        dl class="facts" id="live" data-version=(v.version) {
            dt { (lang.t("phase")) } dd id="phase" { (label(lang, "phase", &v.phase)) }
            dt { (lang.t("high")) } dd id="high" { (v.bids.last().map_or_else(|| "—".to_owned(), |b| yuan(b.amount_fen))) }
            dt { (lang.t("ends_at")) } dd { time id="ends" datetime=(rfc3339(&v.ends_at)) { (when(&v.ends_at)) } }
            dt { (lang.t("time_left")) } dd { span id="countdown" { "…" } }
            dt { (lang.t("server_time")) } dd { time id="server-time" datetime=(rfc3339(&v.server_time)) { (when(&v.server_time)) } }
        }
        ol id="bids" reversed start=(v.bid_count) {
            @for b in v.bids.iter().rev() {
                li class=[b.mine.then_some("mine")] { (yuan(b.amount_fen)) " · " (b.bidder) }
            }
        }
    }
}

async fn session_view_page(deps: &Deps, headers: &HeaderMap, id: &str, errors: FormErrors) -> Response {
    let Some(who) = session(deps, headers) else { return to_login() };
    let lang = Lang::from_headers(headers);
    let csrf = cookie(headers, CSRF_COOKIE).unwrap_or_default();
    let v = match fetch_session(deps, &who, id.to_owned()).await {
        Ok(v) => v,
        Err(e) if e.status == StatusCode::NOT_FOUND => {
            return message_page(deps, headers, StatusCode::NOT_FOUND, "not_found");
        }
        Err(_) => return message_page(deps, headers, StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
    };
    let rules = v.rules.clone().unwrap_or_default();
    let bidder = who.has(Role::EnterpriseMember) && who.org_id != v.seller_org_id;
    let next = v.bids.last().map_or(rules.start_price_fen, |b| b.amount_fen + rules.increment_fen);
    let action = format!("/sessions/{id}");
    let hidden = html! { input type="hidden" name="csrf" value=(csrf); };
    let content = html! {
        (form_errors_banner(lang, &errors))
        @for (_, m) in &errors { p class="field-error" { (m) } }
        section id="auction" data-live={ "/sessions/" (id) "/live" } data-increment=(rules.increment_fen)
            data-session=(v.session_id) data-bidder=(who.org_id)
            data-phaseopen=(label(lang, "phase", "open")) data-phaserevealing=(label(lang, "phase", "revealing"))
            data-phaseclosed=(label(lang, "phase", "closed")) {
            dl class="facts" {
                dt { (lang.t("result")) } dd { a href={ "/results/" (v.result_id) } id="result-link" { (if v.result_title.is_empty() { &v.result_id } else { &v.result_title }) } }
                dt { (lang.t("start_price")) } dd { (yuan(rules.start_price_fen)) }
                dt { (lang.t("increment")) } dd { (yuan(rules.increment_fen)) }
                dt { (lang.t("deposit")) } dd { (yuan(rules.deposit_fen)) }
                dt { (lang.t("bidding_window")) } dd { (when(&rules.bidding_opens)) " — " (when(&rules.bidding_closes)) }
                dt { (lang.t("anti_sniping")) } dd { (label(lang, "anti", &rules.anti_sniping)) " (" (rules.window_seconds / 60) " " (lang.t("minutes")) ")" }
                @if let Some(r) = rules.reserve_fen { dt { (lang.t("reserve")) } dd { (yuan(r)) } }
                @if rules.sealed { dt { (lang.t("sealed")) } dd { (lang.t("sealed_explained")) " · " (v.commitments) } }
                @if rules.one_shot { dt { (lang.t("one_shot")) } dd { (lang.t("one_shot_explained")) } }
                @if let Some(t) = &v.terms {
                    dt { (lang.t("modes")) } dd id="session-mode" { (label(lang, "mode", to_name(MODES, t.mode))) }
                    dt { (lang.t("payments")) } dd id="session-schedule" { (crate::ui::terms::schedule_text(lang, t)) }
                }
                dt { (lang.t("bidders")) } dd { (v.bidders) }
                @if !v.my_deposit.is_empty() { dt { (lang.t("my_deposit")) } dd id="my-deposit" { (label(lang, "deposit", &v.my_deposit)) } }
            }
            (live_part(lang, &v))
            @if let Some(o) = &v.outcome {
                p class="notice" id="outcome" {
                    @if o.sold { (lang.t("sold_to")) " " (o.winner_org_id) " · " (yuan(o.price_fen)) } @else { (lang.t("not_sold")) " (" (o.reason) ")" }
                    @if !o.refunds_due.is_empty() { " · " (lang.t("refunds_due_by")) " " (when(&o.refunds_due_by)) }
                }
            }
            @if let Some(c) = &v.cancellation {
                p class="notice" id="cancelled" {
                    (label(lang, "phase", "cancelled")) " · " (c.reason) " · " (lang.t("refunds_due_by")) " " (when(&c.refunds_due_by))
                }
            }
            @if let Some(d) = &v.deal {
                p class="notice" id="contract" {
                    (lang.t("contract_due")) " " (when(&d.contract_due)) " · "
                    @if d.deposit_credited_fen > 0 { (lang.t("deposit_credited")) " " (yuan(d.deposit_credited_fen)) " · " }
                    @if !v.contract_reference.is_empty() { (lang.t("contract_signed")) " " (v.contract_reference) }
                    @else if v.phase == "defaulted" { (lang.t("winner_defaulted")) }
                    @else { (lang.t("contract_awaited")) }
                }
                @if who.has(Role::Admin) && v.phase == "closed" && v.contract_reference.is_empty() {
                    form method="post" action=(action) class="inline" id="signed-form" {
                        (hidden) input type="hidden" name="do" value="signed";
                        label for="contract_reference" { (lang.t("contract_reference")) }
                        input id="contract_reference" name="reference" type="text" required;
                        button type="submit" { (lang.t("do.record_signed")) }
                    }
                }
            }
            @if bidder && v.phase == "open" {
                div class="actions" {
                    @if !v.registered {
                        form method="post" action=(action) { (hidden) button type="submit" name="do" value="register" { (lang.t("do.register")) } }
                    } @else if v.my_deposit != "confirmed" {
                        p { (lang.t("awaiting_deposit")) }
                    } @else if rules.sealed {
                        @if v.committed { p id="committed" { (lang.t("committed")) } } @else {
                            form method="post" action=(action) class="inline" id="commit-form" {
                                (hidden) input type="hidden" name="do" value="commit";
                                input type="hidden" name="commitment" id="commitment";
                                label for="sealed-amount" { (lang.t("amount_yuan")) }
                                input id="sealed-amount" type="text" inputmode="decimal" required;
                                button type="submit" { (lang.t("do.commit")) }
                            }
                        }
                    } @else {
                        form method="post" action=(action) class="inline" id="bid-form" {
                            (hidden) input type="hidden" name="do" value="bid";
                            label for="amount" { (lang.t("amount_yuan")) }
                            input id="amount" name="amount_yuan" type="text" inputmode="decimal" required value=(yuan(next).trim_start_matches('¥').replace(',', ""));
                            button type="submit" { (lang.t("do.bid")) }
                        }
                    }
                }
            }
            @if bidder && v.phase == "revealing" && v.committed {
                form method="post" action=(action) class="inline" id="reveal-form" {
                    (hidden) input type="hidden" name="do" value="reveal";
                    label for="reveal-amount" { (lang.t("amount_fen")) }
                    input id="reveal-amount" name="amount_fen" type="text" required;
                    label for="reveal-nonce" { (lang.t("nonce")) }
                    input id="reveal-nonce" name="nonce" type="text" required;
                    button type="submit" { (lang.t("do.reveal")) }
                }
            }
            @if who.has(Role::Admin) && v.phase == "open" {
                form method="post" action=(action) class="inline" {
                    (hidden) input type="hidden" name="do" value="deposit";
                    label for="bidder_org_id" { (lang.t("bidder_org")) }
                    input id="bidder_org_id" name="bidder_org_id" type="text" required;
                    label for="deposit_yuan" { (lang.t("amount_yuan")) }
                    input id="deposit_yuan" name="amount_yuan" type="text" required value=(yuan(rules.deposit_fen).trim_start_matches('¥').replace(',', ""));
                    input type="hidden" name="reference" value="manual";
                    button type="submit" { (lang.t("do.confirm_deposit")) }
                }
            }
        }
        script src="/static/js/auction.js" defer {}
    };
    let code = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    html_response(code, page(lang, lang.t("auction"), Some(&who), &csrf, content))
}

/// Server-sent events: the session as JSON whenever it changes, and its last state again every
/// [`RESEND_EVERY`] with the server's time. The gateway waits for negotiation's change notices
/// (`ttx.negotiation.chg.session.<id>`) and asks for the session only when one names a version not shown yet: an open
/// page costs no request while nothing changes.
async fn session_live(State(deps): State<Deps>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let Some(who) = session(&deps, &headers) else { return StatusCode::UNAUTHORIZED.into_response() };
    // Listening before the first read, so no change falls between the two.
    let subject = format!("{}.{id}", pb::subjects::SESSION_CHANGED_PREFIX);
    let Ok(changes) = deps.bus.subscribe(&subject).await else {
        return ApiError::not_found("no such session").into_response();
    };
    let live = Live { deps, who, id, changes, shown: None };
    let stream = futures::stream::unfold(live, |mut live| async move {
        let event = live.next().await?;
        Some((Ok::<_, Infallible>(event), live))
    });
    Sse::new(stream).keep_alive(KeepAlive::default()).into_response()
}

/// How often a live page gets the session again though nothing changed, to keep its clock in step.
const RESEND_EVERY: Duration = Duration::from_secs(15);

/// One live auction page's stream.
struct Live {
    deps: Deps,
    who: Principal,
    id: String,
    changes: ttx_kernel::bus::Subscriber,
    /// The version shown last, and what was sent.
    shown: Option<(u64, crate::api::negotiation::SessionView)>,
}

impl Live {
    /// The next event to send, or `None` when the stream ends (the session is gone or the bus is).
    async fn next(&mut self) -> Option<Event> {
        loop {
            let Some((version, view)) = &mut self.shown else {
                return self.fetch().await;
            };
            tokio::select! {
                notice = self.changes.next() => {
                    let notice = notice?;
                    let announced = <[u8; 8]>::try_from(notice.payload.as_ref()).map_or(u64::MAX, u64::from_be_bytes);
                    if announced > *version {
                        return self.fetch().await;
                    }
                }
                () = tokio::time::sleep(RESEND_EVERY) => {
                    let now = Timestamp::from_unix_micros(self.deps.auth.now_unix().saturating_mul(1_000_000));
                    view.server_time = Some(now.to_string());
                    return Some(Self::event(view));
                }
            }
        }
    }

    async fn fetch(&mut self) -> Option<Event> {
        let v = fetch_session(&self.deps, &self.who, self.id.clone()).await.ok()?;
        let view = session_view(&v);
        let event = Self::event(&view);
        self.shown = Some((v.version, view));
        Some(event)
    }

    fn event(view: &crate::api::negotiation::SessionView) -> Event {
        Event::default().event("session").data(serde_json::to_string(view).unwrap_or_default())
    }
}

async fn session_action(State(deps): State<Deps>, Path(id): Path<String>, posted: SignedForm) -> Response {
    let SignedForm { who, form: f, lang, headers } = posted;
    let by = Acting::page(&who);
    let session_id = id.clone();
    let text = |name: &str| field(&f, name).to_owned();
    let outcome: Result<pb::CommandAccepted, ApiError> = match field(&f, "do") {
        "register" => actions::register_bidder(&deps, &by, session_id).await,
        "bid" => match parse_yuan(field(&f, "amount_yuan")) {
            Some(amount_fen) => actions::place_bid(&deps, &by, session_id, amount_fen).await,
            None => Err(ApiError::invalid("amount_yuan", "an amount in yuan")),
        },
        "commit" => actions::commit_bid(&deps, &by, session_id, text("commitment")).await,
        "reveal" => match field(&f, "amount_fen").trim().parse::<i64>() {
            Ok(amount_fen) => actions::reveal_bid(&deps, &by, session_id, amount_fen, text("nonce")).await,
            Err(_) => Err(ApiError::invalid("amount_fen", "a whole number of fen")),
        },
        "deposit" => match parse_yuan(field(&f, "amount_yuan")) {
            Some(amount_fen) => {
                let bidder = field(&f, "bidder_org_id").trim().to_owned();
                actions::confirm_deposit(&deps, &by, session_id, bidder, amount_fen, text("reference")).await
            }
            None => Err(ApiError::invalid("amount_yuan", "an amount in yuan")),
        },
        "signed" => actions::record_signed(&deps, &by, session_id, field(&f, "reference").trim().to_owned()).await,
        _ => Err(ApiError::invalid("do", "not an action")),
    };
    match outcome {
        Ok(_) => Redirect::to(&format!("/sessions/{id}")).into_response(),
        Err(e) => session_view_page(&deps, &headers, &id, api_errors(lang, e)).await,
    }
}

// ---- the negotiation room ----

/// The rows of a term sheet as the room shows them.
fn term_rows(lang: Lang, t: &pb::TermSheet) -> Vec<(&'static str, String)> {
    vec![
        ("modes", label(lang, "mode", to_name(MODES, t.mode))),
        ("term_price", yuan(t.price_fen)),
        ("payments", crate::ui::terms::schedule_text(lang, t)),
        ("territory", t.territory.clone()),
        ("term_months", t.term_months.to_string()),
        ("field_of_use", t.field_of_use.clone()),
        ("exclusive", lang.t(if t.exclusive { "yes" } else { "no" }).to_owned()),
    ]
}

async fn negotiation_page(State(deps): State<Deps>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    negotiation_view(&deps, &headers, &id, Vec::new()).await
}

async fn negotiation_view(deps: &Deps, headers: &HeaderMap, id: &str, errors: FormErrors) -> Response {
    let Some(who) = session(deps, headers) else { return to_login() };
    let lang = Lang::from_headers(headers);
    let csrf = cookie(headers, CSRF_COOKIE).unwrap_or_default();
    let q = pb::GetNegotiation {
        asker: Some(who.actor()),
        negotiation_id: id.to_owned(),
        offers_offset: 0,
        offers_limit: 0,
    };
    let v: pb::NegotiationView = match ask(deps, q).await {
        Ok(v) => v,
        Err(e) if e.status == StatusCode::NOT_FOUND => {
            return message_page(deps, headers, StatusCode::NOT_FOUND, "not_found");
        }
        Err(_) => return message_page(deps, headers, StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
    };
    let party = who.org_id == v.buyer_org_id || who.org_id == v.seller_org_id;
    let latest = v.offers.last();
    let can_accept = party && v.status == "open" && latest.is_some_and(|o| o.by_org_id != who.org_id);
    let rows: Vec<Vec<(&'static str, String)>> =
        v.offers.iter().map(|o| term_rows(lang, &o.terms.clone().unwrap_or_default())).collect();
    let last_terms = latest.and_then(|o| o.terms.clone()).unwrap_or_default();
    // The first offer starts from the mode the negotiation was opened for; later ones from the latest version.
    let offer_terms =
        if latest.is_some() { last_terms.clone() } else { pb::TermSheet { mode: v.mode, ..Default::default() } };
    let offer_modes: Vec<i32> = Vec::new();
    let action = format!("/negotiations/{id}");
    let content = html! {
        (form_errors_banner(lang, &errors))
        @for (_, m) in &errors { p class="field-error" { (m) } }
        p { span class="badge" id="negotiation-status" { (label(lang, "nstatus", &v.status)) } " "
            (lang.t("result")) "：" a href={ "/results/" (v.result_id) } { (v.result_id) } }
        @if let Some(d) = &v.deal {
            p class="notice" id="deal" { (lang.t("deal_agreed")) " · " (yuan(d.price_fen)) " · " (lang.t("contract_due")) " " (when(&d.contract_due)) }
        }
        @if v.offers.is_empty() { p { (lang.t("no_offers")) } } @else {
            div class="table" { table id="versions" {
                thead { tr {
                    th scope="col" { (lang.t("term")) }
                    @for o in &v.offers { th scope="col" { "v" (o.version) " · " (if o.by_org_id == v.buyer_org_id { lang.t("buyer") } else { lang.t("seller") }) } }
                } }
                tbody {
                    @for (i, (key, _)) in rows[0].iter().enumerate() {
                        tr {
                            th scope="row" { (lang.t(key)) }
                            @for (n, r) in rows.iter().enumerate() {
                                @let changed = n > 0 && rows[n - 1][i].1 != r[i].1;
                                td class=[changed.then_some("changed")] { (r[i].1) }
                            }
                        }
                    }
                }
            } }
        }
        @if party && v.status == "open" {
            section aria-labelledby="offer-heading" {
                h2 id="offer-heading" { (lang.t("new_version")) }
                form method="post" action=(action) class="card" {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="do" value="offer";
                    label for="price_yuan" { (lang.t("term_price")) }
                    input id="price_yuan" name="price_yuan" type="text" required value=(if last_terms.price_fen > 0 { format!("{}.{:02}", last_terms.price_fen / 100, last_terms.price_fen % 100) } else { String::new() });
                    (crate::ui::terms::fields(lang, &offer_modes, &offer_terms, false))
                    button type="submit" { (lang.t("do.offer")) }
                }
            }
        }
        @if can_accept {
            form method="post" action=(action) {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="do" value="accept";
                input type="hidden" name="version" value=(latest.map_or(0, |o| o.version));
                button type="submit" class="button" { (lang.t("do.accept")) " v" (latest.map_or(0, |o| o.version)) }
            }
        }
    };
    let code = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    html_response(code, page(lang, lang.t("negotiation_room"), Some(&who), &csrf, content))
}

async fn negotiation_action(State(deps): State<Deps>, Path(id): Path<String>, posted: SignedForm) -> Response {
    let SignedForm { who, form: f, lang, headers } = posted;
    let by = Acting::page(&who);
    let negotiation_id = id.clone();
    let outcome: Result<pb::CommandAccepted, ApiError> = match field(&f, "do") {
        "offer" => {
            let terms = parse_yuan(field(&f, "price_yuan"))
                .ok_or_else(|| ApiError::invalid("price_yuan", "an amount in yuan"))
                .and_then(|price| crate::ui::terms::from_form(&f, price, false));
            match terms {
                Ok(terms) => actions::make_offer(&deps, &by, negotiation_id, terms).await,
                Err(e) => Err(e),
            }
        }
        "accept" => {
            let version = field(&f, "version").parse().unwrap_or(0);
            actions::accept_offer(&deps, &by, negotiation_id, version).await
        }
        _ => Err(ApiError::invalid("do", "not an action")),
    };
    match outcome {
        Ok(_) => Redirect::to(&format!("/negotiations/{id}")).into_response(),
        Err(e) => negotiation_view(&deps, &headers, &id, api_errors(lang, e)).await,
    }
}

/// Opens a negotiation on a result for the caller's enterprise, in the mode chosen; the result page's button.
pub async fn open_from_result(deps: &Deps, who: &Principal, result_id: &str, mode: &str) -> Result<String, ApiError> {
    let mode = to_wire(MODES, "mode", mode)?;
    Ok(actions::open_negotiation(deps, &Acting::page(who), result_id.to_owned(), mode).await?.0)
}

// ---- selling from the result's page ----

/// The listed-price sales and the bidding sessions of one result.
#[derive(Debug, Default)]
pub struct Sales {
    pub listings: Vec<pb::ListingView>,
    pub sessions: Vec<pb::SessionView>,
}

pub async fn sales_of(deps: &Deps, asker: ttx_proto::common::v1::Actor, result_id: &str) -> Sales {
    // The newest of this result's, as many as one answer holds, in one request.
    let sales = ask(deps, pb::ListSales { asker: Some(asker), result_id: result_id.to_owned() }).await;
    let sales = sales.unwrap_or_default();
    Sales { listings: sales.listings, sessions: sales.sessions }
}

/// The result page's part for the listed-price and auction routes: what is on sale, and the forms to sell or buy.
#[allow(clippy::too_many_arguments)]
pub fn sales_part(
    lang: Lang,
    sales: &Sales,
    action: &str,
    csrf: &str,
    seller: bool,
    buyer: bool,
    route: &str,
    asking: Option<i64>,
    modes: &[i32],
) -> Markup {
    let open_listing = sales.listings.iter().any(|l| l.status == "open");
    let open_session = sales.sessions.iter().any(|s| s.phase == "open" || s.phase == "revealing");
    let price = asking.map(|p| (p / 100).to_string()).unwrap_or_default();
    html! {
        section aria-labelledby="sales-heading" {
            h2 id="sales-heading" { (label(lang, "route", route)) }
            @for l in &sales.listings {
                article class="objection" {
                    p { (yuan(l.price_fen)) " · " (lang.t("disclosure_ends")) " " (when(&l.disclosure_ends)) " · "
                        span class="badge" { (label(lang, "lstatus", &l.status)) } " · " (lang.t("registrants")) " " (l.registrants) }
                    @if !l.session_id.is_empty() { p { a href={ "/sessions/" (l.session_id) } { (lang.t("to_auction")) } } }
                    @if buyer && l.status == "open" && !l.registered {
                        form method="post" action=(action) {
                            input type="hidden" name="csrf" value=(csrf);
                            input type="hidden" name="listing_id" value=(l.listing_id);
                            button type="submit" class="button" name="do" value="register_intent" { (lang.t("do.register_intent")) }
                        }
                    }
                    @if l.registered { p { (lang.t("intent_registered")) } }
                }
            }
            @for s in &sales.sessions {
                p { a href={ "/sessions/" (s.session_id) } { (lang.t("auction")) " · " (label(lang, "phase", &s.phase)) } }
            }
            @if seller && route == "listed" && !open_listing {
                form method="post" action=(action) class="inline" {
                    input type="hidden" name="csrf" value=(csrf);
                    label for="sale_price" { (lang.t("amount_yuan")) }
                    input id="sale_price" name="price_yuan" type="text" required value=(price);
                    label for="sale_days" { (lang.t("disclosure_days")) }
                    input id="sale_days" name="working_days" type="number" min="10" max="60" value="10";
                    (crate::ui::terms::fields(lang, modes, &pb::TermSheet::default(), false))
                    button type="submit" name="do" value="list_sale" { (lang.t("do.list_sale")) }
                }
            }
            @if seller && route == "auction" && !open_session {
                form method="post" action=(action) class="inline" {
                    input type="hidden" name="csrf" value=(csrf);
                    label for="start_price" { (lang.t("start_price")) }
                    input id="start_price" name="price_yuan" type="text" required value=(price);
                    label for="auction_days" { (lang.t("bidding_days")) }
                    input id="auction_days" name="days" type="number" min="1" value="7";
                    label class="check" { input type="checkbox" name="sealed" value="1"; " " (lang.t("sealed")) }
                    label class="check" { input type="checkbox" name="one_shot" value="1"; " " (lang.t("one_shot")) }
                    (crate::ui::terms::fields(lang, modes, &pb::TermSheet::default(), true))
                    button type="submit" name="do" value="auction" { (lang.t("do.auction")) }
                }
            }
        }
    }
}

/// Lists a sale, opens a session (1 % increments, a 10 % deposit, registration until a day before the end, a
/// five-minute extension; sealed ones reveal for a day after), or registers an intent. Answers where to go next.
pub async fn sale_action(
    deps: &Deps,
    who: &Principal,
    result_id: &str,
    what: &str,
    f: &std::collections::HashMap<String, Vec<String>>,
) -> Result<Option<String>, ApiError> {
    let days = || -> Result<i64, ApiError> {
        field(f, "days")
            .trim()
            .parse()
            .ok()
            .filter(|d| (1..=90).contains(d))
            .ok_or_else(|| ApiError::invalid("days", "1 to 90 days"))
    };
    let now = deps.auth.now_unix() * 1_000_000;
    let at = |minutes: i64| Some(Timestamp::from_unix_micros(now + minutes * 60_000_000).to_proto());
    match what {
        "register_intent" => {
            actions::register_intent(deps, &Acting::page(who), field(f, "listing_id").to_owned()).await?;
            Ok(None)
        }
        "list_sale" => {
            let price = parse_yuan(field(f, "price_yuan"))
                .ok_or_else(|| ApiError::invalid("price_yuan", "an amount in yuan"))?;
            let terms = crate::ui::terms::from_form(f, price, false)?;
            let working_days = field(f, "working_days")
                .trim()
                .parse()
                .map_err(|_| ApiError::invalid("disclosure_working_days", "a number of working days"))?;
            actions::open_listing(deps, &Acting::page(who), result_id.to_owned(), terms, working_days).await?;
            Ok(None)
        }
        _ => {
            let price = parse_yuan(field(f, "price_yuan"))
                .ok_or_else(|| ApiError::invalid("price_yuan", "an amount in yuan"))?;
            let sealed = field(f, "sealed") == "1";
            let one_shot = !sealed && field(f, "one_shot") == "1";
            let end = days()? * 24 * 60;
            let rules = pb::SessionRules {
                start_price_fen: price,
                increment_fen: (price / 100 / 10_000 * 10_000).max(10_000),
                deposit_fen: price / 10,
                registration_closes: at(end - 24 * 60),
                bidding_opens: at(0),
                bidding_closes: at(end),
                anti_sniping: "extension".into(),
                window_seconds: 300,
                reserve_fen: None,
                sealed,
                reveal_closes: if sealed { at(end + 24 * 60) } else { None },
                version: String::new(),
                one_shot,
            };
            let terms = crate::ui::terms::from_form(f, 0, true)?;
            let (id, _) = actions::open_session(deps, &Acting::page(who), result_id.to_owned(), rules, terms).await?;
            Ok(Some(format!("/sessions/{id}")))
        }
    }
}
