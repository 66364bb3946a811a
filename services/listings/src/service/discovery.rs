//! Search and matching in the service: the documents derived from the directory, the indexer that keeps the search
//! index level with the log, the matcher that records a new demand's matches, and their queries.

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use ttx_kernel::bus::{ErrorCode, ReplyError};
use ttx_kernel::{CommandId, CommandMeta, StreamId};
use ttx_proto::common::v1::{Actor, Role};
use ttx_proto::listings::v1::{self as pb};

use super::{DemandEntry, Directory, Entry, Service, demand_visibility, may_see, system_actor};
use crate::codec::{field_to, mode_to, route_to};
use crate::demand::DemandStatus;
use crate::domain::{AskingPrice, Status, Visibility};
use crate::matching::{MatchCommand, NOTIFY_MIN_SCORE, NOTIFY_TOP, score};
use crate::search::{self, Audience, IndexDoc, Kind, Request, Sort, Viewer};

/// How long a search waits for the index to reach the log as it was when the search arrived.
const INDEX_CATCH_UP: Duration = Duration::from_secs(5);
/// How many candidates the text query gives matching to score.
const CANDIDATES: usize = 50;

pub fn match_stream(demand_id: &str) -> Result<StreamId, ReplyError> {
    StreamId::new("listings", "match", demand_id).map_err(|e| ReplyError::invalid("demand_id", e.to_string()))
}

/// The pending work of the indexer: which documents changed, up to which log position.
#[derive(Debug, Default)]
pub(super) struct Pending {
    keys: BTreeSet<(Kind, String)>,
    seen: u64,
}

impl Pending {
    pub(super) fn note(&mut self, stream: &str, position: u64) {
        if let Some(id) = stream.strip_prefix("listings-result-") {
            self.keys.insert((Kind::Result, id.to_owned()));
        } else if let Some(id) = stream.strip_prefix("listings-demand-") {
            self.keys.insert((Kind::Demand, id.to_owned()));
        }
        self.seen = self.seen.max(position);
    }
}

/// A result's document, whatever its status.
fn result_doc(e: &Entry, directory: &Directory) -> Option<IndexDoc> {
    let l = e.state.listing.as_ref()?;
    let mut body = l.summary.clone();
    for part in l.keywords.iter().chain(&l.innovations).chain([&l.indicators, &l.industry]) {
        body.push('\n');
        body.push_str(part);
    }
    Some(IndexDoc {
        kind: Kind::Result,
        id: e.state.id.clone(),
        org_id: e.state.owner_org_id.clone(),
        title: l.title.clone(),
        body,
        lead: l.summary.clone(),
        field: field_to(l.field),
        trl: l.trl.level,
        price_fen: match l.price {
            AskingPrice::Fen(f) => Some(f),
            AskingPrice::Negotiable => None,
        },
        region: directory.regions.get(&e.state.owner_org_id).cloned().unwrap_or_default(),
        route: route_to(l.route),
        modes: l.modes.iter().map(|m| mode_to(*m)).collect(),
        audience: match l.visibility {
            Visibility::Public => Audience::Everyone,
            Visibility::RegisteredUsers => Audience::Members,
            Visibility::UnderNda => Audience::Owner,
        },
        since: e.published_position,
    })
}

/// A demand's document, whatever its status.
fn demand_doc(e: &DemandEntry, directory: &Directory) -> Option<IndexDoc> {
    let d = e.state.details.as_ref()?;
    let mut body = d.problem.clone();
    let challenge = e.state.challenge.iter().flat_map(|c| c.indicators.iter());
    for part in [&d.indicators, &d.existing_conditions, &d.cooperation_mode].into_iter().chain(challenge) {
        body.push('\n');
        body.push_str(part);
    }
    Some(IndexDoc {
        kind: Kind::Demand,
        id: e.state.id.clone(),
        org_id: e.state.poster_org_id.clone(),
        title: d.title.clone(),
        body,
        lead: d.problem.clone(),
        field: field_to(d.field),
        trl: d.wanted_trl,
        price_fen: Some(d.budget_fen),
        region: directory.regions.get(&e.state.poster_org_id).cloned().unwrap_or_default(),
        route: 0,
        modes: Vec::new(),
        audience: Audience::Members,
        since: e.created_position,
    })
}

