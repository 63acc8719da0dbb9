//! Money in integer fen and the benefit arithmetic of `measures.md`
//! ("Benefits"): discounts rounded half up to the fen, payable never below
//! zero, no floating point anywhere.

use std::fmt;

use crate::measures::Benefit;

/// An amount of money in fen (1 yuan = 100 fen).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Fen(pub u64);

/// The largest amount a clerk may type: 10 million yuan.
pub const MAX_AMOUNT: Fen = Fen(1_000_000_000);
/// The most companions one redemption may cover.
pub const MAX_COMPANIONS: u32 = 20;

impl Fen {
    pub const ZERO: Fen = Fen(0);

    /// Parses a yuan amount as people type it: `12`, `12.5`, `12.50`, `¥12.50`.
    pub fn parse_yuan(s: &str) -> Result<Fen, ParseAmountError> {
        let t = s.trim().trim_start_matches(['¥', '￥']).trim();
        let (int, frac) = t.split_once('.').unwrap_or((t, ""));
        let digits = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit());
        if !digits(int) || (!frac.is_empty() && !digits(frac)) || frac.len() > 2 || t.ends_with('.')
        {
            return Err(ParseAmountError::NotAnAmount(s.to_owned()));
        }
        if int.len() > 9 {
            return Err(ParseAmountError::TooLarge(s.to_owned()));
        }
        let yuan: u64 = int
            .parse()
            .map_err(|_| ParseAmountError::NotANumber(s.to_owned()))?;
        let fen: u64 = format!("{frac:0<2}").parse().unwrap_or(0);
        let total = Fen(yuan * 100 + fen);
        if total > MAX_AMOUNT {
            return Err(ParseAmountError::TooLarge(s.to_owned()));
        }
        Ok(total)
    }
}

/// Why a typed amount was refused (each variant holds the text as typed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseAmountError {
    #[error("{0:?} is not an amount in yuan (e.g. 12.50)")]
    NotAnAmount(String),
    #[error("{0:?} is not a number")]
    NotANumber(String),
    #[error("{0:?} is more than the largest amount, {MAX_AMOUNT}")]
    TooLarge(String),
}

impl fmt::Display for Fen {
    /// `¥12.34`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "¥{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

/// `round_half_up(n / 100)` for integer `n ≥ 0`: `(n + 50) / 100`.
pub fn round_half_up_hundredths(n: u64) -> u64 {
    (n + 50) / 100
}

/// What the counter computes for one redemption.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Amounts {
    pub original: Fen,
    pub discount: Fen,
    pub payable: Fen,
    pub companions: u32,
}

/// Why an amount cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("amount {0} is above the largest allowed, {MAX_AMOUNT}")]
    TooLarge(Fen),
    #[error("{0} companions is above the largest allowed, {MAX_COMPANIONS}")]
    TooManyCompanions(u32),
    #[error("companions only apply to free-entry measures")]
    CompanionsNotApplicable,
}

impl Benefit {
    /// Whether the benefit involves money (a privilege has no amount).
    pub fn takes_amount(&self) -> bool {
        !matches!(self, Benefit::Privilege { .. })
    }

