//! Matching a demand with results (and a result with demands): a score out of 100 with its reasons, and the notice
//! recorded when a new demand matches results (stream `listings-match-<demand id>`, event `DemandMatched`).
//!
//! | factor | weight | how |
//! |---|---|---|
//! | text   | 40 | the demand's distinctive words (the rarest twelve in the index) that the result contains, weighted by rarity |
//! | field  | 20 | the same field of technology |
//! | trl    | 15 | full when the result is at least as mature as wanted; 5 less per missing level |
//! | budget | 15 | full when the asking price is within budget; 8 for 面议; in proportion when above |
//! | region | 10 | the same region |

use std::collections::HashSet;
use std::convert::Infallible;

use bytes::Bytes;
use prost::Message;
use ttx_kernel::{Ctx, Decider, DecodeError, DomainEvent};
use ttx_proto::common::v1::SubjectRef;
use ttx_proto::listings::v1 as pb;

use crate::search::IndexDoc;

pub const TEXT_WEIGHT: u32 = 40;
pub const FIELD_WEIGHT: u32 = 20;
pub const TRL_WEIGHT: u32 = 15;
pub const BUDGET_WEIGHT: u32 = 15;
pub const REGION_WEIGHT: u32 = 10;
/// A new demand notifies the holders of at most this many results…
pub const NOTIFY_TOP: usize = 5;
/// …scoring at least this.
pub const NOTIFY_MIN_SCORE: u32 = 50;

/// Scores a (demand, result) pair. `terms` are the demand's distinctive words with their weights; `result_words`
/// the words of the result's text.
pub fn score(
    demand: &IndexDoc,
    result: &IndexDoc,
    terms: &[(String, f32)],
    result_words: &HashSet<String>,
) -> (u32, Vec<pb::MatchReason>) {
    let total: f32 = terms.iter().map(|(_, w)| w).sum();
    let shared: Vec<&(String, f32)> = terms.iter().filter(|(t, _)| result_words.contains(t)).collect();
    let weight: f32 = shared.iter().map(|(_, w)| w).sum();
    let text = if total > 0.0 { (TEXT_WEIGHT as f32 * weight / total).round() as u32 } else { 0 };
    let text = text.min(TEXT_WEIGHT);
    let field = if demand.field == result.field { FIELD_WEIGHT } else { 0 };
    let missing = u32::from(demand.trl.saturating_sub(result.trl));
    let trl = TRL_WEIGHT.saturating_sub(5 * missing);
    let (budget, budget_detail) = match (demand.price_fen, result.price_fen) {
        (_, None) => (8, "面议".to_owned()),
        (Some(b), Some(p)) if p <= b => (BUDGET_WEIGHT, format!("{p} ≤ {b}")),
        (Some(b), Some(p)) => {
            // In u128, where weight × budget cannot overflow; the share is below the weight, so it fits a u32.
            let share = u128::from(BUDGET_WEIGHT) * u128::try_from(b.max(0)).unwrap_or(0)
                / u128::try_from(p.max(1)).unwrap_or(1);
            (u32::try_from(share).unwrap_or(BUDGET_WEIGHT), format!("{p} > {b}"))
        }
        (None, Some(p)) => (0, format!("{p}")),
    };
    let region = if !demand.region.is_empty() && demand.region == result.region { REGION_WEIGHT } else { 0 };
    let reasons = vec![
        pb::MatchReason {
            factor: "text".into(),
            points: text,
            detail: shared.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>().join("、"),
        },
        pb::MatchReason { factor: "field".into(), points: field, detail: String::new() },
        pb::MatchReason { factor: "trl".into(), points: trl, detail: format!("TRL {} / {}", result.trl, demand.trl) },
        pb::MatchReason { factor: "budget".into(), points: budget, detail: budget_detail },
        pb::MatchReason { factor: "region".into(), points: region, detail: result.region.clone() },
    ];
    (text + field + trl + budget + region, reasons)
}

/// The notice of a demand's matches, recorded once.
#[derive(Debug, Clone, PartialEq)]
pub enum MatchEvent {
    Matched(pb::DemandMatched),
}

#[derive(Debug, Clone, PartialEq)]
pub enum MatchCommand {
    Record(pb::DemandMatched),
}

/// The decider of a match stream: the first record is kept, any later one changes nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Matches;

impl Decider for Matches {
    type State = bool;
    type Command = MatchCommand;
    type Event = MatchEvent;
    type Rejection = Infallible;

