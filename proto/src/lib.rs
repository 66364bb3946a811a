//! The wire contract of TTX: the event envelope and the value types shared by every context.
//!
//! # Layout
//! - [`common::v1`]: `Money` (integer minor units), `Trl`, `Actor`, `Role`, `SubjectRef`, the bus's `Reply`
//!   envelope with its typed `ReplyError`, and every command's `CommandContext` and `CommandAccepted`.
//! - [`envelope::v1`]: the `Envelope` every stored event travels in.
//! - [`audit::v1`]: the audit service's queries and their subjects.
//! - [`identity::v1`]: organisations, users, roles: events, commands, queries and their subjects.
//! - [`listings::v1`]: research results and their public notices.
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
                Self { code: code.into(), message: message.into(), field: String::new() }
            }

            /// Invalid input (`code` "invalid_input") naming the field at fault.
            pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
                Self { code: "invalid_input".into(), message: message.into(), field: field.into() }
            }
        }

        impl Actor {
            /// Whether the actor held `role` (as the role acted in or among its roles).
            pub fn has_role(&self, role: Role) -> bool {
                self.role == role as i32 || self.roles.contains(&(role as i32))
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

pub mod identity {
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/ttx.identity.v1.rs"));

        pub use crate::common::v1::{CommandAccepted, CommandContext};

        /// The subjects the identity service answers on, and its queue group.
        pub mod subjects {
            pub const QUEUE_GROUP: &str = "identity";
            pub const COMMANDS: &str = "ttx.identity.cmd.*";
            pub const QUERIES: &str = "ttx.identity.qry.*";
            pub const REGISTER_ORGANISATION: &str = "ttx.identity.cmd.register-organisation";
            pub const DECLARE_RELATED_PARTY: &str = "ttx.identity.cmd.declare-related-party";
            pub const WITHDRAW_RELATED_PARTY: &str = "ttx.identity.cmd.withdraw-related-party";
            pub const NAME_REPRESENTATIVE: &str = "ttx.identity.cmd.name-representative";
            pub const CREATE_USER: &str = "ttx.identity.cmd.create-user";
            pub const GRANT_ROLE: &str = "ttx.identity.cmd.grant-role";
            pub const REVOKE_ROLE: &str = "ttx.identity.cmd.revoke-role";
            pub const SET_PASSWORD: &str = "ttx.identity.cmd.set-password";
            pub const REGISTER_TECH_MANAGER: &str = "ttx.identity.cmd.register-tech-manager";
            pub const LOAD_SCHEDULE: &str = "ttx.identity.cmd.load-schedule";
            pub const GET_CALENDAR: &str = "ttx.identity.qry.get-calendar";
            pub const AUTHENTICATE: &str = "ttx.identity.qry.authenticate";
            pub const GET_USER: &str = "ttx.identity.qry.get-user";
            pub const GET_ORGANISATION: &str = "ttx.identity.qry.get-organisation";
            pub const LIST_ORGANISATIONS: &str = "ttx.identity.qry.list-organisations";
            pub const LIST_USERS: &str = "ttx.identity.qry.list-users";
        }
    }
}

pub mod negotiation {
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/ttx.negotiation.v1.rs"));

        pub use crate::common::v1::{CommandAccepted, CommandContext};

        /// The subjects the negotiation service answers on, and its queue group.
        pub mod subjects {
            pub const QUEUE_GROUP: &str = "negotiation";
            pub const COMMANDS: &str = "ttx.negotiation.cmd.*";
            pub const QUERIES: &str = "ttx.negotiation.qry.*";
            pub const OPEN_NEGOTIATION: &str = "ttx.negotiation.cmd.open-negotiation";
            pub const MAKE_OFFER: &str = "ttx.negotiation.cmd.make-offer";
            pub const ACCEPT_OFFER: &str = "ttx.negotiation.cmd.accept-offer";
            pub const ABANDON_NEGOTIATION: &str = "ttx.negotiation.cmd.abandon-negotiation";
            pub const OPEN_LISTING: &str = "ttx.negotiation.cmd.open-listing";
            pub const REGISTER_INTENT: &str = "ttx.negotiation.cmd.register-intent";
            pub const RELIST: &str = "ttx.negotiation.cmd.relist";
            pub const OPEN_SESSION: &str = "ttx.negotiation.cmd.open-session";
            pub const REGISTER_BIDDER: &str = "ttx.negotiation.cmd.register-bidder";
            pub const CONFIRM_DEPOSIT: &str = "ttx.negotiation.cmd.confirm-deposit";
            pub const REFUND_DEPOSIT: &str = "ttx.negotiation.cmd.refund-deposit";
            pub const PLACE_BID: &str = "ttx.negotiation.cmd.place-bid";
            pub const COMMIT_BID: &str = "ttx.negotiation.cmd.commit-bid";
            pub const REVEAL_BID: &str = "ttx.negotiation.cmd.reveal-bid";
            pub const RECORD_DEFAULT: &str = "ttx.negotiation.cmd.record-default";
            pub const RECORD_SIGNED: &str = "ttx.negotiation.cmd.record-signed";
            pub const STOP_LICENSING: &str = "ttx.negotiation.cmd.stop-licensing";
            pub const GET_NEGOTIATION: &str = "ttx.negotiation.qry.get-negotiation";
            pub const LIST_NEGOTIATIONS: &str = "ttx.negotiation.qry.list-negotiations";
            pub const LIST_OVERDUE_REFUNDS: &str = "ttx.negotiation.qry.list-overdue-refunds";
            pub const LIST_PENDING_DEADLINES: &str = "ttx.negotiation.qry.list-pending-deadlines";
            pub const GET_MARKET: &str = "ttx.negotiation.qry.get-market";
            pub const GET_LISTING: &str = "ttx.negotiation.qry.get-listing";
            pub const LIST_LISTINGS: &str = "ttx.negotiation.qry.list-listings";
            pub const GET_SESSION: &str = "ttx.negotiation.qry.get-session";
            pub const LIST_SESSIONS: &str = "ttx.negotiation.qry.list-sessions";
            pub const LIST_BIDS: &str = "ttx.negotiation.qry.list-bids";
        }
    }
}

