//! The listings service's shell: result commands and queries on the bus, the directory of results folded from the
//! log, and the timer that ends public notices. Search and matching are in [`discovery`].

mod discovery;
mod due;

pub use discovery::match_stream;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prost::Message;
use tokio::sync::{Notify, RwLock, watch};
use ttx_kernel::bus::{ErrorCode, ReplyError};
use ttx_kernel::handler::decode_event;
use ttx_kernel::projection::Progress;
use ttx_kernel::rpc::Router;
use ttx_kernel::{
    Clock, CommandHandler, CommandId, CommandMeta, Decider, EventLog, RecordedEvent, StreamId, Timestamp,
};
use ttx_proto::common::v1::{Actor, CommandAccepted, Role};
use ttx_proto::listings::v1::{self as pb, subjects};

use crate::codec::listing_to_pb;
use crate::demand::{DemandCommand, DemandEvent, DemandState, Demands};
use crate::domain::{ResultCommand, ResultEvent, ResultState, Results, Status, Visibility};
use crate::matching::{MatchEvent, Matches};
use crate::reactions::Reaction;
use crate::search::SearchIndex;
use crate::values::validate_listing;

/// How often the timer looks for notices that reached their end.
const TIMER_TICK: Duration = Duration::from_millis(250);
/// How long a list waits for the directory to catch up with the log as it was when the query arrived.
const CATCH_UP: Duration = Duration::from_secs(5);

pub fn result_stream(id: &str) -> Result<StreamId, ReplyError> {
    StreamId::new("listings", "result", id).map_err(|e| ReplyError::invalid("result_id", e.to_string()))
}

/// A required text of at most `max` characters, trimmed.
fn text(field: &'static str, s: &str, max: usize) -> Result<String, ReplyError> {
    let t = s.trim();
    if t.is_empty() || t.chars().count() > max {
        return Err(ReplyError::invalid(field, format!("must be 1 to {max} characters")));
    }
    Ok(t.to_owned())
}

fn status_pb(s: Status) -> pb::ResultStatus {
    match s {
        Status::None => pb::ResultStatus::Unspecified,
        Status::Draft => pb::ResultStatus::Draft,
        Status::Submitted => pb::ResultStatus::Submitted,
        Status::Returned => pb::ResultStatus::Returned,
        Status::Approved => pb::ResultStatus::Approved,
        Status::Published => pb::ResultStatus::Published,
        Status::UnderContract => pb::ResultStatus::UnderContract,
        Status::Transacted => pb::ResultStatus::Transacted,
        Status::Withdrawn => pb::ResultStatus::Withdrawn,
    }
}

/// Whether `asker` may see the result: the holder's members, administrators and regulators see every state; other
/// users see it once published (and not withdrawn): anyone if it is listed as public, logged-in users if it is
/// listed for registered users, nobody else if it is shown only under a non-disclosure agreement.
pub fn may_see(asker: &Actor, state: &ResultState) -> bool {
    if asker.has_role(Role::Admin) || asker.has_role(Role::Regulator) || asker.org_id == state.owner_org_id {
        return true;
    }
    let visibility = state.listing.as_ref().map(|l| l.visibility);
    let audience_ok = match visibility {
        Some(Visibility::Public) => true,
        Some(Visibility::RegisteredUsers) => !asker.user_id.is_empty(),
        Some(Visibility::UnderNda) | None => false,
    };
    audience_ok && matches!(state.status, Status::Published | Status::UnderContract | Status::Transacted)
}

/// Objections one answer shows; the rest page through `list-objections`.
pub const OBJECTION_PAGE: usize = 20;
/// The most objections one page may ask for.
pub const MAX_OBJECTION_PAGE: usize = 100;

/// A notice's objections in the order they were raised, from `offset`, at most `limit`, as `asker` may see them: the
/// objector's organisation is not shown to anonymous visitors.
pub fn objections(
    notice: &crate::domain::Notice,
    asker: &Actor,
    offset: usize,
    limit: usize,
) -> Vec<pb::ObjectionView> {
    let mut all: Vec<(&String, &crate::domain::Objection)> = notice.objections.iter().collect();
    all.sort_by_key(|(_, o)| o.seq);
    all.into_iter()
        .skip(offset)
        .take(limit)
        .map(|(id, o)| pb::ObjectionView {
            objection_id: id.clone(),
            by_org_id: if asker.user_id.is_empty() { String::new() } else { o.by.org_id.clone() },
            text: o.text.clone(),
            answer: o.answer.clone().unwrap_or_default(),
            resolution: match o.upheld {
                None => 0,
                Some(true) => 1,
                Some(false) => 2,
            },
            raised_at: o.raised_at.map(Timestamp::to_proto),
            answered_at: o.answered_at.map(Timestamp::to_proto),
            resolved_at: o.resolved_at.map(Timestamp::to_proto),
            resolution_note: o.note.clone(),
        })
        .collect()
}

