//! The identity rules, as two pure deciders: [`Organisations`] (stream `identity-org-<org id>`) and [`Users`]
//! (stream `identity-user-<login>`). Passwords arrive already hashed: hashing needs randomness, which decisions do not
//! have.

use std::collections::{BTreeMap, BTreeSet};

use ttx_kernel::decider::Refusal;
use ttx_kernel::{Ctx, Decider};
use ttx_proto::common::v1::{Actor, ErrorCode, Role};
use ttx_proto::identity::v1::{OrgKind, TechManagerStatus};

use crate::values::CreditCode;

/// Why an identity command was refused. Each variant is one rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum Rejection {
    #[error("only an administrator may do this")]
    AdminOnly,
    #[error("only an administrator or the organisation's own members may do this")]
    NotAMember,
    #[error("only an administrator or the user may change the password")]
    NotTheUser,
    #[error("the organisation is already registered")]
    OrganisationExists,
    #[error("the organisation is not registered")]
    NoSuchOrganisation,
    #[error("an organisation needs a kind")]
    KindMissing,
    #[error("an organisation cannot be its own related party")]
    SelfRelation,
    #[error("no such related party is declared")]
    NotDeclared,
    #[error("the user already exists")]
    UserExists,
    #[error("the user does not exist")]
    NoSuchUser,
    #[error("the role {0:?} cannot be granted")]
    RoleNotGrantable(Role),
    #[error("the role {role:?} is not for members of a {kind:?}")]
    RoleNotForOrganisation { role: Role, kind: OrgKind },
    #[error("administrators cannot take their own administrator role or disable themselves")]
    SelfLockout,
    #[error("only a user with the technology-manager role can be registered as one")]
    NotATechManager,
    #[error("the user is already in the technology-manager registry")]
    AlreadyRegistered,
    #[error("the user is not in the technology-manager registry")]
    NotRegistered,
    #[error("a revoked registry entry cannot change")]
    RegistryEntryRevoked,
    #[error("a registry status must be given")]
    StatusMissing,
}

impl Refusal for Rejection {
    fn code(&self) -> ErrorCode {
        match self {
            Self::AdminOnly | Self::NotAMember | Self::NotTheUser | Self::SelfLockout => ErrorCode::Forbidden,
            Self::NoSuchOrganisation | Self::NoSuchUser | Self::NotDeclared | Self::NotRegistered => {
                ErrorCode::NotFound
            }
            Self::OrganisationExists | Self::UserExists | Self::AlreadyRegistered => ErrorCode::Conflict,
            _ => ErrorCode::Rejected,
        }
    }

    fn reason(&self) -> &'static str {
        self.into()
    }
}

fn is_admin(actor: &Actor) -> bool {
    actor.has_role(Role::Admin)
}

/// Which organisations' members may hold a role.
pub fn role_allowed(role: Role, kind: OrgKind) -> bool {
    use OrgKind as K;
    match role {
        Role::TechManager => matches!(kind, K::University | K::Institute | K::ServiceInstitution),
        Role::Reviewer => matches!(kind, K::University | K::Institute | K::ServiceInstitution),
        Role::EnterpriseMember => matches!(kind, K::Enterprise | K::PilotBase),
        Role::Regulator => kind == K::RegulatorAgency,
        Role::Admin => kind == K::ServiceInstitution,
        Role::Unspecified | Role::System => false,
    }
}

