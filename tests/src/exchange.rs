//! `TestExchange`: the whole exchange in the test process, wired as `ttx serve` wires it, in either deployment, with
//! a clock the test moves and the gateway on a real socket, seeded with the sample exchange's organisations and people
//! (`ttx-seed`, as `ttx demo` seeds them, with one known password); one method per user action, each taking the login
//! of the person who acts (their token is kept, and renewed once the clock has moved).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use ttx::config::Config;
use ttx::serve::{ServiceName, Wiring, serve_wired};
use ttx_kernel::{ManualClock, Timestamp};

/// Which deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The embedded SQLite log and the in-process bus.
    Embedded,
    /// The JetStream log and the NATS bus, on a server of the test's own.
    Nats,
}

pub const PASSWORD: &str = "a long test password";

/// The id of the organisation `login` belongs to, on the sample exchange.
pub fn org_of(login: &str) -> String {
    ttx_seed::org_of(login)
}

/// A running exchange; stopped when dropped.
pub struct TestExchange {
    pub addr: SocketAddr,
    pub clock: Arc<ManualClock>,
    pub mode: Mode,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    config: Config,
    _nats: Option<ttx_nats::testing::NatsServer>,
    _dir: tempfile::TempDir,
    /// Each person's token, by login, until the clock moves.
    tokens: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

impl std::fmt::Debug for TestExchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestExchange").field("addr", &self.addr).field("mode", &self.mode).finish_non_exhaustive()
    }
}

/// An HTTP answer: status, headers, the body as text and, when it is JSON, parsed (null otherwise).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: axum::http::HeaderMap,
    pub text: String,
    pub body: Value,
}

/// A stream of server-sent events, read as the events arrive.
#[derive(Debug)]
pub struct Events {
    stream: tokio::net::TcpStream,
    seen: String,
}

impl Events {
    /// The next event whose text contains `what`, waiting at most `within`; `None` if none came.
    pub async fn next_with(&mut self, what: &str, within: Duration) -> Option<String> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(at) = self.seen.find(what) {
                let start = self.seen[..at].rfind("\n\n").map_or(0, |i| i + 2);
                let end = self.seen[at..].find("\n\n").map_or(self.seen.len(), |i| at + i);
                let event = self.seen[start..end].to_owned();
                self.seen.drain(..end);
                return Some(event);
            }
            let mut chunk = [0u8; 4096];
            match tokio::time::timeout_at(deadline, self.stream.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => self.seen.push_str(&String::from_utf8_lossy(&chunk[..n])),
                _ => return None,
            }
        }
    }

    /// Everything that arrives within `within`.
    pub async fn drain(&mut self, within: Duration) -> String {
        let deadline = tokio::time::Instant::now() + within;
        let mut chunk = [0u8; 4096];
        while let Ok(Ok(n)) = tokio::time::timeout_at(deadline, self.stream.read(&mut chunk)).await {
            if n == 0 {
                break;
            }
            self.seen.push_str(&String::from_utf8_lossy(&chunk[..n]));
        }
        std::mem::take(&mut self.seen)
    }
}

impl TestExchange {
    /// Seeds the sample exchange's organisations and people, then starts every service and the gateway.
    pub async fn spawn(mode: Mode) -> anyhow::Result<Self> {
        Self::spawn_with(mode, Setup::default()).await
    }

    /// As [`TestExchange::spawn`], with more seeded first.
    pub async fn spawn_with(mode: Mode, setup: Setup) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let nats = (mode == Mode::Nats).then(ttx_nats::testing::NatsServer::start);
        let mut config = Config { data_dir: dir.path().join("data"), ..Config::default() };
        config.http.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        if let Some(n) = &nats {
            config.nats.url = n.url();
        }
        let clock = Arc::new(ManualClock::new(Timestamp::from_unix_micros(1_790_000_000_000_000)));
        seed(&config, clock.clone(), setup).await?;

