//! Listings' reactions to other contexts' published events, as pure functions the service's reaction task carries
//! out: what an event of negotiation asks of a result ([`of_event`]), whether the result records it already
//! ([`Reaction::recorded`]), and the command that records it ([`Reaction::command`]), with an id derived from the causing
//! event ([`Reaction::command_id`]) so that a redelivered or replayed event changes nothing.
//!
//! - A deal that grants an exclusive right (every mode but the non-exclusive and open licences, and deals from before
//!   modes were declared) puts its result under contract.
//! - A right voided in the result's market (the winner defaulted, or the holder withdrew before the contract) puts the
//!   result back on the market.

use prost::Message;
use ttx_kernel::{CommandId, DecodeError, RecordedEvent};
use ttx_proto::listings::v1::TransactionMode;
use ttx_proto::negotiation::v1 as npb;

use crate::domain::{ResultCommand, ResultState};

/// What an event asks of a result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Asked {
    /// A deal granting an exclusive right: the result goes under contract.
    UnderContract { result_id: String, deal_id: String, buyer_org_id: String },
    /// The right was voided: the result is back on the market.
    Release { result_id: String, deal_id: String, reason: String },
}

/// A reaction owed: what is asked, and the event that caused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reaction {
    /// The causing event's id (its log position for events recorded without one).
    pub cause: String,
    pub asked: Asked,
}

/// The reaction a recorded event asks of listings, if any; an event of a type listings reacts to that does not decode
/// is an error.
pub fn of_event(event: &RecordedEvent) -> Result<Option<Reaction>, DecodeError> {
    let malformed = |e: prost::DecodeError| DecodeError::Malformed {
        event_type: event.event_type().to_owned(),
        reason: e.to_string(),
    };
    let asked = match event.event_type() {
        "ttx.negotiation.v1.DealAgreed" => {
            let deal = npb::DealAgreed::decode(event.payload().clone()).map_err(malformed)?;
            let non_exclusive = [TransactionMode::NonExclusiveLicence as i32, TransactionMode::OpenLicence as i32];
            if deal.terms.as_ref().is_some_and(|t| non_exclusive.contains(&t.mode)) {
                return Ok(None);
            }
            Asked::UnderContract { result_id: deal.result_id, deal_id: deal.deal_id, buyer_org_id: deal.buyer_org_id }
        }
        "ttx.negotiation.v1.RightVoided" => {
            let voided = npb::RightVoided::decode(event.payload().clone()).map_err(malformed)?;
            let Some(result_id) = event.stream_id().strip_prefix("negotiation-market-") else { return Ok(None) };
            Asked::Release { result_id: result_id.to_owned(), deal_id: voided.deal_id, reason: voided.reason }
        }
        _ => return Ok(None),
    };
    let cause = event.event_id().map_or_else(|| format!("position-{}", event.position()), |u| u.to_string());
    Ok(Some(Reaction { cause, asked }))
}

impl Reaction {
    pub fn result_id(&self) -> &str {
        match &self.asked {
            Asked::UnderContract { result_id, .. } | Asked::Release { result_id, .. } => result_id,
        }
    }

    pub fn deal_id(&self) -> &str {
        match &self.asked {
            Asked::UnderContract { deal_id, .. } | Asked::Release { deal_id, .. } => deal_id,
        }
    }

    /// Whether the result records it already (replayed history needs no command). A release is idempotent in the
    /// decider, and the result may not show the deal yet, so it is always sent.
    pub fn recorded(&self, result: Option<&ResultState>) -> bool {
        match &self.asked {
            Asked::UnderContract { deal_id, .. } => {
                result.is_some_and(|r| r.deal_id.as_deref() == Some(deal_id.as_str()))
            }
            Asked::Release { .. } => false,
        }
    }

    /// The command that records it on its result.
    pub fn command(&self) -> ResultCommand {
        match &self.asked {
            Asked::UnderContract { deal_id, buyer_org_id, .. } => {
                ResultCommand::MarkUnderContract { deal_id: deal_id.clone(), buyer_org_id: buyer_org_id.clone() }
            }
            Asked::Release { deal_id, reason, .. } => {
                ResultCommand::Release { deal_id: deal_id.clone(), reason: reason.clone() }
            }
        }
    }

