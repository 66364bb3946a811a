//! Configuration: defaults, then the file given with `--config`, then `TTX__SECTION__KEY` environment variables, then
//! command-line flags. Every key is documented in deploy/config/ttx.toml.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Directory of the embedded event log.
    pub data_dir: PathBuf,
    pub http: Http,
    pub nats: Nats,
    pub telemetry: Telemetry,
    pub auth: AuthConfig,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Directory of the token signing keys; empty: `<data_dir>/keys`.
    pub keys_dir: PathBuf,
    /// Lifetime of an access token (and of the session cookie), in minutes.
    pub token_ttl_minutes: u32,
    /// Mark the session cookies `Secure` (set behind HTTPS).
    pub secure_cookies: bool,
}

impl Config {
    /// The directory holding the token signing keys.
    pub fn keys_dir(&self) -> PathBuf {
        if self.auth.keys_dir.as_os_str().is_empty() { self.data_dir.join("keys") } else { self.auth.keys_dir.clone() }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Telemetry {
    /// OTLP/HTTP collector (`http://host:4318`); empty: spans are not exported.
    pub otlp_endpoint: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nats {
    /// NATS server URL(s), comma-separated; empty means the embedded log in `data_dir`.
    pub url: String,
    /// Replicas of the JetStream stream and the checkpoint bucket (1, or 3 on a 3-node cluster).
    pub replicas: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Http {
    /// Address the HTTP API and web UI listen on.
    pub listen: SocketAddr,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("ttx-data"),
            http: Http { listen: SocketAddr::from(([127, 0, 0, 1], 8080)) },
            nats: Nats { url: String::new(), replicas: 1 },
            telemetry: Telemetry { otlp_endpoint: String::new() },
            auth: AuthConfig { keys_dir: PathBuf::new(), token_ttl_minutes: 480, secure_cookies: false },
        }
    }
}

impl Config {
    /// Loads the configuration; a named file must exist.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            if !file.is_file() {
                bail!("configuration file {} does not exist", file.display());
            }
            figment = figment.merge(Toml::file_exact(file));
        }
        figment = figment.merge(Env::prefixed("TTX__").split("__"));
        figment.extract().context("invalid configuration")
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment's test jail returns its own large error type
mod tests {
    use super::*;

    #[test]
    fn the_shipped_file_matches_the_defaults() {
        // Inside a jail: the jails serialise the tests that touch the process environment.
        figment::Jail::expect_with(|_| {
            let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/config/ttx.toml");
            assert_eq!(Config::load(Some(&shipped)).unwrap(), Config::default());
            Ok(())
        });
    }

    #[test]
    fn the_shipped_distributed_file_names_a_three_node_cluster() {
        figment::Jail::expect_with(|_| {
            let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/config/distributed.toml");
            let c = Config::load(Some(&shipped)).unwrap();
            assert_eq!(c.nats.replicas, 3);
            assert_eq!(c.nats.url.split(',').count(), 3);
            assert_eq!(c.http.listen.port(), 8080);
            Ok(())
        });
    }

    #[test]
    fn environment_variables_override_the_file_and_unknown_keys_are_errors() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("ttx.toml", "data_dir = \"/srv/ttx\"\n[http]\nlisten = \"0.0.0.0:9000\"\n")?;
            jail.set_env("TTX__HTTP__LISTEN", "127.0.0.1:9100");
            let c = Config::load(Some(Path::new("ttx.toml"))).unwrap();
            assert_eq!(c.data_dir, PathBuf::from("/srv/ttx"));
            assert_eq!(c.http.listen.port(), 9100);
            jail.create_file("bad.toml", "data_dir = \"x\"\nlisen = 1\n")?;
            let err = Config::load(Some(Path::new("bad.toml"))).unwrap_err();
            assert!(format!("{err:#}").contains("lisen"), "{err:#}");
            assert!(Config::load(Some(Path::new("missing.toml"))).is_err());
            Ok(())
        });
    }
}