        let (tx, rx) = tokio::sync::oneshot::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let wiring = Wiring { clock: clock.clone(), listening: Some(tx) };
        let services = ServiceName::ALL.into_iter().collect();
        let kept = config.clone();
        let task = tokio::spawn(async move {
            serve_wired(config, &services, wiring, async {
                let _ = stopped.await;
            })
            .await
        });
        let addr = match rx.await {
            Ok(addr) => addr,
            Err(_) => {
                let why = match task.await {
                    Ok(Err(e)) => format!("{e:#}"),
                    Ok(Ok(())) => "it ended".to_owned(),
                    Err(e) => e.to_string(),
                };
                anyhow::bail!("the exchange stopped before it listened: {why}");
            }
        };
        let exchange = Self {
            addr,
            clock,
            mode,
            stop: Some(stop),
            task: Some(task),
            config: kept,
            _nats: nats,
            _dir: dir,
            tokens: Default::default(),
        };
        if setup.fixture {
            // Listings matches the fixture's demand in the background; tests start once that is recorded, so that what
            // they see written is their own.
            let mut matched = false;
            for _ in 0..1000 {
                if exchange.has_stream("listings-match-d-seed").await {
                    matched = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            anyhow::ensure!(matched, "the fixture's demand was never matched");
        }
        Ok(exchange)
    }

    /// Stops the exchange, then reads its whole log (as an auditor would).
    pub async fn stop_and_read_log(mut self) -> anyhow::Result<Vec<ttx_kernel::RecordedEvent>> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await??;
        }
        // Read-only for the embedded log: the stopped exchange's last tasks may still hold its writer's lock a moment.
        let log: Arc<dyn ttx_kernel::EventLog> = if self.config.nats.url.is_empty() {
            Arc::new(ttx_eventlog_sqlite::SqliteLog::open_read_only(&self.config.data_dir)?)
        } else {
            ttx::serve::open_log(&self.config).await?
        };
        let mut events = Vec::new();
        loop {
            let page = log.read_all(events.len() as u64 + 1, 1000).await?;
            if page.is_empty() {
                return Ok(events);
            }
            events.extend(page);
        }
    }

    /// Stops the exchange and reports how it ended.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await?,
            None => Ok(()),
        }
    }

    /// One HTTP/1.1 request on a new connection.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> anyhow::Result<Answer> {
        self.request_with(method, path, token, &[], body).await
    }

    /// One HTTP/1.1 request on a new connection, with more headers.
    pub async fn request_with(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> anyhow::Result<Answer> {
        let bearer = token.map(|t| format!("Bearer {t}"));
        let mut all: Vec<(&str, &str)> = bearer.iter().map(|b| ("authorization", b.as_str())).collect();
        all.extend_from_slice(headers);
        let body = body.map(Value::to_string);
        if body.is_some() {
            all.push(("content-type", "application/json"));
        }
        self.exchange(method, path, &all, body.as_deref().unwrap_or_default().as_bytes()).await
    }

    /// A request with exactly these headers and a JSON body (if any); the test fails if the exchange does not answer.
    pub async fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<Value>) -> Answer {
        let body = body.map(|b| b.to_string());
        let mut all = headers.to_vec();
        if body.is_some() {
            all.push(("content-type", "application/json"));
        }
        let raw = body.as_deref().unwrap_or_default().as_bytes();
        self.exchange(method, path, &all, raw).await.unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// A request with a body of any type, as is.
    pub async fn send_raw(&self, method: &str, path: &str, token: &str, content_type: &str, body: &str) -> Answer {
        let bearer = format!("Bearer {token}");
        let headers = [("authorization", bearer.as_str()), ("content-type", content_type)];
        self.exchange(method, path, &headers, body.as_bytes()).await.unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// A form post, as a browser sends it, with its cookies; the page is the answer's `text`.
    pub async fn post_form(&self, path: &str, cookies: &str, form: &str) -> Answer {
        let headers = [("cookie", cookies), ("content-type", "application/x-www-form-urlencoded")];
        self.exchange("POST", path, &headers, form.as_bytes()).await.unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// A page, as a browser asks for it with its cookies.
    pub async fn get_page(&self, path: &str, cookies: &str) -> Answer {
        self.exchange("GET", path, &[("cookie", cookies)], b"").await.unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// The cookies a browser of `who`'s would send: their session, and a CSRF token `abc` its forms carry.
    pub async fn cookies(&self, who: &str) -> String {
        let token = self.token(who).await.unwrap_or_else(|e| panic!("{who}: {e}")).unwrap_or_default();
        format!("ttx_session={token}; ttx_csrf=abc")
    }

    async fn exchange(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> anyhow::Result<Answer> {
        let mut stream = tokio::net::TcpStream::connect(self.addr).await?;
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body).await?;
        let mut raw = Vec::new();
        tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut raw)).await??;
        Answer::parse(&raw)
    }

    /// Opens a stream of server-sent events (a live page) with `who`'s browser cookies.
    pub async fn events(&self, path: &str, who: &str) -> anyhow::Result<Events> {
        let mut stream = tokio::net::TcpStream::connect(self.addr).await?;
        let cookies = self.cookies(who).await;
        let head =
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nCookie: {cookies}\r\nAccept: text/event-stream\r\n\r\n");
        stream.write_all(head.as_bytes()).await?;
        Ok(Events { stream, seen: String::new() })
    }

    /// The exchange's `/metrics`, summed over the lines of `metric` whose labels contain `labels` (all its lines when
    /// `labels` is empty).
    pub async fn metric(&self, metric: &str, labels: &str) -> f64 {
        let page = self.get_page("/metrics", "").await;
        page.text
            .lines()
            .filter(|l| l.starts_with(metric) && l[metric.len()..].starts_with(['{', ' ']))
            .filter(|l| l.split_once('}').is_some_and(|(ls, _)| ls.contains(labels)) || labels.is_empty())
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// The log's head (the position of its last event), as an auditor reading the log would see it.
    pub async fn head(&self) -> u64 {
        let log = self.open_log().await.unwrap_or_else(|e| panic!("the log: {e}"));
        log.head().await.unwrap_or_else(|e| panic!("the log's head: {e}"))
    }

    /// Whether the log holds a stream of that name.
    pub async fn has_stream(&self, stream: &str) -> bool {
        let log = self.open_log().await.unwrap_or_else(|e| panic!("the log: {e}"));
        let stream = ttx_kernel::StreamId::parse(stream).unwrap_or_else(|e| panic!("{stream}: {e}"));
        !log.read_stream(&stream, 1, 1).await.unwrap_or_default().is_empty()
    }

    /// The log, for reading beside the running exchange (read-only for the embedded log, whose writer the exchange
    /// holds).
    async fn open_log(&self) -> anyhow::Result<Arc<dyn ttx_kernel::EventLog>> {
        Ok(if self.config.nats.url.is_empty() {
            Arc::new(ttx_eventlog_sqlite::SqliteLog::open_read_only(&self.config.data_dir)?)
        } else {
            ttx::serve::open_log(&self.config).await?
        })
    }

    pub async fn login(&self, user: &str) -> anyhow::Result<String> {
        let a = self
            .request("POST", "/api/v1/auth/login", None, Some(&json!({ "user_id": user, "password": PASSWORD })))
            .await?;
        anyhow::ensure!(a.status == 200, "login of {user}: {} {}", a.status, a.body);
        Ok(a.body["token"].as_str().unwrap_or_default().to_owned())
    }

    /// Moves the exchange's clock (tokens issued before may have expired: each person logs in again when next acting).
    pub fn advance(&self, d: Duration) {
        self.clock.advance(d);
        self.forget_tokens();
    }

    /// Sets the exchange's clock.
    pub fn set_time(&self, at: Timestamp) {
        self.clock.set(at);
        self.forget_tokens();
    }

    fn forget_tokens(&self) {
        self.tokens.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
    }

    /// The time on the exchange's clock, `d` from now, as the API writes times.
    pub fn at(&self, d: Duration) -> String {
        use ttx_kernel::Clock;
        let micros = i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
        Timestamp::from_unix_micros(self.clock.now().unix_micros().saturating_add(micros)).to_string()
    }

    /// `who`'s token: kept from an earlier login while the clock has not moved. An empty login is anonymous.
    pub async fn token(&self, who: &str) -> anyhow::Result<Option<String>> {
        if who.is_empty() {
            return Ok(None);
        }
        let kept = self.tokens.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(who).cloned();
        if let Some(token) = kept {
            return Ok(Some(token));
        }
        let token = self.login(who).await?;
        self.tokens.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(who.to_owned(), token.clone());
        Ok(Some(token))
    }

    /// A request as `who` (anonymous if empty).
    pub async fn call(&self, who: &str, method: &str, path: &str, body: Option<Value>) -> Answer {
        let token = self.token(who).await.unwrap_or_else(|e| panic!("{who} cannot log in: {e}"));
        self.request(method, path, token.as_deref(), body.as_ref()).await.unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// A read as `who`.
    pub async fn get(&self, who: &str, path: &str) -> Answer {
        self.call(who, "GET", path, None).await
    }

    /// Reads `path` as `who` until `done` holds (timers and reactions run on their own), at most ten seconds.
    pub async fn wait(&self, who: &str, path: &str, done: impl Fn(&Value) -> bool) -> Value {
        let mut last = Value::Null;
        for _ in 0..200 {
            let a = self.get(who, path).await;
            if a.status == 200 && done(&a.body) {
                return a.body;
            }
            last = a.body;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{path} never got there: {last}");
    }

    // Results.

    pub async fn create_result(&self, who: &str, listing: Value) -> Answer {
        self.call(who, "POST", "/api/v1/results", Some(listing)).await
    }

    /// A step of a result's review: `submit`, `approve`, `return` or `publish`.
    pub async fn review_step(&self, who: &str, result: &str, step: &str) -> Answer {
        self.call(who, "POST", &format!("/api/v1/results/{result}/{step}"), None).await
    }

    pub async fn submit_result(&self, who: &str, result: &str) -> Answer {
        self.review_step(who, result, "submit").await
    }

    pub async fn approve_result(&self, who: &str, result: &str) -> Answer {
        self.review_step(who, result, "approve").await
    }

    pub async fn publish_result(&self, who: &str, result: &str) -> Answer {
        self.review_step(who, result, "publish").await
    }

    /// A result of the first university's, created and published by its technology manager `zhangwei` after review
    /// by `liuyang`; its id.
    pub async fn published(&self, listing: Value) -> String {
        let a = self.create_result("zhangwei", listing).await.expect(201);
        let id = a.id();
        self.submit_result("zhangwei", &id).await.expect(200);
        self.approve_result("liuyang", &id).await.expect(200);
        self.publish_result("zhangwei", &id).await.expect(200);
        id
    }

    pub async fn withdraw_result(&self, who: &str, result: &str, reason: &str) -> Answer {
        self.call(who, "POST", &format!("/api/v1/results/{result}/withdraw"), Some(json!({ "reason": reason }))).await
    }

    pub async fn start_notice(&self, who: &str, result: &str, price_fen: i64, days: u32) -> Answer {
        let notice = json!({ "price_fen": price_fen, "days": days });
        self.call(who, "POST", &format!("/api/v1/results/{result}/notice"), Some(notice)).await
    }

    pub async fn raise_objection(&self, who: &str, result: &str, text: &str) -> Answer {
        self.call(who, "POST", &format!("/api/v1/results/{result}/objections"), Some(json!({ "text": text }))).await
    }

    pub async fn answer_objection(&self, who: &str, result: &str, objection: &str, answer: &str) -> Answer {
        let path = format!("/api/v1/results/{result}/objections/{objection}/answer");
        self.call(who, "POST", &path, Some(json!({ "answer": answer }))).await
    }

    pub async fn resolve_objection(
        &self,
        who: &str,
        result: &str,
        objection: &str,
        upheld: bool,
        note: &str,
    ) -> Answer {
        let path = format!("/api/v1/results/{result}/objections/{objection}/resolution");
        self.call(who, "POST", &path, Some(json!({ "upheld": upheld, "note": note }))).await
    }

    pub async fn consent_as_co_holder(&self, who: &str, result: &str) -> Answer {
        self.call(who, "POST", &format!("/api/v1/results/{result}/consent"), None).await
    }

    pub async fn stop_licensing(&self, who: &str, result: &str) -> Answer {
        self.call(who, "POST", &format!("/api/v1/results/{result}/stop-licensing"), None).await
    }

    pub async fn deal_status(&self, who: &str, result: &str, price_fen: i64) -> Answer {
        self.get(who, &format!("/api/v1/results/{result}/deal-status?price_fen={price_fen}")).await
    }

    pub async fn search(&self, who: &str, query: &str) -> Answer {
        self.get(who, &format!("/api/v1/search?{query}")).await
    }

    // Demands and challenges.

    pub async fn post_demand(&self, who: &str, demand: Value) -> Answer {
        self.call(who, "POST", "/api/v1/demands", Some(demand)).await
    }

    pub async fn apply_to_challenge(&self, who: &str, demand: &str, answers: &[&str]) -> Answer {
        let path = format!("/api/v1/demands/{demand}/applications");
        self.call(who, "POST", &path, Some(json!({ "answers": answers }))).await
    }

    /// A step of a challenge's award: `shortlist` or `award`.
    pub async fn application_step(&self, who: &str, demand: &str, application: &str, step: &str) -> Answer {
        self.call(who, "POST", &format!("/api/v1/demands/{demand}/applications/{application}/{step}"), None).await
    }

    // Organisations.

    pub async fn declare_related_party(&self, who: &str, org: &str, related: &str, relation: &str) -> Answer {
        let body = json!({ "related_org_id": related, "relation": relation });
        self.call(who, "POST", &format!("/api/v1/organisations/{org}/related-parties"), Some(body)).await
    }

    pub async fn withdraw_related_party(&self, who: &str, org: &str, related: &str) -> Answer {
        self.call(who, "DELETE", &format!("/api/v1/organisations/{org}/related-parties/{related}"), None).await
    }

    pub async fn name_representative(&self, who: &str, org: &str, user: &str) -> Answer {
        let path = format!("/api/v1/organisations/{org}/representative");
        self.call(who, "PUT", &path, Some(json!({ "user_id": user }))).await
    }

    // Negotiation.

    pub async fn open_negotiation(&self, who: &str, result: &str, mode: &str) -> Answer {
        self.call(who, "POST", "/api/v1/negotiations", Some(json!({ "result_id": result, "mode": mode }))).await
    }

    pub async fn make_offer(&self, who: &str, negotiation: &str, terms: Value) -> Answer {
        self.call(who, "POST", &format!("/api/v1/negotiations/{negotiation}/offers"), Some(terms)).await
    }

    pub async fn accept_offer(&self, who: &str, negotiation: &str, version: u64) -> Answer {
        let path = format!("/api/v1/negotiations/{negotiation}/accept");
        self.call(who, "POST", &path, Some(json!({ "version": version }))).await
    }

    // Listed-price sales.

    pub async fn open_listed_sale(&self, who: &str, sale: Value) -> Answer {
        self.call(who, "POST", "/api/v1/listed-sales", Some(sale)).await
    }

    pub async fn register_intent(&self, who: &str, sale: &str) -> Answer {
        self.call(who, "POST", &format!("/api/v1/listed-sales/{sale}/register"), None).await
    }

    // Bidding sessions.

    pub async fn open_session(&self, who: &str, session: Value) -> Answer {
        self.call(who, "POST", "/api/v1/sessions", Some(session)).await
    }

    pub async fn register_bidder(&self, who: &str, session: &str) -> Answer {
        self.call(who, "POST", &format!("/api/v1/sessions/{session}/register"), None).await
    }

    pub async fn confirm_deposit(&self, who: &str, session: &str, bidder_org: &str, amount_fen: i64) -> Answer {
        let body = json!({ "bidder_org_id": bidder_org, "amount_fen": amount_fen, "reference": "保证金到账" });
        self.call(who, "POST", &format!("/api/v1/sessions/{session}/deposits"), Some(body)).await
    }

    pub async fn refund_deposit(&self, who: &str, session: &str, bidder_org: &str) -> Answer {
        let body = json!({ "bidder_org_id": bidder_org, "reference": "保证金退还" });
        self.call(who, "POST", &format!("/api/v1/sessions/{session}/refunds"), Some(body)).await
    }

    pub async fn place_bid(&self, who: &str, session: &str, amount_fen: i64) -> Answer {
        let bid = json!({ "amount_fen": amount_fen });
        self.call(who, "POST", &format!("/api/v1/sessions/{session}/bids"), Some(bid)).await
    }

    pub async fn commit_bid(&self, who: &str, session: &str, commitment: &str) -> Answer {
        let body = json!({ "commitment": commitment });
        self.call(who, "POST", &format!("/api/v1/sessions/{session}/commitments"), Some(body)).await
    }

    pub async fn reveal_bid(&self, who: &str, session: &str, amount_fen: i64, nonce: &str) -> Answer {
        let body = json!({ "amount_fen": amount_fen, "nonce": nonce });
        self.call(who, "POST", &format!("/api/v1/sessions/{session}/reveals"), Some(body)).await
    }

    pub async fn record_signed(&self, who: &str, session: &str, reference: &str) -> Answer {
        let body = json!({ "reference": reference });
        self.call(who, "POST", &format!("/api/v1/sessions/{session}/contract-signed"), Some(body)).await
    }

    pub async fn record_default(&self, who: &str, session: &str, reason: &str) -> Answer {
        let body = json!({ "reason": reason });
        self.call(who, "POST", &format!("/api/v1/sessions/{session}/default"), Some(body)).await
    }

    /// A bidding session opened by `who` and both sample enterprises (`zhaomin`, `sunli`) registered with their
    /// deposits confirmed by the administrator; its id.
    pub async fn session_with_two_bidders(&self, who: &str, session: Value, deposit_fen: i64) -> String {
        let s = self.open_session(who, session).await.expect(201).id();
        for bidder in ["zhaomin", "sunli"] {
            self.register_bidder(bidder, &s).await.expect(200);
            self.confirm_deposit("admin", &s, &org_of(bidder), deposit_fen).await.expect(200);
        }
        s
    }

    // The calendar and the administrators' lists.

    pub async fn load_schedule(&self, who: &str, schedule: Value) -> Answer {
        self.call(who, "POST", "/api/v1/calendar", Some(schedule)).await
    }
}

impl Answer {
    /// Reads an HTTP/1.1 response: status line, headers, and a body of known length or in chunks.
    pub fn parse(raw: &[u8]) -> anyhow::Result<Self> {
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or_else(|| anyhow::anyhow!("no HTTP answer"))?;
        let head = String::from_utf8_lossy(&raw[..split]);
        let mut lines = head.split("\r\n");
        let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
        let mut headers = axum::http::HeaderMap::new();
        for line in lines {
            if let Some((name, value)) = line.split_once(':')
                && let (Ok(name), Ok(value)) = (
                    axum::http::HeaderName::from_bytes(name.trim().as_bytes()),
                    axum::http::HeaderValue::from_str(value.trim()),
                )
            {
                headers.append(name, value);
            }
        }
        let mut body = raw[split + 4..].to_vec();
        if headers.get("transfer-encoding").is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"chunked")) {
            body = dechunk(&body);
        }
        let text = String::from_utf8_lossy(&body).into_owned();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Self { status, headers, text, body: json })
    }

    /// A cookie the answer sets, by name.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers.get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
            v.strip_prefix(&format!("{name}=")).map(|rest| rest.split(';').next().unwrap_or("").to_owned())
        })
    }

    /// Status, headers and text, as a browser test reads a page.
    pub fn parts(self) -> (u16, axum::http::HeaderMap, String) {
        (self.status, self.headers, self.text)
    }

    /// A header's value as text (empty if absent).
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }

    /// This answer, if its status is `want`; otherwise the test fails showing the body.
    #[track_caller]
    pub fn expect(self, want: u16) -> Self {
        assert_eq!(self.status, want, "{}", self.body);
        self
    }

    /// The id of what a command created.
    #[track_caller]
    pub fn id(&self) -> String {
        self.body["id"].as_str().unwrap_or_else(|| panic!("no id in {}", self.body)).to_owned()
    }

    /// The problem's detail, for a refusal.
    pub fn detail(&self) -> &str {
        self.body["detail"].as_str().unwrap_or_default()
    }
}

