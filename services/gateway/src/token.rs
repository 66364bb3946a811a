//! Signed, expiring access tokens: compact JWTs signed with Ed25519 (`alg` `EdDSA`, RFC 8037).
//!
//! Keys live in a directory as PKCS#8 files named `<kid>.pk8`; the newest (largest kid, which starts with its creation
//! time) signs, all verify, so a rotated key keeps accepting the tokens it signed until they expire. A directory
//! without keys gets one on first start. Verification accepts exactly `EdDSA` with a known `kid`, a valid signature,
//! and an unexpired token; anything else is one error, and the reason is only logged.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::rand::SystemRandom;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use serde::{Deserialize, Serialize};

/// What a token says about its bearer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id (login).
    pub sub: String,
    /// The user's organisation id.
    pub org: String,
    /// The user's roles, as `ttx.common.v1.Role` numbers.
    pub roles: Vec<i32>,
    /// Issued at and expires at, seconds since the Unix epoch.
    pub iat: i64,
    pub exp: i64,
    /// Token id.
    pub jti: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    typ: String,
    kid: String,
}

/// Why a token was not accepted (for logs; clients only learn that it was not).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is not three base64url parts")]
    Malformed,
    #[error("the token's algorithm is {0:?}, not EdDSA")]
    Algorithm(String),
    #[error("no key {0:?}")]
    UnknownKey(String),
    #[error("the signature does not verify")]
    Signature,
    #[error("the token expired")]
    Expired,
}

/// Why the key directory could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key directory {dir}: {source}")]
    Io { dir: PathBuf, source: std::io::Error },
    #[error("key file {0} is not an Ed25519 PKCS#8 key")]
    BadKey(PathBuf),
    #[error("the system random source failed")]
    Random,
}

/// The signing key and every key that still verifies.
pub struct KeyRing {
    signing_kid: String,
    signing: Ed25519KeyPair,
    public: BTreeMap<String, Vec<u8>>,
    /// Tokens whose signature was checked, with their claims: a token is checked once, not on every request. The
    /// ring's keys do not change while it is loaded, so a signature that was good stays good; expiry is checked on
    /// every use.
    verified: std::sync::Mutex<std::collections::HashMap<String, Claims>>,
}

/// Most verified tokens a ring remembers; past this it starts over.
const VERIFIED_TOKENS: usize = 16_384;

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing").field("signing_kid", &self.signing_kid).field("keys", &self.public.len()).finish()
    }
}

fn new_kid(now_unix: i64) -> Result<String, KeyError> {
    let mut suffix = [0u8; 4];
    ring::rand::SecureRandom::fill(&SystemRandom::new(), &mut suffix).map_err(|_| KeyError::Random)?;
    Ok(format!("{now_unix:012}-{}", hex_lower(&suffix)))
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes a new key into `dir` (created if missing, private to the owner) and returns its kid.
pub fn generate_key(dir: &Path, now_unix: i64) -> Result<String, KeyError> {
    let io = |source| KeyError::Io { dir: dir.to_owned(), source };
    std::fs::create_dir_all(dir).map_err(io)?;
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|_| KeyError::Random)?;
    let kid = new_kid(now_unix)?;
    let path = dir.join(format!("{kid}.pk8"));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path).map_err(io)?;
    std::io::Write::write_all(&mut file, pkcs8.as_ref()).map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(kid)
}

impl KeyRing {
    /// Loads every `<kid>.pk8` in `dir`, generating a first key when there is none.
    pub fn load_or_create(dir: &Path, now_unix: i64) -> Result<Self, KeyError> {
        let io = |source| KeyError::Io { dir: dir.to_owned(), source };
        if !dir.exists() || Self::key_files(dir).map_err(io)?.is_empty() {
            generate_key(dir, now_unix)?;
        }
        let mut pairs = BTreeMap::new();
        for (kid, path) in Self::key_files(dir).map_err(io)? {
            let bytes = std::fs::read(&path).map_err(io)?;
            let pair = Ed25519KeyPair::from_pkcs8(&bytes).map_err(|_| KeyError::BadKey(path.clone()))?;
            pairs.insert(kid, pair);
        }
        let public = pairs.iter().map(|(k, p)| (k.clone(), p.public_key().as_ref().to_vec())).collect();
        let (signing_kid, signing) = pairs.pop_last().ok_or_else(|| KeyError::BadKey(dir.to_owned()))?;
        Ok(Self { signing_kid, signing, public, verified: Default::default() })
    }

