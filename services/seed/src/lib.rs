//! The sample exchange, shared by `ttx demo` and the tests: its organisations and people ([`ORGS`], [`USERS`]), and
//! what it holds: results, demands and a bidding session. Everything is seeded through the services' own commands (as
//! the system, or as the sample people), so the log holds exactly what the API would have written, and seeding again
//! leaves what exists alone.
//!
//! # Layout
//! - [`ORGS`], [`USERS`], [`org_id`], [`org_of`]: who is on the sample exchange.
//! - [`identity`]: registers the organisations and creates the people (passwords chosen by the caller: random for
//!   `ttx demo`, one known password in tests); [`identity_extras`]: the demo's declared related party and registered
//!   technology manager.
//! - [`listings`]: six published results (one under public notice), one awaiting review, a demand and a challenge.
//! - [`auction`]: a week-long bidding session on the auction-priced result that a newcomer can join.

use std::sync::Arc;

use anyhow::Context;
use ttx_identity::values::CreditCode;
use ttx_kernel::rpc::{Router, Rpc};
use ttx_kernel::{Clock, EventLog};
use ttx_proto::common::v1::{Actor, Role};
use ttx_proto::identity::v1::{self as pb};

/// An organisation of the sample exchange.
#[derive(Debug, Clone, Copy)]
pub struct Org {
    /// The first 17 characters of its unified social credit code (the check character is computed).
    pub code17: &'static str,
    pub kind: pb::OrgKind,
    pub name: &'static str,
    pub region: &'static str,
}

/// A person of the sample exchange: login, name, organisation (index into [`ORGS`]) and roles.
#[derive(Debug, Clone, Copy)]
pub struct User {
    pub login: &'static str,
    pub name: &'static str,
    pub org: usize,
    pub roles: &'static [Role],
}

pub const ORGS: &[Org] = &[
    Org {
        code17: "91310000MA1FL4KX3",
        kind: pb::OrgKind::ServiceInstitution,
        name: "浦江技术交易所",
        region: "上海市",
    },
    Org {
        code17: "12100000400000624", kind: pb::OrgKind::University, name: "华东理工示范大学", region: "上海市"
    },
    Org { code17: "12330000470003541", kind: pb::OrgKind::University, name: "江南工业大学", region: "浙江省" },
    Org {
        code17: "12100000400011029", kind: pb::OrgKind::Institute, name: "先进材料研究院", region: "江苏省"
    },
    Org {
        code17: "91350100M000100Y4",
        kind: pb::OrgKind::Enterprise,
        name: "闽江新能源科技有限公司",
        region: "福建省",
    },
    Org {
        code17: "91110000600037341",
        kind: pb::OrgKind::Enterprise,
        name: "京华智能装备股份有限公司",
        region: "北京市",
    },
    Org {
        code17: "91320500MA1MX6QR0", kind: pb::OrgKind::PilotBase, name: "苏州中试服务基地", region: "江苏省"
    },
    Org {
        code17: "11310000002420045", kind: pb::OrgKind::RegulatorAgency, name: "市科学技术委员会", region: "上海市"
    },
];

pub const USERS: &[User] = &[
    User { login: "admin", name: "系统管理员", org: 0, roles: &[Role::Admin] },
    User { login: "zhangwei", name: "张伟", org: 1, roles: &[Role::TechManager] },
    User { login: "liuyang", name: "刘洋", org: 1, roles: &[Role::Reviewer] },
    User { login: "chenjing", name: "陈静", org: 2, roles: &[Role::TechManager] },
    User { login: "wangqiang", name: "王强", org: 3, roles: &[Role::TechManager, Role::Reviewer] },
    User { login: "zhaomin", name: "赵敏", org: 4, roles: &[Role::EnterpriseMember] },
    User { login: "sunli", name: "孙丽", org: 5, roles: &[Role::EnterpriseMember] },
    User { login: "zhoujie", name: "周杰", org: 6, roles: &[Role::EnterpriseMember] },
    User { login: "wufang", name: "吴芳", org: 7, roles: &[Role::Regulator] },
];

