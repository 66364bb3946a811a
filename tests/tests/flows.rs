//! User flows through HTTP, the same in both deployments.

use std::time::Duration;

use serde_json::json;
use ttx_tests::exchange::{Mode, TestExchange, org_id};

fn encode(q: &str) -> String {
    form_urlencoded::byte_serialize(q.as_bytes()).collect()
}

fn listing() -> serde_json::Value {
    json!({
        "title": "高能量密度锂离子电池正极材料",
        "summary": "一种高镍三元正极材料的制备方法，循环寿命显著提升。",
        "field": "new_energy",
        "keywords": ["锂离子电池", "正极材料"],
        "trl": { "level": 6, "assessor": "第三方评价机构", "assessed_on": "2026-03-01", "evidence": "中试报告" },
        "form": "material",
        "ip_rights": [{ "kind": "invention_patent", "number": "ZL202310000001.2", "legal_status": "授权" }],
        "holders": [{ "org_id": org_id(1), "share_bp": 10000 }],
        "inventors": ["王教授", "李博士"],
        "secrecy": "public",
        "modes": ["assignment", "exclusive_licence"],
        "asking_price_fen": 500000000,
        "route": "negotiated",
        "visibility": "public"
    })
}

/// A manager publishes a result with a notice, an enterprise objects, the objection is answered and dismissed, and
/// the notice ends by the clock; only then may a deal at the noticed price close.
async fn a_notice_is_objected_to_resolved_and_ended_by_the_clock(mode: Mode) {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt().with_env_filter("info").with_test_writer().try_init();
    }
    let x = TestExchange::spawn(mode).await.unwrap();
    let manager = x.login("zhangwei").await.unwrap();
    let reviewer = x.login("liuyang").await.unwrap();
    let member = x.login("zhaomin").await.unwrap();
    let ok = |a: &ttx_tests::exchange::Answer, want: u16| assert_eq!(a.status, want, "{}", a.body);

    let a = x.request("POST", "/api/v1/results", Some(&manager), Some(&listing())).await.unwrap();
    ok(&a, 201);
    let id = a.body["id"].as_str().unwrap().to_owned();
    let path = |tail: &str| format!("/api/v1/results/{id}{tail}");
    ok(&x.request("POST", &path("/submit"), Some(&manager), None).await.unwrap(), 200);
    // The enterprise cannot see a result under review.
    ok(&x.request("GET", &path(""), Some(&member), None).await.unwrap(), 404);
    ok(&x.request("POST", &path("/approve"), Some(&reviewer), None).await.unwrap(), 200);
    ok(&x.request("POST", &path("/publish"), Some(&manager), None).await.unwrap(), 200);

    // Published, it is found by a Chinese query that is not in its title (锂电池 for 锂离子电池), by the enterprise
    // and, being listed as public, by an anonymous visitor.
    let search = format!("/api/v1/search?q={}", encode("锂电池"));
    let a = x.request("GET", &search, Some(&member), None).await.unwrap();
    ok(&a, 200);
    assert_eq!(a.body["total"], 1, "{}", a.body);
    assert_eq!(a.body["hits"][0]["id"], id.as_str());
    assert_eq!(a.body["facets"]["field"], json!([{ "value": "new_energy", "count": 1 }]));
    let a = x.request("GET", &search, None, None).await.unwrap();
    assert_eq!(a.body["hits"][0]["id"], id.as_str());
    let a = x.request("GET", "/api/v1/search?trl_min=12", None, None).await.unwrap();
    ok(&a, 422);
    assert_eq!(a.body["field"], "trl_min");
    let notice = json!({ "price_fen": 480000000, "days": 15 });
    ok(&x.request("POST", &path("/notice"), Some(&manager), Some(&notice)).await.unwrap(), 201);

    let a =
        x.request("POST", &path("/objections"), Some(&member), Some(&json!({ "text": "价格明显偏低" }))).await.unwrap();
    ok(&a, 201);
    let objection = a.body["id"].as_str().unwrap().to_owned();
    let answer = json!({ "answer": "价格经第三方评估" });
    ok(
        &x.request("POST", &path(&format!("/objections/{objection}/answer")), Some(&manager), Some(&answer))
            .await
            .unwrap(),
        200,
    );
    let a = x.request("GET", &path("/deal-status?price_fen=480000000"), Some(&member), None).await.unwrap();
    assert_eq!(a.body["blocked_by"], "notice_running");
    let resolution = json!({ "upheld": false, "note": "评估报告充分" });
    ok(
        &x.request("POST", &path(&format!("/objections/{objection}/resolution")), Some(&reviewer), Some(&resolution))
            .await
            .unwrap(),
        200,
    );

    // 15 days from Monday 2026-09-21 end on 10-06, in the National Day holiday: the notice runs to 24:00 Beijing on
    // 10-08 (Civil Code art. 201–203).
    x.advance(Duration::from_secs(18 * 86_400));
    // Eighteen days on, the morning's tokens have expired.
    assert_eq!(x.request("GET", "/api/v1/me", Some(&member), None).await.unwrap().status, 401);
    let member = x.login("zhaomin").await.unwrap();
    let mut last = serde_json::Value::Null;
    for _ in 0..200 {
        let a = x.request("GET", &path("/deal-status?price_fen=480000000"), Some(&member), None).await.unwrap();
        if a.body["may_close"] == true {
            last = serde_json::Value::Null;
            break;
        }
        last = a.body;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(last, serde_json::Value::Null, "the notice did not end by the clock: {last}");
    let a = x.request("GET", &path(""), Some(&member), None).await.unwrap();
    assert_eq!(a.body["notice"]["ended"], true);
    assert_eq!(a.body["notice"]["objections"][0]["resolution"], "dismissed");
    let a = x.request("GET", &path("/deal-status?price_fen=1"), Some(&member), None).await.unwrap();
    assert_eq!(a.body["blocked_by"], "price_differs", "a deal at another price needs a new notice");
    x.stop().await.unwrap();
}

