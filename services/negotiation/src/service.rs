//! The negotiation service's shell: commands and queries on the bus, the directory folded from the log (its own
//! streams and listings' result events), and the timers that close sessions and end listed-price sales.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::RwLock;
use ttx_kernel::bus::{ErrorCode, ReplyError};
use ttx_kernel::decider::Refusal;
use ttx_kernel::handler::decode_event;
use ttx_kernel::projection::Progress;
use ttx_kernel::rpc::Router;
use ttx_kernel::{
    Clock, CommandError, CommandHandler, CommandId, CommandMeta, Decider, EventLog, RecordedEvent, StreamId, Timestamp,
};
use ttx_proto::common::v1::{Actor, CommandAccepted, Role};

use crate::deal::{DealCommand, DealState, DealStatus, Deals};
use crate::facts::Results;
use crate::listed::{ListingCommand, ListingState, ListingStatus, Listings};
use crate::market::{MarketCommand, MarketState, Markets};
use crate::pb::{self, subjects};
use crate::rules;
use crate::seal::parse_hex32;
use crate::session::{Bid, Deposit, Phase, SessionCommand, SessionState, Sessions};

mod due;
mod sales;

use sales::on_sale;

const TIMER_TICK: Duration = Duration::from_millis(200);
const CATCH_UP: Duration = Duration::from_secs(5);

fn stream(kind: &str, id: &str, field: &str) -> Result<StreamId, ReplyError> {
    StreamId::new("negotiation", kind, id).map_err(|e| ReplyError::invalid(field, e.to_string()))
}

/// One aggregate as the directory holds it.
#[derive(Debug, Clone, Default)]
struct Entry<S> {
    state: S,
    version: u64,
    created_position: u64,
}

#[derive(Debug, Default)]
struct Directory {
    /// The working-day calendar, folded from identity's schedules; the handlers decide with it.
    calendar: ttx_kernel::calendar::CalendarView,
    results: Results,
    deals: BTreeMap<String, Entry<DealState>>,
    listings: BTreeMap<String, Entry<ListingState>>,
    sessions: BTreeMap<String, Entry<SessionState>>,
    /// Each result's market, by result id.
    markets: BTreeMap<String, Entry<MarketState>>,
}

fn fold<D: Decider>(
    decider: &D,
    map: &mut BTreeMap<String, Entry<D::State>>,
    id: &str,
    event: &RecordedEvent,
) -> Result<(), ttx_kernel::DecodeError> {
    let e: D::Event = decode_event(event)?;
    let entry = map.entry(id.to_owned()).or_insert_with(|| Entry {
        state: D::State::default(),
        version: 0,
        created_position: event.position(),
    });
    entry.state = decider.evolve(std::mem::take(&mut entry.state), &e);
    entry.version = event.version();
    Ok(())
}

fn supervisor(a: &Actor) -> bool {
    a.has_role(Role::Admin) || a.has_role(Role::Regulator)
}

/// The actor timers and reactions act as, on behalf of `org`.
fn system(org: &str) -> Actor {
    Actor { user_id: "system".into(), org_id: org.into(), role: Role::System.into(), roles: vec![Role::System.into()] }
}

/// Carries out a command of the exchange's own: the events it wrote, or why not.
async fn carry_out<D: Decider>(
    handler: &CommandHandler<D>,
    stream: &StreamId,
    command: &D::Command,
    meta: &CommandMeta,
) -> Result<usize, String> {
    handler.handle(stream, command, meta).await.map(|h| h.written()).map_err(|e| e.to_string())
}

/// What one look at the timers did: each firing tried, as (what, the process or result it concerns, the events it
/// wrote). Several instances try the same firings; one writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fired(pub Vec<(&'static str, String, usize)>);

impl Fired {
    /// The events the firings of `what` on `id` wrote.
    pub fn written(&self, what: &str, id: &str) -> Option<usize> {
        self.0.iter().find(|(w, i, _)| *w == what && i == id).map(|(.., n)| *n)
    }
}

/// The negotiation service.
pub struct Service {
    log: Arc<dyn EventLog>,
    clock: Arc<dyn Clock>,
    deals: CommandHandler<Deals>,
    listings: CommandHandler<Listings>,
    sessions: CommandHandler<Sessions>,
    markets: CommandHandler<Markets>,
    directory: RwLock<Directory>,
    /// Processes a market holds whose own stream this instance has not seen, and since when.
    unopened: std::sync::Mutex<std::collections::HashMap<String, Timestamp>>,
    progress: Progress,
    /// Where the directory reports each session event it folds ((session id, version)), once someone listens.
    session_changes: std::sync::Mutex<Option<tokio::sync::mpsc::UnboundedSender<(String, u64)>>>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("negotiation::Service").finish_non_exhaustive()
    }
}

fn text(field: &str, s: &str, max: usize) -> Result<String, ReplyError> {
    let t = s.trim();
    if t.chars().count() > max {
        return Err(ReplyError::invalid(field, format!("at most {max} characters")));
    }
    Ok(t.to_owned())
}

/// The terms of a command; the decider checks them under the rules in force.
fn terms(t: Option<pb::TermSheet>) -> Result<pb::TermSheet, ReplyError> {
    t.ok_or_else(|| ReplyError::invalid("terms", "the terms are missing"))
}

