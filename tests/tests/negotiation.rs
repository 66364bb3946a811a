//! Negotiation flows through HTTP, the same in both deployments: a negotiated deal blocked by an open objection and
//! then agreed; a listed-price sale whose two registrants go to a bidding session won under the anti-sniping rule; a
//! sealed-bid session in which one bidder fails to reveal.

use std::time::Duration;

use serde_json::{Value, json};
use ttx_tests::exchange::{Answer, Mode, TestExchange, listing_json, org_of};

const MINUTE: Duration = Duration::from_secs(60);
const DAY: Duration = Duration::from_secs(86_400);

fn ok(a: &Answer, want: u16) {
    assert_eq!(a.status, want, "{}", a.body);
}

/// The fixture's listing (`exchange::listing_json`), priced by `route`, asking ¥5,000,000.
fn listing(route: &str) -> Value {
    let mut listing = listing_json();
    listing["route"] = json!(route);
    listing["asking_price_fen"] = json!(500_000_000);
    listing
}

/// A result of the first university's offered in `modes`, created, reviewed and published.
async fn published_with(x: &TestExchange, route: &str, modes: &[&str]) -> String {
    let mut body = listing(route);
    body["modes"] = json!(modes);
    x.published(body).await
}

fn now(x: &TestExchange) -> ttx_kernel::Timestamp {
    use ttx_kernel::Clock;
    x.clock.now()
}

/// A session's rules: ¥1,000,000 to start in ¥10,000 steps, a 10 % deposit, registration for a day, bidding from a
/// minute from now for two days with a five-minute extension; sealed ones reveal on the third day.
fn auction_rules(x: &TestExchange, sealed: bool) -> Value {
    let mut rules = json!({
        "start_price_fen": 100000000,
        "increment_fen": 1000000,
        "deposit_fen": 10000000,
        "registration_closes": x.at(DAY),
        "bidding_opens": x.at(MINUTE),
        "bidding_closes": x.at(2 * DAY),
        "anti_sniping": "extension",
        "window_seconds": 300,
    });
    if sealed {
        rules["sealed"] = json!(true);
        rules["reveal_closes"] = json!(x.at(3 * DAY));
    }
    rules
}

