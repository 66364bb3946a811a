//! User flows through HTTP, the same in both deployments.

use std::time::Duration;

use serde_json::json;
use ttx_tests::exchange::{Mode, TestExchange, listing_json, org_of};

fn encode(q: &str) -> String {
    form_urlencoded::byte_serialize(q.as_bytes()).collect()
}

/// The fixture's listing (`exchange::listing_json`), offered for assignment or an exclusive licence, asking
/// ¥5,000,000.
fn listing() -> serde_json::Value {
    let mut listing = listing_json();
    listing["modes"] = json!(["assignment", "exclusive_licence"]);
    listing["asking_price_fen"] = json!(500_000_000);
    listing
}

/// A manager publishes a result with a notice, an enterprise objects, the objection is answered and dismissed, and
/// the notice ends by the clock; only then may a deal at the noticed price close.
async fn a_notice_is_objected_to_resolved_and_ended_by_the_clock(mode: Mode) {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt().with_env_filter("info").with_test_writer().try_init();
    }
    let x = TestExchange::spawn(mode).await.unwrap();

    let id = x.create_result("zhangwei", listing()).await.expect(201).id();
    let path = |tail: &str| format!("/api/v1/results/{id}{tail}");
    x.submit_result("zhangwei", &id).await.expect(200);
    // The enterprise cannot see a result under review.
    x.get("zhaomin", &path("")).await.expect(404);
    x.approve_result("liuyang", &id).await.expect(200);
    x.publish_result("zhangwei", &id).await.expect(200);
    let morning = x.token("zhaomin").await.unwrap().unwrap_or_default();

    // Published, it is found by a Chinese query that is not in its title (锂电池 for 锂离子电池), by the enterprise
    // and, being listed as public, by an anonymous visitor.
    let search = format!("q={}", encode("锂电池"));
    let a = x.search("zhaomin", &search).await.expect(200);
    assert_eq!(a.body["total"], 1, "{}", a.body);
    assert_eq!(a.body["hits"][0]["id"], id.as_str());
    assert_eq!(a.body["facets"]["field"], json!([{ "value": "new_energy", "count": 1 }]));
    let a = x.search("", &search).await;
    assert_eq!(a.body["hits"][0]["id"], id.as_str());
    let a = x.search("", "trl_min=12").await.expect(422);
    assert_eq!(a.body["field"], "trl_min");
    x.start_notice("zhangwei", &id, 480000000, 15).await.expect(201);

    let objection = x.raise_objection("zhaomin", &id, "价格明显偏低").await.expect(201).id();
    x.answer_objection("zhangwei", &id, &objection, "价格经第三方评估").await.expect(200);
    let a = x.deal_status("zhaomin", &id, 480000000).await;
    assert_eq!(a.body["blocked_by"], "notice_running");
    x.resolve_objection("liuyang", &id, &objection, false, "评估报告充分").await.expect(200);

    // 15 days from Monday 2026-09-21 end on 10-06, in the National Day holiday: the notice runs to 24:00 Beijing on
    // 10-08 (Civil Code art. 201–203).
    x.advance(Duration::from_secs(18 * 86_400));
    // Eighteen days on, the morning's tokens have expired.
    assert_eq!(x.request("GET", "/api/v1/me", Some(&morning), None).await.unwrap().status, 401);
    let mut last = serde_json::Value::Null;
    for _ in 0..200 {
        let a = x.deal_status("zhaomin", &id, 480000000).await;
        if a.body["may_close"] == true {
            last = serde_json::Value::Null;
            break;
        }
        last = a.body;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(last, serde_json::Value::Null, "the notice did not end by the clock: {last}");
    let a = x.get("zhaomin", &path("")).await;
    assert_eq!(a.body["notice"]["ended"], true);
    assert_eq!(a.body["notice"]["objections"][0]["resolution"], "dismissed");
    let a = x.deal_status("zhaomin", &id, 1).await;
    assert_eq!(a.body["blocked_by"], "price_differs", "a deal at another price needs a new notice");
    x.stop().await.unwrap();
}

