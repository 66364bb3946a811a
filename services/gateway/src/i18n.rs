//! The web UI's words in Chinese (the default) and English.

use axum::http::HeaderMap;

use crate::auth::cookie;

/// Cookie holding the chosen language.
pub const LANG_COOKIE: &str = "ttx_lang";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    pub fn from_headers(headers: &HeaderMap) -> Self {
        match cookie(headers, LANG_COOKIE).as_deref() {
            Some("en") => Self::En,
            _ => Self::Zh,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Self::Zh => "zh-CN",
            Self::En => "en",
        }
    }

    /// The text for `key`; an unknown key shows itself, so a missing entry is visible rather than blank.
    pub fn t(self, key: &'static str) -> &'static str {
        self.lookup(key).unwrap_or(key)
    }

    /// The text for `key`, if there is one.
    pub fn lookup(self, key: &str) -> Option<&'static str> {
        TEXTS.iter().find(|(k, _, _)| *k == key).map(|(_, zh, en)| if self == Self::Zh { *zh } else { *en })
    }
}

/// (key, Chinese, English)
const TEXTS: &[(&str, &str, &str)] = &[
    ("app", "TTX 技术交易所", "TTX Technology Exchange"),
    ("switch", "English", "中文"),
    ("nav", "主导航", "Main navigation"),
    ("home", "首页", "Home"),
    ("my_org", "我的组织", "My organisation"),
    ("my_registry", "我的登记", "My registration"),
    ("organisations", "组织管理", "Organisations"),
    ("all_organisations", "全部组织", "All organisations"),
    ("users", "用户管理", "Users"),
    ("all_users", "全部用户", "All users"),
    ("login", "登录", "Log in"),
    ("logout", "退出", "Log out"),
    ("user_id", "登录名", "Login"),
    ("password", "密码", "Password"),
    ("wrong_login", "登录名或密码错误。", "The login or the password is wrong."),
    ("too_many", "失败次数过多，请稍后再试。", "Too many failed attempts; try again later."),
    ("disabled", "该账户已停用。", "This account is disabled."),
    ("unavailable", "服务暂不可用，请稍后再试。", "The service is unavailable; try again later."),
    ("form_expired", "页面已过期，请重新提交。", "The page had expired; please submit it again."),
    ("welcome", "欢迎", "Welcome"),
    ("your_roles", "您的角色", "Your roles"),
    ("role.tech_manager", "技术经理人", "Technology manager"),
    ("role.enterprise_member", "企业用户", "Enterprise member"),
    ("role.reviewer", "审核人", "Reviewer"),
    ("role.regulator", "监管方", "Regulator"),
    ("role.admin", "管理员", "Administrator"),
    ("kind.university", "高校", "University"),
    ("kind.institute", "科研院所", "Research institute"),
    ("kind.enterprise", "企业", "Enterprise"),
    ("kind.regulator_agency", "监管机构", "Regulator agency"),
    ("kind.pilot_base", "中试基地", "Pilot base"),
    ("kind.service_institution", "服务机构", "Service institution"),
    ("name", "名称", "Name"),
    ("kind", "类型", "Kind"),
    ("credit_code", "统一社会信用代码", "Unified social credit code"),
    ("region", "地区", "Region"),
    ("members", "成员", "Members"),
    ("display_name", "姓名", "Name"),
    ("roles", "角色", "Roles"),
    ("organisation", "所属组织", "Organisation"),
    ("status", "状态", "Status"),
    ("active", "正常", "Active"),
    ("account_disabled", "已停用", "Disabled"),
    ("register_org", "登记组织", "Register an organisation"),
    ("create_user", "创建用户", "Create a user"),
    ("submit_register", "登记", "Register"),
    ("submit_create", "创建", "Create"),
    ("created_org", "组织已登记。", "The organisation is registered."),
    ("created_user", "用户已创建。", "The user is created."),
    ("form_errors", "请更正下列错误。", "Please correct the errors below."),
    ("certificate", "证书编号", "Certificate number"),
    ("registry_status", "登记状态", "Registration status"),
    ("not_registered", "尚未登记为技术经理人。", "Not registered as a technology manager yet."),
    ("registry.active", "有效", "Active"),
    ("registry.suspended", "暂停", "Suspended"),
    ("registry.revoked", "已撤销", "Revoked"),
    ("read_only", "只读：监管方可以查看全部，不能修改。", "Read only: regulators see everything and change nothing."),
    ("forbidden", "您的角色无权访问此页面。", "Your roles do not allow this page."),
    ("not_found", "页面不存在。", "There is no such page."),
    ("related", "关联方", "Related parties"),
    ("none", "无", "None"),
    (
        "invalid.credit_code",
        "统一社会信用代码无效：应为 18 位，且校验位正确。",
        "Invalid unified social credit code: 18 characters with a correct check character.",
    ),
    ("invalid.name", "请填写名称（不超过 200 字）。", "Give a name (at most 200 characters)."),
    ("invalid.region", "请填写地区（不超过 50 字）。", "Give a region (at most 50 characters)."),
    ("invalid.kind", "请选择类型。", "Choose a kind."),
    (
        "invalid.user_id",
        "登录名须为 3–32 位小写字母、数字、_ 或 -，以字母开头。",
        "A login is 3–32 of a-z, 0-9, _ and -, starting with a letter.",
    ),
    ("invalid.display_name", "请填写姓名（不超过 100 字）。", "Give a name (at most 100 characters)."),
    ("invalid.password", "密码须为 10–128 个字符。", "A password has 10 to 128 characters."),
    ("invalid.org_id", "请选择已登记的组织。", "Choose a registered organisation."),
    ("invalid.roles", "所选角色不适用于该组织类型。", "A chosen role does not fit this kind of organisation."),
    ("error.conflict", "已存在，未作更改。", "It exists already; nothing was changed."),
    ("error.rule", "不符合规则：", "Not allowed by the rules: "),
    ("error.not_found", "所选对象不存在。", "What was chosen does not exist."),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_unique_and_translated() {
        for (i, (key, zh, en)) in TEXTS.iter().enumerate() {
            assert!(!zh.is_empty() && !en.is_empty(), "{key}");
            assert!(TEXTS[i + 1..].iter().all(|(k, _, _)| k != key), "{key} twice");
        }
        assert_eq!(Lang::Zh.t("login"), "登录");
        assert_eq!(Lang::En.t("login"), "Log in");
        assert_eq!(Lang::En.t("no.such.key"), "no.such.key");
    }
}
