//! The identity service's shell: command and query handlers on the bus, and the directory (a read model folded from
//! the log) that answers lists.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::RwLock;
use ttx_kernel::bus::{ErrorCode, ReplyError};
use ttx_kernel::calendar::{Calendar, CalendarView};
use ttx_kernel::decider::Refusal as _;
use ttx_kernel::handler::decode_event;
use ttx_kernel::projection::Progress;
use ttx_kernel::rpc::Router;
use ttx_kernel::{Clock, CommandHandler, CommandId, CommandMeta, Decider, EventLog, RecordedEvent, StreamId};
use ttx_proto::common::v1::{Actor, CommandAccepted, Role};
use ttx_proto::identity::v1::{self as pb, subjects};

use crate::calendar::{self, CalendarCommand, Calendars};
use crate::domain::{
    OrgCommand, OrgEvent, OrgProfile, OrgState, Organisations, Rejection, UserCommand, UserEvent, UserState, Users,
};
use crate::password;
use crate::values::{self, CreditCode, Invalid, Password, UserId};

/// How long a list waits for the directory to catch up with the log as it was when the query arrived.
const CATCH_UP: Duration = Duration::from_secs(5);

pub fn org_stream(org_id: &str) -> Result<StreamId, ReplyError> {
    StreamId::new("identity", "org", org_id).map_err(|e| ReplyError::invalid("org_id", e.to_string()))
}

pub fn user_stream(user_id: &str) -> Result<StreamId, ReplyError> {
    StreamId::new("identity", "user", user_id).map_err(|e| ReplyError::invalid("user_id", e.to_string()))
}

fn invalid(e: Invalid) -> ReplyError {
    ReplyError::invalid(e.field, e.reason)
}

/// The version of identity's rules every identity event records.
pub const RULES: &str = "identity-2026.1";

fn role(value: i32, field: &'static str) -> Result<Role, ReplyError> {
    match Role::try_from(value) {
        Ok(Role::Unspecified) | Err(_) => Err(ReplyError::invalid(field, "not a known role")),
        Ok(role) => Ok(role),
    }
}

/// Organisations and users folded from the log.
#[derive(Debug, Default)]
struct Directory {
    orgs: BTreeMap<String, pb::Organisation>,
    users: BTreeMap<String, UserState>,
    calendar: CalendarView,
}

impl Directory {
    fn apply(&mut self, event: &RecordedEvent) -> Result<(), ttx_kernel::DecodeError> {
        let stream = event.stream_id();
        if stream.starts_with("identity-org-") {
            match decode_event::<OrgEvent>(event)? {
                OrgEvent::Registered { org_id, profile } => {
                    self.orgs.insert(org_id.clone(), organisation(&org_id, &profile, Vec::new()));
                }
                OrgEvent::RelatedDeclared { org_id, related_org_id, .. } => {
                    if let Some(org) = self.orgs.get_mut(&org_id)
                        && !org.related_org_ids.contains(&related_org_id)
                    {
                        org.related_org_ids.push(related_org_id);
                    }
                }
                OrgEvent::RelatedWithdrawn { org_id, related_org_id } => {
                    if let Some(org) = self.orgs.get_mut(&org_id) {
                        org.related_org_ids.retain(|r| *r != related_org_id);
                    }
                }
                OrgEvent::RepresentativeNamed { .. } => {}
            }
        } else if stream == calendar::STREAM {
            calendar::fold(&self.calendar, event);
        } else if stream.starts_with("identity-user-") {
            let event = decode_event::<UserEvent>(event)?;
            let id = user_of(&event).to_owned();
            let state = self.users.remove(&id).unwrap_or_default();
            self.users.insert(id, Users.evolve(state, &event));
        }
        Ok(())
    }
}

fn user_of(e: &UserEvent) -> &str {
    match e {
        UserEvent::Created { user_id, .. }
        | UserEvent::PasswordSet { user_id, .. }
        | UserEvent::RoleGranted { user_id, .. }
        | UserEvent::RoleRevoked { user_id, .. }
        | UserEvent::Disabled { user_id, .. }
        | UserEvent::Enabled { user_id }
        | UserEvent::TechManagerRegistered { user_id, .. }
        | UserEvent::TechManagerStatusChanged { user_id, .. } => user_id,
    }
}