impl Service {
    pub fn new(log: Arc<dyn EventLog>, clock: Arc<dyn Clock>) -> Self {
        let calendar = ttx_kernel::calendar::CalendarView::default();
        let version = rules::current().version;
        Self {
            deals: CommandHandler::new(Deals, log.clone(), clock.clone())
                .with_rule_version(version)
                .with_calendar(calendar.clone()),
            listings: CommandHandler::new(Listings, log.clone(), clock.clone())
                .with_rule_version(version)
                .with_calendar(calendar.clone()),
            sessions: CommandHandler::new(Sessions, log.clone(), clock.clone())
                .with_rule_version(version)
                .with_calendar(calendar.clone()),
            markets: CommandHandler::new(Markets, log.clone(), clock.clone()).with_rule_version(version),
            log,
            clock,
            directory: RwLock::new(Directory { calendar, ..Directory::default() }),
            unopened: Default::default(),
            progress: Progress::default(),
            session_changes: std::sync::Mutex::new(None),
        }
    }

    /// Each session event this instance folds, as (session id, version), from now on: what the service announces on
    /// the bus so live pages wait instead of asking.
    pub fn session_changes(&self) -> tokio::sync::mpsc::UnboundedReceiver<(String, u64)> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        *self.session_changes.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(tx);
        rx
    }

    fn fold_into(d: &mut Directory, event: &RecordedEvent) -> Result<(), ttx_kernel::DecodeError> {
        let stream = event.stream_id();
        if stream == ttx_kernel::calendar::STREAM {
            ttx_kernel::calendar::fold(&d.calendar, event);
        }
        if let Some(id) = stream.strip_prefix("negotiation-deal-") {
            fold(&Deals, &mut d.deals, id, event)
        } else if let Some(id) = stream.strip_prefix("negotiation-listing-") {
            fold(&Listings, &mut d.listings, id, event)
        } else if let Some(id) = stream.strip_prefix("negotiation-session-") {
            fold(&Sessions, &mut d.sessions, id, event)
        } else if let Some(id) = stream.strip_prefix("negotiation-market-") {
            fold(&Markets, &mut d.markets, id, event)
        } else if stream.starts_with("listings-result-") {
            d.results.apply(stream, event.event_type(), event.payload()).map_err(|e| {
                ttx_kernel::DecodeError::Malformed { event_type: event.event_type().to_owned(), reason: e.to_string() }
            })
        } else {
            Ok(())
        }
    }

    /// Folds the log into the directory, from the start, then live.
    pub async fn project(self: Arc<Self>) {
        self.progress.follow(self.log.clone(), self.as_ref()).await;
    }

    /// Waits until the directory holds what the log held when called (at most a few seconds).
    pub async fn caught_up(&self) -> Result<(), ReplyError> {
        self.progress.caught_up(self.log.as_ref(), CATCH_UP).await
    }

    /// Runs the timers until the task is dropped: every tick, whatever is due is fired.
    pub async fn timers(self: Arc<Self>) {
        // Nothing fires on a view still replaying the log: a deadline would be counted with an older calendar.
        while self.caught_up().await.is_err() {
            tokio::time::sleep(TIMER_TICK).await;
        }
        loop {
            self.fire_due().await;
            tokio::time::sleep(TIMER_TICK).await;
        }
    }

    /// Fires what is due now ([`due::due`]): each command's id is derived from what it fires, so instances and
    /// restarts fire it once. Answers what this look tried, and what each firing wrote.
    pub async fn fire_due(&self) -> Fired {
        let due = {
            let d = self.directory.read().await;
            let mut unopened = self.unopened.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            due::due(&d, self.clock.now(), &mut unopened)
        };
        let mut fired = Fired::default();
        for due in due {
            let (what, id) = (due.what, due.id.clone());
            let written = self.fire(due).await;
            fired.0.push((what, id, written));
        }
        fired
    }

    /// Carries out one firing's steps in order; the events it wrote (none for a step another instance, or an earlier
    /// look, carried out already).
    async fn fire(&self, due: due::Due) -> usize {
        let mut written = 0;
        for step in due.steps {
            let meta = CommandMeta::new(step.command_id, system(&step.on_behalf_of));
            let stream = &step.stream;
            let outcome = match &step.command {
                due::Command::Deal(c) => carry_out(&self.deals, stream, c, &meta).await,
                due::Command::Listing(c) => carry_out(&self.listings, stream, c, &meta).await,
                due::Command::Session(c) => carry_out(&self.sessions, stream, c, &meta).await,
                due::Command::Market(c) => carry_out(&self.markets, stream, c, &meta).await,
            };
            match outcome {
                Ok(0) => {}
                Ok(events) => {
                    written += events;
                    tracing::info!(what = due.what, id = %due.id, %stream, events, "fired");
                }
                Err(e) => {
                    // Another instance fired it first, or the state moved on: the next look decides again.
                    tracing::debug!(what = due.what, id = %due.id, %stream, error = %e, "did not fire");
                    break;
                }
            }
        }
        written
    }

    async fn run<D: Decider>(
        &self,
        handler: &CommandHandler<D>,
        stream: StreamId,
        command: D::Command,
        meta: &CommandMeta,
    ) -> Result<CommandAccepted, ReplyError> {
        let handled = handler.handle(&stream, &command, meta).await.map_err(CommandError::into_reply)?;
        Ok(handled.accepted())
    }

    async fn on_deal(&self, id: &str, command: DealCommand, meta: &CommandMeta) -> Result<CommandAccepted, ReplyError> {
        self.run(&self.deals, stream("deal", id, "negotiation_id")?, command, meta).await
    }

    async fn on_listing(
        &self,
        id: &str,
        command: ListingCommand,
        meta: &CommandMeta,
    ) -> Result<CommandAccepted, ReplyError> {
        self.run(&self.listings, stream("listing", id, "listing_id")?, command, meta).await
    }

    async fn on_session(
        &self,
        id: &str,
        command: SessionCommand,
        meta: &CommandMeta,
    ) -> Result<CommandAccepted, ReplyError> {
        self.run(&self.sessions, stream("session", id, "session_id")?, command, meta).await
    }

    pub async fn open_negotiation(&self, c: pb::OpenNegotiation) -> Result<CommandAccepted, ReplyError> {
        let meta = CommandMeta::from_context(c.context)?;
        self.caught_up().await?;
        let facts = self.facts(&c.result_id).await?;
        let id = c.negotiation_id.clone();
        let command = DealCommand::Open { id: id.clone(), result_id: c.result_id.clone(), mode: c.mode, facts };
        let sale = sales::Sale { result_id: &c.result_id, kind: "negotiation", id: &id, mode: c.mode };
        self.open_sale(sale, &meta, self.on_deal(&id, command, &meta)).await
    }

    pub async fn make_offer(&self, c: pb::MakeOffer) -> Result<CommandAccepted, ReplyError> {
        let meta = CommandMeta::from_context(c.context)?;
        let command = DealCommand::Offer { terms: terms(c.terms)? };
        self.on_deal(&c.negotiation_id, command, &meta).await
    }

    pub async fn accept_offer(&self, c: pb::AcceptOffer) -> Result<CommandAccepted, ReplyError> {
        let meta = CommandMeta::from_context(c.context)?;
        // The notice and the market as of now: the directory first catches up with the log.
        self.caught_up().await?;
        let result_id = self
            .directory
            .read()
            .await
            .deals
            .get(&c.negotiation_id)
            .map(|e| e.state.result_id.clone())
            .ok_or_else(|| ReplyError::new(ErrorCode::NotFound, "no such negotiation"))?;
        let mut facts = self.facts(&result_id).await?;
        facts.on_sale = on_sale(&*self.directory.read().await, &result_id, &c.negotiation_id);
        let command = DealCommand::Accept { version: c.version, facts };
        self.on_deal(&c.negotiation_id, command, &meta).await
    }

    pub async fn abandon_negotiation(&self, c: pb::AbandonNegotiation) -> Result<CommandAccepted, ReplyError> {
        let meta = CommandMeta::from_context(c.context)?;
        let command = DealCommand::Abandon { reason: text("reason", &c.reason, 500)? };
        self.on_deal(&c.negotiation_id, command, &meta).await
    }

    pub async fn open_listing(&self, c: pb::OpenListing) -> Result<CommandAccepted, ReplyError> {
        let meta = CommandMeta::from_context(c.context)?;
        self.caught_up().await?;
        let entry = self.result_entry(&c.result_id).await?;
        let terms = terms(c.terms)?;
        let mode = terms.mode;
        let id = c.listing_id.clone();
        let command = ListingCommand::Open {
            id: id.clone(),
            result_id: c.result_id.clone(),
            holder: entry.owner_org_id == meta.actor.org_id,
            published: entry.availability == crate::facts::Availability::Published,
            listed_route: entry.route == ttx_proto::listings::v1::PricingRoute::Listed as i32,
            modes: entry.modes.clone(),
            terms,
            working_days: c.disclosure_working_days,
        };
        let sale = sales::Sale { result_id: &c.result_id, kind: "listing", id: &id, mode };
        self.open_sale(sale, &meta, self.on_listing(&id, command, &meta)).await
    }

    pub async fn register_intent(&self, c: pb::RegisterIntent) -> Result<CommandAccepted, ReplyError> {
        let meta = CommandMeta::from_context(c.context)?;
        self.on_listing(&c.listing_id, ListingCommand::RegisterIntent, &meta).await
    }

    pub async fn relist(&self, c: pb::Relist) -> Result<CommandAccepted, ReplyError> {
        let meta = CommandMeta::from_context(c.context)?;
        let command = ListingCommand::Relist { working_days: c.disclosure_working_days };
        self.caught_up().await?;
        let listing = self.directory.read().await.listings.get(&c.listing_id).map(|e| e.state.clone());
        let Some(listing) = listing.filter(|l| l.status == ListingStatus::Lapsed) else {
            // Not lapsed (or no such listing): the decider says which.
            return self.on_listing(&c.listing_id, command, &meta).await;
        };
        self.end_lapsed(&listing.result_id, &c.listing_id).await?;
        let sale =
            sales::Sale { result_id: &listing.result_id, kind: "listing", id: &c.listing_id, mode: listing.terms.mode };
        self.open_sale(sale, &meta, self.on_listing(&c.listing_id, command, &meta)).await
    }

    pub async fn open_session(&self, c: pb::OpenSession) -> Result<CommandAccepted, ReplyError> {
        let meta = CommandMeta::from_context(c.context)?;
        self.caught_up().await?;
        let entry = self.result_entry(&c.result_id).await?;
        let rules = c.rules.ok_or_else(|| ReplyError::invalid("rules", "the rules are missing"))?;
        let terms = terms(c.terms)?;
        let mode = terms.mode;
        let id = c.session_id.clone();
        let command = SessionCommand::Open {
            id: id.clone(),
            result_id: c.result_id.clone(),
            rules: Box::new(rules),
            terms: Box::new(terms),
            modes: entry.modes.clone(),
            listing_id: String::new(),
            invited: Vec::new(),
            holder: entry.owner_org_id == meta.actor.org_id,
            published: entry.availability == crate::facts::Availability::Published,
            auction_route: entry.route == ttx_proto::listings::v1::PricingRoute::Auction as i32,
        };
        let sale = sales::Sale { result_id: &c.result_id, kind: "session", id: &id, mode };
        self.open_sale(sale, &meta, self.on_session(&id, command, &meta)).await
    }

    pub async fn stop_licensing(&self, c: pb::StopLicensing) -> Result<CommandAccepted, ReplyError> {
        let meta = CommandMeta::from_context(c.context)?;
        self.caught_up().await?;
        let holder = self.result_entry(&c.result_id).await?.owner_org_id == meta.actor.org_id;
        let handled = self
            .markets
            .handle(&sales::market_stream(&c.result_id)?, &MarketCommand::StopLicensing { holder }, &meta)
            .await
            .map_err(|e| e.into_reply())?;
        Ok(handled.accepted())
    }

    pub async fn register_bidder(&self, c: pb::RegisterBidder) -> Result<CommandAccepted, ReplyError> {
        let meta = CommandMeta::from_context(c.context)?;
        self.on_session(&c.session_id, SessionCommand::Register, &meta).await
    }

    pub async fn confirm_deposit(&self, c: pb::ConfirmDeposit) -> Result<CommandAccepted, ReplyError> {
        let meta = CommandMeta::from_context(c.context)?;
        let reference = text("reference", &c.reference, 100)?;
        let command = SessionCommand::ConfirmDeposit { bidder: c.bidder_org_id, amount_fen: c.amount_fen, reference };
        self.on_session(&c.session_id, command, &meta).await
    }

    pub async fn refund_deposit(&self, c: pb::RefundDeposit) -> Result<CommandAccepted, ReplyError> {
        let meta = CommandMeta::from_context(c.context)?;
        let reference = text("reference", &c.reference, 100)?;
        let command = SessionCommand::RefundDeposit { bidder: c.bidder_org_id, reference };
        self.on_session(&c.session_id, command, &meta).await
    }

    pub async fn place_bid(&self, c: pb::PlaceBid) -> Result<CommandAccepted, ReplyError> {
        let meta = CommandMeta::from_context(c.context)?;
        let on_sale = {
            let d = self.directory.read().await;
            d.sessions.get(&c.session_id).is_none_or(|e| on_sale(&d, &e.state.result_id, &c.session_id))
        };
        let command = SessionCommand::Bid { amount_fen: c.amount_fen, on_sale };
        self.on_session(&c.session_id, command, &meta).await
    }

    pub async fn commit_bid(&self, c: pb::CommitBid) -> Result<CommandAccepted, ReplyError> {
        let meta = CommandMeta::from_context(c.context)?;
        let commitment =
            parse_hex32(&c.commitment).ok_or_else(|| ReplyError::invalid("commitment", "64 hex digits"))?;
        self.on_session(&c.session_id, SessionCommand::Commit { commitment }, &meta).await
    }

    pub async fn reveal_bid(&self, c: pb::RevealBid) -> Result<CommandAccepted, ReplyError> {
        let meta = CommandMeta::from_context(c.context)?;
        let nonce = parse_hex32(&c.nonce).ok_or_else(|| ReplyError::invalid("nonce", "64 hex digits"))?;
        let command = SessionCommand::Reveal { amount_fen: c.amount_fen, nonce };
        self.on_session(&c.session_id, command, &meta).await
    }

    pub async fn record_signed(&self, c: pb::RecordSigned) -> Result<CommandAccepted, ReplyError> {
        let meta = CommandMeta::from_context(c.context)?;
        let reference = text("reference", &c.reference, 200)?;
        if reference.is_empty() {
            return Err(ReplyError::invalid("reference", "the signed contract's number or reference is required"));
        }
        let command = SessionCommand::RecordSigned { reference };
        self.on_session(&c.session_id, command, &meta).await
    }

    pub async fn record_default(&self, c: pb::RecordDefault) -> Result<CommandAccepted, ReplyError> {
        let meta = CommandMeta::from_context(c.context)?;
        self.caught_up().await?;
        let seller_withdrew = {
            let d = self.directory.read().await;
            d.sessions.get(&c.session_id).and_then(|e| d.results.get(&e.state.result_id)).is_some_and(|r| r.withdrawn)
        };
        let command = SessionCommand::RecordDefault { reason: text("reason", &c.reason, 500)?, seller_withdrew };
        self.on_session(&c.session_id, command, &meta).await
    }

    async fn result_entry(&self, result_id: &str) -> Result<crate::facts::ResultEntry, ReplyError> {
        self.directory
            .read()
            .await
            .results
            .get(result_id)
            .filter(|e| !e.owner_org_id.is_empty())
            .cloned()
            .ok_or_else(|| ReplyError::new(ErrorCode::NotFound, "no such result"))
    }

    async fn facts(&self, result_id: &str) -> Result<crate::deal::ResultFacts, ReplyError> {
        Ok(self.result_entry(result_id).await?.facts())
    }

    pub async fn get_negotiation(&self, q: pb::GetNegotiation) -> Result<pb::NegotiationView, ReplyError> {
        let asker = q.asker.unwrap_or_default();
        let (state, version) = self.load_deal(&q.negotiation_id).await?;
        if !(supervisor(&asker) || asker.org_id == state.buyer_org_id || asker.org_id == state.seller_org_id) {
            return Err(ReplyError::new(ErrorCode::NotFound, "no such negotiation"));
        }
        let range = offer_range(state.offers.len(), q.offers_offset, q.offers_limit)?;
        Ok(negotiation_view(&state, version, range))
    }

    pub async fn list_negotiations(&self, q: pb::ListNegotiations) -> Result<pb::NegotiationList, ReplyError> {
        let asker = q.asker.unwrap_or_default();
        self.caught_up().await?;
        let d = self.directory.read().await;
        let mut entries: Vec<&Entry<DealState>> = d
            .deals
            .values()
            .filter(|e| q.result_id.is_empty() || e.state.result_id == q.result_id)
            .filter(|e| {
                supervisor(&asker) || asker.org_id == e.state.buyer_org_id || asker.org_id == e.state.seller_org_id
            })
            .collect();
        entries.sort_by_key(|e| std::cmp::Reverse(e.created_position));
        let (entries, total) = ttx_kernel::bus::page(entries, q.page.as_ref())?;
        // Lists carry each negotiation's latest offer only.
        let negotiations = entries
            .into_iter()
            .map(|e| negotiation_view(&e.state, e.version, e.state.offers.len().saturating_sub(1)..usize::MAX))
            .collect();
        Ok(pb::NegotiationList { negotiations, total })
    }

    pub async fn get_listing(&self, q: pb::GetListing) -> Result<pb::ListingView, ReplyError> {
        let asker = q.asker.unwrap_or_default();
        let (state, version, _) =
            self.listings.load(&stream("listing", &q.listing_id, "listing_id")?).await.map_err(|e| e.into_reply())?;
        if state.status == ListingStatus::None || asker.user_id.is_empty() {
            return Err(ReplyError::new(ErrorCode::NotFound, "no such listing"));
        }
        Ok(listing_view(&state, version, &asker))
    }

    pub async fn list_listings(&self, q: pb::ListListings) -> Result<pb::ListingList, ReplyError> {
        let asker = q.asker.unwrap_or_default();
        self.caught_up().await?;
        let d = self.directory.read().await;
        let mut entries: Vec<&Entry<ListingState>> =
            d.listings.values().filter(|e| q.result_id.is_empty() || e.state.result_id == q.result_id).collect();
        entries.sort_by_key(|e| std::cmp::Reverse(e.created_position));
        let (entries, total) = ttx_kernel::bus::page(entries, q.page.as_ref())?;
        let listings = entries.into_iter().map(|e| listing_view(&e.state, e.version, &asker)).collect();
        Ok(pb::ListingList { listings, total })
    }

    /// From the directory, once it holds what the log held when the query arrived: the live auction page asks
    /// often, and a long session is not read from the log each time.
    pub async fn get_session(&self, q: pb::GetSession) -> Result<pb::SessionView, ReplyError> {
        let asker = q.asker.unwrap_or_default();
        let d = self.session_directory(&q.session_id, &asker).await?;
        let e = session_entry(&d, &q.session_id)?;
        let mut view = session_view(&e.state, e.version, &asker, self.clock.now(), RECENT_BIDS);
        view.result_title = d.results.get(&e.state.result_id).map(|r| r.title.clone()).unwrap_or_default();
        Ok(view)
    }

    pub async fn list_bids(&self, q: pb::ListBids) -> Result<pb::BidPage, ReplyError> {
        let asker = q.asker.unwrap_or_default();
        if !(1..=MAX_BID_PAGE).contains(&q.limit) {
            return Err(ReplyError::invalid("limit", format!("1 to {MAX_BID_PAGE}")));
        }
        let d = self.session_directory(&q.session_id, &asker).await?;
        let s = &session_entry(&d, &q.session_id)?.state;
        let start = s.bids.partition_point(|b| b.seq <= q.after_seq);
        let page = s.bids[start..].iter().take(q.limit as usize);
        let bid_count = u32::try_from(s.bids.len()).unwrap_or(u32::MAX);
        Ok(pb::BidPage { bids: bid_views(s, &asker, page), bid_count })
    }

    pub async fn list_sessions(&self, q: pb::ListSessions) -> Result<pb::SessionList, ReplyError> {
        let asker = q.asker.unwrap_or_default();
        self.caught_up().await?;
        let d = self.directory.read().await;
        let mut entries: Vec<&Entry<SessionState>> =
            d.sessions.values().filter(|e| q.result_id.is_empty() || e.state.result_id == q.result_id).collect();
        entries.sort_by_key(|e| std::cmp::Reverse(e.created_position));
        let (entries, total) = ttx_kernel::bus::page(entries, q.page.as_ref())?;
        let now = self.clock.now();
        let sessions = entries
            .into_iter()
            .map(|e| {
                let mut view = session_view(&e.state, e.version, &asker, now, 1);
                view.result_title = d.results.get(&e.state.result_id).map(|r| r.title.clone()).unwrap_or_default();
                view
            })
            .collect();
        Ok(pb::SessionList { sessions, total })
    }

    /// A result's listed-price sales and bidding sessions, newest first (at most a page of each): what its page shows.
    pub async fn list_sales(&self, q: pb::ListSales) -> Result<pb::SalesOfResult, ReplyError> {
        let page = Some(ttx_proto::common::v1::PageRequest { offset: 0, limit: ttx_kernel::bus::MAX_PAGE });
        if q.result_id.is_empty() {
            return Err(ReplyError::invalid("result_id", "name the result"));
        }
        let listings =
            self.list_listings(pb::ListListings { page, asker: q.asker.clone(), result_id: q.result_id.clone() });
        let listings = listings.await?.listings;
        let sessions =
            self.list_sessions(pb::ListSessions { page, asker: q.asker, result_id: q.result_id }).await?.sessions;
        Ok(pb::SalesOfResult { listings, sessions })
    }

    /// Whether a negotiated deal on a result may close now at a price, by the rule accepting an offer applies.
    pub async fn get_deal_status(&self, q: pb::GetDealStatus) -> Result<pb::DealStatusView, ReplyError> {
        self.caught_up().await?;
        let entry = self.result_entry(&q.result_id).await?;
        let refused = crate::deal::may_close(&entry.facts(), q.price_fen).err();
        let running = matches!(refused, Some(crate::deal::DealRejection::NoticeRunning));
        Ok(pb::DealStatusView {
            may_close: refused.is_none(),
            blocked_by: refused.as_ref().map(Refusal::reason).unwrap_or_default().to_owned(),
            notice_ends_at: entry.notice.and_then(|n| n.ends_at).filter(|_| running).map(|t| t.to_proto()),
        })
    }

    pub async fn get_market(&self, q: pb::GetMarket) -> Result<pb::MarketView, ReplyError> {
        let asker = q.asker.unwrap_or_default();
        if asker.user_id.is_empty() {
            return Err(ReplyError::new(ErrorCode::NotFound, "no such result"));
        }
        sales::market_stream(&q.result_id)?;
        self.caught_up().await?;
        let d = self.directory.read().await;
        let entry = d.markets.get(&q.result_id);
        let state = entry.map(|e| e.state.clone()).unwrap_or_default();
        // Negotiations are confidential: others learn that one holds the result, not which.
        let insider = supervisor(&asker) || d.results.get(&q.result_id).is_some_and(|r| r.owner_org_id == asker.org_id);
        let shown = |kind: &str, id: &String| {
            if insider || kind != "negotiation" { id.clone() } else { String::new() }
        };
        Ok(pb::MarketView {
            result_id: q.result_id.clone(),
            open: state
                .open()
                .map(|(id, sale)| pb::SaleOpened {
                    result_id: q.result_id.clone(),
                    kind: sale.kind.clone(),
                    process_id: shown(&sale.kind, id),
                    mode: sale.mode,
                    exclusive: sale.exclusive,
                    // Who negotiates stays between the parties, the holder and supervisors.
                    opened_by_org_id: if insider { sale.by_org_id.clone() } else { String::new() },
                })
                .collect(),
            exclusive_deal_id: state.exclusive_grant().cloned().unwrap_or_default(),
            licences: state.licences().take(ttx_kernel::bus::MAX_PAGE as usize).cloned().collect(),
            licences_total: u32::try_from(state.licences().count()).unwrap_or(u32::MAX),
            licensing_stopped: state.licensing_stopped,
            version: entry.map_or(0, |e| e.version),
        })
    }

    pub async fn list_overdue_refunds(&self, q: pb::ListOverdueRefunds) -> Result<pb::OverdueRefundList, ReplyError> {
        if !supervisor(&q.asker.unwrap_or_default()) {
            return Err(ReplyError::new(ErrorCode::Forbidden, "administrators and regulators see overdue refunds"));
        }
        self.caught_up().await?;
        let d = self.directory.read().await;
        let now = self.clock.now();
        let mut refunds: Vec<pb::OverdueRefund> = d
            .sessions
            .values()
            .flat_map(|e| {
                e.state.overdue_refunds(now).into_iter().map(|(bidder, amount_fen, due_by)| pb::OverdueRefund {
                    session_id: e.state.id.clone(),
                    result_id: e.state.result_id.clone(),
                    bidder_org_id: bidder,
                    amount_fen,
                    due_by: Some(due_by.to_proto()),
                })
            })
            .collect();
        refunds.sort_by_key(|r| (r.due_by.map(|t| (t.seconds, t.nanos)), r.session_id.clone()));
        let total = u32::try_from(refunds.len()).unwrap_or(u32::MAX);
        refunds.truncate(MAX_OVERDUE_REFUNDS);
        Ok(pb::OverdueRefundList { refunds, total })
    }

    pub async fn list_pending_deadlines(
        &self,
        q: pb::ListPendingDeadlines,
    ) -> Result<pb::PendingDeadlineList, ReplyError> {
        if !supervisor(&q.asker.unwrap_or_default()) {
            return Err(ReplyError::new(ErrorCode::Forbidden, "administrators and regulators see pending deadlines"));
        }
        self.caught_up().await?;
        let mut pending = pending_deadlines(&*self.directory.read().await);
        pending.sort_by_key(|p| (p.since.map(|t| (t.seconds, t.nanos)), p.id.clone()));
        let total = u32::try_from(pending.len()).unwrap_or(u32::MAX);
        pending.truncate(MAX_OVERDUE_REFUNDS);
        Ok(pb::PendingDeadlineList { pending, total })
    }

    /// The directory, once it holds what the log held when a query about session `id` arrived. Anonymous askers
    /// see no session.
    async fn session_directory(
        &self,
        id: &str,
        asker: &Actor,
    ) -> Result<tokio::sync::RwLockReadGuard<'_, Directory>, ReplyError> {
        stream("session", id, "session_id")?;
        if asker.user_id.is_empty() {
            return Err(ReplyError::new(ErrorCode::NotFound, "no such session"));
        }
        self.caught_up().await?;
        Ok(self.directory.read().await)
    }

    async fn load_deal(&self, id: &str) -> Result<(DealState, u64), ReplyError> {
        let (state, version, _) =
            self.deals.load(&stream("deal", id, "negotiation_id")?).await.map_err(|e| e.into_reply())?;
        if state.status == DealStatus::None {
            return Err(ReplyError::new(ErrorCode::NotFound, "no such negotiation"));
        }
        Ok((state, version))
    }
}

