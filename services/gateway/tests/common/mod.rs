//! A gateway in front of the real identity and audit services, on a real SQLite log and the in-process bus, driven
//! through the router without a socket.

#![allow(dead_code)] // each test file uses part of this

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use bytes::Bytes;
use prost::Message as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;
use ttx_eventlog_sqlite::SqliteLog;
use ttx_gateway::auth::Auth;
use ttx_gateway::throttle::{Limits, Throttle};
use ttx_gateway::token::KeyRing;
use ttx_gateway::{Deps, router};
use ttx_identity::values::CreditCode;
use ttx_kernel::{Bus, Clock, EventLog, InProcessBus, ManualClock, Timestamp};
use ttx_proto::identity::v1::{self as pb};

pub const PASSWORD: &str = "correct horse battery";

pub fn credit(first17: &str) -> String {
    CreditCode::with_check_character(first17).unwrap().to_string()
}

pub fn org_id(first17: &str) -> String {
    credit(first17).to_ascii_lowercase()
}

pub const OPS: &str = "91310000MA1FL4KX3";
pub const UNI: &str = "12100000400000624";
pub const FIRM: &str = "91350100M000100Y4";
pub const AGENCY: &str = "11310000002420045";

/// One exchange: services, log, clock, and the router's dependencies.
pub struct Exchange {
    pub deps: Deps,
    pub log: Arc<SqliteLog>,
    pub clock: Arc<ManualClock>,
    pub keys_dir: tempfile::TempDir,
    _dir: tempfile::TempDir,
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Value,
}