async fn a_negotiated_deal_waits_for_the_objection_then_closes(mode: Mode) {
    let x = TestExchange::spawn(mode).await.unwrap();
    let result = x.published(listing("negotiated")).await;
    x.start_notice("zhangwei", &result, 480000000, 15).await.expect(201);

    // The mode is declared at the opening, one the result offers.
    let a = x.open_negotiation("zhaomin", &result, "exclusive_licence").await.expect(422);
    assert_eq!(a.body["field"], "mode", "{}", a.body);
    let n = x.open_negotiation("zhaomin", &result, "assignment").await.expect(201).id();
    let path = |tail: &str| format!("/api/v1/negotiations/{n}{tail}");
    // The negotiation holds the result's market; who negotiates stays between the parties and the holder.
    let market = format!("/api/v1/results/{result}/market");
    let seen = x.get("sunli", &market).await.body;
    assert_eq!(
        (seen["open"][0]["kind"].as_str(), seen["open"][0]["process_id"].as_str()),
        (Some("negotiation"), Some(""))
    );
    assert_eq!(x.get("zhangwei", &market).await.body["open"][0]["process_id"], n.as_str());
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
    let a = x.make_offer("zhaomin", &n, huge).await.expect(422);
    assert_eq!(a.body["field"], "terms.price_fen", "{}", a.body);
    let wraps = sheet(
        "assignment",
        1000,
        json!([{ "amount_fen": i64::MAX, "due_on": "2027-06-30" }, { "amount_fen": 2, "due_on": "2027-06-30" }]),
    );
    let a = x.make_offer("zhaomin", &n, wraps).await.expect(422);
    assert_eq!(a.body["field"], "terms.payments[0].amount_fen", "{}", a.body);
    let short = sheet("assignment", 1000, json!([{ "amount_fen": 999, "due_on": "2027-06-30" }]));
    let a = x.make_offer("zhaomin", &n, short).await.expect(422);
    assert_eq!(a.body["field"], "terms.payments", "{}", a.body);
    let free_text = json!({ "mode": "assignment", "price_fen": 1000, "payments": [{ "amount_fen": 1000 }] });
    let a = x.make_offer("zhaomin", &n, free_text).await.expect(422);
    assert_eq!(a.body["field"], "terms.payments[0].due_on", "{}", a.body);
    // No offer changes the exclusivity the negotiation was opened for.
    let mut licence = sheet("non_exclusive_licence", 1000, json!([{ "amount_fen": 1000, "due_on": "2027-06-30" }]));
    licence["term_months"] = json!(60);
    let a = x.make_offer("zhaomin", &n, licence).await.expect(422);
    assert!(a.body["detail"].as_str().unwrap().contains("exclusivity"), "{}", a.body);
    x.make_offer("zhaomin", &n, terms(450000000)).await.expect(201);
    x.make_offer("zhangwei", &n, terms(480000000)).await.expect(201);
    // The buyer accepts the seller's version 2, but the notice runs.
    let a = x.accept_offer("zhaomin", &n, 2).await.expect(422);
    assert!(a.body["detail"].as_str().unwrap().contains("still running"), "{}", a.body);
    // The buyer objects; the notice ends by the clock with the objection open.
    let objection = x.raise_objection("zhaomin", &result, "价格偏低").await.expect(201).id();
    // 15 days from Monday 2026-09-21 end on 10-06, in the National Day holiday: the notice runs to 24:00 on 10-08.
    x.advance(18 * DAY);
    x.wait("zhaomin", &format!("/api/v1/results/{result}"), |r| r["notice"]["ended"] == true).await;
    let a = x.accept_offer("zhaomin", &n, 2).await.expect(422);
    assert!(a.body["detail"].as_str().unwrap().contains("objection"), "{}", a.body);
    // The holder answers and the reviewer dismisses it; now the deal closes at the noticed price.
    x.answer_objection("zhangwei", &result, &objection, "价格经第三方评估").await.expect(200);
    x.resolve_objection("liuyang", &result, &objection, false, "评估报告充分").await.expect(200);
    let deal = x.get("zhaomin", &path("")).await.expect(200).body;
    assert_eq!((deal["status"].as_str(), deal["offers"].as_array().unwrap().len()), (Some("open"), 2));
    // Read-your-writes: the dismissal is acknowledged, so the very next acceptance sees it (no retry).
    x.accept_offer("zhaomin", &n, 2).await.expect(200);
    let v = x.get("zhangwei", &path("")).await.body;
    assert_eq!(v["status"], "agreed");
    assert_eq!(v["deal"]["price_fen"], 480000000);
    assert_eq!(v["deal"]["route"], "negotiated");
    assert!(v["deal"]["contract_due"].is_string());
    // Listings reacts: the result is under contract; its market records the exclusive right granted, and a second
    // negotiation cannot open.
    x.wait("zhaomin", &format!("/api/v1/results/{result}"), |r| r["status"] == "under_contract").await;
    let market = x.wait("zhaomin", &format!("/api/v1/results/{result}/market"), |m| m["open"] == json!([])).await;
    assert_eq!(market["exclusive_deal_id"], n.as_str(), "{market}");
    let a = x.open_negotiation("sunli", &result, "assignment").await.expect(409);
    assert!(a.body["detail"].as_str().unwrap().contains("exclusive right"), "{}", a.body);
    x.stop().await.unwrap();
}

