//! What negotiation owes at a moment without anyone asking, decided in one pure look at the directory: [`due`] lists
//! every command the exchange sends on its own, and the service's one timer loop carries them out. They are:
//!
//! - a won session whose contract deadline passed unsigned: the winner defaulted;
//! - a session whose bidding (or reveal) time is over: it closes;
//! - a listed-price sale whose disclosure period is over: it ends (a deal, an auction, or nothing);
//! - a listed-price sale that drew several registrants: its market hands the result to the auction it turns into, and
//!   the auction opens under [`auction_rules`] (nobody chooses them);
//! - deadlines recorded as pending, once their year has a schedule: they are counted;
//! - each result's market kept true to its processes (ADR 0008): what the processes' own streams decided (ends, deals,
//!   defaults) carried into the market, processes opened before the market adopted, processes the market held but
//!   that never opened let go, and the live processes of a result the holder withdrew or another process sold
//!   cancelled.
//!
//! Every command's id is derived from what it fires, so several instances and restarts fire each once.

use std::collections::{HashMap, HashSet};

use super::sales::{derived, exclusive_mode, market_stream, on_sale, result_of};
use super::*;
use crate::facts::Availability;
use crate::listed::auction_rules;
use crate::market::Ending;

/// How long a process the market holds may stay unseen in its own stream before the market lets it go: far longer
/// than any request may take between its two steps.
const UNOPENED_GRACE_US: i64 = 5 * 60 * 1_000_000;

/// A command negotiation sends on its own, for one of its deciders.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Command {
    Deal(DealCommand),
    Listing(ListingCommand),
    Session(SessionCommand),
    Market(MarketCommand),
}

/// One command of a firing: on its stream, with an id derived from what fires it, for the organisation the exchange
/// acts on behalf of (none for the exchange's own housekeeping).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Step {
    pub stream: StreamId,
    pub command: Command,
    pub command_id: CommandId,
    pub on_behalf_of: String,
}

/// Something due: its steps are carried out in order, and a step that fails stops the rest until the next look.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Due {
    /// What fires, for the log: `close`, `end`, `auction`, `contract-due`, `deadlines`, `market`, `cancel`.
    pub what: &'static str,
    /// The process (or result) it concerns.
    pub id: String,
    pub steps: Vec<Step>,
}

impl Due {
    fn one(what: &'static str, id: &str, step: Option<Step>) -> Option<Self> {
        Some(Self { what, id: id.to_owned(), steps: vec![step?] })
    }
}

fn step(
    stream: Result<StreamId, ReplyError>,
    command: Command,
    command_id: Result<CommandId, impl Sized>,
    on_behalf_of: &str,
) -> Option<Step> {
    Some(Step { stream: stream.ok()?, command, command_id: command_id.ok()?, on_behalf_of: on_behalf_of.to_owned() })
}

/// Everything due at `now`. `unopened` remembers, across looks, since when the market has held each process not yet
/// seen in its own stream.
pub(super) fn due(d: &Directory, now: Timestamp, unopened: &mut HashMap<String, Timestamp>) -> Vec<Due> {
    let mut due = Vec::new();
    due.extend(contract_deadlines(d, now));
    due.extend(closes(d, now));
    due.extend(ends(d, now));
    due.extend(auctions(d, now));
    due.extend(pending_deadlines_counted(d));
    due.extend(markets(d, now, unopened));
    due
}

/// Won sessions whose contract deadline has passed with no signature recorded.
fn contract_deadlines(d: &Directory, now: Timestamp) -> impl Iterator<Item = Due> + '_ {
    d.sessions
        .iter()
        .filter(|(_, e)| e.state.phase == Phase::Closed && e.state.winner.is_some())
        .filter(move |(_, e)| e.state.signed.is_none() && e.state.contract_due.is_some_and(|due| due < now))
        .filter_map(|(id, e)| {
            let seller_withdrew = d.results.get(&e.state.result_id).is_some_and(|r| r.withdrawn);
            let command = Command::Session(SessionCommand::ContractDeadline { seller_withdrew });
            let step = step(stream("session", id, "session_id"), command, CommandId::system("contract-due", id), "");
            Due::one("contract-due", id, step)
        })
}

