//! Result events ↔ `ttx.listings.v1` messages.

use bytes::Bytes;
use prost::Message;
use ttx_kernel::{DecodeError, DomainEvent, Timestamp};
use ttx_proto::common::v1::SubjectRef;
use ttx_proto::listings::v1 as pb;

use crate::domain::{
    AskingPrice, Holder, IpKind, IpRight, Listing, PricingRoute, ResultEvent, ResultForm, Secrecy, TechField,
    TransactionMode, TrlAssessment, Visibility,
};

/// Pairs of a domain enum's values and their wire numbers; one table per enum serves both directions.
macro_rules! wire_enum {
    ($to:ident, $from:ident, $ty:ty, [$(($v:expr, $n:expr)),* $(,)?]) => {
        pub fn $to(v: $ty) -> i32 {
            match v { $(x if x == $v => $n as i32,)* _ => 0 }
        }
        pub fn $from(n: i32) -> Option<$ty> {
            $(if n == $n as i32 { return Some($v); })*
            None
        }
    };
}

wire_enum!(
    field_to,
    field_from,
    TechField,
    [
        (TechField::ElectronicInformation, pb::TechField::ElectronicInformation),
        (TechField::Biomedicine, pb::TechField::Biomedicine),
        (TechField::Aerospace, pb::TechField::Aerospace),
        (TechField::NewMaterials, pb::TechField::NewMaterials),
        (TechField::HighTechServices, pb::TechField::HighTechServices),
        (TechField::NewEnergy, pb::TechField::NewEnergy),
        (TechField::ResourcesEnvironment, pb::TechField::ResourcesEnvironment),
        (TechField::AdvancedManufacturing, pb::TechField::AdvancedManufacturing),
    ]
);
wire_enum!(
    form_to,
    form_from,
    ResultForm,
    [
        (ResultForm::Product, pb::ResultForm::Product),
        (ResultForm::Process, pb::ResultForm::Process),
        (ResultForm::Material, pb::ResultForm::Material),
        (ResultForm::Software, pb::ResultForm::Software),
        (ResultForm::Standard, pb::ResultForm::Standard),
        (ResultForm::Variety, pb::ResultForm::Variety),
        (ResultForm::Other, pb::ResultForm::Other),
    ]
);
wire_enum!(
    ip_to,
    ip_from,
    IpKind,
    [
        (IpKind::InventionPatent, pb::IpKind::InventionPatent),
        (IpKind::UtilityModel, pb::IpKind::UtilityModel),
        (IpKind::DesignPatent, pb::IpKind::DesignPatent),
        (IpKind::SoftwareCopyright, pb::IpKind::SoftwareCopyright),
        (IpKind::IcLayout, pb::IpKind::IcLayout),
        (IpKind::PlantVariety, pb::IpKind::PlantVariety),
        (IpKind::TechnicalSecret, pb::IpKind::TechnicalSecret),
    ]
);
wire_enum!(
    secrecy_to,
    secrecy_from,
    Secrecy,
    [
        (Secrecy::Public, pb::Secrecy::Public),
        (Secrecy::Internal, pb::Secrecy::Internal),
        (Secrecy::Secret, pb::Secrecy::Secret),
        (Secrecy::Confidential, pb::Secrecy::Confidential),
        (Secrecy::TopSecret, pb::Secrecy::TopSecret),
    ]
);
wire_enum!(
    mode_to,
    mode_from,
    TransactionMode,
    [
        (TransactionMode::Assignment, pb::TransactionMode::Assignment),
        (TransactionMode::ExclusiveLicence, pb::TransactionMode::ExclusiveLicence),
        (TransactionMode::SoleLicence, pb::TransactionMode::SoleLicence),
        (TransactionMode::NonExclusiveLicence, pb::TransactionMode::NonExclusiveLicence),
        (TransactionMode::Equity, pb::TransactionMode::Equity),
        (TransactionMode::OpenLicence, pb::TransactionMode::OpenLicence),
    ]
);
wire_enum!(
    route_to,
    route_from,
    PricingRoute,
    [
        (PricingRoute::Negotiated, pb::PricingRoute::Negotiated),
        (PricingRoute::Listed, pb::PricingRoute::Listed),
        (PricingRoute::Auction, pb::PricingRoute::Auction),
    ]
);
wire_enum!(
    visibility_to,
    visibility_from,
    Visibility,
    [
        (Visibility::Public, pb::Visibility::Public),
        (Visibility::RegisteredUsers, pb::Visibility::RegisteredUsers),
        (Visibility::UnderNda, pb::Visibility::UnderNda),
    ]
);