async fn a_listed_sale_with_two_registrants_goes_to_a_bidding_session_won_under_the_extension_rule(mode: Mode) {
    let x = TestExchange::spawn(mode).await.unwrap();
    let result = x.published(listing("listed")).await;
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
    let l = x.open_listed_sale("zhangwei", sale).await.expect(201).id();
    for who in ["zhaomin", "sunli"] {
        x.register_intent(who, &l).await.expect(200);
    }
    x.register_intent("zhaomin", &l).await.expect(409);
    // The period ends (10 working days from Monday 2026-09-21: the Mid-Autumn and National Day holidays do not count,
    // so it runs to 24:00 Beijing on 10-12): two registrants go to a bidding session opened for them.
    x.advance(22 * DAY);
    let sale = x.wait("zhangwei", &format!("/api/v1/listed-sales/{l}"), |v| v["status"] == "to_auction").await;
    assert_eq!(sale["registrant_org_ids"].as_array().unwrap().len(), 2);
    let s = sale["session_id"].as_str().unwrap().to_owned();
    let session = |tail: &str| format!("/api/v1/sessions/{s}{tail}");
    let v = x.wait("zhaomin", &session(""), |v| v["phase"] == "open").await;
    assert_eq!(v["rules"]["start_price_fen"], 200000000);
    let increment = v["rules"]["increment_fen"].as_i64().unwrap();
    assert_eq!(increment, 2000000);
    for who in ["zhaomin", "sunli"] {
        x.register_bidder(who, &s).await.expect(200);
        x.confirm_deposit("admin", &s, &org_of(who), 20000000).await.expect(200);
    }
    x.register_bidder("zhangwei", &s).await.expect(403);
    // Bidding opens a day later.
    x.place_bid("zhaomin", &s, 200000000).await.expect(422);
    x.advance(DAY);
    x.place_bid("zhaomin", &s, 200000000).await.expect(201);
    x.place_bid("sunli", &s, 200000000 + increment / 2).await.expect(422);
    x.place_bid("sunli", &s, 200000000 + increment).await.expect(201);
    // A bid on the increment grid but beyond the rules' ceiling is refused, naming the amount; i64::MAX too.
    let a = x.place_bid("zhaomin", &s, 200000000 + 10_000_000 * increment).await.expect(422);
    assert_eq!(a.body["field"], "amount_fen", "{}", a.body);
    x.place_bid("zhaomin", &s, i64::MAX).await.expect(422);
    x.place_bid("zhaomin", &s, i64::MIN).await.expect(422);
    // Two minutes before the end, a bid moves the end to five minutes after it.
    x.advance(DAY - 2 * MINUTE);
    x.place_bid("zhaomin", &s, 200000000 + 3 * increment).await.expect(201);
    let v = x.get("sunli", &session("")).await.body;
    let ends_at = ttx_kernel::Timestamp::parse_rfc3339(v["ends_at"].as_str().unwrap()).unwrap();
    assert_eq!(ends_at.unix_micros(), now(&x).unix_micros() + 5 * 60_000_000, "extended: {v}");
    // Others are pseudonymous, numbered in the order they registered (zhaomin first).
    assert_eq!(v["bids"][2]["bidder"], "竞买人 1", "others are pseudonymous: {v}");
    assert_eq!(v["bids"][1]["mine"], true);
    // At the original end the session is still open; the other bidder answers within the extension.
    x.advance(3 * MINUTE);
    x.place_bid("sunli", &s, 200000000 + 4 * increment).await.expect(201);
    x.advance(6 * MINUTE);
    let closed = x.wait("zhangwei", &session(""), |v| v["phase"] == "closed").await;
    assert_eq!(closed["outcome"]["winner_org_id"], org_of("sunli"));
    assert_eq!(closed["outcome"]["price_fen"], 200000000 + 4 * increment);
    assert_eq!(closed["outcome"]["refunds_due"], json!([org_of("zhaomin")]));
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
    x.place_bid("zhaomin", &s, 200000000 + 5 * increment).await.expect(422);
    // Every bid, a page at a time, pseudonymous as in the view.
    assert_eq!(closed["bid_count"], 4);
    let first = x.get("zhaomin", &session("/bids?limit=3")).await.expect(200);
    assert_eq!((first.body["bids"].as_array().unwrap().len(), &first.body["next_after"]), (3, &json!(3)));
    assert_eq!(first.body["bids"][1]["bidder"], "竞买人 2", "{}", first.body);
    let rest = x.get("zhaomin", &session("/bids?after=3&limit=3")).await.body;
    assert_eq!(rest["bids"][0]["amount_fen"], 200000000 + 4 * increment);
    assert!(rest["next_after"].is_null(), "{rest}");
    x.get("zhaomin", &session("/bids?limit=0")).await.expect(422);
    let malformed = x.get("zhaomin", &session("/bids?limit=many")).await.expect(422);
    assert_eq!(malformed.body["field"], "limit", "a malformed query names its parameter: {}", malformed.body);
    x.wait("zhaomin", &format!("/api/v1/results/{result}"), |r| r["status"] == "under_contract").await;
    // The loser's deposit is due back within five working days; not yet overdue.
    let overdue = x.get("admin", "/api/v1/refunds/overdue").await.expect(200);
    assert_eq!(overdue.body["total"], 0, "{}", overdue.body);
    // The winner does not sign within the five working days: the timer records the default and the deposit is
    // forfeited.
    let due = ttx_kernel::Timestamp::parse_rfc3339(closed["deal"]["contract_due"].as_str().unwrap()).unwrap();
    assert!(due.unix_micros() > now(&x).unix_micros() + 6 * 86_400_000_000, "five working days: {closed}");
    x.record_default("admin", &s, "too early").await.expect(422);
    x.advance(15 * DAY);
    let defaulted = x.wait("sunli", &session(""), |v| v["phase"] == "defaulted").await;
    assert_eq!(defaulted["my_deposit"], "forfeited");
    // Not refunded in time: the loser's deposit is listed as overdue for administrators, until it is refunded.
    let overdue = x.get("admin", "/api/v1/refunds/overdue").await.expect(200);
    assert_eq!(overdue.body["total"], 1, "{}", overdue.body);
    let listed = &overdue.body["refunds"][0];
    assert_eq!(
        (listed["session_id"].as_str(), listed["bidder_org_id"].as_str()),
        (Some(s.as_str()), Some(org_of("zhaomin").as_str()))
    );
    assert_eq!(
        (listed["amount_fen"].as_i64(), listed["due_by"].as_str()),
        (Some(20000000), Some(refunds_due_by.as_str()))
    );
    x.get("zhaomin", "/api/v1/refunds/overdue").await.expect(403);
    x.refund_deposit("admin", &s, &org_of("zhaomin")).await.expect(200);
    let overdue = x.get("admin", "/api/v1/refunds/overdue").await;
    assert_eq!(overdue.body["total"], 0, "{}", overdue.body);
    assert!(defaulted["contract_reference"].is_null());
    x.record_signed("admin", &s, "late").await.expect(422);
    // After the default the result is back on the market, and the holder can sell it again.
    x.wait("zhangwei", &format!("/api/v1/results/{result}"), |r| r["status"] == "published").await;
    let market = x.wait("zhangwei", &format!("/api/v1/results/{result}/market"), |m| m["open"] == json!([])).await;
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
    x.open_listed_sale("zhangwei", again).await.expect(201);
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
    let result = x.published(listing("auction")).await;
    let open = json!({ "result_id": result, "rules": auction_rules(&x, false), "terms": whole_at_signing() });
    let s = x.open_session("zhangwei", open.clone()).await.expect(201).id();
    let session = |tail: &str| format!("/api/v1/sessions/{s}{tail}");
    // One result, one live exclusive sale: a second session is refused while this one runs.
    x.open_session("zhangwei", open).await.expect(409);
    for who in ["zhaomin", "sunli"] {
        x.register_bidder(who, &s).await.expect(200);
        x.confirm_deposit("admin", &s, &org_of(who), 10000000).await.expect(200);
    }
    x.advance(2 * MINUTE);
    x.place_bid("zhaomin", &s, 100000000).await.expect(201);
    // The holder withdraws the result while bidders are registered: the session is cancelled by the exchange, every
    // deposit stays the bidder's, and no more bids are taken.
    x.withdraw_result("zhangwei", &result, "转化计划调整").await.expect(200);
    let v = x.wait("zhaomin", &session(""), |v| v["phase"] == "cancelled").await;
    assert_eq!(v["my_deposit"], "confirmed", "{v}");
    assert_eq!(v["cancellation"]["refunds_due"], json!([org_of("sunli"), org_of("zhaomin")]), "{v}");
    assert!(v["cancellation"]["reason"].as_str().unwrap().contains("withdrew"), "{v}");
    x.place_bid("sunli", &s, 101000000).await.expect(422);
    x.wait("zhaomin", &format!("/api/v1/results/{result}/market"), |m| m["open"] == json!([])).await;
    // Past the end and the contract deadline: nothing forfeited, no default; both refunds are due and, unpaid,
    // listed as overdue until refunded.
    x.advance(15 * DAY);
    for who in ["zhaomin", "sunli"] {
        let v = x.get(who, &session("")).await.body;
        assert_eq!((v["phase"].as_str(), v["my_deposit"].as_str()), (Some("cancelled"), Some("confirmed")), "{v}");
    }
    let overdue = x.wait("admin", "/api/v1/refunds/overdue", |o| o["total"] == 2).await;
    assert!(overdue["refunds"].as_array().unwrap().iter().all(|r| r["session_id"] == s.as_str()), "{overdue}");
    for org in [org_of("zhaomin"), org_of("sunli")] {
        x.refund_deposit("admin", &s, &org).await.expect(200);
    }
    assert_eq!(x.get("admin", "/api/v1/refunds/overdue").await.body["total"], 0);
    x.stop().await.unwrap();
}

