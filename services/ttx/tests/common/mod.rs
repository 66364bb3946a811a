//! Running the `ttx` binary in tests: real processes, real sockets.

#![allow(dead_code)] // each test file uses part of this

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn ttx() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ttx"));
    c.env("RUST_LOG", "warn").env_remove("TTX_CONFIG");
    c
}

pub fn run(args: &[&str]) -> Output {
    ttx().args(args).output().expect("run ttx")
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A running `ttx serve`, killed on drop.
pub struct Process {
    child: Child,
    /// The first line it printed.
    pub first_line: String,
}

impl Process {
    /// Starts `cmd` and waits for its first line on stdout.
    pub fn start(mut cmd: Command) -> Self {
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().expect("start ttx serve");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first_line = lines.next().expect("ttx serve prints a line when it is up").unwrap();
        Self { child, first_line }
    }

    /// Sends SIGTERM and returns whether it exited successfully.
    pub fn terminate(&mut self) -> bool {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.success();
            }
            assert!(Instant::now() < deadline, "ttx did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running `ttx serve` with the gateway.
pub struct Server {
    pub process: Process,
    pub addr: SocketAddr,
}

impl Server {
    pub fn start(cmd: Command) -> Self {
        let process = Process::start(cmd);
        let line = &process.first_line;
        let addr = line.strip_prefix("ttx listening on http://").unwrap_or_else(|| panic!("unexpected line {line:?}"));
        Self { addr: addr.parse().unwrap(), process }
    }

    pub fn get(&self, path: &str) -> (u16, String, String) {
        self.request("GET", path, &[])
    }

    /// One HTTP/1.1 request on a new connection: status, content type, body.
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String, String) {
        let mut s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let extra: String = headers.iter().map(|(n, v)| format!("{n}: {v}\r\n")).collect();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        s.read_to_string(&mut response).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        let content_type = head
            .lines()
            .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-type: ").map(str::to_owned))
            .unwrap_or_default();
        (status, content_type, body.to_owned())
    }

    pub fn terminate(mut self) -> bool {
        self.process.terminate()
    }
}
