//! The research result (科技成果) aggregate, stream `listings-result-<id>`: its lifecycle from draft through review and
//! publication to a transaction or withdrawal, and the public notice (公示) that negotiated pricing requires.
//!
//! Pure: time, actor and rules arrive in the context; the notice ends when the owning service's timer sends
//! `EndNotice` at or after its end.

use std::collections::{BTreeMap, BTreeSet};

use ttx_kernel::{Ctx, Decider, Timestamp};
use ttx_proto::common::v1::{Actor, ErrorCode, Role};

/// 高新技术领域: the eight fields of high technology a result is filed under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TechField {
    ElectronicInformation,
    Biomedicine,
    Aerospace,
    NewMaterials,
    HighTechServices,
    NewEnergy,
    ResourcesEnvironment,
    AdvancedManufacturing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ResultForm {
    Product,
    Process,
    Material,
    Software,
    Standard,
    Variety,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IpKind {
    InventionPatent,
    UtilityModel,
    DesignPatent,
    SoftwareCopyright,
    IcLayout,
    PlantVariety,
    TechnicalSecret,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpRight {
    pub kind: IpKind,
    /// Patent or registration number; empty for a technical secret.
    pub number: String,
    /// 法律状态, e.g. "授权", "实审".
    pub legal_status: String,
    /// Licences already granted, and whether any is exclusive.
    pub licences_granted: u32,
    pub exclusive_licence_granted: bool,
}

/// A holder and its share in basis points (1/100 of a percent); shares add up to 10,000.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub org_id: String,
    pub share_bp: u16,
}

/// 密级. Only a public result may be listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Secrecy {
    Public,
    Internal,
    Secret,
    Confidential,
    TopSecret,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TransactionMode {
    Assignment,
    ExclusiveLicence,
    SoleLicence,
    NonExclusiveLicence,
    Equity,
    OpenLicence,
}

/// An asking price in fen, or 面议 (negotiable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AskingPrice {
    Fen(i64),
    Negotiable,
}

/// The legal pricing route (促进科技成果转化法 art. 18).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PricingRoute {
    Negotiated,
    Listed,
    Auction,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    Public,
    RegisteredUsers,
    UnderNda,
}

/// A TRL is an assessment, not a bare number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrlAssessment {
    pub level: u8,
    pub assessor: String,
    /// `YYYY-MM-DD`.
    pub assessed_on: String,
    pub evidence: String,
}

