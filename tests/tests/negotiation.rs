//! Negotiation flows through HTTP, the same in both deployments: a negotiated deal blocked by an open objection and
//! then agreed; a listed-price sale whose two registrants go to a bidding session won under the anti-sniping rule; a
//! sealed-bid session in which one bidder fails to reveal.

use std::time::Duration;

use serde_json::{Value, json};
use ttx_tests::exchange::{Answer, Mode, TestExchange, org_id};

const MINUTE: Duration = Duration::from_secs(60);
const DAY: Duration = Duration::from_secs(86_400);

fn ok(a: &Answer, want: u16) {
    assert_eq!(a.status, want, "{}", a.body);
}

fn listing(route: &str) -> Value {
    json!({
        "title": "高能量密度锂离子电池正极材料",
        "summary": "一种高镍三元正极材料的制备方法，循环寿命显著提升。",
        "field": "new_energy",
        "trl": { "level": 6, "assessor": "第三方评价机构", "assessed_on": "2026-03-01", "evidence": "中试报告" },
        "form": "material",
        "holders": [{ "org_id": org_id(1), "share_bp": 10000 }],
        "inventors": ["王教授"],
        "secrecy": "public",
        "modes": ["assignment"],
        "asking_price_fen": 500000000,
        "route": route,
        "visibility": "public"
    })
}

/// Logs in the users again (tokens expire as the test clock moves on) and keeps them by name.
struct People<'a> {
    x: &'a TestExchange,
    tokens: std::collections::HashMap<&'static str, String>,
}

impl<'a> People<'a> {
    async fn new(x: &'a TestExchange) -> Self {
        let mut p = Self { x, tokens: Default::default() };
        p.refresh().await;
        p
    }

    async fn refresh(&mut self) {
        for user in ["root", "zhangwei", "liuyang", "zhaomin", "sunli", "wangqiang"] {
            self.tokens.insert(user, self.x.login(user).await.unwrap());
        }
    }

    async fn advance(&mut self, d: Duration) {
        self.x.advance(d);
        self.refresh().await;
    }

    async fn call(&self, who: &str, method: &str, path: &str, body: Option<Value>) -> Answer {
        self.x.request(method, path, Some(&self.tokens[who]), body.as_ref()).await.unwrap()
    }