/// What is seeded beyond the sample exchange's organisations and people.
#[derive(Debug, Clone, Copy, Default)]
pub struct Setup {
    /// The fixture: `r-seed`, the first university's result ([`fixture_listing`]), published, under a running public
    /// notice at ¥10,000 with an objection `o-seed` by `zhaomin`'s enterprise; and `d-seed`, a challenge posted by
    /// `zhaomin` with an application `a-seed` from the university.
    pub fixture: bool,
}

/// The fixture's result, on the wire.
pub fn fixture_listing() -> ttx_proto::listings::v1::Listing {
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
        holders: vec![lpb::Holder { org_id: org_of("zhangwei"), share_bp: 10_000 }],
        inventors: vec!["王教授".into()],
        secrecy: lpb::Secrecy::Public.into(),
        modes: vec![lpb::TransactionMode::Assignment.into()],
        asking_price_fen: Some(1_000_000),
        route: lpb::PricingRoute::Negotiated.into(),
        visibility: lpb::Visibility::Public.into(),
    }
}

/// The fixture's result as the API takes it.
pub fn listing_json() -> Value {
    json!({
        "title": "高能量密度锂离子电池正极材料",
        "summary": "一种高镍三元正极材料的制备方法。",
        "field": "new_energy",
        "keywords": ["锂离子电池"],
        "trl": { "level": 6, "assessor": "评价机构", "assessed_on": "2026-03-01", "evidence": "中试报告" },
        "form": "material",
        "holders": [{ "org_id": org_of("zhangwei"), "share_bp": 10000 }],
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

/// Seeds [`Setup::fixture`] through the listings service's own commands, as the sample people.
async fn seed_fixture(log: Arc<dyn ttx_kernel::EventLog>, clock: Arc<ManualClock>) -> anyhow::Result<()> {
    use ttx_kernel::rpc::Rpc;
    use ttx_proto::common::v1::{Actor, Role};
    use ttx_proto::listings::v1 as lpb;
    let listings = Arc::new(ttx_listings::Service::new(log, clock));
    // Commands that count periods wait for the service's view of the log (the calendar among it).
    let projection = tokio::spawn(listings.clone().project());
    let listings = listings.router();
    let who = |user: &str, role: Role| Actor {
        user_id: user.into(),
        org_id: org_of(user),
        role: role.into(),
        roles: vec![role.into()],
    };
    let manager = who("zhangwei", Role::TechManager);
    let reviewer = who("liuyang", Role::Reviewer);
    let member = who("zhaomin", Role::EnterpriseMember);
    let ctx = |actor: &Actor, id: &str| Some(lpb::CommandContext { actor: Some(actor.clone()), command_id: id.into() });
    async fn send<R: Rpc>(listings: &ttx_kernel::rpc::Router<ttx_listings::Service>, c: R) -> anyhow::Result<()> {
        listings.call(&c).await.map(|_| ()).map_err(|e| anyhow::anyhow!("fixture: {} ({})", e.message, e.code))
    }
    let r = || "r-seed".to_owned();
    send(
        &listings,
        lpb::CreateResult { context: ctx(&manager, "s1"), result_id: r(), listing: Some(fixture_listing()) },
    )
    .await?;
    send(&listings, lpb::SubmitResult { context: ctx(&manager, "s2"), result_id: r() }).await?;
    send(&listings, lpb::ApproveResult { context: ctx(&reviewer, "s3"), result_id: r() }).await?;
    send(&listings, lpb::PublishResult { context: ctx(&manager, "s4"), result_id: r() }).await?;
    let notice = lpb::StartNotice { context: ctx(&manager, "s5"), result_id: r(), price_fen: 1_000_000, days: 15 };
    send(&listings, notice).await?;
    let objection = lpb::RaiseObjection {
        context: ctx(&member, "s6"),
        result_id: r(),
        objection_id: "o-seed".into(),
        text: "价格偏低".into(),
    };
    send(&listings, objection).await?;
    let at = |s: &str| Timestamp::parse_rfc3339(s).map(|t| t.to_proto());
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
            valid_until: at("2030-01-01T00:00:00Z"),
        }),
        challenge: Some(lpb::ChallengeTerms {
            indicators: vec!["低温容量保持率".into(), "循环寿命".into()],
            deadline: at("2029-12-01T00:00:00Z"),
        }),
    };
    send(&listings, demand).await?;
    let application = lpb::ApplyToChallenge {
        context: ctx(&manager, "s8"),
        demand_id: "d-seed".into(),
        application_id: "a-seed".into(),
        answers: vec!["88%".into(), "3000 次".into()],
    };
    send(&listings, application).await?;
    projection.abort();
    let _ = projection.await;
    Ok(())
}