    fn decide(&self, recorded: &bool, command: &MatchCommand, _ctx: &Ctx) -> Result<Vec<MatchEvent>, Infallible> {
        let MatchCommand::Record(m) = command;
        Ok(if *recorded { Vec::new() } else { vec![MatchEvent::Matched(m.clone())] })
    }

    fn evolve(&self, _state: bool, _event: &MatchEvent) -> bool {
        true
    }
}

const DEMAND_MATCHED: &str = "ttx.listings.v1.DemandMatched";

impl DomainEvent for MatchEvent {
    fn event_type(&self) -> &'static str {
        DEMAND_MATCHED
    }

    fn subjects(&self) -> Vec<SubjectRef> {
        let MatchEvent::Matched(m) = self;
        std::iter::once(SubjectRef { kind: "demand".into(), id: m.demand_id.clone() })
            .chain(m.matches.iter().map(|r| SubjectRef { kind: "result".into(), id: r.id.clone() }))
            .collect()
    }

    fn encode(&self) -> Bytes {
        let MatchEvent::Matched(m) = self;
        m.encode_to_vec().into()
    }

    fn decode(event_type: &str, schema_version: u32, payload: &[u8]) -> Result<Self, DecodeError> {
        if event_type != DEMAND_MATCHED || schema_version != 1 {
            return Err(DecodeError::UnknownType { event_type: event_type.to_owned(), schema_version });
        }
        pb::DemandMatched::decode(payload)
            .map(MatchEvent::Matched)
            .map_err(|e| DecodeError::Malformed { event_type: event_type.to_owned(), reason: e.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::{Audience, Kind};
    use ttx_kernel::Timestamp;

    fn doc(kind: Kind, field: i32, trl: u8, price: Option<i64>, region: &str) -> IndexDoc {
        IndexDoc {
            kind,
            id: "x".into(),
            org_id: "o".into(),
            title: String::new(),
            body: String::new(),
            lead: String::new(),
            field,
            trl,
            price_fen: price,
            region: region.into(),
            route: 0,
            modes: vec![],
            audience: Audience::Members,
            since: 0,
        }
    }

    fn terms() -> Vec<(String, f32)> {
        vec![("锂离子".into(), 3.0), ("正极".into(), 1.0)]
    }

    #[test]
    fn a_result_that_fits_on_every_factor_scores_full_marks() {
        let demand = doc(Kind::Demand, 6, 5, Some(1_000), "上海市");
        let result = doc(Kind::Result, 6, 7, Some(900), "上海市");
        let words: HashSet<String> = ["锂离子".to_owned(), "正极".to_owned()].into();
        let (score, reasons) = score(&demand, &result, &terms(), &words);
        assert_eq!(score, 100);
        assert_eq!(reasons[0].detail, "锂离子、正极");
    }

    #[test]
    fn each_factor_falls_short_on_its_own() {
        let demand = doc(Kind::Demand, 6, 7, Some(1_000), "上海市");
        let result = doc(Kind::Result, 2, 5, Some(4_000), "北京市");
        let words: HashSet<String> = ["锂离子".to_owned()].into();
        let (score, reasons) = score(&demand, &result, &terms(), &words);
        let points: Vec<u32> = reasons.iter().map(|r| r.points).collect();
        // text 40×3/4, field 0, TRL two levels short, budget 15×1000/4000, region 0.
        assert_eq!(points, vec![30, 0, 5, 3, 0]);
        assert_eq!(score, 38);
        let negotiable = doc(Kind::Result, 6, 7, None, "上海市");
        assert_eq!(super::score(&demand, &negotiable, &terms(), &words).1[3].points, 8);
    }

    #[test]
    fn a_demand_is_matched_once() {
        let ctx =
            Ctx::new(Timestamp::from_unix_micros(0), Default::default(), ttx_kernel::CommandId::parse("c").unwrap());
        let m = pb::DemandMatched { demand_id: "d".into(), ..Default::default() };
        let given = Matches.fold([]);
        let events = Matches.decide(&given, &MatchCommand::Record(m.clone()), &ctx).unwrap();
        assert_eq!(events, vec![MatchEvent::Matched(m.clone())]);
        let again = Matches.fold(&events);
        assert!(Matches.decide(&again, &MatchCommand::Record(m), &ctx).unwrap().is_empty());
    }
}
