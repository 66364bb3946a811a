//! The PRC working-day calendar as data, stream `identity-calendar-prc`: each year's public-holiday schedule is an
//! event. The exchange seeds the published years ([`ttx_kernel::calendar::PUBLISHED`]) when identity starts; an
//! administrator loads each later year as the State Council publishes it, or a revision of a year. Every service that
//! counts periods folds these events into its [`ttx_kernel::calendar::CalendarView`] (`fold`, in the kernel, since
//! no service imports another), so a decision counts
//! with the schedules loaded before it and records the calendar's version.

use bytes::Bytes;
use prost::Message;
use ttx_kernel::calendar::{Calendar, Schedule};
use ttx_kernel::{Ctx, Decider, DecodeError, DomainEvent, StreamId};
use ttx_proto::common::v1::{Role, SubjectRef};
use ttx_proto::identity::v1 as pb;

pub use ttx_kernel::calendar::{SCHEDULE_LOADED, STREAM, fold, schedule};

pub fn stream() -> StreamId {
    StreamId::new("identity", "calendar", "prc").expect("a valid stream id")
}

/// A year's schedule was loaded.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded(pub pb::ScheduleLoaded);

impl DomainEvent for Loaded {
    fn event_type(&self) -> &'static str {
        SCHEDULE_LOADED
    }

    fn subjects(&self) -> Vec<SubjectRef> {
        vec![SubjectRef { kind: "calendar-year".into(), id: self.0.year.to_string() }]
    }

    fn encode(&self) -> Bytes {
        self.0.encode_to_vec().into()
    }

    fn decode(event_type: &str, schema_version: u32, payload: &[u8]) -> Result<Self, DecodeError> {
        if event_type != SCHEDULE_LOADED {
            return Err(DecodeError::UnknownType { event_type: event_type.to_owned(), schema_version });
        }
        pb::ScheduleLoaded::decode(payload)
            .map(Loaded)
            .map_err(|e| DecodeError::Malformed { event_type: event_type.to_owned(), reason: e.to_string() })
    }
}

fn event_of(s: &Schedule, by: &str) -> pb::ScheduleLoaded {
    pb::ScheduleLoaded {
        year: s.year,
        holidays: s.holidays.iter().map(ToString::to_string).collect(),
        make_up_workdays: s.make_up_workdays.iter().map(ToString::to_string).collect(),
        source: s.source.clone(),
        by_user_id: by.to_owned(),
    }
}

/// The view of a calendar for pages and the API.
pub fn view(c: &Calendar) -> pb::Calendar {
    pb::Calendar {
        version: c.version(),
        years: c
            .schedules()
            .map(|s| pb::YearSchedule {
                year: s.year,
                holidays: s.holidays.iter().map(ToString::to_string).collect(),
                make_up_workdays: s.make_up_workdays.iter().map(ToString::to_string).collect(),
                source: s.source.clone(),
            })
            .collect(),
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum CalendarCommand {
    /// By an administrator: a year's schedule as published, or its revision.
    Load(Schedule),
    /// By the exchange at start: a published year, unless some schedule for it is loaded already.
    Seed(Schedule),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum CalendarRejection {
    #[error("only an administrator loads a holiday schedule")]
    AdminOnly,
    #[error("only the exchange seeds the published schedules")]
    NotTheExchange,
}

impl ttx_kernel::decider::Refusal for CalendarRejection {
    fn code(&self) -> ttx_proto::common::v1::ErrorCode {
        ttx_proto::common::v1::ErrorCode::Forbidden
    }

    fn reason(&self) -> &'static str {
        self.into()
    }
}

/// The calendar decider: its state is the calendar itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct Calendars;

impl Decider for Calendars {
    type State = Calendar;
    type Command = CalendarCommand;
    type Event = Loaded;
    type Rejection = CalendarRejection;

    fn decide(&self, state: &Calendar, command: &CalendarCommand, ctx: &Ctx) -> Result<Vec<Loaded>, CalendarRejection> {
        match command {
            CalendarCommand::Load(s) => {
                if !ctx.actor.has_role(Role::Admin) {
                    return Err(CalendarRejection::AdminOnly);
                }
                // The same schedule again changes nothing.
                if state.schedule(s.year) == Some(s) {
                    return Ok(Vec::new());
                }
                Ok(vec![Loaded(event_of(s, &ctx.actor.user_id))])
            }
            CalendarCommand::Seed(s) => {
                if !ctx.actor.has_role(Role::System) {
                    return Err(CalendarRejection::NotTheExchange);
                }
                if state.schedule(s.year).is_some() {
                    return Ok(Vec::new());
                }
                Ok(vec![Loaded(event_of(s, "system"))])
            }
        }
    }

    fn evolve(&self, state: Calendar, event: &Loaded) -> Calendar {
        let e = &event.0;
        match schedule(e.year, &e.holidays, &e.make_up_workdays, &e.source) {
            Ok(s) => state.with(s),
            // Never written: the decider checks every schedule. Counted anyway, so versions stay positions.
            Err(_) => {
                tracing::error!(year = e.year, "a stored holiday schedule does not check");
                state.counted()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use ttx_kernel::testing::Scenario;
    use ttx_proto::common::v1::Actor;

    use super::*;

    fn actor(role: Role) -> Actor {
        Actor { user_id: "u".into(), org_id: "o".into(), role: role.into(), roles: vec![role.into()] }
    }

    fn y2027() -> Schedule {
        schedule(2027, &["2027-01-01".into()], &[], "test notice").unwrap()
    }

    fn seeds() -> Vec<Loaded> {
        Calendar::published_schedules().iter().map(|s| Loaded(event_of(s, "system"))).collect()
    }

    #[test]
    fn an_administrator_loads_a_year_and_the_same_schedule_again_changes_nothing() {
        Scenario::new(Calendars)
            .by(actor(Role::Admin))
            .given(seeds())
            .when(CalendarCommand::Load(y2027()))
            .then(vec![Loaded(event_of(&y2027(), "u"))]);
        Scenario::new(Calendars)
            .by(actor(Role::Admin))
            .given(seeds().into_iter().chain([Loaded(event_of(&y2027(), "u"))]))
            .when(CalendarCommand::Load(y2027()))
            .then(vec![]);
    }

    #[test]
    fn only_an_administrator_loads_and_only_the_exchange_seeds() {
        Scenario::new(Calendars)
            .by(actor(Role::TechManager))
            .when(CalendarCommand::Load(y2027()))
            .then_rejected(CalendarRejection::AdminOnly);
        Scenario::new(Calendars)
            .by(actor(Role::Admin))
            .when(CalendarCommand::Seed(y2027()))
            .then_rejected(CalendarRejection::NotTheExchange);
    }

    #[test]
    fn a_seed_never_replaces_a_loaded_year() {
        let revised = schedule(2026, &["2026-01-01".into()], &[], "revised").unwrap();
        Scenario::new(Calendars)
            .by(actor(Role::System))
            .given([Loaded(event_of(&revised, "u"))])
            .when(CalendarCommand::Seed(Calendar::published_schedules()[1].clone()))
            .then(vec![]);
    }

    #[test]
    fn the_seeds_fold_into_the_published_calendar() {
        let folded = Calendars.fold(&seeds());
        assert_eq!(&folded, Calendar::published().as_ref());
    }

    #[test]
    fn bad_dates_are_refused_naming_the_entry() {
        let e = schedule(2027, &["2027-01-01".into(), "2027-02-30".into()], &[], "x").unwrap_err();
        assert_eq!(e.field, "holidays[1]");
    }
}