/// Sessions whose bidding (sealed: commitments, then reveals) is over; an open session's end moves with each
/// extension, so the close is keyed by the end it fires at.
fn closes(d: &Directory, now: Timestamp) -> impl Iterator<Item = Due> + '_ {
    d.sessions.iter().filter_map(move |(id, e)| {
        let rules = e.state.rules.as_ref()?;
        let key = match e.state.phase {
            Phase::Open if rules.sealed && rules.bidding_closes <= now => "bidding".to_owned(),
            Phase::Open if !rules.sealed => {
                let ends = e.state.ends_at.unwrap_or(rules.bidding_closes);
                if ends > now {
                    return None;
                }
                ends.unix_micros().to_string()
            }
            Phase::Revealing if rules.reveal_closes <= now => "reveal".to_owned(),
            _ => return None,
        };
        let close = Command::Session(SessionCommand::Close { on_sale: on_sale(d, &e.state.result_id, id) });
        let command_id = CommandId::system("close", &format!("{id}:{key}"));
        Due::one("close", id, step(stream("session", id, "session_id"), close, command_id, ""))
    })
}

/// Listed-price sales whose disclosure period is over.
fn ends(d: &Directory, now: Timestamp) -> impl Iterator<Item = Due> + '_ {
    d.listings.iter().filter(|(_, e)| e.state.status == ListingStatus::Open).filter_map(move |(id, e)| {
        let at = e.state.disclosure_ends.filter(|t| *t <= now)?;
        let end = Command::Listing(ListingCommand::End { on_sale: on_sale(d, &e.state.result_id, id) });
        let command_id = CommandId::system("end", &format!("{id}:{}", at.unix_micros()));
        Due::one("end", id, step(stream("listing", id, "listing_id"), end, command_id, ""))
    })
}

/// Listed-price sales that turned into an auction not opened yet: the market hands the result over, then the session
/// opens on behalf of the seller.
fn auctions(d: &Directory, now: Timestamp) -> impl Iterator<Item = Due> + '_ {
    d.listings
        .values()
        .filter(|e| e.state.status == ListingStatus::ToAuction)
        .filter(|e| !d.sessions.contains_key(&crate::listed::session_id_for(&e.state.id)))
        .filter_map(move |e| {
            let listing = &e.state;
            let session_id = crate::listed::session_id_for(&listing.id);
            let in_force = rules::current();
            // A sale whose price or terms no auction can be drawn from (none the rules in force accept) stays as it is.
            let rules = auction_rules(listing.price_fen, now, in_force).ok()?;
            let declared = crate::terms::as_shares(&listing.terms).ok()?;
            let handover =
                Command::Market(MarketCommand::Handover { from: listing.id.clone(), to: session_id.clone() });
            let handover_id = derived("handover", &[&listing.id, &session_id]).ok_or(());
            let open = Command::Session(SessionCommand::Open {
                id: session_id.clone(),
                result_id: listing.result_id.clone(),
                rules: Box::new(rules),
                terms: Box::new(declared),
                modes: Vec::new(),
                listing_id: listing.id.clone(),
                invited: listing.registrants.keys().cloned().collect(),
                holder: d.results.get(&listing.result_id).is_some_and(|r| r.owner_org_id == listing.seller_org_id),
                published: d.results.get(&listing.result_id).is_some_and(|r| r.availability == Availability::Published),
                auction_route: false,
            });
            let open_id = CommandId::system("auction-of", &listing.id);
            let steps = vec![
                step(market_stream(&listing.result_id), handover, handover_id, "")?,
                step(stream("session", &session_id, "session_id"), open, open_id, &listing.seller_org_id)?,
            ];
            Some(Due { what: "auction", id: listing.id.clone(), steps })
        })
}

