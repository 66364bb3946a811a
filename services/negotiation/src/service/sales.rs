//! The shell's side of each result's market (ADR 0008): a pricing process opens in its result's market before its own
//! stream records it; and a reconciling loop carries into the market what the processes' own streams decided (ends,
//! deals, defaults), adopts the processes opened before the market existed, and cancels the live processes of a
//! result the holder withdrew or that another process sold. Every command here has an id derived from what it
//! carries, so instances and restarts carry each once.

use std::future::Future;

use super::*;
use crate::facts::Availability;
use crate::market::Ending;

/// How long a process the market holds may stay unseen in its own stream before the market lets it go: far longer
/// than any request may take between its two steps.
const UNOPENED_GRACE_US: i64 = 5 * 60 * 1_000_000;

/// A process about to open, as its market records it.
pub(super) struct Sale<'a> {
    pub result_id: &'a str,
    pub kind: &'static str,
    pub id: &'a str,
    /// Its transaction mode, which says whether it is exclusive.
    pub mode: i32,
}

pub(super) fn market_stream(result_id: &str) -> Result<StreamId, ReplyError> {
    stream("market", result_id, "result_id")
}

/// A command id derived from `parts`, within the log's 128 bytes whatever the ids' lengths. The `~` after the
/// prefix keeps it apart from every id a caller can send through the gateway (`<user id>:<key>`, where neither part
/// may hold a `~`), so no caller can take the id of a command the exchange will send.
fn derived(prefix: &str, parts: &[&str]) -> Option<CommandId> {
    let digest = ttx_kernel::hash_bytes(parts.join("\u{1f}").as_bytes());
    CommandId::system(prefix, &hex::encode(&digest[..20])).ok()
}

/// Whether `process` on `result` may sell now, as the directory knows: the result is published (not withdrawn, not
/// under contract) and its market holds the process, or does not know it (a process from before the market, not
/// adopted yet).
pub(super) fn on_sale(d: &Directory, result_id: &str, process_id: &str) -> bool {
    let published = d.results.get(result_id).is_some_and(|r| r.availability == Availability::Published);
    let held = d.markets.get(result_id).is_none_or(|m| {
        m.state.holds(process_id)
            // A process from before the market sells only where the market would admit it now.
            || (!m.state.sales.contains_key(process_id)
                && m.state.open().next().is_none()
                && m.state.exclusive_grant().is_none())
    });
    published && held
}

/// Whether a mode grants an exclusive right; a value that is no mode (older records) counts as exclusive, as it was
/// treated.
pub(super) fn exclusive_mode(mode: i32) -> bool {
    crate::terms::exclusive(mode).unwrap_or(true)
}

/// Whether a deal grants an exclusive right: its terms say so, and deals from before modes were declared are taken
/// as exclusive (as they were treated).
fn exclusive_deal(d: &pb::DealAgreed) -> bool {
    d.terms.as_ref().is_none_or(|t| exclusive_mode(t.mode))
}

fn agreed(d: &pb::DealAgreed) -> Ending {
    Ending { outcome: "agreed".into(), deal: Some((d.deal_id.clone(), exclusive_deal(d), d.buyer_org_id.clone())) }
}

fn ended(outcome: &str) -> Option<Ending> {
    Some(Ending { outcome: outcome.into(), deal: None })
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
                DealStatus::Abandoned => ended("abandoned"),
                DealStatus::Open | DealStatus::None => None,
            }
        }
        "listing" => {
            let s = &d.listings.get(id)?.state;
            match s.status {
                ListingStatus::Sold => s.deal.as_ref().map(agreed),
                ListingStatus::Lapsed => ended("lapsed"),
                ListingStatus::Cancelled => ended("cancelled"),
                // The auction takes over in one market step (`hand_over`).
                ListingStatus::ToAuction | ListingStatus::Open | ListingStatus::None => None,
            }
        }
        _ => {
            let s = &d.sessions.get(id)?.state;
            match s.phase {
                Phase::Closed | Phase::Defaulted => {
                    Some(s.deal.as_ref().map_or_else(|| ended("no_sale").unwrap(), agreed))
                }
                Phase::Cancelled => ended("cancelled"),
                Phase::Open | Phase::Revealing | Phase::None => None,
            }
        }
    }
}

