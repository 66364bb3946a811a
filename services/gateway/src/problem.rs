//! The one place errors become HTTP answers: RFC 9457 problem documents with stable `type` URIs.

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use ttx_kernel::bus::CallError;

/// An error answer. `kind` becomes `urn:ttx:problem:<kind>`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub title: &'static str,
    pub detail: String,
    /// For invalid input: the request field at fault.
    pub field: Option<String>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl ApiError {
    pub fn new(status: StatusCode, kind: &'static str, title: &'static str, detail: impl Into<String>) -> Self {
        Self { status, kind, title, detail: detail.into(), field: None, headers: Vec::new() }
    }

    pub fn invalid(field: impl Into<String>, detail: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid-input", "Invalid input", detail);
        e.field = Some(field.into());
        e
    }

    pub fn unauthenticated(detail: &str) -> Self {
        let mut e = Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", "Not logged in", detail);
        e.headers.push((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        e
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
        self.headers.push((name, value));
        self
    }
}

/// A service's typed error, as HTTP.
impl From<CallError> for ApiError {
    fn from(e: CallError) -> Self {
        match e {
            CallError::Remote { code, message, field } => match code.as_str() {
                "invalid_input" => Self::invalid(field, message),
                "bad_request" => Self::new(StatusCode::BAD_REQUEST, "bad-request", "Bad request", message),
                "forbidden" => Self::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", message),
                "not_found" => Self::not_found(message),
                "conflict" => Self::new(StatusCode::CONFLICT, "conflict", "Conflict", message),
                "rejected" => {
                    Self::new(StatusCode::UNPROCESSABLE_ENTITY, "rule-violation", "Not allowed by the rules", message)
                }
                "too_many" => Self::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "limit-reached",
                    "A limit of the rules is reached",
                    message,
                ),
                "invalid_credentials" => {
                    Self::new(StatusCode::UNAUTHORIZED, "invalid-credentials", "Wrong login or password", message)
                }
                "account_disabled" => Self::new(StatusCode::FORBIDDEN, "account-disabled", "Account disabled", message),
                "unavailable" => Self::unavailable(message),
                _ => {
                    tracing::error!(%code, %message, "a service failed");
                    Self::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal",
                        "Internal error",
                        "the request failed; it is logged",
                    )
                }
            },
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
        if let Some(field) = &self.field {
            body["field"] = json!(field);
            body["errors"] = json!([{ "field": field, "detail": self.detail }]);
        }
        let mut response =
            (self.status, [(header::CONTENT_TYPE, "application/problem+json")], body.to_string()).into_response();
        for (name, value) in self.headers {
            response.headers_mut().insert(name, value);
        }
        response
    }
}
