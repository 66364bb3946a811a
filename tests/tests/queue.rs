//! Two processes of one service behind one queue group share its commands; killing one loses none.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use ttx_kernel::EventLog;
use ttx_kernel::bus::{CallError, call_raw};
use ttx_nats::testing::NatsServer;
use ttx_nats::{JetStreamLog, JetStreamOptions, NatsBus};

fn start_worker(url: &str, name: &str) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_queue-worker"))
        .args([url, name])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start a worker");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready", "worker {name} did not start");
    child
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_one_of_two_service_processes_loses_no_command() {
    let server = NatsServer::start();
    let url = server.url();
    let mut a = start_worker(&url, "a");
    let mut b = start_worker(&url, "b");
    let bus = std::sync::Arc::new(NatsBus::connect(&url).await.unwrap());
    const COMMANDS: usize = 400;
    const CALLERS: usize = 8;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut callers = Vec::new();
    for c in 0..CALLERS {
        let (bus, done) = (bus.clone(), done.clone());
        callers.push(tokio::spawn(async move {
            let mut served: HashMap<String, usize> = HashMap::new();
            for i in (c..COMMANDS).step_by(CALLERS) {
                let payload = Bytes::from(format!("test-work-{} cmd-{i}", i % 7));
                // A command in flight when its worker dies gets no reply: it is sent again with the same id.
                let mut attempts = 0;
                let reply = loop {
                    attempts += 1;
                    match call_raw(bus.as_ref(), "ttx.test.cmd.append", payload.clone(), Duration::from_secs(2)).await {
                        Ok(reply) => break reply,
                        Err(CallError::Bus(e)) if attempts < 10 => eprintln!("command {i}: {e}; sending it again"),
                        Err(e) => panic!("command {i} failed: {e}"),
                    }
                };
                let worker = String::from_utf8(reply.to_vec()).unwrap().split(' ').next().unwrap().to_owned();
                *served.entry(worker).or_default() += 1;
                done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            served
        }));
    }
    // Kill one worker while commands are in flight.
    while done.load(std::sync::atomic::Ordering::Relaxed) < COMMANDS / 4 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    a.kill().unwrap();
    a.wait().unwrap();
    let mut served: HashMap<String, usize> = HashMap::new();
    for caller in callers {
        for (worker, n) in caller.await.unwrap() {
            *served.entry(worker).or_default() += n;
        }
    }
    assert!(served.get("a").copied().unwrap_or(0) > 0 && served.get("b").copied().unwrap_or(0) > 0, "{served:?}");
    // Every command is in the log exactly once.
    let log = JetStreamLog::connect(&url, JetStreamOptions::default()).await.unwrap();
    let events = log.read_all(1, 10_000).await.unwrap();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for e in &events {
        *seen.entry(e.command_id().to_owned()).or_default() += 1;
    }
    assert_eq!(seen.len(), COMMANDS, "every command is stored");
    assert!(seen.values().all(|n| *n == 1), "no command is stored twice");
    b.kill().unwrap();
    b.wait().unwrap();
}
