//! The wire contract of TTX: the event envelope and the value types shared by every context.
//!
//! # Layout
//! - [`common::v1`]: `Money` (integer minor units), `Trl`, `Actor`, `Role`, `SubjectRef`, and the bus's `Reply`
//!   envelope with its typed `ReplyError`.
//! - [`envelope::v1`]: the `Envelope` every stored event travels in.
//!
//! The Rust code is generated at build time from `proto/ttx/**.proto` by `protox` + `prost-build`.

#![allow(missing_docs, missing_debug_implementations)]

pub use prost;
pub use prost_types;

pub mod common {
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/ttx.common.v1.rs"));

        impl ReplyError {
            /// A typed error for a bus reply: a stable snake_case `code` and a message for people.
            pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
                Self { code: code.into(), message: message.into() }
            }
        }
    }
}

pub mod envelope {
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/ttx.envelope.v1.rs"));
    }
}
