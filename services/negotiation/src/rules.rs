//! The versioned rules negotiation decides by. Every event records the version it was decided under (the envelope's
//! `rule_version`), so a replay judges it by the rules of its day; the deciders look the rules up by the version
//! their context carries, never take them from a caller.

/// The numbers a negotiation decision depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    pub version: &'static str,
    /// The largest amount of money any price, bid, deposit or payment may be (fen): ¥100 billion.
    pub max_amount_fen: i64,
    /// A bidding session's deposit, as a share of its start price: at least this (basis points)…
    pub deposit_min_bp: u32,
    /// …and at most this (practice: 5–20 %).
    pub deposit_max_bp: u32,
    /// Deposits are due back within this many PRC working days of the close (practice: 3–5).
    pub refund_working_days: u32,
    /// At most this many payments in a schedule.
    pub max_payments: usize,
    /// A payment due some working days after an event: at most this many.
    pub max_due_working_days: u32,
    /// A listed-price sale's disclosure period (挂牌披露期), in PRC working days: at least this (practice: 10)…
    pub listing_min_working_days: u32,
    /// …and at most this.
    pub listing_max_working_days: u32,
    /// Offers one party may make in one negotiation.
    pub max_offers_per_party: usize,
    /// Bids one bidder may place in one session.
    pub max_bids_per_bidder: usize,
    /// Processes open at once on one result (non-exclusive licences sell side by side); a buyer organisation
    /// negotiates a result once at a time.
    pub max_open_sales: usize,
    /// A listed-price sale with several registrants turns into an auction (挂牌转竞价) whose rules are fixed here, never
    /// chosen by anyone: the increment is this share of the listed price (basis points)…
    pub auction_increment_bp: u32,
    /// …rounded down to a whole number of this step, and at least one step (fen);
    pub auction_increment_step_fen: i64,
    /// the deposit is this share of the listed price (basis points);
    pub auction_deposit_bp: u32,
    /// registration (and paying the deposit) runs this many days, then bidding this many more;
    pub auction_registration_days: i64,
    pub auction_bidding_days: i64,
    /// and a bid in the last this many seconds extends the close by as much.
    pub auction_window_seconds: i64,
}

/// The rules of 2026, second version: money bounded, deposits bounded, refunds due.
pub const RULES_2026_2: Rules = Rules {
    version: "negotiation-2026.2",
    max_amount_fen: 10_000_000_000_000,
    deposit_min_bp: 500,
    deposit_max_bp: 2_000,
    refund_working_days: 5,
    max_payments: 24,
    max_due_working_days: 365,
    listing_min_working_days: 0,
    listing_max_working_days: u32::MAX,
    max_offers_per_party: usize::MAX,
    max_bids_per_bidder: usize::MAX,
    max_open_sales: usize::MAX,
    auction_increment_bp: 100,
    auction_increment_step_fen: 10_000,
    auction_deposit_bp: 1_000,
    auction_registration_days: 1,
    auction_bidding_days: 1,
    auction_window_seconds: 300,
};

/// The rules of 2026, third version: periods counted with the calendar in force (a deadline in a year without a
/// schedule is refused or pending, never guessed), a listed-price disclosure period of 10 to 60 working days, and no
/// record flooded: at most 50 offers per party in a negotiation, 10,000 bids per bidder in a session, 50 processes open on
/// a result at once and one open negotiation per buyer organisation and result.
pub const RULES_2026_3: Rules = Rules {
    version: "negotiation-2026.3",
    listing_min_working_days: 10,
    listing_max_working_days: 60,
    max_offers_per_party: 50,
    max_bids_per_bidder: 10_000,
    max_open_sales: 50,
    ..RULES_2026_2
};

/// Every version negotiation has decided by; the last is in force for new commands.
pub const VERSIONS: &[&Rules] = &[&RULES_2026_2, &RULES_2026_3];

/// The rules in force for new commands.
pub fn current() -> &'static Rules {
    VERSIONS[VERSIONS.len() - 1]
}

/// The rules of `version`; the current ones for a version this build does not know (earlier unversioned decisions
/// and tests that set none).
pub fn of(version: &str) -> &'static Rules {
    VERSIONS.iter().copied().find(|r| r.version == version).unwrap_or_else(current)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_current_rules_are_found_by_their_version_and_unknown_versions_fall_back_to_them() {
        assert_eq!(of("negotiation-2026.2"), &RULES_2026_2);
        assert_eq!(of("negotiation-2026.3"), &RULES_2026_3);
        assert_eq!(of(""), current());
        assert_eq!(of("session-2026.1"), current());
        let r = current();
        assert!(r.deposit_min_bp <= r.deposit_max_bp && r.deposit_max_bp <= 10_000);
        // The auction a listed-price sale turns into takes a deposit the session rules accept.
        assert!((r.deposit_min_bp..=r.deposit_max_bp).contains(&r.auction_deposit_bp));
        // Up to the most payments at the ceiling, a schedule still fits an i64.
        assert!(r.max_amount_fen.checked_mul(r.max_payments as i64).is_some());
    }
}
