//! The technology demand (技术需求) aggregate, stream `listings-demand-<id>`, and the open challenge (揭榜挂帅) a demand
//! can be: published indicators, a deadline, letters of intent answering each indicator, a shortlist and an award.
//! No organisation related to the poster (by a declared related-party link, either way) may apply, be shortlisted or
//! win: the check runs at each of the three steps, and a link declared at any time while the challenge was open counts
//! even if it was withdrawn since (the shell passes the relation as its view of identity's events holds it). A demand
//! past its validity closes by the exchange's timer.

use std::collections::BTreeMap;

use ttx_kernel::{Ctx, Decider, Timestamp};
use ttx_proto::common::v1::{Actor, ErrorCode, Role};

use crate::domain::TechField;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemandDetails {
    pub title: String,
    pub field: TechField,
    pub indicators: String,
    pub problem: String,
    pub existing_conditions: String,
    pub budget_fen: i64,
    pub cooperation_mode: String,
    pub wanted_trl: u8,
    pub valid_until: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeTerms {
    pub indicators: Vec<String>,
    pub deadline: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplicationStatus {
    Submitted,
    Shortlisted,
    Awarded,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    pub org_id: String,
    pub user_id: String,
    pub answers: Vec<String>,
    pub status: ApplicationStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DemandStatus {
    #[default]
    None,
    Open,
    Awarded,
    Withdrawn,
    /// Its validity passed with no award.
    Expired,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DemandState {
    pub id: String,
    pub status: DemandStatus,
    pub poster_org_id: String,
    pub details: Option<DemandDetails>,
    pub challenge: Option<ChallengeTerms>,
    pub applications: BTreeMap<String, Application>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DemandCommand {
    Post {
        id: String,
        details: DemandDetails,
        challenge: Option<ChallengeTerms>,
    },
    /// `related`: the declared relation between the applicant's organisation and the poster's, if any (the shell
    /// looks it up in its view of identity's related-party events).
    Apply {
        application_id: String,
        answers: Vec<String>,
        related: Option<String>,
    },
    /// `related` as for `Apply`, for the application's organisation.
    Shortlist {
        application_id: String,
        related: Option<String>,
    },
    Award {
        application_id: String,
        related: Option<String>,
    },
    Withdraw {
        reason: String,
    },
    /// By the exchange's timer, at or after the end of the demand's validity.
    Expire,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DemandEvent {
    Posted { id: String, poster_org_id: String, details: DemandDetails, challenge: Option<ChallengeTerms> },
    ApplicationSubmitted { application_id: String, org_id: String, user_id: String, answers: Vec<String> },
    ApplicationShortlisted { application_id: String },
    Awarded { application_id: String, org_id: String },
    Withdrawn { reason: String },
    Expired { valid_until: Timestamp },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum DemandRejection {
    #[error("only an enterprise member may post a demand")]
    NotAnEnterprise,
    #[error("only the poster's members may do this")]
    NotThePoster,
    #[error("the demand exists already")]
    Exists,
    #[error("no such demand")]
    NoSuchDemand,
    #[error(transparent)]
    Money(#[from] ttx_kernel::money::MoneyError),
    #[error("the demand must be valid past now")]
    AlreadyExpired,
    #[error("a challenge needs 1 to 10 indicators")]
    IndicatorCount,
    #[error("the challenge deadline must be after now and within the demand's validity")]
    BadDeadline,
    #[error("the demand is not open")]
    NotOpen,
    #[error("this demand is not a challenge")]
    NotAChallenge,
    #[error("applications closed at the deadline")]
    DeadlinePassed,
    #[error("the poster cannot apply to its own challenge")]
    OwnChallenge,
    #[error("refused: the applicant is a declared related party of the poster ({0})")]
    RelatedParty(String),
    #[error("an application must answer each of the {0} indicators")]
    AnswersMissing(usize),
    #[error("this organisation has applied already")]
    AlreadyApplied,
    #[error("no such application")]
    NoSuchApplication,
    #[error("only a shortlisted application can be awarded")]
    NotShortlisted,
    #[error("the application is past this step")]
    WrongApplicationStatus,
    #[error("only technology managers and enterprise members apply")]
    CannotApply,
    #[error("regulators read and change nothing")]
    Regulator,
    #[error("the demand's validity ended at {0}")]
    ValidityOver(Timestamp),
    #[error("not yet: the demand is valid until {0}")]
    StillValid(Timestamp),
    #[error("only the exchange's timer closes a demand at the end of its validity")]
    NotTheTimer,
}

impl ttx_kernel::decider::Refusal for DemandRejection {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Money(_) => ErrorCode::InvalidInput,
            Self::NotAnEnterprise | Self::NotThePoster | Self::OwnChallenge | Self::CannotApply | Self::Regulator => {
                ErrorCode::Forbidden
            }
            Self::NoSuchDemand | Self::NoSuchApplication => ErrorCode::NotFound,
            Self::Exists | Self::AlreadyApplied => ErrorCode::Conflict,
            _ => ErrorCode::Rejected,
        }
    }

    fn reason(&self) -> &'static str {
        self.into()
    }

    fn field(&self) -> Option<String> {
        match self {
            Self::Money(e) => Some(e.field().to_owned()),
            _ => None,
        }
    }
}

fn poster(state: &DemandState, actor: &Actor) -> Result<(), DemandRejection> {
    if actor.has_role(Role::EnterpriseMember) && actor.org_id == state.poster_org_id {
        Ok(())
    } else {
        Err(DemandRejection::NotThePoster)
    }
}

/// The demand rules.
#[derive(Debug, Clone, Copy, Default)]
pub struct Demands;

impl Decider for Demands {
    type State = DemandState;
    type Command = DemandCommand;
    type Event = DemandEvent;
    type Rejection = DemandRejection;

    fn decide(
        &self,
        state: &DemandState,
        command: &DemandCommand,
        ctx: &Ctx,
    ) -> Result<Vec<DemandEvent>, DemandRejection> {
        let actor = &ctx.actor;
        if actor.has_role(Role::Regulator) && !actor.has_role(Role::Admin) {
            return Err(DemandRejection::Regulator);
        }
        if let DemandCommand::Post { id, details, challenge } = command {
            if state.status != DemandStatus::None {
                return Err(DemandRejection::Exists);
            }
            if !actor.has_role(Role::EnterpriseMember) {
                return Err(DemandRejection::NotAnEnterprise);
            }
            ttx_kernel::money::amount(
                "demand.budget_fen",
                details.budget_fen,
                crate::domain::RULES_2026.max_amount_fen,
            )?;
            if details.valid_until <= ctx.now {
                return Err(DemandRejection::AlreadyExpired);
            }
            if let Some(c) = challenge {
                if c.indicators.is_empty() || c.indicators.len() > 10 {
                    return Err(DemandRejection::IndicatorCount);
                }
                if c.deadline <= ctx.now || c.deadline > details.valid_until {
                    return Err(DemandRejection::BadDeadline);
                }
            }
            return Ok(vec![DemandEvent::Posted {
                id: id.clone(),
                poster_org_id: actor.org_id.clone(),
                details: details.clone(),
                challenge: challenge.clone(),
            }]);
        }
        if state.status == DemandStatus::None {
            return Err(DemandRejection::NoSuchDemand);
        }
        match command {
            DemandCommand::Post { .. } => Err(DemandRejection::Exists),
            DemandCommand::Apply { application_id, answers, related } => {
                if state.status != DemandStatus::Open {
                    return Err(DemandRejection::NotOpen);
                }
                let Some(challenge) = &state.challenge else { return Err(DemandRejection::NotAChallenge) };
                if !(actor.has_role(Role::TechManager) || actor.has_role(Role::EnterpriseMember)) {
                    return Err(DemandRejection::CannotApply);
                }
                if ctx.now >= challenge.deadline {
                    return Err(DemandRejection::DeadlinePassed);
                }
                valid(state, ctx.now)?;
                if actor.org_id == state.poster_org_id {
                    return Err(DemandRejection::OwnChallenge);
                }
                if let Some(relation) = related {
                    return Err(DemandRejection::RelatedParty(relation.clone()));
                }
                if answers.len() != challenge.indicators.len() || answers.iter().any(|a| a.trim().is_empty()) {
                    return Err(DemandRejection::AnswersMissing(challenge.indicators.len()));
                }
                if state.applications.values().any(|a| a.org_id == actor.org_id)
                    || state.applications.contains_key(application_id)
                {
                    return Err(DemandRejection::AlreadyApplied);
                }
                Ok(vec![DemandEvent::ApplicationSubmitted {
                    application_id: application_id.clone(),
                    org_id: actor.org_id.clone(),
                    user_id: actor.user_id.clone(),
                    answers: answers.clone(),
                }])
            }
            DemandCommand::Shortlist { application_id, related } => {
                poster(state, actor)?;
                if state.status != DemandStatus::Open {
                    return Err(DemandRejection::NotOpen);
                }
                valid(state, ctx.now)?;
                let app = state.applications.get(application_id).ok_or(DemandRejection::NoSuchApplication)?;
                if let Some(relation) = related {
                    return Err(DemandRejection::RelatedParty(relation.clone()));
                }
                match app.status {
                    ApplicationStatus::Submitted => {
                        Ok(vec![DemandEvent::ApplicationShortlisted { application_id: application_id.clone() }])
                    }
                    ApplicationStatus::Shortlisted => Ok(Vec::new()),
                    ApplicationStatus::Awarded => Err(DemandRejection::WrongApplicationStatus),
                }
            }
            DemandCommand::Award { application_id, related } => {
                poster(state, actor)?;
                if state.status != DemandStatus::Open {
                    return Err(DemandRejection::NotOpen);
                }
                valid(state, ctx.now)?;
                let app = state.applications.get(application_id).ok_or(DemandRejection::NoSuchApplication)?;
                if let Some(relation) = related {
                    return Err(DemandRejection::RelatedParty(relation.clone()));
                }
                if app.status != ApplicationStatus::Shortlisted {
                    return Err(DemandRejection::NotShortlisted);
                }
                Ok(vec![DemandEvent::Awarded { application_id: application_id.clone(), org_id: app.org_id.clone() }])
            }
            DemandCommand::Withdraw { reason } => {
                poster(state, actor)?;
                if state.status != DemandStatus::Open {
                    return Err(DemandRejection::NotOpen);
                }
                Ok(vec![DemandEvent::Withdrawn { reason: reason.clone() }])
            }
            DemandCommand::Expire => {
                if !actor.has_role(Role::System) {
                    return Err(DemandRejection::NotTheTimer);
                }
                if state.status != DemandStatus::Open {
                    return Ok(Vec::new());
                }
                let valid_until = state.details.as_ref().map_or(ctx.now, |d| d.valid_until);
                if ctx.now < valid_until {
                    return Err(DemandRejection::StillValid(valid_until));
                }
                Ok(vec![DemandEvent::Expired { valid_until }])
            }
        }
    }

    fn evolve(&self, mut state: DemandState, event: &DemandEvent) -> DemandState {
        match event {
            DemandEvent::Posted { id, poster_org_id, details, challenge } => {
                state.id.clone_from(id);
                state.poster_org_id.clone_from(poster_org_id);
                state.details = Some(details.clone());
                state.challenge.clone_from(challenge);
                state.status = DemandStatus::Open;
            }
            DemandEvent::ApplicationSubmitted { application_id, org_id, user_id, answers } => {
                state.applications.insert(
                    application_id.clone(),
                    Application {
                        org_id: org_id.clone(),
                        user_id: user_id.clone(),
                        answers: answers.clone(),
                        status: ApplicationStatus::Submitted,
                    },
                );
            }
            DemandEvent::ApplicationShortlisted { application_id } => {
                if let Some(a) = state.applications.get_mut(application_id) {
                    a.status = ApplicationStatus::Shortlisted;
                }
            }
            DemandEvent::Awarded { application_id, .. } => {
                if let Some(a) = state.applications.get_mut(application_id) {
                    a.status = ApplicationStatus::Awarded;
                }
                state.status = DemandStatus::Awarded;
            }
            DemandEvent::Withdrawn { .. } => state.status = DemandStatus::Withdrawn,
            DemandEvent::Expired { .. } => state.status = DemandStatus::Expired,
        }
        state
    }
}

/// A demand past its validity takes no more steps (its timer closes it).
fn valid(state: &DemandState, now: Timestamp) -> Result<(), DemandRejection> {
    match state.details.as_ref().map(|d| d.valid_until) {
        Some(until) if now >= until => Err(DemandRejection::ValidityOver(until)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use ttx_kernel::testing::Scenario;

    use super::*;

    const T0: i64 = 1_790_000_000_000_000;
    const DAY: i64 = 86_400_000_000;

    fn at(days: i64) -> Timestamp {
        Timestamp::from_unix_micros(T0 + days * DAY)
    }

    fn actor(user: &str, org: &str, role: Role) -> Actor {
        Actor { user_id: user.into(), org_id: org.into(), role: role.into(), roles: vec![role.into()] }
    }

    fn poster_member() -> Actor {
        actor("zhaomin", "firm", Role::EnterpriseMember)
    }

    fn solver() -> Actor {
        actor("zhangwei", "uni", Role::TechManager)
    }

    fn details() -> DemandDetails {
        DemandDetails {
            title: "动力电池低温性能提升".into(),
            field: TechField::NewEnergy,
            indicators: "-20℃ 容量保持率 ≥ 85%".into(),
            problem: "冬季续航下降明显".into(),
            existing_conditions: "中试线一条".into(),
            budget_fen: 300_000_000,
            cooperation_mode: "合作开发".into(),
            wanted_trl: 6,
            valid_until: at(90),
        }
    }

    fn terms() -> ChallengeTerms {
        ChallengeTerms { indicators: vec!["低温容量保持率".into(), "循环寿命".into()], deadline: at(30) }
    }

    fn posted() -> DemandEvent {
        DemandEvent::Posted {
            id: "d1".into(),
            poster_org_id: "firm".into(),
            details: details(),
            challenge: Some(terms()),
        }
    }

    fn applied(id: &str, org: &str) -> DemandEvent {
        DemandEvent::ApplicationSubmitted {
            application_id: id.into(),
            org_id: org.into(),
            user_id: "zhangwei".into(),
            answers: vec!["88%".into(), "3000 次".into()],
        }
    }

    fn apply(related: Option<&str>) -> DemandCommand {
        DemandCommand::Apply {
            application_id: "a1".into(),
            answers: vec!["88%".into(), "3000 次".into()],
            related: related.map(str::to_owned),
        }
    }

    fn demands() -> Scenario<Demands> {
        Scenario::new(Demands).at(at(0))
    }

    #[test]
    fn an_enterprise_posts_a_challenge_with_indicators_and_a_deadline() {
        let post = |challenge| DemandCommand::Post { id: "d1".into(), details: details(), challenge };
        let state = demands().by(poster_member()).when(post(Some(terms()))).then([posted()]);
        assert_eq!(state.status, DemandStatus::Open);
        demands().by(solver()).when(post(None)).then_rejected(DemandRejection::NotAnEnterprise);
        let late = ChallengeTerms { deadline: at(91), ..terms() };
        demands().by(poster_member()).when(post(Some(late))).then_rejected(DemandRejection::BadDeadline);
        let none = ChallengeTerms { indicators: vec![], ..terms() };
        demands().by(poster_member()).when(post(Some(none))).then_rejected(DemandRejection::IndicatorCount);
        let mut free = details();
        free.budget_fen = 0;
        demands()
            .by(poster_member())
            .when(DemandCommand::Post { id: "d1".into(), details: free, challenge: None })
            .then_rejected(DemandRejection::Money(ttx_kernel::money::MoneyError::NotPositive {
                field: "demand.budget_fen".into(),
            }));
        let mut old = details();
        old.valid_until = at(0);
        demands()
            .by(poster_member())
            .when(DemandCommand::Post { id: "d1".into(), details: old, challenge: None })
            .then_rejected(DemandRejection::AlreadyExpired);
    }

    #[test]
    fn a_solver_applies_once_before_the_deadline_answering_every_indicator() {
        let state = demands().by(solver()).given([posted()]).when(apply(None)).then([applied("a1", "uni")]);
        assert_eq!(state.applications["a1"].status, ApplicationStatus::Submitted);
        demands()
            .by(solver())
            .given([posted()])
            .when(DemandCommand::Apply { application_id: "a1".into(), answers: vec!["88%".into()], related: None })
            .then_rejected(DemandRejection::AnswersMissing(2));
        demands()
            .by(solver())
            .given([posted(), applied("a0", "uni")])
            .when(apply(None))
            .then_rejected(DemandRejection::AlreadyApplied);
        demands()
            .by(solver())
            .given([posted()])
            .at(at(30))
            .when(apply(None))
            .then_rejected(DemandRejection::DeadlinePassed);
        demands().by(poster_member()).given([posted()]).when(apply(None)).then_rejected(DemandRejection::OwnChallenge);
        demands()
            .by(actor("wufang", "agency", Role::Regulator))
            .given([posted()])
            .when(apply(None))
            .then_rejected(DemandRejection::Regulator);
    }

    #[test]
    fn a_related_organisations_application_is_refused_with_the_reason() {
        demands()
            .by(solver())
            .given([posted()])
            .when(apply(Some("校办企业（持股 30%）")))
            .then_rejected(DemandRejection::RelatedParty("校办企业（持股 30%）".into()));
    }

    #[test]
    fn a_related_applicant_is_refused_at_the_shortlist_and_the_award_too() {
        // A link declared after the application (or declared while the challenge ran and withdrawn since, which the
        // shell passes as still holding) stops both later steps.
        let relation = Some("同一控制人".to_owned());
        let history = vec![posted(), applied("a1", "uni")];
        demands()
            .by(poster_member())
            .given(history.clone())
            .when(DemandCommand::Shortlist { application_id: "a1".into(), related: relation.clone() })
            .then_rejected(DemandRejection::RelatedParty("同一控制人".into()));
        let shortlisted = [history, vec![DemandEvent::ApplicationShortlisted { application_id: "a1".into() }]].concat();
        demands()
            .by(poster_member())
            .given(shortlisted)
            .when(DemandCommand::Award { application_id: "a1".into(), related: relation })
            .then_rejected(DemandRejection::RelatedParty("同一控制人".into()));
    }

    #[test]
    fn a_demand_past_its_validity_takes_no_step_and_its_timer_closes_it() {
        let history = vec![posted(), applied("a1", "uni")];
        demands()
            .by(poster_member())
            .given(history.clone())
            .at(at(90))
            .when(DemandCommand::Shortlist { application_id: "a1".into(), related: None })
            .then_rejected(DemandRejection::ValidityOver(at(90)));
        let timer = actor("system", "", Role::System);
        demands()
            .by(timer.clone())
            .given(history.clone())
            .at(at(89))
            .when(DemandCommand::Expire)
            .then_rejected(DemandRejection::StillValid(at(90)));
        demands()
            .by(poster_member())
            .given(history.clone())
            .at(at(90))
            .when(DemandCommand::Expire)
            .then_rejected(DemandRejection::NotTheTimer);
        let state = demands()
            .by(timer.clone())
            .given(history.clone())
            .at(at(90))
            .when(DemandCommand::Expire)
            .then([DemandEvent::Expired { valid_until: at(90) }]);
        assert_eq!(state.status, DemandStatus::Expired);
        // Fired again (another instance, a restart): nothing more.
        let expired = [history, vec![DemandEvent::Expired { valid_until: at(90) }]].concat();
        demands().by(timer).given(expired).at(at(91)).when(DemandCommand::Expire).then([]);
    }

    #[test]
    fn a_plain_demand_takes_no_applications() {
        let plain =
            DemandEvent::Posted { id: "d1".into(), poster_org_id: "firm".into(), details: details(), challenge: None };
        demands().by(solver()).given([plain]).when(apply(None)).then_rejected(DemandRejection::NotAChallenge);
    }

    #[test]
    fn the_poster_shortlists_then_awards_once() {
        let history = vec![posted(), applied("a1", "uni"), applied("a2", "inst")];
        let shortlist = |id: &str| DemandCommand::Shortlist { application_id: id.into(), related: None };
        let award = |id: &str| DemandCommand::Award { application_id: id.into(), related: None };
        demands()
            .by(solver())
            .given(history.clone())
            .when(shortlist("a1"))
            .then_rejected(DemandRejection::NotThePoster);
        let listed = DemandEvent::ApplicationShortlisted { application_id: "a1".into() };
        demands().by(poster_member()).given(history.clone()).when(shortlist("a1")).then([listed.clone()]);
        demands()
            .by(poster_member())
            .given(history.clone())
            .when(award("a2"))
            .then_rejected(DemandRejection::NotShortlisted);
        let mut shortlisted = history.clone();
        shortlisted.push(listed);
        demands().by(poster_member()).given(shortlisted.clone()).when(shortlist("a1")).then([]);
        let state = demands()
            .by(poster_member())
            .given(shortlisted.clone())
            .when(award("a1"))
            .then([DemandEvent::Awarded { application_id: "a1".into(), org_id: "uni".into() }]);
        assert_eq!(state.status, DemandStatus::Awarded);
        shortlisted.push(DemandEvent::Awarded { application_id: "a1".into(), org_id: "uni".into() });
        demands().by(poster_member()).given(shortlisted).when(award("a1")).then_rejected(DemandRejection::NotOpen);
        demands()
            .by(poster_member())
            .given(history)
            .when(shortlist("nope"))
            .then_rejected(DemandRejection::NoSuchApplication);
    }

    #[test]
    fn the_poster_withdraws_an_open_demand() {
        demands()
            .by(poster_member())
            .given([posted()])
            .when(DemandCommand::Withdraw { reason: "需求变更".into() })
            .then([DemandEvent::Withdrawn { reason: "需求变更".into() }]);
        demands()
            .by(poster_member())
            .when(DemandCommand::Withdraw { reason: "x".into() })
            .then_rejected(DemandRejection::NoSuchDemand);
    }

    /// Money is never wrong: any budget, over the full i64 range, is refused or is 1 fen to the ceiling.
    mod money {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            #[test]
            fn a_budget_is_refused_or_within_the_rules(
                budget in prop_oneof![Just(i64::MIN), Just(0i64), Just(1i64), Just(i64::MAX), any::<i64>()],
            ) {
                let mut d = details();
                d.budget_fen = budget;
                let command = DemandCommand::Post { id: "d1".into(), details: d, challenge: None };
                let ctx = Ctx::new(at(0), poster_member(), ttx_kernel::CommandId::parse("c").unwrap());
                match Demands.decide(&DemandState::default(), &command, &ctx) {
                    Ok(events) => {
                        let state = Demands.fold(&events);
                        let posted = state.details.as_ref().map(|d| d.budget_fen).unwrap_or_default();
                        prop_assert!((1..=crate::domain::RULES_2026.max_amount_fen).contains(&posted));
                    }
                    Err(e) => prop_assert!(matches!(e, DemandRejection::Money(_)), "{e:?}"),
                }
            }
        }
    }
}