/// Offers one negotiation answer shows unless asked for a page.
pub const OFFER_PAGE: usize = 20;

/// A negotiation with `offers` of its offers (oldest first).
fn negotiation_view(s: &DealState, version: u64, offers: std::ops::Range<usize>) -> pb::NegotiationView {
    pb::NegotiationView {
        negotiation_id: s.id.clone(),
        result_id: s.result_id.clone(),
        seller_org_id: s.seller_org_id.clone(),
        buyer_org_id: s.buyer_org_id.clone(),
        status: match s.status {
            DealStatus::Open | DealStatus::None => "open",
            DealStatus::Agreed => "agreed",
            DealStatus::Abandoned => "abandoned",
        }
        .into(),
        offers: s
            .offers
            .iter()
            .skip(offers.start)
            .take(offers.end.saturating_sub(offers.start))
            .map(|(v, by, t)| pb::OfferMade {
                version: *v,
                by_org_id: by.clone(),
                by_user_id: String::new(),
                terms: Some(t.clone()),
            })
            .collect(),
        deal: s.deal.clone(),
        version,
        mode: s.mode,
        exclusive: s.exclusive,
        offers_total: u32::try_from(s.offers.len()).unwrap_or(u32::MAX),
    }
}

/// The offers a request asks for: a page, or the latest `OFFER_PAGE`.
fn offer_range(total: usize, offset: u32, limit: u32) -> Result<std::ops::Range<usize>, ReplyError> {
    match limit as usize {
        0 => Ok(total.saturating_sub(OFFER_PAGE)..total),
        n if n <= 100 => Ok(offset as usize..(offset as usize).saturating_add(n)),
        _ => Err(ReplyError::invalid("offers_limit", "1 to 100")),
    }
}