pub fn listing_to_pb(l: &Listing) -> pb::Listing {
    pb::Listing {
        title: l.title.clone(),
        summary: l.summary.clone(),
        field: field_to(l.field),
        industry: l.industry.clone(),
        keywords: l.keywords.clone(),
        innovations: l.innovations.clone(),
        indicators: l.indicators.clone(),
        trl: Some(pb::TrlAssessment {
            level: u32::from(l.trl.level),
            assessor: l.trl.assessor.clone(),
            assessed_on: l.trl.assessed_on.clone(),
            evidence: l.trl.evidence.clone(),
        }),
        form: form_to(l.form),
        ip_rights: l
            .ip_rights
            .iter()
            .map(|r| pb::IpRight {
                kind: ip_to(r.kind),
                number: r.number.clone(),
                legal_status: r.legal_status.clone(),
                licences_granted: r.licences_granted,
                exclusive_licence_granted: r.exclusive_licence_granted,
            })
            .collect(),
        holders: l
            .holders
            .iter()
            .map(|h| pb::Holder { org_id: h.org_id.clone(), share_bp: u32::from(h.share_bp) })
            .collect(),
        inventors: l.inventors.clone(),
        secrecy: secrecy_to(l.secrecy),
        modes: l.modes.iter().map(|m| mode_to(*m)).collect(),
        asking_price_fen: match l.price {
            AskingPrice::Fen(f) => Some(f),
            AskingPrice::Negotiable => None,
        },
        route: route_to(l.route),
        visibility: visibility_to(l.visibility),
    }
}

/// A stored listing back in domain form; an unknown enum value is an error naming the field.
fn need<T>(v: Option<T>, what: &str) -> Result<T, String> {
    v.ok_or_else(|| format!("unknown {what}"))
}

pub fn listing_from_pb(p: pb::Listing) -> Result<Listing, String> {
    let trl = p.trl.ok_or("no TRL assessment")?;
    Ok(Listing {
        title: p.title,
        summary: p.summary,
        field: need(field_from(p.field), "field")?,
        industry: p.industry,
        keywords: p.keywords,
        innovations: p.innovations,
        indicators: p.indicators,
        trl: TrlAssessment {
            level: u8::try_from(trl.level).map_err(|_| "TRL out of range")?,
            assessor: trl.assessor,
            assessed_on: trl.assessed_on,
            evidence: trl.evidence,
        },
        form: need(form_from(p.form), "result form")?,
        ip_rights: p
            .ip_rights
            .into_iter()
            .map(|r| {
                Ok(IpRight {
                    kind: need(ip_from(r.kind), "IP kind")?,
                    number: r.number,
                    legal_status: r.legal_status,
                    licences_granted: r.licences_granted,
                    exclusive_licence_granted: r.exclusive_licence_granted,
                })
            })
            .collect::<Result<_, String>>()?,
        holders: p
            .holders
            .into_iter()
            .map(|h| {
                Ok(Holder { org_id: h.org_id, share_bp: u16::try_from(h.share_bp).map_err(|_| "share out of range")? })
            })
            .collect::<Result<_, String>>()?,
        inventors: p.inventors,
        secrecy: need(secrecy_from(p.secrecy), "secrecy")?,
        modes: p.modes.into_iter().map(|m| need(mode_from(m), "transaction mode")).collect::<Result<_, _>>()?,
        price: p.asking_price_fen.map_or(AskingPrice::Negotiable, AskingPrice::Fen),
        route: need(route_from(p.route), "pricing route")?,
        visibility: need(visibility_from(p.visibility), "visibility")?,
    })
}