/// The id of organisation `index` of [`ORGS`] (its credit code, lower case).
pub fn org_id(index: usize) -> String {
    ORGS.get(index)
        .and_then(|o| CreditCode::with_check_character(o.code17).ok())
        .map(|c| c.org_id())
        .unwrap_or_default()
}

/// The person with this login, if the sample exchange has one.
pub fn user(login: &str) -> Option<&'static User> {
    USERS.iter().find(|u| u.login == login)
}

/// The id of the organisation `login` belongs to (empty for a login the sample exchange does not have).
pub fn org_of(login: &str) -> String {
    user(login).map_or_else(String::new, |u| org_id(u.org))
}

/// Checks the sample data: every credit code passes the check real ones must, every person's organisation exists.
pub fn check() -> anyhow::Result<()> {
    for org in ORGS {
        CreditCode::with_check_character(org.code17).with_context(|| org.name.to_owned()).map(|_| ())?;
    }
    anyhow::ensure!(USERS.iter().all(|u| u.org < ORGS.len()), "a person of no sample organisation");
    Ok(())
}

/// Registers [`ORGS`] and creates [`USERS`] with the passwords `password` chooses, through the identity service's
/// own commands, as the system. For each person: the password set now, or `None` if the person existed (unchanged).
pub async fn identity(
    log: Arc<dyn EventLog>,
    clock: Arc<dyn Clock>,
    password: impl Fn(&User) -> String,
) -> anyhow::Result<Vec<(&'static User, Option<String>)>> {
    let identity = Arc::new(ttx_identity::Service::new(log, clock)).router();
    let actor = ttx_identity::service::system_actor();
    let context = |id: String| Some(pb::CommandContext { actor: Some(actor.clone()), command_id: id });
    for (i, org) in ORGS.iter().enumerate() {
        let code = CreditCode::with_check_character(org.code17).map_err(|e| anyhow::anyhow!("sample data: {e}"))?;
        let command = pb::RegisterOrganisation {
            context: context(format!("demo-org-{}", code.org_id())),
            kind: org.kind.into(),
            name: org.name.into(),
            credit_code: code.to_string(),
            region: org.region.into(),
        };
        match identity.call(&command).await {
            Ok(_) => {}
            Err(e) if e.code == "conflict" => {}
            Err(e) => anyhow::bail!("cannot register {} ({i}): {} ({})", org.name, e.message, e.code),
        }
    }
    let mut created = Vec::new();
    for user in USERS {
        let chosen = password(user);
        let command = pb::CreateUser {
            context: context(format!("demo-user-{}", user.login)),
            user_id: user.login.into(),
            org_id: org_id(user.org),
            display_name: user.name.into(),
            password: chosen.clone(),
            roles: user.roles.iter().map(|r| *r as i32).collect(),
        };
        let set = match identity.call(&command).await {
            Ok(accepted) if !accepted.duplicate => Some(chosen),
            Ok(_) => None,
            Err(e) if e.code == "conflict" => None,
            Err(e) => anyhow::bail!("cannot create {}: {} ({})", user.login, e.message, e.code),
        };
        created.push((user, set));
    }
    Ok(created)
}

/// What the demo adds to [`identity`]: the first university declares the enterprise it founded (`zhaomin`'s) as a
/// related party, and its technology manager is entered in the register of technology managers.
pub async fn identity_extras(log: Arc<dyn EventLog>, clock: Arc<dyn Clock>) -> anyhow::Result<()> {
    let identity = Arc::new(ttx_identity::Service::new(log, clock)).router();
    let actor = ttx_identity::service::system_actor();
    let context = |id: &str| Some(pb::CommandContext { actor: Some(actor.clone()), command_id: id.into() });
    let related = pb::DeclareRelatedParty {
        context: context("demo-related-1"),
        org_id: org_id(1),
        related_org_id: org_id(4),
        relation: "校办企业（持股 30%）".into(),
    };
    identity.call(&related).await.map_err(|e| anyhow::anyhow!("cannot declare a related party: {}", e.message))?;
    let register = pb::RegisterTechManager {
        context: context("demo-registry-zhangwei"),
        user_id: "zhangwei".into(),
        certificate_number: "JSJL-2025-0001".into(),
    };
    match identity.call(&register).await {
        Ok(_) => Ok(()),
        Err(e) if e.code == "conflict" => Ok(()),
        Err(e) => anyhow::bail!("cannot register the technology manager: {}", e.message),
    }
}