async fn non_exclusive_licences_are_granted_many_times_until_the_holder_stops(mode: Mode) {
    let x = TestExchange::spawn(mode).await.unwrap();
    let result = published_with(&x, "listed", &["non_exclusive_licence", "assignment"]).await;
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
        let a = x.open_listed_sale("zhangwei", sale("non_exclusive_licence", 10)).await.expect(201);
        sales.push(a.body["id"].as_str().unwrap().to_owned());
    }
    x.open_listed_sale("zhangwei", sale("assignment", 10)).await.expect(409);
    for (who, l) in [("zhaomin", &sales[0]), ("sunli", &sales[1])] {
        x.register_intent(who, l).await.expect(200);
    }
    // 10 working days from 2026-09-21 run to 24:00 Beijing on 10-12, past the Mid-Autumn and National Day holidays.
    x.advance(22 * DAY);
    for l in &sales {
        let v = x.wait("zhangwei", &format!("/api/v1/listed-sales/{l}"), |v| v["status"] == "sold").await;
        assert_eq!(v["deal"]["terms"]["exclusive"], false, "{v}");
    }
    // Both licences granted, and the result is still on the market.
    let market = x
        .wait("zhangwei", &format!("/api/v1/results/{result}/market"), |m| m["licences"].as_array().unwrap().len() == 2)
        .await;
    assert!(market["exclusive_deal_id"].is_null(), "{market}");
    assert_eq!(x.get("zhaomin", &format!("/api/v1/results/{result}")).await.body["status"], "published");
    // An exclusive sale would contradict the licences; a third licence sells until the holder stops licensing.
    x.open_listed_sale("zhangwei", sale("assignment", 10)).await.expect(422);
    x.stop_licensing("zhaomin", &result).await.expect(403);
    x.stop_licensing("zhangwei", &result).await.expect(200);
    let refused = x.open_listed_sale("zhangwei", sale("non_exclusive_licence", 10)).await.expect(422);
    assert!(refused.body["detail"].as_str().unwrap().contains("stopped licensing"), "{}", refused.body);
    x.stop().await.unwrap();
}