/// Deadlines recorded as pending whose year now has a schedule: one command per pending record (its id names the
/// instant they count from).
fn pending_deadlines_counted(d: &Directory) -> Vec<Due> {
    let calendar = d.calendar.get();
    super::pending_deadlines(d)
        .into_iter()
        .filter(|p| calendar.schedule(p.year).is_some())
        .filter_map(|p| {
            let since = p.since.map_or(0, |t| Timestamp::from_proto(&t).unix_micros());
            let command_id = CommandId::system("deadlines", &format!("{}:{since}", p.id));
            let step = if p.process == "session" {
                step(
                    stream("session", &p.id, "session_id"),
                    Command::Session(SessionCommand::FixDeadlines),
                    command_id,
                    "",
                )
            } else {
                step(
                    stream("listing", &p.id, "listing_id"),
                    Command::Listing(ListingCommand::FixDeadlines),
                    command_id,
                    "",
                )
            };
            Due::one("deadlines", &p.id, step)
        })
        .collect()
}

/// Whether a deal grants an exclusive right: its terms say so, and deals from before modes were declared are taken
/// as exclusive (as they were treated).
fn exclusive_deal(d: &pb::DealAgreed) -> bool {
    d.terms.as_ref().is_none_or(|t| exclusive_mode(t.mode))
}

fn agreed(d: &pb::DealAgreed) -> Ending {
    Ending { outcome: "agreed".into(), deal: Some((d.deal_id.clone(), exclusive_deal(d), d.buyer_org_id.clone())) }
}

fn ended(outcome: &str) -> Ending {
    Ending { outcome: outcome.into(), deal: None }
}

/// How a process of `kind` on `result` ended, if its own stream says it has; `None` while it runs (or was never seen
/// on that result: a process id that names a sale of another result is not this market's).
fn ending(d: &Directory, kind: &str, id: &str, result: &str) -> Option<Ending> {
    if result_of(d, kind, id) != Some(result) {
        return None;
    }
    match kind {
        "negotiation" => {
            let s = &d.deals.get(id)?.state;
            match s.status {
                DealStatus::Agreed => s.deal.as_ref().map(agreed),
                DealStatus::Abandoned => Some(ended("abandoned")),
                DealStatus::Open | DealStatus::None => None,
            }
        }
        "listing" => {
            let s = &d.listings.get(id)?.state;
            match s.status {
                ListingStatus::Sold => s.deal.as_ref().map(agreed),
                ListingStatus::Lapsed => Some(ended("lapsed")),
                ListingStatus::Cancelled => Some(ended("cancelled")),
                // The auction takes over in one market step (the hand-over).
                ListingStatus::ToAuction | ListingStatus::Open | ListingStatus::None => None,
            }
        }
        _ => {
            let s = &d.sessions.get(id)?.state;
            match s.phase {
                Phase::Closed | Phase::Defaulted => Some(s.deal.as_ref().map_or_else(|| ended("no_sale"), agreed)),
                Phase::Cancelled => Some(ended("cancelled")),
                Phase::Open | Phase::Revealing | Phase::None => None,
            }
        }
    }
}

/// Why a granted right fell through, if it did: an auction's winner defaulted, or the seller withdrew before the
/// contract (the session was cancelled after it was won).
fn voided(d: &Directory, deal_id: &str, result: &str) -> Option<&'static str> {
    let s = &d.sessions.get(deal_id)?.state;
    if s.result_id != result {
        return None;
    }
    match s.phase {
        Phase::Defaulted => Some("the winner defaulted"),
        Phase::Cancelled => Some("the holder withdrew the result before the contract"),
        _ => None,
    }
}

/// Why a live process must be cancelled, if it must: its result was withdrawn, or is under contract by another deal.
fn cancellation(d: &Directory, result_id: &str, process_id: &str) -> Option<&'static str> {
    let r = d.results.get(result_id)?;
    if r.withdrawn {
        return Some("the holder withdrew the result");
    }
    match (&r.availability, &r.deal_id) {
        (Availability::Gone, Some(deal)) if deal != process_id => Some("the result was sold under another process"),
        _ => None,
    }
}