pub mod listings {
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/ttx.listings.v1.rs"));

        pub use crate::common::v1::{CommandAccepted, CommandContext};

        /// The subjects the listings service answers on, and its queue group.
        pub mod subjects {
            pub const QUEUE_GROUP: &str = "listings";
            pub const COMMANDS: &str = "ttx.listings.cmd.*";
            pub const QUERIES: &str = "ttx.listings.qry.*";
            pub const CREATE_RESULT: &str = "ttx.listings.cmd.create-result";
            pub const EDIT_RESULT: &str = "ttx.listings.cmd.edit-result";
            pub const SUBMIT_RESULT: &str = "ttx.listings.cmd.submit-result";
            pub const APPROVE_RESULT: &str = "ttx.listings.cmd.approve-result";
            pub const RETURN_RESULT: &str = "ttx.listings.cmd.return-result";
            pub const PUBLISH_RESULT: &str = "ttx.listings.cmd.publish-result";
            pub const WITHDRAW_RESULT: &str = "ttx.listings.cmd.withdraw-result";
            pub const START_NOTICE: &str = "ttx.listings.cmd.start-notice";
            pub const RAISE_OBJECTION: &str = "ttx.listings.cmd.raise-objection";
            pub const ANSWER_OBJECTION: &str = "ttx.listings.cmd.answer-objection";
            pub const RESOLVE_OBJECTION: &str = "ttx.listings.cmd.resolve-objection";
            pub const GET_RESULT: &str = "ttx.listings.qry.get-result";
            pub const LIST_OBJECTIONS: &str = "ttx.listings.qry.list-objections";
            pub const CONSENT_AS_CO_HOLDER: &str = "ttx.listings.cmd.consent-as-co-holder";
            pub const LIST_RESULTS: &str = "ttx.listings.qry.list-results";
            pub const DEAL_STATUS: &str = "ttx.listings.qry.deal-status";
            pub const POST_DEMAND: &str = "ttx.listings.cmd.post-demand";
            pub const APPLY_TO_CHALLENGE: &str = "ttx.listings.cmd.apply-to-challenge";
            pub const SHORTLIST_APPLICATION: &str = "ttx.listings.cmd.shortlist-application";
            pub const AWARD_CHALLENGE: &str = "ttx.listings.cmd.award-challenge";
            pub const WITHDRAW_DEMAND: &str = "ttx.listings.cmd.withdraw-demand";
            pub const GET_DEMAND: &str = "ttx.listings.qry.get-demand";
            pub const LIST_DEMANDS: &str = "ttx.listings.qry.list-demands";
            pub const SEARCH: &str = "ttx.listings.qry.search";
            pub const FIND_MATCHES: &str = "ttx.listings.qry.find-matches";
            pub const LIST_NOTIFICATIONS: &str = "ttx.listings.qry.list-notifications";
        }
    }
}