/// What the index holds for a key: published results and open demands.
fn searchable(directory: &Directory, key: &(Kind, String)) -> Option<IndexDoc> {
    match key.0 {
        Kind::Result => {
            let e = directory.results.get(&key.1).filter(|e| e.state.status == Status::Published)?;
            result_doc(e, directory)
        }
        Kind::Demand => {
            let e = directory.demands.get(&key.1).filter(|e| e.state.status == DemandStatus::Open)?;
            demand_doc(e, directory)
        }
    }
}

fn viewer(asker: &Actor) -> Viewer {
    Viewer {
        logged_in: !asker.user_id.is_empty(),
        org_id: asker.org_id.clone(),
        sees_all: asker.has_role(Role::Admin) || asker.has_role(Role::Regulator),
    }
}

fn spans(s: Vec<search::Span>) -> Vec<pb::Span> {
    s.into_iter().map(|s| pb::Span { text: s.text, hit: s.hit }).collect()
}

fn request(q: pb::Search) -> Result<Request, ReplyError> {
    let trl = |field: &str, v: u32| -> Result<Option<u8>, ReplyError> {
        match v {
            0 => Ok(None),
            1..=9 => Ok(Some(v as u8)),
            _ => Err(ReplyError::invalid(field, "a TRL is 1 to 9")),
        }
    };
    let nonzero = |v: i32| (v != 0).then_some(v);
    if q.q.chars().count() > 200 {
        return Err(ReplyError::invalid("q", "at most 200 characters"));
    }
    if q.limit > 100 {
        return Err(ReplyError::invalid("limit", "at most 100"));
    }
    if q.offset > 10_000 {
        return Err(ReplyError::invalid("offset", "at most 10000"));
    }
    Ok(Request {
        q: q.q,
        kind: match q.kind.as_str() {
            "" => None,
            "result" => Some(Kind::Result),
            "demand" => Some(Kind::Demand),
            _ => return Err(ReplyError::invalid("kind", "result or demand")),
        },
        field: nonzero(q.field),
        trl_min: trl("trl_min", q.trl_min)?,
        trl_max: trl("trl_max", q.trl_max)?,
        mode: nonzero(q.mode),
        price_min_fen: q.price_min_fen,
        price_max_fen: q.price_max_fen,
        region: Some(q.region).filter(|r| !r.is_empty()),
        route: nonzero(q.route),
        sort: Sort::parse(&q.sort)
            .ok_or_else(|| ReplyError::invalid("sort", "relevance, newest, price_asc or price_desc"))?,
        offset: q.offset as usize,
        limit: if q.limit == 0 { 20 } else { q.limit as usize },
    })
}

fn index_failed(e: &search::SearchError) -> ReplyError {
    tracing::error!(error = %e, "the search index failed");
    ReplyError::new(ErrorCode::Unavailable, "the search index failed")
}

impl Service {
    /// Whether this instance is done with matching `demand_id`: it tried, or it has read the record another instance
    /// wrote (it then never tries). Matches are recorded once, whichever instance writes them.
    pub async fn match_settled(&self, demand_id: &str) -> bool {
        super::lock(&self.match_attempted).contains(demand_id)
            || self.directory.read().await.matched.contains(demand_id)
    }

    /// Keeps the search index level with the directory: each round takes the documents changed since the last,
    /// writes them in one commit, then lets the matcher look at new demands.
    pub async fn index(self: std::sync::Arc<Self>) {
        loop {
            self.wake.notified().await;
            let (keys, upto) = {
                let mut p = super::lock(&self.pending);
                (std::mem::take(&mut p.keys), p.seen)
            };
            if !keys.is_empty() {
                let retry = keys.clone();
                let changes: Vec<(String, Option<IndexDoc>)> = {
                    let directory = self.directory.read().await;
                    keys.into_iter().map(|k| (format!("{}:{}", k.0.name(), k.1), searchable(&directory, &k))).collect()
                };
                let index = self.search.clone();
                let failed = match tokio::task::spawn_blocking(move || index.apply(changes)).await {
                    Ok(Ok(())) => None,
                    Ok(Err(e)) => Some(e.to_string()),
                    Err(e) => Some(e.to_string()),
                };
                if let Some(error) = failed {
                    // Nothing is lost: the documents go back to the queue and the index does not claim the position.
                    tracing::error!(%error, "could not index listings; retrying");
                    super::lock(&self.pending).keys.extend(retry);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    self.wake.notify_one();
                    continue;
                }
            }
            self.indexed.send_replace(upto);
            self.match_new_demands().await;
        }
    }

    /// Waits until the search index holds everything up to log position `position`.
    pub async fn indexed_up_to(&self, position: u64) {
        let mut indexed = self.indexed.subscribe();
        let _ = indexed.wait_for(|p| *p >= position).await;
    }