fn organisation(org_id: &str, p: &OrgProfile, related: Vec<String>) -> pb::Organisation {
    pb::Organisation {
        org_id: org_id.to_owned(),
        kind: p.kind.into(),
        name: p.name.clone(),
        credit_code: p.credit_code.to_string(),
        region: p.region.clone(),
        related_org_ids: related,
    }
}

/// The public view of a user: everything but the password hash.
pub fn user(s: &UserState) -> pb::User {
    pb::User {
        user_id: s.id.clone(),
        org_id: s.org_id.clone(),
        display_name: s.display_name.clone(),
        roles: s.roles.iter().copied().collect(),
        disabled: s.disabled,
        tech_manager_certificate: s.tech_manager.as_ref().map(|t| t.certificate_number.clone()).unwrap_or_default(),
        tech_manager_status: s.tech_manager.as_ref().map_or(0, |t| t.status.into()),
    }
}

/// The identity service.
pub struct Service {
    log: Arc<dyn EventLog>,
    orgs: CommandHandler<Organisations>,
    users: CommandHandler<Users>,
    calendars: CommandHandler<Calendars>,
    directory: RwLock<Directory>,
    /// The log position the directory has applied (every event before it, identity or not).
    progress: Progress,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("identity::Service").finish_non_exhaustive()
    }
}

impl Service {
    pub fn new(log: Arc<dyn EventLog>, clock: Arc<dyn Clock>) -> Self {
        Self {
            orgs: CommandHandler::new(Organisations, log.clone(), clock.clone()).with_rule_version(RULES),
            users: CommandHandler::new(Users, log.clone(), clock.clone()).with_rule_version(RULES),
            calendars: CommandHandler::new(Calendars, log.clone(), clock).with_rule_version(RULES),
            log,
            directory: RwLock::default(),
            progress: Progress::default(),
        }
    }

    /// Seeds the published holiday schedules that the calendar stream does not hold yet (each by a command id of its
    /// year, so instances and restarts seed it once).
    pub async fn seed_calendar(&self) -> Result<(), ReplyError> {
        for s in Calendar::published_schedules() {
            let id = CommandId::system("calendar-seed", &s.year.to_string())
                .map_err(|e| ReplyError::new(ErrorCode::Internal, e.to_string()))?;
            let meta = CommandMeta::new(id, system_actor());
            self.calendars
                .handle(&calendar::stream(), &CalendarCommand::Seed(s), &meta)
                .await
                .map_err(|e| e.into_reply())?;
        }
        Ok(())
    }

    /// Folds the log into the directory, from the start, then live, until the task is dropped.
    pub async fn project(self: Arc<Self>) {
        self.progress.follow(self.log.clone(), self.as_ref()).await;
    }

    /// Waits until the directory reflects every event the log held when the query arrived.
    async fn caught_up(&self) -> Result<(), ReplyError> {
        self.progress.caught_up(self.log.as_ref(), CATCH_UP).await
    }

    pub async fn register_organisation(&self, c: pb::RegisterOrganisation) -> Result<CommandAccepted, ReplyError> {
        let meta = CommandMeta::from_context(c.context)?;
        let credit_code = CreditCode::parse(&c.credit_code).map_err(invalid)?;
        let kind = pb::OrgKind::try_from(c.kind)
            .ok()
            .filter(|k| *k != pb::OrgKind::Unspecified)
            .ok_or_else(|| ReplyError::invalid("kind", "not a known organisation kind"))?;
        let profile = OrgProfile {
            kind,
            name: values::org_name(&c.name).map_err(invalid)?,
            region: values::region(&c.region).map_err(invalid)?,
            credit_code,
        };
        let stream = org_stream(&profile.credit_code.org_id())?;
        let handled =
            self.orgs.handle(&stream, &OrgCommand::Register { profile }, &meta).await.map_err(|e| e.into_reply())?;
        Ok(handled.accepted())
    }

    pub async fn declare_related_party(&self, c: pb::DeclareRelatedParty) -> Result<CommandAccepted, ReplyError> {
        let meta = CommandMeta::from_context(c.context)?;
        let org_id = values::parse_org_id("org_id", &c.org_id).map_err(invalid)?;
        let related_org_id = values::parse_org_id("related_org_id", &c.related_org_id).map_err(invalid)?;
        let relation = values::relation(&c.relation).map_err(invalid)?;
        if self.load_org(&related_org_id).await?.profile.is_none() {
            return Err(ReplyError::new(ErrorCode::NotFound, "the related organisation is not registered"));
        }
        let command = OrgCommand::DeclareRelated { related_org_id, relation };
        self.handle_org(&org_id, &command, &meta).await
    }

