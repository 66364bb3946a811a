//! The gateway with no service behind it, driven without a socket. Everything else the gateway does is tested
//! through a real socket in front of the whole exchange: `tests/tests/{api,ui,gateway}.rs`.

use axum::http::StatusCode;

#[tokio::test]
async fn without_the_audit_service_the_gateway_is_not_ready() {
    let keys = tempfile::tempdir().unwrap();
    let clock = std::sync::Arc::new(ttx_kernel::SystemClock);
    let auth = ttx_gateway::auth::Auth {
        keys: ttx_gateway::token::KeyRing::load_or_create(keys.path(), 0).unwrap(),
        throttle: Default::default(),
        token_ttl_secs: 60,
        secure_cookies: false,
        clock,
    };
    let bus: std::sync::Arc<dyn ttx_kernel::Bus> = std::sync::Arc::new(ttx_kernel::InProcessBus::new());
    let deps = ttx_gateway::Deps { bus, auth: std::sync::Arc::new(auth), metrics: Default::default() };
    let request = axum::http::Request::builder().uri("/readyz").body(axum::body::Body::empty()).unwrap();
    let response = tower::ServiceExt::oneshot(ttx_gateway::router(deps), request).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["type"], "urn:ttx:problem:not-ready");
    assert_eq!(body["detail"], "these services do not answer: audit, identity, listings, negotiation", "{body}");
}
