//! What listings owes at a moment without anyone asking, decided in one pure look at the directory: [`due`] lists the
//! public notices whose period is over (they end) and the open demands past their validity (they close). Each
//! command's id names what fires and the instant it fires at, so several instances and restarts fire it once.

use super::*;

/// A command listings sends on its own, for one of its deciders.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Command {
    Result(ResultCommand),
    Demand(DemandCommand),
}

/// Something due: a command on its stream, with an id derived from what fires it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Due {
    /// What fires, for the log: `notice-end` or `demand-expiry`.
    pub what: &'static str,
    pub stream: StreamId,
    pub command: Command,
    pub command_id: CommandId,
}

/// Everything due at `now`.
pub(super) fn due(d: &Directory, now: Timestamp) -> Vec<Due> {
    let notices = d.results.iter().filter_map(|(id, e)| {
        let n = e.state.notice.as_ref().filter(|n| !n.ended && n.ends_at <= now)?;
        Some(Due {
            what: "notice-end",
            stream: result_stream(id).ok()?,
            command: Command::Result(ResultCommand::EndNotice),
            command_id: CommandId::system("notice-end", &format!("{id}:{}", n.ends_at.unix_micros())).ok()?,
        })
    });
    let demands =
        d.demands.iter().filter(|(_, e)| e.state.status == crate::demand::DemandStatus::Open).filter_map(|(id, e)| {
            let until = e.state.details.as_ref().map(|d| d.valid_until).filter(|until| *until <= now)?;
            Some(Due {
                what: "demand-expiry",
                stream: demand_stream(id).ok()?,
                command: Command::Demand(DemandCommand::Expire),
                command_id: CommandId::system("demand-expiry", &format!("{id}:{}", until.unix_micros())).ok()?,
            })
        });
    notices.chain(demands).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Notice;

    const MINUTE: i64 = 60_000_000;

    fn at(minute: i64) -> Timestamp {
        Timestamp::from_unix_micros(1_790_000_000_000_000 + minute * MINUTE)
    }

    fn with_notice(ends: i64, ended: bool) -> Directory {
        let notice = Notice { price_fen: 1, starts_at: at(0), ends_at: at(ends), ended, objections: BTreeMap::new() };
        let state = ResultState { notice: Some(notice), ..ResultState::default() };
        let mut d = Directory::default();
        d.results.insert("r1".into(), Entry { state, ..Entry::default() });
        d
    }

    #[test]
    fn a_notice_ends_once_at_its_end_and_never_before() {
        assert!(due(&with_notice(60, false), at(59)).is_empty());
        let due_now = due(&with_notice(60, false), at(60));
        let [end] = due_now.as_slice() else { panic!("{due_now:?}") };
        assert_eq!((end.what, end.stream.as_str()), ("notice-end", "listings-result-r1"));
        assert_eq!(end.command, Command::Result(ResultCommand::EndNotice));
        // Every instance, at every later tick, sends the same command: the log keeps one outcome.
        let later = due(&with_notice(60, false), at(90));
        assert_eq!(later[0].command_id, end.command_id);
        assert!(due(&with_notice(60, true), at(90)).is_empty(), "an ended notice is not ended again");
    }

    #[test]
    fn an_open_demand_closes_at_the_end_of_its_validity() {
        let details = crate::demand::DemandDetails {
            title: "t".into(),
            field: crate::domain::TechField::NewEnergy,
            indicators: String::new(),
            problem: String::new(),
            existing_conditions: String::new(),
            budget_fen: 0,
            cooperation_mode: String::new(),
            wanted_trl: 5,
            valid_until: at(60),
        };
        let open =
            DemandState { status: crate::demand::DemandStatus::Open, details: Some(details), ..DemandState::default() };
        let mut d = Directory::default();
        d.demands.insert("d1".into(), DemandEntry { state: open.clone(), ..DemandEntry::default() });
        assert!(due(&d, at(59)).is_empty());
        let due_now = due(&d, at(60));
        let [expiry] = due_now.as_slice() else { panic!("{due_now:?}") };
        assert_eq!((expiry.what, expiry.command.clone()), ("demand-expiry", Command::Demand(DemandCommand::Expire)));
        let closed = DemandState { status: crate::demand::DemandStatus::Expired, ..open };
        d.demands.insert("d1".into(), DemandEntry { state: closed, ..DemandEntry::default() });
        assert!(due(&d, at(60)).is_empty());
    }
}