fn listing_view(s: &ListingState, version: u64, asker: &Actor) -> pb::ListingView {
    let insider = supervisor(asker) || asker.org_id == s.seller_org_id;
    pb::ListingView {
        listing_id: s.id.clone(),
        result_id: s.result_id.clone(),
        seller_org_id: s.seller_org_id.clone(),
        price_fen: s.price_fen,
        disclosure_ends: s.disclosure_ends.map(Timestamp::to_proto),
        status: match s.status {
            ListingStatus::Open | ListingStatus::None => "open",
            ListingStatus::Sold => "sold",
            ListingStatus::ToAuction => "to_auction",
            ListingStatus::Lapsed => "lapsed",
            ListingStatus::Cancelled => "cancelled",
        }
        .into(),
        registrants: s.registrants.len() as u32,
        registered: s.registrants.contains_key(&asker.org_id),
        registrant_org_ids: if insider { s.registrants.keys().cloned().collect() } else { Vec::new() },
        session_id: if s.status == ListingStatus::ToAuction {
            crate::listed::session_id_for(&s.id)
        } else {
            String::new()
        },
        deal: s.deal.clone(),
        terms: Some(s.terms.clone()),
        version,
    }
}

/// An opened session of the directory.
fn session_entry<'a>(d: &'a Directory, id: &str) -> Result<&'a Entry<SessionState>, ReplyError> {
    d.sessions
        .get(id)
        .filter(|e| e.state.phase != Phase::None)
        .ok_or_else(|| ReplyError::new(ErrorCode::NotFound, "no such session"))
}

