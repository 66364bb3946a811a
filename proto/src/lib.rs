//! The wire contract of TTX: the event envelope and the value types shared by every context.
//!
//! # Layout
//! - [`common::v1`]: `Money` (integer minor units), `Trl`, `Actor`, `Role`, `SubjectRef`, the bus's `Reply`
//!   envelope with its typed `ReplyError`, and every command's `CommandContext` and `CommandAccepted`.
//! - [`envelope::v1`]: the `Envelope` every stored event travels in.
//! - [`audit::v1`]: the audit service's queries and their subjects.
//! - [`identity::v1`]: organisations, users, roles, the holiday calendar: events, commands, queries and their subjects.
//! - [`listings::v1`]: research results, their public notices, demands and challenges, search and matches.
//! - [`negotiation::v1`]: negotiated deals, listed sales, bidding sessions, each result's market.
//! - [`Rpc`]: each request type's subject and reply type, declared once per context with the `rpc!` macro (which also lists
//!   the context's `REQUESTS`); [`services`]: the services behind the gateway and their ping subjects.
//! - `common::v1::ErrorCode`: the closed set of codes a reply's error carries.
//!
//! The Rust code is generated at build time from `proto/ttx/**.proto` by `protox` + `prost-build`.

#![allow(missing_docs, missing_debug_implementations)]

pub use prost;
pub use prost_types;

/// The services behind the gateway, as the bus knows them. Each name is its queue group and the context of its
/// subjects (`ttx.<name>.cmd.*`, `ttx.<name>.qry.*`); `ttx serve` starts them and `/readyz` asks each of them.
pub mod services {
    /// Every service behind the gateway.
    pub const ALL: [&str; 4] = ["audit", "identity", "listings", "negotiation"];

    /// The subject a service answers with an empty reply as soon as it serves: `ttx.<name>.qry.ping`.
    pub fn ping_subject(name: &str) -> String {
        format!("ttx.{name}.qry.ping")
    }
}

/// A request over the bus: the subject it is sent to and the type of its answer. Implemented once per request type
/// (by the `rpc!` macro) beside the subjects, so a caller cannot pair a request with another subject or answer.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a request over the bus",
    label = "not a request: no subject or reply type is declared for it",
    note = "requests and their subjects are declared with `rpc!` in ttx-proto"
)]
pub trait Rpc: prost::Message + Default + Send + Sync + 'static {
    /// The subject the request is sent to.
    const SUBJECT: &'static str;
    /// The answer's type.
    type Reply: prost::Message + Default + Send + 'static;
}

/// Implements [`Rpc`] for requests (`Request => Reply = SUBJECT;`) and lists their subjects in `REQUESTS`.
macro_rules! rpc {
    ($($request:ident => $reply:ty = $subject:expr;)*) => {
        $(impl $crate::Rpc for $request {
            const SUBJECT: &'static str = $subject;
            type Reply = $reply;
        })*
        /// The subject of every request of this context, each once.
        pub const REQUESTS: &[&str] = &[$($subject),*];
    };
}

pub mod common {
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/ttx.common.v1.rs"));

