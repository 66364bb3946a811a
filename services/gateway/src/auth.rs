//! Who is asking: bearer tokens for programs, an HttpOnly session cookie (plus a CSRF token) for browsers, and the
//! login that issues both.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use ttx_kernel::Clock;
use ttx_proto::common::v1::{Actor, Role};

use crate::Deps;
use crate::problem::ApiError;
use crate::throttle::Throttle;
use crate::token::{Claims, KeyRing};

/// Session cookie: the token itself, HttpOnly, SameSite=Lax.
pub const SESSION_COOKIE: &str = "ttx_session";
/// CSRF cookie: readable by the page, sent back in `X-CSRF-Token` (or a form's `csrf` field) with every unsafe
/// request that the session cookie authenticates (double submit).
pub const CSRF_COOKIE: &str = "ttx_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Token issuing and checking.
pub struct Auth {
    pub keys: KeyRing,
    pub throttle: Throttle,
    pub token_ttl_secs: i64,
    /// Mark cookies `Secure` (behind HTTPS).
    pub secure_cookies: bool,
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth").field("keys", &self.keys).finish_non_exhaustive()
    }
}

impl Auth {
    pub fn now_unix(&self) -> i64 {
        self.clock.now().unix_micros() / 1_000_000
    }

    /// The `Set-Cookie` values for a new session.
    pub fn session_cookies(&self, token: &str, csrf: &str) -> [String; 2] {
        let secure = if self.secure_cookies { "; Secure" } else { "" };
        let age = self.token_ttl_secs;
        [
            format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={age}{secure}"),
            format!("{CSRF_COOKIE}={csrf}; Path=/; SameSite=Strict; Max-Age={age}{secure}"),
        ]
    }

    /// The `Set-Cookie` values that end a session.
    pub fn cleared_cookies(&self) -> [String; 2] {
        [
            format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"),
            format!("{CSRF_COOKIE}=; Path=/; SameSite=Strict; Max-Age=0"),
        ]
    }
}

/// A random token for CSRF checks and token ids.
pub fn random_token() -> String {
    let mut bytes = [0u8; 24];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A cookie's value from the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_owned())
}

/// Compares two secrets in time that does not depend on where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: String,
    pub org_id: String,
    pub roles: Vec<Role>,
    /// Authenticated by the session cookie (so unsafe requests needed a CSRF token).
    pub by_cookie: bool,
}

impl Principal {
    fn from_claims(c: Claims, by_cookie: bool) -> Self {
        let roles =
            c.roles.iter().filter_map(|r| Role::try_from(*r).ok()).filter(|r| *r != Role::Unspecified).collect();
        Self { user_id: c.sub, org_id: c.org, roles, by_cookie }
    }

    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Refuses unless the caller holds one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.iter().any(|r| self.has(*r)) { Ok(()) } else { Err(ApiError::forbidden()) }
    }

    /// Refuses unless the caller holds one of `roles` or belongs to `org_id` (and is not only a regulator there,
    /// which never grants more than reading).
    pub fn require_member_or(&self, org_id: &str, roles: &[Role]) -> Result<(), ApiError> {
        if self.org_id == org_id || roles.iter().any(|r| self.has(*r)) { Ok(()) } else { Err(ApiError::forbidden()) }
    }

    /// The actor the services see.
    pub fn actor(&self) -> Actor {
        Actor {
            user_id: self.user_id.clone(),
            org_id: self.org_id.clone(),
            role: self.roles.first().copied().unwrap_or_default().into(),
            roles: self.roles.iter().map(|r| *r as i32).collect(),
        }
    }
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Reads the caller from `Authorization: Bearer …`, else from the session cookie (with the CSRF check for unsafe
/// methods). `Ok(None)`: nobody is logged in.
pub fn authenticate(auth: &Auth, parts: &Parts) -> Result<Option<Principal>, ApiError> {
    let now = auth.now_unix();
    if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .ok_or_else(|| ApiError::unauthenticated("the Authorization header must be `Bearer <token>`"))?;
        return match auth.keys.verify(token.trim(), now) {
            Ok(claims) => Ok(Some(Principal::from_claims(claims, false))),
            Err(e) => {
                tracing::info!(error = %e, "a bearer token was refused");
                Err(ApiError::unauthenticated("the token is invalid or expired; log in again"))
            }
        };
    }
    let Some(token) = cookie(&parts.headers, SESSION_COOKIE).filter(|t| !t.is_empty()) else { return Ok(None) };
    let claims = match auth.keys.verify(&token, now) {
        Ok(claims) => claims,
        Err(e) => {
            tracing::info!(error = %e, "a session cookie was refused");
            return Err(ApiError::unauthenticated("the session is invalid or expired; log in again"));
        }
    };
    if !is_safe(&parts.method) {
        let expected = cookie(&parts.headers, CSRF_COOKIE).unwrap_or_default();
        let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
        if expected.is_empty() || !same_secret(&expected, sent) {
            return Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "csrf",
                "Missing or wrong CSRF token",
                "requests authenticated by the session cookie must send the CSRF token",
            ));
        }
    }
    Ok(Some(Principal::from_claims(claims, true)))
}

impl FromRequestParts<Deps> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, deps: &Deps) -> Result<Self, ApiError> {
        authenticate(&deps.auth, parts)?.ok_or_else(|| ApiError::unauthenticated("log in first"))
    }
}

/// The client's address, for login throttling (the socket's peer; `unknown` where there is none, as in tests).
pub fn client_address(parts: &Parts) -> String {
    parts.extensions.get::<ConnectInfo<SocketAddr>>().map_or_else(|| "unknown".to_owned(), |c| c.0.ip().to_string())
}

/// `Set-Cookie` header values.
pub fn set_cookie_headers(values: &[String]) -> Vec<(header::HeaderName, HeaderValue)> {
    values.iter().filter_map(|v| HeaderValue::from_str(v).ok()).map(|v| (header::SET_COOKIE, v)).collect()
}

/// The caller if logged in, or nobody: for what anonymous visitors may also read. A token that is sent but invalid
/// is still refused.
#[derive(Debug, Clone)]
pub struct MaybePrincipal(pub Option<Principal>);

impl MaybePrincipal {
    /// The caller as an actor; an anonymous one has no user.
    pub fn actor(&self) -> Actor {
        self.0.as_ref().map(Principal::actor).unwrap_or_default()
    }
}

impl FromRequestParts<Deps> for MaybePrincipal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, deps: &Deps) -> Result<Self, ApiError> {
        authenticate(&deps.auth, parts).map(MaybePrincipal)
    }
}