    pub async fn name_representative(&self, c: pb::NameRepresentative) -> Result<CommandAccepted, ReplyError> {
        let meta = CommandMeta::from_context(c.context)?;
        let org_id = values::parse_org_id("org_id", &c.org_id).map_err(invalid)?;
        let user_id = UserId::parse(&c.user_id).map_err(invalid)?;
        let user = self.load_user(user_id.as_str()).await?;
        if !user.exists() {
            return Err(ReplyError::new(ErrorCode::NotFound, "no such user"));
        }
        let command = OrgCommand::NameRepresentative { user_id: user_id.to_string(), member: user.org_id == org_id };
        self.handle_org(&org_id, &command, &meta).await
    }

    pub async fn withdraw_related_party(&self, c: pb::WithdrawRelatedParty) -> Result<CommandAccepted, ReplyError> {
        let meta = CommandMeta::from_context(c.context)?;
        let org_id = values::parse_org_id("org_id", &c.org_id).map_err(invalid)?;
        let related_org_id = values::parse_org_id("related_org_id", &c.related_org_id).map_err(invalid)?;
        let command = OrgCommand::WithdrawRelated { related_org_id };
        self.handle_org(&org_id, &command, &meta).await
    }

    pub async fn create_user(&self, c: pb::CreateUser) -> Result<CommandAccepted, ReplyError> {
        let meta = CommandMeta::from_context(c.context)?;
        let user_id = UserId::parse(&c.user_id).map_err(invalid)?;
        let org_id = values::parse_org_id("org_id", &c.org_id).map_err(invalid)?;
        let display_name = values::display_name(&c.display_name).map_err(invalid)?;
        let password = Password::parse(&c.password).map_err(invalid)?;
        let roles = c.roles.iter().map(|r| role(*r, "roles")).collect::<Result<Vec<_>, _>>()?;
        let org = self.load_org(&org_id).await?;
        let Some(profile) = org.profile else {
            return Err(ReplyError::new(ErrorCode::NotFound, "the organisation is not registered"));
        };
        let stream = user_stream(user_id.as_str())?;
        // Refuse before the expensive hash when the answer is already known (the decider decides again).
        if !meta.actor.has_role(Role::Admin) {
            return Err(Rejection::AdminOnly.to_reply());
        }
        let (existing, _, _) = self.users.load(&stream).await.map_err(|e| e.into_reply())?;
        if existing.exists() && !self.is_retry(&stream, &meta).await? {
            return Err(Rejection::UserExists.to_reply());
        }
        let password_hash = password::hash(password).await.map_err(|e| {
            tracing::error!(error = %e, "password hashing failed");
            ReplyError::new(ErrorCode::Internal, "the password could not be hashed")
        })?;
        let command = UserCommand::Create {
            user_id: user_id.to_string(),
            org_id,
            org_kind: profile.kind,
            display_name,
            password_hash,
            roles,
        };
        let handled = self.users.handle(&stream, &command, &meta).await.map_err(|e| e.into_reply())?;
        Ok(handled.accepted())
    }

    pub async fn set_password(&self, c: pb::SetPassword) -> Result<CommandAccepted, ReplyError> {
        let meta = CommandMeta::from_context(c.context)?;
        let user_id = UserId::parse(&c.user_id).map_err(invalid)?;
        let password = Password::parse(&c.password).map_err(invalid)?;
        if !meta.actor.has_role(Role::Admin) && meta.actor.user_id != user_id.as_str() {
            return Err(Rejection::NotTheUser.to_reply());
        }
        let password_hash = password::hash(password)
            .await
            .map_err(|_| ReplyError::new(ErrorCode::Internal, "the password could not be hashed"))?;
        let command = UserCommand::SetPassword { password_hash };
        self.handle_user(&user_id, &command, &meta).await
    }

    pub async fn register_tech_manager(&self, c: pb::RegisterTechManager) -> Result<CommandAccepted, ReplyError> {
        let meta = CommandMeta::from_context(c.context)?;
        let user_id = UserId::parse(&c.user_id).map_err(invalid)?;
        let certificate_number = values::certificate_number(&c.certificate_number).map_err(invalid)?;
        let command = UserCommand::RegisterTechManager { certificate_number };
        self.handle_user(&user_id, &command, &meta).await
    }