/// A body sent in chunks, joined.
fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&raw[..eol]).ok().and_then(|s| usize::from_str_radix(s.trim(), 16).ok());
        let Some(size) = size.filter(|n| *n > 0) else { break };
        let start = eol + 2;
        let end = (start + size).min(raw.len());
        out.extend_from_slice(&raw[start..end]);
        raw = raw.get(end + 2..).unwrap_or_default();
    }
    out
}

/// Seeds the sample exchange's organisations and people (`ttx-seed`), every person with [`PASSWORD`], before the
/// exchange starts (the embedded log admits one writer at a time).
async fn seed(config: &Config, clock: Arc<ManualClock>, setup: Setup) -> anyhow::Result<()> {
    let log = ttx::serve::open_log(config).await?;
    ttx_seed::identity(log.clone(), clock.clone(), |_| PASSWORD.to_owned()).await?;
    if setup.fixture {
        seed_fixture(log.clone(), clock).await?;
    }
    drop(log);
    // A read the seeding services started may still run on a blocking thread, holding the embedded log's writer lock
    // a moment after they stopped: the exchange starts once the lock is free.
    if config.nats.url.is_empty() {
        let lock = std::fs::File::open(config.data_dir.join(ttx_eventlog_sqlite::LOCK_FILE))?;
        for _ in 0..500 {
            if lock.try_lock().is_ok() {
                lock.unlock()?;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    Ok(())
}
