//! TTX over NATS.
//!
//! # Layout
//! - [`NatsBus`]: the kernel's [`Bus`](ttx_kernel::Bus) on a NATS connection: the same subjects and bytes as the
//!   in-process bus, with queue groups so that several instances of a service share its requests.
//! - [`JetStreamLog`]: the kernel's [`EventLog`](ttx_kernel::EventLog) on JetStream (see the module notes in
//!   `log.rs`).
//! - [`version`]: the minimum server version TTX accepts, checked at connect.
//! - [`testing`]: starts real `nats-server` processes (one, or a 3-node cluster) on free loopback ports with
//!   temporary store directories, for tests; cleaned up on drop.

mod bus;
mod log;
pub mod testing;
pub mod version;

pub use bus::NatsBus;
pub use log::{HASH_HEADER, JetStreamLog, JetStreamOptions, subject_of};
pub use version::{MIN_SERVER_VERSION, NatsError};

/// The servers in a URL list: `nats://a:4222,nats://b:4222` (one URL is enough; a cluster announces its other members).
pub fn server_list(url: &str) -> Vec<String> {
    url.split(',').map(str::trim).filter(|u| !u.is_empty()).map(str::to_owned).collect()
}