    fn key_files(dir: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "pk8")
                && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
            {
                out.push((stem.to_owned(), path.clone()));
            }
        }
        Ok(out)
    }

    pub fn signing_kid(&self) -> &str {
        &self.signing_kid
    }

    /// A signed token for `claims`.
    pub fn sign(&self, claims: &Claims) -> String {
        let header = Header { alg: "EdDSA".into(), typ: "JWT".into(), kid: self.signing_kid.clone() };
        let header = B64.encode(serde_json::to_vec(&header).unwrap_or_default());
        let payload = B64.encode(serde_json::to_vec(claims).unwrap_or_default());
        let signing_input = format!("{header}.{payload}");
        let signature = B64.encode(self.signing.sign(signing_input.as_bytes()).as_ref());
        format!("{signing_input}.{signature}")
    }

    /// The claims of a valid, unexpired token signed by one of the ring's keys.
    pub fn verify(&self, token: &str, now_unix: i64) -> Result<Claims, TokenError> {
        let known = self.verified.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(token).cloned();
        let claims = match known {
            Some(claims) => claims,
            None => {
                let claims = self.check_signature(token)?;
                let mut verified = self.verified.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if verified.len() >= VERIFIED_TOKENS {
                    verified.clear();
                }
                verified.insert(token.to_owned(), claims.clone());
                claims
            }
        };
        if claims.exp <= now_unix {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }

    /// The claims of a token signed by one of the ring's keys, expired or not.
    fn check_signature(&self, token: &str) -> Result<Claims, TokenError> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(TokenError::Malformed);
        };
        let header: Header =
            B64.decode(h).ok().and_then(|b| serde_json::from_slice(&b).ok()).ok_or(TokenError::Malformed)?;
        if header.alg != "EdDSA" {
            return Err(TokenError::Algorithm(header.alg));
        }
        let key = self.public.get(&header.kid).ok_or_else(|| TokenError::UnknownKey(header.kid.clone()))?;
        let signature = B64.decode(s).map_err(|_| TokenError::Malformed)?;
        let signing_input = &token[..h.len() + 1 + p.len()];
        UnparsedPublicKey::new(&ED25519, key)
            .verify(signing_input.as_bytes(), &signature)
            .map_err(|_| TokenError::Signature)?;
        B64.decode(p).ok().and_then(|b| serde_json::from_slice(&b).ok()).ok_or(TokenError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_790_000_000;

    fn claims(exp: i64) -> Claims {
        Claims { sub: "li-lei".into(), org: "org".into(), roles: vec![1], iat: NOW, exp, jti: "t1".into() }
    }

    #[test]
    fn a_signed_token_verifies_until_it_expires() {
        let dir = tempfile::tempdir().unwrap();
        let ring = KeyRing::load_or_create(dir.path(), NOW).unwrap();
        let token = ring.sign(&claims(NOW + 60));
        assert_eq!(ring.verify(&token, NOW).unwrap(), claims(NOW + 60));
        // Remembered from the first check, it still expires on time.
        assert_eq!(ring.verify(&token, NOW + 59).unwrap(), claims(NOW + 60));
        assert_eq!(ring.verify(&token, NOW + 60), Err(TokenError::Expired));
    }

    #[test]
    fn tampered_tokens_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ring = KeyRing::load_or_create(dir.path(), NOW).unwrap();
        let token = ring.sign(&claims(NOW + 60));
        // The genuine token is checked first, so that the ring remembers it; its neighbours are still checked.
        assert!(ring.verify(&token, NOW).is_ok());
        let (head, rest) = token.split_once('.').unwrap();
        let (payload, signature) = rest.split_once('.').unwrap();
        // Claims rewritten to an administrator's, signature kept.
        let mut forged = claims(NOW + 60);
        forged.roles = vec![5];
        let forged_payload = B64.encode(serde_json::to_vec(&forged).unwrap());
        assert_eq!(ring.verify(&format!("{head}.{forged_payload}.{signature}"), NOW), Err(TokenError::Signature));
        // One bit of the signature flipped.
        let mut sig = B64.decode(signature).unwrap();
        sig[0] ^= 1;
        assert_eq!(ring.verify(&format!("{head}.{payload}.{}", B64.encode(sig)), NOW), Err(TokenError::Signature));
        // alg "none" with no signature.
        let none = B64.encode(br#"{"alg":"none","kid":"x"}"#);
        assert_eq!(ring.verify(&format!("{none}.{payload}."), NOW), Err(TokenError::Algorithm("none".into())));
        assert_eq!(ring.verify("not a token", NOW), Err(TokenError::Malformed));
        assert_eq!(ring.verify(&format!("{token}.extra"), NOW), Err(TokenError::Malformed));
    }

    #[test]
    fn a_token_from_another_key_is_refused_and_rotation_keeps_old_tokens_valid() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let ring_a = KeyRing::load_or_create(a.path(), NOW).unwrap();
        let ring_b = KeyRing::load_or_create(b.path(), NOW).unwrap();
        let token = ring_a.sign(&claims(NOW + 60));
        assert!(matches!(ring_b.verify(&token, NOW), Err(TokenError::UnknownKey(_))));

        let new_kid = generate_key(a.path(), NOW + 10).unwrap();
        let rotated = KeyRing::load_or_create(a.path(), NOW + 10).unwrap();
        assert_eq!(rotated.signing_kid(), new_kid, "the newest key signs");
        assert!(rotated.verify(&token, NOW + 10).is_ok(), "the old key still verifies");
        assert!(rotated.verify(&rotated.sign(&claims(NOW + 60)), NOW + 10).is_ok());
    }

    #[test]
    fn a_key_file_that_is_not_a_key_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("000000000001-bad.pk8"), b"nonsense").unwrap();
        assert!(matches!(KeyRing::load_or_create(dir.path(), NOW), Err(KeyError::BadKey(_))));
    }
}