    /// The command's id, derived from the cause.
    pub fn command_id(&self) -> Result<CommandId, ttx_kernel::InvalidInput> {
        CommandId::system("reaction", &self.cause)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(stream: &str, event_type: &str, payload: Vec<u8>) -> RecordedEvent {
        let stream = ttx_kernel::StreamId::parse(stream).unwrap();
        let event = ttx_kernel::NewEvent::new(uuid::Uuid::from_u128(7), event_type, Default::default(), payload);
        let placement = ttx_kernel::Placement {
            stream: &stream,
            stream_version: 1,
            global_position: 7,
            command_id: &CommandId::parse("c").unwrap(),
            command_index: 0,
            recorded_at: Default::default(),
            prev_hash: &ttx_kernel::ZERO_HASH,
        };
        RecordedEvent::seal(&event, placement)
    }

    fn recorded(stream: &str, event_type: &str, payload: impl Message) -> RecordedEvent {
        stored(stream, event_type, payload.encode_to_vec())
    }

    fn deal(mode: Option<TransactionMode>) -> npb::DealAgreed {
        npb::DealAgreed {
            deal_id: "d1".into(),
            result_id: "r1".into(),
            buyer_org_id: "firm".into(),
            terms: mode.map(|m| npb::TermSheet { mode: m as i32, ..Default::default() }),
            ..Default::default()
        }
    }

    #[test]
    fn an_exclusive_deal_puts_its_result_under_contract_once() {
        let event =
            recorded("negotiation-deal-d1", "ttx.negotiation.v1.DealAgreed", deal(Some(TransactionMode::Assignment)));
        let reaction = of_event(&event).unwrap().expect("an exclusive deal asks for a contract");
        assert_eq!(reaction.result_id(), "r1");
        assert_eq!(
            reaction.command(),
            ResultCommand::MarkUnderContract { deal_id: "d1".into(), buyer_org_id: "firm".into() }
        );
        // Its id is the cause's: a redelivered event is the same command.
        assert_eq!(reaction.command_id().unwrap(), of_event(&event).unwrap().unwrap().command_id().unwrap());
        // Replayed history the result records already needs nothing.
        let under_contract = ResultState { deal_id: Some("d1".into()), ..ResultState::default() };
        assert!(reaction.recorded(Some(&under_contract)));
        assert!(!reaction.recorded(Some(&ResultState::default())) && !reaction.recorded(None));
        // A deal from before modes were declared counts as exclusive, as it was treated.
        let older = recorded("negotiation-deal-d1", "ttx.negotiation.v1.DealAgreed", deal(None));
        assert!(of_event(&older).unwrap().is_some());
    }

    #[test]
    fn a_non_exclusive_licence_leaves_the_result_on_the_market() {
        for mode in [TransactionMode::NonExclusiveLicence, TransactionMode::OpenLicence] {
            let event = recorded("negotiation-deal-d1", "ttx.negotiation.v1.DealAgreed", deal(Some(mode)));
            assert_eq!(of_event(&event).unwrap(), None, "{mode:?}");
        }
    }

    #[test]
    fn a_voided_right_releases_the_result_of_its_market() {
        let voided = npb::RightVoided { deal_id: "s1".into(), reason: "the winner defaulted".into() };
        let event = recorded("negotiation-market-r1", "ttx.negotiation.v1.RightVoided", voided);
        let reaction = of_event(&event).unwrap().unwrap();
        assert_eq!(reaction.result_id(), "r1");
        assert_eq!(
            reaction.command(),
            ResultCommand::Release { deal_id: "s1".into(), reason: "the winner defaulted".into() }
        );
        assert!(!reaction.recorded(None), "a release is always sent: the decider makes it idempotent");
        // Other events ask nothing; a malformed one is an error, not a silent skip.
        let other = recorded("negotiation-deal-d1", "ttx.negotiation.v1.OfferMade", npb::OfferMade::default());
        assert_eq!(of_event(&other).unwrap(), None);
        let broken = stored("negotiation-deal-d1", "ttx.negotiation.v1.DealAgreed", vec![0xff, 0xff]);
        assert!(of_event(&broken).is_err());
    }
}