const CREATED: &str = "ttx.listings.v1.ResultCreated";
const EDITED: &str = "ttx.listings.v1.ResultEdited";
const SUBMITTED: &str = "ttx.listings.v1.ResultSubmitted";
const APPROVED: &str = "ttx.listings.v1.ResultApproved";
const RETURNED: &str = "ttx.listings.v1.ResultReturned";
const PUBLISHED: &str = "ttx.listings.v1.ResultPublished";
const NOTICE_STARTED: &str = "ttx.listings.v1.NoticeStarted";
const OBJECTION_RAISED: &str = "ttx.listings.v1.ObjectionRaised";
const OBJECTION_ANSWERED: &str = "ttx.listings.v1.ObjectionAnswered";
const OBJECTION_RESOLVED: &str = "ttx.listings.v1.ObjectionResolved";
const NOTICE_ENDED: &str = "ttx.listings.v1.NoticeEnded";
const WITHDRAWN: &str = "ttx.listings.v1.ResultWithdrawn";
const UNDER_CONTRACT: &str = "ttx.listings.v1.ResultUnderContract";
const RELEASED: &str = "ttx.listings.v1.ResultReleased";
const CO_HOLDER_CONSENTED: &str = "ttx.listings.v1.CoHolderConsented";

fn malformed(event_type: &str, reason: impl ToString) -> DecodeError {
    DecodeError::Malformed { event_type: event_type.to_owned(), reason: reason.to_string() }
}

fn decode_pb<M: Message + Default>(event_type: &str, payload: &[u8]) -> Result<M, DecodeError> {
    M::decode(payload).map_err(|e| malformed(event_type, e))
}