/// The result a process of `kind` sells, as the directory has seen it.
fn result_of<'a>(d: &'a Directory, kind: &str, id: &str) -> Option<&'a str> {
    match kind {
        "negotiation" => d.deals.get(id).map(|e| e.state.result_id.as_str()),
        "listing" => d.listings.get(id).map(|e| e.state.result_id.as_str()),
        _ => d.sessions.get(id).map(|e| e.state.result_id.as_str()),
    }
}

/// Whether the directory has seen a process of `kind` on `result`.
fn seen(d: &Directory, kind: &str, id: &str, result: &str) -> bool {
    result_of(d, kind, id) == Some(result)
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

/// Carries out a command of the exchange's own on `stream`: how many events it wrote, or why it did not.
async fn carry<D: Decider>(
    handler: &CommandHandler<D>,
    stream: Result<StreamId, ReplyError>,
    command: D::Command,
    meta: &CommandMeta,
) -> Result<usize, String> {
    let stream = stream.map_err(|e| e.message)?;
    handler.handle(&stream, &command, meta).await.map(|h| h.events.len()).map_err(|e| e.to_string())
}

/// Work the reconciler found in one look at the directory.
#[derive(Default)]
struct Work {
    /// (result, command, command id).
    market: Vec<(String, MarketCommand, CommandId)>,
    /// (kind, process, reason).
    cancels: Vec<(&'static str, String, &'static str)>,
}

impl Service {
    /// Opens a sale: first in the result's market (refused while the result is not available to it), then in the
    /// process's own stream by `open`. If `open` fails and the process does not exist, the market lets it go again.
    pub(super) async fn open_sale(
        &self,
        sale: Sale<'_>,
        meta: &CommandMeta,
        open: impl Future<Output = Result<CommandAccepted, ReplyError>>,
    ) -> Result<CommandAccepted, ReplyError> {
        let market = market_stream(sale.result_id)?;
        // A process id is one sale of one result: an id that names a sale of another result opens nothing here.
        if result_of(&*self.directory.read().await, sale.kind, sale.id).is_some_and(|r| r != sale.result_id) {
            return Err(ReplyError::new(ErrorCode::Conflict, format!("{} names a sale of another result", sale.id)));
        }
        let command_id = derived("sale", &[sale.kind, sale.id, meta.command_id.as_str()])
            .ok_or_else(|| ReplyError::invalid("context.command_id", "not a usable command id"))?;
        let missing_consents =
            self.directory.read().await.results.get(sale.result_id).map(|r| r.missing_consents()).unwrap_or_default();
        let reserve = MarketCommand::Open {
            result_id: sale.result_id.to_owned(),
            kind: sale.kind.to_owned(),
            process_id: sale.id.to_owned(),
            mode: sale.mode,
            exclusive: exclusive_mode(sale.mode),
            missing_consents,
        };
        let market_meta = CommandMeta { command_id, ..meta.clone() };
        let handled = self.markets.handle(&market, &reserve, &market_meta).await.map_err(|e| e.into_reply())?;
        if handled.duplicate {
            // A retried request: its first opening may have been let go since (its process never opened). Open again
            // as of the market's version now, so that the retry holds the result before its process opens.
            let (state, version, _) = self.markets.load(&market).await.map_err(|e| e.into_reply())?;
            if !state.holds(sale.id) {
                let version = version.to_string();
                let again = derived("sale-again", &[sale.kind, sale.id, meta.command_id.as_str(), &version])
                    .ok_or_else(|| ReplyError::invalid("context.command_id", "not a usable command id"))?;
                let again_meta = CommandMeta { command_id: again, ..meta.clone() };
                self.markets.handle(&market, &reserve, &again_meta).await.map_err(|e| e.into_reply())?;
            }
        }
        match open.await {
            Ok(answer) => Ok(answer),
            Err(refused) => {
                if !self.process_exists(sale.kind, sale.id, sale.result_id).await {
                    let release = MarketCommand::End {
                        process_id: sale.id.to_owned(),
                        ending: Ending { outcome: "not_opened".into(), deal: None },
                    };
                    if let Some(id) = derived("not-opened", &[sale.kind, sale.id, meta.command_id.as_str()]) {
                        let meta = CommandMeta::new(id, system(""));
                        if let Err(e) = self.markets.handle(&market, &release, &meta).await {
                            tracing::warn!(process = sale.id, error = %e, "a sale that did not open is still held");
                        }
                    }
                }
                Err(refused)
            }
        }
    }

    /// Whether a process of `kind` on `result` exists in its own stream (when the log cannot say, it is taken to exist:
    /// the market then keeps it until the reconciler sees otherwise).
    async fn process_exists(&self, kind: &str, id: &str, result: &str) -> bool {
        let exists = match kind {
            "negotiation" => match stream("deal", id, "negotiation_id") {
                Ok(s) => {
                    self.deals.load(&s).await.map(|(s, ..)| s.status != DealStatus::None && s.result_id == result).ok()
                }
                Err(_) => Some(false),
            },
            "listing" => match stream("listing", id, "listing_id") {
                Ok(s) => self
                    .listings
                    .load(&s)
                    .await
                    .map(|(s, ..)| s.status != ListingStatus::None && s.result_id == result)
                    .ok(),
                Err(_) => Some(false),
            },
            _ => match stream("session", id, "session_id") {
                Ok(s) => {
                    self.sessions.load(&s).await.map(|(s, ..)| s.phase != Phase::None && s.result_id == result).ok()
                }
                Err(_) => Some(false),
            },
        };
        exists.unwrap_or(true)
    }

    /// Before a lapsed listed sale is relisted: if the market still holds it (the lapse has not reached it yet), its end
    /// is recorded first, with the id the reconciler would use, so that a late copy from the reconciler cannot end the
    /// relisted sale.
    pub(super) async fn end_lapsed(&self, result_id: &str, listing: &str) -> Result<(), ReplyError> {
        let market = market_stream(result_id)?;
        let (state, ..) = self.markets.load(&market).await.map_err(|e| e.into_reply())?;
        let Some(sale) = state.sales.get(listing).filter(|s| s.ended.is_none()) else { return Ok(()) };
        let openings = sale.openings.to_string();
        let command_id = derived("market-end", &[listing, &openings])
            .ok_or_else(|| ReplyError::invalid("listing_id", "not a usable id"))?;
        let end = MarketCommand::End {
            process_id: listing.to_owned(),
            ending: Ending { outcome: "lapsed".into(), deal: None },
        };
        self.markets
            .handle(&market, &end, &CommandMeta::new(command_id, system("")))
            .await
            .map(|_| ())
            .map_err(|e| e.into_reply())
    }

    /// A listed sale hands its result to the session it turns into, in one market step.
    pub(super) async fn hand_over(&self, result_id: &str, listing: &str, session: &str) -> Result<(), ReplyError> {
        let command_id = derived("handover", &[listing, session])
            .ok_or_else(|| ReplyError::invalid("listing_id", "not a usable id"))?;
        let command = MarketCommand::Handover { from: listing.to_owned(), to: session.to_owned() };
        self.markets
            .handle(&market_stream(result_id)?, &command, &CommandMeta::new(command_id, system("")))
            .await
            .map(|_| ())
            .map_err(|e| e.into_reply())
    }

    /// One round of keeping the markets true to the processes (see the module's header).
    pub(super) async fn keep_markets(&self) {
        let work = self.market_work().await;
        for (result_id, command, command_id) in work.market {
            let Ok(market) = market_stream(&result_id) else { continue };
            if let Err(e) = self.markets.handle(&market, &command, &CommandMeta::new(command_id, system(""))).await {
                tracing::debug!(result = %result_id, error = %e, "a market change was not recorded");
            }
        }
        for (kind, id, reason) in work.cancels {
            let Some(command_id) = derived("cancel", &[kind, &id]) else { continue };
            let meta = CommandMeta::new(command_id, system(""));
            let reason = reason.to_owned();
            let outcome = match kind {
                "negotiation" => {
                    carry(&self.deals, stream("deal", &id, "negotiation_id"), DealCommand::Cancel { reason }, &meta)
                        .await
                }
                "listing" => {
                    carry(
                        &self.listings,
                        stream("listing", &id, "listing_id"),
                        ListingCommand::Cancel { reason },
                        &meta,
                    )
                    .await
                }
                _ => {
                    carry(
                        &self.sessions,
                        stream("session", &id, "session_id"),
                        SessionCommand::Cancel { reason },
                        &meta,
                    )
                    .await
                }
            };
            match outcome {
                Ok(n) if n > 0 => {
                    tracing::info!(process = %id, kind, "a sale was cancelled: its result is no longer for sale")
                }
                Ok(_) => {}
                Err(e) => tracing::debug!(process = %id, error = %e, "a sale was not cancelled"),
            }
        }
    }

    async fn market_work(&self) -> Work {
        let now = self.clock.now();
        let d = self.directory.read().await;
        let mut work = Work::default();
        let mut unopened = self.unopened.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let system_id = |prefix: &str, parts: &[&str]| derived(prefix, parts);
        let mut still_unopened = std::collections::HashSet::new();
        for (result_id, m) in &d.markets {
            for (pid, sale) in m.state.open() {
                let openings = sale.openings.to_string();
                let end = |ending: Ending| MarketCommand::End { process_id: pid.clone(), ending };
                still_unopened.insert(pid.clone());
                if let Some(ending) = ending(&d, &sale.kind, pid, result_id) {
                    unopened.remove(pid);
                    if let Some(id) = system_id("market-end", &[pid, &openings]) {
                        work.market.push((result_id.clone(), end(ending), id));
                    }
                } else if seen(&d, &sale.kind, pid, result_id) {
                    unopened.remove(pid);
                } else {
                    let since = *unopened.entry(pid.clone()).or_insert(now);
                    if now.unix_micros().saturating_sub(since.unix_micros()) > UNOPENED_GRACE_US
                        && let Some(id) = system_id("market-end", &[pid, &openings])
                    {
                        let never = Ending { outcome: "not_opened".into(), deal: None };
                        work.market.push((result_id.clone(), end(never), id));
                    }
                }
            }
            for (deal_id, (_, was_voided)) in &m.state.grants {
                if let (false, Some(reason)) = (*was_voided, voided(&d, deal_id, result_id))
                    && let Some(id) = system_id("market-void", &[deal_id])
                {
                    let command = MarketCommand::Void { deal_id: deal_id.clone(), reason: reason.to_owned() };
                    work.market.push((result_id.clone(), command, id));
                }
            }
        }
        // Forget what no market holds open any more (another instance ended it).
        unopened.retain(|pid, _| still_unopened.contains(pid));
        // Live processes: adopted by their market if it does not know them, cancelled if their result is gone.
        let known =
            |result_id: &str, pid: &str| d.markets.get(result_id).is_some_and(|m| m.state.sales.contains_key(pid));
        let mut live: Vec<(&'static str, &String, &String, i32, bool, bool)> = Vec::new();
        for (id, e) in &d.deals {
            if e.state.status == DealStatus::Open {
                live.push(("negotiation", id, &e.state.result_id, e.state.mode, exclusive_mode(e.state.mode), true));
            }
        }
        for (id, e) in &d.listings {
            let t = &e.state.terms;
            match e.state.status {
                ListingStatus::Open => {
                    live.push(("listing", id, &e.state.result_id, t.mode, exclusive_mode(t.mode), true))
                }
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
                // Won before the market existed: adopted, so that the market records its right (and voids it if
                // the winner defaults).
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
            if let Some(reason) = cancellation(&d, result_id, id) {
                work.cancels.push((kind, id.clone(), reason));
            } else if adopt
                && !known(result_id, id)
                && let Some(command_id) = system_id("adopt", &[kind, id])
            {
                let command = MarketCommand::Open {
                    result_id: result_id.clone(),
                    kind: kind.to_owned(),
                    process_id: id.clone(),
                    mode,
                    exclusive,
                    missing_consents: Vec::new(),
                };
                work.market.push((result_id.clone(), command, command_id));
            }
        }
        work
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exchange_s_own_command_ids_are_ones_no_caller_can_send() {
        let id = derived("cancel", &["session", "s1"]).unwrap();
        // Gateway ids are `<user id>:<key>`; user ids are [a-z0-9_-] and keys [A-Za-z0-9-_:.], so none holds a `~`.
        assert!(id.as_str().starts_with("cancel~") && id.as_str().len() <= 128, "{id}");
        assert_eq!(id, derived("cancel", &["session", "s1"]).unwrap(), "derived ids are deterministic");
        assert_ne!(id, derived("cancel", &["session", "s2"]).unwrap());
    }
}
