//! Sealed bids by commit–reveal. During the bid window a bidder sends only
//! `SHA-256(TAG ‖ len(session) ‖ session ‖ len(bidder) ‖ bidder ‖ amount ‖ nonce)`, where lengths are 4-byte
//! big-endian, the amount is the fen as an 8-byte big-endian signed integer, and the nonce is 32 random bytes. Binding
//! the session and the bidder stops a bidder replaying another's commitment; the nonce stops anyone guessing the
//! amount from the hash. The browser computes the same bytes (docs/api.md), so the amount stays on the bidder's
//! machine until the reveal.

use ttx_kernel::hash_bytes;

/// The domain tag that starts every commitment.
pub const TAG: &[u8] = b"ttx/sealed-bid/v1";

/// The commitment to `amount_fen` by `bidder` in `session` with `nonce`.
pub fn commitment(session: &str, bidder: &str, amount_fen: i64, nonce: &[u8; 32]) -> [u8; 32] {
    let mut bytes = Vec::with_capacity(TAG.len() + 8 + session.len() + bidder.len() + 8 + 32);
    bytes.extend_from_slice(TAG);
    for part in [session, bidder] {
        bytes.extend_from_slice(&u32::try_from(part.len()).unwrap_or(u32::MAX).to_be_bytes());
        bytes.extend_from_slice(part.as_bytes());
    }
    bytes.extend_from_slice(&amount_fen.to_be_bytes());
    bytes.extend_from_slice(nonce);
    hash_bytes(&bytes)
}

/// A commitment or nonce from 64 hex digits.
pub fn parse_hex32(s: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s.trim(), &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commitment_binds_session_bidder_amount_and_nonce() {
        let nonce = [7u8; 32];
        let c = commitment("s1", "firm", 1_000_000, &nonce);
        assert_eq!(c, commitment("s1", "firm", 1_000_000, &nonce));
        assert_ne!(c, commitment("s2", "firm", 1_000_000, &nonce), "another session");
        assert_ne!(c, commitment("s1", "firm2", 1_000_000, &nonce), "another bidder");
        assert_ne!(c, commitment("s1", "firm", 1_000_001, &nonce), "another amount");
        assert_ne!(c, commitment("s1", "firm", 1_000_000, &[8u8; 32]), "another nonce");
        // Lengths are framed: moving a character from the session to the bidder changes the hash.
        assert_ne!(commitment("s1f", "irm", 5, &nonce), commitment("s1", "firm", 5, &nonce));
        assert_eq!(parse_hex32(&hex::encode(c)), Some(c));
        assert_eq!(parse_hex32("zz"), None);
    }

    #[test]
    fn known_answers() {
        // Fixed vectors, computed independently of this code (SHA-256 over the documented layout); the browser's
        // implementation is checked against the same two (tests/browser/ui.mjs).
        let counting: [u8; 32] = std::array::from_fn(|i| u8::try_from(i).unwrap_or(0));
        assert_eq!(
            hex::encode(commitment("session-1", "org-a", 150_000_000, &counting)),
            "7018934712c2b42ae1c807d9fa4f530d6b1a36a4fa95d500742972c16d3440ac"
        );
        assert_eq!(
            hex::encode(commitment("s", "b", -1, &[0xff; 32])),
            "63dc28f4762b466648e2cf2bca6659ead7f3606891dafad2424f5db254f6e13e"
        );
    }

    #[test]
    fn the_layout_is_fixed() {
        // The browser's implementation is checked against this vector (tests/browser).
        let c = commitment("session-1", "91350100m000100y43", 123_456, &[0u8; 32]);
        let mut bytes = b"ttx/sealed-bid/v1".to_vec();
        bytes.extend_from_slice(&[0, 0, 0, 9]);
        bytes.extend_from_slice(b"session-1");
        bytes.extend_from_slice(&[0, 0, 0, 18]);
        bytes.extend_from_slice(b"91350100m000100y43");
        bytes.extend_from_slice(&123_456i64.to_be_bytes());
        bytes.extend_from_slice(&[0u8; 32]);
        assert_eq!(c, hash_bytes(&bytes));
    }
}