    pub async fn load_schedule(&self, c: pb::LoadSchedule) -> Result<CommandAccepted, ReplyError> {
        let meta = CommandMeta::from_context(c.context)?;
        let schedule = calendar::schedule(c.year, &c.holidays, &c.make_up_workdays, &c.source)
            .map_err(|e| ReplyError::invalid(e.field, e.reason))?;
        let handled = self
            .calendars
            .handle(&calendar::stream(), &CalendarCommand::Load(schedule), &meta)
            .await
            .map_err(|e| e.into_reply())?;
        Ok(handled.accepted())
    }

    pub async fn grant_role(&self, c: pb::GrantRole) -> Result<CommandAccepted, ReplyError> {
        let meta = CommandMeta::from_context(c.context)?;
        let user_id = UserId::parse(&c.user_id).map_err(invalid)?;
        let command = UserCommand::Grant { role: role(c.role, "role")? };
        self.handle_user(&user_id, &command, &meta).await
    }

    pub async fn revoke_role(&self, c: pb::RevokeRole) -> Result<CommandAccepted, ReplyError> {
        let meta = CommandMeta::from_context(c.context)?;
        let user_id = UserId::parse(&c.user_id).map_err(invalid)?;
        let command = UserCommand::Revoke { role: role(c.role, "role")? };
        self.handle_user(&user_id, &command, &meta).await
    }

    /// Whether this command id already wrote to the stream (a retry gets its first answer, not "exists").
    async fn is_retry(&self, stream: &StreamId, meta: &CommandMeta) -> Result<bool, ReplyError> {
        let events = ttx_kernel::log::read_stream_to_end(self.log.as_ref(), stream, 1)
            .await
            .map_err(|_| ReplyError::new(ErrorCode::Unavailable, "the event log is unavailable"))?;
        Ok(events.iter().any(|e| e.command_id() == meta.command_id.as_str()))
    }

    async fn handle_org(
        &self,
        org_id: &str,
        command: &OrgCommand,
        meta: &CommandMeta,
    ) -> Result<CommandAccepted, ReplyError> {
        let handled = self.orgs.handle(&org_stream(org_id)?, command, meta).await.map_err(|e| e.into_reply())?;
        Ok(handled.accepted())
    }

    async fn handle_user(
        &self,
        user_id: &UserId,
        command: &UserCommand,
        meta: &CommandMeta,
    ) -> Result<CommandAccepted, ReplyError> {
        let stream = user_stream(user_id.as_str())?;
        let handled = self.users.handle(&stream, command, meta).await.map_err(|e| e.into_reply())?;
        Ok(handled.accepted())
    }

    async fn load_org(&self, org_id: &str) -> Result<OrgState, ReplyError> {
        self.orgs.load(&org_stream(org_id)?).await.map(|(s, _, _)| s).map_err(|e| e.into_reply())
    }

    async fn load_user(&self, user_id: &str) -> Result<UserState, ReplyError> {
        self.users.load(&user_stream(user_id)?).await.map(|(s, _, _)| s).map_err(|e| e.into_reply())
    }

    pub async fn authenticate(&self, q: pb::Authenticate) -> Result<pb::User, ReplyError> {
        // A malformed login is treated like an unknown one: same answer, same time.
        let state = match UserId::parse(&q.user_id) {
            Ok(id) => self.load_user(id.as_str()).await?,
            Err(_) => UserState::default(),
        };
        let ok = password::verify(q.password, state.password_hash.clone()).await;
        if !ok || !state.exists() {
            return Err(ReplyError::new(ErrorCode::InvalidCredentials, "the login or the password is wrong"));
        }
        if state.disabled {
            return Err(ReplyError::new(ErrorCode::AccountDisabled, "the account is disabled"));
        }
        Ok(user(&state))
    }

    pub async fn get_user(&self, q: pb::GetUser) -> Result<pb::User, ReplyError> {
        let user_id = UserId::parse(&q.user_id).map_err(invalid)?;
        let state = self.load_user(user_id.as_str()).await?;
        if !state.exists() {
            return Err(ReplyError::new(ErrorCode::NotFound, "no such user"));
        }
        Ok(user(&state))
    }

