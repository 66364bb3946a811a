//! `ttx demo`: a small, realistic exchange to try every role at once: an operator, universities and an institute,
//! enterprises, a pilot base and a regulator, with users in each role. It goes through the identity service's own
//! commands (as the system), so the log holds exactly what the API would have written. Passwords are random and
//! printed once; running it again leaves what exists alone.

use std::sync::Arc;

use anyhow::Context;
use prost::Message as _;
use ttx_identity::values::CreditCode;
use ttx_kernel::{Clock, SystemClock};
use ttx_proto::common::v1::Role;
use ttx_proto::identity::v1::{self as pb, subjects};

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
    let identity = ttx_identity::Service::new(log, clock);
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
        match identity.command(subjects::REGISTER_ORGANISATION, command.encode_to_vec().into()).await {
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
    identity
        .command(subjects::DECLARE_RELATED_PARTY, related.encode_to_vec().into())
        .await
        .map_err(|e| anyhow::anyhow!("cannot declare a related party: {}", e.message))?;

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
        let shown = match identity.command(subjects::CREATE_USER, command.encode_to_vec().into()).await {
            Ok(reply) if pb::CommandAccepted::decode(reply.as_ref()).is_ok_and(|a| !a.duplicate) => password,
            Ok(_) => "(exists; unchanged)".to_owned(),
            Err(e) if e.code == "conflict" => "(exists; unchanged)".to_owned(),
            Err(e) => anyhow::bail!("cannot create {login}: {} ({})", e.message, e.code),
        };
        let roles: Vec<&str> = roles.iter().map(|r| ttx_gateway::api::role_name(*r)).collect();
        println!("{login:<12} {shown:<20} {:<26} {}", roles.join("+"), ORGS[*org].name);
    }
    if let Some(user) = USERS.iter().find(|u| u.3.contains(&Role::TechManager)) {
        let register = pb::RegisterTechManager {
            context: context(format!("demo-registry-{}", user.0)),
            user_id: user.0.into(),
            certificate_number: "JSJL-2025-0001".into(),
        };
        match identity.command(subjects::REGISTER_TECH_MANAGER, register.encode_to_vec().into()).await {
            Ok(_) => {}
            Err(e) if e.code == "conflict" => {}
            Err(e) => anyhow::bail!("cannot register the technology manager: {}", e.message),
        }
    }
    println!();
    println!(
        "Start the exchange with `ttx serve` (same --data-dir or --nats) and log in at http://{}/login",
        config.http.listen
    );
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
