//! The web UI's pages and forms through a real socket, without a browser (the browser test is
//! services/ttx/tests/browser.rs).

use std::time::Duration;

use ttx_tests::exchange::{Mode, PASSWORD, Setup, TestExchange, listing_json};

async fn start() -> TestExchange {
    TestExchange::spawn_with(Mode::Embedded, Setup { fixture: true }).await.unwrap()
}

/// A result of the first university's, published by its technology manager after review, priced by `route`; its id
/// and the manager's token.
async fn published_result(x: &TestExchange, route: &str) -> (String, String) {
    let mut listing = listing_json();
    listing["route"] = serde_json::json!(route);
    let id = x.published(listing).await;
    (id, x.token("zhangwei").await.unwrap().unwrap())
}

fn set_cookie(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")).map(|rest| rest.split(';').next().unwrap_or("").to_owned()))
}

#[tokio::test]
async fn a_login_form_needs_its_csrf_token_and_the_right_password() {
    let x = start().await;
    let (status, headers, page) = x.get_page("/login", "").await.parts();
    assert_eq!(status, 200);
    assert!(page.contains(r#"<html lang="zh-CN">"#), "Chinese by default");
    let csrf = set_cookie(&headers, "ttx_csrf").expect("the login page hands out a CSRF token");
    let cookies = format!("ttx_csrf={csrf}");

    let (status, _, page) =
        x.post_form("/login", &cookies, &format!("user_id=zhangwei&password={}", "x".repeat(12))).await.parts();
    assert_eq!(status, 403, "no csrf field");
    assert!(page.contains("页面已过期"), "{page}");

    let wrong = format!("csrf={csrf}&user_id=zhangwei&password=wrong+password");
    let (status, _, page) = x.post_form("/login", &cookies, &wrong).await.parts();
    assert_eq!(status, 401);
    assert!(page.contains("登录名或密码错误") && page.contains(r#"aria-invalid="true""#), "{page}");
    assert!(page.contains(r#"value="zhangwei""#), "the login is kept");

    let right = format!("csrf={csrf}&user_id=zhangwei&password={}", PASSWORD.replace(' ', "+"));
    let (status, headers, _) = x.post_form("/login", &cookies, &right).await.parts();
    assert_eq!(status, 303);
    assert_eq!(headers["location"], "/");
    let session = set_cookie(&headers, "ttx_session").unwrap();
    let csrf = set_cookie(&headers, "ttx_csrf").unwrap();
    let cookies = format!("ttx_session={session}; ttx_csrf={csrf}");

    let (status, _, page) = x.get_page("/", &cookies).await.parts();
    assert_eq!(status, 200);
    assert!(page.contains(r#"href="/registry""#) && !page.contains(r#"href="/admin/users""#), "a manager's menu");
    let (status, _, _) = x.get_page("/admin/users", &cookies).await.parts();
    assert_eq!(status, 403);

    let (status, _, _) = x.post_form("/logout", &cookies, "csrf=wrong").await.parts();
    assert_eq!(status, 403, "logging out needs the token too");
    let (status, headers, _) = x.post_form("/logout", &cookies, &format!("csrf={csrf}")).await.parts();
    assert_eq!((status, headers["location"].to_str().unwrap()), (303, "/login"));
    assert_eq!(set_cookie(&headers, "ttx_session").as_deref(), Some(""), "the session cookie is cleared");
}

#[tokio::test]
async fn pages_need_a_session_and_the_language_switch_sticks() {
    let x = start().await;
    for path in ["/", "/org", "/registry", "/admin/users", "/admin/organisations"] {
        let (status, headers, _) = x.get_page(path, "").await.parts();
        assert_eq!((status, headers["location"].to_str().unwrap()), (303, "/login"), "{path}");
    }
    let (status, headers, _) = x.get_page("/lang/en", "").await.parts();
    assert_eq!(status, 303);
    assert_eq!(set_cookie(&headers, "ttx_lang").as_deref(), Some("en"));
    let (_, _, page) = x.get_page("/login", "ttx_lang=en").await.parts();
    assert!(page.contains(r#"<html lang="en">"#) && page.contains("Log in"));
}

#[tokio::test]
async fn an_administrator_form_error_is_shown_next_to_its_field_and_nothing_is_written() {
    let x = start().await;
    let token = x.login("admin").await.unwrap();
    let cookies = format!("ttx_session={token}; ttx_csrf=abc");
    let head = x.head().await;
    let form = "csrf=abc&kind=enterprise&name=%E6%9F%90&credit_code=91350100M000100Y44&region=x";
    let (status, _, page) = x.post_form("/admin/organisations", &cookies, form).await.parts();
    assert_eq!(status, 422);
    assert!(page.contains(r#"id="credit_code-error""#) && page.contains("校验位"), "{page}");
    assert_eq!(x.head().await, head);
    let (status, _, _) = x.post_form("/admin/organisations", "ttx_session=nonsense; ttx_csrf=abc", form).await.parts();
    assert_eq!(status, 303, "no valid session: to the login page");
}

#[tokio::test]
async fn the_listings_pages_serve_each_role() {
    let x = start().await;
    // Anyone: search with highlights and facets, and a public result with its notice and objection.
    let (status, _, page) = x.get_page("/search?q=%E9%94%82%E7%94%B5%E6%B1%A0", "").await.parts();
    assert_eq!(status, 200);
    assert!(page.contains(r#"href="/results/r-seed""#) && page.contains("<mark>锂</mark>"), "{page}");
    assert!(page.contains("新能源与节能") && page.contains(r#"class="facets""#), "{page}");
    let (status, _, page) = x.get_page("/search?trl_min=12", "").await.parts();
    assert_eq!(status, 422);
    assert!(page.contains("form-error"), "{page}");
    let (status, _, page) = x.get_page("/results/r-seed", "").await.parts();
    assert_eq!(status, 200);
    assert!(page.contains(r#"id="countdown""#) && page.contains("价格偏低"), "{page}");
    assert!(!page.contains(r#"name="do""#), "no actions for an anonymous visitor");

    // The holder's manager: actions on the result, the objection to answer, and their listings.
    let cookies = format!("ttx_session={}; ttx_csrf=abc", x.login("zhangwei").await.unwrap());
    let (_, _, page) = x.get_page("/results/r-seed", &cookies).await.parts();
    assert!(page.contains(r#"name="answer""#) && page.contains(r#"value="withdraw""#), "{page}");
    let (status, _, page) = x.get_page("/my", &cookies).await.parts();
    assert_eq!(status, 200);
    assert!(page.contains(r#"href="/results/r-seed""#) && page.contains("匹配通知"), "{page}");

    // A new result with no title: the error is next to the field and nothing is written.
    let head = x.head().await;
    let form = "csrf=abc&title=&summary=x&field=new_energy&trl_level=5&trl_assessor=a&trl_assessed_on=2026-01-01\
                &trl_evidence=e&form=process&inventors=a&secrecy=public&modes=assignment&route=negotiated\
                &visibility=public";
    let (status, _, page) = x.post_form("/results/new", &cookies, form).await.parts();
    assert_eq!(status, 422);
    assert!(page.contains(r#"id="title-error""#), "{page}");
    assert_eq!(x.head().await, head);

    // The demand's poster: the challenge's application, shortlisted from the page, and the matches.
    let cookies = format!("ttx_session={}; ttx_csrf=abc", x.login("zhaomin").await.unwrap());
    let (_, _, page) = x.get_page("/demands", &cookies).await.parts();
    assert!(page.contains(r#"href="/demands/d-seed""#), "{page}");
    let (_, _, page) = x.get_page("/demands/d-seed", &cookies).await.parts();
    assert!(page.contains(r#"value="shortlist""#) && page.contains(r#"id="matches-heading""#), "{page}");
    let (status, headers, _) =
        x.post_form("/demands/d-seed", &cookies, "csrf=abc&do=shortlist&application_id=a-seed").await.parts();
    assert_eq!((status, headers["location"].to_str().unwrap()), (303, "/demands/d-seed"));
    let (_, _, page) = x.get_page("/demands/d-seed", &cookies).await.parts();
    assert!(page.contains("已入围") && page.contains(r#"value="award""#), "{page}");
    let (status, _, _) =
        x.post_form("/demands/d-seed", &cookies, "csrf=wrong&do=award&application_id=a-seed").await.parts();
    assert_eq!(status, 403, "forms need the CSRF token");
}

#[tokio::test]
async fn the_negotiation_room_shows_versions_side_by_side_and_refuses_a_deal_while_the_notice_runs() {
    let x = start().await;
    let buyer = format!("ttx_session={}; ttx_csrf=abc", x.login("zhaomin").await.unwrap());
    let seller = format!("ttx_session={}; ttx_csrf=abc", x.login("zhangwei").await.unwrap());
    // The enterprise opens a negotiation from the result's page.
    let (_, _, page) = x.get_page("/results/r-seed", &buyer).await.parts();
    assert!(page.contains(r#"id="negotiate""#), "{page}");
    let (status, headers, _) =
        x.post_form("/results/r-seed", &buyer, "csrf=abc&do=negotiate&mode=assignment").await.parts();
    assert_eq!(status, 303);
    let room = headers["location"].to_str().unwrap().to_owned();
    assert!(room.starts_with("/negotiations/"), "{room}");
    let offer = |price: &str, territory: &str| {
        format!(
            "csrf=abc&do=offer&mode=assignment&price_yuan={price}&territory={territory}&term_months=60&field_of_use=\
             &pay_amount=&pay_on=&pay_event=signing&pay_days=10"
        )
    };
    let (status, _, _) = x.post_form(&room, &buyer, &offer("9000", "CN")).await.parts();
    assert_eq!(status, 303);
    let (status, _, _) = x.post_form(&room, &seller, &offer("10000", "CN")).await.parts();
    assert_eq!(status, 303);
    let (_, _, page) = x.get_page(&room, &buyer).await.parts();
    assert!(page.contains(r#"id="versions""#) && page.contains("v1") && page.contains("v2"), "{page}");
    assert!(page.contains(r#"class="changed""#) && page.contains("¥10,000"), "the changed price is marked: {page}");
    // The notice at ¥10,000 still runs: the deal is refused with the reason, on the page.
    let (status, _, page) = x.post_form(&room, &buyer, "csrf=abc&do=accept&version=2").await.parts();
    assert_eq!(status, 422);
    assert!(page.contains("still running") || page.contains("不符合规则"), "{page}");
    // Administrators see every room.
    let admin = format!("ttx_session={}; ttx_csrf=abc", x.login("admin").await.unwrap());
    assert_eq!(x.get_page(&room, &admin).await.parts().0, 200, "administrators see it");
    // A payment schedule that does not add up to the price is refused on the page, naming the rule.
    let short = "csrf=abc&do=offer&mode=assignment&price_yuan=10000&territory=CN&term_months=60&field_of_use=\
                 &pay_amount=9000&pay_on=2027-06-30&pay_event=signing&pay_days=";
    let (status, _, page) = x.post_form(&room, &buyer, short).await.parts();
    assert_eq!(status, 422);
    assert!(page.contains("add up to the price"), "{page}");
    // Overdue refunds: a page for administrators and regulators only.
    let (status, _, page) = x.get_page("/refunds/overdue", &admin).await.parts();
    assert!(status == 200 && page.contains("没有逾期未退的保证金"), "{page}");
    assert_eq!(x.get_page("/refunds/overdue", &buyer).await.parts().0, 403);
}

#[tokio::test]
async fn a_seller_starts_an_auction_from_the_result_page_and_a_buyer_registers_there() {
    let x = start().await;
    let (id, manager) = published_result(&x, "auction").await;
    let seller = format!("ttx_session={manager}; ttx_csrf=abc");
    let (_, _, page) = x.get_page(&format!("/results/{id}"), &seller).await.parts();
    assert!(page.contains(r#"value="auction""#), "the seller may start an auction: {page}");
    let (status, headers, _) = x
        .post_form(
            &format!("/results/{id}"),
            &seller,
            "csrf=abc&do=auction&price_yuan=10000&days=7&mode=assignment&territory=&term_months=0&field_of_use=\
              &pay_amount=30&pay_on=&pay_event=signing&pay_days=10&pay_amount=70&pay_on=&pay_event=acceptance&pay_days=20",
            )
            .await.parts();
    assert_eq!(status, 303);
    let session = headers["location"].to_str().unwrap().to_owned();
    assert!(session.starts_with("/sessions/"), "{session}");
    let buyer = format!("ttx_session={}; ttx_csrf=abc", x.login("zhaomin").await.unwrap());
    let (_, _, page) = x.get_page(&session, &buyer).await.parts();
    assert!(page.contains("¥10,000") && page.contains(r#"value="register""#), "{page}");
    assert!(page.contains("高能量密度锂离子电池正极材料"), "the auction names its result: {page}");
    let (status, _, _) = x.post_form(&session, &buyer, "csrf=abc&do=register").await.parts();
    assert_eq!(status, 303);
    let (_, _, page) = x.get_page(&session, &buyer).await.parts();
    assert!(page.contains(r#"id="my-deposit""#), "registered, the deposit is awaited: {page}");
    let (_, _, page) = x.get_page(&format!("/results/{id}"), &seller).await.parts();
    assert!(!page.contains(r#"value="auction""#) && page.contains(&session), "one session at a time: {page}");
}

#[tokio::test]
async fn a_seller_lists_a_sale_from_the_result_page_and_a_buyer_registers_its_intent_there() {
    let x = start().await;
    let (id, manager) = published_result(&x, "listed").await;
    let seller = format!("ttx_session={manager}; ttx_csrf=abc");
    let path = format!("/results/{id}");
    let (status, _, _) = x
        .post_form(
            &path,
            &seller,
            "csrf=abc&do=list_sale&price_yuan=20000&working_days=10&mode=assignment&pay_event=signing&pay_days=10",
        )
        .await
        .parts();
    assert_eq!(status, 303);
    let buyer = format!("ttx_session={}; ttx_csrf=abc", x.login("zhaomin").await.unwrap());
    let (_, _, page) = x.get_page(&path, &buyer).await.parts();
    assert!(page.contains("¥20,000") && page.contains(r#"value="register_intent""#), "{page}");
    let listing_id = page.split(r#"name="listing_id" value=""#).nth(1).unwrap().split('"').next().unwrap().to_owned();
    let form = format!("csrf=abc&do=register_intent&listing_id={listing_id}");
    let (status, _, _) = x.post_form(&path, &buyer, &form).await.parts();
    assert_eq!(status, 303);
    let (_, _, page) = x.get_page(&path, &buyer).await.parts();
    assert!(page.contains("已登记受让意向") && !page.contains(r#"value="register_intent""#), "{page}");
}

/// What pages cost on the bus, counted by the gateway's own metric (`ttx_bus_requests_total`): a result page asks the
/// services at most twice, whoever looks; an auction page left open asks nothing while nothing changes, and once
/// when a bid arrives.
#[tokio::test]
async fn a_result_page_costs_two_bus_requests_and_an_idle_live_auction_none() {
    let x = start().await;
    let (id, manager) = published_result(&x, "auction").await;
    let seller = format!("ttx_session={manager}; ttx_csrf=abc");
    let (status, headers, _) = x
        .post_form(
            &format!("/results/{id}"),
            &seller,
            "csrf=abc&do=auction&price_yuan=10000&days=7&mode=assignment&territory=&term_months=0&field_of_use=\
              &pay_amount=100&pay_on=&pay_event=signing&pay_days=10",
        )
        .await
        .parts();
    assert_eq!(status, 303);
    let session = headers["location"].to_str().unwrap().to_owned();
    let buyer = x.cookies("zhaomin").await;

    let bus_requests = async |subject: &str| {
        let labels = if subject.is_empty() { String::new() } else { format!("subject=\"{subject}\"") };
        x.metric("ttx_bus_requests_total", &labels).await
    };
    for (who, cookies) in [("seller", seller.as_str()), ("buyer", buyer.as_str()), ("anonymous", "")] {
        let before = bus_requests("").await;
        let (status, _, page) = x.get_page(&format!("/results/{id}"), cookies).await.parts();
        assert_eq!(status, 200, "{page}");
        let cost = bus_requests("").await - before;
        eprintln!("result page as {who}: {cost} bus requests");
        assert!(cost <= 2.0, "the result page as {who} asked the services {cost} times");
    }

    // A live viewer: the first event, then nothing asked while the session rests.
    let mut events = x.events(&format!("{session}/live"), "zhaomin").await.unwrap();
    events.next_with("event: session", Duration::from_secs(10)).await.expect("the live page's first event");
    let before = bus_requests("").await;
    let idle = events.drain(Duration::from_secs(2)).await;
    assert!(!idle.contains("\"bids\":[{"), "nothing changed: {idle}");
    let idle_cost = bus_requests("").await - before;
    eprintln!("live auction viewer, idle for 2 s: {idle_cost} bus requests");
    assert_eq!(idle_cost, 0.0, "an idle live viewer asked the services {idle_cost} times in 2 s");

    // A change reaches the open page, which asks for the session once. (The change goes through the JSON API, which
    // reads no session, so every read counted is the live page's.)
    let get_session = ttx_proto::negotiation::v1::subjects::GET_SESSION;
    let before = bus_requests(get_session).await;
    x.register_bidder("zhaomin", session.trim_start_matches("/sessions/")).await.expect(200);
    let event = events.next_with("\"registered\":true", Duration::from_secs(10)).await;
    assert!(event.is_some(), "the registration reached the live page");
    let cost = bus_requests(get_session).await - before;
    eprintln!("live auction viewer, one change: {cost} bus request(s)");
    // One read per change; two at most if the page read between the events of one command.
    assert!((1.0..=2.0).contains(&cost), "one change, {cost} reads");
}

#[tokio::test]
async fn the_pages_scripts_are_files_of_their_own() {
    let x = start().await;
    for name in ["auction.js", "countdown.js"] {
        let (status, headers, body) = x.get_page(&format!("/static/js/{name}"), "").await.parts();
        assert_eq!(status, 200, "{name}");
        assert!(headers["content-type"].to_str().unwrap().starts_with("text/javascript"), "{name}");
        assert!(body.contains("(function(){"), "{name}: {body}");
    }
    let (status, _, _) = x.get_page("/static/js/other.js", "").await.parts();
    assert_eq!(status, 404);
}
