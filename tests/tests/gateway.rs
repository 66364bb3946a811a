//! The gateway's probes, fallbacks and metrics, through a real socket in front of the whole exchange.

use std::time::Duration;

use ttx_tests::exchange::{Mode, Setup, TestExchange};

async fn start() -> TestExchange {
    TestExchange::spawn_with(Mode::Embedded, Setup::default()).await.unwrap()
}

#[tokio::test]
async fn unknown_paths_and_methods_are_problems_and_answers_carry_a_request_id() {
    let x = start().await;
    let a = x.send("GET", "/nowhere", &[], None).await;
    assert_eq!(a.status, 404);
    assert_eq!(a.headers["content-type"], "application/problem+json");
    assert_eq!(a.body["type"], "urn:ttx:problem:not-found");
    let a = x.send("POST", "/healthz", &[], None).await;
    assert_eq!(a.status, 405);
    assert_eq!(a.body["type"], "urn:ttx:problem:method-not-allowed");
    let a = x.send("GET", "/healthz", &[("x-request-id", "req-123")], None).await;
    assert_eq!((a.status, a.body["status"].as_str()), (200, Some("ok")));
    assert_eq!(a.headers["x-request-id"], "req-123");
    let a = x.send("GET", "/healthz", &[("x-request-id", "bad id with spaces")], None).await;
    assert_ne!(a.headers["x-request-id"], "bad id with spaces", "an unusable id is replaced");
}

#[tokio::test]
async fn ready_while_the_audit_service_answers() {
    let x = start().await;
    let mut ready = None;
    for _ in 0..200 {
        let a = x.send("GET", "/readyz", &[], None).await;
        if a.status == 200 {
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
async fn metrics_count_requests_by_route_template() {
    let x = start().await;
    x.send("GET", "/api/v1/users/zhangwei", &[], None).await;
    x.send("GET", "/api/v1/users/liuyang", &[], None).await;
    let metrics = x.get_page("/metrics", "").await;
    assert_eq!(metrics.status, 200);
    let text = metrics.text;
    assert!(
        text.contains(r#"ttx_http_requests_total{method="GET",route="/api/v1/users/{user_id}",status="401"} 2"#),
        "{text}"
    );
}
