//! The NATS configurations shipped in deploy/nats are accepted by the server they are written for.

use std::path::Path;
use std::process::Command;

use ttx_nats::testing::server_binary;

#[test]
fn every_shipped_nats_config_passes_the_servers_own_check() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/nats");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "conf") {
            continue;
        }
        let out = Command::new(server_binary()).arg("-t").arg("-c").arg(&path).output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "{} is rejected: {text}", path.display());
        let config = std::fs::read_to_string(&path).unwrap();
        assert!(config.contains("max_payload: 8MB"), "{} must allow 1 MiB events", path.display());
        checked += 1;
    }
    assert_eq!(checked, 4, "single.conf and three cluster nodes");
    let single = std::fs::read_to_string(dir.join("single.conf")).unwrap();
    assert!(single.contains("sync_interval: always"), "a single server must fsync every write");
}