    /// Waits until the index holds everything the log held when this was called.
    async fn index_caught_up(&self) -> Result<(), ReplyError> {
        let head = self
            .log
            .head()
            .await
            .map_err(|_| ReplyError::new(ErrorCode::Unavailable, "the event log is unavailable"))?;
        let mut indexed = self.indexed.subscribe();
        match tokio::time::timeout(INDEX_CATCH_UP, indexed.wait_for(|p| *p >= head)).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(ReplyError::new(ErrorCode::Unavailable, "the search index is behind the log")),
        }
    }

    /// The best results for a demand's document (or demands for a result's), scored.
    fn best_matches(&self, doc: &IndexDoc, limit: usize) -> Result<Vec<pb::Match>, search::SearchError> {
        let other = match doc.kind {
            Kind::Demand => Kind::Result,
            Kind::Result => Kind::Demand,
        };
        let (candidates, terms) = self.search.candidates(&format!("{}\n{}", doc.title, doc.body), other, CANDIDATES)?;
        let mut out: Vec<pb::Match> = candidates
            .into_iter()
            .filter(|(c, _)| c.org_id != doc.org_id)
            .map(|(c, _)| {
                let words: HashSet<String> =
                    search::words(&format!("{}\n{}", c.title, c.body)).into_iter().map(|(w, _, _)| w).collect();
                let (demand, result) = if doc.kind == Kind::Demand { (doc, &*c) } else { (&*c, doc) };
                let (points, reasons) = score(demand, result, &terms, &words);
                pb::Match { id: c.id.clone(), title: c.title.clone(), org_id: c.org_id.clone(), score: points, reasons }
            })
            .collect();
        out.sort_by(|a, b| b.score.cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
        out.truncate(limit);
        Ok(out)
    }

    /// Records the matches of each open demand the index has seen and that has none recorded yet. The record's
    /// command id is derived from the demand, so another instance (or a restart) doing the same changes nothing.
    async fn match_new_demands(&self) {
        let indexed = *self.indexed.borrow();
        let todo: Vec<IndexDoc> = {
            let directory = self.directory.read().await;
            let attempted = super::lock(&self.match_attempted);
            directory
                .demands
                .values()
                .filter(|e| e.state.status == DemandStatus::Open && e.created_position <= indexed)
                .filter(|e| !directory.matched.contains(&e.state.id) && !attempted.contains(&e.state.id))
                .filter_map(|e| demand_doc(e, &directory))
                .collect()
        };
        for demand in todo {
            super::lock(&self.match_attempted).insert(demand.id.clone());
            let matches = match self.best_matches(&demand, NOTIFY_TOP) {
                Ok(m) => m.into_iter().filter(|m| m.score >= NOTIFY_MIN_SCORE).collect(),
                Err(e) => {
                    tracing::error!(demand = %demand.id, error = %e, "could not match a demand");
                    continue;
                }
            };
            let record = pb::DemandMatched {
                demand_id: demand.id.clone(),
                demand_title: demand.title.clone(),
                poster_org_id: demand.org_id.clone(),
                matches,
            };
            let (Ok(stream), Ok(command_id)) = (match_stream(&demand.id), CommandId::system("match", &demand.id))
            else {
                continue;
            };
            let meta = CommandMeta::new(command_id, system_actor());
            match self.matches.handle(&stream, &MatchCommand::Record(record), &meta).await {
                Ok(_) => tracing::info!(demand = %demand.id, "demand matched"),
                Err(e) => tracing::warn!(demand = %demand.id, error = %e, "could not record a demand's matches"),
            }
        }
    }

    /// Searches results and demands as the asker may see them.
    pub async fn search(&self, q: pb::Search) -> Result<pb::SearchResults, ReplyError> {
        let viewer = viewer(&q.asker.clone().unwrap_or_default());
        let request = request(q)?;
        self.index_caught_up().await?;
        let index = self.search.clone();
        let found = tokio::task::spawn_blocking(move || index.search(&request, &viewer))
            .await
            .map_err(|_| ReplyError::new(ErrorCode::Unavailable, "the search failed"))?
            .map_err(|e| index_failed(&e))?;
        let reply = pb::SearchResults {
            total: found.total,
            hits: found
                .hits
                .into_iter()
                .map(|h| pb::SearchHit {
                    kind: h.doc.kind.name().into(),
                    id: h.doc.id.clone(),
                    title: h.doc.title.clone(),
                    title_spans: spans(h.title),
                    snippet: spans(h.snippet),
                    field: h.doc.field,
                    trl: u32::from(h.doc.trl),
                    price_fen: h.doc.price_fen,
                    region: h.doc.region.clone(),
                    route: h.doc.route,
                    modes: h.doc.modes.clone(),
                    score: h.score,
                    org_id: h.doc.org_id.clone(),
                })
                .collect(),
            facets: found
                .facets
                .into_iter()
                .map(|(name, counts)| pb::Facet {
                    name: name.into(),
                    counts: counts
                        .into_iter()
                        .map(|(code, label, count)| pb::FacetCount { code, label, count })
                        .collect(),
                })
                .collect(),
        };
        Ok(reply)
    }

    /// What a result's page shows that listings holds, in one answer: the result as the asker may see it, the names
    /// of the organisations it mentions, and, for the holder's members and administrators, its best matches.
    pub async fn get_result_page(&self, q: pb::GetResultPage) -> Result<pb::ResultPage, ReplyError> {
        let asker = q.asker.clone().unwrap_or_default();
        let result = self.get_result(pb::GetResult { asker: q.asker.clone(), result_id: q.result_id.clone() }).await?;
        let org_names = {
            let directory = self.directory.read().await;
            let listing = result.listing.as_ref();
            let holders = listing.into_iter().flat_map(|l| l.holders.iter().map(|h| &h.org_id));
            let objectors = result.notice.iter().flat_map(|n| n.objections.iter().map(|o| &o.by_org_id));
            holders
                .chain(&result.co_holder_org_ids)
                .chain(objectors)
                .filter_map(|id| directory.org_names.get(id).map(|name| (id.clone(), name.clone())))
                .collect()
        };
        let entitled = asker.org_id == result.owner_org_id || asker.has_role(Role::Admin);
        let published = result.status == pb::ResultStatus::Published as i32;
        let matches = if q.with_matches && entitled && published {
            let find = pb::FindMatches {
                asker: q.asker,
                demand_id: String::new(),
                result_id: q.result_id,
                limit: q.matches_limit,
            };
            match self.find_matches(find).await {
                Ok(list) => list.matches,
                // The page is still worth showing without them.
                Err(e) => {
                    tracing::warn!(code = %e.code, message = %e.message, "a result page's matches are not available");
                    Vec::new()
                }
            }
        } else {
            Vec::new()
        };
        Ok(pb::ResultPage { result: Some(result), org_names, matches })
    }

    /// The best matches of a demand or a result.
    pub async fn find_matches(&self, q: pb::FindMatches) -> Result<pb::MatchList, ReplyError> {
        let asker = q.asker.unwrap_or_default();
        let limit = match q.limit {
            0 => 10,
            1..=50 => q.limit as usize,
            _ => return Err(ReplyError::invalid("limit", "at most 50")),
        };
        self.index_caught_up().await?;
        let doc = {
            let directory = self.directory.read().await;
            match (q.demand_id.is_empty(), q.result_id.is_empty()) {
                (false, true) => directory
                    .demands
                    .get(&q.demand_id)
                    .filter(|e| demand_visibility(&asker, &e.state).0)
                    .and_then(|e| demand_doc(e, &directory))
                    .ok_or_else(|| ReplyError::new(ErrorCode::NotFound, "no such demand"))?,
                (true, false) => directory
                    .results
                    .get(&q.result_id)
                    .filter(|e| may_see(&asker, &e.state))
                    .and_then(|e| result_doc(e, &directory))
                    .ok_or_else(|| ReplyError::new(ErrorCode::NotFound, "no such result"))?,
                _ => return Err(ReplyError::invalid("demand_id", "name either a demand or a result")),
            }
        };
        let matches = self.best_matches(&doc, limit).map_err(|e| index_failed(&e))?;
        Ok(pb::MatchList { matches })
    }

    /// The asker's organisation's notifications, newest first.
    pub async fn list_notifications(&self, q: pb::ListNotifications) -> Result<pb::NotificationList, ReplyError> {
        let asker = q.asker.unwrap_or_default();
        self.caught_up().await?;
        let directory = self.directory.read().await;
        let mut notifications = if asker.org_id.is_empty() {
            Vec::new()
        } else {
            directory.notifications.get(&asker.org_id).cloned().unwrap_or_default()
        };
        notifications.reverse();
        let (notifications, total) = ttx_kernel::bus::page(notifications, q.page.as_ref())?;
        Ok(pb::NotificationList { notifications, total })
    }
}