    /// Computes the amounts from what the staff typed: `amount` is the
    /// top-up, price, ticket price (free entry) or the waived charge;
    /// `companions` counts only for free entry. A privilege has no money:
    /// all amounts are zero.
    pub fn compute(&self, amount: Fen, companions: u32) -> Result<Amounts, AmountError> {
        if amount > MAX_AMOUNT {
            return Err(AmountError::TooLarge(amount));
        }
        if companions > MAX_COMPANIONS {
            return Err(AmountError::TooManyCompanions(companions));
        }
        if companions > 0 && !matches!(self, Benefit::FreeEntry { .. }) {
            return Err(AmountError::CompanionsNotApplicable);
        }
        // Bounds above keep every product below 2^63.
        let a = amount.0;
        let (original, discount) = match *self {
            Benefit::PercentOff {
                percent,
                max_discount,
            } => {
                let d = round_half_up_hundredths(a * u64::from(percent));
                (a, max_discount.map_or(d, |cap| d.min(cap.0)))
            }
            Benefit::FixedOff { amount_off } => (a, amount_off.0.min(a)),
            Benefit::FreeEntry {
                companion_percent,
                companion_max,
            } => {
                let n = u64::from(companions);
                let discounted = companion_max.map_or(n, |m| n.min(u64::from(m)));
                let per_companion = round_half_up_hundredths(a * u64::from(companion_percent));
                (a * (1 + n), a + discounted * per_companion)
            }
            Benefit::Waiver { .. } => (a, a),
            Benefit::Privilege { .. } => (0, 0),
        };
        let discount = discount.min(original);
        Ok(Amounts {
            original: Fen(original),
            discount: Fen(discount),
            payable: Fen(original - discount),
            companions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_examples() {
        let half = Benefit::PercentOff {
            percent: 50,
            max_discount: None,
        };
        let a = half.compute(Fen(1001), 0).unwrap();
        assert_eq!((a.discount, a.payable), (Fen(501), Fen(500)));
        let capped = Benefit::PercentOff {
            percent: 50,
            max_discount: Some(Fen(10_000)),
        };
        assert_eq!(
            capped.compute(Fen(30_000), 0).unwrap().discount,
            Fen(10_000)
        );
        let free = Benefit::FreeEntry {
            companion_percent: 50,
            companion_max: Some(3),
        };
        let a = free.compute(Fen(12_000), 2).unwrap();
        assert_eq!(
            (a.original, a.discount, a.payable),
            (Fen(36_000), Fen(24_000), Fen(12_000))
        );
        // Past companion_max companions pay full price.
        let a = free.compute(Fen(10_000), 5).unwrap();
        assert_eq!(
            (a.original, a.discount, a.payable),
            (Fen(60_000), Fen(25_000), Fen(35_000))
        );
        let fixed = Benefit::FixedOff {
            amount_off: Fen(2000),
        };
        assert_eq!(fixed.compute(Fen(1500), 0).unwrap().payable, Fen(0));
        assert_eq!(
            Benefit::Waiver {
                what: "押金".into()
            }
            .compute(Fen(48_000), 0)
            .unwrap()
            .payable,
            Fen(0)
        );
        assert_eq!(
            Benefit::Privilege { what: "x".into() }
                .compute(Fen(5), 0)
                .unwrap(),
            Amounts::default()
        );
    }

    #[test]
    fn bad_amounts_are_errors() {
        let half = Benefit::PercentOff {
            percent: 50,
            max_discount: None,
        };
        assert_eq!(
            half.compute(Fen(MAX_AMOUNT.0 + 1), 0),
            Err(AmountError::TooLarge(Fen(MAX_AMOUNT.0 + 1)))
        );
        assert_eq!(
            half.compute(Fen(1), 1),
            Err(AmountError::CompanionsNotApplicable)
        );
        let free = Benefit::FreeEntry {
            companion_percent: 50,
            companion_max: None,
        };
        assert_eq!(
            free.compute(Fen(1), 21),
            Err(AmountError::TooManyCompanions(21))
        );
    }

    #[test]
    fn parse_yuan() {
        assert_eq!(Fen::parse_yuan("12"), Ok(Fen(1200)));
        assert_eq!(Fen::parse_yuan("¥12.5"), Ok(Fen(1250)));
        assert_eq!(Fen::parse_yuan(" 0.07 "), Ok(Fen(7)));
        for bad in ["", "1.234", "-1", "1e3", "12.", ".5", "abc", "99999999999"] {
            assert!(Fen::parse_yuan(bad).is_err(), "{bad}");
        }
        for big in ["99999999999", "10000000.01"] {
            assert_eq!(
                Fen::parse_yuan(big),
                Err(ParseAmountError::TooLarge(big.to_owned()))
            );
        }
        assert_eq!(
            Fen::parse_yuan("1,5").map_err(|e| e.to_string()),
            Err("\"1,5\" is not an amount in yuan (e.g. 12.50)".to_owned())
        );
        assert_eq!(Fen(123_456).to_string(), "¥1234.56");
    }
}
