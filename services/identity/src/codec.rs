//! The identity events' wire form: each domain event is one `ttx.identity.v1` message.

use bytes::Bytes;
use prost::Message;
use ttx_kernel::{DecodeError, DomainEvent};
use ttx_proto::common::v1::{Role, SubjectRef};
use ttx_proto::identity::v1 as pb;

use crate::domain::{OrgEvent, OrgProfile, UserEvent};
use crate::values::CreditCode;

const ORG_REGISTERED: &str = "ttx.identity.v1.OrganisationRegistered";
const RELATED_DECLARED: &str = "ttx.identity.v1.RelatedPartyDeclared";
const RELATED_WITHDRAWN: &str = "ttx.identity.v1.RelatedPartyWithdrawn";
const REPRESENTATIVE_NAMED: &str = "ttx.identity.v1.RepresentativeNamed";
const USER_CREATED: &str = "ttx.identity.v1.UserCreated";
const PASSWORD_SET: &str = "ttx.identity.v1.PasswordSet";
const ROLE_GRANTED: &str = "ttx.identity.v1.RoleGranted";
const ROLE_REVOKED: &str = "ttx.identity.v1.RoleRevoked";
const USER_DISABLED: &str = "ttx.identity.v1.UserDisabled";
const USER_ENABLED: &str = "ttx.identity.v1.UserEnabled";
const TM_REGISTERED: &str = "ttx.identity.v1.TechManagerRegistered";
const TM_STATUS: &str = "ttx.identity.v1.TechManagerStatusChanged";

fn malformed(event_type: &str, reason: impl ToString) -> DecodeError {
    DecodeError::Malformed { event_type: event_type.to_owned(), reason: reason.to_string() }
}

fn decode_pb<M: Message + Default>(event_type: &str, payload: &[u8]) -> Result<M, DecodeError> {
    M::decode(payload).map_err(|e| malformed(event_type, e))
}

fn subject(kind: &str, id: &str) -> SubjectRef {
    SubjectRef { kind: kind.to_owned(), id: id.to_owned() }
}

fn known<E: TryFrom<i32>>(event_type: &str, value: i32, what: &str) -> Result<E, DecodeError> {
    E::try_from(value).map_err(|_| malformed(event_type, format!("unknown {what} {value}")))
}

impl DomainEvent for OrgEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::Registered { .. } => ORG_REGISTERED,
            Self::RelatedDeclared { .. } => RELATED_DECLARED,
            Self::RelatedWithdrawn { .. } => RELATED_WITHDRAWN,
            Self::RepresentativeNamed { .. } => REPRESENTATIVE_NAMED,
        }
    }

    fn subjects(&self) -> Vec<SubjectRef> {
        match self {
            Self::Registered { org_id, .. } => vec![subject("organisation", org_id)],
            Self::RelatedDeclared { org_id, related_org_id, .. }
            | Self::RelatedWithdrawn { org_id, related_org_id } => {
                vec![subject("organisation", org_id), subject("organisation", related_org_id)]
            }
            Self::RepresentativeNamed { org_id, user_id } => {
                vec![subject("organisation", org_id), subject("user", user_id)]
            }
        }
    }

    fn encode(&self) -> Bytes {
        let bytes = match self {
            Self::Registered { org_id, profile } => pb::OrganisationRegistered {
                org_id: org_id.clone(),
                kind: profile.kind.into(),
                name: profile.name.clone(),
                credit_code: profile.credit_code.to_string(),
                region: profile.region.clone(),
            }
            .encode_to_vec(),
            Self::RelatedDeclared { org_id, related_org_id, relation } => pb::RelatedPartyDeclared {
                org_id: org_id.clone(),
                related_org_id: related_org_id.clone(),
                relation: relation.clone(),
            }
            .encode_to_vec(),
            Self::RelatedWithdrawn { org_id, related_org_id } => {
                pb::RelatedPartyWithdrawn { org_id: org_id.clone(), related_org_id: related_org_id.clone() }
                    .encode_to_vec()
            }
            Self::RepresentativeNamed { org_id, user_id } => {
                pb::RepresentativeNamed { org_id: org_id.clone(), user_id: user_id.clone() }.encode_to_vec()
            }
        };
        bytes.into()
    }

    fn decode(event_type: &str, schema_version: u32, payload: &[u8]) -> Result<Self, DecodeError> {
        match (event_type, schema_version) {
            (ORG_REGISTERED, 1) => {
                let p: pb::OrganisationRegistered = decode_pb(event_type, payload)?;
                let credit_code = CreditCode::parse(&p.credit_code).map_err(|e| malformed(event_type, e))?;
                let kind = known(event_type, p.kind, "organisation kind")?;
                Ok(Self::Registered {
                    org_id: p.org_id,
                    profile: OrgProfile { kind, name: p.name, credit_code, region: p.region },
                })
            }
            (RELATED_DECLARED, 1) => {
                let p: pb::RelatedPartyDeclared = decode_pb(event_type, payload)?;
                Ok(Self::RelatedDeclared { org_id: p.org_id, related_org_id: p.related_org_id, relation: p.relation })
            }
            (RELATED_WITHDRAWN, 1) => {
                let p: pb::RelatedPartyWithdrawn = decode_pb(event_type, payload)?;
                Ok(Self::RelatedWithdrawn { org_id: p.org_id, related_org_id: p.related_org_id })
            }
            (REPRESENTATIVE_NAMED, 1) => {
                let p: pb::RepresentativeNamed = decode_pb(event_type, payload)?;
                Ok(Self::RepresentativeNamed { org_id: p.org_id, user_id: p.user_id })
            }
            _ => Err(DecodeError::UnknownType { event_type: event_type.to_owned(), schema_version }),
        }
    }
}

