//! Money as the exchange counts it: integer fen, at least 1 and at most a ceiling that the versioned rules of each
//! context hold, and arithmetic that refuses instead of wrapping.
//!
//! Every amount a caller sends is checked with [`amount`] where the rule that takes it lives (a decider or its value
//! type), naming the request field; every sum, difference and product on money goes through [`sum`], [`sub`] and
//! [`share_of`], which answer [`MoneyError::Overflow`] rather than a wrapped number. A schedule split by shares
//! ([`split_by_shares`]) adds up to its total exactly.

/// Basis points in a whole (100 %).
pub const WHOLE_BP: u32 = 10_000;

/// Why an amount of money was refused. Each names the request field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("{field}: an amount is at least 1 fen")]
    NotPositive { field: String },
    #[error("{field}: an amount is at most {max} fen under the rules in force")]
    AboveCeiling { field: String, max: i64 },
    #[error("{field}: the amounts do not add up to a number the exchange can hold")]
    Overflow { field: String },
    #[error("{field}: the shares add up to {total} basis points, not 10000")]
    SharesDoNotAddUp { field: String, total: u64 },
}

impl MoneyError {
    /// The request field at fault.
    pub fn field(&self) -> &str {
        match self {
            Self::NotPositive { field }
            | Self::AboveCeiling { field, .. }
            | Self::Overflow { field }
            | Self::SharesDoNotAddUp { field, .. } => field,
        }
    }
}

/// `fen` if it is an amount the rules allow: 1 to `max` fen.
pub fn amount(field: &str, fen: i64, max: i64) -> Result<i64, MoneyError> {
    if fen < 1 {
        return Err(MoneyError::NotPositive { field: field.to_owned() });
    }
    if fen > max {
        return Err(MoneyError::AboveCeiling { field: field.to_owned(), max });
    }
    Ok(fen)
}

/// The sum of `amounts`, or `Overflow` naming `field`.
pub fn sum(field: &str, amounts: impl IntoIterator<Item = i64>) -> Result<i64, MoneyError> {
    amounts.into_iter().try_fold(0i64, |acc, a| acc.checked_add(a)).ok_or_else(|| overflow(field))
}

/// `a - b`, or `Overflow` naming `field`.
pub fn sub(field: &str, a: i64, b: i64) -> Result<i64, MoneyError> {
    a.checked_sub(b).ok_or_else(|| overflow(field))
}

/// `a + b`, or `Overflow` naming `field`.
pub fn add(field: &str, a: i64, b: i64) -> Result<i64, MoneyError> {
    a.checked_add(b).ok_or_else(|| overflow(field))
}

/// `total × bp / 10 000`, rounded down, or `Overflow` naming `field`.
pub fn share_of(field: &str, total: i64, bp: u32) -> Result<i64, MoneyError> {
    total.checked_mul(i64::from(bp)).map(|p| p / i64::from(WHOLE_BP)).ok_or_else(|| overflow(field))
}

/// `total` split by `shares` (basis points that add up to 10 000): each part rounded down, the last part taking what
/// rounding left, so the parts add up to `total` exactly.
pub fn split_by_shares(field: &str, total: i64, shares: &[u32]) -> Result<Vec<i64>, MoneyError> {
    let bp: u64 = shares.iter().map(|s| u64::from(*s)).sum();
    if bp != u64::from(WHOLE_BP) {
        return Err(MoneyError::SharesDoNotAddUp { field: field.to_owned(), total: bp });
    }
    let mut parts = Vec::with_capacity(shares.len());
    let mut left = total;
    for (i, s) in shares.iter().enumerate() {
        let part = if i + 1 == shares.len() { left } else { share_of(field, total, *s)? };
        left = sub(field, left, part)?;
        parts.push(part);
    }
    Ok(parts)
}

fn overflow(field: &str) -> MoneyError {
    MoneyError::Overflow { field: field.to_owned() }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const MAX: i64 = 10_000_000_000_000;

    #[test]
    fn an_amount_is_one_fen_to_the_ceiling() {
        assert_eq!(amount("price_fen", 1, MAX), Ok(1));
        assert_eq!(amount("price_fen", MAX, MAX), Ok(MAX));
        assert_eq!(amount("price_fen", 0, MAX), Err(MoneyError::NotPositive { field: "price_fen".into() }));
        assert_eq!(amount("p", i64::MIN, MAX).unwrap_err().field(), "p");
        assert_eq!(amount("p", i64::MAX, MAX), Err(MoneyError::AboveCeiling { field: "p".into(), max: MAX }));
    }

    #[test]
    fn sums_and_differences_refuse_to_wrap() {
        assert_eq!(sum("s", [i64::MAX, 1]), Err(MoneyError::Overflow { field: "s".into() }));
        assert_eq!(sum("s", [i64::MIN, -1]), Err(MoneyError::Overflow { field: "s".into() }));
        assert_eq!(sum("s", [1, 2, 3]), Ok(6));
        assert_eq!(sub("d", i64::MIN, 1), Err(MoneyError::Overflow { field: "d".into() }));
        assert_eq!(add("d", i64::MAX, 1), Err(MoneyError::Overflow { field: "d".into() }));
        assert_eq!(share_of("x", i64::MAX, 2), Err(MoneyError::Overflow { field: "x".into() }));
        assert_eq!(share_of("x", 999, 5_000), Ok(499));
    }

    #[test]
    fn a_split_adds_up_to_its_total() {
        assert_eq!(split_by_shares("p", 1_001, &[3_000, 7_000]), Ok(vec![300, 701]));
        assert_eq!(
            split_by_shares("p", 1_000, &[3_000, 6_000]),
            Err(MoneyError::SharesDoNotAddUp { field: "p".into(), total: 9_000 })
        );
        assert!(split_by_shares("p", i64::MAX, &[5_000, 5_000]).is_err());
    }

    proptest! {
        #[test]
        fn every_split_adds_up_or_refuses(
            total in prop_oneof![Just(i64::MIN), Just(i64::MAX), Just(0i64), Just(MAX), any::<i64>()],
            cuts in proptest::collection::vec(0u32..=WHOLE_BP, 0..6),
        ) {
            // Shares from cut points: always 10 000 in all.
            let mut points = cuts.clone();
            points.sort_unstable();
            let mut shares = Vec::new();
            let mut last = 0;
            for p in points {
                shares.push(p - last);
                last = p;
            }
            shares.push(WHOLE_BP - last);
            match split_by_shares("p", total, &shares) {
                Ok(parts) => {
                    prop_assert_eq!(parts.len(), shares.len());
                    prop_assert_eq!(parts.iter().map(|p| i128::from(*p)).sum::<i128>(), i128::from(total));
                }
                Err(e) => prop_assert_eq!(e, MoneyError::Overflow { field: "p".into() }),
            }
        }

        #[test]
        fn checked_amounts_are_within_bounds(fen in any::<i64>(), max in 1i64..=i64::MAX) {
            match amount("f", fen, max) {
                Ok(v) => prop_assert!(v == fen && (1..=max).contains(&v)),
                Err(_) => prop_assert!(!(1..=max).contains(&fen)),
            }
        }
    }
}