pub fn view(state: &ResultState, version: u64, asker: &Actor) -> pb::ResultView {
    pb::ResultView {
        result_id: state.id.clone(),
        owner_org_id: state.owner_org_id.clone(),
        status: status_pb(state.status).into(),
        listing: state.listing.as_ref().map(listing_to_pb),
        return_reasons: state.return_reasons.clone(),
        co_holder_org_ids: state.co_holders(),
        consented_org_ids: state.consents.iter().cloned().collect(),
        notice: state.notice.as_ref().map(|n| pb::NoticeView {
            price_fen: n.price_fen,
            starts_at: Some(n.starts_at.to_proto()),
            ends_at: Some(n.ends_at.to_proto()),
            ended: n.ended,
            objections: objections(n, asker, 0, OBJECTION_PAGE),
            objections_total: u32::try_from(n.objections.len()).unwrap_or(u32::MAX),
            open_objections: u32::try_from(n.open_objections()).unwrap_or(u32::MAX),
        }),
        version,
    }
}

/// A result as the directory holds it.
#[derive(Debug, Clone, Default)]
struct Entry {
    state: ResultState,
    version: u64,
    created_position: u64,
    /// Where it was (last) published: search's "newest".
    published_position: u64,
}

/// A demand as the directory holds it.
#[derive(Debug, Clone, Default)]
struct DemandEntry {
    state: DemandState,
    version: u64,
    created_position: u64,
}

/// What the service folds from the log: its results and demands, and the related-party links identity records
/// (read from identity's published events, the contract, not from its code).
#[derive(Debug, Default)]
struct Directory {
    /// The working-day calendar, folded from identity's schedules; the handlers decide with it.
    calendar: ttx_kernel::calendar::CalendarView,
    results: BTreeMap<String, Entry>,
    demands: BTreeMap<String, DemandEntry>,
    /// (organisation, related organisation) → the declared relation, and where it was last withdrawn.
    related: BTreeMap<(String, String), Relation>,
    /// Organisation → the member it named to act for it as a co-holder (identity's `RepresentativeNamed`).
    representatives: BTreeMap<String, String>,
    /// Organisation → its region, as registered.
    regions: BTreeMap<String, String>,
    /// Organisation → its name, as registered (what pages show for the ids a view carries).
    org_names: BTreeMap<String, String>,
    /// Demands whose matches are recorded.
    matched: BTreeSet<String>,
    /// Organisation → the match notices for its results, oldest first.
    notifications: BTreeMap<String, Vec<pb::Notification>>,
    /// What negotiation decided that the results do not record yet ([`crate::reactions`]).
    reactions_owed: Vec<Reaction>,
}

/// A related-party link as identity's events record it.
#[derive(Debug, Clone, Default)]
struct Relation {
    relation: String,
    declared: bool,
    /// The log position of its last withdrawal (0: never withdrawn).
    withdrawn_at: u64,
}

impl Directory {
    /// The relation between two organisations, in either direction, that held at some moment since log position
    /// `since` (a challenge's posting): declared now, or withdrawn after it. Withdrawing a declaration while a
    /// challenge between the two is open does not clear it.
    fn relation(&self, a: &str, b: &str, since: u64) -> Option<String> {
        [(a, b), (b, a)]
            .into_iter()
            .filter_map(|(x, y)| self.related.get(&(x.to_owned(), y.to_owned())))
            .find(|r| r.declared || r.withdrawn_at > since)
            .map(|r| r.relation.clone())
    }

    /// The relation between a demand's poster and `org`, as [`Directory::relation`] counts it for that demand.
    fn related_to_poster(&self, demand_id: &str, org: &str) -> Option<String> {
        let d = self.demands.get(demand_id)?;
        self.relation(&d.state.poster_org_id, org, d.created_position)
    }
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

/// The listings service.
pub struct Service {
    log: Arc<dyn EventLog>,
    clock: Arc<dyn Clock>,
    results: CommandHandler<Results>,
    demands: CommandHandler<Demands>,
    matches: CommandHandler<Matches>,
    directory: RwLock<Directory>,
    progress: Progress,
    search: Arc<SearchIndex>,
    /// What the indexer has still to do, and the wake-up it waits for.
    pending: Mutex<discovery::Pending>,
    wake: Notify,
    /// Woken when the directory learns of a reaction owed.
    reacting: Notify,
    /// The log position the search index has reached.
    indexed: watch::Sender<u64>,
    /// Demands this instance has tried to match.
    match_attempted: Mutex<HashSet<String>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("listings::Service").finish_non_exhaustive()
    }
}

impl Service {
    pub fn new(log: Arc<dyn EventLog>, clock: Arc<dyn Clock>) -> Self {
        let calendar = ttx_kernel::calendar::CalendarView::default();
        let version = crate::domain::RULES_2026.version;
        let results = CommandHandler::new(Results::default(), log.clone(), clock.clone())
            .with_rule_version(version)
            .with_calendar(calendar.clone());
        let demands = CommandHandler::new(Demands, log.clone(), clock.clone()).with_rule_version(version);
        let matches = CommandHandler::new(Matches, log.clone(), clock.clone()).with_rule_version(version);
        let search = Arc::new(SearchIndex::new().expect("an empty index in memory"));
        Self {
            log,
            clock,
            results,
            demands,
            matches,
            directory: RwLock::new(Directory { calendar, ..Directory::default() }),
            progress: Progress::default(),
            search,
            pending: Mutex::default(),
            wake: Notify::new(),
            reacting: Notify::new(),
            indexed: watch::Sender::new(0),
            match_attempted: Mutex::default(),
        }
    }