        /// What kind of failure a [`ReplyError`] reports: its `code` on the wire, one of a closed set that every
        /// caller maps to its own answer (the gateway to an HTTP status and a page message, in one table).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ErrorCode {
            /// A field of the request is invalid; `field` names it.
            InvalidInput,
            /// The request does not decode, or asks for something the service does not answer.
            BadRequest,
            /// The login or the password is wrong.
            InvalidCredentials,
            /// The account is disabled.
            AccountDisabled,
            /// The actor may not do this.
            Forbidden,
            /// No such record that the actor may see.
            NotFound,
            /// It exists already, or it kept changing.
            Conflict,
            /// The rules do not allow it now.
            Rejected,
            /// A limit of the rules is reached.
            TooMany,
            /// The answer is larger than the bus carries.
            TooLarge,
            /// A part behind the service does not answer.
            Unavailable,
            /// The service failed; its log says why.
            Internal,
        }

        impl ErrorCode {
            /// Every code, in order.
            pub const ALL: [Self; 12] = [
                Self::InvalidInput,
                Self::BadRequest,
                Self::InvalidCredentials,
                Self::AccountDisabled,
                Self::Forbidden,
                Self::NotFound,
                Self::Conflict,
                Self::Rejected,
                Self::TooMany,
                Self::TooLarge,
                Self::Unavailable,
                Self::Internal,
            ];

            /// The code on the wire (snake_case).
            pub const fn as_str(self) -> &'static str {
                match self {
                    Self::InvalidInput => "invalid_input",
                    Self::BadRequest => "bad_request",
                    Self::InvalidCredentials => "invalid_credentials",
                    Self::AccountDisabled => "account_disabled",
                    Self::Forbidden => "forbidden",
                    Self::NotFound => "not_found",
                    Self::Conflict => "conflict",
                    Self::Rejected => "rejected",
                    Self::TooMany => "too_many",
                    Self::TooLarge => "too_large",
                    Self::Unavailable => "unavailable",
                    Self::Internal => "internal",
                }
            }

            /// The code a wire string names; one this build does not know is `None`.
            pub fn parse(code: &str) -> Option<Self> {
                Self::ALL.into_iter().find(|c| c.as_str() == code)
            }
        }

        impl std::fmt::Display for ErrorCode {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ReplyError {
            /// A typed error for a bus reply: its code and a message for people.
            pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
                Self {
                    code: code.as_str().into(),
                    message: message.into(),
                    field: String::new(),
                    reason: String::new(),
                }
            }

            /// Invalid input naming the field at fault.
            pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
                Self { field: field.into(), ..Self::new(ErrorCode::InvalidInput, message) }
            }

            /// The same error with a rejection's stable name.
            pub fn with_reason(mut self, reason: &str) -> Self {
                reason.clone_into(&mut self.reason);
                self
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

        rpc! {
            StatusRequest => StatusReply = subjects::STATUS;
            VerifyStreamRequest => VerifyStreamReply = subjects::VERIFY_STREAM;
        }

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

        rpc! {
            RegisterOrganisation => CommandAccepted = subjects::REGISTER_ORGANISATION;
            DeclareRelatedParty => CommandAccepted = subjects::DECLARE_RELATED_PARTY;
            WithdrawRelatedParty => CommandAccepted = subjects::WITHDRAW_RELATED_PARTY;
            NameRepresentative => CommandAccepted = subjects::NAME_REPRESENTATIVE;
            CreateUser => CommandAccepted = subjects::CREATE_USER;
            GrantRole => CommandAccepted = subjects::GRANT_ROLE;
            RevokeRole => CommandAccepted = subjects::REVOKE_ROLE;
            SetPassword => CommandAccepted = subjects::SET_PASSWORD;
            RegisterTechManager => CommandAccepted = subjects::REGISTER_TECH_MANAGER;
            LoadSchedule => CommandAccepted = subjects::LOAD_SCHEDULE;
            GetCalendar => Calendar = subjects::GET_CALENDAR;
            Authenticate => User = subjects::AUTHENTICATE;
            GetUser => User = subjects::GET_USER;
            GetOrganisation => Organisation = subjects::GET_ORGANISATION;
            ListOrganisations => OrganisationList = subjects::LIST_ORGANISATIONS;
            ListUsers => UserList = subjects::LIST_USERS;
        }

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

        rpc! {
            OpenNegotiation => CommandAccepted = subjects::OPEN_NEGOTIATION;
            MakeOffer => CommandAccepted = subjects::MAKE_OFFER;
            AcceptOffer => CommandAccepted = subjects::ACCEPT_OFFER;
            AbandonNegotiation => CommandAccepted = subjects::ABANDON_NEGOTIATION;
            OpenListing => CommandAccepted = subjects::OPEN_LISTING;
            RegisterIntent => CommandAccepted = subjects::REGISTER_INTENT;
            Relist => CommandAccepted = subjects::RELIST;
            OpenSession => CommandAccepted = subjects::OPEN_SESSION;
            RegisterBidder => CommandAccepted = subjects::REGISTER_BIDDER;
            ConfirmDeposit => CommandAccepted = subjects::CONFIRM_DEPOSIT;
            RefundDeposit => CommandAccepted = subjects::REFUND_DEPOSIT;
            PlaceBid => CommandAccepted = subjects::PLACE_BID;
            CommitBid => CommandAccepted = subjects::COMMIT_BID;
            RevealBid => CommandAccepted = subjects::REVEAL_BID;
            RecordDefault => CommandAccepted = subjects::RECORD_DEFAULT;
            RecordSigned => CommandAccepted = subjects::RECORD_SIGNED;
            StopLicensing => CommandAccepted = subjects::STOP_LICENSING;
            GetNegotiation => NegotiationView = subjects::GET_NEGOTIATION;
            ListNegotiations => NegotiationList = subjects::LIST_NEGOTIATIONS;
            ListOverdueRefunds => OverdueRefundList = subjects::LIST_OVERDUE_REFUNDS;
            ListPendingDeadlines => PendingDeadlineList = subjects::LIST_PENDING_DEADLINES;
            GetMarket => MarketView = subjects::GET_MARKET;
            GetListing => ListingView = subjects::GET_LISTING;
            ListListings => ListingList = subjects::LIST_LISTINGS;
            GetSession => SessionView = subjects::GET_SESSION;
            ListSessions => SessionList = subjects::LIST_SESSIONS;
            ListBids => BidPage = subjects::LIST_BIDS;
            ListSales => SalesOfResult = subjects::LIST_SALES;
            GetDealStatus => DealStatusView = subjects::GET_DEAL_STATUS;
        }

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
            pub const LIST_SALES: &str = "ttx.negotiation.qry.list-sales";
            pub const GET_DEAL_STATUS: &str = "ttx.negotiation.qry.get-deal-status";
            /// Published (not requested) after a session changes: `<prefix>.<session id>`, the payload its version
            /// as 8 big-endian bytes. Live pages wait on it instead of asking.
            pub const SESSION_CHANGED_PREFIX: &str = "ttx.negotiation.chg.session";
        }
    }
}

