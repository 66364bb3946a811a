//! SHA-256 over many messages at once.
//!
//! Verifying a log means hashing millions of short, independent messages. One SHA-256 is a serial chain of rounds, so
//! a single message cannot use a wide vector unit; sixteen messages can, one per 32-bit lane of an AVX-512 register
//! ("multi-buffer" hashing). [`hash_many`] does that where the CPU has AVX-512F and falls back to one message at a time
//! (`ring`) elsewhere. Both paths give the same digests; the tests compare them on every length from 0 to 300 bytes,
//! on block-boundary lengths and on FIPS 180-4 examples.

use crate::chain::Hash;

/// SHA-256 of each message, in order.
pub fn hash_many(messages: &[&[u8]]) -> Vec<Hash> {
    #[cfg(target_arch = "x86_64")]
    {
        if messages.len() >= 4 && std::arch::is_x86_feature_detected!("avx512f") {
            return x86::hash_many_avx512(messages);
        }
    }
    messages.iter().map(|m| crate::chain::hash_bytes(m)).collect()
}

/// Block `index` of the padded form of `message` (FIPS 180-4 §5.1.1): the message bytes, 0x80, zeros, and the bit
/// length as a big-endian u64 in the last block.
fn padded_block(message: &[u8], index: usize, out: &mut [u8; 64]) {
    let start = index * 64;
    let len = message.len();
    let take = len.saturating_sub(start).min(64);
    if take > 0 {
        out[..take].copy_from_slice(&message[start..start + take]);
    }
    out[take..].fill(0);
    if len >= start && len < start + 64 {
        out[len - start] = 0x80;
    }
    if index + 1 == block_count(len) {
        out[56..].copy_from_slice(&((len as u64) * 8).to_be_bytes());
    }
}

/// Blocks in the padded form of a message of `len` bytes.
fn block_count(len: usize) -> usize {
    (len + 9).div_ceil(64)
}

const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
    0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
    0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
    0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2,
];