    /// The search index, as the indexer keeps it.
    pub fn search_index(&self) -> &SearchIndex {
        &self.search
    }

    fn fold_into(directory: &mut Directory, event: &RecordedEvent) -> Result<(), ttx_kernel::DecodeError> {
        let stream = event.stream_id();
        if stream == ttx_kernel::calendar::STREAM {
            ttx_kernel::calendar::fold(&directory.calendar, event);
        }
        if let Some(id) = stream.strip_prefix("listings-result-") {
            let e: ResultEvent = decode_event(event)?;
            let entry = directory.results.entry(id.to_owned()).or_default();
            match e {
                ResultEvent::Created { .. } => entry.created_position = event.position(),
                ResultEvent::Published => entry.published_position = event.position(),
                _ => {}
            }
            entry.state = Results::default().evolve(std::mem::take(&mut entry.state), &e);
            entry.version = event.version();
        } else if let Some(id) = stream.strip_prefix("listings-demand-") {
            let e: DemandEvent = decode_event(event)?;
            let entry = directory.demands.entry(id.to_owned()).or_default();
            if matches!(e, DemandEvent::Posted { .. }) {
                entry.created_position = event.position();
            }
            entry.state = Demands.evolve(std::mem::take(&mut entry.state), &e);
            entry.version = event.version();
        } else if stream.starts_with("negotiation-") {
            if let Some(reaction) = crate::reactions::of_event(event)? {
                directory.reactions_owed.push(reaction);
            }
        } else if stream.starts_with("listings-match-") {
            let MatchEvent::Matched(m) = decode_event(event)?;
            directory.matched.insert(m.demand_id.clone());
            for r in &m.matches {
                directory.notifications.entry(r.org_id.clone()).or_default().push(pb::Notification {
                    demand_id: m.demand_id.clone(),
                    demand_title: m.demand_title.clone(),
                    result_id: r.id.clone(),
                    result_title: r.title.clone(),
                    score: r.score,
                    reasons: r.reasons.clone(),
                });
            }
        } else if stream.starts_with("identity-org-") {
            let malformed = |e: prost::DecodeError| ttx_kernel::DecodeError::Malformed {
                event_type: event.event_type().to_owned(),
                reason: e.to_string(),
            };
            match event.event_type() {
                "ttx.identity.v1.OrganisationRegistered" => {
                    let p = ttx_proto::identity::v1::OrganisationRegistered::decode(event.payload().clone())
                        .map_err(malformed)?;
                    directory.org_names.insert(p.org_id.clone(), p.name);
                    directory.regions.insert(p.org_id, p.region);
                }
                "ttx.identity.v1.RelatedPartyDeclared" => {
                    let p = ttx_proto::identity::v1::RelatedPartyDeclared::decode(event.payload().clone())
                        .map_err(malformed)?;
                    let r = directory.related.entry((p.org_id, p.related_org_id)).or_default();
                    r.relation = p.relation;
                    r.declared = true;
                }
                "ttx.identity.v1.RepresentativeNamed" => {
                    let p = ttx_proto::identity::v1::RepresentativeNamed::decode(event.payload().clone())
                        .map_err(malformed)?;
                    directory.representatives.insert(p.org_id, p.user_id);
                }
                "ttx.identity.v1.RelatedPartyWithdrawn" => {
                    let p = ttx_proto::identity::v1::RelatedPartyWithdrawn::decode(event.payload().clone())
                        .map_err(malformed)?;
                    if let Some(r) = directory.related.get_mut(&(p.org_id, p.related_org_id)) {
                        r.declared = false;
                        r.withdrawn_at = event.position();
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Folds the log into the directory, from the start, then live.
    pub async fn project(self: Arc<Self>) {
        self.progress.follow(self.log.clone(), self.as_ref()).await;
    }

    /// Runs the timers until the task is dropped: every tick, whatever is due ([`due::due`]) is fired.
    pub async fn timers(self: Arc<Self>) {
        // Nothing fires on a view still replaying the log.
        while self.caught_up().await.is_err() {
            tokio::time::sleep(TIMER_TICK).await;
        }
        loop {
            self.fire_due().await;
            tokio::time::sleep(TIMER_TICK).await;
        }
    }

    /// Fires what is due now: each command's id is derived from what it fires, so when several instances (or a
    /// restart) fire the same timer, one outcome is stored and the others change nothing. Answers what this look
    /// tried: (what, stream, the events it wrote).
    pub async fn fire_due(&self) -> Vec<(&'static str, String, usize)> {
        let due = due::due(&*self.directory.read().await, self.clock.now());
        let mut fired = Vec::new();
        for due in due {
            let meta = CommandMeta::new(due.command_id, system_actor());
            let outcome = match &due.command {
                due::Command::Result(c) => carry_out(&self.results, &due.stream, c, &meta).await,
                due::Command::Demand(c) => carry_out(&self.demands, &due.stream, c, &meta).await,
            };
            let written = match outcome {
                Ok(events) => {
                    if events > 0 {
                        tracing::info!(what = due.what, stream = %due.stream, events, "fired");
                    }
                    events
                }
                Err(e) => {
                    tracing::warn!(what = due.what, stream = %due.stream, error = %e, "did not fire");
                    0
                }
            };
            fired.push((due.what, due.stream.as_str().to_owned(), written));
        }
        fired
    }

    /// Carries out the reactions owed ([`crate::reactions`]) as the directory learns of them, until the task is
    /// dropped. A reaction the log could not take now is kept and tried again a tick later.
    pub async fn react(self: Arc<Self>) {
        // Replayed history is judged against a directory that has read it all.
        while self.caught_up().await.is_err() {
            tokio::time::sleep(TIMER_TICK).await;
        }
        loop {
            if self.carry_reactions().await {
                self.reacting.notified().await;
            } else {
                tokio::time::sleep(TIMER_TICK).await;
            }
        }
    }

    /// One round of reactions: whether every one owed was carried out (or refused for good).
    async fn carry_reactions(&self) -> bool {
        let owed: Vec<Reaction> = {
            let mut directory = self.directory.write().await;
            let owed = std::mem::take(&mut directory.reactions_owed);
            owed.into_iter().filter(|r| !r.recorded(directory.results.get(r.result_id()).map(|e| &e.state))).collect()
        };
        let mut all = true;
        for reaction in owed {
            let (Ok(stream), Ok(command_id)) = (result_stream(reaction.result_id()), reaction.command_id()) else {
                continue;
            };
            let meta = CommandMeta::new(command_id, system_actor());
            let (result, deal) = (reaction.result_id(), reaction.deal_id());
            match self.results.handle(&stream, &reaction.command(), &meta).await {
                Ok(h) if !h.events.is_empty() => tracing::info!(result, deal, "a deal recorded on its result"),
                Ok(_) => {}
                Err(ttx_kernel::CommandError::Rejected(e)) => {
                    tracing::warn!(result, deal, error = %e, "a deal does not fit its result")
                }
                Err(e) => {
                    // The log was unavailable or busy: try again on the next tick.
                    tracing::warn!(result, error = %e, "could not record a deal yet");
                    self.directory.write().await.reactions_owed.push(reaction);
                    all = false;
                }
            }
        }
        all
    }

    /// Waits until the directory holds what the log held when called (at most a few seconds).
    pub async fn caught_up(&self) -> Result<(), ReplyError> {
        self.progress.caught_up(self.log.as_ref(), CATCH_UP).await
    }

    async fn handle(
        &self,
        result_id: &str,
        command: ResultCommand,
        meta: &CommandMeta,
    ) -> Result<CommandAccepted, ReplyError> {
        let stream = result_stream(result_id)?;
        let handled = self.results.handle(&stream, &command, meta).await.map_err(|e| e.into_reply())?;
        Ok(handled.accepted())
    }

    pub async fn create_result(&self, c: pb::CreateResult) -> Result<CommandAccepted, ReplyError> {
        let meta = CommandMeta::from_context(c.context)?;
        let listing = validate_listing(c.listing.unwrap_or_default())?;
        self.handle(&c.result_id, ResultCommand::Create { id: c.result_id.clone(), listing }, &meta).await
    }

    pub async fn edit_result(&self, c: pb::EditResult) -> Result<CommandAccepted, ReplyError> {
        let meta = CommandMeta::from_context(c.context)?;
        let listing = validate_listing(c.listing.unwrap_or_default())?;
        self.handle(&c.result_id, ResultCommand::Edit { listing }, &meta).await
    }

    pub async fn submit_result(&self, c: pb::SubmitResult) -> Result<CommandAccepted, ReplyError> {
        let meta = CommandMeta::from_context(c.context)?;
        self.handle(&c.result_id, ResultCommand::Submit, &meta).await
    }

    pub async fn approve_result(&self, c: pb::ApproveResult) -> Result<CommandAccepted, ReplyError> {
        let meta = CommandMeta::from_context(c.context)?;
        self.handle(&c.result_id, ResultCommand::Approve, &meta).await
    }

    pub async fn publish_result(&self, c: pb::PublishResult) -> Result<CommandAccepted, ReplyError> {
        let meta = CommandMeta::from_context(c.context)?;
        self.handle(&c.result_id, ResultCommand::Publish, &meta).await
    }

    pub async fn shortlist_application(&self, c: pb::ShortlistApplication) -> Result<CommandAccepted, ReplyError> {
        let meta = CommandMeta::from_context(c.context)?;
        let related = self.applicant_related(&c.demand_id, &c.application_id).await?;
        let command = DemandCommand::Shortlist { application_id: c.application_id, related };
        self.handle_demand(&c.demand_id, command, &meta).await
    }

    pub async fn award_challenge(&self, c: pb::AwardChallenge) -> Result<CommandAccepted, ReplyError> {
        let meta = CommandMeta::from_context(c.context)?;
        let related = self.applicant_related(&c.demand_id, &c.application_id).await?;
        let command = DemandCommand::Award { application_id: c.application_id, related };
        self.handle_demand(&c.demand_id, command, &meta).await
    }

    /// The applicant's relation to the demand's poster, as of now: checked again at each step.
    async fn applicant_related(&self, demand_id: &str, application_id: &str) -> Result<Option<String>, ReplyError> {
        self.caught_up().await?;
        let directory = self.directory.read().await;
        let applicant = directory
            .demands
            .get(demand_id)
            .and_then(|d| d.state.applications.get(application_id))
            .map(|a| a.org_id.clone());
        Ok(applicant.and_then(|org| directory.related_to_poster(demand_id, &org)))
    }

    pub async fn return_result(&self, c: pb::ReturnResult) -> Result<CommandAccepted, ReplyError> {
        let meta = CommandMeta::from_context(c.context)?;
        let reasons = c.reasons.iter().map(|r| text("reasons", r, 500)).collect::<Result<Vec<_>, _>>()?;
        self.handle(&c.result_id, ResultCommand::Return { reasons }, &meta).await
    }

    pub async fn consent_as_co_holder(&self, c: pb::ConsentAsCoHolder) -> Result<CommandAccepted, ReplyError> {
        let meta = CommandMeta::from_context(c.context)?;
        self.caught_up().await?;
        let named = self.directory.read().await.representatives.get(&meta.actor.org_id) == Some(&meta.actor.user_id);
        self.handle(&c.result_id, ResultCommand::Consent { named }, &meta).await
    }

    pub async fn withdraw_result(&self, c: pb::WithdrawResult) -> Result<CommandAccepted, ReplyError> {
        let meta = CommandMeta::from_context(c.context)?;
        let reason = text("reason", &c.reason, 500)?;
        self.handle(&c.result_id, ResultCommand::Withdraw { reason }, &meta).await
    }

    pub async fn start_notice(&self, c: pb::StartNotice) -> Result<CommandAccepted, ReplyError> {
        let meta = CommandMeta::from_context(c.context)?;
        // The notice's end is counted with the calendar as the log holds it now.
        self.caught_up().await?;
        if c.days > 365 {
            return Err(ReplyError::invalid("days", "a notice runs at most 365 days"));
        }
        let command = ResultCommand::StartNotice { price_fen: c.price_fen, days: c.days };
        self.handle(&c.result_id, command, &meta).await
    }

    pub async fn raise_objection(&self, c: pb::RaiseObjection) -> Result<CommandAccepted, ReplyError> {
        let meta = CommandMeta::from_context(c.context)?;
        let objection_id = text("objection_id", &c.objection_id, 64)?;
        let command = ResultCommand::RaiseObjection { objection_id, text: text("text", &c.text, 2000)? };
        self.handle(&c.result_id, command, &meta).await
    }

    pub async fn answer_objection(&self, c: pb::AnswerObjection) -> Result<CommandAccepted, ReplyError> {
        let meta = CommandMeta::from_context(c.context)?;
        let command =
            ResultCommand::AnswerObjection { objection_id: c.objection_id, answer: text("answer", &c.answer, 2000)? };
        self.handle(&c.result_id, command, &meta).await
    }

    pub async fn resolve_objection(&self, c: pb::ResolveObjection) -> Result<CommandAccepted, ReplyError> {
        let meta = CommandMeta::from_context(c.context)?;
        let command = ResultCommand::ResolveObjection {
            objection_id: c.objection_id,
            upheld: c.upheld,
            note: text("note", &c.note, 2000)?,
        };
        self.handle(&c.result_id, command, &meta).await
    }

    pub async fn get_result(&self, q: pb::GetResult) -> Result<pb::ResultView, ReplyError> {
        let asker = q.asker.unwrap_or_default();
        let stream = result_stream(&q.result_id)?;
        let (state, version, _) = self.results.load(&stream).await.map_err(|e| e.into_reply())?;
        // Someone who may not see a result learns nothing, not even that it exists.
        if state.status == Status::None || !may_see(&asker, &state) {
            return Err(ReplyError::new(ErrorCode::NotFound, "no such result"));
        }
        Ok(view(&state, version, &asker))
    }

    pub async fn list_objections(&self, q: pb::ListObjections) -> Result<pb::ObjectionPage, ReplyError> {
        let asker = q.asker.unwrap_or_default();
        let limit = match q.limit as usize {
            0 => OBJECTION_PAGE,
            n if n <= MAX_OBJECTION_PAGE => n,
            _ => return Err(ReplyError::invalid("limit", format!("1 to {MAX_OBJECTION_PAGE}"))),
        };
        let (state, _, _) = self.results.load(&result_stream(&q.result_id)?).await.map_err(|e| e.into_reply())?;
        if state.status == Status::None || !may_see(&asker, &state) {
            return Err(ReplyError::new(ErrorCode::NotFound, "no such result"));
        }
        let page = state.notice.as_ref().map_or_else(Vec::new, |n| objections(n, &asker, q.offset as usize, limit));
        let total = state.notice.as_ref().map_or(0, |n| u32::try_from(n.objections.len()).unwrap_or(u32::MAX));
        Ok(pb::ObjectionPage { objections: page, total })
    }

    pub async fn list_results(&self, q: pb::ListResults) -> Result<pb::ResultList, ReplyError> {
        let asker = q.asker.unwrap_or_default();
        self.caught_up().await?;
        let directory = self.directory.read().await;
        let mut entries: Vec<&Entry> = directory
            .results
            .values()
            .filter(|e| q.owner_org_id.is_empty() || e.state.owner_org_id == q.owner_org_id)
            .filter(|e| may_see(&asker, &e.state))
            .collect();
        entries.sort_by_key(|e| std::cmp::Reverse(e.created_position));
        let (entries, total) = ttx_kernel::bus::page(entries, q.page.as_ref())?;
        let results = entries.into_iter().map(|e| view(&e.state, e.version, &asker)).collect();
        Ok(pb::ResultList { results, total })
    }
}

/// The actor timers act as.
pub fn system_actor() -> Actor {
    Actor {
        user_id: "system".into(),
        org_id: String::new(),
        role: Role::System.into(),
        roles: vec![Role::System.into()],
    }
}

pub fn demand_stream(id: &str) -> Result<StreamId, ReplyError> {
    StreamId::new("listings", "demand", id).map_err(|e| ReplyError::invalid("demand_id", e.to_string()))
}

fn bounded(field: &str, s: &str, min: usize, max: usize) -> Result<String, ReplyError> {
    let t = s.trim();
    let n = t.chars().count();
    if n < min || n > max {
        return Err(ReplyError::invalid(field, format!("must be {min} to {max} characters")));
    }
    Ok(t.to_owned())
}

/// A demand from the wire, checked field by field.
fn demand_details(d: Option<pb::Demand>) -> Result<crate::demand::DemandDetails, ReplyError> {
    let d = d.ok_or_else(|| ReplyError::invalid("demand", "the demand is missing"))?;
    Ok(crate::demand::DemandDetails {
        title: bounded("demand.title", &d.title, 1, 200)?,
        field: crate::codec::field_from(d.field)
            .ok_or_else(|| ReplyError::invalid("demand.field", "not a known field"))?,
        indicators: bounded("demand.indicators", &d.indicators, 0, 2000)?,
        problem: bounded("demand.problem", &d.problem, 1, 2000)?,
        existing_conditions: bounded("demand.existing_conditions", &d.existing_conditions, 0, 2000)?,
        budget_fen: d.budget_fen,
        cooperation_mode: bounded("demand.cooperation_mode", &d.cooperation_mode, 0, 50)?,
        wanted_trl: u8::try_from(d.wanted_trl)
            .ok()
            .filter(|t| (1..=9).contains(t))
            .ok_or_else(|| ReplyError::invalid("demand.wanted_trl", "a TRL is 1 to 9"))?,
        valid_until: d
            .valid_until
            .as_ref()
            .map(Timestamp::from_proto)
            .ok_or_else(|| ReplyError::invalid("demand.valid_until", "a time is required"))?,
    })
}

fn challenge_terms(c: Option<pb::ChallengeTerms>) -> Result<Option<crate::demand::ChallengeTerms>, ReplyError> {
    let Some(c) = c else { return Ok(None) };
    let indicators = c
        .indicators
        .iter()
        .enumerate()
        .map(|(i, s)| bounded(&format!("challenge.indicators[{i}]"), s, 1, 200))
        .collect::<Result<Vec<_>, _>>()?;
    let deadline = c
        .deadline
        .as_ref()
        .map(Timestamp::from_proto)
        .ok_or_else(|| ReplyError::invalid("challenge.deadline", "a time is required"))?;
    Ok(Some(crate::demand::ChallengeTerms { indicators, deadline }))
}

/// Whether `asker` may see the demand, and all of its applications.
fn demand_visibility(asker: &Actor, state: &DemandState) -> (bool, bool) {
    use crate::demand::DemandStatus;
    let supervisor = asker.has_role(Role::Admin) || asker.has_role(Role::Regulator);
    let poster = asker.org_id == state.poster_org_id;
    let all = supervisor || poster;
    let visible =
        all || (!asker.user_id.is_empty() && matches!(state.status, DemandStatus::Open | DemandStatus::Awarded));
    (visible, all)
}

fn demand_view(state: &DemandState, version: u64, asker: &Actor, all_applications: bool) -> pb::DemandView {
    use crate::demand::{ApplicationStatus, DemandStatus};
    let d = state.details.as_ref();
    pb::DemandView {
        demand_id: state.id.clone(),
        poster_org_id: state.poster_org_id.clone(),
        status: match state.status {
            DemandStatus::None => pb::DemandStatus::Unspecified,
            DemandStatus::Open => pb::DemandStatus::Open,
            DemandStatus::Awarded => pb::DemandStatus::Awarded,
            DemandStatus::Withdrawn => pb::DemandStatus::Withdrawn,
            DemandStatus::Expired => pb::DemandStatus::Expired,
        }
        .into(),
        demand: d.map(|d| pb::Demand {
            title: d.title.clone(),
            field: crate::codec::field_to(d.field),
            indicators: d.indicators.clone(),
            problem: d.problem.clone(),
            existing_conditions: d.existing_conditions.clone(),
            budget_fen: d.budget_fen,
            cooperation_mode: d.cooperation_mode.clone(),
            wanted_trl: u32::from(d.wanted_trl),
            valid_until: Some(d.valid_until.to_proto()),
        }),
        challenge: state
            .challenge
            .as_ref()
            .map(|c| pb::ChallengeTerms { indicators: c.indicators.clone(), deadline: Some(c.deadline.to_proto()) }),
        applications: state
            .applications
            .iter()
            .filter(|(_, a)| all_applications || a.org_id == asker.org_id)
            .map(|(id, a)| pb::ApplicationView {
                application_id: id.clone(),
                applicant_org_id: a.org_id.clone(),
                answers: a.answers.clone(),
                status: match a.status {
                    ApplicationStatus::Submitted => "submitted",
                    ApplicationStatus::Shortlisted => "shortlisted",
                    ApplicationStatus::Awarded => "awarded",
                }
                .into(),
            })
            .collect(),
        version,
    }
}

impl Service {
    async fn handle_demand(
        &self,
        demand_id: &str,
        command: crate::demand::DemandCommand,
        meta: &CommandMeta,
    ) -> Result<CommandAccepted, ReplyError> {
        let handled =
            self.demands.handle(&demand_stream(demand_id)?, &command, meta).await.map_err(|e| e.into_reply())?;
        Ok(handled.accepted())
    }

    pub async fn post_demand(&self, c: pb::PostDemand) -> Result<CommandAccepted, ReplyError> {
        let meta = CommandMeta::from_context(c.context)?;
        let command = DemandCommand::Post {
            id: c.demand_id.clone(),
            details: demand_details(c.demand)?,
            challenge: challenge_terms(c.challenge)?,
        };
        self.handle_demand(&c.demand_id, command, &meta).await
    }

    pub async fn apply_to_challenge(&self, c: pb::ApplyToChallenge) -> Result<CommandAccepted, ReplyError> {
        let meta = CommandMeta::from_context(c.context)?;
        let answers = c
            .answers
            .iter()
            .enumerate()
            .map(|(i, a)| bounded(&format!("answers[{i}]"), a, 1, 2000))
            .collect::<Result<Vec<_>, _>>()?;
        // The related-party links as of now: the directory first catches up with the log.
        self.caught_up().await?;
        let related = self.directory.read().await.related_to_poster(&c.demand_id, &meta.actor.org_id);
        let command = DemandCommand::Apply { application_id: c.application_id, answers, related };
        self.handle_demand(&c.demand_id, command, &meta).await
    }

    pub async fn withdraw_demand(&self, c: pb::WithdrawDemand) -> Result<CommandAccepted, ReplyError> {
        let meta = CommandMeta::from_context(c.context)?;
        let command = DemandCommand::Withdraw { reason: bounded("reason", &c.reason, 1, 500)? };
        self.handle_demand(&c.demand_id, command, &meta).await
    }

    pub async fn get_demand(&self, q: pb::GetDemand) -> Result<pb::DemandView, ReplyError> {
        let asker = q.asker.unwrap_or_default();
        let (state, version, _) = self.demands.load(&demand_stream(&q.demand_id)?).await.map_err(|e| e.into_reply())?;
        let (visible, all) = demand_visibility(&asker, &state);
        if state.status == crate::demand::DemandStatus::None || !visible {
            return Err(ReplyError::new(ErrorCode::NotFound, "no such demand"));
        }
        Ok(demand_view(&state, version, &asker, all))
    }

    pub async fn list_demands(&self, q: pb::ListDemands) -> Result<pb::DemandList, ReplyError> {
        let asker = q.asker.unwrap_or_default();
        self.caught_up().await?;
        let directory = self.directory.read().await;
        let mut entries: Vec<(&DemandEntry, bool)> = directory
            .demands
            .values()
            .map(|e| (e, demand_visibility(&asker, &e.state)))
            .filter(|(_, (visible, _))| *visible)
            .map(|(e, (_, all))| (e, all))
            .collect();
        entries.sort_by_key(|(e, _)| std::cmp::Reverse(e.created_position));
        let (entries, total) = ttx_kernel::bus::page(entries, q.page.as_ref())?;
        let demands = entries.into_iter().map(|(e, all)| demand_view(&e.state, e.version, &asker, all)).collect();
        Ok(pb::DemandList { demands, total })
    }
}

impl ttx_kernel::projection::ReadModel for Service {
    async fn apply(&self, event: &RecordedEvent) {
        let owed = {
            let mut directory = self.directory.write().await;
            if let Err(e) = Self::fold_into(&mut directory, event) {
                tracing::error!(position = event.position(), error = %e, "a result or demand event does not decode");
            }
            !directory.reactions_owed.is_empty()
        };
        if owed {
            self.reacting.notify_one();
        }
        lock(&self.pending).note(event.stream_id(), event.position());
        self.wake.notify_one();
    }
}

impl Service {
    /// Listings' requests, each with its handler.
    pub fn router(self: &Arc<Self>) -> Router<Self> {
        Router::new(subjects::QUEUE_GROUP, self.clone())
            .route(|s: Arc<Self>, r: pb::CreateResult| async move { s.create_result(r).await })
            .route(|s: Arc<Self>, r: pb::EditResult| async move { s.edit_result(r).await })
            .route(|s: Arc<Self>, r: pb::SubmitResult| async move { s.submit_result(r).await })
            .route(|s: Arc<Self>, r: pb::ApproveResult| async move { s.approve_result(r).await })
            .route(|s: Arc<Self>, r: pb::PublishResult| async move { s.publish_result(r).await })
            .route(|s: Arc<Self>, r: pb::ShortlistApplication| async move { s.shortlist_application(r).await })
            .route(|s: Arc<Self>, r: pb::AwardChallenge| async move { s.award_challenge(r).await })
            .route(|s: Arc<Self>, r: pb::Search| async move { s.search(r).await })
            .route(|s: Arc<Self>, r: pb::FindMatches| async move { s.find_matches(r).await })
            .route(|s: Arc<Self>, r: pb::GetResultPage| async move { s.get_result_page(r).await })
            .route(|s: Arc<Self>, r: pb::ListNotifications| async move { s.list_notifications(r).await })
            .route(|s: Arc<Self>, r: pb::ReturnResult| async move { s.return_result(r).await })
            .route(|s: Arc<Self>, r: pb::ConsentAsCoHolder| async move { s.consent_as_co_holder(r).await })
            .route(|s: Arc<Self>, r: pb::WithdrawResult| async move { s.withdraw_result(r).await })
            .route(|s: Arc<Self>, r: pb::StartNotice| async move { s.start_notice(r).await })
            .route(|s: Arc<Self>, r: pb::RaiseObjection| async move { s.raise_objection(r).await })
            .route(|s: Arc<Self>, r: pb::AnswerObjection| async move { s.answer_objection(r).await })
            .route(|s: Arc<Self>, r: pb::ResolveObjection| async move { s.resolve_objection(r).await })
            .route(|s: Arc<Self>, r: pb::GetResult| async move { s.get_result(r).await })
            .route(|s: Arc<Self>, r: pb::ListObjections| async move { s.list_objections(r).await })
            .route(|s: Arc<Self>, r: pb::ListResults| async move { s.list_results(r).await })
            .route(|s: Arc<Self>, r: pb::PostDemand| async move { s.post_demand(r).await })
            .route(|s: Arc<Self>, r: pb::ApplyToChallenge| async move { s.apply_to_challenge(r).await })
            .route(|s: Arc<Self>, r: pb::WithdrawDemand| async move { s.withdraw_demand(r).await })
            .route(|s: Arc<Self>, r: pb::GetDemand| async move { s.get_demand(r).await })
            .route(|s: Arc<Self>, r: pb::ListDemands| async move { s.list_demands(r).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::tests::listing;

    fn state(status: Status, visibility: Visibility) -> ResultState {
        ResultState {
            owner_org_id: "uni".into(),
            status,
            listing: Some(crate::domain::Listing { visibility, ..listing() }),
            ..ResultState::default()
        }
    }

    fn someone(org: &str, role: Role) -> Actor {
        Actor { user_id: "u".into(), org_id: org.into(), role: role.into(), roles: vec![role.into()] }
    }

    #[test]
    fn who_may_see_a_result_depends_on_its_status_and_audience() {
        let anonymous = Actor::default();
        let member = someone("firm", Role::EnterpriseMember);
        let owner = someone("uni", Role::TechManager);
        let regulator = someone("agency", Role::Regulator);
        let cases = [
            (Status::Draft, Visibility::Public, [false, false, true, true]),
            (Status::Published, Visibility::Public, [true, true, true, true]),
            (Status::Published, Visibility::RegisteredUsers, [false, true, true, true]),
            (Status::Published, Visibility::UnderNda, [false, false, true, true]),
            (Status::Transacted, Visibility::RegisteredUsers, [false, true, true, true]),
            (Status::Withdrawn, Visibility::Public, [false, false, true, true]),
        ];
        for (status, visibility, want) in cases {
            let s = state(status, visibility);
            let got = [&anonymous, &member, &owner, &regulator].map(|a| may_see(a, &s));
            assert_eq!(got, want, "{status:?} {visibility:?}");
        }
    }
}