impl DomainEvent for ResultEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::Created { .. } => CREATED,
            Self::Edited { .. } => EDITED,
            Self::Submitted { .. } => SUBMITTED,
            Self::Approved { .. } => APPROVED,
            Self::Returned { .. } => RETURNED,
            Self::Published => PUBLISHED,
            Self::NoticeStarted { .. } => NOTICE_STARTED,
            Self::ObjectionRaised { .. } => OBJECTION_RAISED,
            Self::ObjectionAnswered { .. } => OBJECTION_ANSWERED,
            Self::ObjectionResolved { .. } => OBJECTION_RESOLVED,
            Self::NoticeEnded { .. } => NOTICE_ENDED,
            Self::Withdrawn { .. } => WITHDRAWN,
            Self::UnderContract { .. } => UNDER_CONTRACT,
            Self::Released { .. } => RELEASED,
            Self::CoHolderConsented { .. } => CO_HOLDER_CONSENTED,
        }
    }

    fn subjects(&self) -> Vec<SubjectRef> {
        // The handler adds the result itself from the stream; a creation also names its holders.
        match self {
            Self::Created { id, listing, .. } => std::iter::once(SubjectRef { kind: "result".into(), id: id.clone() })
                .chain(listing.holders.iter().map(|h| SubjectRef { kind: "organisation".into(), id: h.org_id.clone() }))
                .collect(),
            _ => Vec::new(),
        }
    }

    fn encode(&self) -> Bytes {
        let bytes = match self.clone() {
            Self::Created { id, owner_org_id, listing } => {
                pb::ResultCreated { result_id: id, owner_org_id, listing: Some(listing_to_pb(&listing)) }
                    .encode_to_vec()
            }
            Self::Edited { listing } => pb::ResultEdited { listing: Some(listing_to_pb(&listing)) }.encode_to_vec(),
            Self::Submitted { by } => pb::ResultSubmitted { by_user_id: by }.encode_to_vec(),
            Self::Approved { by } => pb::ResultApproved { by_user_id: by }.encode_to_vec(),
            Self::Returned { by, reasons } => pb::ResultReturned { by_user_id: by, reasons }.encode_to_vec(),
            Self::Published => pb::ResultPublished {}.encode_to_vec(),
            Self::NoticeStarted { price_fen, starts_at, ends_at } => pb::NoticeStarted {
                price_fen,
                starts_at: Some(starts_at.to_proto()),
                ends_at: Some(ends_at.to_proto()),
            }
            .encode_to_vec(),
            Self::ObjectionRaised { objection_id, by, text, at } => {
                pb::ObjectionRaised { objection_id, by: Some(by), text, at: at.map(Timestamp::to_proto) }
                    .encode_to_vec()
            }
            Self::ObjectionAnswered { objection_id, answer, at } => {
                pb::ObjectionAnswered { objection_id, answer, at: at.map(Timestamp::to_proto) }.encode_to_vec()
            }
            Self::ObjectionResolved { objection_id, upheld, note, at } => {
                pb::ObjectionResolved { objection_id, upheld, note, at: at.map(Timestamp::to_proto) }.encode_to_vec()
            }
            Self::NoticeEnded { clean } => pb::NoticeEnded { clean }.encode_to_vec(),
            Self::Withdrawn { reason } => pb::ResultWithdrawn { reason }.encode_to_vec(),
            Self::UnderContract { deal_id, buyer_org_id } => {
                pb::ResultUnderContract { deal_id, buyer_org_id }.encode_to_vec()
            }
            Self::Released { deal_id, reason } => pb::ResultReleased { deal_id, reason }.encode_to_vec(),
            Self::CoHolderConsented { org_id, by, at } => {
                pb::CoHolderConsented { org_id, by_user_id: by, at: Some(at.to_proto()) }.encode_to_vec()
            }
        };
        bytes.into()
    }

    fn decode(event_type: &str, schema_version: u32, payload: &[u8]) -> Result<Self, DecodeError> {
        if schema_version != 1 {
            return Err(DecodeError::UnknownType { event_type: event_type.to_owned(), schema_version });
        }
        let listing = |l: Option<pb::Listing>| {
            listing_from_pb(l.ok_or_else(|| malformed(event_type, "no listing"))?).map_err(|e| malformed(event_type, e))
        };
        let time = |t: Option<prost_types::Timestamp>| {
            t.as_ref().map(Timestamp::from_proto).ok_or_else(|| malformed(event_type, "a time is missing"))
        };
        Ok(match event_type {
            CREATED => {
                let p: pb::ResultCreated = decode_pb(event_type, payload)?;
                Self::Created { id: p.result_id, owner_org_id: p.owner_org_id, listing: listing(p.listing)? }
            }
            EDITED => Self::Edited { listing: listing(decode_pb::<pb::ResultEdited>(event_type, payload)?.listing)? },
            SUBMITTED => Self::Submitted { by: decode_pb::<pb::ResultSubmitted>(event_type, payload)?.by_user_id },
            APPROVED => Self::Approved { by: decode_pb::<pb::ResultApproved>(event_type, payload)?.by_user_id },
            RETURNED => {
                let p: pb::ResultReturned = decode_pb(event_type, payload)?;
                Self::Returned { by: p.by_user_id, reasons: p.reasons }
            }
            PUBLISHED => {
                decode_pb::<pb::ResultPublished>(event_type, payload)?;
                Self::Published
            }
            NOTICE_STARTED => {
                let p: pb::NoticeStarted = decode_pb(event_type, payload)?;
                Self::NoticeStarted { price_fen: p.price_fen, starts_at: time(p.starts_at)?, ends_at: time(p.ends_at)? }
            }
            OBJECTION_RAISED => {
                let p: pb::ObjectionRaised = decode_pb(event_type, payload)?;
                let by = p.by.ok_or_else(|| malformed(event_type, "no objector"))?;
                Self::ObjectionRaised {
                    objection_id: p.objection_id,
                    by,
                    text: p.text,
                    at: p.at.as_ref().map(Timestamp::from_proto),
                }
            }
            OBJECTION_ANSWERED => {
                let p: pb::ObjectionAnswered = decode_pb(event_type, payload)?;
                Self::ObjectionAnswered {
                    objection_id: p.objection_id,
                    answer: p.answer,
                    at: p.at.as_ref().map(Timestamp::from_proto),
                }
            }
            OBJECTION_RESOLVED => {
                let p: pb::ObjectionResolved = decode_pb(event_type, payload)?;
                Self::ObjectionResolved {
                    objection_id: p.objection_id,
                    upheld: p.upheld,
                    note: p.note,
                    at: p.at.as_ref().map(Timestamp::from_proto),
                }
            }
            NOTICE_ENDED => Self::NoticeEnded { clean: decode_pb::<pb::NoticeEnded>(event_type, payload)?.clean },
            WITHDRAWN => Self::Withdrawn { reason: decode_pb::<pb::ResultWithdrawn>(event_type, payload)?.reason },
            UNDER_CONTRACT => {
                let p: pb::ResultUnderContract = decode_pb(event_type, payload)?;
                Self::UnderContract { deal_id: p.deal_id, buyer_org_id: p.buyer_org_id }
            }
            RELEASED => {
                let p: pb::ResultReleased = decode_pb(event_type, payload)?;
                Self::Released { deal_id: p.deal_id, reason: p.reason }
            }
            CO_HOLDER_CONSENTED => {
                let p: pb::CoHolderConsented = decode_pb(event_type, payload)?;
                Self::CoHolderConsented { org_id: p.org_id, by: p.by_user_id, at: time(p.at)? }
            }
            _ => return Err(DecodeError::UnknownType { event_type: event_type.to_owned(), schema_version }),
        })
    }
}

