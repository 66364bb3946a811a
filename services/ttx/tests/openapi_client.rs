//! The API document as other tools read it: `tests/openapi/check.py` validates it with `openapi-spec-validator`,
//! generates a Python client from it with `openapi-python-client`, and uses that client against this build of `ttx`
//! serving a demo exchange: it logs in, reads the caller, searches, and reads a problem naming a bad parameter.
//! `tests/run` installs both tools (pinned by hash in `tests/openapi/requirements.txt`) and sets `TTX_OPENAPI_PYTHON`
//! to the interpreter that has them.

mod common;

use std::path::Path;
use std::process::Command;

use common::{Server, run, text, ttx};

#[test]
fn a_client_generated_from_the_api_document_logs_in_and_searches() {
    let python = std::env::var("TTX_OPENAPI_PYTHON")
        .expect("TTX_OPENAPI_PYTHON is not set: run tests/run, which installs the OpenAPI tools and sets it");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_dir = data.to_str().unwrap();

    let demo = run(&["demo", "--data-dir", data_dir]);
    assert!(demo.status.success(), "{}", text(&demo.stderr));
    // The demo prints each login with its password once: `admin  <password>  admin  <organisation>`.
    let printed = text(&demo.stdout);
    let password = printed
        .lines()
        .find_map(|l| {
            l.strip_prefix("admin ").map(|rest| rest.split_whitespace().next().unwrap_or_default().to_owned())
        })
        .unwrap_or_else(|| panic!("no admin password in {printed}"));
    let password_file = dir.path().join("password");
    std::fs::write(&password_file, format!("{password}\n")).unwrap();

    let mut cmd = ttx();
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir]);
    let server = Server::start(cmd);
    let (status, _, document) = server.get("/api/v1/openapi.json");
    assert_eq!(status, 200);
    let spec = dir.path().join("openapi.json");
    std::fs::write(&spec, document).unwrap();

    let out = Command::new(&python)
        .arg(root.join("tests/openapi/check.py"))
        .arg("--spec")
        .arg(&spec)
        .args(["--url", &format!("http://{}", server.addr), "--user", "admin", "--password-file"])
        .arg(&password_file)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("the document is valid OpenAPI"), "{stdout}");
    assert!(stdout.contains("all checks passed"), "{stdout}");
    assert!(server.terminate());
}
