//! What every API route uses: JSON bodies and query strings whose errors name the field, the command's id and
//! context, [`ask`] (the one way the gateway sends a request to a service), pages of lists, and the answers to
//! commands.

use std::time::Duration;

use axum::Json;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use ttx_kernel::rpc::{Rpc, call_within};
use ttx_proto::identity::v1::{self as pb};
use utoipa::ToSchema;

use crate::Deps;
use crate::auth::Principal;
use crate::problem::ApiError;

const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest JSON body a write route takes.
pub const MAX_BODY: usize = 64 * 1024;

/// A query string whose errors are problems naming the parameter (a 422), like [`Body`]'s.
#[derive(Debug)]
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> axum::extract::FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Params(value)),
            Err(e) => {
                // "Failed to deserialize query string: limit: invalid digit found in string"
                let text = e.body_text();
                let detail = text.split_once("query string: ").map_or(text.as_str(), |(_, rest)| rest);
                let field = detail.split_once(": ").map_or("query", |(name, _)| name);
                Err(ApiError::invalid(field, detail))
            }
        }
    }
}

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
pub fn command_id(headers: &HeaderMap, principal: &Principal) -> Result<String, ApiError> {
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

/// The id of the record a command creates, derived from its (caller-scoped) command id.
pub fn derived_id(command_id: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, format!("ttx-record-id\0{command_id}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest.as_ref()[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid().to_string()
}

/// Sends one command or query to the service its type names and decodes the answer its type names; a service's
/// typed error becomes a problem.
pub async fn ask<R: Rpc>(deps: &Deps, request: R) -> Result<R::Reply, ApiError> {
    deps.metrics.bus_request(R::SUBJECT);
    call_within(deps.bus.as_ref(), &request, CALL_TIMEOUT).await.map_err(ApiError::from)
}

// ---- names on the wire ----

/// A page of a list, from the query string: `?offset=&limit=` (limit 1 to 200, 50 when absent).
#[derive(Debug, Clone, Copy, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListPage {
    /// How many to skip.
    pub offset: Option<u32>,
    /// 1 to 200 (50 when absent).
    pub limit: Option<u32>,
}

impl ListPage {
    pub fn to_pb(self) -> Option<ttx_proto::common::v1::PageRequest> {
        Some(ttx_proto::common::v1::PageRequest { offset: self.offset.unwrap_or(0), limit: self.limit.unwrap_or(0) })
    }
}

/// The answer to a command: the record's version after it, and whether it had been carried out before.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    /// The new organisation's or user's id, for creations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub version: u64,
    pub duplicate: bool,
}

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A stable URI, `urn:ttx:problem:<kind>`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// For invalid input: the field at fault.
    pub field: Option<String>,
}

/// The answer to a command: `status` when it did something, `200` when it had been done before; with the new
/// record's id and `Location` for creations.
pub fn accepted(status: StatusCode, location: Option<String>, id: Option<String>, a: &pb::CommandAccepted) -> Response {
    let body = Accepted { id, version: a.version, duplicate: a.duplicate };
    let status = if a.duplicate { StatusCode::OK } else { status };
    let mut response = (status, Json(body)).into_response();
    if let Some(location) = location.and_then(|l| header::HeaderValue::from_str(&l).ok()) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}
