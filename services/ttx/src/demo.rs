//! `ttx demo`: a small, realistic exchange to try every role at once: an operator, universities and an institute,
//! enterprises, a pilot base and a regulator, with users in each role. It goes through the identity service's own
//! commands (as the system), so the log holds exactly what the API would have written. Passwords are random and
//! printed once; running it again leaves what exists alone.

use std::sync::Arc;

use anyhow::Context;
use ttx_identity::values::CreditCode;
use ttx_kernel::rpc::{Router, Rpc};
use ttx_kernel::{Clock, SystemClock};
use ttx_proto::common::v1::Role;
use ttx_proto::identity::v1::{self as pb};

use crate::config::Config;

struct Org {
    code17: &'static str,
    kind: pb::OrgKind,
    name: &'static str,
    region: &'static str,
}

const ORGS: &[Org] = &[
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

/// (login, name, organisation index, roles)
const USERS: &[(&str, &str, usize, &[Role])] = &[
    ("admin", "系统管理员", 0, &[Role::Admin]),
    ("zhangwei", "张伟", 1, &[Role::TechManager]),
    ("liuyang", "刘洋", 1, &[Role::Reviewer]),
    ("chenjing", "陈静", 2, &[Role::TechManager]),
    ("wangqiang", "王强", 3, &[Role::TechManager, Role::Reviewer]),
    ("zhaomin", "赵敏", 4, &[Role::EnterpriseMember]),
    ("sunli", "孙丽", 5, &[Role::EnterpriseMember]),
    ("zhoujie", "周杰", 6, &[Role::EnterpriseMember]),
    ("wufang", "吴芳", 7, &[Role::Regulator]),
];

fn password() -> String {
    // 16 characters from an alphabet without look-alikes.
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 16];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes);
    bytes.iter().map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char).collect()
}

pub async fn demo(config: &Config) -> anyhow::Result<()> {
    let log = crate::serve::open_log(config).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let identity = Arc::new(ttx_identity::Service::new(log.clone(), clock.clone())).router();
    let actor = ttx_identity::service::system_actor();
    let context = |id: String| Some(pb::CommandContext { actor: Some(actor.clone()), command_id: id });
    let mut org_ids = Vec::new();
    for org in ORGS {
        let code = CreditCode::with_check_character(org.code17).map_err(|e| anyhow::anyhow!("demo data: {e}"))?;
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
            Err(e) => anyhow::bail!("cannot register {}: {} ({})", org.name, e.message, e.code),
        }
        org_ids.push(code.org_id());
    }
    // The second university's technology managers' institution has a company it founded: a declared related party.
    let related = pb::DeclareRelatedParty {
        context: context("demo-related-1".into()),
        org_id: org_ids[1].clone(),
        related_org_id: org_ids[4].clone(),
        relation: "校办企业（持股 30%）".into(),
    };
    identity.call(&related).await.map_err(|e| anyhow::anyhow!("cannot declare a related party: {}", e.message))?;

    println!(
        "TTX demo exchange in {}:",
        if config.nats.url.is_empty() { config.data_dir.display().to_string() } else { config.nats.url.clone() }
    );
    println!();
    println!("{:<12} {:<20} {:<26} organisation", "login", "password", "role");
    for (login, name, org, roles) in USERS {
        let password = password();
        let command = pb::CreateUser {
            context: context(format!("demo-user-{login}")),
            user_id: (*login).into(),
            org_id: org_ids[*org].clone(),
            display_name: (*name).into(),
            password: password.clone(),
            roles: roles.iter().map(|r| *r as i32).collect(),
        };
        let shown = match identity.call(&command).await {
            Ok(accepted) if !accepted.duplicate => password,
            Ok(_) => "(exists; unchanged)".to_owned(),
            Err(e) if e.code == "conflict" => "(exists; unchanged)".to_owned(),
            Err(e) => anyhow::bail!("cannot create {login}: {} ({})", e.message, e.code),
        };
        let roles: Vec<&str> = roles.iter().map(|r| ttx_gateway::api::identity::role_name(*r)).collect();
        println!("{login:<12} {shown:<20} {:<26} {}", roles.join("+"), ORGS[*org].name);
    }
    if let Some(user) = USERS.iter().find(|u| u.3.contains(&Role::TechManager)) {
        let register = pb::RegisterTechManager {
            context: context(format!("demo-registry-{}", user.0)),
            user_id: user.0.into(),
            certificate_number: "JSJL-2025-0001".into(),
        };
        match identity.call(&register).await {
            Ok(_) => {}
            Err(e) if e.code == "conflict" => {}
            Err(e) => anyhow::bail!("cannot register the technology manager: {}", e.message),
        }
    }
    seed_listings(log.clone(), clock.clone(), &org_ids).await?;
    seed_auction(log, clock, &org_ids).await?;
    println!();
    println!(
        "Start the exchange with `ttx serve` (same --data-dir or --nats) and log in at http://{}/login",
        config.http.listen
    );
    Ok(())
}