impl DomainEvent for UserEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::Created { .. } => USER_CREATED,
            Self::PasswordSet { .. } => PASSWORD_SET,
            Self::RoleGranted { .. } => ROLE_GRANTED,
            Self::RoleRevoked { .. } => ROLE_REVOKED,
            Self::Disabled { .. } => USER_DISABLED,
            Self::Enabled { .. } => USER_ENABLED,
            Self::TechManagerRegistered { .. } => TM_REGISTERED,
            Self::TechManagerStatusChanged { .. } => TM_STATUS,
        }
    }

    fn subjects(&self) -> Vec<SubjectRef> {
        let user_id = match self {
            Self::Created { user_id, .. }
            | Self::PasswordSet { user_id, .. }
            | Self::RoleGranted { user_id, .. }
            | Self::RoleRevoked { user_id, .. }
            | Self::Disabled { user_id, .. }
            | Self::Enabled { user_id }
            | Self::TechManagerRegistered { user_id, .. }
            | Self::TechManagerStatusChanged { user_id, .. } => user_id,
        };
        let mut subjects = vec![subject("user", user_id)];
        if let Self::Created { org_id, .. } | Self::TechManagerRegistered { holder_org_id: org_id, .. } = self {
            subjects.push(subject("organisation", org_id));
        }
        subjects
    }

    fn encode(&self) -> Bytes {
        let bytes = match self.clone() {
            Self::Created { user_id, org_id, org_kind, display_name } => {
                pb::UserCreated { user_id, org_id, display_name, org_kind: org_kind.into() }.encode_to_vec()
            }
            Self::PasswordSet { user_id, password_hash } => pb::PasswordSet { user_id, password_hash }.encode_to_vec(),
            Self::RoleGranted { user_id, role } => pb::RoleGranted { user_id, role: role.into() }.encode_to_vec(),
            Self::RoleRevoked { user_id, role } => pb::RoleRevoked { user_id, role: role.into() }.encode_to_vec(),
            Self::Disabled { user_id, reason } => pb::UserDisabled { user_id, reason }.encode_to_vec(),
            Self::Enabled { user_id } => pb::UserEnabled { user_id }.encode_to_vec(),
            Self::TechManagerRegistered { user_id, certificate_number, holder_org_id } => {
                pb::TechManagerRegistered { user_id, certificate_number, holder_org_id }.encode_to_vec()
            }
            Self::TechManagerStatusChanged { user_id, status, reason } => {
                pb::TechManagerStatusChanged { user_id, status: status.into(), reason }.encode_to_vec()
            }
        };
        bytes.into()
    }

    fn decode(event_type: &str, schema_version: u32, payload: &[u8]) -> Result<Self, DecodeError> {
        if schema_version != 1 {
            return Err(DecodeError::UnknownType { event_type: event_type.to_owned(), schema_version });
        }
        let role = |value: i32| known::<Role>(event_type, value, "role");
        Ok(match event_type {
            USER_CREATED => {
                let p: pb::UserCreated = decode_pb(event_type, payload)?;
                let org_kind = known(event_type, p.org_kind, "organisation kind")?;
                Self::Created { user_id: p.user_id, org_id: p.org_id, org_kind, display_name: p.display_name }
            }
            PASSWORD_SET => {
                let p: pb::PasswordSet = decode_pb(event_type, payload)?;
                Self::PasswordSet { user_id: p.user_id, password_hash: p.password_hash }
            }
            ROLE_GRANTED => {
                let p: pb::RoleGranted = decode_pb(event_type, payload)?;
                Self::RoleGranted { user_id: p.user_id, role: role(p.role)? }
            }
            ROLE_REVOKED => {
                let p: pb::RoleRevoked = decode_pb(event_type, payload)?;
                Self::RoleRevoked { user_id: p.user_id, role: role(p.role)? }
            }
            USER_DISABLED => {
                let p: pb::UserDisabled = decode_pb(event_type, payload)?;
                Self::Disabled { user_id: p.user_id, reason: p.reason }
            }
            USER_ENABLED => Self::Enabled { user_id: decode_pb::<pb::UserEnabled>(event_type, payload)?.user_id },
            TM_REGISTERED => {
                let p: pb::TechManagerRegistered = decode_pb(event_type, payload)?;
                Self::TechManagerRegistered {
                    user_id: p.user_id,
                    certificate_number: p.certificate_number,
                    holder_org_id: p.holder_org_id,
                }
            }
            TM_STATUS => {
                let p: pb::TechManagerStatusChanged = decode_pb(event_type, payload)?;
                let status = known(event_type, p.status, "registry status")?;
                Self::TechManagerStatusChanged { user_id: p.user_id, status, reason: p.reason }
            }
            _ => return Err(DecodeError::UnknownType { event_type: event_type.to_owned(), schema_version }),
        })
    }
}