/// How many of the latest bids a session's view carries.
pub const RECENT_BIDS: usize = 50;
/// Every deadline recorded as pending, for the administrators' alert and the timer that completes them.
fn pending_deadlines(d: &Directory) -> Vec<pb::PendingDeadline> {
    let sessions = d.sessions.values().filter_map(|e| {
        let pending = e.state.pending();
        let first = pending.iter().min_by_key(|p| (p.year, p.from))?;
        Some(pb::PendingDeadline {
            process: "session".into(),
            id: e.state.id.clone(),
            result_id: e.state.result_id.clone(),
            year: first.year,
            since: Some(first.from.to_proto()),
            deadlines: pending.iter().map(|p| p.what.to_owned()).collect(),
        })
    });
    let listings = d.listings.values().filter_map(|e| {
        let deal = e.state.deal.as_ref().filter(|d| d.pending_year != 0)?;
        Some(pb::PendingDeadline {
            process: "listing".into(),
            id: e.state.id.clone(),
            result_id: e.state.result_id.clone(),
            year: deal.pending_year,
            since: deal.agreed_at,
            deadlines: vec!["contract".into()],
        })
    });
    sessions.chain(listings).collect()
}

/// Most overdue refunds one answer lists.
pub const MAX_OVERDUE_REFUNDS: usize = 1000;
/// Most bids one page of list-bids holds.
pub const MAX_BID_PAGE: u32 = 1000;

