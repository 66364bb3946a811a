//! The `ttx` binary as a user runs it: real processes, a real socket, a real data directory.

mod common;

use std::path::Path;

use ttx_eventlog_sqlite::{DB_FILE, SqliteLog};
use ttx_kernel::testing::test_event;
use ttx_kernel::{AppendRequest, CommandId, EventLog, ExpectedVersion, StreamId};

use common::{Server, run, text, ttx};

async fn fill(dir: &Path, events: usize) {
    let log = SqliteLog::open(dir).unwrap();
    for i in 0..events {
        let stream = StreamId::parse(format!("test-cli-{}", i % 3)).unwrap();
        let request = AppendRequest {
            stream,
            expected: ExpectedVersion::Any,
            command_id: CommandId::parse(format!("c{i}")).unwrap(),
            events: vec![test_event(format!("event {i}").into_bytes())],
        };
        log.append(request).await.unwrap();
    }
}

#[test]
fn serve_answers_probes_and_problems_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut cmd = ttx();
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"]).arg(&data);
    let server = Server::start(cmd);
    let (status, _, body) = server.get("/healthz");
    assert_eq!(status, 200);
    assert!(body.contains("\"ok\""), "{body}");
    let (status, _, body) = server.get("/readyz");
    assert_eq!(status, 200);
    assert!(body.contains("\"log_head\":2"), "the published holiday schedules, seeded: {body}");
    let (status, content_type, body) = server.get("/no/such/page");
    assert_eq!(status, 404);
    assert_eq!(content_type, "application/problem+json");
    let problem: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(problem["type"], "urn:ttx:problem:not-found");
    assert_eq!(problem["status"], 404);
    let (status, content_type, _) = server.request("POST", "/healthz", &[]);
    assert_eq!((status, content_type.as_str()), (405, "application/problem+json"));
    // A second exchange on the same data directory is refused while the first runs.
    let second = run(&["serve", "--listen", "127.0.0.1:0", "--data-dir", data.to_str().unwrap()]);
    assert_eq!(second.status.code(), Some(2));
    assert!(text(&second.stderr).contains("in use by another process"), "{}", text(&second.stderr));
    assert!(server.terminate(), "a graceful stop exits 0");
    assert!(data.join(DB_FILE).exists(), "the log was created in --data-dir");
}

#[test]
fn no_command_serves_with_configuration_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = ttx();
    cmd.env("TTX__HTTP__LISTEN", "127.0.0.1:0").env("TTX__DATA_DIR", dir.path().join("env-data"));
    let server = Server::start(cmd);
    assert_eq!(server.get("/healthz").0, 200);
    assert!(server.terminate());
    assert!(dir.path().join("env-data").join(DB_FILE).exists());
}

#[tokio::test]
async fn log_stats_and_verify_report_on_a_log_and_name_the_first_bad_position() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 12).await;
    let d = dir.path().to_str().unwrap();

    let out = run(&["log", "stats", "--data-dir", d]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("events:        12"), "{stdout}");
    assert!(stdout.contains("streams:       3"), "{stdout}");

    let out = run(&["log", "verify", "--data-dir", d]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(text(&out.stdout).starts_with("ok: 12 events in 3 streams"), "{}", text(&out.stdout));

    let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
    let mut record: Vec<u8> =
        conn.query_row("SELECT record FROM records WHERE position = 5", [], |r| r.get(0)).unwrap();
    let last = record.len() - 1;
    record[last] ^= 0x20;
    conn.execute("UPDATE records SET record = ?1 WHERE position = 5", [record]).unwrap();
    drop(conn);

    let out = run(&["log", "verify", "--data-dir", d]);
    assert_eq!(out.status.code(), Some(1), "a tampered log fails verification");
    let stdout = text(&out.stdout);
    assert!(stdout.contains("FAILED at position 5 in stream test-cli-1"), "{stdout}");
    assert!(stdout.contains("4 events before it verified"), "{stdout}");
}

#[tokio::test]
async fn log_verify_checks_the_store_index_too() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 6).await;
    let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
    conn.execute("UPDATE events SET version = 9 WHERE position = 4", []).unwrap();
    drop(conn);
    let out = run(&["log", "verify", "--data-dir", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("FAILED at position 4 in stream test-cli-0: store index"), "{stdout}");
}