/// Published results (one under public notice), one awaiting review, a demand and a 揭榜挂帅 challenge.
async fn seed_listings(
    log: Arc<dyn ttx_kernel::EventLog>,
    clock: Arc<dyn Clock>,
    org_ids: &[String],
) -> anyhow::Result<()> {
    use ttx_proto::common::v1::Actor;
    use ttx_proto::listings::v1::{self as lpb};
    let now = clock.now();
    let listings = Arc::new(ttx_listings::Service::new(log, clock));
    // Commands that count periods wait for the service's view of the log (the calendar among it).
    let projection = tokio::spawn(listings.clone().project());
    let listings = listings.router();
    let who = |user: &str, org: usize, role: Role| Actor {
        user_id: user.into(),
        org_id: org_ids[org].clone(),
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
            Err(e) => Err(anyhow::anyhow!("demo listing: {} ({})", e.message, e.code)),
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
            holders: vec![lpb::Holder { org_id: org_ids[1].clone(), share_bp: 10_000 }],
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
    match listings.call(&notice).await {
        Ok(_) => {}
        Err(e) if e.code == "rejected" => {} // a notice from an earlier run
        // Its end would fall in a year whose holiday schedule is not loaded yet: the demo goes on without it.
        Err(e) if e.field == "days" => println!("demo: no notice started: {}", e.message),
        Err(e) => anyhow::bail!("demo notice: {}", e.message),
    }
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
    println!(
        "listings: 6 published results (one under public notice), 1 awaiting review, 1 demand, 1 challenge; \
         try the search page with 锂电池"
    );
    projection.abort();
    Ok(())
}

/// A bidding session on the demo's auction result, open for a week, that a newcomer can join: the enterprise
/// member registers on the auction page and an administrator confirms the deposit there.
async fn seed_auction(
    log: Arc<dyn ttx_kernel::EventLog>,
    clock: Arc<dyn Clock>,
    org_ids: &[String],
) -> anyhow::Result<()> {
    use ttx_proto::common::v1::Actor;
    use ttx_proto::negotiation::v1::{self as npb};
    let negotiation = Arc::new(ttx_negotiation::Service::new(log.clone(), clock.clone()));
    let projection = tokio::spawn(negotiation.clone().project());
    let negotiation = negotiation.router();
    let now = clock.now().unix_micros();
    let at = |minutes: i64| Some(ttx_kernel::Timestamp::from_unix_micros(now + minutes * 60_000_000).to_proto());
    let manager = Actor {
        user_id: "zhangwei".into(),
        org_id: org_ids[1].clone(),
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
    match outcome {
        Ok(_) => {
            println!("negotiation: an open bidding session on 固态锂电池硫化物电解质制备工艺 (/sessions/demo-auction)")
        }
        Err(e) if e.code == "conflict" => println!("negotiation: the bidding session exists (unchanged)"),
        Err(e) => anyhow::bail!("demo auction: {} ({})", e.message, e.code),
    }
    Ok(())
}

/// Checks the demo data's credit codes (they must pass the same check real ones do).
pub fn check_data() -> anyhow::Result<()> {
    for org in ORGS {
        CreditCode::with_check_character(org.code17).with_context(|| org.name.to_owned()).map(|_| ())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_demo_data_is_valid() {
        super::check_data().unwrap();
        assert!(super::USERS.iter().all(|u| u.2 < super::ORGS.len()));
        assert_ne!(super::password(), super::password());
    }
}
