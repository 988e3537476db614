//! Compact storage for a record's decimals: 8 bytes each instead of 16, when they fit.
//!
//! A [`Decimal`] is 16 bytes (a 96-bit mantissa, a scale and a sign). The book's quantities and
//! prices nearly always have mantissas far below 2^56 (a quantity of 10^9 lots with 8 decimal
//! places is 10^17), so a record keeps its decimals packed into one `u64` each — the mantissa's
//! magnitude in the high 56 bits, the scale and the sign in the low 8 — and falls back to
//! full-width decimals, out of line, only when one of them does not fit. Packing is exact:
//! unpacking gives back the same decimal, scale and sign included (negative zero too).
//!
//! Equality is numeric, as for [`Decimal`] (`1.0 == 1.00`), whatever the storage.

use std::fmt;

use rust_decimal::Decimal;

/// Mantissas below `2^MANTISSA_BITS` are stored packed.
const MANTISSA_BITS: u32 = 56;

/// `N` decimals, packed when they all fit, full-width otherwise.
#[derive(Clone)]
pub(crate) enum Decimals<const N: usize> {
    /// Every value packed into a `u64` (see the module documentation).
    Packed([u64; N]),
    /// At least one value has a mantissa of 2^56 or more: all are kept full-width.
    Wide(Box<[Decimal; N]>),
}

impl<const N: usize> Decimals<N> {
    /// Stores `values`, packed if they all fit.
    pub(crate) fn new(values: [Decimal; N]) -> Self {
        let mut packed = [0; N];
        for (word, value) in packed.iter_mut().zip(values) {
            match pack(value) {
                Some(bits) => *word = bits,
                None => return Self::Wide(Box::new(values)),
            }
        }
        Self::Packed(packed)
    }

    /// The value at `index`.
    #[inline]
    pub(crate) fn get(&self, index: usize) -> Decimal {
        match self {
            Self::Packed(words) => unpack(words[index]),
            Self::Wide(values) => values[index],
        }
    }

    /// Replaces the value at `index`; moves every value out of line if it does not fit.
    #[inline]
    pub(crate) fn set(&mut self, index: usize, value: Decimal) {
        match self {
            Self::Packed(words) => match pack(value) {
                Some(bits) => words[index] = bits,
                None => {
                    let mut values = self.values();
                    values[index] = value;
                    *self = Self::Wide(Box::new(values));
                }
            },
            Self::Wide(values) => values[index] = value,
        }
    }

    fn values(&self) -> [Decimal; N] {
        std::array::from_fn(|index| self.get(index))
    }
}

impl<const N: usize> PartialEq for Decimals<N> {
    fn eq(&self, other: &Self) -> bool {
        (0..N).all(|index| self.get(index) == other.get(index))
    }
}

impl<const N: usize> Eq for Decimals<N> {}

impl<const N: usize> fmt::Debug for Decimals<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.values()).finish()
    }
}

/// The decimal in 8 bytes, or `None` if its mantissa needs more than 56 bits.
#[inline]
fn pack(value: Decimal) -> Option<u64> {
    let magnitude = u64::try_from(value.mantissa().unsigned_abs()).ok()?;
    if magnitude >> MANTISSA_BITS != 0 {
        return None;
    }
    // The scale is at most 28: five bits.
    Some((magnitude << 8) | (u64::from(value.scale()) << 1) | u64::from(value.is_sign_negative()))
}

#[inline]
fn unpack(bits: u64) -> Decimal {
    let magnitude = bits >> 8;
    let scale = ((bits >> 1) & 0x1f) as u32;
    let negative = bits & 1 == 1;
    Decimal::from_parts(
        magnitude as u32,
        (magnitude >> 32) as u32,
        0,
        negative,
        scale,
    )
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn decimal(text: &str) -> Decimal {
        Decimal::from_str(text).expect("a decimal")
    }

    #[test]
    fn packing_gives_back_the_same_decimal_scale_and_sign_included() {
        for text in [
            "0",
            "-0",
            "1",
            "-1",
            "1.0",
            "1.000",
            "0.00000001",
            "-123.456",
            "99.99",
            "72057594037927935",
            "-7205759403792793.5",
        ] {
            let value = decimal(text);
            let bits = pack(value).unwrap_or_else(|| panic!("{text} fits"));
            let back = unpack(bits);
            assert_eq!(back, value, "{text}");
            assert_eq!(back.scale(), value.scale(), "{text}: scale");
            assert_eq!(
                back.is_sign_negative(),
                value.is_sign_negative(),
                "{text}: sign"
            );
            assert_eq!(back.to_string(), value.to_string(), "{text}: text");
        }
    }

    #[test]
    fn a_mantissa_of_2_to_the_56_or_more_does_not_pack() {
        assert!(pack(decimal("72057594037927936")).is_none());
        assert!(pack(Decimal::MAX).is_none());
        assert!(pack(Decimal::MIN).is_none());
    }

    #[test]
    fn a_value_that_does_not_fit_moves_all_out_of_line_and_every_value_survives() {
        let mut values = Decimals::new([decimal("1.5"), decimal("-2"), Decimal::ZERO]);
        assert!(matches!(values, Decimals::Packed(_)));
        values.set(2, Decimal::MAX);
        assert!(matches!(values, Decimals::Wide(_)));
        assert_eq!(values.get(0), decimal("1.5"));
        assert_eq!(values.get(1), decimal("-2"));
        assert_eq!(values.get(2), Decimal::MAX);
        values.set(0, decimal("7"));
        assert_eq!(values.get(0), decimal("7"));
        assert!(matches!(
            Decimals::new([Decimal::MIN, Decimal::ONE]),
            Decimals::Wide(_)
        ));
    }

    #[test]
    fn equality_is_numeric_whatever_the_storage() {
        let packed = Decimals::new([decimal("1.0"), decimal("2")]);
        let rescaled = Decimals::new([decimal("1.00"), decimal("2.0")]);
        let wide = Decimals::Wide(Box::new([decimal("1"), decimal("2")]));
        assert_eq!(packed, rescaled);
        assert_eq!(packed, wide);
        assert_ne!(packed, Decimals::new([decimal("1"), decimal("3")]));
    }
}