    pub async fn get_organisation(&self, q: pb::GetOrganisation) -> Result<pb::Organisation, ReplyError> {
        let org_id = values::parse_org_id("org_id", &q.org_id).map_err(invalid)?;
        let state = self.load_org(&org_id).await?;
        let Some(profile) = &state.profile else {
            return Err(ReplyError::new(ErrorCode::NotFound, "no such organisation"));
        };
        Ok(organisation(&org_id, profile, state.related.keys().cloned().collect()))
    }

    pub async fn list_organisations(&self, q: pb::ListOrganisations) -> Result<pb::OrganisationList, ReplyError> {
        self.caught_up().await?;
        let all: Vec<pb::Organisation> = {
            let directory = self.directory.read().await;
            if q.org_ids.is_empty() {
                directory.orgs.values().cloned().collect()
            } else {
                q.org_ids.iter().filter_map(|id| directory.orgs.get(id)).cloned().collect()
            }
        };
        let (organisations, total) = ttx_kernel::bus::page(all, q.page.as_ref())?;
        Ok(pb::OrganisationList { organisations, total })
    }

    pub async fn list_users(&self, q: pb::ListUsers) -> Result<pb::UserList, ReplyError> {
        self.caught_up().await?;
        let directory = self.directory.read().await;
        let users =
            directory.users.values().filter(|u| q.org_id.is_empty() || u.org_id == q.org_id).map(user).collect();
        let (users, total) = ttx_kernel::bus::page(users, q.page.as_ref())?;
        Ok(pb::UserList { users, total })
    }

    pub async fn get_calendar(&self, _: pb::GetCalendar) -> Result<pb::Calendar, ReplyError> {
        self.caught_up().await?;
        let calendar = self.directory.read().await.calendar.get();
        Ok(calendar::view(&calendar))
    }
}

/// The actor the service itself acts as when bootstrapping (the first administrator).
pub fn system_actor() -> Actor {
    Actor {
        user_id: "system".into(),
        org_id: String::new(),
        role: Role::Admin.into(),
        roles: vec![Role::Admin.into(), Role::System.into()],
    }
}

impl ttx_kernel::projection::ReadModel for Service {
    async fn apply(&self, event: &RecordedEvent) {
        if let Err(e) = self.directory.write().await.apply(event) {
            tracing::error!(position = event.position(), error = %e, "an identity event does not decode");
        }
    }
}

impl Service {
    /// Identity's requests, each with its handler.
    pub fn router(self: &Arc<Self>) -> Router<Self> {
        Router::new(subjects::QUEUE_GROUP, self.clone())
            .route(|s: Arc<Self>, r: pb::RegisterOrganisation| async move { s.register_organisation(r).await })
            .route(|s: Arc<Self>, r: pb::DeclareRelatedParty| async move { s.declare_related_party(r).await })
            .route(|s: Arc<Self>, r: pb::NameRepresentative| async move { s.name_representative(r).await })
            .route(|s: Arc<Self>, r: pb::WithdrawRelatedParty| async move { s.withdraw_related_party(r).await })
            .route(|s: Arc<Self>, r: pb::CreateUser| async move { s.create_user(r).await })
            .route(|s: Arc<Self>, r: pb::SetPassword| async move { s.set_password(r).await })
            .route(|s: Arc<Self>, r: pb::RegisterTechManager| async move { s.register_tech_manager(r).await })
            .route(|s: Arc<Self>, r: pb::LoadSchedule| async move { s.load_schedule(r).await })
            .route(|s: Arc<Self>, r: pb::Authenticate| async move { s.authenticate(r).await })
            .route(|s: Arc<Self>, r: pb::GetUser| async move { s.get_user(r).await })
            .route(|s: Arc<Self>, r: pb::GetOrganisation| async move { s.get_organisation(r).await })
            .route(|s: Arc<Self>, r: pb::ListOrganisations| async move { s.list_organisations(r).await })
            .route(|s: Arc<Self>, r: pb::ListUsers| async move { s.list_users(r).await })
            .route(|s: Arc<Self>, r: pb::GetCalendar| async move { s.get_calendar(r).await })
            .route(|s: Arc<Self>, r: pb::GrantRole| async move { s.grant_role(r).await })
            .route(|s: Arc<Self>, r: pb::RevokeRole| async move { s.revoke_role(r).await })
    }
}