/// What [`listings`] seeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listings {
    /// Why the public notice on `demo-r1` was not started, if it was not (its end would fall in a year whose
    /// working-day schedule is not loaded).
    pub notice_not_started: Option<String>,
}

/// Six published results of the first university (`demo-r1` … `demo-r7`, `demo-r3` awaiting review), a public notice
/// on `demo-r1`, a demand (`demo-d2`) and a 揭榜挂帅 challenge (`demo-d1`), through the listings service's own
/// commands as the sample people.
pub async fn listings(log: Arc<dyn EventLog>, clock: Arc<dyn Clock>) -> anyhow::Result<Listings> {
    use ttx_proto::listings::v1::{self as lpb};
    let now = clock.now();
    let listings = Arc::new(ttx_listings::Service::new(log, clock));
    // Commands that count periods wait for the service's view of the log (the calendar among it).
    let projection = tokio::spawn(listings.clone().project());
    let listings = listings.router();
    let who = |user: &str, org: usize, role: Role| Actor {
        user_id: user.into(),
        org_id: org_id(org),
        role: role.into(),
        roles: vec![role.into()],
    };
    let manager = who("zhangwei", 1, Role::TechManager);
    let reviewer = who("liuyang", 1, Role::Reviewer);
    let ctx = |actor: &Actor, id: String| Some(lpb::CommandContext { actor: Some(actor.clone()), command_id: id });
    async fn send<R: Rpc>(listings: &Router<ttx_listings::Service>, command: R) -> anyhow::Result<()> {
        match listings.call(&command).await {
            Ok(_) => Ok(()),
            Err(e) if e.code == "conflict" => Ok(()),
            Err(e) => Err(anyhow::anyhow!("sample listing: {} ({})", e.message, e.code)),
        }
    }
    // (id, title, summary, field, form, asking price, route, TRL, published)
    type DemoResult = (
        &'static str,
        &'static str,
        &'static str,
        lpb::TechField,
        lpb::ResultForm,
        Option<i64>,
        lpb::PricingRoute,
        u32,
        bool,
    );
    let results: [DemoResult; 7] = [
        (
            "demo-r1",
            "高能量密度锂离子电池正极材料",
            "一种高镍三元正极材料及其制备方法：掺杂包覆协同改性，比容量 ≥ 210 mAh/g，循环 1000 次容量保持率 ≥ 90%。",
            lpb::TechField::NewEnergy,
            lpb::ResultForm::Material,
            Some(500_000_000),
            lpb::PricingRoute::Negotiated,
            6,
            true,
        ),
        (
            "demo-r2",
            "工业机器人视觉定位与抓取系统",
            "基于深度学习的三维视觉定位，定位精度 ±0.1 mm，适用于汽车零部件与 3C 装配。",
            lpb::TechField::AdvancedManufacturing,
            lpb::ResultForm::Software,
            Some(120_000_000),
            lpb::PricingRoute::Listed,
            7,
            true,
        ),
        (
            "demo-r3",
            "可降解医用高分子缝合材料",
            "聚乳酸基共聚材料，体内 60 天可控降解，已完成动物实验。",
            lpb::TechField::NewMaterials,
            lpb::ResultForm::Material,
            None,
            lpb::PricingRoute::Auction,
            4,
            false,
        ),
        (
            "demo-r4",
            "钠离子电池层状氧化物正极材料",
            "铜铁锰基层状氧化物正极，原料成本较磷酸铁锂低 30%，-20℃ 容量保持率 ≥ 88%，适用于储能与低速车。",
            lpb::TechField::NewEnergy,
            lpb::ResultForm::Material,
            Some(80_000_000),
            lpb::PricingRoute::Negotiated,
            5,
            true,
        ),
        (
            "demo-r5",
            "固态锂电池硫化物电解质制备工艺",
            "硫化物固态电解质室温离子电导率 ≥ 10 mS/cm，干法成膜，可与高镍正极匹配，提升电池安全性。",
            lpb::TechField::NewEnergy,
            lpb::ResultForm::Process,
            None,
            lpb::PricingRoute::Auction,
            4,
            true,
        ),
        (
            "demo-r6",
            "耐盐碱水稻分子育种技术",
            "利用基因编辑与分子标记辅助选择培育耐盐碱水稻，盐碱地亩产提高 15% 以上。",
            lpb::TechField::Biomedicine,
            lpb::ResultForm::Variety,
            Some(200_000_000),
            lpb::PricingRoute::Listed,
            7,
            true,
        ),
        (
            "demo-r7",
            "工业污水高效膜处理工艺",
            "抗污染复合膜与两级膜工艺，COD 去除率 ≥ 95%，吨水处理成本降低 25%，已在化工园区示范运行。",
            lpb::TechField::ResourcesEnvironment,
            lpb::ResultForm::Process,
            Some(150_000_000),
            lpb::PricingRoute::Negotiated,
            8,
            true,
        ),
    ];
    for (id, title, summary, field, form, price, route, trl, publish) in results {
        let listing = lpb::Listing {
            title: title.into(),
            summary: summary.into(),
            field: field.into(),
            industry: String::new(),
            keywords: vec![],
            innovations: vec![],
            indicators: String::new(),
            trl: Some(lpb::TrlAssessment {
                level: trl,
                assessor: "上海科技评估中心".into(),
                assessed_on: "2026-06-30".into(),
                evidence: "第三方评价报告".into(),
            }),
            form: form.into(),
            ip_rights: vec![lpb::IpRight {
                kind: lpb::IpKind::InventionPatent.into(),
                number: format!("ZL2024{}", &id[id.len() - 1..]),
                legal_status: "授权".into(),
                licences_granted: 0,
                exclusive_licence_granted: false,
            }],
            holders: vec![lpb::Holder { org_id: org_id(1), share_bp: 10_000 }],
            inventors: vec!["王建国".into(), "李晓明".into()],
            secrecy: lpb::Secrecy::Public.into(),
            modes: vec![lpb::TransactionMode::Assignment.into(), lpb::TransactionMode::ExclusiveLicence.into()],
            asking_price_fen: price,
            route: route.into(),
            visibility: lpb::Visibility::Public.into(),
        };

        let create = lpb::CreateResult {
            context: ctx(&manager, format!("demo-{id}-create")),
            result_id: id.into(),
            listing: Some(listing),
        };
        let context = |actor: &Actor, step: &str| ctx(actor, format!("demo-{id}-{step}"));
        send(&listings, create).await?;
        send(&listings, lpb::SubmitResult { context: context(&manager, "submit"), result_id: id.into() }).await?;
        if publish {
            send(&listings, lpb::ApproveResult { context: context(&reviewer, "approve"), result_id: id.into() })
                .await?;
            send(&listings, lpb::PublishResult { context: context(&manager, "publish"), result_id: id.into() }).await?;
        }
    }
    let notice = lpb::StartNotice {
        context: ctx(&manager, "demo-demo-r1-notice".into()),
        result_id: "demo-r1".into(),
        price_fen: 480_000_000,
        days: 15,
    };
    let notice = match listings.call(&notice).await {
        Ok(_) => Ok(()),
        Err(e) if e.code == "rejected" => Ok(()), // a notice from an earlier run
        // Its end would fall in a year whose holiday schedule is not loaded yet: the exchange goes on without it.
        Err(e) if e.field == "days" => Err(e.message),
        Err(e) => anyhow::bail!("sample notice: {}", e.message),
    };
    let day = 86_400_000_000;
    let at = |days: i64| Some(ttx_kernel::Timestamp::from_unix_micros(now.unix_micros() + days * day).to_proto());
    let demands = [
        (
            "demo-d1",
            who("zhaomin", 4, Role::EnterpriseMember),
            "动力电池低温性能提升",
            "冬季 -20℃ 续航下降 30% 以上，需要电解液或正极改性方案。",
            Some(vec!["-20℃ 容量保持率".to_owned(), "循环寿命".to_owned()]),
        ),
        (
            "demo-d2",
            who("sunli", 5, Role::EnterpriseMember),
            "数控机床主轴故障预测",
            "希望基于振动与温度数据提前 72 小时预警主轴故障。",
            None,
        ),
    ];
    for (id, poster, title, problem, indicators) in demands {
        let post = lpb::PostDemand {
            context: ctx(&poster, format!("demo-{id}-post")),
            demand_id: id.into(),
            demand: Some(lpb::Demand {
                title: title.into(),
                field: if id == "demo-d1" {
                    lpb::TechField::NewEnergy.into()
                } else {
                    lpb::TechField::AdvancedManufacturing.into()
                },
                indicators: String::new(),
                problem: problem.into(),
                existing_conditions: "已有中试线".into(),
                budget_fen: 300_000_000,
                cooperation_mode: "合作开发".into(),
                wanted_trl: 6,
                valid_until: at(120),
            }),
            challenge: indicators.map(|indicators| lpb::ChallengeTerms { indicators, deadline: at(60) }),
        };
        send(&listings, post).await?;
    }
    projection.abort();
    let _ = projection.await;
    Ok(Listings { notice_not_started: notice.err() })
}