// ---- Organisations ----

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgProfile {
    pub kind: OrgKind,
    pub name: String,
    pub credit_code: CreditCode,
    pub region: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrgState {
    pub id: String,
    pub profile: Option<OrgProfile>,
    /// Related organisation id → relation.
    pub related: BTreeMap<String, String>,
    /// The member the organisation named to act for it as a co-holder of results (an enterprise's representative).
    pub representative: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrgCommand {
    Register {
        profile: OrgProfile,
    },
    DeclareRelated {
        related_org_id: String,
        relation: String,
    },
    WithdrawRelated {
        related_org_id: String,
    },
    /// By an administrator, on the organisation's written request: the member who acts for it as a co-holder.
    /// `member`: whether the user belongs to the organisation (the shell looks it up).
    NameRepresentative {
        user_id: String,
        member: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrgEvent {
    Registered { org_id: String, profile: OrgProfile },
    RelatedDeclared { org_id: String, related_org_id: String, relation: String },
    RelatedWithdrawn { org_id: String, related_org_id: String },
    RepresentativeNamed { org_id: String, user_id: String },
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Organisations;

impl Decider for Organisations {
    type State = OrgState;
    type Command = OrgCommand;
    type Event = OrgEvent;
    type Rejection = Rejection;

    fn decide(&self, state: &OrgState, command: &OrgCommand, ctx: &Ctx) -> Result<Vec<OrgEvent>, Rejection> {
        let actor = &ctx.actor;
        match command {
            OrgCommand::Register { profile } => {
                if !is_admin(actor) {
                    return Err(Rejection::AdminOnly);
                }
                if state.profile.is_some() {
                    return Err(Rejection::OrganisationExists);
                }
                if profile.kind == OrgKind::Unspecified {
                    return Err(Rejection::KindMissing);
                }
                Ok(vec![OrgEvent::Registered { org_id: profile.credit_code.org_id(), profile: profile.clone() }])
            }
            OrgCommand::DeclareRelated { related_org_id, relation } => {
                let org_id = member_or_admin(state, actor)?;
                if *related_org_id == org_id {
                    return Err(Rejection::SelfRelation);
                }
                if state.related.get(related_org_id) == Some(relation) {
                    return Ok(Vec::new());
                }
                Ok(vec![OrgEvent::RelatedDeclared {
                    org_id,
                    related_org_id: related_org_id.clone(),
                    relation: relation.clone(),
                }])
            }
            OrgCommand::NameRepresentative { user_id, member } => {
                if !is_admin(actor) {
                    return Err(Rejection::AdminOnly);
                }
                if state.profile.is_none() {
                    return Err(Rejection::NoSuchOrganisation);
                }
                if !member {
                    return Err(Rejection::NotAMember);
                }
                if state.representative.as_ref() == Some(user_id) {
                    return Ok(Vec::new());
                }
                Ok(vec![OrgEvent::RepresentativeNamed { org_id: state.id.clone(), user_id: user_id.clone() }])
            }
            OrgCommand::WithdrawRelated { related_org_id } => {
                let org_id = member_or_admin(state, actor)?;
                if !state.related.contains_key(related_org_id) {
                    return Err(Rejection::NotDeclared);
                }
                Ok(vec![OrgEvent::RelatedWithdrawn { org_id, related_org_id: related_org_id.clone() }])
            }
        }
    }

    fn evolve(&self, mut state: OrgState, event: &OrgEvent) -> OrgState {
        match event {
            OrgEvent::Registered { org_id, profile } => {
                state.id.clone_from(org_id);
                state.profile = Some(profile.clone());
            }
            OrgEvent::RelatedDeclared { related_org_id, relation, .. } => {
                state.related.insert(related_org_id.clone(), relation.clone());
            }
            OrgEvent::RelatedWithdrawn { related_org_id, .. } => {
                state.related.remove(related_org_id);
            }
            OrgEvent::RepresentativeNamed { user_id, .. } => state.representative = Some(user_id.clone()),
        }
        state
    }
}

/// The organisation's id, when it exists and the actor is an administrator or one of its members (not a regulator).
fn member_or_admin(state: &OrgState, actor: &Actor) -> Result<String, Rejection> {
    if state.profile.is_none() {
        return Err(Rejection::NoSuchOrganisation);
    }
    let member = actor.org_id == state.id && !actor.has_role(Role::Regulator);
    if !is_admin(actor) && !member {
        return Err(Rejection::NotAMember);
    }
    Ok(state.id.clone())
}

// ---- Users ----

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TechManagerEntry {
    pub certificate_number: String,
    pub holder_org_id: String,
    pub status: TechManagerStatus,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserState {
    pub id: String,
    pub org_id: String,
    pub org_kind: Option<OrgKind>,
    pub display_name: String,
    pub password_hash: Option<String>,
    pub roles: BTreeSet<i32>,
    pub disabled: bool,
    pub tech_manager: Option<TechManagerEntry>,
}

impl UserState {
    pub fn exists(&self) -> bool {
        self.org_kind.is_some()
    }

    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&(role as i32))
    }

    pub fn roles(&self) -> Vec<Role> {
        self.roles.iter().filter_map(|r| Role::try_from(*r).ok()).collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserCommand {
    Create {
        user_id: String,
        org_id: String,
        org_kind: OrgKind,
        display_name: String,
        password_hash: String,
        roles: Vec<Role>,
    },
    SetPassword {
        password_hash: String,
    },
    Grant {
        role: Role,
    },
    Revoke {
        role: Role,
    },
    Disable {
        reason: String,
    },
    Enable,
    RegisterTechManager {
        certificate_number: String,
    },
    ChangeTechManagerStatus {
        status: TechManagerStatus,
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserEvent {
    Created { user_id: String, org_id: String, org_kind: OrgKind, display_name: String },
    PasswordSet { user_id: String, password_hash: String },
    RoleGranted { user_id: String, role: Role },
    RoleRevoked { user_id: String, role: Role },
    Disabled { user_id: String, reason: String },
    Enabled { user_id: String },
    TechManagerRegistered { user_id: String, certificate_number: String, holder_org_id: String },
    TechManagerStatusChanged { user_id: String, status: TechManagerStatus, reason: String },
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Users;

fn grantable(role: Role, kind: OrgKind) -> Result<(), Rejection> {
    if matches!(role, Role::Unspecified | Role::System) {
        return Err(Rejection::RoleNotGrantable(role));
    }
    if !role_allowed(role, kind) {
        return Err(Rejection::RoleNotForOrganisation { role, kind });
    }
    Ok(())
}

impl Decider for Users {
    type State = UserState;
    type Command = UserCommand;
    type Event = UserEvent;
    type Rejection = Rejection;

    fn decide(&self, state: &UserState, command: &UserCommand, ctx: &Ctx) -> Result<Vec<UserEvent>, Rejection> {
        let actor = &ctx.actor;
        let admin = is_admin(actor);
        if let UserCommand::Create { user_id, org_id, org_kind, display_name, password_hash, roles } = command {
            if !admin {
                return Err(Rejection::AdminOnly);
            }
            if state.exists() {
                return Err(Rejection::UserExists);
            }
            let mut events = vec![
                UserEvent::Created {
                    user_id: user_id.clone(),
                    org_id: org_id.clone(),
                    org_kind: *org_kind,
                    display_name: display_name.clone(),
                },
                UserEvent::PasswordSet { user_id: user_id.clone(), password_hash: password_hash.clone() },
            ];
            let mut seen = BTreeSet::new();
            for role in roles {
                grantable(*role, *org_kind)?;
                if seen.insert(*role as i32) {
                    events.push(UserEvent::RoleGranted { user_id: user_id.clone(), role: *role });
                }
            }
            return Ok(events);
        }
        let Some(kind) = state.org_kind else { return Err(Rejection::NoSuchUser) };
        let user_id = state.id.clone();
        let itself = actor.user_id == state.id;
        match command {
            UserCommand::Create { .. } => Err(Rejection::UserExists),
            UserCommand::SetPassword { password_hash } => {
                if !admin && !itself {
                    return Err(Rejection::NotTheUser);
                }
                Ok(vec![UserEvent::PasswordSet { user_id, password_hash: password_hash.clone() }])
            }
            _ if !admin => Err(Rejection::AdminOnly),
            UserCommand::Grant { role } => {
                grantable(*role, kind)?;
                if state.has_role(*role) {
                    return Ok(Vec::new());
                }
                Ok(vec![UserEvent::RoleGranted { user_id, role: *role }])
            }
            UserCommand::Revoke { role } => {
                if itself && *role == Role::Admin {
                    return Err(Rejection::SelfLockout);
                }
                if !state.has_role(*role) {
                    return Ok(Vec::new());
                }
                Ok(vec![UserEvent::RoleRevoked { user_id, role: *role }])
            }
            UserCommand::Disable { reason } => {
                if itself {
                    return Err(Rejection::SelfLockout);
                }
                if state.disabled {
                    return Ok(Vec::new());
                }
                Ok(vec![UserEvent::Disabled { user_id, reason: reason.clone() }])
            }
            UserCommand::Enable => {
                if !state.disabled {
                    return Ok(Vec::new());
                }
                Ok(vec![UserEvent::Enabled { user_id }])
            }
            UserCommand::RegisterTechManager { certificate_number } => {
                if !state.has_role(Role::TechManager) {
                    return Err(Rejection::NotATechManager);
                }
                if state.tech_manager.is_some() {
                    return Err(Rejection::AlreadyRegistered);
                }
                Ok(vec![UserEvent::TechManagerRegistered {
                    user_id,
                    certificate_number: certificate_number.clone(),
                    holder_org_id: state.org_id.clone(),
                }])
            }
            UserCommand::ChangeTechManagerStatus { status, reason } => {
                let Some(entry) = &state.tech_manager else { return Err(Rejection::NotRegistered) };
                if *status == TechManagerStatus::Unspecified {
                    return Err(Rejection::StatusMissing);
                }
                if entry.status == TechManagerStatus::Revoked {
                    return Err(Rejection::RegistryEntryRevoked);
                }
                if entry.status == *status {
                    return Ok(Vec::new());
                }
                Ok(vec![UserEvent::TechManagerStatusChanged { user_id, status: *status, reason: reason.clone() }])
            }
        }
    }

    fn evolve(&self, mut state: UserState, event: &UserEvent) -> UserState {
        match event {
            UserEvent::Created { user_id, org_id, org_kind, display_name } => {
                state.id.clone_from(user_id);
                state.org_id.clone_from(org_id);
                state.org_kind = Some(*org_kind);
                state.display_name.clone_from(display_name);
            }
            UserEvent::PasswordSet { password_hash, .. } => state.password_hash = Some(password_hash.clone()),
            UserEvent::RoleGranted { role, .. } => {
                state.roles.insert(*role as i32);
            }
            UserEvent::RoleRevoked { role, .. } => {
                state.roles.remove(&(*role as i32));
            }
            UserEvent::Disabled { .. } => state.disabled = true,
            UserEvent::Enabled { .. } => state.disabled = false,
            UserEvent::TechManagerRegistered { certificate_number, holder_org_id, .. } => {
                state.tech_manager = Some(TechManagerEntry {
                    certificate_number: certificate_number.clone(),
                    holder_org_id: holder_org_id.clone(),
                    status: TechManagerStatus::Active,
                });
            }
            UserEvent::TechManagerStatusChanged { status, .. } => {
                if let Some(entry) = &mut state.tech_manager {
                    entry.status = *status;
                }
            }
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use ttx_kernel::testing::Scenario;

    use super::*;

    const UNI: &str = "12100000400000624D";

    fn actor(user: &str, org: &str, roles: &[Role]) -> Actor {
        Actor {
            user_id: user.into(),
            org_id: org.into(),
            role: roles.first().copied().unwrap_or_default().into(),
            roles: roles.iter().map(|r| *r as i32).collect(),
        }
    }

    fn admin() -> Actor {
        actor("root", "ops", &[Role::Admin])
    }

    fn university() -> OrgProfile {
        OrgProfile {
            kind: OrgKind::University,
            name: "示范大学".into(),
            credit_code: CreditCode::parse(UNI).unwrap(),
            region: "上海市".into(),
        }
    }

    fn registered() -> OrgEvent {
        OrgEvent::Registered { org_id: UNI.to_ascii_lowercase(), profile: university() }
    }

    #[test]
    fn an_administrator_registers_an_organisation_under_its_credit_code() {
        let state = Scenario::new(Organisations)
            .by(admin())
            .when(OrgCommand::Register { profile: university() })
            .then([registered()]);
        assert_eq!(state.id, "12100000400000624d");
    }

    #[test]
    fn only_an_administrator_registers_organisations() {
        Scenario::new(Organisations)
            .by(actor("li", "x", &[Role::TechManager, Role::Reviewer]))
            .when(OrgCommand::Register { profile: university() })
            .then_rejected(Rejection::AdminOnly);
        Scenario::new(Organisations)
            .by(actor("wang", "agency", &[Role::Regulator]))
            .when(OrgCommand::Register { profile: university() })
            .then_rejected(Rejection::AdminOnly);
    }

    #[test]
    fn an_organisation_is_registered_once_and_with_a_kind() {
        Scenario::new(Organisations)
            .by(admin())
            .given([registered()])
            .when(OrgCommand::Register { profile: university() })
            .then_rejected(Rejection::OrganisationExists);
        let mut kindless = university();
        kindless.kind = OrgKind::Unspecified;
        Scenario::new(Organisations)
            .by(admin())
            .when(OrgCommand::Register { profile: kindless })
            .then_rejected(Rejection::KindMissing);
    }

    #[test]
    fn a_member_declares_a_related_party_once() {
        let declare =
            || OrgCommand::DeclareRelated { related_org_id: "other".into(), relation: "控股子公司".into() };
        let declared = OrgEvent::RelatedDeclared {
            org_id: UNI.to_ascii_lowercase(),
            related_org_id: "other".into(),
            relation: "控股子公司".into(),
        };
        let member = actor("li", &UNI.to_ascii_lowercase(), &[Role::TechManager]);
        let state = Scenario::new(Organisations)
            .by(member.clone())
            .given([registered()])
            .when(declare())
            .then([declared.clone()]);
        assert_eq!(state.related.get("other").map(String::as_str), Some("控股子公司"));
        Scenario::new(Organisations).by(member).given([registered(), declared]).when(declare()).then([]);
    }

    #[test]
    fn an_administrator_names_a_member_to_act_for_the_organisation_as_a_co_holder() {
        let org = UNI.to_ascii_lowercase();
        let name = |member| OrgCommand::NameRepresentative { user_id: "li".into(), member };
        let named = OrgEvent::RepresentativeNamed { org_id: org.clone(), user_id: "li".into() };
        let state =
            Scenario::new(Organisations).by(admin()).given([registered()]).when(name(true)).then([named.clone()]);
        assert_eq!(state.representative.as_deref(), Some("li"));
        Scenario::new(Organisations).by(admin()).given([registered(), named]).when(name(true)).then([]);
        Scenario::new(Organisations)
            .by(admin())
            .given([registered()])
            .when(name(false))
            .then_rejected(Rejection::NotAMember);
        Scenario::new(Organisations)
            .by(actor("li", &org, &[Role::TechManager]))
            .given([registered()])
            .when(name(true))
            .then_rejected(Rejection::AdminOnly);
    }

    #[test]
    fn outsiders_and_regulators_cannot_declare_related_parties() {
        let declare = OrgCommand::DeclareRelated { related_org_id: "other".into(), relation: "股东".into() };
        Scenario::new(Organisations)
            .by(actor("zhao", "someone-else", &[Role::EnterpriseMember]))
            .given([registered()])
            .when(declare.clone())
            .then_rejected(Rejection::NotAMember);
        Scenario::new(Organisations)
            .by(actor("wang", &UNI.to_ascii_lowercase(), &[Role::Regulator]))
            .given([registered()])
            .when(declare)
            .then_rejected(Rejection::NotAMember);
    }

    #[test]
    fn related_parties_need_a_registered_organisation_another_organisation_and_a_declaration_to_withdraw() {
        Scenario::new(Organisations)
            .by(admin())
            .when(OrgCommand::DeclareRelated { related_org_id: "b".into(), relation: "股东".into() })
            .then_rejected(Rejection::NoSuchOrganisation);
        Scenario::new(Organisations)
            .by(admin())
            .given([registered()])
            .when(OrgCommand::DeclareRelated { related_org_id: UNI.to_ascii_lowercase(), relation: "自身".into() })
            .then_rejected(Rejection::SelfRelation);
        Scenario::new(Organisations)
            .by(admin())
            .given([registered()])
            .when(OrgCommand::WithdrawRelated { related_org_id: "b".into() })
            .then_rejected(Rejection::NotDeclared);
    }

    fn create(roles: &[Role]) -> UserCommand {
        UserCommand::Create {
            user_id: "li".into(),
            org_id: "uni".into(),
            org_kind: OrgKind::University,
            display_name: "李雷".into(),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            roles: roles.to_vec(),
        }
    }

    fn created() -> Vec<UserEvent> {
        vec![
            UserEvent::Created {
                user_id: "li".into(),
                org_id: "uni".into(),
                org_kind: OrgKind::University,
                display_name: "李雷".into(),
            },
            UserEvent::PasswordSet {
                user_id: "li".into(),
                password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            },
        ]
    }

    fn granted(role: Role) -> UserEvent {
        UserEvent::RoleGranted { user_id: "li".into(), role }
    }

    #[test]
    fn an_administrator_creates_a_user_with_a_password_and_roles_each_granted_once() {
        let mut expected = created();
        expected.extend([granted(Role::TechManager), granted(Role::Reviewer)]);
        let state = Scenario::new(Users)
            .by(admin())
            .when(create(&[Role::TechManager, Role::Reviewer, Role::TechManager]))
            .then(expected);
        assert_eq!(state.roles(), vec![Role::TechManager, Role::Reviewer]);
        assert!(state.password_hash.is_some());
    }

    #[test]
    fn users_are_created_by_administrators_only_and_once() {
        Scenario::new(Users)
            .by(actor("li", "uni", &[Role::TechManager]))
            .when(create(&[]))
            .then_rejected(Rejection::AdminOnly);
        Scenario::new(Users).by(admin()).given(created()).when(create(&[])).then_rejected(Rejection::UserExists);
    }

    #[test]
    fn roles_fit_the_kind_of_organisation() {
        Scenario::new(Users).by(admin()).when(create(&[Role::EnterpriseMember])).then_rejected(
            Rejection::RoleNotForOrganisation { role: Role::EnterpriseMember, kind: OrgKind::University },
        );
        Scenario::new(Users)
            .by(admin())
            .when(create(&[Role::Regulator]))
            .then_rejected(Rejection::RoleNotForOrganisation { role: Role::Regulator, kind: OrgKind::University });
        Scenario::new(Users)
            .by(admin())
            .given(created())
            .when(UserCommand::Grant { role: Role::System })
            .then_rejected(Rejection::RoleNotGrantable(Role::System));
        assert!(role_allowed(Role::EnterpriseMember, OrgKind::PilotBase));
        assert!(role_allowed(Role::Admin, OrgKind::ServiceInstitution));
        assert!(!role_allowed(Role::Admin, OrgKind::Enterprise));
    }

    #[test]
    fn a_user_changes_their_own_password_and_nobody_else_but_an_administrator_may() {
        let set = || UserCommand::SetPassword { password_hash: "new".into() };
        let event = UserEvent::PasswordSet { user_id: "li".into(), password_hash: "new".into() };
        Scenario::new(Users).by(actor("li", "uni", &[])).given(created()).when(set()).then([event.clone()]);
        Scenario::new(Users).by(admin()).given(created()).when(set()).then([event]);
        Scenario::new(Users)
            .by(actor("han", "uni", &[Role::Reviewer]))
            .given(created())
            .when(set())
            .then_rejected(Rejection::NotTheUser);
    }

    #[test]
    fn granting_a_held_role_or_revoking_a_missing_one_changes_nothing() {
        let mut history = created();
        history.push(granted(Role::TechManager));
        Scenario::new(Users)
            .by(admin())
            .given(history.clone())
            .when(UserCommand::Grant { role: Role::TechManager })
            .then([]);
        Scenario::new(Users)
            .by(admin())
            .given(history.clone())
            .when(UserCommand::Revoke { role: Role::Reviewer })
            .then([]);
        let state = Scenario::new(Users)
            .by(admin())
            .given(history)
            .when(UserCommand::Revoke { role: Role::TechManager })
            .then([UserEvent::RoleRevoked { user_id: "li".into(), role: Role::TechManager }]);
        assert!(state.roles().is_empty());
    }

    #[test]
    fn only_administrators_manage_roles_and_accounts() {
        let li = actor("li", "uni", &[Role::TechManager]);
        for command in [
            UserCommand::Grant { role: Role::Reviewer },
            UserCommand::Revoke { role: Role::TechManager },
            UserCommand::Disable { reason: "x".into() },
            UserCommand::Enable,
            UserCommand::RegisterTechManager { certificate_number: "JS-1".into() },
        ] {
            Scenario::new(Users).by(li.clone()).given(created()).when(command).then_rejected(Rejection::AdminOnly);
        }
    }

    #[test]
    fn administrators_cannot_lock_themselves_out() {
        let me = actor("li", "ops", &[Role::Admin]);
        let history = vec![
            UserEvent::Created {
                user_id: "li".into(),
                org_id: "ops".into(),
                org_kind: OrgKind::ServiceInstitution,
                display_name: "李".into(),
            },
            UserEvent::RoleGranted { user_id: "li".into(), role: Role::Admin },
        ];
        Scenario::new(Users)
            .by(me.clone())
            .given(history.clone())
            .when(UserCommand::Revoke { role: Role::Admin })
            .then_rejected(Rejection::SelfLockout);
        Scenario::new(Users)
            .by(me)
            .given(history)
            .when(UserCommand::Disable { reason: "x".into() })
            .then_rejected(Rejection::SelfLockout);
    }

    #[test]
    fn a_disabled_user_is_enabled_again_and_each_happens_once() {
        let disabled = UserEvent::Disabled { user_id: "li".into(), reason: "离职".into() };
        let mut history = created();
        let state = Scenario::new(Users)
            .by(admin())
            .given(history.clone())
            .when(UserCommand::Disable { reason: "离职".into() })
            .then([disabled.clone()]);
        assert!(state.disabled);
        history.push(disabled);
        Scenario::new(Users)
            .by(admin())
            .given(history.clone())
            .when(UserCommand::Disable { reason: "x".into() })
            .then([]);
        let state = Scenario::new(Users)
            .by(admin())
            .given(history)
            .when(UserCommand::Enable)
            .then([UserEvent::Enabled { user_id: "li".into() }]);
        assert!(!state.disabled);
    }

    #[test]
    fn the_registry_takes_technology_managers_once_for_their_own_institution() {
        let register = || UserCommand::RegisterTechManager { certificate_number: "JS-2025-0001".into() };
        Scenario::new(Users).by(admin()).given(created()).when(register()).then_rejected(Rejection::NotATechManager);
        let mut history = created();
        history.push(granted(Role::TechManager));
        let entry = UserEvent::TechManagerRegistered {
            user_id: "li".into(),
            certificate_number: "JS-2025-0001".into(),
            holder_org_id: "uni".into(),
        };
        let state = Scenario::new(Users).by(admin()).given(history.clone()).when(register()).then([entry.clone()]);
        assert_eq!(state.tech_manager.unwrap().status, TechManagerStatus::Active);
        history.push(entry);
        Scenario::new(Users).by(admin()).given(history).when(register()).then_rejected(Rejection::AlreadyRegistered);
    }

    #[test]
    fn a_revoked_registry_entry_is_final() {
        let mut history = created();
        history.push(granted(Role::TechManager));
        history.push(UserEvent::TechManagerRegistered {
            user_id: "li".into(),
            certificate_number: "JS-1".into(),
            holder_org_id: "uni".into(),
        });
        let change = |status| UserCommand::ChangeTechManagerStatus { status, reason: "年检".into() };
        let revoked = UserEvent::TechManagerStatusChanged {
            user_id: "li".into(),
            status: TechManagerStatus::Revoked,
            reason: "年检".into(),
        };
        Scenario::new(Users).by(admin()).given(history.clone()).when(change(TechManagerStatus::Active)).then([]);
        Scenario::new(Users)
            .by(admin())
            .given(history.clone())
            .when(change(TechManagerStatus::Unspecified))
            .then_rejected(Rejection::StatusMissing);
        Scenario::new(Users)
            .by(admin())
            .given(history.clone())
            .when(change(TechManagerStatus::Revoked))
            .then([revoked.clone()]);
        history.push(revoked);
        Scenario::new(Users)
            .by(admin())
            .given(history)
            .when(change(TechManagerStatus::Active))
            .then_rejected(Rejection::RegistryEntryRevoked);
    }

    #[test]
    fn commands_on_a_missing_user_are_refused() {
        Scenario::new(Users)
            .by(admin())
            .when(UserCommand::Grant { role: Role::TechManager })
            .then_rejected(Rejection::NoSuchUser);
        Scenario::new(Users)
            .by(admin())
            .when(UserCommand::ChangeTechManagerStatus { status: TechManagerStatus::Active, reason: String::new() })
            .then_rejected(Rejection::NoSuchUser);
    }

    #[test]
    fn unknown_or_broken_events_are_errors_not_panics() {
        use ttx_kernel::{DecodeError, DomainEvent};
        assert!(matches!(UserEvent::decode("ttx.identity.v1.Nope", 1, &[]), Err(DecodeError::UnknownType { .. })));
        assert!(matches!(
            UserEvent::decode("ttx.identity.v1.RoleGranted", 1, &[0x10, 0x63]),
            Err(DecodeError::Malformed { .. })
        ));
        assert!(matches!(
            OrgEvent::decode("ttx.identity.v1.OrganisationRegistered", 1, &[0x22, 0x01, 0x78]),
            Err(DecodeError::Malformed { .. })
        ));
    }
}
