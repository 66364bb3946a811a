//! Validated values of the identity context. Each is parsed once, at the edge; past that it is known good.

use std::fmt;

/// Why a value was refused: the field it was for and what is wrong, for a 422 that names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct Invalid {
    pub field: &'static str,
    pub reason: String,
}

impl Invalid {
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self { field, reason: reason.into() }
    }
}

fn bounded_text(field: &'static str, s: &str, max_chars: usize) -> Result<String, Invalid> {
    let t = s.trim();
    if t.is_empty() {
        return Err(Invalid::new(field, "must not be empty"));
    }
    if t.chars().count() > max_chars {
        return Err(Invalid::new(field, format!("must be at most {max_chars} characters")));
    }
    if t.chars().any(char::is_control) {
        return Err(Invalid::new(field, "must not contain control characters"));
    }
    Ok(t.to_owned())
}

/// The 31 characters of a unified social credit code (GB 32100-2015): digits and capitals without I, O, S, V, Z.
const USCC_CHARS: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// A unified social credit code (统一社会信用代码): 18 characters whose last is a check character over the others.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CreditCode(String);

impl CreditCode {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        const FIELD: &str = "credit_code";
        let code = s.trim().to_ascii_uppercase();
        if code.len() != 18 || !code.is_ascii() {
            return Err(Invalid::new(FIELD, "must be 18 characters"));
        }
        let mut values = [0u32; 18];
        for (i, c) in code.bytes().enumerate() {
            let Some(v) = USCC_CHARS.iter().position(|&x| x == c) else {
                return Err(Invalid::new(FIELD, format!("character {} ({}) is not allowed", i + 1, c as char)));
            };
            values[i] = v as u32;
        }
        if !code[2..8].bytes().all(|b| b.is_ascii_digit()) {
            return Err(Invalid::new(FIELD, "characters 3 to 8 must be the administrative division code (digits)"));
        }
        if check_character(&values[..17]) != values[17] {
            return Err(Invalid::new(FIELD, "the check character does not match"));
        }
        Ok(Self(code))
    }

    /// Completes 17 valid characters with their check character (for demo data and tests).
    pub fn with_check_character(first17: &str) -> Result<Self, Invalid> {
        let mut values = Vec::with_capacity(17);
        for c in first17.bytes() {
            let v =
                USCC_CHARS.iter().position(|&x| x == c).ok_or_else(|| Invalid::new("credit_code", "bad character"))?;
            values.push(v as u32);
        }
        if values.len() != 17 {
            return Err(Invalid::new("credit_code", "need 17 characters"));
        }
        let check = USCC_CHARS[check_character(&values) as usize] as char;
        Self::parse(&format!("{first17}{check}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The organisation's id: the code in lower case (stream ids are case-sensitive; one spelling per code).
    pub fn org_id(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

fn check_character(values: &[u32]) -> u32 {
    // Weights are 3^(i) mod 31.
    let mut weight = 1u32;
    let mut sum = 0u32;
    for v in values {
        sum += v * weight;
        weight = weight * 3 % 31;
    }
    (31 - sum % 31) % 31
}

impl fmt::Display for CreditCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A login name, which is also the user's id: 3–32 of `a-z 0-9 _ -`, starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UserId(String);

impl UserId {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        const FIELD: &str = "user_id";
        let s = s.trim();
        if !(3..=32).contains(&s.len()) {
            return Err(Invalid::new(FIELD, "must be 3 to 32 characters"));
        }
        if !s.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err(Invalid::new(FIELD, "must start with a lower-case letter"));
        }
        if !s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-') {
            return Err(Invalid::new(FIELD, "may contain only a-z, 0-9, _ and -"));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An organisation id as stored (a lower-cased credit code).
pub fn parse_org_id(field: &'static str, s: &str) -> Result<String, Invalid> {
    CreditCode::parse(s).map(|c| c.org_id()).map_err(|e| Invalid::new(field, e.reason))
}

/// An organisation's registered name, 1–200 characters.
pub fn org_name(s: &str) -> Result<String, Invalid> {
    bounded_text("name", s, 200)
}

/// A person's name as shown, 1–100 characters.
pub fn display_name(s: &str) -> Result<String, Invalid> {
    bounded_text("display_name", s, 100)
}

/// An administrative region, 1–50 characters.
pub fn region(s: &str) -> Result<String, Invalid> {
    bounded_text("region", s, 50)
}

/// A related-party relation, 1–200 characters.
pub fn relation(s: &str) -> Result<String, Invalid> {
    bounded_text("relation", s, 200)
}

/// A technology-manager certificate number: 4–64 of `A-Z a-z 0-9 -`.
pub fn certificate_number(s: &str) -> Result<String, Invalid> {
    const FIELD: &str = "certificate_number";
    let s = s.trim();
    if !(4..=64).contains(&s.len()) || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(Invalid::new(FIELD, "must be 4 to 64 letters, digits or dashes"));
    }
    Ok(s.to_owned())
}

/// A password as typed: 10–128 characters. Never stored: only its argon2id hash is.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let n = s.chars().count();
        if n < 10 {
            return Err(Invalid::new("password", "must be at least 10 characters"));
        }
        if n > 128 {
            return Err(Invalid::new("password", "must be at most 128 characters"));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_credit_codes_pass_their_check() {
        for code in ["91350100M000100Y43", "91110000600037341L", "12100000400000624D", "91350100m000100y43"] {
            let c = CreditCode::parse(code).unwrap_or_else(|e| panic!("{code}: {e}"));
            assert_eq!(c.as_str(), code.to_ascii_uppercase());
        }
    }

    #[test]
    fn a_wrong_check_character_length_or_letter_is_refused() {
        let reason = |s: &str| CreditCode::parse(s).unwrap_err().reason;
        assert!(reason("91350100M000100Y44").contains("check character"));
        assert!(reason("91350100M000100Y4").contains("18 characters"));
        assert!(reason("91350100M0001O0Y43").contains("not allowed"), "O is not in the alphabet");
        assert!(reason("9135A100M000100Y43").contains("division"));
        assert_eq!(CreditCode::parse("").unwrap_err().field, "credit_code");
    }

    #[test]
    fn a_check_character_can_be_computed() {
        let c = CreditCode::with_check_character("91350100M000100Y4").unwrap();
        assert_eq!(c.as_str(), "91350100M000100Y43");
        assert_eq!(c.org_id(), "91350100m000100y43");
    }

    #[test]
    fn logins_are_short_lower_case_names() {
        assert!(UserId::parse("zhang_wei-2").is_ok());
        for bad in ["ab", "Zhang", "1abc", "zhang wei", "张伟", &"a".repeat(33)] {
            assert_eq!(UserId::parse(bad).unwrap_err().field, "user_id", "{bad}");
        }
    }

    #[test]
    fn texts_are_trimmed_and_bounded() {
        assert_eq!(org_name("  清华大学 ").unwrap(), "清华大学");
        assert!(org_name("   ").is_err());
        assert!(org_name(&"校".repeat(201)).is_err());
        assert!(display_name("a\u{0}b").is_err());
        assert!(certificate_number("JS-2025-0001").is_ok());
        assert!(certificate_number("no spaces").is_err());
    }

    #[test]
    fn passwords_are_long_enough_and_never_printed() {
        assert!(Password::parse("short").is_err());
        let p = Password::parse("correct horse battery").unwrap();
        assert_eq!(format!("{p:?}"), "Password(…)");
    }
}
