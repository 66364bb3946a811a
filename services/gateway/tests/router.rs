//! The gateway's probes and fallbacks, driven without a socket.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::Exchange;

#[tokio::test]
async fn unknown_paths_and_methods_are_problems_and_answers_carry_a_request_id() {
    let x = Exchange::start().await;
    let a = x.send("GET", "/nowhere", &[], None).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.headers["content-type"], "application/problem+json");
    assert_eq!(a.body["type"], "urn:ttx:problem:not-found");
    let a = x.send("POST", "/healthz", &[], None).await;
    assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(a.body["type"], "urn:ttx:problem:method-not-allowed");
    let a = x.send("GET", "/healthz", &[("x-request-id", "req-123")], None).await;
    assert_eq!((a.status, a.body["status"].as_str()), (StatusCode::OK, Some("ok")));
    assert_eq!(a.headers["x-request-id"], "req-123");
    let a = x.send("GET", "/healthz", &[("x-request-id", "bad id with spaces")], None).await;
    assert_ne!(a.headers["x-request-id"], "bad id with spaces", "an unusable id is replaced");
}

#[tokio::test]
async fn ready_while_the_audit_service_answers() {
    let x = Exchange::start().await;
    let mut ready = None;
    for _ in 0..200 {
        let a = x.send("GET", "/readyz", &[], None).await;
        if a.status == StatusCode::OK {
            ready = Some(a.body);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let body = ready.expect("ready once every service serves");
    assert_eq!(
        body["services"],
        serde_json::json!({ "audit": "ok", "identity": "ok", "listings": "ok", "negotiation": "ok" })
    );
    assert_eq!(body["log_head"], x.head().await);
}

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

#[tokio::test]
async fn metrics_count_requests_by_route_template() {
    let x = Exchange::start().await;
    x.send("GET", "/api/v1/users/lilei", &[], None).await;
    x.send("GET", "/api/v1/users/hanmei", &[], None).await;
    let request = axum::http::Request::builder().uri("/metrics").body(axum::body::Body::empty()).unwrap();
    let response = tower::ServiceExt::oneshot(ttx_gateway::router(x.deps.clone()), request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = String::from_utf8(axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap().to_vec()).unwrap();
    assert!(
        text.contains(r#"ttx_http_requests_total{method="GET",route="/api/v1/users/{user_id}",status="401"} 2"#),
        "{text}"
    );
}
