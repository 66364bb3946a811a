//! Given/when/then for deciders, without async and without a log.

use std::fmt::Debug;

use ttx_proto::common::v1::{Actor, Role};

use crate::decider::{Ctx, Decider, DomainEvent, IdSource};
use crate::ids::CommandId;
use crate::time::Timestamp;

/// A decider test: past events, one command, and what must come of it.
#[derive(Debug)]
pub struct Scenario<D: Decider> {
    decider: D,
    given: Vec<D::Event>,
    ctx: Ctx,
}

impl<D: Decider> Scenario<D> {
    /// A scenario at 2026-01-01T00:00:00Z, by an admin, with ids `1:1`, `1:2`, … .
    pub fn new(decider: D) -> Self {
        let actor = Actor {
            user_id: "user-test".into(),
            org_id: "org-test".into(),
            role: Role::Admin.into(),
            roles: vec![Role::Admin.into()],
        };
        let mut ctx = Ctx::new(
            Timestamp::from_unix_micros(1_767_225_600_000_000),
            actor,
            CommandId::parse("cmd-test").unwrap_or_else(|_| CommandId::generate()),
        );
        ctx.ids = IdSource::sequence(1);
        Self { decider, given: Vec::new(), ctx }
    }

    pub fn at(mut self, now: Timestamp) -> Self {
        self.ctx.now = now;
        self
    }

    pub fn by(mut self, actor: Actor) -> Self {
        self.ctx.actor = actor;
        self
    }

    pub fn with_rule_version(mut self, v: impl Into<String>) -> Self {
        self.ctx.rule_version = v.into();
        self
    }

    /// Decides with `calendar` in force instead of the published one.
    pub fn with_calendar(mut self, calendar: crate::calendar::Calendar) -> Self {
        self.ctx.calendar = std::sync::Arc::new(calendar);
        self
    }

    pub fn given(mut self, events: impl IntoIterator<Item = D::Event>) -> Self {
        self.given.extend(events);
        self
    }

    /// Decides `command` against the folded history.
    pub fn when(self, command: D::Command) -> Decided<D> {
        let state = self.decider.fold(&self.given);
        let result = self.decider.decide(&state, &command, &self.ctx);
        Decided { decider: self.decider, state, command, result }
    }
}

/// What a scenario's command produced.
#[derive(Debug)]
pub struct Decided<D: Decider> {
    decider: D,
    state: D::State,
    command: D::Command,
    result: Result<Vec<D::Event>, D::Rejection>,
}

fn assert_round_trips<E: DomainEvent>(e: &E) {
    let bytes = e.encode();
    match E::decode(e.event_type(), e.schema_version(), &bytes) {
        Ok(back) => assert_eq!(&back, e, "event does not survive its codec"),
        Err(err) => panic!("event {e:?} does not decode from its own encoding: {err}"),
    }
}

impl<D: Decider> Decided<D> {
    /// Asserts the exact events (each must also survive its codec); returns the state after them.
    #[track_caller]
    pub fn then(self, expected: impl IntoIterator<Item = D::Event>) -> D::State {
        let expected: Vec<D::Event> = expected.into_iter().collect();
        match self.result {
            Ok(events) => {
                assert_eq!(events, expected, "command {:?} produced other events", self.command);
                events.iter().for_each(assert_round_trips);
                events.iter().fold(self.state, |s, e| self.decider.evolve(s, e))
            }
            Err(r) => panic!("command {:?} was rejected ({r}), expected {expected:?}", self.command),
        }
    }

    /// Asserts the command was refused for exactly this reason.
    #[track_caller]
    pub fn then_rejected(self, expected: D::Rejection) {
        match self.result {
            Ok(events) => {
                panic!("command {:?} was accepted with {events:?}, expected rejection {expected:?}", self.command)
            }
            Err(r) => assert_eq!(r, expected),
        }
    }

    /// The raw result, for assertions the helpers above do not cover.
    pub fn result(&self) -> &Result<Vec<D::Event>, D::Rejection> {
        &self.result
    }
}

/// Builds an actor for tests.
pub fn actor(user: &str, org: &str, role: Role) -> Actor {
    Actor { user_id: user.into(), org_id: org.into(), role: role.into(), roles: vec![role.into()] }
}

/// Compares two debug-printable values' text, for errors that do not implement `PartialEq`.
pub fn same_debug<A: Debug, B: Debug>(a: &A, b: &B) -> bool {
    format!("{a:?}") == format!("{b:?}")
}