fn commitment(session: &str, bidder: &str, amount: i64, nonce: [u8; 32]) -> String {
    hex::encode(ttx_negotiation::seal::commitment(session, bidder, amount, &nonce))
}

async fn a_sealed_session_where_one_bidder_does_not_reveal(mode: Mode) {
    let x = TestExchange::spawn(mode).await.unwrap();
    let result = x.published(listing("auction")).await;
    let rules = auction_rules(&x, true);
    let terms = json!({
        "mode": "assignment",
        "payments": [{ "share_bp": 10000, "after": { "event": "signing", "working_days": 10 } }],
    });
    let s = x
        .open_session("zhangwei", json!({ "result_id": result, "rules": rules, "terms": terms }))
        .await
        .expect(201)
        .id();
    let session = |tail: &str| format!("/api/v1/sessions/{s}{tail}");
    for who in ["zhaomin", "sunli"] {
        x.register_bidder(who, &s).await.expect(200);
        x.confirm_deposit("admin", &s, &org_of(who), 10000000).await.expect(200);
    }
    x.advance(2 * MINUTE);
    let (a_nonce, b_nonce) = ([0x11; 32], [0x22; 32]);
    let a_commit = commitment(&s, &org_of("zhaomin"), 150000000, a_nonce);
    let b_commit = commitment(&s, &org_of("sunli"), 180000000, b_nonce);
    x.commit_bid("zhaomin", &s, &a_commit).await.expect(201);
    x.commit_bid("sunli", &s, &b_commit).await.expect(201);
    // Nobody, not even an administrator, sees an amount before the reveals.
    let admin_view = x.get("admin", &session("")).await.body;
    assert_eq!(admin_view["commitments"], 2);
    assert!(!admin_view.to_string().contains("150000000") && !admin_view.to_string().contains("180000000"));
    // Reveals only after the logged close.
    x.reveal_bid("zhaomin", &s, 150000000, &hex::encode(a_nonce)).await.expect(422);
    x.advance(2 * DAY);
    x.wait("zhaomin", &session(""), |v| v["phase"] == "revealing").await;
    x.reveal_bid("zhaomin", &s, 160000000, &hex::encode(a_nonce)).await.expect(422);
    x.reveal_bid("zhaomin", &s, 150000000, &hex::encode(a_nonce)).await.expect(200);
    // The higher bidder never reveals: the lower revealed bid wins and the other deposit is forfeited.
    x.advance(DAY);
    let closed = x.wait("zhangwei", &session(""), |v| v["phase"] == "closed").await;
    assert_eq!(closed["outcome"]["winner_org_id"], org_of("zhaomin"));
    assert_eq!(closed["outcome"]["price_fen"], 150000000);
    let loser = x.get("sunli", &session("")).await.body;
    assert_eq!(loser["my_deposit"], "forfeited");
    // The winner signs in time, as recorded by an administrator: the deadline passes with no default.
    x.record_signed("zhaomin", &s, "HT-2026-001").await.expect(403);
    x.record_signed("admin", &s, "HT-2026-001").await.expect(200);
    x.record_signed("admin", &s, "HT-2").await.expect(409);
    x.advance(15 * DAY);
    x.wait("zhaomin", &session(""), |v| v["contract_reference"] == "HT-2026-001").await;
    let after = x.get("zhaomin", &session("")).await.body;
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
    for (login, org) in [
        ("notice-end", "zhaomin"),
        ("end", "zhaomin"),
        ("close", "zhaomin"),
        ("contract-due", "sunli"),
        ("demand-expiry", "sunli"),
    ] {
        let user = json!({
            "user_id": login,
            "org_id": org_of(org),
            "display_name": login,
            "password": ttx_tests::exchange::PASSWORD,
            "roles": ["enterprise_member"],
        });
        x.call("admin", "POST", "/api/v1/users", Some(user)).await.expect(201);
    }
    let as_user = async |login: &str, path: &str, key: &str, body: Option<Value>| {
        let token = x.login(login).await.unwrap();
        x.request_with("POST", path, Some(&token), &[("Idempotency-Key", key)], body.as_ref()).await.unwrap()
    };
    // A public notice, objected to under the key its end's timer used to take.
    let negotiated = x.published(listing("negotiated")).await;
    x.start_notice("zhangwei", &negotiated, 480000000, 15).await.expect(201);
    let r = x.get("zhaomin", &format!("/api/v1/results/{negotiated}")).await.body;
    let key = format!("{negotiated}:{}", micros(r["notice"]["ends_at"].as_str().unwrap()));
    let path = format!("/api/v1/results/{negotiated}/objections");
    ok(&as_user("notice-end", &path, &key, Some(json!({ "text": "价格偏低" }))).await, 201);
    // A listed sale, whose only registrant registers under the key of the sale's end.
    let listed = x.published(listing("listed")).await;
    let sale = json!({
        "result_id": listed,
        "terms": {
            "mode": "assignment",
            "price_fen": 200000000,
            "payments": [{ "amount_fen": 200000000, "after": { "event": "signing", "working_days": 10 } }],
        },
        "disclosure_working_days": 10,
    });
    let l = x.open_listed_sale("zhangwei", sale).await.expect(201).id();
    let v = x.get("zhaomin", &format!("/api/v1/listed-sales/{l}")).await.body;
    let key = format!("{l}:{}", micros(v["disclosure_ends"].as_str().unwrap()));
    ok(&as_user("end", &format!("/api/v1/listed-sales/{l}/register"), &key, None).await, 200);
    // A session: one bidder registers under the key of its close, the other under the key of its contract deadline.
    let auctioned = x.published(listing("auction")).await;
    let open = json!({ "result_id": auctioned, "rules": auction_rules(&x, false), "terms": whole_at_signing() });
    let s = x.open_session("zhangwei", open).await.expect(201).id();
    let v = x.get("zhaomin", &format!("/api/v1/sessions/{s}")).await.body;
    let close_key = format!("{s}:{}", micros(v["ends_at"].as_str().unwrap()));
    ok(&as_user("close", &format!("/api/v1/sessions/{s}/register"), &close_key, None).await, 200);
    ok(&as_user("contract-due", &format!("/api/v1/sessions/{s}/register"), &s, None).await, 200);
    for org in [org_of("zhaomin"), org_of("sunli")] {
        x.confirm_deposit("admin", &s, &org, 10000000).await.expect(200);
    }
    x.advance(2 * MINUTE);
    x.place_bid("zhaomin", &s, 100000000).await.expect(201);
    // A demand valid for ten days; its poster's colleague posts another demand under the key of its expiry.
    let demand = json!({
        "title": "储能电池热管理方案",
        "field": "new_energy",
        "indicators": "温差 ≤ 3℃",
        "problem": "夏季高温下电芯温差大",
        "budget_fen": 50000000,
        "cooperation_mode": "技术转让",
        "wanted_trl": 6,
        "valid_until": x.at(10 * DAY),
    });
    let d = x.post_demand("sunli", demand.clone()).await.expect(201).id();
    let v = x.get("sunli", &format!("/api/v1/demands/{d}")).await.body;
    let key = format!("{d}:{}", micros(v["demand"]["valid_until"].as_str().unwrap()));
    ok(&as_user("demand-expiry", "/api/v1/demands", &key, Some(demand)).await, 201);
    // Every timer fires: the sale ends and sells, the session closes, the notice ends, the demand expires, and the
    // unsigned winner defaults at its deadline.
    x.advance(2 * DAY);
    x.wait("zhangwei", &format!("/api/v1/sessions/{s}"), |v| v["phase"] == "closed").await;
    // (Past the contract deadline's five working days, whatever holidays fall in them.)
    x.advance(30 * DAY);
    x.wait("zhangwei", &format!("/api/v1/listed-sales/{l}"), |v| v["status"] == "sold").await;
    x.wait("zhaomin", &format!("/api/v1/results/{negotiated}"), |r| r["notice"]["ended"] == true).await;
    x.wait("zhangwei", &format!("/api/v1/sessions/{s}"), |v| v["phase"] == "defaulted").await;
    x.wait("sunli", &format!("/api/v1/demands/{d}"), |v| v["status"] == "expired").await;
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
    // Friday 2026-12-25, 10:00 Beijing.
    x.set_time(ttx_kernel::Timestamp::parse_rfc3339("2026-12-25T02:00:00Z").unwrap());
    let negotiated = x.published(listing("negotiated")).await;
    let a = x.start_notice("zhangwei", &negotiated, 480000000, 15).await.expect(422);
    assert_eq!(a.body["field"], "days", "{}", a.body);
    assert!(a.body["detail"].as_str().unwrap().contains("2027"), "{}", a.body);
    // A session that closes on Sunday 12-27: five working days from then reach into 2027.
    let auctioned = x.published(listing("auction")).await;
    let open = json!({ "result_id": auctioned, "rules": auction_rules(&x, false), "terms": whole_at_signing() });
    let s = x.open_session("zhangwei", open).await.expect(201).id();
    for who in ["zhaomin", "sunli"] {
        x.register_bidder(who, &s).await.expect(200);
        x.confirm_deposit("admin", &s, &org_of(who), 10000000).await.expect(200);
    }
    x.advance(2 * MINUTE);
    x.place_bid("zhaomin", &s, 100000000).await.expect(201);
    x.advance(2 * DAY);
    let closed = x.wait("zhangwei", &format!("/api/v1/sessions/{s}"), |v| v["phase"] == "closed").await;
    assert_eq!(closed["deal"]["contract_due"], Value::Null, "{closed}");
    assert_eq!(
        (closed["deal"]["contract_due_basis"].as_str(), closed["deal"]["pending_year"].as_i64()),
        (Some("pending_calendar"), Some(2027))
    );
    assert_eq!(closed["outcome"]["refunds_due_by"], Value::Null, "{closed}");
    // The alert: administrators and regulators see what waits; no one else does.
    let pending = x.get("admin", "/api/v1/calendar/pending-deadlines").await.expect(200);
    assert_eq!(pending.body["total"], 1, "{}", pending.body);
    assert_eq!(pending.body["pending"][0]["id"], s.as_str());
    assert_eq!(pending.body["pending"][0]["year"], 2027);
    assert_eq!(pending.body["pending"][0]["deadlines"], json!(["refunds", "contract"]));
    x.get("zhaomin", "/api/v1/calendar/pending-deadlines").await.expect(403);
    // A pending deadline is never in default: recording one is refused until it is counted.
    x.record_default("admin", &s, "x").await.expect(422);
    // An administrator loads 2027 (a schedule made for this test: 1 January off); the timer counts the deadlines.
    let y2027 = json!({ "year": 2027, "holidays": ["2027-01-01"], "source": "测试用安排" });
    x.load_schedule("zhangwei", y2027.clone()).await.expect(403);
    x.load_schedule("admin", y2027).await.expect(201);
    let calendar = x.get("zhaomin", "/api/v1/calendar").await.body;
    assert_eq!(calendar["version"], "calendar-3", "{calendar}");
    let fixed = x.wait("zhangwei", &format!("/api/v1/sessions/{s}"), |v| v["deal"]["contract_due"].is_string()).await;
    // Sunday 12-27 + 5 working days: 28, 29, 30, 31 December, (1 January off), Monday 4 January, to 24:00 Beijing.
    assert_eq!(fixed["deal"]["contract_due"], "2027-01-04T15:59:59.999999Z", "{fixed}");
    assert_eq!(fixed["outcome"]["refunds_due_by"], "2027-01-04T15:59:59.999999Z", "{fixed}");
    assert_eq!(fixed["deal"]["contract_due_basis"], "prc_calendar");
    let pending = x.wait("admin", "/api/v1/calendar/pending-deadlines", |v| v["total"] == 0).await;
    assert_eq!(pending["pending"], json!([]));
    // And the user's own period now counts.
    x.start_notice("zhangwei", &negotiated, 480000000, 15).await.expect(201);
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
    let mut body = listing("auction");
    body["holders"] = json!([
        { "org_id": org_of("zhangwei"), "share_bp": 5000 },
        { "org_id": org_of("wangqiang"), "share_bp": 3000 },
        { "org_id": org_of("sunli"), "share_bp": 2000 },
    ]);
    let result = x.published(body).await;
    let open = json!({ "result_id": result, "rules": auction_rules(&x, false), "terms": whole_at_signing() });
    let refused = x.open_session("zhangwei", open.clone()).await.expect(422);
    assert!(
        refused.body["detail"].as_str().unwrap().contains(&org_of("wangqiang")),
        "names the co-holder: {}",
        refused.body
    );
    // Only a member entitled to act for the co-holder consents for it.
    x.consent_as_co_holder("zhaomin", &result).await.expect(403);
    x.consent_as_co_holder("zhangwei", &result).await.expect(403);
    x.consent_as_co_holder("wangqiang", &result).await.expect(200);
    let refused = x.open_session("zhangwei", open.clone()).await.expect(422);
    assert!(
        refused.body["detail"].as_str().unwrap().contains(&org_of("sunli")),
        "the enterprise has not: {}",
        refused.body
    );
    // The enterprise acts through the member it named (an administrator records it on its written request).
    x.consent_as_co_holder("sunli", &result).await.expect(403);
    x.name_representative("sunli", &org_of("sunli"), "sunli").await.expect(403);
    x.name_representative("admin", &org_of("sunli"), "zhaomin").await.expect(403);
    x.name_representative("admin", &org_of("sunli"), "sunli").await.expect(200);
    x.consent_as_co_holder("sunli", &result).await.expect(200);
    let view = x.get("zhangwei", &format!("/api/v1/results/{result}")).await.body;
    let both = json!([org_of("wangqiang"), org_of("sunli")]);
    assert_eq!((view["co_holder_org_ids"].clone(), view["consented_org_ids"].clone()), (both.clone(), both));
    x.open_session("zhangwei", open).await.expect(201);
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
