//! The shell's side of each result's market (ADR 0008): a pricing process opens in its result's market before its own
//! stream records it, and is let go there again if it does not open. What keeps the markets true to the processes
//! afterwards is due in [`super::due`]. Every command here has an id derived from what it carries, so instances and
//! restarts carry each once.

use std::future::Future;

use super::*;
use crate::facts::Availability;
use crate::market::Ending;

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
pub(super) fn derived(prefix: &str, parts: &[&str]) -> Option<CommandId> {
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

/// The result a process of `kind` sells, as the directory has seen it.
pub(super) fn result_of<'a>(d: &'a Directory, kind: &str, id: &str) -> Option<&'a str> {
    match kind {
        "negotiation" => d.deals.get(id).map(|e| e.state.result_id.as_str()),
        "listing" => d.listings.get(id).map(|e| e.state.result_id.as_str()),
        _ => d.sessions.get(id).map(|e| e.state.result_id.as_str()),
    }
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