pub mod listings {
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/ttx.listings.v1.rs"));

        rpc! {
            CreateResult => CommandAccepted = subjects::CREATE_RESULT;
            EditResult => CommandAccepted = subjects::EDIT_RESULT;
            SubmitResult => CommandAccepted = subjects::SUBMIT_RESULT;
            ApproveResult => CommandAccepted = subjects::APPROVE_RESULT;
            ReturnResult => CommandAccepted = subjects::RETURN_RESULT;
            PublishResult => CommandAccepted = subjects::PUBLISH_RESULT;
            WithdrawResult => CommandAccepted = subjects::WITHDRAW_RESULT;
            StartNotice => CommandAccepted = subjects::START_NOTICE;
            RaiseObjection => CommandAccepted = subjects::RAISE_OBJECTION;
            AnswerObjection => CommandAccepted = subjects::ANSWER_OBJECTION;
            ResolveObjection => CommandAccepted = subjects::RESOLVE_OBJECTION;
            ConsentAsCoHolder => CommandAccepted = subjects::CONSENT_AS_CO_HOLDER;
            GetResult => ResultView = subjects::GET_RESULT;
            ListObjections => ObjectionPage = subjects::LIST_OBJECTIONS;
            ListResults => ResultList = subjects::LIST_RESULTS;
            PostDemand => CommandAccepted = subjects::POST_DEMAND;
            ApplyToChallenge => CommandAccepted = subjects::APPLY_TO_CHALLENGE;
            ShortlistApplication => CommandAccepted = subjects::SHORTLIST_APPLICATION;
            AwardChallenge => CommandAccepted = subjects::AWARD_CHALLENGE;
            WithdrawDemand => CommandAccepted = subjects::WITHDRAW_DEMAND;
            GetDemand => DemandView = subjects::GET_DEMAND;
            ListDemands => DemandList = subjects::LIST_DEMANDS;
            Search => SearchResults = subjects::SEARCH;
            FindMatches => MatchList = subjects::FIND_MATCHES;
            ListNotifications => NotificationList = subjects::LIST_NOTIFICATIONS;
            GetResultPage => ResultPage = subjects::GET_RESULT_PAGE;
        }

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
            pub const GET_RESULT_PAGE: &str = "ttx.listings.qry.get-result-page";
        }
    }
}
