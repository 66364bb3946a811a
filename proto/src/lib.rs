//! The wire contract of TTX: the event envelope and the value types shared by every context.
//!
//! # Layout
//! - [`common::v1`]: `Money` (integer minor units), `Trl`, `Actor`, `Role`, `SubjectRef`, and the bus's `Reply`
//!   envelope with its typed `ReplyError`.
//! - [`envelope::v1`]: the `Envelope` every stored event travels in.
//! - [`audit::v1`]: the audit service's queries and their subjects.
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

pub mod audit {
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/ttx.audit.v1.rs"));

        /// The subjects the audit service answers on, and its queue group.
        pub mod subjects {
            /// Queue group (and micro-service name) of the audit service.
            pub const QUEUE_GROUP: &str = "audit";
            /// Every audit query.
            pub const QUERIES: &str = "ttx.audit.qry.*";
            /// `StatusRequest` → `StatusReply`.
            pub const STATUS: &str = "ttx.audit.qry.status";
            /// `VerifyStreamRequest` → `VerifyStreamReply`.
            pub const VERIFY_STREAM: &str = "ttx.audit.qry.verify-stream";
        }
    }
}
