//! The listings context: research results (科技成果) and, later, technology demands and open challenges; the public
//! notice (公示) that negotiated pricing requires; search and matching.
//!
//! Built so far: the pure result decider with its notice and objections, its event codec, and the PRC working-day
//! calendar. The service shell (bus subjects, search index, API and UI) comes next.
//!
//! # Layout
//! - [`domain`]: the `Results` decider: lifecycle, review, secrecy, notice, objections; `ResultState::negotiated_deal_blocked`.
//! - [`codec`]: result events ↔ `ttx.listings.v1` messages.
//! - [`calendar`]: working days with the State Council's holiday schedule as data (2025–2026).

pub mod calendar;
pub mod codec;
pub mod domain;
