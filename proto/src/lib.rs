//! The wire contract of TTX: the event envelope and the value types shared by every context.
//!
//! # Layout
//! - [`common::v1`]: `Money` (integer minor units), `Trl`, `Actor`, `Role`, `SubjectRef`.
//! - [`envelope::v1`]: the `Envelope` every stored event travels in.
//!
//! The Rust code is generated at build time from `proto/ttx/**.proto` by `protox` + `prost-build`.

#![allow(missing_docs, missing_debug_implementations)]

pub use prost;
pub use prost_types;

pub mod common {
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/ttx.common.v1.rs"));
    }
}

pub mod envelope {
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/ttx.envelope.v1.rs"));
    }
}
