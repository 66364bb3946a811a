//! The gateway's routes, driven without a socket (`tower::ServiceExt::oneshot`) over the in-process bus.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt as _;
use ttx_gateway::{Deps, router};
use ttx_kernel::{Bus, InProcessBus};

async fn send(bus: &Arc<dyn Bus>, method: &str, path: &str) -> (StatusCode, String, serde_json::Value) {
    let app = router(Deps { bus: bus.clone() });
    let request = Request::builder().method(method).uri(path).body(Body::empty()).unwrap();
    let response = app.oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
    let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, content_type.unwrap_or_default(), serde_json::from_slice(&body).unwrap())
}

#[tokio::test]
async fn unknown_paths_and_methods_are_problems() {
    let bus: Arc<dyn Bus> = Arc::new(InProcessBus::new());
    let (status, content_type, body) = send(&bus, "GET", "/nowhere").await;
    assert_eq!((status, content_type.as_str()), (StatusCode::NOT_FOUND, "application/problem+json"));
    assert_eq!(body["type"], "urn:ttx:problem:not-found");
    let (status, _, body) = send(&bus, "POST", "/healthz").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["type"], "urn:ttx:problem:method-not-allowed");
    let (status, _, body) = send(&bus, "GET", "/healthz").await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("ok")));
}

#[tokio::test]
async fn ready_only_while_the_audit_service_answers() {
    let bus: Arc<dyn Bus> = Arc::new(InProcessBus::new());
    let (status, content_type, body) = send(&bus, "GET", "/readyz").await;
    assert_eq!((status, content_type.as_str()), (StatusCode::SERVICE_UNAVAILABLE, "application/problem+json"));
    assert_eq!(body["type"], "urn:ttx:problem:not-ready");
    assert!(body["detail"].as_str().unwrap().contains("audit"), "{body}");

    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(ttx_eventlog_sqlite::SqliteLog::open(dir.path()).unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let audit = tokio::spawn(ttx_audit::run(ttx_audit::Deps { log, bus: bus.clone() }, async {
        let _ = stopped.await;
    }));
    let mut ready = None;
    for _ in 0..200 {
        let (status, _, body) = send(&bus, "GET", "/readyz").await;
        if status == StatusCode::OK {
            ready = Some(body);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let body = ready.expect("ready once the audit service serves");
    assert_eq!(body["log_head"], 0);
    assert_eq!(body["services"]["audit"], "ok");

    stop.send(()).unwrap();
    audit.await.unwrap().unwrap();
    let (status, _, _) = send(&bus, "GET", "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
}