#[test]
fn operational_errors_exit_2_with_a_message() {
    let out = run(&["log", "verify", "--data-dir", "/nonexistent/ttx"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no event log at"), "{}", text(&out.stderr));
    let out = run(&["--config", "/nonexistent/ttx.toml", "log", "stats"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("does not exist"), "{}", text(&out.stderr));
    let out = run(&["serve", "--listen", "not-an-address"]);
    assert_eq!(out.status.code(), Some(2), "clap rejects a bad address");
}

#[test]
fn the_shipped_config_file_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/config/ttx.toml");
    fill_blocking(dir.path());
    let out = ttx()
        .arg("--config")
        .arg(&config)
        .args(["log", "stats", "--data-dir", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
}

fn fill_blocking(dir: &Path) {
    tokio::runtime::Runtime::new().unwrap().block_on(fill(dir, 1));
}

#[test]
fn bench_log_prints_every_figure() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["bench", "log", "--events", "3000", "--data-dir", dir.path().join("b").to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for needle in [
        "  1 appenders:",
        " 16 appenders:",
        "256 appenders:",
        "replay",
        "read one stream of 100 events",
        "p50",
        "ratio",
    ] {
        assert!(stdout.contains(needle), "missing {needle:?} in\n{stdout}");
    }
    let busy = run(&["bench", "log", "--events", "3000", "--data-dir", dir.path().to_str().unwrap()]);
    assert_eq!(busy.status.code(), Some(2), "a non-empty directory is refused");
}

#[test]
fn bench_search_prints_every_figure() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&[
        "bench",
        "search",
        "--results",
        "2000",
        "--rounds",
        "1",
        "--appends",
        "5",
        "--data-dir",
        dir.path().join("s").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    let stdout = text(&out.stdout);
    for needle in ["rebuild: 2000 documents indexed", "search: 104 queries", "p99", "live indexing lag (5 appends"] {
        assert!(stdout.contains(needle), "missing {needle:?} in\n{stdout}");
    }
}

#[test]
fn bench_bids_prints_every_figure() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("b");
    let out = run(&["bench", "bids", "--bidders", "4", "--seconds", "1", "--data-dir", data.to_str().unwrap()]);
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    let stdout = text(&out.stdout);
    for needle in ["setup: 4 bidders", "accepted bids/s", "latency p50", "stored"] {
        assert!(stdout.contains(needle), "missing {needle:?} in\n{stdout}");
    }
    let verify = run(&["log", "verify", "--data-dir", data.to_str().unwrap()]);
    assert_eq!(verify.status.code(), Some(0), "{}", text(&verify.stdout));
}

#[test]
fn the_exchange_runs_on_nats_and_its_log_verifies_there() {
    let nats = ttx_nats::testing::NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = ttx();
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--nats", &nats.url(), "--data-dir"]).arg(dir.path().join("unused"));
    let server = Server::start(cmd);
    let (status, _, body) = server.get("/readyz");
    assert_eq!(status, 200, "{body}");
    assert!(server.terminate());
    assert!(!dir.path().join("unused").join(DB_FILE).exists(), "with --nats no log is kept in the data directory");
    assert!(dir.path().join("unused").join("keys").is_dir(), "the gateway's token keys are");
    // Some events through the JetStream log, then the operator's commands against it.
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let log = ttx_nats::JetStreamLog::connect(&nats.url(), ttx_nats::JetStreamOptions::default()).await.unwrap();
        for i in 0..5 {
            let request = AppendRequest {
                stream: StreamId::parse(format!("test-cli-{}", i % 2)).unwrap(),
                expected: ExpectedVersion::Any,
                command_id: CommandId::parse(format!("c{i}")).unwrap(),
                events: vec![test_event(format!("event {i}").into_bytes())],
            };
            log.append(request).await.unwrap();
        }
    });
    let out = run(&["log", "verify", "--nats", &nats.url()]);
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    // The two published holiday schedules identity seeded, and the five written here.
    assert!(text(&out.stdout).starts_with("ok: 7 events in 3 streams"), "{}", text(&out.stdout));
    let out = run(&["log", "stats", "--nats", &nats.url()]);
    assert!(text(&out.stdout).contains("head position: 7"), "{}", text(&out.stdout));
    let out = run(&["log", "stats", "--nats", "nats://127.0.0.1:1"]);
    assert_eq!(out.status.code(), Some(2), "an unreachable server is an operational error");
}

#[test]
fn the_first_administrator_is_created_from_the_command_line_and_runs_the_identity_flow() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let target = ["--data-dir", data.to_str().unwrap()];
    common::admin_create_user(
        &target,
        "root",
        "91310000MA1FL4KX3N",
        "技术交易所",
        "service_institution",
        "admin",
        "root's long password",
    );
    let mut cmd = ttx();
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"]).arg(&data);
    let server = Server::start(cmd);
    common::identity_flow(&server, "root's long password");
    assert!(server.terminate());
    let out = run(&["log", "verify", "--data-dir", data.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
}

#[test]
fn demo_seeds_every_role_and_a_market_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let first = run(&["demo", "--data-dir", data.to_str().unwrap()]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    let out = text(&first.stdout);
    for login in ["admin", "zhangwei", "liuyang", "zhaomin", "wufang"] {
        assert!(out.lines().any(|l| l.starts_with(login) && !l.contains("exists")), "{login} in\n{out}");
    }
    assert!(out.contains("6 published results"), "{out}");
    assert!(out.contains("/sessions/demo-auction"), "{out}");
    let second = run(&["demo", "--data-dir", data.to_str().unwrap()]);
    assert!(text(&second.stdout).contains("(exists; unchanged)"), "{}", text(&second.stdout));
    // Served, the market is searchable in Chinese by anyone (the demo's results are listed as public), and the open
    // demand has been matched with the results.
    let mut cmd = ttx();
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"]).arg(&data);
    let server = Server::start(cmd);
    let (status, _, body) = server.get("/api/v1/search?q=%E9%94%82%E7%94%B5%E6%B1%A0");
    assert_eq!(status, 200, "{body}");
    let found: serde_json::Value = serde_json::from_str(&body).unwrap();
    let ids: Vec<&str> = found["hits"].as_array().unwrap().iter().map(|h| h["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&"demo-r1") && ids.contains(&"demo-r5"), "锂电池 finds the lithium results: {ids:?}");
    assert!(!ids.contains(&"demo-r4"), "and not the sodium one: {ids:?}");
    let mut matched = false;
    for _ in 0..100 {
        let conn =
            rusqlite::Connection::open_with_flags(data.join(DB_FILE), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .unwrap();
        let streams: i64 = conn
            .query_row("SELECT count(*) FROM streams WHERE stream_id LIKE 'listings-match-%'", [], |r| r.get(0))
            .unwrap();
        if streams == 2 {
            matched = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(server.terminate());
    assert!(matched, "the demo's open demands were matched");
    let verify = run(&["log", "verify", "--data-dir", data.to_str().unwrap()]);
    assert_eq!(verify.status.code(), Some(0), "{}", text(&verify.stdout));
}