const IV: [u32; 8] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod x86 {
    use std::arch::x86_64::*;

    use super::{IV, K, block_count, padded_block};
    use crate::chain::Hash;

    const LANES: usize = 16;

    pub fn hash_many_avx512(messages: &[&[u8]]) -> Vec<Hash> {
        // SAFETY: the caller checked at run time that the CPU supports AVX-512F, the only feature `hash_lanes` enables.
        unsafe { hash_lanes(messages) }
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    fn splat(x: u32) -> __m512i {
        _mm512_set1_epi32(x as i32)
    }

    /// The sixteen words of `v` as one vector, lane `k` holding `v[k]`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn from_lanes(v: &[u32; LANES]) -> __m512i {
        // SAFETY: `v` is 64 readable bytes; the load has no alignment requirement.
        unsafe { _mm512_loadu_si512(v.as_ptr().cast()) }
    }

    /// Lane `lane` of `v`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn lane(v: __m512i, lane: usize) -> u32 {
        _mm512_cvtsi512_si32(_mm512_permutexvar_epi32(_mm512_set1_epi32(lane as i32), v)) as u32
    }

    /// One SHA-256 compression on sixteen independent states.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn compress(state: &mut [__m512i; 8], w: &mut [__m512i; 16]) {
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = *state;
        for t in 0..64 {
            let wt = if t < 16 {
                w[t]
            } else {
                let w15 = w[(t - 15) % 16];
                let w2 = w[(t - 2) % 16];
                let s0 = _mm512_ternarylogic_epi32::<0x96>(
                    _mm512_ror_epi32::<7>(w15),
                    _mm512_ror_epi32::<18>(w15),
                    _mm512_srli_epi32::<3>(w15),
                );
                let s1 = _mm512_ternarylogic_epi32::<0x96>(
                    _mm512_ror_epi32::<17>(w2),
                    _mm512_ror_epi32::<19>(w2),
                    _mm512_srli_epi32::<10>(w2),
                );
                let next = _mm512_add_epi32(_mm512_add_epi32(w[t % 16], s0), _mm512_add_epi32(w[(t - 7) % 16], s1));
                w[t % 16] = next;
                next
            };
            let big_s1 = _mm512_ternarylogic_epi32::<0x96>(
                _mm512_ror_epi32::<6>(e),
                _mm512_ror_epi32::<11>(e),
                _mm512_ror_epi32::<25>(e),
            );
            let ch = _mm512_ternarylogic_epi32::<0xCA>(e, f, g);
            let t1 =
                _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(h, big_s1), _mm512_add_epi32(ch, splat(K[t]))), wt);
            let big_s0 = _mm512_ternarylogic_epi32::<0x96>(
                _mm512_ror_epi32::<2>(a),
                _mm512_ror_epi32::<13>(a),
                _mm512_ror_epi32::<22>(a),
            );
            let maj = _mm512_ternarylogic_epi32::<0xE8>(a, b, c);
            let t2 = _mm512_add_epi32(big_s0, maj);
            h = g;
            g = f;
            f = e;
            e = _mm512_add_epi32(d, t1);
            d = c;
            c = b;
            b = a;
            a = _mm512_add_epi32(t1, t2);
        }
        for (s, v) in state.iter_mut().zip([a, b, c, d, e, f, g, h]) {
            *s = _mm512_add_epi32(*s, v);
        }
    }

    #[target_feature(enable = "avx512f")]
    fn hash_lanes(messages: &[&[u8]]) -> Vec<Hash> {
        let mut out = vec![[0u8; 32]; messages.len()];
        // Per lane: the message it hashes and its next block; None when the lane has run out of work.
        let mut current: [Option<(usize, usize)>; LANES] = [None; LANES];
        let mut next_message = 0;
        for slot in current.iter_mut() {
            if next_message < messages.len() {
                *slot = Some((next_message, 0));
                next_message += 1;
            }
        }
        let mut state = IV.map(|x| splat(x));
        let mut block = [0u8; 64];
        let mut words = [[0u32; LANES]; 16];
        while current.iter().any(Option::is_some) {
            for (l, slot) in current.iter().enumerate() {
                let source: &[u8] = match slot {
                    // A block wholly inside the message is read in place; only the tail blocks are padded.
                    Some((m, b)) if (b + 1) * 64 <= messages[*m].len() => &messages[*m][b * 64..(b + 1) * 64],
                    Some((m, b)) => {
                        padded_block(messages[*m], *b, &mut block);
                        &block
                    }
                    None => &[0; 64],
                };
                for (t, chunk) in source.chunks_exact(4).enumerate() {
                    words[t][l] = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
                }
            }
            let mut w = [_mm512_setzero_si512(); 16];
            for (t, row) in words.iter().enumerate() {
                w[t] = from_lanes(row);
            }
            compress(&mut state, &mut w);
            // Lanes whose message is complete: emit the digest and start the next message from the IV.
            let mut restart: u16 = 0;
            for (l, slot) in current.iter_mut().enumerate() {
                let Some((m, b)) = slot else { continue };
                *b += 1;
                if *b < block_count(messages[*m].len()) {
                    continue;
                }
                let digest = &mut out[*m];
                for (k, s) in state.iter().enumerate() {
                    digest[k * 4..k * 4 + 4].copy_from_slice(&lane(*s, l).to_be_bytes());
                }
                restart |= 1 << l;
                *slot = if next_message < messages.len() {
                    next_message += 1;
                    Some((next_message - 1, 0))
                } else {
                    None
                };
            }
            if restart != 0 {
                for (s, iv) in state.iter_mut().zip(IV) {
                    *s = _mm512_mask_blend_epi32(restart, *s, splat(iv));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::hash_bytes;

    fn data(len: usize, seed: u32) -> Vec<u8> {
        let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect()
    }

    #[test]
    fn fips_180_examples() {
        let abc = hash_many(&[b"abc", b"abc", b"abc", b"abc", b""]);
        assert_eq!(hex::encode(abc[0]), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(hex::encode(abc[4]), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        let two_blocks: &[u8] = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        let h = hash_many(&[two_blocks; 5]);
        assert_eq!(hex::encode(h[3]), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    }

    #[test]
    fn every_length_agrees_with_the_one_at_a_time_hash() {
        let messages: Vec<Vec<u8>> = (0..=300).map(|len| data(len, len as u32)).collect();
        let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
        let many = hash_many(&refs);
        for (m, h) in messages.iter().zip(&many) {
            assert_eq!(*h, hash_bytes(m), "length {}", m.len());
        }
    }

    #[test]
    fn mixed_lengths_in_any_order_agree() {
        let lengths = [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 447, 448, 1000, 4096, 65_537, 1 << 20, 3, 200, 450];
        let messages: Vec<Vec<u8>> = lengths.iter().enumerate().map(|(i, &l)| data(l, i as u32 + 7)).collect();
        for count in [1, 4, 15, 16, 17, lengths.len()] {
            let refs: Vec<&[u8]> = messages[..count].iter().rev().map(Vec::as_slice).collect();
            let many = hash_many(&refs);
            for (m, h) in refs.iter().zip(&many) {
                assert_eq!(*h, hash_bytes(m), "length {}", m.len());
            }
        }
    }
}