const DEMAND_POSTED: &str = "ttx.listings.v1.DemandPosted";
const APPLICATION_SUBMITTED: &str = "ttx.listings.v1.ApplicationSubmitted";
const APPLICATION_SHORTLISTED: &str = "ttx.listings.v1.ApplicationShortlisted";
const CHALLENGE_AWARDED: &str = "ttx.listings.v1.ChallengeAwarded";
const DEMAND_WITHDRAWN: &str = "ttx.listings.v1.DemandWithdrawn";
const DEMAND_EXPIRED: &str = "ttx.listings.v1.DemandExpired";

impl DomainEvent for crate::demand::DemandEvent {
    fn event_type(&self) -> &'static str {
        use crate::demand::DemandEvent as E;
        match self {
            E::Posted { .. } => DEMAND_POSTED,
            E::ApplicationSubmitted { .. } => APPLICATION_SUBMITTED,
            E::ApplicationShortlisted { .. } => APPLICATION_SHORTLISTED,
            E::Awarded { .. } => CHALLENGE_AWARDED,
            E::Withdrawn { .. } => DEMAND_WITHDRAWN,
            E::Expired { .. } => DEMAND_EXPIRED,
        }
    }

    fn subjects(&self) -> Vec<SubjectRef> {
        use crate::demand::DemandEvent as E;
        let org = |id: &str| SubjectRef { kind: "organisation".into(), id: id.to_owned() };
        match self {
            E::Posted { id, poster_org_id, .. } => {
                vec![SubjectRef { kind: "demand".into(), id: id.clone() }, org(poster_org_id)]
            }
            E::ApplicationSubmitted { org_id, .. } | E::Awarded { org_id, .. } => vec![org(org_id)],
            _ => Vec::new(),
        }
    }

    fn encode(&self) -> Bytes {
        use crate::demand::DemandEvent as E;
        let bytes = match self.clone() {
            E::Posted { id, poster_org_id, details, challenge } => pb::DemandPosted {
                demand_id: id,
                poster_org_id,
                demand: Some(pb::Demand {
                    title: details.title,
                    field: field_to(details.field),
                    indicators: details.indicators,
                    problem: details.problem,
                    existing_conditions: details.existing_conditions,
                    budget_fen: details.budget_fen,
                    cooperation_mode: details.cooperation_mode,
                    wanted_trl: u32::from(details.wanted_trl),
                    valid_until: Some(details.valid_until.to_proto()),
                }),
                challenge: challenge
                    .map(|c| pb::ChallengeTerms { indicators: c.indicators, deadline: Some(c.deadline.to_proto()) }),
            }
            .encode_to_vec(),
            E::ApplicationSubmitted { application_id, org_id, user_id, answers } => pb::ApplicationSubmitted {
                application_id,
                applicant_org_id: org_id,
                applicant_user_id: user_id,
                answers,
            }
            .encode_to_vec(),
            E::ApplicationShortlisted { application_id } => {
                pb::ApplicationShortlisted { application_id }.encode_to_vec()
            }
            E::Awarded { application_id, org_id } => {
                pb::ChallengeAwarded { application_id, awarded_org_id: org_id }.encode_to_vec()
            }
            E::Withdrawn { reason } => pb::DemandWithdrawn { reason }.encode_to_vec(),
            E::Expired { valid_until } => {
                pb::DemandExpired { valid_until: Some(valid_until.to_proto()) }.encode_to_vec()
            }
        };
        bytes.into()
    }

    fn decode(event_type: &str, schema_version: u32, payload: &[u8]) -> Result<Self, DecodeError> {
        use crate::demand::{ChallengeTerms, DemandDetails, DemandEvent as E};
        if schema_version != 1 {
            return Err(DecodeError::UnknownType { event_type: event_type.to_owned(), schema_version });
        }
        let time = |t: Option<prost_types::Timestamp>| {
            t.as_ref().map(Timestamp::from_proto).ok_or_else(|| malformed(event_type, "a time is missing"))
        };
        Ok(match event_type {
            DEMAND_POSTED => {
                let p: pb::DemandPosted = decode_pb(event_type, payload)?;
                let d = p.demand.ok_or_else(|| malformed(event_type, "no demand"))?;
                let details = DemandDetails {
                    title: d.title,
                    field: field_from(d.field).ok_or_else(|| malformed(event_type, "unknown field"))?,
                    indicators: d.indicators,
                    problem: d.problem,
                    existing_conditions: d.existing_conditions,
                    budget_fen: d.budget_fen,
                    cooperation_mode: d.cooperation_mode,
                    wanted_trl: u8::try_from(d.wanted_trl).map_err(|_| malformed(event_type, "TRL out of range"))?,
                    valid_until: time(d.valid_until)?,
                };
                let challenge = match p.challenge {
                    Some(c) => Some(ChallengeTerms { indicators: c.indicators, deadline: time(c.deadline)? }),
                    None => None,
                };
                E::Posted { id: p.demand_id, poster_org_id: p.poster_org_id, details, challenge }
            }
            APPLICATION_SUBMITTED => {
                let p: pb::ApplicationSubmitted = decode_pb(event_type, payload)?;
                E::ApplicationSubmitted {
                    application_id: p.application_id,
                    org_id: p.applicant_org_id,
                    user_id: p.applicant_user_id,
                    answers: p.answers,
                }
            }
            APPLICATION_SHORTLISTED => E::ApplicationShortlisted {
                application_id: decode_pb::<pb::ApplicationShortlisted>(event_type, payload)?.application_id,
            },
            CHALLENGE_AWARDED => {
                let p: pb::ChallengeAwarded = decode_pb(event_type, payload)?;
                E::Awarded { application_id: p.application_id, org_id: p.awarded_org_id }
            }
            DEMAND_WITHDRAWN => E::Withdrawn { reason: decode_pb::<pb::DemandWithdrawn>(event_type, payload)?.reason },
            DEMAND_EXPIRED => E::Expired {
                valid_until: decode_pb::<pb::DemandExpired>(event_type, payload)?
                    .valid_until
                    .as_ref()
                    .map(Timestamp::from_proto)
                    .unwrap_or_default(),
            },
            _ => return Err(DecodeError::UnknownType { event_type: event_type.to_owned(), schema_version }),
        })
    }
}
