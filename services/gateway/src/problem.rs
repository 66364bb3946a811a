//! The one place errors become HTTP answers: RFC 9457 problem documents with stable `type` URIs.

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use ttx_kernel::bus::{CallError, ErrorCode};

/// An error answer. `kind` becomes `urn:ttx:problem:<kind>`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub title: &'static str,
    pub detail: String,
    /// For invalid input: the request field at fault.
    pub field: Option<String>,
    /// The code a service replied with, when the error is a service's.
    pub code: Option<ErrorCode>,
    /// A refusal's stable name (for example `notice_running`), shown as `code` in the problem document.
    pub reason: Option<Box<str>>,
    /// Headers the answer carries (boxed: errors travel in every `Result` of the gateway, so they stay small).
    pub headers: Box<[(HeaderName, HeaderValue)]>,
}

impl ApiError {
    pub fn new(status: StatusCode, kind: &'static str, title: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            title,
            detail: detail.into(),
            field: None,
            code: None,
            reason: None,
            headers: Box::new([]),
        }
    }

    pub fn invalid(field: impl Into<String>, detail: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid-input", "Invalid input", detail);
        e.field = Some(field.into());
        e
    }

    pub fn unauthenticated(detail: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", "Not logged in", detail)
            .with_header(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
    }

    pub fn forbidden() -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", "your roles do not allow this")
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "Service unavailable", detail)
    }

    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        let mut headers = std::mem::take(&mut self.headers).into_vec();
        headers.push((name, value));
        self.headers = headers.into_boxed_slice();
        self
    }
}

/// How the gateway answers a code a service replied with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    pub status: StatusCode,
    /// The problem type: `urn:ttx:problem:<kind>`.
    pub kind: &'static str,
    pub title: &'static str,
    /// The key of the message a page shows (in `i18n`); a refusal's own words follow it.
    pub page: &'static str,
}

/// The one table from a service's reply codes to HTTP and page answers. A test checks that every code has an entry
/// with a page message in both languages.
pub const fn answer(code: ErrorCode) -> Answer {
    const fn a(status: StatusCode, kind: &'static str, title: &'static str, page: &'static str) -> Answer {
        Answer { status, kind, title, page }
    }
    match code {
        ErrorCode::InvalidInput => {
            a(StatusCode::UNPROCESSABLE_ENTITY, "invalid-input", "Invalid input", "error.invalid_input")
        }
        ErrorCode::BadRequest => a(StatusCode::BAD_REQUEST, "bad-request", "Bad request", "error.bad_request"),
        ErrorCode::InvalidCredentials => {
            a(StatusCode::UNAUTHORIZED, "invalid-credentials", "Wrong login or password", "wrong_login")
        }
        ErrorCode::AccountDisabled => a(StatusCode::FORBIDDEN, "account-disabled", "Account disabled", "disabled"),
        ErrorCode::Forbidden => a(StatusCode::FORBIDDEN, "forbidden", "Forbidden", "error.forbidden"),
        ErrorCode::NotFound => a(StatusCode::NOT_FOUND, "not-found", "Not found", "error.not_found"),
        ErrorCode::Conflict => a(StatusCode::CONFLICT, "conflict", "Conflict", "error.conflict"),
        ErrorCode::Rejected => {
            a(StatusCode::UNPROCESSABLE_ENTITY, "rule-violation", "Not allowed by the rules", "error.rule")
        }
        ErrorCode::TooMany => {
            a(StatusCode::UNPROCESSABLE_ENTITY, "limit-reached", "A limit of the rules is reached", "error.limit")
        }
        ErrorCode::TooLarge => {
            a(StatusCode::UNPROCESSABLE_ENTITY, "answer-too-large", "The answer is too large", "error.too_large")
        }
        ErrorCode::Unavailable => {
            a(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "Service unavailable", "unavailable")
        }
        ErrorCode::Internal => a(StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal error", "error.internal"),
    }
}

/// A service's typed error, as HTTP: by [`answer`]'s table, carrying the refusal's stable name (`code` in the
/// problem document). Internal failures are logged here and say nothing more to the caller.
impl From<CallError> for ApiError {
    fn from(e: CallError) -> Self {
        match e {
            CallError::Remote { code, message, field, reason } => {
                let known = ErrorCode::parse(&code);
                let code = known.unwrap_or(ErrorCode::Internal);
                let a = answer(code);
                if code == ErrorCode::Internal {
                    tracing::error!(code = %known.map_or("unknown", ErrorCode::as_str), %message, "a service failed");
                    let mut e = Self::new(a.status, a.kind, a.title, "the request failed; it is logged");
                    e.code = Some(code);
                    return e;
                }
                let mut e = Self::new(a.status, a.kind, a.title, message);
                e.code = Some(code);
                e.field = (code == ErrorCode::InvalidInput || !field.is_empty()).then_some(field);
                e.reason = (!reason.is_empty()).then(|| reason.into_boxed_str());
                e
            }
            CallError::Bus(e) => {
                tracing::warn!(error = %e, "a service did not answer");
                Self::unavailable("a service behind the gateway does not answer")
            }
            CallError::BadReply(subject) => {
                tracing::error!(%subject, "a service answered with something that is not a reply");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Internal error",
                    "the request failed; it is logged",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "type": format!("urn:ttx:problem:{}", self.kind),
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        if let Some(reason) = &self.reason {
            body["code"] = json!(reason);
        }
        if let Some(field) = &self.field {
            body["field"] = json!(field);
            body["errors"] = json!([{ "field": field, "detail": self.detail }]);
        }
        let mut response =
            (self.status, [(header::CONTENT_TYPE, "application/problem+json")], body.to_string()).into_response();
        for (name, value) in self.headers.into_vec() {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    #[test]
    fn every_reply_code_has_an_answer_and_a_page_message_in_both_languages() {
        let mut kinds = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let a = answer(code);
            assert!(a.status.is_client_error() || a.status.is_server_error(), "{code}: {}", a.status);
            assert!(kinds.insert(a.kind), "{code}: the problem type {} is used twice", a.kind);
            for lang in [Lang::Zh, Lang::En] {
                assert!(lang.lookup(a.page).is_some(), "{code}: no page message {} in {lang:?}", a.page);
            }
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
        }
    }

    #[test]
    fn a_refusal_keeps_its_field_and_its_name_and_an_unknown_code_is_internal() {
        let remote = |code: &str, field: &str, reason: &str| CallError::Remote {
            code: code.into(),
            message: "m".into(),
            field: field.into(),
            reason: reason.into(),
        };
        let e = ApiError::from(remote("rejected", "", "notice_running"));
        assert_eq!(
            (e.status, e.kind, e.reason.as_deref()),
            (StatusCode::UNPROCESSABLE_ENTITY, "rule-violation", Some("notice_running"))
        );
        let e = ApiError::from(remote("invalid_input", "terms.price_fen", "money"));
        assert_eq!(e.field.as_deref(), Some("terms.price_fen"));
        let e = ApiError::from(remote("no_such_code", "", ""));
        assert_eq!(
            (e.status, e.detail.as_str()),
            (StatusCode::INTERNAL_SERVER_ERROR, "the request failed; it is logged")
        );
    }
}