/// Whether [`auction`] opened the session now or found it open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auction {
    Opened,
    Existed,
}

/// A bidding session `demo-auction` on `demo-r5`, open for a week, that a newcomer can join: an enterprise member
/// registers on the auction page and an administrator confirms the deposit there.
pub async fn auction(log: Arc<dyn EventLog>, clock: Arc<dyn Clock>) -> anyhow::Result<Auction> {
    use ttx_proto::negotiation::v1::{self as npb};
    let negotiation = Arc::new(ttx_negotiation::Service::new(log, clock.clone()));
    let projection = tokio::spawn(negotiation.clone().project());
    let negotiation = negotiation.router();
    let now = clock.now().unix_micros();
    let at = |minutes: i64| Some(ttx_kernel::Timestamp::from_unix_micros(now + minutes * 60_000_000).to_proto());
    let manager = Actor {
        user_id: "zhangwei".into(),
        org_id: org_id(1),
        role: Role::TechManager.into(),
        roles: vec![Role::TechManager.into()],
    };
    let open = npb::OpenSession {
        context: Some(npb::CommandContext { actor: Some(manager), command_id: "demo-session-open".into() }),
        session_id: "demo-auction".into(),
        result_id: "demo-r5".into(),
        rules: Some(npb::SessionRules {
            start_price_fen: 50_000_000,
            increment_fen: 500_000,
            deposit_fen: 5_000_000,
            registration_closes: at(7 * 24 * 60 - 60),
            bidding_opens: at(0),
            bidding_closes: at(7 * 24 * 60),
            anti_sniping: "extension".into(),
            window_seconds: 300,
            reserve_fen: None,
            sealed: false,
            one_shot: false,
            reveal_closes: None,
            version: String::new(),
        }),
        terms: Some(ttx_negotiation::terms::single_payment(
            ttx_proto::listings::v1::TransactionMode::Assignment.into(),
            0,
            10,
        )),
    };
    let outcome = negotiation.call(&open).await;
    projection.abort();
    let _ = projection.await;
    match outcome {
        Ok(_) => Ok(Auction::Opened),
        Err(e) if e.code == "conflict" => Ok(Auction::Existed),
        Err(e) => anyhow::bail!("sample auction: {} ({})", e.message, e.code),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_data_is_valid_and_people_are_found_by_login() {
        check().unwrap();
        assert_eq!(org_of("zhaomin"), org_id(4));
        assert_eq!(org_of("nobody"), "");
        assert!(user("admin").is_some_and(|u| u.roles == [Role::Admin]));
    }
}