impl Exchange {
    /// Starts identity and audit, and creates the organisations and users the tests act as.
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(SqliteLog::open(dir.path()).unwrap());
        let bus: Arc<dyn Bus> = Arc::new(InProcessBus::new());
        let clock = Arc::new(ManualClock::new(Timestamp::from_unix_micros(1_790_000_000_000_000)));
        let identity = ttx_identity::Deps { log: log.clone(), bus: bus.clone(), clock: clock.clone() };
        tokio::spawn(ttx_identity::run(identity, std::future::pending()));
        tokio::spawn(ttx_audit::run(ttx_audit::Deps { log: log.clone(), bus: bus.clone() }, std::future::pending()));
        let listings = ttx_listings::Deps { log: log.clone(), bus: bus.clone(), clock: clock.clone() };
        tokio::spawn(ttx_listings::run(listings, std::future::pending()));
        let negotiation = ttx_negotiation::Deps { log: log.clone(), bus: bus.clone(), clock: clock.clone() };
        tokio::spawn(ttx_negotiation::run(negotiation, std::future::pending()));
        let keys_dir = tempfile::tempdir().unwrap();
        let now = clock.now().unix_micros() / 1_000_000;
        let auth = Auth {
            keys: KeyRing::load_or_create(keys_dir.path(), now).unwrap(),
            throttle: Throttle::new(Limits { per_account: 5, per_address: 50, window_secs: 900 }),
            token_ttl_secs: 3600,
            secure_cookies: false,
            clock: clock.clone(),
        };
        let exchange = Self {
            deps: Deps { bus, auth: Arc::new(auth), metrics: Default::default() },
            log,
            clock,
            keys_dir,
            _dir: dir,
        };
        exchange.seed().await;
        exchange
    }

    async fn seed(&self) {
        let service = std::sync::Arc::new(ttx_identity::Service::new(self.log.clone(), self.clock.clone())).router();
        let actor = ttx_identity::service::system_actor();
        let ctx = |id: String| Some(pb::CommandContext { actor: Some(actor.clone()), command_id: id });
        for (code, kind, name) in [
            (OPS, pb::OrgKind::ServiceInstitution, "技术交易所"),
            (UNI, pb::OrgKind::University, "示范大学"),
            (FIRM, pb::OrgKind::Enterprise, "示范科技有限公司"),
            (AGENCY, pb::OrgKind::RegulatorAgency, "科学技术委员会"),
        ] {
            let c = pb::RegisterOrganisation {
                context: ctx(format!("seed-{code}")),
                kind: kind.into(),
                name: name.into(),
                credit_code: credit(code),
                region: "上海市".into(),
            };
            service.call(&c).await.unwrap();
        }
        for (user, org, role) in [
            ("root", OPS, ttx_proto::common::v1::Role::Admin),
            ("lilei", UNI, ttx_proto::common::v1::Role::TechManager),
            ("hanmei", UNI, ttx_proto::common::v1::Role::Reviewer),
            ("zhaoqiang", FIRM, ttx_proto::common::v1::Role::EnterpriseMember),
            ("wangfang", AGENCY, ttx_proto::common::v1::Role::Regulator),
        ] {
            let c = pb::CreateUser {
                context: ctx(format!("seed-{user}")),
                user_id: user.into(),
                org_id: org_id(org),
                display_name: user.to_uppercase(),
                password: PASSWORD.into(),
                roles: vec![role.into()],
            };
            service.call(&c).await.unwrap();
        }
        self.seed_result().await;
    }

    /// A published result `r-seed` of the university with a running notice and an objection `o-seed`.
    async fn seed_result(&self) {
        use ttx_proto::listings::v1 as lpb;
        let who = |user: &str, org: &str, role: ttx_proto::common::v1::Role| ttx_proto::common::v1::Actor {
            user_id: user.into(),
            org_id: org_id(org),
            role: role.into(),
            roles: vec![role.into()],
        };
        let manager = who("lilei", UNI, ttx_proto::common::v1::Role::TechManager);
        let reviewer = who("hanmei", UNI, ttx_proto::common::v1::Role::Reviewer);
        let member = who("zhaoqiang", FIRM, ttx_proto::common::v1::Role::EnterpriseMember);
        let ctx = |actor: &ttx_proto::common::v1::Actor, id: &str| {
            Some(lpb::CommandContext { actor: Some(actor.clone()), command_id: id.into() })
        };
        let id = || "r-seed".to_owned();
        let steps: Vec<(&str, Vec<u8>)> = vec![
            (
                lpb::subjects::CREATE_RESULT,
                lpb::CreateResult {
                    context: ctx(&manager, "s1"),
                    result_id: "r-seed".into(),
                    listing: Some(listing_pb()),
                }
                .encode_to_vec(),
            ),
            (
                lpb::subjects::SUBMIT_RESULT,
                lpb::SubmitResult { context: ctx(&manager, "s2"), result_id: id() }.encode_to_vec(),
            ),
            (
                lpb::subjects::APPROVE_RESULT,
                lpb::ApproveResult { context: ctx(&reviewer, "s3"), result_id: id() }.encode_to_vec(),
            ),
            (
                lpb::subjects::PUBLISH_RESULT,
                lpb::PublishResult { context: ctx(&manager, "s4"), result_id: id() }.encode_to_vec(),
            ),
            (
                lpb::subjects::START_NOTICE,
                lpb::StartNotice {
                    context: ctx(&manager, "s5"),
                    result_id: "r-seed".into(),
                    price_fen: 1_000_000,
                    days: 15,
                }
                .encode_to_vec(),
            ),
            (
                lpb::subjects::RAISE_OBJECTION,
                lpb::RaiseObjection {
                    context: ctx(&member, "s6"),
                    result_id: "r-seed".into(),
                    objection_id: "o-seed".into(),
                    text: "价格偏低".into(),
                }
                .encode_to_vec(),
            ),
        ];
        let demand = lpb::PostDemand {
            context: ctx(&member, "s7"),
            demand_id: "d-seed".into(),
            demand: Some(lpb::Demand {
                title: "动力电池低温性能提升".into(),
                field: lpb::TechField::NewEnergy.into(),
                indicators: "-20℃ 容量保持率 ≥ 85%".into(),
                problem: "冬季续航下降".into(),
                existing_conditions: String::new(),
                budget_fen: 300_000_000,
                cooperation_mode: "合作开发".into(),
                wanted_trl: 6,
                valid_until: ttx_kernel::Timestamp::parse_rfc3339("2030-01-01T00:00:00Z").map(|t| t.to_proto()),
            }),
            challenge: Some(lpb::ChallengeTerms {
                indicators: vec!["低温容量保持率".into(), "循环寿命".into()],
                deadline: ttx_kernel::Timestamp::parse_rfc3339("2029-12-01T00:00:00Z").map(|t| t.to_proto()),
            }),
        };
        let application = lpb::ApplyToChallenge {
            context: ctx(&manager, "s8"),
            demand_id: "d-seed".into(),
            application_id: "a-seed".into(),
            answers: vec!["88%".into(), "3000 次".into()],
        };
        let mut steps = steps;
        steps.push((lpb::subjects::POST_DEMAND, demand.encode_to_vec()));
        steps.push((lpb::subjects::APPLY_TO_CHALLENGE, application.encode_to_vec()));
        for (subject, payload) in steps {
            let mut last = None;
            for _ in 0..200 {
                match ttx_kernel::bus::call_raw(
                    self.deps.bus.as_ref(),
                    subject,
                    payload.clone().into(),
                    Duration::from_secs(10),
                )
                .await
                {
                    Ok(_) => {
                        last = None;
                        break;
                    }
                    Err(e) => last = Some(e),
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            assert!(last.is_none(), "{subject}: {last:?}");
        }
        // Listings matches the seeded demand in the background; tests start once that is recorded, so that what
        // they see written is their own.
        let matched = ttx_kernel::StreamId::parse("listings-match-d-seed").unwrap();
        for _ in 0..1000 {
            if !ttx_kernel::EventLog::read_stream(self.log.as_ref(), &matched, 1, 1).await.unwrap().is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the seeded demand was never matched");
    }

    /// One request through the router.
    pub async fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<Value>) -> Answer {
        let mut builder = Request::builder().method(method).uri(path);
        for (n, v) in headers {
            builder = builder.header(*n, *v);
        }
        let body = match body {
            Some(v) => {
                builder = builder.header("content-type", "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        let response = router(self.deps.clone()).oneshot(builder.body(body).unwrap()).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap_or(Value::Null) };
        Answer { status, headers, body }
    }

    /// Sends raw bytes as the body, with a content type.
    pub async fn send_raw(
        &self,
        method: &str,
        path: &str,
        token: &str,
        content_type: &str,
        body: &'static str,
    ) -> Answer {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", content_type)
            .body(Body::from(Bytes::from_static(body.as_bytes())))
            .unwrap();
        let response = router(self.deps.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        Answer { status, headers, body: serde_json::from_slice(&bytes).unwrap_or(Value::Null) }
    }

    /// A form post, as a browser sends it; the answer's status, headers and HTML.
    pub async fn post_form(
        &self,
        path: &str,
        cookies: &str,
        form: &str,
    ) -> (StatusCode, axum::http::HeaderMap, String) {
        let request = Request::builder()
            .method("POST")
            .uri(path)
            .header("cookie", cookies)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(form.to_owned()))
            .unwrap();
        self.html(request).await
    }

    /// A page, as a browser asks for it.
    pub async fn get_page(&self, path: &str, cookies: &str) -> (StatusCode, axum::http::HeaderMap, String) {
        let request = Request::builder().uri(path).header("cookie", cookies).body(Body::empty()).unwrap();
        self.html(request).await
    }

    async fn html(&self, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
        let response = router(self.deps.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (status, headers, String::from_utf8_lossy(&bytes).into_owned())
    }

    /// A result of the holder's, published by its technology manager `lilei` after review, priced by `route`; its id
    /// and the manager's token.
    pub async fn published_result(&self, route: &str) -> (String, String) {
        let bearer = |t: &str| format!("Bearer {t}");
        let (manager, reviewer) = (self.login("lilei").await, self.login("hanmei").await);
        let mut listing = listing_json();
        listing["route"] = json!(route);
        let a = self.send("POST", "/api/v1/results", &[("authorization", &bearer(&manager))], Some(listing)).await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
        let id = a.body["id"].as_str().unwrap().to_owned();
        for (t, step) in [(&manager, "submit"), (&reviewer, "approve"), (&manager, "publish")] {
            let a = self
                .send("POST", &format!("/api/v1/results/{id}/{step}"), &[("authorization", &bearer(t))], None)
                .await;
            assert_eq!(a.status, StatusCode::OK, "{step}: {}", a.body);
        }
        (id, manager)
    }

    pub async fn login(&self, user: &str) -> String {
        let answer =
            self.send("POST", "/api/v1/auth/login", &[], Some(json!({ "user_id": user, "password": PASSWORD }))).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.body["token"].as_str().unwrap().to_owned()
    }

    pub async fn head(&self) -> u64 {
        self.log.head().await.unwrap()
    }

    pub fn advance(&self, d: Duration) {
        self.clock.advance(d);
    }
}

/// A valid listing of the university's, on the wire.
pub fn listing_pb() -> ttx_proto::listings::v1::Listing {
    use ttx_proto::listings::v1 as lpb;
    lpb::Listing {
        title: "高能量密度锂离子电池正极材料".into(),
        summary: "一种高镍三元正极材料的制备方法。".into(),
        field: lpb::TechField::NewEnergy.into(),
        industry: "电池制造".into(),
        keywords: vec!["锂离子电池".into()],
        innovations: vec![],
        indicators: String::new(),
        trl: Some(lpb::TrlAssessment {
            level: 6,
            assessor: "评价机构".into(),
            assessed_on: "2026-03-01".into(),
            evidence: "中试报告".into(),
        }),
        form: lpb::ResultForm::Material.into(),
        ip_rights: vec![],
        holders: vec![lpb::Holder { org_id: org_id(UNI), share_bp: 10_000 }],
        inventors: vec!["王教授".into()],
        secrecy: lpb::Secrecy::Public.into(),
        modes: vec![lpb::TransactionMode::Assignment.into()],
        asking_price_fen: Some(1_000_000),
        route: lpb::PricingRoute::Negotiated.into(),
        visibility: lpb::Visibility::Public.into(),
    }
}

/// The same listing as the API takes it.
pub fn listing_json() -> Value {
    json!({
        "title": "高能量密度锂离子电池正极材料",
        "summary": "一种高镍三元正极材料的制备方法。",
        "field": "new_energy",
        "keywords": ["锂离子电池"],
        "trl": { "level": 6, "assessor": "评价机构", "assessed_on": "2026-03-01", "evidence": "中试报告" },
        "form": "material",
        "holders": [{ "org_id": org_id(UNI), "share_bp": 10000 }],
        "inventors": ["王教授"],
        "secrecy": "public",
        "modes": ["assignment"],
        "asking_price_fen": 1000000,
        "route": "negotiated",
        "visibility": "public"
    })
}

/// A challenge as the API takes it.
pub fn demand_json() -> Value {
    json!({
        "title": "动力电池低温性能提升",
        "field": "new_energy",
        "problem": "冬季续航下降",
        "budget_fen": 300000000,
        "wanted_trl": 6,
        "valid_until": "2030-01-01T00:00:00Z",
        "challenge": { "indicators": ["低温容量保持率", "循环寿命"], "deadline": "2029-12-01T00:00:00Z" }
    })
}