/// The markets' side: what keeps each result's market true to its processes (see the module's header).
fn markets(d: &Directory, now: Timestamp, unopened: &mut HashMap<String, Timestamp>) -> Vec<Due> {
    let mut due = Vec::new();
    let mut market = |result_id: &str, command: MarketCommand, command_id: Option<CommandId>| {
        let step = step(market_stream(result_id), Command::Market(command), command_id.ok_or(()), "");
        due.extend(Due::one("market", result_id, step));
    };
    let mut cancels = Vec::new();
    let mut still_unopened = HashSet::new();
    for (result_id, m) in &d.markets {
        for (pid, sale) in m.state.open() {
            let openings = sale.openings.to_string();
            let end = |ending: Ending| MarketCommand::End { process_id: pid.clone(), ending };
            still_unopened.insert(pid.clone());
            if let Some(ending) = ending(d, &sale.kind, pid, result_id) {
                unopened.remove(pid);
                market(result_id, end(ending), derived("market-end", &[pid, &openings]));
            } else if result_of(d, &sale.kind, pid) == Some(result_id.as_str()) {
                unopened.remove(pid);
            } else {
                let since = *unopened.entry(pid.clone()).or_insert(now);
                if now.unix_micros().saturating_sub(since.unix_micros()) > UNOPENED_GRACE_US {
                    market(result_id, end(ended("not_opened")), derived("market-end", &[pid, &openings]));
                }
            }
        }
        for (deal_id, (_, was_voided)) in &m.state.grants {
            if let (false, Some(reason)) = (*was_voided, voided(d, deal_id, result_id)) {
                let command = MarketCommand::Void { deal_id: deal_id.clone(), reason: reason.to_owned() };
                market(result_id, command, derived("market-void", &[deal_id]));
            }
        }
    }
    // Forget what no market holds open any more (another instance ended it).
    unopened.retain(|pid, _| still_unopened.contains(pid));
    // Live processes: adopted by their market if it does not know them, cancelled if their result is gone.
    let known = |result_id: &str, pid: &str| d.markets.get(result_id).is_some_and(|m| m.state.sales.contains_key(pid));
    let mut live: Vec<(&'static str, &String, &String, i32, bool, bool)> = Vec::new();
    for (id, e) in &d.deals {
        if e.state.status == DealStatus::Open {
            live.push(("negotiation", id, &e.state.result_id, e.state.mode, exclusive_mode(e.state.mode), true));
        }
    }
    for (id, e) in &d.listings {
        let t = &e.state.terms;
        match e.state.status {
            ListingStatus::Open => live.push(("listing", id, &e.state.result_id, t.mode, exclusive_mode(t.mode), true)),
            ListingStatus::Lapsed => live.push(("listing", id, &e.state.result_id, t.mode, true, false)),
            _ => {}
        }
    }
    for (id, e) in &d.sessions {
        let s = &e.state;
        let mode = s.terms.as_ref().map_or(0, |t| t.mode);
        let exclusive = exclusive_mode(mode);
        match s.phase {
            Phase::Open | Phase::Revealing => live.push(("session", id, &s.result_id, mode, exclusive, true)),
            // Won before the market existed: adopted, so that the market records its right (and voids it if the
            // winner defaults).
            Phase::Closed if s.winner.is_some() && s.signed.is_none() => {
                live.push(("session", id, &s.result_id, mode, exclusive, true));
            }
            Phase::Defaulted if d.results.get(&s.result_id).and_then(|r| r.deal_id.as_deref()) == Some(id) => {
                live.push(("session", id, &s.result_id, mode, exclusive, true));
            }
            _ => {}
        }
    }
    for (kind, id, result_id, mode, exclusive, adopt) in live {
        if let Some(reason) = cancellation(d, result_id, id) {
            let reason = reason.to_owned();
            let (stream, command) = match kind {
                "negotiation" => (stream("deal", id, "negotiation_id"), Command::Deal(DealCommand::Cancel { reason })),
                "listing" => (stream("listing", id, "listing_id"), Command::Listing(ListingCommand::Cancel { reason })),
                _ => (stream("session", id, "session_id"), Command::Session(SessionCommand::Cancel { reason })),
            };
            cancels.extend(Due::one("cancel", id, step(stream, command, derived("cancel", &[kind, id]).ok_or(()), "")));
        } else if adopt && !known(result_id, id) {
            let command = MarketCommand::Open {
                result_id: result_id.clone(),
                kind: kind.to_owned(),
                process_id: id.clone(),
                mode,
                exclusive,
                missing_consents: Vec::new(),
            };
            market(result_id, command, derived("adopt", &[kind, id]));
        }
    }
    due.extend(cancels);
    due
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::ResultEntry;
    use crate::session::Rules;

    const MINUTE: i64 = 60_000_000;

    fn at(minute: i64) -> Timestamp {
        Timestamp::from_unix_micros(1_790_000_000_000_000 + minute * MINUTE)
    }

    fn entry<S>(state: S) -> Entry<S> {
        Entry { state, version: 1, created_position: 1 }
    }

    fn published(owner: &str) -> ResultEntry {
        ResultEntry { owner_org_id: owner.into(), availability: Availability::Published, ..ResultEntry::default() }
    }

    fn open_session(id: &str, closes: i64) -> SessionState {
        let rules = Rules {
            start_price_fen: 1_000_000,
            increment_fen: 10_000,
            deposit_fen: 100_000,
            registration_closes: at(closes - 10),
            bidding_opens: at(closes - 10),
            bidding_closes: at(closes),
            anti_sniping: crate::session::AntiSniping::Extension { window_us: 5 * MINUTE },
            reserve_fen: None,
            sealed: false,
            reveal_closes: at(closes),
            version: rules::current().version.into(),
            one_shot: false,
        };
        SessionState {
            id: id.into(),
            result_id: "r1".into(),
            seller_org_id: "uni".into(),
            rules: Some(rules),
            phase: Phase::Open,
            ..SessionState::default()
        }
    }

    fn directory() -> Directory {
        let mut d = Directory::default();
        d.results.0.insert("r1".into(), published("uni"));
        d
    }

    fn what(due: &[Due]) -> Vec<(&'static str, &str)> {
        due.iter().map(|d| (d.what, d.id.as_str())).collect()
    }

    #[test]
    fn nothing_is_due_before_its_time_and_a_session_closes_once_at_its_end() {
        let mut d = directory();
        d.sessions.insert("s1".into(), entry(open_session("s1", 60)));
        let mut unopened = HashMap::new();
        // The process is not in a market yet: the market adopts it, and nothing else is due before the close.
        assert_eq!(what(&due(&d, at(59), &mut unopened)), [("market", "r1")]);
        // At the close: a close keyed by the end it fires at, so every instance sends the same command.
        let now = due(&d, at(60), &mut unopened);
        let close = now.iter().find(|d| d.what == "close").unwrap();
        assert_eq!(close.steps.len(), 1);
        assert_eq!(close.steps[0].command, Command::Session(SessionCommand::Close { on_sale: true }));
        let key = at(60).unix_micros();
        assert_eq!(close.steps[0].command_id, CommandId::system("close", &format!("s1:{key}")).unwrap());
        // An extension moves the end, and so the close's id.
        let mut extended = open_session("s1", 60);
        extended.ends_at = Some(at(65));
        d.sessions.insert("s1".into(), entry(extended));
        assert!(due(&d, at(60), &mut unopened).iter().all(|d| d.what != "close"));
        let later = due(&d, at(65), &mut unopened);
        let close = later.iter().find(|d| d.what == "close").unwrap();
        assert_ne!(close.steps[0].command_id, CommandId::system("close", &format!("s1:{key}")).unwrap());
    }

    #[test]
    fn a_listed_sale_with_several_registrants_hands_over_then_opens_its_auction_for_the_seller() {
        let mut d = directory();
        let listing = ListingState {
            id: "l1".into(),
            result_id: "r1".into(),
            seller_org_id: "uni".into(),
            price_fen: 123_456_789,
            terms: crate::terms::single_payment(2, 123_456_789, 10),
            status: ListingStatus::ToAuction,
            registrants: [("a".to_owned(), "ua".to_owned()), ("b".to_owned(), "ub".to_owned())].into(),
            ..ListingState::default()
        };
        d.listings.insert("l1".into(), entry(listing));
        let now = at(0);
        let due = due(&d, now, &mut HashMap::new());
        let auction = due.iter().find(|d| d.what == "auction").expect("the auction is due");
        let [handover, open] = auction.steps.as_slice() else { panic!("{auction:?}") };
        assert_eq!(
            handover.command,
            Command::Market(MarketCommand::Handover { from: "l1".into(), to: "l1-auction".into() })
        );
        assert_eq!(handover.stream.as_str(), "negotiation-market-r1");
        let Command::Session(SessionCommand::Open { rules, invited, holder, listing_id, .. }) = &open.command else {
            panic!("{open:?}")
        };
        assert_eq!(**rules, auction_rules(123_456_789, now, rules::current()).unwrap());
        assert_eq!(
            (invited.as_slice(), *holder, listing_id.as_str()),
            (["a".to_owned(), "b".to_owned()].as_slice(), true, "l1")
        );
        assert_eq!((open.stream.as_str(), open.on_behalf_of.as_str()), ("negotiation-session-l1-auction", "uni"));
        // Once the session exists, nothing more is due for it.
        d.sessions.insert("l1-auction".into(), entry(open_session("l1-auction", 60)));
        assert!(super::due(&d, now, &mut HashMap::new()).iter().all(|d| d.what != "auction"));
    }

    #[test]
    fn a_won_session_not_signed_in_time_defaults_and_says_whether_the_seller_withdrew() {
        let mut d = directory();
        let won = SessionState {
            phase: Phase::Closed,
            winner: Some(("a".into(), 1_000_000)),
            contract_due: Some(at(100)),
            ..open_session("s1", 60)
        };
        d.sessions.insert("s1".into(), entry(won));
        assert!(due(&d, at(100), &mut HashMap::new()).iter().all(|d| d.what != "contract-due"));
        let late = due(&d, at(101), &mut HashMap::new());
        let deadline = late.iter().find(|d| d.what == "contract-due").unwrap();
        assert_eq!(
            deadline.steps[0].command,
            Command::Session(SessionCommand::ContractDeadline { seller_withdrew: false })
        );
        d.results.0.get_mut("r1").unwrap().withdrawn = true;
        let withdrawn = due(&d, at(101), &mut HashMap::new());
        let deadline = withdrawn.iter().find(|d| d.what == "contract-due").unwrap();
        assert_eq!(
            deadline.steps[0].command,
            Command::Session(SessionCommand::ContractDeadline { seller_withdrew: true })
        );
    }

    #[test]
    fn a_withdrawn_result_cancels_its_live_processes_and_a_process_never_opened_is_let_go_after_the_grace() {
        let mut d = directory();
        d.sessions.insert("s1".into(), entry(open_session("s1", 60)));
        d.results.0.get_mut("r1").unwrap().withdrawn = true;
        let due_now = due(&d, at(0), &mut HashMap::new());
        let cancel = due_now.iter().find(|d| d.what == "cancel").unwrap();
        assert_eq!(cancel.id, "s1");
        assert!(matches!(&cancel.steps[0].command, Command::Session(SessionCommand::Cancel { .. })));

        // A market holds a process its own stream never recorded: let go once the grace has passed, not before.
        let mut d = directory();
        let opened = MarketCommand::Open {
            result_id: "r1".into(),
            kind: "negotiation".into(),
            process_id: "n1".into(),
            mode: 2,
            exclusive: true,
            missing_consents: Vec::new(),
        };
        let tm = Actor { user_id: "m".into(), org_id: "uni".into(), role: Role::TechManager.into(), roles: vec![] };
        let ctx = ttx_kernel::Ctx::new(at(0), tm, CommandId::parse("c").unwrap());
        let events = Markets.decide(&MarketState::default(), &opened, &ctx).unwrap();
        let market = events.iter().fold(MarketState::default(), |s, e| Markets.evolve(s, e));
        d.markets.insert("r1".into(), entry(market));
        let mut unopened = HashMap::new();
        assert!(due(&d, at(0), &mut unopened).is_empty(), "first seen now");
        assert!(due(&d, at(5), &mut unopened).is_empty(), "within the grace");
        let let_go = due(&d, at(6), &mut unopened);
        let [end] = let_go.as_slice() else { panic!("{let_go:?}") };
        let Command::Market(MarketCommand::End { process_id, ending }) = &end.steps[0].command else {
            panic!("{end:?}")
        };
        assert_eq!((process_id.as_str(), ending.outcome.as_str()), ("n1", "not_opened"));
    }
}
