//! The identity service on a real SQLite log, driven over the in-process bus exactly as over NATS.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use prost::Message as _;
use ttx_eventlog_sqlite::SqliteLog;
use ttx_identity::values::CreditCode;
use ttx_kernel::bus::{CallError, call_raw};
use ttx_kernel::{Bus, EventLog, InProcessBus, SystemClock};
use ttx_proto::common::v1::{Actor, Role};
use ttx_proto::identity::v1::{self as pb, subjects};

const WAIT: Duration = Duration::from_secs(20);
/// The published holiday schedules identity seeds at its first start.
const SEEDS: u64 = 2;

struct Identity {
    bus: Arc<dyn Bus>,
    log: Arc<SqliteLog>,
    _dir: tempfile::TempDir,
}

async fn start() -> Identity {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(SqliteLog::open(dir.path()).unwrap());
    let bus: Arc<dyn Bus> = Arc::new(InProcessBus::new());
    let deps = ttx_identity::Deps { log: log.clone(), bus: bus.clone(), clock: Arc::new(SystemClock) };
    tokio::spawn(ttx_identity::run(deps, std::future::pending()));
    let mut ready = false;
    for _ in 0..500 {
        let probe = pb::ListOrganisations { org_ids: vec![], page: None }.encode_to_vec();
        // Serving, and the published holiday schedules seeded (the log's first two events).
        if call_raw(bus.as_ref(), subjects::LIST_ORGANISATIONS, probe.into(), WAIT).await.is_ok()
            && log.head().await.unwrap() >= SEEDS
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(ready, "the identity service never answered, or never seeded the schedules");
    Identity { bus, log, _dir: dir }
}

fn admin() -> Actor {
    Actor { user_id: "root".into(), org_id: "ops".into(), role: Role::Admin.into(), roles: vec![Role::Admin.into()] }
}

fn ctx(actor: Actor, command_id: &str) -> Option<pb::CommandContext> {
    Some(pb::CommandContext { actor: Some(actor), command_id: command_id.into() })
}

fn code(first17: &str) -> String {
    CreditCode::with_check_character(first17).unwrap().to_string()
}

impl Identity {
    async fn send(&self, subject: &str, message: impl prost::Message) -> Result<Bytes, CallError> {
        call_raw(self.bus.as_ref(), subject, message.encode_to_vec().into(), WAIT).await
    }

    async fn register(
        &self,
        command_id: &str,
        credit: &str,
        kind: pb::OrgKind,
        name: &str,
    ) -> Result<Bytes, CallError> {
        let c = pb::RegisterOrganisation {
            context: ctx(admin(), command_id),
            kind: kind.into(),
            name: name.into(),
            credit_code: credit.into(),
            region: "上海市".into(),
        };
        self.send(subjects::REGISTER_ORGANISATION, c).await
    }

    async fn create_user(&self, command_id: &str, user: &str, org: &str, roles: &[Role]) -> Result<Bytes, CallError> {
        let c = pb::CreateUser {
            context: ctx(admin(), command_id),
            user_id: user.into(),
            org_id: org.into(),
            display_name: "李雷".into(),
            password: "correct horse battery".into(),
            roles: roles.iter().map(|r| *r as i32).collect(),
        };
        self.send(subjects::CREATE_USER, c).await
    }

    async fn login(&self, user: &str, password: &str) -> Result<pb::User, CallError> {
        let q = pb::Authenticate { user_id: user.into(), password: password.into() };
        self.send(subjects::AUTHENTICATE, q).await.map(|b| pb::User::decode(b).unwrap())
    }
}

fn remote(r: Result<impl std::fmt::Debug, CallError>) -> (String, String) {
    match r {
        Err(CallError::Remote { code, message, .. }) => (code, message),
        other => panic!("expected a typed error, got {other:?}"),
    }
}

#[tokio::test]
async fn an_organisation_and_its_user_are_created_and_the_user_logs_in() {
    let id = start().await;
    let uni = code("12100000400000624");
    let accepted =
        pb::CommandAccepted::decode(id.register("c1", &uni, pb::OrgKind::University, "示范大学").await.unwrap())
            .unwrap();
    assert_eq!(accepted, pb::CommandAccepted { version: 1, duplicate: false });
    let org_id = uni.to_ascii_lowercase();
    id.create_user("c2", "li-lei", &org_id, &[Role::TechManager]).await.unwrap();

    let user = id.login("li-lei", "correct horse battery").await.unwrap();
    assert_eq!(user.org_id, org_id);
    assert_eq!(user.roles, vec![Role::TechManager as i32]);
    assert_eq!(remote(id.login("li-lei", "wrong password!!").await).0, "invalid_credentials");
    assert_eq!(remote(id.login("nobody", "correct horse battery").await).0, "invalid_credentials");
    assert_eq!(remote(id.login("NOT A LOGIN", "x").await).0, "invalid_credentials");

    let users = pb::UserList::decode(
        id.send(subjects::LIST_USERS, pb::ListUsers { org_id: org_id.clone(), page: None }).await.unwrap(),
    );
    assert_eq!(users.unwrap().users.len(), 1, "a list right after a command already shows it");
    let orgs = pb::OrganisationList::decode(
        id.send(subjects::LIST_ORGANISATIONS, pb::ListOrganisations { org_ids: vec![], page: None }).await.unwrap(),
    );
    assert_eq!(orgs.unwrap().organisations[0].name, "示范大学");
    // Only the organisations asked for, when some are named (unknown ids are left out).
    let named = pb::ListOrganisations { org_ids: vec![org_id.clone(), "no-such-org".into()], page: None };
    let orgs = pb::OrganisationList::decode(id.send(subjects::LIST_ORGANISATIONS, named).await.unwrap()).unwrap();
    assert_eq!(orgs.organisations.iter().map(|o| o.org_id.as_str()).collect::<Vec<_>>(), [org_id.as_str()]);

    // Neither the password nor its hash leaves the service, and the log holds only the hash.
    let events = id.log.read_all(1, 100).await.unwrap();
    assert!(events.iter().all(|e| !e.bytes.windows(7).any(|w| w == b"correct")));
    assert!(events.iter().any(|e| e.event_type() == "ttx.identity.v1.PasswordSet"));
}

#[tokio::test]
async fn a_retried_command_answers_as_the_first_did_and_writes_nothing() {
    let id = start().await;
    let uni = code("12100000400000624");
    id.register("c1", &uni, pb::OrgKind::University, "示范大学").await.unwrap();
    let again =
        pb::CommandAccepted::decode(id.register("c1", &uni, pb::OrgKind::University, "示范大学").await.unwrap());
    assert_eq!(again.unwrap(), pb::CommandAccepted { version: 1, duplicate: true });
    let org = uni.to_ascii_lowercase();
    id.create_user("c2", "li-lei", &org, &[]).await.unwrap();
    let retry = pb::CommandAccepted::decode(id.create_user("c2", "li-lei", &org, &[]).await.unwrap()).unwrap();
    assert!(retry.duplicate);
    assert_eq!(remote(id.create_user("c3", "li-lei", &org, &[]).await).0, "conflict", "a login is taken once");
    assert_eq!(remote(id.register("c4", &uni, pb::OrgKind::University, "又一个").await).0, "conflict");
    assert_eq!(id.log.head().await.unwrap(), SEEDS + 3, "one organisation event, two user events");
}

#[tokio::test]
async fn invalid_input_names_the_field_and_writes_nothing() {
    let id = start().await;
    let uni = code("12100000400000624");
    let field = |r: Result<Bytes, CallError>| -> String {
        match r {
            Err(CallError::Remote { code, .. }) => code,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(field(id.register("c1", "12100000400000624X", pb::OrgKind::University, "x").await), "invalid_input");
    assert_eq!(field(id.register("c2", &uni, pb::OrgKind::Unspecified, "x").await), "invalid_input");
    assert_eq!(field(id.register("c3", &uni, pb::OrgKind::University, "  ").await), "invalid_input");
    id.register("c4", &uni, pb::OrgKind::University, "示范大学").await.unwrap();
    let org = uni.to_ascii_lowercase();
    assert_eq!(field(id.create_user("c5", "Li Lei", &org, &[]).await), "invalid_input");
    let short = pb::CreateUser {
        context: ctx(admin(), "c6"),
        user_id: "li-lei".into(),
        org_id: org.clone(),
        display_name: "李雷".into(),
        password: "short".into(),
        roles: vec![],
    };
    assert_eq!(field(id.send(subjects::CREATE_USER, short).await), "invalid_input");
    let no_context = pb::CreateUser { context: None, ..Default::default() };
    assert_eq!(field(id.send(subjects::CREATE_USER, no_context).await), "invalid_input");
    assert_eq!(
        field(call_raw(id.bus.as_ref(), subjects::CREATE_USER, Bytes::from_static(&[0xff]), WAIT).await),
        "bad_request"
    );
    assert_eq!(field(id.create_user("c7", "li-lei", &org, &[Role::EnterpriseMember]).await), "rejected");
    assert_eq!(
        field(id.create_user("c8", "li-lei", &code("91350100M000100Y4").to_ascii_lowercase(), &[]).await),
        "not_found"
    );
    assert_eq!(id.log.head().await.unwrap(), SEEDS + 1, "only the valid organisation was written");
}

#[tokio::test]
async fn the_field_of_invalid_input_travels_in_the_reply() {
    let id = start().await;
    let reply = id.bus.request(
        subjects::REGISTER_ORGANISATION,
        pb::RegisterOrganisation {
            context: ctx(admin(), "c1"),
            kind: pb::OrgKind::Enterprise.into(),
            name: "某公司".into(),
            credit_code: "123".into(),
            region: "北京市".into(),
        }
        .encode_to_vec()
        .into(),
        WAIT,
    );
    let reply = ttx_proto::common::v1::Reply::decode(reply.await.unwrap()).unwrap();
    let Some(ttx_proto::common::v1::reply::Result::Error(e)) = reply.result else { panic!("{reply:?}") };
    assert_eq!((e.code.as_str(), e.field.as_str()), ("invalid_input", "credit_code"));
}

#[tokio::test]
async fn only_administrators_create_and_members_declare_related_parties() {
    let id = start().await;
    let uni = code("12100000400000624");
    let firm = code("91350100M000100Y4");
    id.register("c1", &uni, pb::OrgKind::University, "示范大学").await.unwrap();
    id.register("c2", &firm, pb::OrgKind::Enterprise, "示范科技有限公司").await.unwrap();
    let member = Actor {
        user_id: "li-lei".into(),
        org_id: uni.to_ascii_lowercase(),
        role: Role::TechManager.into(),
        roles: vec![Role::TechManager.into()],
    };
    let declare = |actor: Actor, command_id: &str| pb::DeclareRelatedParty {
        context: ctx(actor, command_id),
        org_id: uni.to_ascii_lowercase(),
        related_org_id: firm.to_ascii_lowercase(),
        relation: "校办企业".into(),
    };
    id.send(subjects::DECLARE_RELATED_PARTY, declare(member.clone(), "c3")).await.unwrap();
    let org = pb::Organisation::decode(
        id.send(subjects::GET_ORGANISATION, pb::GetOrganisation { org_id: uni.clone() }).await.unwrap(),
    )
    .unwrap();
    assert_eq!(org.related_org_ids, vec![firm.to_ascii_lowercase()]);
    let outsider = Actor { org_id: firm.to_ascii_lowercase(), ..member.clone() };
    assert_eq!(remote(id.send(subjects::DECLARE_RELATED_PARTY, declare(outsider, "c4")).await).0, "forbidden");
    let create = pb::CreateUser {
        context: ctx(member, "c5"),
        user_id: "han-mei".into(),
        org_id: uni.to_ascii_lowercase(),
        display_name: "韩梅梅".into(),
        password: "correct horse battery".into(),
        roles: vec![],
    };
    assert_eq!(remote(id.send(subjects::CREATE_USER, create).await).0, "forbidden");
}

#[tokio::test]
async fn the_published_schedules_are_seeded_once_and_an_administrator_loads_the_next_year() {
    let id = start().await;
    let calendar = |b: Bytes| pb::Calendar::decode(b).unwrap();
    let get = || id.send(subjects::GET_CALENDAR, pb::GetCalendar {});
    let seeded = calendar(get().await.unwrap());
    assert_eq!(seeded.version, "calendar-2");
    assert_eq!(seeded.years.iter().map(|y| y.year).collect::<Vec<_>>(), vec![2025, 2026]);
    let load = |actor: Actor, command_id: &str, holidays: Vec<String>| pb::LoadSchedule {
        context: ctx(actor, command_id),
        year: 2027,
        holidays,
        make_up_workdays: vec![],
        source: "a notice for the test".into(),
    };
    let one_day = vec!["2027-01-01".to_string()];
    let manager = Actor {
        user_id: "tm".into(),
        org_id: "uni".into(),
        role: Role::TechManager.into(),
        roles: vec![Role::TechManager.into()],
    };
    assert_eq!(remote(id.send(subjects::LOAD_SCHEDULE, load(manager, "l0", one_day.clone())).await).0, "forbidden");
    let bad = load(admin(), "l1", vec!["2027-02-30".into()]);
    assert_eq!(remote(id.send(subjects::LOAD_SCHEDULE, bad).await).0, "invalid_input");
    id.send(subjects::LOAD_SCHEDULE, load(admin(), "l2", one_day.clone())).await.unwrap();
    let again =
        pb::CommandAccepted::decode(id.send(subjects::LOAD_SCHEDULE, load(admin(), "l3", one_day)).await.unwrap());
    assert_eq!(again.unwrap().version, 3, "the same schedule again writes nothing");
    let loaded = calendar(get().await.unwrap());
    assert_eq!(loaded.version, "calendar-3");
    assert_eq!(loaded.years.last().unwrap().holidays, vec!["2027-01-01".to_string()]);
    let events = ttx_kernel::log::read_stream_to_end(
        id.log.as_ref(),
        &ttx_kernel::StreamId::parse(ttx_identity::calendar::STREAM).unwrap(),
        1,
    )
    .await
    .unwrap();
    assert_eq!(events.len(), 3, "two seeds and one load");
    assert_eq!(events[2].rule_version(), ttx_identity::service::RULES);
}
