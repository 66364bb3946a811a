//! The working-day calendar page (administrators and regulators): the holiday schedules in force, the deadlines a
//! timer recorded as pending because their year has none (the alert), and, for administrators, the form that loads
//! a year's schedule.

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use maud::html;
use ttx_proto::common::v1::Role;
use ttx_proto::identity::v1 as ipb;

use crate::Deps;
use crate::actions::{self, Acting};
use crate::auth::{CSRF_COOKIE, cookie};
use crate::i18n::Lang;
use crate::problem::ApiError;
use crate::ui::kit::*;

pub fn routes() -> Router<Deps> {
    Router::new().route("/admin/calendar", get(calendar_page).post(calendar_submit))
}

/// Dates typed one per line, or separated by spaces or commas.
fn dates(s: &str) -> Vec<String> {
    s.split(|c: char| c.is_whitespace() || c == ',' || c == '，' || c == '、')
        .filter(|d| !d.is_empty())
        .map(str::to_owned)
        .collect()
}

async fn calendar_view(
    deps: &Deps,
    headers: &HeaderMap,
    who: &crate::auth::Principal,
    notice: Option<&'static str>,
    errors: FormErrors,
    values: HashMap<String, Vec<String>>,
) -> Response {
    let lang = Lang::from_headers(headers);
    let csrf = cookie(headers, CSRF_COOKIE).unwrap_or_default();
    let (Ok(calendar), Ok(pending)) =
        (crate::api::calendar::fetch_calendar(deps).await, crate::api::calendar::fetch_pending(deps, who).await)
    else {
        return message_page(deps, headers, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let content = html! {
        @if let Some(n) = notice { p class="notice" role="status" { (lang.t(n)) } }
        @if !pending.pending.is_empty() {
            section class="alert" role="alert" id="pending-deadlines" {
                h2 { (lang.t("pending_deadlines")) }
                p { (lang.t("pending_deadlines_help")) }
                div class="table" { table {
                    thead { tr {
                        th scope="col" { (lang.t("process")) } th scope="col" { (lang.t("year")) }
                        th scope="col" { (lang.t("since")) } th scope="col" { (lang.t("deadlines")) }
                    } }
                    tbody { @for p in &pending.pending { tr {
                        td { @if p.process == "session" { a href={ "/sessions/" (p.id) } { (p.id) } } @else { (p.id) } }
                        td { (p.year) } td { (when(&p.since)) } td { (p.deadlines.join(", ")) }
                    } } }
                } }
            }
        }
        p { (lang.t("calendar_version")) " " code { (calendar.version) } }
        div class="table" { table id="schedules" {
            thead { tr {
                th scope="col" { (lang.t("year")) } th scope="col" { (lang.t("holidays")) }
                th scope="col" { (lang.t("make_up_workdays")) } th scope="col" { (lang.t("source")) }
            } }
            tbody { @for y in &calendar.years { tr {
                td { (y.year) } td { (y.holidays.len()) } td { (y.make_up_workdays.join(" ")) } td { (y.source) }
            } } }
        } }
        @if who.has(Role::Admin) {
            h2 { (lang.t("load_schedule")) }
            form method="post" action="/admin/calendar" class="card" novalidate {
                input type="hidden" name="csrf" value=(csrf);
                (form_errors_banner(lang, &errors))
                (labelled(lang, &errors, "year", |invalid, described| html! {
                    input id="year" name="year" type="number" min="2000" max="2200" required value=(field(&values, "year"))
                        aria-invalid=[invalid] aria-describedby=[described];
                }))
                (labelled(lang, &errors, "holidays", |invalid, described| html! {
                    textarea id="holidays" name="holidays" rows="4" placeholder="2027-01-01 2027-02-06 …"
                        aria-invalid=[invalid] aria-describedby=[described] { (field(&values, "holidays")) }
                }))
                (labelled(lang, &errors, "make_up_workdays", |invalid, described| html! {
                    textarea id="make_up_workdays" name="make_up_workdays" rows="2"
                        aria-invalid=[invalid] aria-describedby=[described] { (field(&values, "make_up_workdays")) }
                }))
                (labelled(lang, &errors, "source", |invalid, described| html! {
                    input id="source" name="source" type="text" required value=(field(&values, "source"))
                        aria-invalid=[invalid] aria-describedby=[described];
                }))
                button type="submit" { (lang.t("do.load_schedule")) }
            }
        }
    };
    html_response(status, page(lang, lang.t("calendar"), Some(who), &csrf, content))
}

async fn calendar_page(State(deps): State<Deps>, headers: HeaderMap) -> Response {
    let who = match supervisor(&deps, &headers) {
        Ok(who) => who,
        Err(answer) => return *answer,
    };
    calendar_view(&deps, &headers, &who, None, Vec::new(), HashMap::new()).await
}

async fn calendar_submit(State(deps): State<Deps>, headers: HeaderMap, body: Bytes) -> Response {
    let (who, f) = match admin_form(&deps, &headers, &body) {
        Ok(admin) => admin,
        Err(answer) => return *answer,
    };
    let result = async {
        let year = field(&f, "year").trim().parse().map_err(|_| ApiError::invalid("year", "a year"))?;
        let schedule = ipb::LoadSchedule {
            context: None,
            year,
            holidays: dates(field(&f, "holidays")),
            make_up_workdays: dates(field(&f, "make_up_workdays")),
            source: field(&f, "source").to_owned(),
        };
        actions::load_schedule(&deps, &Acting::page(&who), schedule).await
    }
    .await;
    match result {
        Ok(_) => Redirect::to("/admin/calendar").into_response(),
        Err(mut e) => {
            let lang = Lang::from_headers(&headers);
            // A bad date names its entry (holidays[3]); the form shows it next to its field.
            if let Some(field) = e.field.as_mut()
                && let Some(i) = field.find('[')
            {
                field.truncate(i);
            }
            calendar_view(&deps, &headers, &who, None, api_errors(lang, e), f).await
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_are_split_on_spaces_commas_and_lines() {
        assert_eq!(
            super::dates("2027-01-01, 2027-01-02\n2027-02-06、2027-02-07"),
            ["2027-01-01", "2027-01-02", "2027-02-06", "2027-02-07"]
        );
    }
}
