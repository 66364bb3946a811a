//! The negotiation context: how an enterprise acquires a result by one of the legal pricing routes, and the evidence
//! of it. Three aggregates, each a pure decider:
//!
//! - [`deal`]: a negotiated deal (协议定价), stream `negotiation-deal-<id>`: versioned term sheets, accepted by the
//!   other side only while the result's public notice allows a deal at that price.
//! - [`listed`]: a listed-price sale (挂牌), stream `negotiation-listing-<id>`: a disclosure period, registered
//!   intents, then a deal (one registrant), a bidding session (several) or nothing.
//! - [`session`]: a bidding session (竞价), stream `negotiation-session-<id>`: registration, deposits, bids on the
//!   increment grid, anti-sniping, a hidden reserve, close by timer; or sealed bids by commit–reveal ([`seal`]).
//!
//! Events are the `ttx.negotiation.v1` messages themselves ([`events`]); a deal on any route is `DealAgreed`, with
//! the contract due in 5 PRC working days ([`deadline`]).

pub mod deadline;
pub mod deal;
pub mod events;
pub mod listed;
pub mod seal;
pub mod session;

pub use ttx_proto::negotiation::v1 as pb;