/// Everything a result listing says (validated at the edge).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    pub title: String,
    pub summary: String,
    pub field: TechField,
    pub industry: String,
    pub keywords: Vec<String>,
    pub innovations: Vec<String>,
    pub indicators: String,
    pub trl: TrlAssessment,
    pub form: ResultForm,
    pub ip_rights: Vec<IpRight>,
    pub holders: Vec<Holder>,
    pub inventors: Vec<String>,
    pub secrecy: Secrecy,
    pub modes: BTreeSet<TransactionMode>,
    pub price: AskingPrice,
    pub route: PricingRoute,
    pub visibility: Visibility,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Status {
    #[default]
    None,
    Draft,
    Submitted,
    Returned,
    Approved,
    Published,
    UnderContract,
    Transacted,
    Withdrawn,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Objection {
    pub by: Actor,
    pub text: String,
    pub answer: Option<String>,
    /// `Some(true)` upheld, `Some(false)` dismissed.
    pub upheld: Option<bool>,
    /// The reviewer's note with the resolution.
    pub note: String,
    /// Raised, answered, resolved (absent in events recorded before they carried it).
    pub raised_at: Option<Timestamp>,
    pub answered_at: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
    /// The order it was raised in.
    pub seq: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub price_fen: i64,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub ended: bool,
    pub objections: BTreeMap<String, Objection>,
}

impl Notice {
    pub fn open_objections(&self) -> usize {
        self.objections.values().filter(|o| o.upheld.is_none()).count()
    }

    pub fn any_upheld(&self) -> bool {
        self.objections.values().any(|o| o.upheld == Some(true))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResultState {
    pub id: String,
    pub status: Status,
    pub owner_org_id: String,
    pub listing: Option<Listing>,
    pub submitted_by: String,
    pub return_reasons: Vec<String>,
    pub notice: Option<Notice>,
    /// The deal that put it under contract.
    pub deal_id: Option<String>,
    /// Co-holders that consented to exclusive disposal of the listing as it stands.
    pub consents: BTreeSet<String>,
}

impl ResultState {
    /// The holders other than the one that created the result.
    pub fn co_holders(&self) -> Vec<String> {
        self.listing
            .as_ref()
            .map(|l| l.holders.iter().map(|h| h.org_id.clone()).filter(|o| *o != self.owner_org_id).collect())
            .unwrap_or_default()
    }
}

/// The policy rules in force (versioned; events record the version they were decided under).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    pub version: &'static str,
    /// Shortest public notice for negotiated pricing, in days as the Civil Code counts them.
    pub notice_min_days: u32,
    /// The largest amount of money an asking price, a notice price or a budget may be (fen): ¥100 billion.
    pub max_amount_fen: i64,
    /// Objections one organisation may raise to one notice.
    pub max_objections_per_org: u32,
}

pub const RULES_2026: Rules = Rules {
    version: "listings-2026.3",
    notice_min_days: 15,
    max_amount_fen: 10_000_000_000_000,
    max_objections_per_org: 5,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResultCommand {
    Create {
        id: String,
        listing: Listing,
    },
    Edit {
        listing: Listing,
    },
    Submit,
    Approve,
    Return {
        reasons: Vec<String>,
    },
    Publish,
    StartNotice {
        price_fen: i64,
        days: u32,
    },
    RaiseObjection {
        objection_id: String,
        text: String,
    },
    AnswerObjection {
        objection_id: String,
        answer: String,
    },
    ResolveObjection {
        objection_id: String,
        upheld: bool,
        note: String,
    },
    EndNotice,
    Withdraw {
        reason: String,
    },
    /// A deal granting an exclusive right was agreed in negotiation (a reaction to `ttx.negotiation.v1.DealAgreed`,
    /// by the system).
    MarkUnderContract {
        deal_id: String,
        buyer_org_id: String,
    },
    /// The deal fell through (a reaction to `ttx.negotiation.v1.RightVoided`, by the system): back on the market.
    Release {
        deal_id: String,
        reason: String,
    },
    /// A co-holder consents to exclusive disposal (assignment, exclusive or sole licence, equity). `named`: whether
    /// the actor is the member its organisation named to act for it (identity's record; the shell looks it up).
    Consent {
        named: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResultEvent {
    Created { id: String, owner_org_id: String, listing: Listing },
    Edited { listing: Listing },
    Submitted { by: String },
    Approved { by: String },
    Returned { by: String, reasons: Vec<String> },
    Published,
    NoticeStarted { price_fen: i64, starts_at: Timestamp, ends_at: Timestamp },
    ObjectionRaised { objection_id: String, by: Actor, text: String, at: Option<Timestamp> },
    ObjectionAnswered { objection_id: String, answer: String, at: Option<Timestamp> },
    ObjectionResolved { objection_id: String, upheld: bool, note: String, at: Option<Timestamp> },
    NoticeEnded { clean: bool },
    Withdrawn { reason: String },
    UnderContract { deal_id: String, buyer_org_id: String },
    Released { deal_id: String, reason: String },
    CoHolderConsented { org_id: String, by: String, at: Timestamp },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum Rejection {
    #[error("only a technology manager of the holder institution may do this")]
    NotTheHoldersManager,
    #[error("only a reviewer of the holder institution may do this")]
    NotTheHoldersReviewer,
    #[error("the reviewer may not review a result they submitted")]
    OwnSubmission,
    #[error("a result must be created by a technology manager whose institution holds it")]
    CreatorNotAHolder,
    #[error("the result exists already")]
    Exists,
    #[error("no such result")]
    NoSuchResult,
    #[error("only the exchange itself records this")]
    NotTheSystem,
    #[error("not allowed while the result is {0:?}")]
    WrongStatus(Status),
    #[error("a classified result is never published")]
    Classified,
    #[error("classified content (secret, confidential, top secret) never enters the exchange's record")]
    ClassifiedContent,
    #[error("the holders' shares add up to {0} basis points, not 10000")]
    SharesNot100(u32),
    #[error("a result needs at least one transaction mode")]
    NoTransactionMode,
    #[error("a return needs at least one reason")]
    NoReasons,
    #[error("a public notice belongs to the negotiated pricing route")]
    NotNegotiated,
    #[error("a notice runs or ran already")]
    NoticeExists,
    #[error("a notice must run at least {0} days")]
    NoticeTooShort(u32),
    #[error("an organisation raises at most {0} objections to a notice")]
    TooManyObjections(u32),
    #[error("only a technology manager of a co-holder, or the member an enterprise co-holder named, consents for it")]
    NotACoHolder,
    #[error(
        "the period would end in {0}, for which no public-holiday schedule is loaded yet; an administrator loads it"
    )]
    NoSchedule(i32),
    #[error(transparent)]
    Money(#[from] ttx_kernel::money::MoneyError),
    #[error("no notice is running")]
    NoNoticeRunning,
    #[error("the notice has not reached its end")]
    NoticeNotOver,
    #[error("no such objection")]
    NoSuchObjection,
    #[error("the objection has an answer already")]
    AlreadyAnswered,
    #[error("the objection must be answered before it is resolved")]
    NotAnswered,
    #[error("the objection is resolved already")]
    AlreadyResolved,
    #[error("an objection with this id exists")]
    DuplicateObjection,
    #[error("regulators read and change nothing")]
    Regulator,
    #[error("log in to object")]
    Anonymous,
}

impl ttx_kernel::decider::Refusal for Rejection {
    fn code(&self) -> ErrorCode {
        match self {
            Self::TooManyObjections(_) => ErrorCode::TooMany,
            Self::NotTheHoldersManager
            | Self::NotACoHolder
            | Self::NotTheHoldersReviewer
            | Self::OwnSubmission
            | Self::CreatorNotAHolder
            | Self::Regulator
            | Self::Anonymous => ErrorCode::Forbidden,
            Self::NoSuchResult | Self::NoSuchObjection => ErrorCode::NotFound,
            Self::Exists | Self::DuplicateObjection => ErrorCode::Conflict,
            Self::Money(_) | Self::NoSchedule(_) | Self::ClassifiedContent => ErrorCode::InvalidInput,
            _ => ErrorCode::Rejected,
        }
    }

    fn reason(&self) -> &'static str {
        self.into()
    }

    fn field(&self) -> Option<String> {
        match self {
            Self::Money(e) => Some(e.field().to_owned()),
            Self::NoSchedule(_) => Some("days".into()),
            Self::ClassifiedContent => Some("listing.secrecy".into()),
            _ => None,
        }
    }
}

fn manager_of_owner(state: &ResultState, actor: &Actor) -> Result<(), Rejection> {
    if actor.has_role(Role::TechManager) && actor.org_id == state.owner_org_id {
        Ok(())
    } else {
        Err(Rejection::NotTheHoldersManager)
    }
}

fn reviewer_of_owner(state: &ResultState, actor: &Actor) -> Result<(), Rejection> {
    if actor.has_role(Role::Reviewer) && actor.org_id == state.owner_org_id {
        Ok(())
    } else {
        Err(Rejection::NotTheHoldersReviewer)
    }
}

fn check_listing(listing: &Listing) -> Result<(), Rejection> {
    let total: u32 = listing.holders.iter().map(|h| u32::from(h.share_bp)).sum();
    if total != 10_000 {
        return Err(Rejection::SharesNot100(total));
    }
    if listing.modes.is_empty() {
        return Err(Rejection::NoTransactionMode);
    }
    // The log is append-only and published to regulators: secret content is refused before it is written. Internal
    // results are recorded, never published.
    if matches!(listing.secrecy, Secrecy::Secret | Secrecy::Confidential | Secrecy::TopSecret) {
        return Err(Rejection::ClassifiedContent);
    }
    Ok(())
}

fn running_notice(state: &ResultState, now: Timestamp) -> Result<&Notice, Rejection> {
    match &state.notice {
        Some(n) if !n.ended && now < n.ends_at => Ok(n),
        _ => Err(Rejection::NoNoticeRunning),
    }
}

/// The result's rules under a rule set.
#[derive(Debug, Clone)]
pub struct Results {
    pub rules: Rules,
}

impl Default for Results {
    fn default() -> Self {
        Self { rules: RULES_2026 }
    }
}

impl Decider for Results {
    type State = ResultState;
    type Command = ResultCommand;
    type Event = ResultEvent;
    type Rejection = Rejection;

    fn decide(&self, state: &ResultState, command: &ResultCommand, ctx: &Ctx) -> Result<Vec<ResultEvent>, Rejection> {
        let actor = &ctx.actor;
        if actor.has_role(Role::Regulator) && !actor.has_role(Role::Admin) {
            return Err(Rejection::Regulator);
        }
        if let ResultCommand::Create { id, listing } = command {
            if state.status != Status::None {
                return Err(Rejection::Exists);
            }
            if !actor.has_role(Role::TechManager) {
                return Err(Rejection::NotTheHoldersManager);
            }
            if !listing.holders.iter().any(|h| h.org_id == actor.org_id) {
                return Err(Rejection::CreatorNotAHolder);
            }
            check_listing(listing)?;
            return Ok(vec![ResultEvent::Created {
                id: id.clone(),
                owner_org_id: actor.org_id.clone(),
                listing: listing.clone(),
            }]);
        }
        if state.status == Status::None {
            return Err(Rejection::NoSuchResult);
        }
        let status = state.status;
        let classified = state.listing.as_ref().is_some_and(|l| l.secrecy != Secrecy::Public);
        match command {
            ResultCommand::Create { .. } => Err(Rejection::Exists),
            ResultCommand::Edit { listing } => {
                manager_of_owner(state, actor)?;
                if !matches!(status, Status::Draft | Status::Returned) {
                    return Err(Rejection::WrongStatus(status));
                }
                check_listing(listing)?;
                Ok(vec![ResultEvent::Edited { listing: listing.clone() }])
            }
            ResultCommand::Submit => {
                manager_of_owner(state, actor)?;
                if !matches!(status, Status::Draft | Status::Returned) {
                    return Err(Rejection::WrongStatus(status));
                }
                if classified {
                    return Err(Rejection::Classified);
                }
                Ok(vec![ResultEvent::Submitted { by: actor.user_id.clone() }])
            }
            ResultCommand::Approve | ResultCommand::Return { .. } => {
                reviewer_of_owner(state, actor)?;
                if status != Status::Submitted {
                    return Err(Rejection::WrongStatus(status));
                }
                if actor.user_id == state.submitted_by {
                    return Err(Rejection::OwnSubmission);
                }
                match command {
                    ResultCommand::Return { reasons } => {
                        let reasons: Vec<String> = reasons.iter().filter(|r| !r.trim().is_empty()).cloned().collect();
                        if reasons.is_empty() {
                            return Err(Rejection::NoReasons);
                        }
                        Ok(vec![ResultEvent::Returned { by: actor.user_id.clone(), reasons }])
                    }
                    _ => Ok(vec![ResultEvent::Approved { by: actor.user_id.clone() }]),
                }
            }
            ResultCommand::Publish => {
                manager_of_owner(state, actor)?;
                if status != Status::Approved {
                    return Err(Rejection::WrongStatus(status));
                }
                if classified {
                    return Err(Rejection::Classified);
                }
                Ok(vec![ResultEvent::Published])
            }
            ResultCommand::StartNotice { price_fen, days } => {
                manager_of_owner(state, actor)?;
                if status != Status::Published {
                    return Err(Rejection::WrongStatus(status));
                }
                if state.listing.as_ref().map(|l| l.route) != Some(PricingRoute::Negotiated) {
                    return Err(Rejection::NotNegotiated);
                }
                // A new notice only replaces one that failed (an objection was upheld).
                if state.notice.as_ref().is_some_and(|n| !n.any_upheld()) {
                    return Err(Rejection::NoticeExists);
                }
                if *days < self.rules.notice_min_days {
                    return Err(Rejection::NoticeTooShort(self.rules.notice_min_days));
                }
                ttx_kernel::money::amount("price_fen", *price_fen, self.rules.max_amount_fen)?;
                // Counted as the Civil Code counts periods (art. 201–203): from the next day, to 24:00 Beijing time of
                // the last day, moved to the next working day.
                let ends_at = ctx.calendar.day_period_end(ctx.now, *days).map_err(|e| Rejection::NoSchedule(e.0))?;
                Ok(vec![ResultEvent::NoticeStarted { price_fen: *price_fen, starts_at: ctx.now, ends_at }])
            }
            ResultCommand::RaiseObjection { objection_id, text } => {
                if actor.user_id.is_empty() {
                    return Err(Rejection::Anonymous);
                }
                let notice = running_notice(state, ctx.now)?;
                if notice.objections.contains_key(objection_id) {
                    return Err(Rejection::DuplicateObjection);
                }
                // No one floods a notice: each organisation raises at most the rules' number of objections.
                let max = self.rules.max_objections_per_org;
                if notice.objections.values().filter(|o| o.by.org_id == actor.org_id).count() >= max as usize {
                    return Err(Rejection::TooManyObjections(max));
                }
                Ok(vec![ResultEvent::ObjectionRaised {
                    objection_id: objection_id.clone(),
                    by: actor.clone(),
                    text: text.clone(),
                    at: Some(ctx.now),
                }])
            }
            ResultCommand::AnswerObjection { objection_id, answer } => {
                manager_of_owner(state, actor)?;
                let objection = state
                    .notice
                    .as_ref()
                    .and_then(|n| n.objections.get(objection_id))
                    .ok_or(Rejection::NoSuchObjection)?;
                if objection.answer.is_some() {
                    return Err(Rejection::AlreadyAnswered);
                }
                Ok(vec![ResultEvent::ObjectionAnswered {
                    objection_id: objection_id.clone(),
                    answer: answer.clone(),
                    at: Some(ctx.now),
                }])
            }
            ResultCommand::ResolveObjection { objection_id, upheld, note } => {
                reviewer_of_owner(state, actor)?;
                let objection = state
                    .notice
                    .as_ref()
                    .and_then(|n| n.objections.get(objection_id))
                    .ok_or(Rejection::NoSuchObjection)?;
                if objection.upheld.is_some() {
                    return Err(Rejection::AlreadyResolved);
                }
                if objection.answer.is_none() {
                    return Err(Rejection::NotAnswered);
                }
                Ok(vec![ResultEvent::ObjectionResolved {
                    objection_id: objection_id.clone(),
                    upheld: *upheld,
                    note: note.clone(),
                    at: Some(ctx.now),
                }])
            }
            ResultCommand::EndNotice => {
                let Some(notice) = &state.notice else { return Err(Rejection::NoNoticeRunning) };
                if notice.ended {
                    // The timer fired twice, or two instances raced: nothing more to do.
                    return Ok(Vec::new());
                }
                if ctx.now < notice.ends_at {
                    return Err(Rejection::NoticeNotOver);
                }
                let clean = notice.open_objections() == 0 && !notice.any_upheld();
                Ok(vec![ResultEvent::NoticeEnded { clean }])
            }
            ResultCommand::MarkUnderContract { deal_id, buyer_org_id } => {
                if !actor.has_role(Role::System) {
                    return Err(Rejection::NotTheSystem);
                }
                if state.deal_id.as_deref() == Some(deal_id.as_str()) {
                    // Redelivered: already recorded.
                    return Ok(Vec::new());
                }
                if status != Status::Published {
                    return Err(Rejection::WrongStatus(status));
                }
                Ok(vec![ResultEvent::UnderContract { deal_id: deal_id.clone(), buyer_org_id: buyer_org_id.clone() }])
            }
            ResultCommand::Release { deal_id, reason } => {
                if !actor.has_role(Role::System) {
                    return Err(Rejection::NotTheSystem);
                }
                // Only the deal it is under contract by releases it; anything else (redelivered, withdrawn since) is
                // left as it is.
                if status != Status::UnderContract || state.deal_id.as_deref() != Some(deal_id.as_str()) {
                    return Ok(Vec::new());
                }
                Ok(vec![ResultEvent::Released { deal_id: deal_id.clone(), reason: reason.clone() }])
            }
            ResultCommand::Consent { named } => {
                // A technology manager acts for its institution; an enterprise only through the member it named.
                let entitled = actor.has_role(Role::TechManager) || (actor.has_role(Role::EnterpriseMember) && *named);
                if !entitled || !state.co_holders().contains(&actor.org_id) {
                    return Err(Rejection::NotACoHolder);
                }
                if matches!(status, Status::Transacted | Status::Withdrawn) {
                    return Err(Rejection::WrongStatus(status));
                }
                if state.consents.contains(&actor.org_id) {
                    return Ok(Vec::new());
                }
                Ok(vec![ResultEvent::CoHolderConsented {
                    org_id: actor.org_id.clone(),
                    by: actor.user_id.clone(),
                    at: ctx.now,
                }])
            }
            ResultCommand::Withdraw { reason } => {
                manager_of_owner(state, actor)?;
                if matches!(status, Status::Transacted | Status::Withdrawn | Status::UnderContract) {
                    return Err(Rejection::WrongStatus(status));
                }
                Ok(vec![ResultEvent::Withdrawn { reason: reason.clone() }])
            }
        }
    }

    fn evolve(&self, mut state: ResultState, event: &ResultEvent) -> ResultState {
        match event {
            ResultEvent::Created { id, owner_org_id, listing } => {
                state.id.clone_from(id);
                state.owner_org_id.clone_from(owner_org_id);
                state.listing = Some(listing.clone());
                state.status = Status::Draft;
            }
            ResultEvent::Edited { listing } => {
                state.listing = Some(listing.clone());
                // The co-holders consented to the listing as it stood.
                state.consents.clear();
            }
            ResultEvent::CoHolderConsented { org_id, .. } => {
                state.consents.insert(org_id.clone());
            }
            ResultEvent::Submitted { by } => {
                state.status = Status::Submitted;
                state.submitted_by.clone_from(by);
            }
            ResultEvent::Approved { .. } => state.status = Status::Approved,
            ResultEvent::Returned { reasons, .. } => {
                state.status = Status::Returned;
                state.return_reasons.clone_from(reasons);
            }
            ResultEvent::Published => state.status = Status::Published,
            ResultEvent::NoticeStarted { price_fen, starts_at, ends_at } => {
                state.notice = Some(Notice {
                    price_fen: *price_fen,
                    starts_at: *starts_at,
                    ends_at: *ends_at,
                    ended: false,
                    objections: BTreeMap::new(),
                });
            }
            ResultEvent::ObjectionRaised { objection_id, by, text, at } => {
                if let Some(n) = &mut state.notice {
                    let seq = n.objections.len() as u32;
                    n.objections.insert(
                        objection_id.clone(),
                        Objection {
                            by: by.clone(),
                            text: text.clone(),
                            answer: None,
                            upheld: None,
                            note: String::new(),
                            raised_at: *at,
                            answered_at: None,
                            resolved_at: None,
                            seq,
                        },
                    );
                }
            }
            ResultEvent::ObjectionAnswered { objection_id, answer, at } => {
                if let Some(o) = state.notice.as_mut().and_then(|n| n.objections.get_mut(objection_id)) {
                    o.answer = Some(answer.clone());
                    o.answered_at = *at;
                }
            }
            ResultEvent::ObjectionResolved { objection_id, upheld, note, at } => {
                if let Some(o) = state.notice.as_mut().and_then(|n| n.objections.get_mut(objection_id)) {
                    o.upheld = Some(*upheld);
                    o.note.clone_from(note);
                    o.resolved_at = *at;
                }
            }
            ResultEvent::NoticeEnded { .. } => {
                if let Some(n) = &mut state.notice {
                    n.ended = true;
                }
            }
            ResultEvent::Withdrawn { .. } => state.status = Status::Withdrawn,
            ResultEvent::Released { .. } => {
                state.status = Status::Published;
                state.deal_id = None;
            }
            ResultEvent::UnderContract { deal_id, .. } => {
                state.status = Status::UnderContract;
                state.deal_id = Some(deal_id.clone());
            }
        }
        state
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use ttx_kernel::testing::Scenario;

    use super::*;

    const UNI: &str = "uni";
    const T0: i64 = 1_790_000_000_000_000;

    fn actor(user: &str, org: &str, roles: &[Role]) -> Actor {
        Actor {
            user_id: user.into(),
            org_id: org.into(),
            role: roles.first().copied().unwrap_or_default().into(),
            roles: roles.iter().map(|r| *r as i32).collect(),
        }
    }

    fn manager() -> Actor {
        actor("zhangwei", UNI, &[Role::TechManager])
    }

    fn reviewer() -> Actor {
        actor("liuyang", UNI, &[Role::Reviewer])
    }

    fn enterprise() -> Actor {
        actor("zhaomin", "firm", &[Role::EnterpriseMember])
    }

    fn at(days: i64) -> Timestamp {
        Timestamp::from_unix_micros(T0 + days * 86_400_000_000)
    }

    pub(crate) fn listing() -> Listing {
        Listing {
            title: "高能量密度锂离子电池正极材料".into(),
            summary: "一种高镍三元正极材料的制备方法。".into(),
            field: TechField::NewEnergy,
            industry: "电池制造".into(),
            keywords: vec!["锂离子电池".into(), "正极材料".into()],
            innovations: vec!["循环寿命提升30%".into()],
            indicators: "比容量 ≥ 210 mAh/g".into(),
            trl: TrlAssessment {
                level: 6,
                assessor: "第三方评价机构".into(),
                assessed_on: "2026-03-01".into(),
                evidence: "中试报告".into(),
            },
            form: ResultForm::Material,
            ip_rights: vec![IpRight {
                kind: IpKind::InventionPatent,
                number: "ZL202310000001.2".into(),
                legal_status: "授权".into(),
                licences_granted: 0,
                exclusive_licence_granted: false,
            }],
            holders: vec![Holder { org_id: UNI.into(), share_bp: 10_000 }],
            inventors: vec!["王教授".into(), "李博士".into()],
            secrecy: Secrecy::Public,
            modes: [TransactionMode::Assignment, TransactionMode::ExclusiveLicence].into(),
            price: AskingPrice::Fen(500_000_000),
            route: PricingRoute::Negotiated,
            visibility: Visibility::Public,
        }
    }

    fn created() -> ResultEvent {
        ResultEvent::Created { id: "r1".into(), owner_org_id: UNI.into(), listing: listing() }
    }

    fn published() -> Vec<ResultEvent> {
        vec![
            created(),
            ResultEvent::Submitted { by: "zhangwei".into() },
            ResultEvent::Approved { by: "liuyang".into() },
            ResultEvent::Published,
        ]
    }

    fn notice_started() -> ResultEvent {
        ResultEvent::NoticeStarted { price_fen: 480_000_000, starts_at: at(0), ends_at: at(15) }
    }

    fn objection(id: &str) -> ResultEvent {
        ResultEvent::ObjectionRaised {
            objection_id: id.into(),
            by: enterprise(),
            text: "价格明显偏低".into(),
            at: Some(at(0)),
        }
    }

    fn with(mut events: Vec<ResultEvent>, more: impl IntoIterator<Item = ResultEvent>) -> Vec<ResultEvent> {
        events.extend(more);
        events
    }

    fn results() -> Scenario<Results> {
        Scenario::new(Results::default()).at(at(0))
    }

    #[test]
    fn a_technology_manager_creates_a_draft_for_their_institution() {
        let state = results()
            .by(manager())
            .when(ResultCommand::Create { id: "r1".into(), listing: listing() })
            .then([created()]);
        assert_eq!((state.status, state.owner_org_id.as_str()), (Status::Draft, UNI));
    }

    #[test]
    fn a_result_is_created_by_a_holder_with_whole_shares_and_a_mode() {
        let create = |l: Listing| ResultCommand::Create { id: "r1".into(), listing: l };
        results().by(enterprise()).when(create(listing())).then_rejected(Rejection::NotTheHoldersManager);
        results()
            .by(actor("other", "elsewhere", &[Role::TechManager]))
            .when(create(listing()))
            .then_rejected(Rejection::CreatorNotAHolder);
        let mut half = listing();
        half.holders = vec![Holder { org_id: UNI.into(), share_bp: 5_000 }];
        results().by(manager()).when(create(half)).then_rejected(Rejection::SharesNot100(5_000));
        let mut modeless = listing();
        modeless.modes.clear();
        results().by(manager()).when(create(modeless)).then_rejected(Rejection::NoTransactionMode);
        results().by(manager()).given([created()]).when(create(listing())).then_rejected(Rejection::Exists);
        results()
            .by(actor("wufang", "agency", &[Role::Regulator]))
            .given([created()])
            .when(ResultCommand::Withdraw { reason: "x".into() })
            .then_rejected(Rejection::Regulator);
    }

    #[test]
    fn a_draft_is_edited_submitted_and_then_frozen_for_review() {
        let mut edited = listing();
        edited.title = "高镍三元正极材料".into();
        results()
            .by(manager())
            .given([created()])
            .when(ResultCommand::Edit { listing: edited.clone() })
            .then([ResultEvent::Edited { listing: edited.clone() }]);
        let state = results()
            .by(manager())
            .given([created()])
            .when(ResultCommand::Submit)
            .then([ResultEvent::Submitted { by: "zhangwei".into() }]);
        assert_eq!(state.status, Status::Submitted);
        results()
            .by(manager())
            .given([created(), ResultEvent::Submitted { by: "zhangwei".into() }])
            .when(ResultCommand::Edit { listing: edited })
            .then_rejected(Rejection::WrongStatus(Status::Submitted));
    }

    #[test]
    fn the_holders_reviewer_approves_or_returns_with_reasons_but_never_their_own_submission() {
        let submitted = vec![created(), ResultEvent::Submitted { by: "zhangwei".into() }];
        results()
            .by(reviewer())
            .given(submitted.clone())
            .when(ResultCommand::Approve)
            .then([ResultEvent::Approved { by: "liuyang".into() }]);
        let state = results()
            .by(reviewer())
            .given(submitted.clone())
            .when(ResultCommand::Return { reasons: vec!["补充专利证书".into(), " ".into()] })
            .then([ResultEvent::Returned { by: "liuyang".into(), reasons: vec!["补充专利证书".into()] }]);
        assert_eq!(state.status, Status::Returned);
        results()
            .by(reviewer())
            .given(submitted.clone())
            .when(ResultCommand::Return { reasons: vec![] })
            .then_rejected(Rejection::NoReasons);
        results()
            .by(actor("zhangwei", UNI, &[Role::TechManager, Role::Reviewer]))
            .given(submitted.clone())
            .when(ResultCommand::Approve)
            .then_rejected(Rejection::OwnSubmission);
        results()
            .by(actor("qian", "other-uni", &[Role::Reviewer]))
            .given(submitted)
            .when(ResultCommand::Approve)
            .then_rejected(Rejection::NotTheHoldersReviewer);
    }

    #[test]
    fn a_returned_result_is_edited_and_submitted_again() {
        let returned = vec![
            created(),
            ResultEvent::Submitted { by: "zhangwei".into() },
            ResultEvent::Returned { by: "liuyang".into(), reasons: vec!["补充材料".into()] },
        ];
        results()
            .by(manager())
            .given(returned)
            .when(ResultCommand::Submit)
            .then([ResultEvent::Submitted { by: "zhangwei".into() }]);
    }

    #[test]
    fn classified_content_is_refused_at_create_and_edit_and_internal_results_stay_unpublished() {
        for level in [Secrecy::Secret, Secrecy::Confidential, Secrecy::TopSecret] {
            let mut classified = listing();
            classified.secrecy = level;
            let create = ResultCommand::Create { id: "r1".into(), listing: classified.clone() };
            results().by(manager()).given([]).when(create).then_rejected(Rejection::ClassifiedContent);
            let edit = ResultCommand::Edit { listing: classified };
            results().by(manager()).given([created()]).when(edit).then_rejected(Rejection::ClassifiedContent);
        }
        let mut internal = listing();
        internal.secrecy = Secrecy::Internal;
        let create = ResultCommand::Create { id: "r1".into(), listing: internal.clone() };
        results().by(manager()).given([]).when(create).then([ResultEvent::Created {
            id: "r1".into(),
            owner_org_id: UNI.into(),
            listing: internal,
        }]);
    }

    #[test]
    fn a_classified_result_is_never_submitted_or_published() {
        // Recorded before classified content was refused at the door (an older log), or internal.
        let mut secret = listing();
        secret.secrecy = Secrecy::Secret;
        let classified = ResultEvent::Created { id: "r1".into(), owner_org_id: UNI.into(), listing: secret.clone() };
        results()
            .by(manager())
            .given([classified.clone()])
            .when(ResultCommand::Submit)
            .then_rejected(Rejection::Classified);
        // Even if it became classified after approval.
        results()
            .by(manager())
            .given([
                created(),
                ResultEvent::Submitted { by: "zhangwei".into() },
                ResultEvent::Approved { by: "liuyang".into() },
            ])
            .given([ResultEvent::Edited { listing: secret }])
            .when(ResultCommand::Publish)
            .then_rejected(Rejection::Classified);
    }

    #[test]
    fn only_an_approved_result_is_published() {
        results()
            .by(manager())
            .given([created()])
            .when(ResultCommand::Publish)
            .then_rejected(Rejection::WrongStatus(Status::Draft));
        let state = results()
            .by(manager())
            .given(published()[..3].to_vec())
            .when(ResultCommand::Publish)
            .then([ResultEvent::Published]);
        assert_eq!(state.status, Status::Published);
    }

    #[test]
    fn a_notice_runs_at_least_the_minimum_with_a_positive_price_on_the_negotiated_route() {
        let start = |price_fen, days| ResultCommand::StartNotice { price_fen, days };
        // Started Monday 2026-09-21 at 22:13 Beijing: day 1 is 09-22, day 15 is 10-06, in the National Day holiday
        // (10-01…07), so the notice runs to 24:00 Beijing on Thursday 10-08 (Civil Code art. 201–203).
        let law = Timestamp::parse_rfc3339("2026-10-08T15:59:59.999999Z").unwrap();
        let started = ResultEvent::NoticeStarted { price_fen: 480_000_000, starts_at: at(0), ends_at: law };
        let state = results().by(manager()).given(published()).when(start(480_000_000, 15)).then([started]);
        assert_eq!(state.notice.unwrap().ends_at, law);
        // A notice whose last day would fall in a year without a schedule is refused naming the year.
        results()
            .by(manager())
            .given(published())
            .at(Timestamp::parse_rfc3339("2026-12-20T02:00:00Z").unwrap())
            .when(start(480_000_000, 15))
            .then_rejected(Rejection::NoSchedule(2027));
        results()
            .by(manager())
            .given(published())
            .when(start(480_000_000, 14))
            .then_rejected(Rejection::NoticeTooShort(15));
        results()
            .by(manager())
            .given(published())
            .when(start(0, 15))
            .then_rejected(Rejection::Money(ttx_kernel::money::MoneyError::NotPositive { field: "price_fen".into() }));
        results().by(manager()).given(published()).when(start(i64::MAX, 15)).then_rejected(Rejection::Money(
            ttx_kernel::money::MoneyError::AboveCeiling { field: "price_fen".into(), max: RULES_2026.max_amount_fen },
        ));
        results()
            .by(manager())
            .given(with(published(), [notice_started()]))
            .when(start(480_000_000, 20))
            .then_rejected(Rejection::NoticeExists);
        let mut listed = listing();
        listed.route = PricingRoute::Listed;
        results()
            .by(manager())
            .given(with(published(), [ResultEvent::Edited { listing: listed }]))
            .when(start(1, 15))
            .then_rejected(Rejection::NotNegotiated);
        results()
            .by(manager())
            .given([created()])
            .when(start(1, 15))
            .then_rejected(Rejection::WrongStatus(Status::Draft));
    }

    #[test]
    fn anyone_logged_in_objects_while_the_notice_runs_but_not_after_and_not_a_regulator() {
        let running = with(published(), [notice_started()]);
        let raise =
            |id: &str| ResultCommand::RaiseObjection { objection_id: id.into(), text: "价格明显偏低".into() };
        results().by(enterprise()).given(running.clone()).when(raise("o1")).then([objection("o1")]);
        results()
            .by(enterprise())
            .given(running.clone())
            .at(at(15))
            .when(raise("o1"))
            .then_rejected(Rejection::NoNoticeRunning);
        results()
            .by(enterprise())
            .given(with(running.clone(), [objection("o1")]))
            .when(raise("o1"))
            .then_rejected(Rejection::DuplicateObjection);
        results()
            .by(actor("wufang", "agency", &[Role::Regulator]))
            .given(running.clone())
            .when(raise("o2"))
            .then_rejected(Rejection::Regulator);
        results().by(actor("", "", &[])).given(running).when(raise("o3")).then_rejected(Rejection::Anonymous);
    }

    #[test]
    fn no_organisation_floods_a_notice_with_objections() {
        let raise = |id: &str| ResultCommand::RaiseObjection { objection_id: id.into(), text: "x".into() };
        let five: Vec<ResultEvent> = (1..=5).map(|i| objection(&format!("o{i}"))).collect();
        let flooded = with(with(published(), [notice_started()]), five);
        results()
            .by(enterprise())
            .given(flooded.clone())
            .when(raise("o6"))
            .then_rejected(Rejection::TooManyObjections(RULES_2026.max_objections_per_org));
        // Another organisation still objects.
        let other = actor("lisi", "firm2", &[Role::EnterpriseMember]);
        let state = results().by(other.clone()).given(flooded).when(raise("o6")).then([ResultEvent::ObjectionRaised {
            objection_id: "o6".into(),
            by: other,
            text: "x".into(),
            at: Some(at(0)),
        }]);
        let n = state.notice.unwrap();
        assert_eq!((n.objections.len(), n.objections["o6"].seq, n.objections["o6"].raised_at), (6, 5, Some(at(0))));
    }

    #[test]
    fn the_holder_answers_and_the_reviewer_resolves_an_objection_once() {
        let raised = with(published(), [notice_started(), objection("o1")]);
        let answer = ResultCommand::AnswerObjection { objection_id: "o1".into(), answer: "价格经评估".into() };
        let answered =
            ResultEvent::ObjectionAnswered {
                objection_id: "o1".into(), answer: "价格经评估".into(), at: Some(at(0))
            };
        let resolve =
            |upheld| ResultCommand::ResolveObjection {
                objection_id: "o1".into(), upheld, note: "评估报告充分".into()
            };
        results()
            .by(enterprise())
            .given(raised.clone())
            .when(answer.clone())
            .then_rejected(Rejection::NotTheHoldersManager);
        results().by(manager()).given(raised.clone()).when(answer.clone()).then([answered.clone()]);
        results()
            .by(manager())
            .given(with(raised.clone(), [answered.clone()]))
            .when(answer)
            .then_rejected(Rejection::AlreadyAnswered);
        results().by(reviewer()).given(raised.clone()).when(resolve(false)).then_rejected(Rejection::NotAnswered);
        let dismissed = ResultEvent::ObjectionResolved {
            objection_id: "o1".into(),
            upheld: false,
            note: "评估报告充分".into(),
            at: Some(at(0)),
        };
        let state = results()
            .by(reviewer())
            .given(with(raised.clone(), [answered.clone()]))
            .when(resolve(false))
            .then([dismissed.clone()]);
        assert_eq!(state.notice.unwrap().open_objections(), 0);
        results()
            .by(reviewer())
            .given(with(raised.clone(), [answered, dismissed]))
            .when(resolve(true))
            .then_rejected(Rejection::AlreadyResolved);
        results()
            .by(manager())
            .given(raised)
            .when(ResultCommand::AnswerObjection { objection_id: "nope".into(), answer: "x".into() })
            .then_rejected(Rejection::NoSuchObjection);
    }

    #[test]
    fn a_deal_puts_a_published_result_under_contract_once() {
        let timer = actor("system", "", &[Role::System]);
        let mark = || ResultCommand::MarkUnderContract { deal_id: "d1".into(), buyer_org_id: "firm".into() };
        let under = ResultEvent::UnderContract { deal_id: "d1".into(), buyer_org_id: "firm".into() };
        let state = results().by(timer.clone()).given(published()).when(mark()).then([under.clone()]);
        assert_eq!(state.status, Status::UnderContract);
        // Redelivered: nothing more.
        results().by(timer.clone()).given(with(published(), [under.clone()])).when(mark()).then([]);
        // A second deal on the same result is refused.
        results()
            .by(timer.clone())
            .given(with(published(), [under]))
            .when(ResultCommand::MarkUnderContract { deal_id: "d2".into(), buyer_org_id: "x".into() })
            .then_rejected(Rejection::WrongStatus(Status::UnderContract));
        results().by(manager()).given(published()).when(mark()).then_rejected(Rejection::NotTheSystem);
    }

    #[test]
    fn a_deal_that_fell_through_puts_the_result_back_on_the_market() {
        let timer = actor("system", "", &[Role::System]);
        let under = ResultEvent::UnderContract { deal_id: "d1".into(), buyer_org_id: "firm".into() };
        let release =
            |deal: &str| ResultCommand::Release { deal_id: deal.into(), reason: "the winner defaulted".into() };
        let released = ResultEvent::Released { deal_id: "d1".into(), reason: "the winner defaulted".into() };
        let state = results()
            .by(timer.clone())
            .given(with(published(), [under.clone()]))
            .when(release("d1"))
            .then([released.clone()]);
        assert_eq!((state.status, state.deal_id), (Status::Published, None));
        // Another deal's release, or a second one, changes nothing; only the system releases.
        results().by(timer.clone()).given(with(published(), [under.clone()])).when(release("d2")).then([]);
        results().by(timer.clone()).given(with(published(), [under.clone(), released])).when(release("d1")).then([]);
        results()
            .by(manager())
            .given(with(published(), [under]))
            .when(release("d1"))
            .then_rejected(Rejection::NotTheSystem);
    }

    #[test]
    fn the_notice_ends_by_its_timer_once_and_not_before() {
        let running = with(published(), [notice_started()]);
        let timer = actor("system", "", &[Role::System]);
        results()
            .by(timer.clone())
            .given(running.clone())
            .at(at(14))
            .when(ResultCommand::EndNotice)
            .then_rejected(Rejection::NoticeNotOver);
        results()
            .by(timer.clone())
            .given(running.clone())
            .at(at(15))
            .when(ResultCommand::EndNotice)
            .then([ResultEvent::NoticeEnded { clean: true }]);
        results()
            .by(timer.clone())
            .given(with(running.clone(), [objection("o1")]))
            .at(at(16))
            .when(ResultCommand::EndNotice)
            .then([ResultEvent::NoticeEnded { clean: false }]);
        results()
            .by(timer)
            .given(with(running, [ResultEvent::NoticeEnded { clean: true }]))
            .at(at(20))
            .when(ResultCommand::EndNotice)
            .then([]);
    }

    /// What negotiation's deal rule reads of a notice (its end recorded, its objections open or upheld, its price).
    #[test]
    fn a_notice_records_its_end_its_objections_and_their_outcome() {
        let fold = |events: Vec<ResultEvent>| Results::default().fold(&events);
        let price = 480_000_000;
        assert_ne!(fold(vec![created()]).status, Status::Published);
        assert!(fold(published()).notice.is_none());
        let running = with(published(), [notice_started()]);
        let notice = fold(running.clone()).notice.unwrap();
        assert_eq!((notice.ended, notice.ends_at, notice.price_fen), (false, at(15), price));
        let objected = with(running.clone(), [objection("o1"), ResultEvent::NoticeEnded { clean: false }]);
        let notice = fold(objected.clone()).notice.unwrap();
        assert_eq!((notice.ended, notice.open_objections()), (true, 1));
        let upheld = with(
            objected,
            [
                ResultEvent::ObjectionAnswered { objection_id: "o1".into(), answer: "a".into(), at: None },
                ResultEvent::ObjectionResolved { objection_id: "o1".into(), upheld: true, note: "n".into(), at: None },
            ],
        );
        let notice = fold(upheld.clone()).notice.unwrap();
        assert!(notice.any_upheld() && notice.open_objections() == 0);
        let clean = fold(with(running, [ResultEvent::NoticeEnded { clean: true }])).notice.unwrap();
        assert!(clean.ended && clean.open_objections() == 0 && !clean.any_upheld());
        // After an upheld objection a new notice may start.
        results()
            .by(manager())
            .given(upheld)
            .at(at(16))
            .when(ResultCommand::StartNotice { price_fen: 520_000_000, days: 15 })
            .then([ResultEvent::NoticeStarted {
                price_fen: 520_000_000,
                starts_at: at(16),
                // Wednesday 10-07 22:13 Beijing + 15 days: Thursday 10-22, a working day, to 24:00 Beijing.
                ends_at: Timestamp::parse_rfc3339("2026-10-22T15:59:59.999999Z").unwrap(),
            }]);
    }

    #[test]
    fn co_holders_consent_through_their_own_members_once_and_an_edit_sets_the_consents_aside() {
        let mut joint = listing();
        joint.holders =
            vec![Holder { org_id: UNI.into(), share_bp: 6_000 }, Holder { org_id: "inst".into(), share_bp: 4_000 }];
        let created = ResultEvent::Created { id: "r1".into(), owner_org_id: UNI.into(), listing: joint.clone() };
        let co_manager = actor("wangqiang", "inst", &[Role::TechManager]);
        let consented = ResultEvent::CoHolderConsented { org_id: "inst".into(), by: "wangqiang".into(), at: at(0) };
        let state = results()
            .by(co_manager.clone())
            .given([created.clone()])
            .when(ResultCommand::Consent { named: false })
            .then([consented.clone()]);
        assert_eq!((state.co_holders(), state.consents.len()), (vec!["inst".to_owned()], 1));
        // Once is enough; the owner, a stranger and a co-holder's reviewer do not consent for a co-holder.
        results()
            .by(co_manager.clone())
            .given([created.clone(), consented.clone()])
            .when(ResultCommand::Consent { named: false })
            .then([]);
        for who in [manager(), enterprise(), actor("x", "inst", &[Role::Reviewer])] {
            results()
                .by(who)
                .given([created.clone()])
                .when(ResultCommand::Consent { named: false })
                .then_rejected(Rejection::NotACoHolder);
        }
        // An enterprise co-holder acts only through the member it named.
        let firm_member = actor("lisi", "inst", &[Role::EnterpriseMember]);
        results()
            .by(firm_member.clone())
            .given([created.clone()])
            .when(ResultCommand::Consent { named: false })
            .then_rejected(Rejection::NotACoHolder);
        results()
            .by(firm_member)
            .given([created.clone()])
            .when(ResultCommand::Consent { named: true })
            .then([ResultEvent::CoHolderConsented { org_id: "inst".into(), by: "lisi".into(), at: at(0) }]);
        // An edit sets the consents aside: the co-holders consented to the listing as it stood.
        let returned = ResultEvent::Returned { by: "liuyang".into(), reasons: vec!["x".into()] };
        let edited = results()
            .by(manager())
            .given([created, ResultEvent::Submitted { by: "zhangwei".into() }, returned, consented])
            .when(ResultCommand::Edit { listing: joint.clone() })
            .then([ResultEvent::Edited { listing: joint }]);
        assert!(edited.consents.is_empty());
    }

    #[test]
    fn a_result_is_withdrawn_once() {
        let state = results()
            .by(manager())
            .given(published())
            .when(ResultCommand::Withdraw { reason: "已自行实施".into() })
            .then([ResultEvent::Withdrawn { reason: "已自行实施".into() }]);
        assert_eq!(state.status, Status::Withdrawn);
        results()
            .by(manager())
            .given(with(published(), [ResultEvent::Withdrawn { reason: "x".into() }]))
            .when(ResultCommand::Withdraw { reason: "x".into() })
            .then_rejected(Rejection::WrongStatus(Status::Withdrawn));
        results()
            .by(manager())
            .when(ResultCommand::Withdraw { reason: "x".into() })
            .then_rejected(Rejection::NoSuchResult);
    }

    #[test]
    fn stored_events_that_do_not_fit_are_errors_not_panics() {
        use ttx_kernel::{DecodeError, DomainEvent};
        assert!(matches!(ResultEvent::decode("ttx.listings.v1.Nope", 1, &[]), Err(DecodeError::UnknownType { .. })));
        assert!(matches!(
            ResultEvent::decode("ttx.listings.v1.ResultCreated", 1, &[0x1a, 0x02, 0x18, 0x63]),
            Err(DecodeError::Malformed { .. })
        ));
        assert!(matches!(
            ResultEvent::decode("ttx.listings.v1.NoticeStarted", 1, &[0x08, 0x01]),
            Err(DecodeError::Malformed { .. })
        ));
    }

    /// Money is never wrong: any notice price, over the full i64 range, is refused or is 1 fen to the ceiling.
    mod money {
        use proptest::prelude::*;

        use super::*;

        fn money() -> impl Strategy<Value = i64> {
            let max = RULES_2026.max_amount_fen;
            prop_oneof![
                Just(i64::MIN),
                Just(-1i64),
                Just(0i64),
                Just(1i64),
                Just(max),
                Just(max + 1),
                Just(i64::MAX),
                any::<i64>()
            ]
        }

        proptest! {
            #[test]
            fn a_notice_price_is_refused_or_within_the_rules(price in money()) {
                let command = ResultCommand::StartNotice { price_fen: price, days: 15 };
                let state = Results::default().fold(&published());
                let ctx = Ctx::new(at(0), manager(), ttx_kernel::CommandId::parse("c").unwrap());
                match Results::default().decide(&state, &command, &ctx) {
                    Ok(events) => {
                        let [ResultEvent::NoticeStarted { price_fen, .. }] = events.as_slice() else { panic!("{events:?}") };
                        prop_assert!((1..=RULES_2026.max_amount_fen).contains(price_fen));
                    }
                    Err(e) => prop_assert!(matches!(e, Rejection::Money(_)), "{e:?}"),
                }
            }
        }
    }
}
