//! Password hashing with argon2id (PHC strings), off the async threads: one hash costs tens of milliseconds by design.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use ring::rand::{SecureRandom, SystemRandom};

use crate::values::Password;

/// A PHC string hashing a throwaway password, verified against when a login names no known user, so that an unknown
/// login costs as much time as a wrong password and timing does not tell which logins exist.
const DECOY: &str = "$argon2id$v=19$m=19456,t=2,p=1$ZGVjb3lzYWx0ZGVjb3k$n3Hk0v8c2Xq3m2N3JQ3Xz8lq0wPq9yS0cQ1p1aX3p0w";

/// Hashes a password with a fresh random salt and argon2id's recommended parameters.
pub async fn hash(password: Password) -> Result<String, String> {
    tokio::task::spawn_blocking(move || {
        let mut bytes = [0u8; 16];
        SystemRandom::new().fill(&mut bytes).map_err(|_| "the system random source failed".to_owned())?;
        let salt = SaltString::encode_b64(&bytes).map_err(|e| e.to_string())?;
        Argon2::default()
            .hash_password(password.expose().as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())?
}

/// Whether `password` matches `phc`; with no hash (unknown user) it spends the same time and answers false.
pub async fn verify(password: String, phc: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let known = phc.is_some();
        let phc = phc.unwrap_or_else(|| DECOY.to_owned());
        let Ok(parsed) = PasswordHash::new(&phc) else { return false };
        Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok() && known
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let phc = hash(Password::parse("correct horse battery").unwrap()).await.unwrap();
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(verify("correct horse battery".into(), Some(phc.clone())).await);
        assert!(!verify("correct horse batterY".into(), Some(phc.clone())).await);
        let again = hash(Password::parse("correct horse battery").unwrap()).await.unwrap();
        assert_ne!(phc, again, "every hash has its own salt");
    }

    #[tokio::test]
    async fn an_unknown_user_never_verifies() {
        assert!(PasswordHash::new(DECOY).is_ok(), "the decoy is a valid PHC string");
        assert!(!verify("anything at all".into(), None).await);
    }
}