/// Bids as `asker` may see them: other bidders by pseudonym ("竞买人 <n>", numbered in the order they registered)
/// unless the asker is the seller or a supervisor.
fn bid_views<'a>(s: &SessionState, asker: &Actor, bids: impl Iterator<Item = &'a Bid>) -> Vec<pb::BidView> {
    let insider = supervisor(asker) || asker.org_id == s.seller_org_id;
    let pseudonym = |org: &str| -> String {
        if insider || org == asker.org_id {
            org.to_owned()
        } else {
            let n = s.bidders.get(org).map_or(0, |b| b.number);
            format!("竞买人 {n}")
        }
    };
    bids.map(|b| pb::BidView {
        seq: b.seq,
        bidder: pseudonym(&b.bidder),
        amount_fen: b.amount_fen,
        mine: b.bidder == asker.org_id,
    })
    .collect()
}

/// A session as `asker` may see it, with its latest `recent` bids.
fn session_view(s: &SessionState, version: u64, asker: &Actor, now: Timestamp, recent: usize) -> pb::SessionView {
    let insider = supervisor(asker) || asker.org_id == s.seller_org_id;
    let mut rules = s.rules.as_ref().map(crate::session::Rules::to_pb);
    if let (Some(r), false) = (&mut rules, insider) {
        r.reserve_fen = None;
    }
    pb::SessionView {
        session_id: s.id.clone(),
        result_id: s.result_id.clone(),
        seller_org_id: s.seller_org_id.clone(),
        rules,
        phase: match s.phase {
            Phase::Open | Phase::None => "open",
            Phase::Revealing => "revealing",
            Phase::Closed => "closed",
            Phase::Defaulted => "defaulted",
            Phase::Cancelled => "cancelled",
        }
        .into(),
        ends_at: s.ends_at.map(Timestamp::to_proto),
        bids: bid_views(s, asker, s.bids[s.bids.len().saturating_sub(recent)..].iter()),
        bid_count: u32::try_from(s.bids.len()).unwrap_or(u32::MAX),
        bidders: s.bidders.len() as u32,
        registered: s.bidders.contains_key(&asker.org_id),
        my_deposit: s
            .bidders
            .get(&asker.org_id)
            .map(|b| match b.deposit {
                Deposit::Unpaid => "unpaid",
                Deposit::Confirmed => "confirmed",
                Deposit::Refunded => "refunded",
                Deposit::Forfeited => "forfeited",
            })
            .unwrap_or_default()
            .into(),
        commitments: s.commitments.len() as u32,
        committed: s.commitments.contains_key(&asker.org_id),
        outcome: s.outcome.clone(),
        deal: s.deal.clone(),
        server_time: Some(now.to_proto()),
        version,
        listing_id: s.listing_id.clone(),
        result_title: String::new(),
        contract_reference: s.signed.clone().unwrap_or_default(),
        terms: s.terms.clone(),
        cancellation: s.cancellation.clone(),
    }
}

