//! Crash safety: a child appends in a loop, one command at a time and in groups, and reports every acknowledged
//! command; it is killed with SIGKILL at a random moment; the log is reopened and must hold every acknowledged event,
//! no partial command, no partial group, and a valid chain.
//! Repeated over several rounds on the same data directory. Set `TTX_CRASH_SEED` to replay a run.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use ttx_eventlog_sqlite::SqliteLog;
use ttx_kernel::{EventLog, StreamId, verify_log};
use ttx_tests::{CRASH_EVENTS_PER_COMMAND, CRASH_GROUP, crash_payload};

struct Ack {
    stream: String,
    command_id: String,
    first_position: u64,
    last_version: u64,
}

fn parse(line: &str) -> Option<Ack> {
    let f: Vec<&str> = line.split(' ').collect();
    match f.as_slice() {
        ["ack", stream, command_id, first, last, "end"] => Some(Ack {
            stream: (*stream).into(),
            command_id: (*command_id).into(),
            first_position: first.parse().ok()?,
            last_version: last.parse().ok()?,
        }),
        _ => None,
    }
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_writers_lose_no_acknowledged_event_and_leave_nothing_partial() {
    let seed = std::env::var("TTX_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        nanos.as_nanos() as u64 ^ (u64::from(std::process::id()) << 20) | 1
    });
    println!("crash test seed: {seed} (set TTX_CRASH_SEED={seed} to replay)");
    let mut rng = Rng(seed.max(1));
    let dir = tempfile::tempdir().unwrap();
    let mut all_acks: Vec<Ack> = Vec::new();
    for round in 0..6 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_crash-writer"))
            .arg(dir.path())
            .arg(round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the crash writer");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Wait for the first acknowledgements so the kill lands while appends are in flight.
        let first = rx.recv_timeout(Duration::from_secs(60)).expect("the writer acknowledges appends");
        let delay = Duration::from_millis(20 + rng.next() % 400);
        std::thread::sleep(delay);
        child.kill().expect("SIGKILL the writer");
        child.wait().unwrap();
        reader.join().unwrap();
        let lines: Vec<String> = std::iter::once(first).chain(rx.try_iter()).collect();
        let acks: Vec<Ack> = lines.iter().filter_map(|l| parse(l)).collect();
        assert!(!acks.is_empty());
        println!("round {round}: killed after {delay:?}, {} acknowledged appends", acks.len());
        all_acks.extend(acks);

        let log = SqliteLog::open(dir.path()).expect("the log reopens after a crash");
        let report = verify_log(&log).await.unwrap();
        assert!(report.is_ok(), "round {round}: chain broken: {:?}", report.failure);
        let head = log.head().await.unwrap();
        assert_eq!(report.events, head, "positions 1..=head are all present");
        // Every acknowledged append is present, at its position, with its content.
        for ack in &all_acks {
            let stream = StreamId::parse(ack.stream.clone()).unwrap();
            let n = CRASH_EVENTS_PER_COMMAND as u64;
            let from = ack.last_version + 1 - n;
            let events = log.read_stream(&stream, from, CRASH_EVENTS_PER_COMMAND).await.unwrap();
            assert_eq!(events.len(), CRASH_EVENTS_PER_COMMAND, "acknowledged {} is missing", ack.command_id);
            for (k, e) in events.iter().enumerate() {
                assert_eq!(e.command_id(), ack.command_id);
                assert_eq!(e.position(), ack.first_position + k as u64);
                assert_eq!(e.payload().as_ref(), crash_payload(&ack.command_id, k).as_slice());
            }
        }
        // No command is partly stored: each one's events are all there, contiguous, indexed 0..n.
        let mut commands: HashMap<String, Vec<(u64, u32)>> = HashMap::new();
        let mut from = 1;
        loop {
            let page = log.read_all(from, 4096).await.unwrap();
            let Some(last) = page.last() else { break };
            from = last.position() + 1;
            for e in &page {
                commands.entry(e.command_id().to_owned()).or_default().push((e.position(), e.envelope.command_index));
            }
        }
        for (command, events) in &commands {
            assert_eq!(events.len(), CRASH_EVENTS_PER_COMMAND, "command {command} is partly stored");
            for (k, (position, index)) in events.iter().enumerate() {
                assert_eq!(*index as usize, k);
                assert_eq!(*position, events[0].0 + k as u64);
            }
        }
        // No group is partly stored: every command of a group is there, or none is.
        let mut groups: HashMap<&str, usize> = HashMap::new();
        for command in commands.keys() {
            if command.contains("-g") {
                let (group, _) = command.rsplit_once('-').unwrap();
                *groups.entry(group).or_default() += 1;
            }
        }
        for (group, stored) in &groups {
            assert_eq!(*stored, CRASH_GROUP, "group {group} is partly stored");
        }
        assert!(all_acks.iter().any(|a| a.command_id.contains("-g")), "grouped appends were acknowledged");
        println!(
            "round {round}: {head} events, {} commands ({} groups), all acknowledged present",
            commands.len(),
            groups.len()
        );
    }
}
