//! The web UI in a real browser: runs tests/browser/ui.mjs (playwright-core driving Debian's Chromium) against this
//! build of `ttx`. `tests/run` installs Chromium and playwright-core when they are missing; page screenshots are
//! left in target/ui-screenshots.

use std::path::Path;
use std::process::Command;

#[test]
fn the_web_ui_works_in_a_browser_for_every_role() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let script = root.join("tests/browser/ui.mjs");
    let modules = root.join("tests/browser/node_modules/playwright-core");
    assert!(modules.is_dir(), "playwright-core is not installed: run tests/run, or `npm ci --prefix tests/browser`");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(Path::new(&chromium).exists(), "no browser at {chromium}: run tests/run, or install Debian's chromium");
    let out = Command::new("node")
        .arg(&script)
        .env("TTX_BIN", env!("CARGO_BIN_EXE_ttx"))
        .env("SCREENSHOTS", root.join("target/ui-screenshots"))
        .env("CHROMIUM", &chromium)
        .output()
        .expect("run node");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).contains("all checks passed"), "{}", text(&out.stdout));
}