impl ttx_kernel::projection::ReadModel for Service {
    async fn apply(&self, event: &RecordedEvent) {
        if let Err(e) = Self::fold_into(&mut *self.directory.write().await, event) {
            tracing::error!(position = event.position(), error = %e, "an event negotiation reads does not decode");
        }
        if let Some(id) = event.stream_id().strip_prefix("negotiation-session-") {
            let changes = self.session_changes.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(tx) = changes.as_ref() {
                let _ = tx.send((id.to_owned(), event.version()));
            }
        }
    }
}

impl Service {
    /// Negotiation's requests, each with its handler.
    pub fn router(self: &Arc<Self>) -> Router<Self> {
        Router::new(subjects::QUEUE_GROUP, self.clone())
            .route(|s: Arc<Self>, r: pb::OpenNegotiation| async move { s.open_negotiation(r).await })
            .route(|s: Arc<Self>, r: pb::MakeOffer| async move { s.make_offer(r).await })
            .route(|s: Arc<Self>, r: pb::AcceptOffer| async move { s.accept_offer(r).await })
            .route(|s: Arc<Self>, r: pb::AbandonNegotiation| async move { s.abandon_negotiation(r).await })
            .route(|s: Arc<Self>, r: pb::OpenListing| async move { s.open_listing(r).await })
            .route(|s: Arc<Self>, r: pb::RegisterIntent| async move { s.register_intent(r).await })
            .route(|s: Arc<Self>, r: pb::Relist| async move { s.relist(r).await })
            .route(|s: Arc<Self>, r: pb::OpenSession| async move { s.open_session(r).await })
            .route(|s: Arc<Self>, r: pb::StopLicensing| async move { s.stop_licensing(r).await })
            .route(|s: Arc<Self>, r: pb::RegisterBidder| async move { s.register_bidder(r).await })
            .route(|s: Arc<Self>, r: pb::PlaceBid| async move { s.place_bid(r).await })
            .route(|s: Arc<Self>, r: pb::CommitBid| async move { s.commit_bid(r).await })
            .route(|s: Arc<Self>, r: pb::RevealBid| async move { s.reveal_bid(r).await })
            .route(|s: Arc<Self>, r: pb::RecordSigned| async move { s.record_signed(r).await })
            .route(|s: Arc<Self>, r: pb::RecordDefault| async move { s.record_default(r).await })
            .route(|s: Arc<Self>, r: pb::GetNegotiation| async move { s.get_negotiation(r).await })
            .route(|s: Arc<Self>, r: pb::ListNegotiations| async move { s.list_negotiations(r).await })
            .route(|s: Arc<Self>, r: pb::GetListing| async move { s.get_listing(r).await })
            .route(|s: Arc<Self>, r: pb::ListListings| async move { s.list_listings(r).await })
            .route(|s: Arc<Self>, r: pb::GetSession| async move { s.get_session(r).await })
            .route(|s: Arc<Self>, r: pb::GetDealStatus| async move { s.get_deal_status(r).await })
            .route(|s: Arc<Self>, r: pb::ListSales| async move { s.list_sales(r).await })
            .route(|s: Arc<Self>, r: pb::ListBids| async move { s.list_bids(r).await })
            .route(|s: Arc<Self>, r: pb::ListSessions| async move { s.list_sessions(r).await })
            .route(|s: Arc<Self>, r: pb::GetMarket| async move { s.get_market(r).await })
            .route(|s: Arc<Self>, r: pb::ListOverdueRefunds| async move { s.list_overdue_refunds(r).await })
            .route(|s: Arc<Self>, r: pb::ListPendingDeadlines| async move { s.list_pending_deadlines(r).await })
            .route(|s: Arc<Self>, r: pb::ConfirmDeposit| async move { s.confirm_deposit(r).await })
            .route(|s: Arc<Self>, r: pb::RefundDeposit| async move { s.refund_deposit(r).await })
    }
}