/// An enterprise posts a challenge; the university declared the enterprise its related party, so its application is
/// refused with the relation, and still after it withdraws the declaration; an enterprise that declares the link after
/// applying is refused at the shortlist; the institute's is shortlisted and awarded.
async fn a_related_partys_application_is_refused_and_another_is_awarded(mode: Mode) {
    let x = TestExchange::spawn(mode).await.unwrap();

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
    let id = x.post_demand("zhaomin", challenge).await.expect(201).id();
    let a = x.search("wangqiang", &format!("kind=demand&q={}", encode("低温"))).await;
    assert_eq!(a.body["hits"][0]["id"], id.as_str(), "{}", a.body);
    x.get("zhaomin", &format!("/api/v1/demands/{id}/matches")).await.expect(200);
    x.get("zhangwei", "/api/v1/notifications").await.expect(200);

    let (university, poster) = (org_of("zhangwei"), org_of("zhaomin"));
    x.declare_related_party("zhangwei", &university, &poster, "校办企业（持股 30%）").await.expect(201);

    let letter = ["88%", "3000 次"];
    let a = x.apply_to_challenge("zhangwei", &id, &letter).await.expect(422);
    assert!(a.detail().contains("校办企业"), "the reason names the relation: {}", a.body);
    // Withdrawing the declaration while the challenge is open does not clear the conflict.
    x.withdraw_related_party("zhangwei", &university, &poster).await.expect(200);
    let a = x.apply_to_challenge("zhangwei", &id, &letter).await.expect(422);
    assert!(a.detail().contains("校办企业"), "still refused: {}", a.body);
    let application = x.apply_to_challenge("wangqiang", &id, &letter).await.expect(201).id();
    // An enterprise applies, and declares the poster a related party afterwards, then withdraws it: its application
    // is refused at the shortlist, the check running again at each step.
    let late_application = x.apply_to_challenge("sunli", &id, &letter).await.expect(201).id();
    let late = org_of("sunli");
    x.declare_related_party("sunli", &late, &poster, "同一实际控制人").await.expect(201);
    x.withdraw_related_party("sunli", &late, &poster).await.expect(200);
    let a = x.application_step("zhaomin", &id, &late_application, "shortlist").await.expect(422);
    assert!(a.detail().contains("同一实际控制人"), "{}", a.body);

    x.application_step("zhaomin", &id, &application, "award").await.expect(422);
    x.application_step("zhaomin", &id, &application, "shortlist").await.expect(200);
    x.application_step("zhaomin", &id, &application, "award").await.expect(200);
    let a = x.get("zhaomin", &format!("/api/v1/demands/{id}")).await;
    assert_eq!(a.body["status"], "awarded");
    let applicants: Vec<&str> =
        a.body["applications"].as_array().unwrap().iter().map(|a| a["applicant_org_id"].as_str().unwrap()).collect();
    assert!(
        !applicants.contains(&org_of("zhangwei").as_str()),
        "the refused applications left no trace: {applicants:?}"
    );
    assert_eq!(applicants.len(), 2, "{applicants:?}");
    let a = x.get("zhangwei", &format!("/api/v1/demands/{id}")).await;
    assert_eq!(a.body["applications"].as_array().unwrap().len(), 0, "others' letters are not shown");
    x.stop().await.unwrap();
}

/// Who finds a published result depends on how it is listed: anyone (public), logged-in users (registered users
/// only), or only its holder and the supervisors (shown under a non-disclosure agreement); reading it directly agrees
/// with search.
async fn each_audience_finds_what_it_may_see(mode: Mode) {
    let x = TestExchange::spawn(mode).await.unwrap();
    let mut ids = std::collections::BTreeMap::new();
    for visibility in ["public", "registered_users", "under_nda"] {
        let mut body = listing();
        body["title"] = json!(format!("钙钛矿叠层光伏组件（{visibility}）"));
        body["visibility"] = json!(visibility);
        ids.insert(x.published(body).await, visibility);
    }
    let everyone = ["public", "registered_users", "under_nda"];
    // (who, what they find): anonymous, an enterprise, the other university's manager, the holder, the regulator.
    let audiences: [(&str, &[&str]); 5] = [
        ("", &["public"]),
        ("zhaomin", &["public", "registered_users"]),
        ("chenjing", &["public", "registered_users"]),
        ("zhangwei", &everyone),
        ("wufang", &everyone),
    ];
    for (who, sees) in audiences {
        let a = x.search(who, &format!("q={}", encode("钙钛矿"))).await.expect(200);
        let mut found: Vec<&str> =
            a.body["hits"].as_array().unwrap().iter().filter_map(|h| ids.get(h["id"].as_str()?).copied()).collect();
        found.sort_unstable();
        let mut want = sees.to_vec();
        want.sort_unstable();
        assert_eq!(found, want, "{who:?} searched: {}", a.body);
        assert_eq!(a.body["total"], sees.len(), "{who:?}: the total counts only what they may see");
        for (id, visibility) in &ids {
            let status = x.get(who, &format!("/api/v1/results/{id}")).await.status;
            assert_eq!(status == 200, sees.contains(visibility), "{who:?} read the {visibility} result: {status}");
        }
    }
    x.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_visibility_on_the_embedded_log() {
    each_audience_finds_what_it_may_see(Mode::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_visibility_on_nats() {
    each_audience_finds_what_it_may_see(Mode::Nats).await;
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