/// An enterprise posts a challenge; the university declared the enterprise its related party, so its application is
/// refused with the relation, and still after it withdraws the declaration; an enterprise that declares the link after
/// applying is refused at the shortlist; the institute's is shortlisted and awarded.
async fn a_related_partys_application_is_refused_and_another_is_awarded(mode: Mode) {
    let x = TestExchange::spawn(mode).await.unwrap();
    let poster = x.login("zhaomin").await.unwrap();
    let related = x.login("zhangwei").await.unwrap();
    let other = x.login("wangqiang").await.unwrap();
    let ok = |a: &ttx_tests::exchange::Answer, want: u16| assert_eq!(a.status, want, "{}", a.body);

    let challenge = json!({
        "title": "动力电池低温性能提升",
        "field": "new_energy",
        "indicators": "-20℃ 容量保持率 ≥ 85%",
        "problem": "冬季续航下降明显",
        "budget_fen": 300000000,
        "cooperation_mode": "合作开发",
        "wanted_trl": 6,
        "valid_until": "2027-06-30T16:00:00Z",
        "challenge": { "indicators": ["低温容量保持率", "循环寿命"], "deadline": "2027-03-31T16:00:00Z" }
    });
    let a = x.request("POST", "/api/v1/demands", Some(&poster), Some(&challenge)).await.unwrap();
    ok(&a, 201);
    let id = a.body["id"].as_str().unwrap().to_owned();
    let a = x
        .request("GET", &format!("/api/v1/search?kind=demand&q={}", encode("低温")), Some(&other), None)
        .await
        .unwrap();
    assert_eq!(a.body["hits"][0]["id"], id.as_str(), "{}", a.body);
    ok(&x.request("GET", &format!("/api/v1/demands/{id}/matches"), Some(&poster), None).await.unwrap(), 200);
    ok(&x.request("GET", "/api/v1/notifications", Some(&related), None).await.unwrap(), 200);

    let declare = json!({ "related_org_id": org_id(2), "relation": "校办企业（持股 30%）" });
    let path = format!("/api/v1/organisations/{}/related-parties", org_id(1));
    ok(&x.request("POST", &path, Some(&related), Some(&declare)).await.unwrap(), 201);

    let letter = json!({ "answers": ["88%", "3000 次"] });
    let apply = format!("/api/v1/demands/{id}/applications");
    let a = x.request("POST", &apply, Some(&related), Some(&letter)).await.unwrap();
    ok(&a, 422);
    assert!(a.body["detail"].as_str().unwrap().contains("校办企业"), "the reason names the relation: {}", a.body);
    // Withdrawing the declaration while the challenge is open does not clear the conflict.
    let withdraw = format!("{path}/{}", org_id(2));
    ok(&x.request("DELETE", &withdraw, Some(&related), None).await.unwrap(), 200);
    let a = x.request("POST", &apply, Some(&related), Some(&letter)).await.unwrap();
    ok(&a, 422);
    assert!(a.body["detail"].as_str().unwrap().contains("校办企业"), "still refused: {}", a.body);
    let a = x.request("POST", &apply, Some(&other), Some(&letter)).await.unwrap();
    ok(&a, 201);
    let application = a.body["id"].as_str().unwrap().to_owned();
    // An enterprise applies, and declares the poster a related party afterwards, then withdraws it: its application
    // is refused at the shortlist, the check running again at each step.
    let late = x.login("sunli").await.unwrap();
    let a = x.request("POST", &apply, Some(&late), Some(&letter)).await.unwrap();
    ok(&a, 201);
    let late_application = a.body["id"].as_str().unwrap().to_owned();
    let path5 = format!("/api/v1/organisations/{}/related-parties", org_id(5));
    let declare = json!({ "related_org_id": org_id(2), "relation": "同一实际控制人" });
    ok(&x.request("POST", &path5, Some(&late), Some(&declare)).await.unwrap(), 201);
    ok(&x.request("DELETE", &format!("{path5}/{}", org_id(2)), Some(&late), None).await.unwrap(), 200);
    let shortlist_late = format!("/api/v1/demands/{id}/applications/{late_application}/shortlist");
    let a = x.request("POST", &shortlist_late, Some(&poster), None).await.unwrap();
    ok(&a, 422);
    assert!(a.body["detail"].as_str().unwrap().contains("同一实际控制人"), "{}", a.body);

    let step = |s: &str| format!("/api/v1/demands/{id}/applications/{application}/{s}");
    ok(&x.request("POST", &step("award"), Some(&poster), None).await.unwrap(), 422);
    ok(&x.request("POST", &step("shortlist"), Some(&poster), None).await.unwrap(), 200);
    ok(&x.request("POST", &step("award"), Some(&poster), None).await.unwrap(), 200);
    let a = x.request("GET", &format!("/api/v1/demands/{id}"), Some(&poster), None).await.unwrap();
    assert_eq!(a.body["status"], "awarded");
    let applicants: Vec<&str> =
        a.body["applications"].as_array().unwrap().iter().map(|a| a["applicant_org_id"].as_str().unwrap()).collect();
    assert!(!applicants.contains(&org_id(1).as_str()), "the refused applications left no trace: {applicants:?}");
    assert_eq!(applicants.len(), 2, "{applicants:?}");
    let a = x.request("GET", &format!("/api/v1/demands/{id}"), Some(&related), None).await.unwrap();
    assert_eq!(a.body["applications"].as_array().unwrap().len(), 0, "others' letters are not shown");
    x.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_challenge_flow_on_the_embedded_log() {
    a_related_partys_application_is_refused_and_another_is_awarded(Mode::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_challenge_flow_on_nats() {
    a_related_partys_application_is_refused_and_another_is_awarded(Mode::Nats).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notice_flow_on_the_embedded_log() {
    a_notice_is_objected_to_resolved_and_ended_by_the_clock(Mode::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notice_flow_on_nats() {
    a_notice_is_objected_to_resolved_and_ended_by_the_clock(Mode::Nats).await;
}