    /// Polls `path` as `who` until `done` holds (timers and reactions run on their own).
    async fn wait(&self, who: &str, path: &str, done: impl Fn(&Value) -> bool) -> Value {
        let mut last = Value::Null;
        for _ in 0..200 {
            let a = self.call(who, "GET", path, None).await;
            if a.status == 200 && done(&a.body) {
                return a.body;
            }
            last = a.body;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{path} never got there: {last}");
    }

    /// A result created, reviewed and published by the university.
    async fn published(&self, route: &str) -> String {
        self.published_with(route, &["assignment"]).await
    }

    /// A result offered in `modes`, created, reviewed and published by the university.
    async fn published_with(&self, route: &str, modes: &[&str]) -> String {
        let mut body = listing(route);
        body["modes"] = json!(modes);
        let a = self.call("zhangwei", "POST", "/api/v1/results", Some(body)).await;
        ok(&a, 201);
        let id = a.body["id"].as_str().unwrap().to_owned();
        for (who, step) in [("zhangwei", "submit"), ("liuyang", "approve"), ("zhangwei", "publish")] {
            ok(&self.call(who, "POST", &format!("/api/v1/results/{id}/{step}"), None).await, 200);
        }
        id
    }

    fn now(&self) -> ttx_kernel::Timestamp {
        use ttx_kernel::Clock;
        self.x.clock.now()
    }

    /// A session's rules: ¥1,000,000 to start in ¥10,000 steps, a 10 % deposit, registration for a day, bidding from
    /// a minute from now for two days with a five-minute extension; sealed ones reveal on the third day.
    fn auction_rules(&self, sealed: bool) -> Value {
        let mut rules = json!({
            "start_price_fen": 100000000,
            "increment_fen": 1000000,
            "deposit_fen": 10000000,
            "registration_closes": self.at(DAY),
            "bidding_opens": self.at(MINUTE),
            "bidding_closes": self.at(2 * DAY),
            "anti_sniping": "extension",
            "window_seconds": 300,
        });
        if sealed {
            rules["sealed"] = json!(true);
            rules["reveal_closes"] = json!(self.at(3 * DAY));
        }
        rules
    }

    fn at(&self, d: Duration) -> String {
        ttx_kernel::Timestamp::from_unix_micros(self.now().unix_micros() + d.as_micros() as i64).to_string()
    }
}

async fn a_negotiated_deal_waits_for_the_objection_then_closes(mode: Mode) {
    let x = TestExchange::spawn(mode).await.unwrap();
    let mut p = People::new(&x).await;
    let result = p.published("negotiated").await;
    let notice = json!({ "price_fen": 480000000, "days": 15 });
    ok(&p.call("zhangwei", "POST", &format!("/api/v1/results/{result}/notice"), Some(notice)).await, 201);

    // The mode is declared at the opening, one the result offers.
    let open = |mode: &str| Some(json!({ "result_id": result, "mode": mode }));
    let a = p.call("zhaomin", "POST", "/api/v1/negotiations", open("exclusive_licence")).await;
    ok(&a, 422);
    assert_eq!(a.body["field"], "mode", "{}", a.body);
    let a = p.call("zhaomin", "POST", "/api/v1/negotiations", open("assignment")).await;
    ok(&a, 201);
    let n = a.body["id"].as_str().unwrap().to_owned();
    let path = |tail: &str| format!("/api/v1/negotiations/{n}{tail}");
    // The negotiation holds the result's market; who negotiates stays between the parties and the holder.
    let market = format!("/api/v1/results/{result}/market");
    let seen = p.call("sunli", "GET", &market, None).await.body;
    assert_eq!(
        (seen["open"][0]["kind"].as_str(), seen["open"][0]["process_id"].as_str()),
        (Some("negotiation"), Some(""))
    );
    assert_eq!(p.call("zhangwei", "GET", &market, None).await.body["open"][0]["process_id"], n.as_str());
    let sheet = |mode: &str, price: i64, payments: Value| json!({ "mode": mode, "price_fen": price, "territory": "中国大陆", "term_months": 0, "payments": payments });
    let terms = |price: i64| {
        let first = price / 3;
        sheet(
            "assignment",
            price,
            json!([
                { "amount_fen": first, "after": { "event": "signing", "working_days": 10 } },
                { "amount_fen": price - first, "due_on": "2027-06-30" },
            ]),
        )
    };
    // Money is never wrong: amounts beyond the rules' ceiling, sums that would wrap, and schedules that do not add
    // up are refused, each naming its field.
    let huge = sheet(
        "assignment",
        i64::MAX,
        json!([{ "amount_fen": i64::MAX, "due_on": "2027-06-30" }, { "amount_fen": 1, "due_on": "2027-06-30" }]),
    );
    let a = p.call("zhaomin", "POST", &path("/offers"), Some(huge)).await;
    ok(&a, 422);
    assert_eq!(a.body["field"], "terms.price_fen", "{}", a.body);
    let wraps = sheet(
        "assignment",
        1000,
        json!([{ "amount_fen": i64::MAX, "due_on": "2027-06-30" }, { "amount_fen": 2, "due_on": "2027-06-30" }]),
    );
    let a = p.call("zhaomin", "POST", &path("/offers"), Some(wraps)).await;
    ok(&a, 422);
    assert_eq!(a.body["field"], "terms.payments[0].amount_fen", "{}", a.body);
    let short = sheet("assignment", 1000, json!([{ "amount_fen": 999, "due_on": "2027-06-30" }]));
    let a = p.call("zhaomin", "POST", &path("/offers"), Some(short)).await;
    ok(&a, 422);
    assert_eq!(a.body["field"], "terms.payments", "{}", a.body);
    let free_text = json!({ "mode": "assignment", "price_fen": 1000, "payments": [{ "amount_fen": 1000 }] });
    let a = p.call("zhaomin", "POST", &path("/offers"), Some(free_text)).await;
    ok(&a, 422);
    assert_eq!(a.body["field"], "terms.payments[0].due_on", "{}", a.body);
    // No offer changes the exclusivity the negotiation was opened for.
    let mut licence = sheet("non_exclusive_licence", 1000, json!([{ "amount_fen": 1000, "due_on": "2027-06-30" }]));
    licence["term_months"] = json!(60);
    let a = p.call("zhaomin", "POST", &path("/offers"), Some(licence)).await;
    ok(&a, 422);
    assert!(a.body["detail"].as_str().unwrap().contains("exclusivity"), "{}", a.body);
    ok(&p.call("zhaomin", "POST", &path("/offers"), Some(terms(450000000))).await, 201);
    ok(&p.call("zhangwei", "POST", &path("/offers"), Some(terms(480000000))).await, 201);
    // The buyer accepts the seller's version 2, but the notice runs.
    let accept = json!({ "version": 2 });
    let a = p.call("zhaomin", "POST", &path("/accept"), Some(accept.clone())).await;
    ok(&a, 422);
    assert!(a.body["detail"].as_str().unwrap().contains("still running"), "{}", a.body);
    // The buyer objects; the notice ends by the clock with the objection open.
    let a = p
        .call("zhaomin", "POST", &format!("/api/v1/results/{result}/objections"), Some(json!({ "text": "价格偏低" })))
        .await;
    ok(&a, 201);
    let objection = a.body["id"].as_str().unwrap().to_owned();
    // 15 days from Monday 2026-09-21 end on 10-06, in the National Day holiday: the notice runs to 24:00 on 10-08.
    p.advance(18 * DAY).await;
    p.wait("zhaomin", &format!("/api/v1/results/{result}"), |r| r["notice"]["ended"] == true).await;
    let a = p.call("zhaomin", "POST", &path("/accept"), Some(accept.clone())).await;
    ok(&a, 422);
    assert!(a.body["detail"].as_str().unwrap().contains("objection"), "{}", a.body);
    // The holder answers and the reviewer dismisses it; now the deal closes at the noticed price.
    let answer_path = format!("/api/v1/results/{result}/objections/{objection}/answer");
    ok(&p.call("zhangwei", "POST", &answer_path, Some(json!({ "answer": "价格经第三方评估" }))).await, 200);
    let resolution = json!({ "upheld": false, "note": "评估报告充分" });
    let objection_path = format!("/api/v1/results/{result}/objections/{objection}/resolution");
    ok(&p.call("liuyang", "POST", &objection_path, Some(resolution)).await, 200);
    let deal = p.wait("zhaomin", &path(""), |v| v["status"] == "open").await;
    assert_eq!(deal["offers"].as_array().unwrap().len(), 2);
    let mut agreed = Answer { status: 0, body: Value::Null };
    for _ in 0..100 {
        agreed = p.call("zhaomin", "POST", &path("/accept"), Some(accept.clone())).await;
        if agreed.status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    ok(&agreed, 200);
    let v = p.call("zhangwei", "GET", &path(""), None).await.body;
    assert_eq!(v["status"], "agreed");
    assert_eq!(v["deal"]["price_fen"], 480000000);
    assert_eq!(v["deal"]["route"], "negotiated");
    assert!(v["deal"]["contract_due"].is_string());
    // Listings reacts: the result is under contract; its market records the exclusive right granted, and a second
    // negotiation cannot open.
    p.wait("zhaomin", &format!("/api/v1/results/{result}"), |r| r["status"] == "under_contract").await;
    let market = p.wait("zhaomin", &format!("/api/v1/results/{result}/market"), |m| m["open"] == json!([])).await;
    assert_eq!(market["exclusive_deal_id"], n.as_str(), "{market}");
    let a = p
        .call("sunli", "POST", "/api/v1/negotiations", Some(json!({ "result_id": result, "mode": "assignment" })))
        .await;
    ok(&a, 409);
    assert!(a.body["detail"].as_str().unwrap().contains("exclusive right"), "{}", a.body);
    x.stop().await.unwrap();
}

async fn a_listed_sale_with_two_registrants_goes_to_a_bidding_session_won_under_the_extension_rule(mode: Mode) {
    let x = TestExchange::spawn(mode).await.unwrap();
    let mut p = People::new(&x).await;
    let result = p.published("listed").await;
    let sale = json!({
        "result_id": result,
        "terms": {
            "mode": "assignment",
            "price_fen": 200000000,
            "payments": [
                { "amount_fen": 60000000, "after": { "event": "signing", "working_days": 10 } },
                { "amount_fen": 140000000, "after": { "event": "registration", "working_days": 30 } },
            ],
        },
        "disclosure_working_days": 10,
    });
    let a = p.call("zhangwei", "POST", "/api/v1/listed-sales", Some(sale)).await;
    ok(&a, 201);
    let l = a.body["id"].as_str().unwrap().to_owned();
    for who in ["zhaomin", "sunli"] {
        ok(&p.call(who, "POST", &format!("/api/v1/listed-sales/{l}/register"), None).await, 200);
    }
    ok(&p.call("zhaomin", "POST", &format!("/api/v1/listed-sales/{l}/register"), None).await, 409);
    // The period ends (10 working days from Monday 2026-09-21: the Mid-Autumn and National Day holidays do not count,
    // so it runs to 24:00 Beijing on 10-12): two registrants go to a bidding session opened for them.
    p.advance(22 * DAY).await;
    let sale = p.wait("zhangwei", &format!("/api/v1/listed-sales/{l}"), |v| v["status"] == "to_auction").await;
    assert_eq!(sale["registrant_org_ids"].as_array().unwrap().len(), 2);
    let s = sale["session_id"].as_str().unwrap().to_owned();
    let session = |tail: &str| format!("/api/v1/sessions/{s}{tail}");
    let v = p.wait("zhaomin", &session(""), |v| v["phase"] == "open").await;
    assert_eq!(v["rules"]["start_price_fen"], 200000000);
    let increment = v["rules"]["increment_fen"].as_i64().unwrap();
    assert_eq!(increment, 2000000);
    for (who, org) in [("zhaomin", 2), ("sunli", 5)] {
        ok(&p.call(who, "POST", &session("/register"), None).await, 200);
        let deposit = json!({ "bidder_org_id": org_id(org), "amount_fen": 20000000, "reference": "银行流水 001" });
        ok(&p.call("root", "POST", &session("/deposits"), Some(deposit)).await, 200);
    }
    ok(&p.call("zhangwei", "POST", &session("/register"), None).await, 403);
    // Bidding opens a day later.
    let bid = |amount: i64| Some(json!({ "amount_fen": amount }));
    ok(&p.call("zhaomin", "POST", &session("/bids"), bid(200000000)).await, 422);
    p.advance(DAY).await;
    ok(&p.call("zhaomin", "POST", &session("/bids"), bid(200000000)).await, 201);
    ok(&p.call("sunli", "POST", &session("/bids"), bid(200000000 + increment / 2)).await, 422);
    ok(&p.call("sunli", "POST", &session("/bids"), bid(200000000 + increment)).await, 201);
    // A bid on the increment grid but beyond the rules' ceiling is refused, naming the amount; i64::MAX too.
    let a = p.call("zhaomin", "POST", &session("/bids"), bid(200000000 + 10_000_000 * increment)).await;
    ok(&a, 422);
    assert_eq!(a.body["field"], "amount_fen", "{}", a.body);
    ok(&p.call("zhaomin", "POST", &session("/bids"), bid(i64::MAX)).await, 422);
    ok(&p.call("zhaomin", "POST", &session("/bids"), bid(i64::MIN)).await, 422);
    // Two minutes before the end, a bid moves the end to five minutes after it.
    p.advance(DAY - 2 * MINUTE).await;
    ok(&p.call("zhaomin", "POST", &session("/bids"), bid(200000000 + 3 * increment)).await, 201);
    let v = p.call("sunli", "GET", &session(""), None).await.body;
    let ends_at = ttx_kernel::Timestamp::parse_rfc3339(v["ends_at"].as_str().unwrap()).unwrap();
    assert_eq!(ends_at.unix_micros(), p.now().unix_micros() + 5 * 60_000_000, "extended: {v}");
    assert_eq!(v["bids"][2]["bidder"], "竞买人 1", "others are pseudonymous: {v}");
    assert_eq!(v["bids"][1]["mine"], true);
    // At the original end the session is still open; the other bidder answers within the extension.
    p.advance(3 * MINUTE).await;
    ok(&p.call("sunli", "POST", &session("/bids"), bid(200000000 + 4 * increment)).await, 201);
    p.advance(6 * MINUTE).await;
    let closed = p.wait("zhangwei", &session(""), |v| v["phase"] == "closed").await;
    assert_eq!(closed["outcome"]["winner_org_id"], org_id(5));
    assert_eq!(closed["outcome"]["price_fen"], 200000000 + 4 * increment);
    assert_eq!(closed["outcome"]["refunds_due"], json!([org_id(2)]));
    assert_eq!(closed["deal"]["route"], "auction");
    // The deal says what was sold: the sale's terms at the final price, the schedule split by the listed shares
    // (30 % and 70 %) and adding up to the price, the winner's deposit credited.
    let price = 200000000 + 4 * increment;
    let deal_terms = &closed["deal"]["terms"];
    assert_eq!((deal_terms["mode"].as_str(), deal_terms["exclusive"].as_bool()), (Some("assignment"), Some(true)));
    let amounts: Vec<i64> =
        deal_terms["payments"].as_array().unwrap().iter().map(|p| p["amount_fen"].as_i64().unwrap()).collect();
    assert_eq!(amounts, vec![price * 3 / 10, price - price * 3 / 10], "{closed}");
    assert_eq!(deal_terms["payments"][1]["after"]["event"], "registration");
    assert_eq!(closed["deal"]["deposit_credited_fen"], 20000000);
    let refunds_due_by = closed["outcome"]["refunds_due_by"].as_str().unwrap().to_owned();
    ok(&p.call("zhaomin", "POST", &session("/bids"), bid(200000000 + 5 * increment)).await, 422);
    // Every bid, a page at a time, pseudonymous as in the view.
    assert_eq!(closed["bid_count"], 4);
    let first = p.call("zhaomin", "GET", &session("/bids?limit=3"), None).await;
    ok(&first, 200);
    assert_eq!((first.body["bids"].as_array().unwrap().len(), &first.body["next_after"]), (3, &json!(3)));
    assert_eq!(first.body["bids"][1]["bidder"], "竞买人 2", "{}", first.body);
    let rest = p.call("zhaomin", "GET", &session("/bids?after=3&limit=3"), None).await.body;
    assert_eq!(rest["bids"][0]["amount_fen"], 200000000 + 4 * increment);
    assert!(rest["next_after"].is_null(), "{rest}");
    ok(&p.call("zhaomin", "GET", &session("/bids?limit=0"), None).await, 422);
    let malformed = p.call("zhaomin", "GET", &session("/bids?limit=many"), None).await;
    ok(&malformed, 422);
    assert_eq!(malformed.body["field"], "limit", "a malformed query names its parameter: {}", malformed.body);
    p.wait("zhaomin", &format!("/api/v1/results/{result}"), |r| r["status"] == "under_contract").await;
    // The loser's deposit is due back within five working days; not yet overdue.
    let overdue = p.call("root", "GET", "/api/v1/refunds/overdue", None).await;
    ok(&overdue, 200);
    assert_eq!(overdue.body["total"], 0, "{}", overdue.body);
    // The winner does not sign within the five working days: the timer records the default and the deposit is
    // forfeited.
    let due = ttx_kernel::Timestamp::parse_rfc3339(closed["deal"]["contract_due"].as_str().unwrap()).unwrap();
    assert!(due.unix_micros() > p.now().unix_micros() + 6 * 86_400_000_000, "five working days: {closed}");
    ok(&p.call("root", "POST", &session("/default"), Some(json!({ "reason": "too early" }))).await, 422);
    p.advance(15 * DAY).await;
    let defaulted = p.wait("sunli", &session(""), |v| v["phase"] == "defaulted").await;
    assert_eq!(defaulted["my_deposit"], "forfeited");
    // Not refunded in time: the loser's deposit is listed as overdue for administrators, until it is refunded.
    let overdue = p.call("root", "GET", "/api/v1/refunds/overdue", None).await;
    ok(&overdue, 200);
    assert_eq!(overdue.body["total"], 1, "{}", overdue.body);
    let listed = &overdue.body["refunds"][0];
    assert_eq!(
        (listed["session_id"].as_str(), listed["bidder_org_id"].as_str()),
        (Some(s.as_str()), Some(org_id(2).as_str()))
    );
    assert_eq!(
        (listed["amount_fen"].as_i64(), listed["due_by"].as_str()),
        (Some(20000000), Some(refunds_due_by.as_str()))
    );
    ok(&p.call("zhaomin", "GET", "/api/v1/refunds/overdue", None).await, 403);
    let refund = json!({ "bidder_org_id": org_id(2), "reference": "退款 001" });
    ok(&p.call("root", "POST", &session("/refunds"), Some(refund)).await, 200);
    let overdue = p.call("root", "GET", "/api/v1/refunds/overdue", None).await;
    assert_eq!(overdue.body["total"], 0, "{}", overdue.body);
    assert!(defaulted["contract_reference"].is_null());
    ok(&p.call("root", "POST", &session("/contract-signed"), Some(json!({ "reference": "late" }))).await, 422);
    // After the default the result is back on the market, and the holder can sell it again.
    p.wait("zhangwei", &format!("/api/v1/results/{result}"), |r| r["status"] == "published").await;
    let market = p.wait("zhangwei", &format!("/api/v1/results/{result}/market"), |m| m["open"] == json!([])).await;
    assert!(market["exclusive_deal_id"].is_null(), "the defaulted deal's right is void: {market}");
    let again = json!({
        "result_id": result,
        "terms": {
            "mode": "assignment",
            "price_fen": 200000000,
            "payments": [{ "amount_fen": 200000000, "after": { "event": "signing", "working_days": 10 } }],
        },
        "disclosure_working_days": 10,
    });
    ok(&p.call("zhangwei", "POST", "/api/v1/listed-sales", Some(again)).await, 201);
    x.stop().await.unwrap();
}

fn whole_at_signing() -> Value {
    json!({
        "mode": "assignment",
        "payments": [{ "share_bp": 10000, "after": { "event": "signing", "working_days": 10 } }],
    })
}

async fn a_withdrawal_cancels_the_running_session_and_forfeits_no_deposit(mode: Mode) {
    let x = TestExchange::spawn(mode).await.unwrap();
    let mut p = People::new(&x).await;
    let result = p.published("auction").await;
    let open = json!({ "result_id": result, "rules": p.auction_rules(false), "terms": whole_at_signing() });
    let a = p.call("zhangwei", "POST", "/api/v1/sessions", Some(open.clone())).await;
    ok(&a, 201);
    let s = a.body["id"].as_str().unwrap().to_owned();
    let session = |tail: &str| format!("/api/v1/sessions/{s}{tail}");
    // One result, one live exclusive sale: a second session is refused while this one runs.
    let second = p.call("zhangwei", "POST", "/api/v1/sessions", Some(open)).await;
    ok(&second, 409);
    for (who, org) in [("zhaomin", 2), ("sunli", 5)] {
        ok(&p.call(who, "POST", &session("/register"), None).await, 200);
        let deposit = json!({ "bidder_org_id": org_id(org), "amount_fen": 10000000, "reference": "保证金" });
        ok(&p.call("root", "POST", &session("/deposits"), Some(deposit)).await, 200);
    }
    p.advance(2 * MINUTE).await;
    ok(&p.call("zhaomin", "POST", &session("/bids"), Some(json!({ "amount_fen": 100000000 }))).await, 201);
    // The holder withdraws the result while bidders are registered: the session is cancelled by the exchange, every
    // deposit stays the bidder's, and no more bids are taken.
    let withdraw = json!({ "reason": "转化计划调整" });
    ok(&p.call("zhangwei", "POST", &format!("/api/v1/results/{result}/withdraw"), Some(withdraw)).await, 200);
    let v = p.wait("zhaomin", &session(""), |v| v["phase"] == "cancelled").await;
    assert_eq!(v["my_deposit"], "confirmed", "{v}");
    assert_eq!(v["cancellation"]["refunds_due"], json!([org_id(2), org_id(5)]), "{v}");
    assert!(v["cancellation"]["reason"].as_str().unwrap().contains("withdrew"), "{v}");
    ok(&p.call("sunli", "POST", &session("/bids"), Some(json!({ "amount_fen": 101000000 }))).await, 422);
    p.wait("zhaomin", &format!("/api/v1/results/{result}/market"), |m| m["open"] == json!([])).await;
    // Past the end and the contract deadline: nothing forfeited, no default; both refunds are due and, unpaid,
    // listed as overdue until refunded.
    p.advance(15 * DAY).await;
    for who in ["zhaomin", "sunli"] {
        let v = p.call(who, "GET", &session(""), None).await.body;
        assert_eq!((v["phase"].as_str(), v["my_deposit"].as_str()), (Some("cancelled"), Some("confirmed")), "{v}");
    }
    let overdue = p.wait("root", "/api/v1/refunds/overdue", |o| o["total"] == 2).await;
    assert!(overdue["refunds"].as_array().unwrap().iter().all(|r| r["session_id"] == s.as_str()), "{overdue}");
    for org in [2, 5] {
        let refund = json!({ "bidder_org_id": org_id(org), "reference": "退款" });
        ok(&p.call("root", "POST", &session("/refunds"), Some(refund)).await, 200);
    }
    assert_eq!(p.call("root", "GET", "/api/v1/refunds/overdue", None).await.body["total"], 0);
    x.stop().await.unwrap();
}

async fn non_exclusive_licences_are_granted_many_times_until_the_holder_stops(mode: Mode) {
    let x = TestExchange::spawn(mode).await.unwrap();
    let mut p = People::new(&x).await;
    let result = p.published_with("listed", &["non_exclusive_licence", "assignment"]).await;
    let sale = |mode: &str, working_days: u32| {
        json!({
            "result_id": result,
            "terms": {
                "mode": mode,
                "price_fen": 10000000,
                "territory": "中国大陆",
                "term_months": 36,
                "payments": [{ "amount_fen": 10000000, "after": { "event": "signing", "working_days": 10 } }],
            },
            "disclosure_working_days": working_days,
        })
    };
    // Two licences on sale side by side; an assignment is refused beside them.
    let mut sales = Vec::new();
    for _ in 0..2 {
        let a = p.call("zhangwei", "POST", "/api/v1/listed-sales", Some(sale("non_exclusive_licence", 10))).await;
        ok(&a, 201);
        sales.push(a.body["id"].as_str().unwrap().to_owned());
    }
    ok(&p.call("zhangwei", "POST", "/api/v1/listed-sales", Some(sale("assignment", 10))).await, 409);
    for (who, l) in [("zhaomin", &sales[0]), ("sunli", &sales[1])] {
        ok(&p.call(who, "POST", &format!("/api/v1/listed-sales/{l}/register"), None).await, 200);
    }
    // 10 working days from 2026-09-21 run to 24:00 Beijing on 10-12, past the Mid-Autumn and National Day holidays.
    p.advance(22 * DAY).await;
    for l in &sales {
        let v = p.wait("zhangwei", &format!("/api/v1/listed-sales/{l}"), |v| v["status"] == "sold").await;
        assert_eq!(v["deal"]["terms"]["exclusive"], false, "{v}");
    }
    // Both licences granted, and the result is still on the market.
    let market = p
        .wait("zhangwei", &format!("/api/v1/results/{result}/market"), |m| m["licences"].as_array().unwrap().len() == 2)
        .await;
    assert!(market["exclusive_deal_id"].is_null(), "{market}");
    assert_eq!(p.call("zhaomin", "GET", &format!("/api/v1/results/{result}"), None).await.body["status"], "published");
    // An exclusive sale would contradict the licences; a third licence sells until the holder stops licensing.
    ok(&p.call("zhangwei", "POST", "/api/v1/listed-sales", Some(sale("assignment", 10))).await, 422);
    ok(&p.call("zhaomin", "POST", &format!("/api/v1/results/{result}/stop-licensing"), None).await, 403);
    ok(&p.call("zhangwei", "POST", &format!("/api/v1/results/{result}/stop-licensing"), None).await, 200);
    let refused = p.call("zhangwei", "POST", "/api/v1/listed-sales", Some(sale("non_exclusive_licence", 10))).await;
    ok(&refused, 422);
    assert!(refused.body["detail"].as_str().unwrap().contains("stopped licensing"), "{}", refused.body);
    x.stop().await.unwrap();
}

fn commitment(session: &str, bidder: &str, amount: i64, nonce: [u8; 32]) -> String {
    hex::encode(ttx_negotiation::seal::commitment(session, bidder, amount, &nonce))
}

async fn a_sealed_session_where_one_bidder_does_not_reveal(mode: Mode) {
    let x = TestExchange::spawn(mode).await.unwrap();
    let mut p = People::new(&x).await;
    let result = p.published("auction").await;
    let rules = p.auction_rules(true);
    let terms = json!({
        "mode": "assignment",
        "payments": [{ "share_bp": 10000, "after": { "event": "signing", "working_days": 10 } }],
    });
    let a = p
        .call(
            "zhangwei",
            "POST",
            "/api/v1/sessions",
            Some(json!({ "result_id": result, "rules": rules, "terms": terms })),
        )
        .await;
    ok(&a, 201);
    let s = a.body["id"].as_str().unwrap().to_owned();
    let session = |tail: &str| format!("/api/v1/sessions/{s}{tail}");
    for (who, org) in [("zhaomin", 2), ("sunli", 5)] {
        ok(&p.call(who, "POST", &session("/register"), None).await, 200);
        let deposit = json!({ "bidder_org_id": org_id(org), "amount_fen": 10000000, "reference": "保证金" });
        ok(&p.call("root", "POST", &session("/deposits"), Some(deposit)).await, 200);
    }
    p.advance(2 * MINUTE).await;
    let (a_nonce, b_nonce) = ([0x11; 32], [0x22; 32]);
    let a_commit = commitment(&s, &org_id(2), 150000000, a_nonce);
    let b_commit = commitment(&s, &org_id(5), 180000000, b_nonce);
    ok(&p.call("zhaomin", "POST", &session("/commitments"), Some(json!({ "commitment": a_commit }))).await, 201);
    ok(&p.call("sunli", "POST", &session("/commitments"), Some(json!({ "commitment": b_commit }))).await, 201);
    // Nobody, not even an administrator, sees an amount before the reveals.
    let admin_view = p.call("root", "GET", &session(""), None).await.body;
    assert_eq!(admin_view["commitments"], 2);
    assert!(!admin_view.to_string().contains("150000000") && !admin_view.to_string().contains("180000000"));
    // Reveals only after the logged close.
    let reveal = |amount: i64, nonce: [u8; 32]| Some(json!({ "amount_fen": amount, "nonce": hex::encode(nonce) }));
    ok(&p.call("zhaomin", "POST", &session("/reveals"), reveal(150000000, a_nonce)).await, 422);
    p.advance(2 * DAY).await;
    p.wait("zhaomin", &session(""), |v| v["phase"] == "revealing").await;
    ok(&p.call("zhaomin", "POST", &session("/reveals"), reveal(160000000, a_nonce)).await, 422);
    ok(&p.call("zhaomin", "POST", &session("/reveals"), reveal(150000000, a_nonce)).await, 200);
    // The higher bidder never reveals: the lower revealed bid wins and the other deposit is forfeited.
    p.advance(DAY).await;
    let closed = p.wait("zhangwei", &session(""), |v| v["phase"] == "closed").await;
    assert_eq!(closed["outcome"]["winner_org_id"], org_id(2));
    assert_eq!(closed["outcome"]["price_fen"], 150000000);
    let loser = p.call("sunli", "GET", &session(""), None).await.body;
    assert_eq!(loser["my_deposit"], "forfeited");
    // The winner signs in time, as recorded by an administrator: the deadline passes with no default.
    let signed = Some(json!({ "reference": "HT-2026-001" }));
    ok(&p.call("zhaomin", "POST", &session("/contract-signed"), signed.clone()).await, 403);
    ok(&p.call("root", "POST", &session("/contract-signed"), signed.clone()).await, 200);
    ok(&p.call("root", "POST", &session("/contract-signed"), Some(json!({ "reference": "HT-2" }))).await, 409);
    p.advance(15 * DAY).await;
    p.wait("zhaomin", &session(""), |v| v["contract_reference"] == "HT-2026-001").await;
    let after = p.call("zhaomin", "GET", &session(""), None).await.body;
    assert_eq!((after["phase"].as_str(), after["my_deposit"].as_str()), (Some("closed"), Some("confirmed")), "{after}");
    x.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_negotiated_deal_on_the_embedded_log() {
    a_negotiated_deal_waits_for_the_objection_then_closes(Mode::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_negotiated_deal_on_nats() {
    a_negotiated_deal_waits_for_the_objection_then_closes(Mode::Nats).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listed_sale_to_auction_on_the_embedded_log() {
    a_listed_sale_with_two_registrants_goes_to_a_bidding_session_won_under_the_extension_rule(Mode::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listed_sale_to_auction_on_nats() {
    a_listed_sale_with_two_registrants_goes_to_a_bidding_session_won_under_the_extension_rule(Mode::Nats).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sealed_session_on_the_embedded_log() {
    a_sealed_session_where_one_bidder_does_not_reveal(Mode::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sealed_session_on_nats() {
    a_sealed_session_where_one_bidder_does_not_reveal(Mode::Nats).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withdrawal_during_a_session_on_the_embedded_log() {
    a_withdrawal_cancels_the_running_session_and_forfeits_no_deposit(Mode::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withdrawal_during_a_session_on_nats() {
    a_withdrawal_cancels_the_running_session_and_forfeits_no_deposit(Mode::Nats).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_exclusive_licences_on_the_embedded_log() {
    non_exclusive_licences_are_granted_many_times_until_the_holder_stops(Mode::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_exclusive_licences_on_nats() {
    non_exclusive_licences_are_granted_many_times_until_the_holder_stops(Mode::Nats).await;
}

fn micros(rfc3339: &str) -> i64 {
    ttx_kernel::Timestamp::parse_rfc3339(rfc3339).unwrap().unix_micros()
}

/// Users whose logins equal the timers' purposes send, with an idempotency key, the command ids the timers used to
/// take (`<purpose>:<what it fires>`); every timer still fires, because the exchange's own ids hold a `~` no caller
/// may send.
async fn timers_fire_whatever_ids_users_choose(mode: Mode) {
    let x = TestExchange::spawn(mode).await.unwrap();
    let mut p = People::new(&x).await;
    for (login, org) in [("notice-end", 2), ("end", 2), ("close", 2), ("contract-due", 5), ("demand-expiry", 5)] {
        let user = json!({
            "user_id": login,
            "org_id": org_id(org),
            "display_name": login,
            "password": ttx_tests::exchange::PASSWORD,
            "roles": ["enterprise_member"],
        });
        ok(&p.call("root", "POST", "/api/v1/users", Some(user)).await, 201);
    }
    let as_user = async |login: &str, path: &str, key: &str, body: Option<Value>| {
        let token = x.login(login).await.unwrap();
        x.request_with("POST", path, Some(&token), &[("Idempotency-Key", key)], body.as_ref()).await.unwrap()
    };
    // A public notice, objected to under the key its end's timer used to take.
    let negotiated = p.published("negotiated").await;
    let notice = json!({ "price_fen": 480000000, "days": 15 });
    ok(&p.call("zhangwei", "POST", &format!("/api/v1/results/{negotiated}/notice"), Some(notice)).await, 201);
    let r = p.call("zhaomin", "GET", &format!("/api/v1/results/{negotiated}"), None).await.body;
    let key = format!("{negotiated}:{}", micros(r["notice"]["ends_at"].as_str().unwrap()));
    let path = format!("/api/v1/results/{negotiated}/objections");
    ok(&as_user("notice-end", &path, &key, Some(json!({ "text": "价格偏低" }))).await, 201);
    // A listed sale, whose only registrant registers under the key of the sale's end.
    let listed = p.published("listed").await;
    let sale = json!({
        "result_id": listed,
        "terms": {
            "mode": "assignment",
            "price_fen": 200000000,
            "payments": [{ "amount_fen": 200000000, "after": { "event": "signing", "working_days": 10 } }],
        },
        "disclosure_working_days": 10,
    });
    let a = p.call("zhangwei", "POST", "/api/v1/listed-sales", Some(sale)).await;
    ok(&a, 201);
    let l = a.body["id"].as_str().unwrap().to_owned();
    let v = p.call("zhaomin", "GET", &format!("/api/v1/listed-sales/{l}"), None).await.body;
    let key = format!("{l}:{}", micros(v["disclosure_ends"].as_str().unwrap()));
    ok(&as_user("end", &format!("/api/v1/listed-sales/{l}/register"), &key, None).await, 200);
    // A session: one bidder registers under the key of its close, the other under the key of its contract deadline.
    let auctioned = p.published("auction").await;
    let open = json!({ "result_id": auctioned, "rules": p.auction_rules(false), "terms": whole_at_signing() });
    let a = p.call("zhangwei", "POST", "/api/v1/sessions", Some(open)).await;
    ok(&a, 201);
    let s = a.body["id"].as_str().unwrap().to_owned();
    let v = p.call("zhaomin", "GET", &format!("/api/v1/sessions/{s}"), None).await.body;
    let close_key = format!("{s}:{}", micros(v["ends_at"].as_str().unwrap()));
    ok(&as_user("close", &format!("/api/v1/sessions/{s}/register"), &close_key, None).await, 200);
    ok(&as_user("contract-due", &format!("/api/v1/sessions/{s}/register"), &s, None).await, 200);
    for org in [2, 5] {
        let deposit = json!({ "bidder_org_id": org_id(org), "amount_fen": 10000000, "reference": "保证金" });
        ok(&p.call("root", "POST", &format!("/api/v1/sessions/{s}/deposits"), Some(deposit)).await, 200);
    }
    p.advance(2 * MINUTE).await;
    ok(
        &p.call("zhaomin", "POST", &format!("/api/v1/sessions/{s}/bids"), Some(json!({ "amount_fen": 100000000 })))
            .await,
        201,
    );
    // A demand valid for ten days; its poster's colleague posts another demand under the key of its expiry.
    let demand = json!({
        "title": "储能电池热管理方案",
        "field": "new_energy",
        "indicators": "温差 ≤ 3℃",
        "problem": "夏季高温下电芯温差大",
        "budget_fen": 50000000,
        "cooperation_mode": "技术转让",
        "wanted_trl": 6,
        "valid_until": p.at(10 * DAY),
    });
    let a = p.call("sunli", "POST", "/api/v1/demands", Some(demand.clone())).await;
    ok(&a, 201);
    let d = a.body["id"].as_str().unwrap().to_owned();
    let v = p.call("sunli", "GET", &format!("/api/v1/demands/{d}"), None).await.body;
    let key = format!("{d}:{}", micros(v["demand"]["valid_until"].as_str().unwrap()));
    ok(&as_user("demand-expiry", "/api/v1/demands", &key, Some(demand)).await, 201);
    // Every timer fires: the sale ends and sells, the session closes, the notice ends, the demand expires, and the
    // unsigned winner defaults at its deadline.
    p.advance(2 * DAY).await;
    p.wait("zhangwei", &format!("/api/v1/sessions/{s}"), |v| v["phase"] == "closed").await;
    // (Past the contract deadline's five working days, whatever holidays fall in them.)
    p.advance(30 * DAY).await;
    p.wait("zhangwei", &format!("/api/v1/listed-sales/{l}"), |v| v["status"] == "sold").await;
    p.wait("zhaomin", &format!("/api/v1/results/{negotiated}"), |r| r["notice"]["ended"] == true).await;
    p.wait("zhangwei", &format!("/api/v1/sessions/{s}"), |v| v["phase"] == "defaulted").await;
    p.wait("sunli", &format!("/api/v1/demands/{d}"), |v| v["status"] == "expired").await;
    // And a key holding the exchange's mark is refused.
    let refused = as_user("close", &format!("/api/v1/sessions/{s}/register"), "x~y", None).await;
    ok(&refused, 422);
    x.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timers_own_their_command_ids_on_the_embedded_log() {
    timers_fire_whatever_ids_users_choose(Mode::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timers_own_their_command_ids_on_nats() {
    timers_fire_whatever_ids_users_choose(Mode::Nats).await;
}

/// Late in a year whose successor has no holiday schedule yet: a user's own period ending then is refused naming the
/// year; a session closed by its timer records its deadlines as pending and raises the alert administrators see;
/// once an administrator loads the year, the timer counts them and the alert clears. Every event records the rules
/// and the calendar it was decided under.
async fn deadlines_in_a_year_without_a_schedule_wait_for_it(mode: Mode) {
    let x = TestExchange::spawn(mode).await.unwrap();
    let mut p = People::new(&x).await;
    // Friday 2026-12-25, 10:00 Beijing.
    x.clock.set(ttx_kernel::Timestamp::parse_rfc3339("2026-12-25T02:00:00Z").unwrap());
    p.refresh().await;
    let negotiated = p.published("negotiated").await;
    let notice = json!({ "price_fen": 480000000, "days": 15 });
    let a = p.call("zhangwei", "POST", &format!("/api/v1/results/{negotiated}/notice"), Some(notice)).await;
    ok(&a, 422);
    assert_eq!(a.body["field"], "days", "{}", a.body);
    assert!(a.body["detail"].as_str().unwrap().contains("2027"), "{}", a.body);
    // A session that closes on Sunday 12-27: five working days from then reach into 2027.
    let auctioned = p.published("auction").await;
    let open = json!({ "result_id": auctioned, "rules": p.auction_rules(false), "terms": whole_at_signing() });
    let a = p.call("zhangwei", "POST", "/api/v1/sessions", Some(open)).await;
    ok(&a, 201);
    let s = a.body["id"].as_str().unwrap().to_owned();
    for (who, org) in [("zhaomin", 2), ("sunli", 5)] {
        ok(&p.call(who, "POST", &format!("/api/v1/sessions/{s}/register"), None).await, 200);
        let deposit = json!({ "bidder_org_id": org_id(org), "amount_fen": 10000000, "reference": "保证金" });
        ok(&p.call("root", "POST", &format!("/api/v1/sessions/{s}/deposits"), Some(deposit)).await, 200);
    }
    p.advance(2 * MINUTE).await;
    let bid = Some(json!({ "amount_fen": 100000000 }));
    ok(&p.call("zhaomin", "POST", &format!("/api/v1/sessions/{s}/bids"), bid).await, 201);
    p.advance(2 * DAY).await;
    let closed = p.wait("zhangwei", &format!("/api/v1/sessions/{s}"), |v| v["phase"] == "closed").await;
    assert_eq!(closed["deal"]["contract_due"], Value::Null, "{closed}");
    assert_eq!(
        (closed["deal"]["contract_due_basis"].as_str(), closed["deal"]["pending_year"].as_i64()),
        (Some("pending_calendar"), Some(2027))
    );
    assert_eq!(closed["outcome"]["refunds_due_by"], Value::Null, "{closed}");
    // The alert: administrators and regulators see what waits; no one else does.
    let pending = p.call("root", "GET", "/api/v1/calendar/pending-deadlines", None).await;
    ok(&pending, 200);
    assert_eq!(pending.body["total"], 1, "{}", pending.body);
    assert_eq!(pending.body["pending"][0]["id"], s.as_str());
    assert_eq!(pending.body["pending"][0]["year"], 2027);
    assert_eq!(pending.body["pending"][0]["deadlines"], json!(["refunds", "contract"]));
    ok(&p.call("zhaomin", "GET", "/api/v1/calendar/pending-deadlines", None).await, 403);
    // A pending deadline is never in default: recording one is refused until it is counted.
    ok(&p.call("root", "POST", &format!("/api/v1/sessions/{s}/default"), Some(json!({ "reason": "x" }))).await, 422);
    // An administrator loads 2027 (a schedule made for this test: 1 January off); the timer counts the deadlines.
    let y2027 = json!({ "year": 2027, "holidays": ["2027-01-01"], "source": "测试用安排" });
    ok(&p.call("zhangwei", "POST", "/api/v1/calendar", Some(y2027.clone())).await, 403);
    ok(&p.call("root", "POST", "/api/v1/calendar", Some(y2027)).await, 201);
    let calendar = p.call("zhaomin", "GET", "/api/v1/calendar", None).await.body;
    assert_eq!(calendar["version"], "calendar-3", "{calendar}");
    let fixed = p.wait("zhangwei", &format!("/api/v1/sessions/{s}"), |v| v["deal"]["contract_due"].is_string()).await;
    // Sunday 12-27 + 5 working days: 28, 29, 30, 31 December, (1 January off), Monday 4 January, to 24:00 Beijing.
    assert_eq!(fixed["deal"]["contract_due"], "2027-01-04T15:59:59.999999Z", "{fixed}");
    assert_eq!(fixed["outcome"]["refunds_due_by"], "2027-01-04T15:59:59.999999Z", "{fixed}");
    assert_eq!(fixed["deal"]["contract_due_basis"], "prc_calendar");
    let pending = p.wait("root", "/api/v1/calendar/pending-deadlines", |v| v["total"] == 0).await;
    assert_eq!(pending["pending"], json!([]));
    // And the user's own period now counts.
    let notice = json!({ "price_fen": 480000000, "days": 15 });
    ok(&p.call("zhangwei", "POST", &format!("/api/v1/results/{negotiated}/notice"), Some(notice)).await, 201);
    drop(p);
    // Every event records the rules it was decided under, chosen by its service; where periods were counted, the
    // calendar in force too.
    let events = x.stop_and_read_log().await.unwrap();
    for e in &events {
        assert!(!e.rule_version().is_empty(), "{} at {} records no rule version", e.event_type(), e.position());
    }
    let version_of = |t: &str| events.iter().rev().find(|e| e.event_type() == t).map(|e| e.rule_version().to_owned());
    assert_eq!(version_of("ttx.negotiation.v1.DeadlinesFixed").as_deref(), Some("negotiation-2026.3;calendar-3"));
    assert_eq!(version_of("ttx.negotiation.v1.SessionClosed").as_deref(), Some("negotiation-2026.3;calendar-2"));
    assert_eq!(version_of("ttx.listings.v1.NoticeStarted").as_deref(), Some("listings-2026.3;calendar-3"));
    assert_eq!(version_of("ttx.identity.v1.ScheduleLoaded").as_deref(), Some("identity-2026.1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlines_wait_for_their_year_on_the_embedded_log() {
    deadlines_in_a_year_without_a_schedule_wait_for_it(Mode::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlines_wait_for_their_year_on_nats() {
    deadlines_in_a_year_without_a_schedule_wait_for_it(Mode::Nats).await;
}

/// A result held by the university, the institute and an enterprise is offered for assignment only once both co-holders
/// have consented: the institute through its technology manager, the enterprise through the member it named (Patent
/// Law art. 14).
async fn a_jointly_held_result_is_sold_exclusively_only_with_every_co_holders_consent(mode: Mode) {
    let x = TestExchange::spawn(mode).await.unwrap();
    let p = People::new(&x).await;
    let mut body = listing("auction");
    body["holders"] = json!([
        { "org_id": org_id(1), "share_bp": 5000 },
        { "org_id": org_id(4), "share_bp": 3000 },
        { "org_id": org_id(5), "share_bp": 2000 },
    ]);
    let a = p.call("zhangwei", "POST", "/api/v1/results", Some(body)).await;
    ok(&a, 201);
    let result = a.body["id"].as_str().unwrap().to_owned();
    for (who, step) in [("zhangwei", "submit"), ("liuyang", "approve"), ("zhangwei", "publish")] {
        ok(&p.call(who, "POST", &format!("/api/v1/results/{result}/{step}"), None).await, 200);
    }
    let open = json!({ "result_id": result, "rules": p.auction_rules(false), "terms": whole_at_signing() });
    let refused = p.call("zhangwei", "POST", "/api/v1/sessions", Some(open.clone())).await;
    ok(&refused, 422);
    assert!(refused.body["detail"].as_str().unwrap().contains(&org_id(4)), "names the co-holder: {}", refused.body);
    // Only a member entitled to act for the co-holder consents for it.
    let consent = format!("/api/v1/results/{result}/consent");
    ok(&p.call("zhaomin", "POST", &consent, None).await, 403);
    ok(&p.call("zhangwei", "POST", &consent, None).await, 403);
    ok(&p.call("wangqiang", "POST", &consent, None).await, 200);
    let refused = p.call("zhangwei", "POST", "/api/v1/sessions", Some(open.clone())).await;
    ok(&refused, 422);
    assert!(refused.body["detail"].as_str().unwrap().contains(&org_id(5)), "the enterprise has not: {}", refused.body);
    // The enterprise acts through the member it named (an administrator records it on its written request).
    ok(&p.call("sunli", "POST", &consent, None).await, 403);
    let name = json!({ "user_id": "sunli" });
    let representative = format!("/api/v1/organisations/{}/representative", org_id(5));
    ok(&p.call("sunli", "PUT", &representative, Some(name.clone())).await, 403);
    ok(&p.call("root", "PUT", &representative, Some(json!({ "user_id": "zhaomin" }))).await, 403);
    ok(&p.call("root", "PUT", &representative, Some(name)).await, 200);
    ok(&p.call("sunli", "POST", &consent, None).await, 200);
    let view = p.call("zhangwei", "GET", &format!("/api/v1/results/{result}"), None).await.body;
    let both = json!([org_id(4), org_id(5)]);
    assert_eq!((view["co_holder_org_ids"].clone(), view["consented_org_ids"].clone()), (both.clone(), both));
    ok(&p.call("zhangwei", "POST", "/api/v1/sessions", Some(open)).await, 201);
    x.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn co_holders_consent_on_the_embedded_log() {
    a_jointly_held_result_is_sold_exclusively_only_with_every_co_holders_consent(Mode::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn co_holders_consent_on_nats() {
    a_jointly_held_result_is_sold_exclusively_only_with_every_co_holders_consent(Mode::Nats).await;
}
