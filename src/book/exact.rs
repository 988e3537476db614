//! Exact decimal sums: the book never rounds a position.
//!
//! `rust_decimal` keeps a 96-bit mantissa and a scale of at most 28. Its `checked_add` and
//! `checked_sub` return `None` only when a result leaves the decimal range; when the exact
//! result needs more significant digits than the mantissa holds at the operands' scale
//! (`720575940379279.35 - 0.000000072057594037927938`), they *round*. A book that rounded one
//! sum (a slot's position) but not another (the net position) would break its own invariants
//! on accepted input. So every sum the book keeps goes through [`exact_add`] or
//! [`exact_sub`], which return the sum only when it is exact, and the invariant check and
//! [`Book::gross_position`](super::Book::gross_position) add up with [`ExactSum`], which is
//! exact in any order.

use rust_decimal::Decimal;

/// Why a sum of decimals cannot be represented exactly as a [`Decimal`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum ArithmeticError {
    /// The sum's magnitude is beyond [`Decimal::MAX`].
    #[error("the sum is beyond the range of a decimal")]
    Overflow,
    /// The sum is within range, but writing it exactly needs more significant digits than a
    /// decimal holds (a 96-bit mantissa, at most 28 digits after the point).
    #[error("the exact sum needs more significant digits than a decimal holds")]
    Inexact,
}

impl ArithmeticError {
    /// Whether the sum was beyond the decimal range.
    pub fn is_overflow(self) -> bool {
        self == ArithmeticError::Overflow
    }

    /// Whether the sum was within range but would have had to be rounded.
    pub fn is_inexact(self) -> bool {
        self == ArithmeticError::Inexact
    }
}

/// The largest scale (digits after the point) a decimal has.
const MAX_SCALE: u32 = 28;

/// Mantissas of decimals are below this in magnitude (96 bits).
const MANTISSA_LIMIT: i128 = 1 << 96;

/// `10^exponent`, for `exponent <= 28` (which fits in an `i128` with room to spare).
fn power_of_ten(exponent: u32) -> i128 {
    debug_assert!(exponent <= MAX_SCALE, "a decimal's scale is at most 28");
    10_i128.pow(exponent)
}

/// `a + b`, exactly, keeping the larger of the two scales as `checked_add` does when it does
/// not round.
///
/// # Errors
///
/// [`ArithmeticError::Overflow`] when the sum is beyond the decimal range,
/// [`ArithmeticError::Inexact`] when it is within range but not representable exactly.
pub(crate) fn exact_add(a: Decimal, b: Decimal) -> Result<Decimal, ArithmeticError> {
    // Scales as given first (the common case, and the scale that `checked_add` would keep);
    // if aligning them overflows, the same numbers without trailing zeros: see `aligned_sum`.
    aligned_sum(a, b)
        .or_else(|| aligned_sum(a.normalize(), b.normalize()))
        .and_then(|(mantissa, scale)| from_exact(mantissa, scale))
        .ok_or_else(|| classify(a, b))
}

/// `a - b`, exactly (see [`exact_add`]).
///
/// # Errors
///
/// As for [`exact_add`].
pub(crate) fn exact_sub(a: Decimal, b: Decimal) -> Result<Decimal, ArithmeticError> {
    exact_add(a, -b)
}

/// The exact sum as a mantissa and a scale, both operands aligned to the larger scale; `None`
/// if that does not fit in an `i128`.
///
/// With both operands normalized (no trailing zeros), an overflow here means the sum is not
/// representable: the operand with the larger scale `s > 0` has a mantissa not divisible by
/// ten and the other's aligned mantissa is a multiple of ten, so the exact sum needs scale `s`
/// exactly, at a mantissa beyond `i128` (and so beyond 96 bits). With equal scales nothing is
/// aligned, and two 96-bit mantissas cannot overflow an `i128`.
#[inline]
fn aligned_sum(a: Decimal, b: Decimal) -> Option<(i128, u32)> {
    if a.scale() == b.scale() {
        // The common case (quantities of one instrument share a scale): nothing to align, and
        // two mantissas below 2^96 cannot overflow an `i128`.
        return Some((a.mantissa() + b.mantissa(), a.scale()));
    }
    let scale = a.scale().max(b.scale());
    let align = |value: Decimal| {
        value
            .mantissa()
            .checked_mul(power_of_ten(scale - value.scale()))
    };
    Some((align(a)?.checked_add(align(b)?)?, scale))
}

/// The decimal `mantissa × 10^-scale`, dropping trailing zeros only where the mantissa would
/// not fit otherwise; `None` if it is not representable.
#[inline]
fn from_exact(mantissa: i128, scale: u32) -> Option<Decimal> {
    if mantissa.unsigned_abs() < MANTISSA_LIMIT.unsigned_abs() {
        return Decimal::try_from_i128_with_scale(mantissa, scale).ok();
    }
    from_exact_dropping_zeros(mantissa, scale)
}

/// [`from_exact`] for a mantissa beyond 96 bits. Apart, and cold, so that the common path
/// carries no 128-bit division: the compiler was computing `mantissa % 10` speculatively on
/// every sum (`__divti3` in the writer's profile).
#[cold]
#[inline(never)]
fn from_exact_dropping_zeros(mut mantissa: i128, mut scale: u32) -> Option<Decimal> {
    while mantissa.abs() >= MANTISSA_LIMIT && scale > 0 && mantissa % 10 == 0 {
        mantissa /= 10;
        scale -= 1;
    }
    Decimal::try_from_i128_with_scale(mantissa, scale).ok()
}

/// Why `a + b` is not representable: `checked_add` fails only beyond the range.
fn classify(a: Decimal, b: Decimal) -> ArithmeticError {
    match a.checked_add(b) {
        None => ArithmeticError::Overflow,
        Some(_) => ArithmeticError::Inexact,
    }
}

/// An exact sum of any number of decimals, in any order.
///
/// Each value's mantissa is added to an `i128` accumulator for its scale, so no partial sum
/// rounds or leaves the range however the values are ordered (`1 + MAX - 6`, or a huge
/// position beside a tiny one); only [`total`](Self::total) asks whether the result is a
/// decimal. Up to 2^31 values can be added before an accumulator could overflow, which
/// [`total`](Self::total) reports as an overflow rather than wrapping.
#[derive(Clone, Debug)]
pub(crate) struct ExactSum {
    by_scale: [i128; MAX_SCALE as usize + 1],
    overflowed: bool,
}

impl Default for ExactSum {
    fn default() -> Self {
        Self {
            by_scale: [0; MAX_SCALE as usize + 1],
            overflowed: false,
        }
    }
}

impl ExactSum {
    /// Adds `value`.
    pub(crate) fn add(&mut self, value: Decimal) {
        let accumulator = &mut self.by_scale[value.scale() as usize];
        match accumulator.checked_add(value.mantissa()) {
            Some(sum) => *accumulator = sum,
            None => self.overflowed = true,
        }
    }

    /// The sum, as a decimal without trailing zeros.
    ///
    /// # Errors
    ///
    /// [`ArithmeticError::Overflow`] or [`ArithmeticError::Inexact`] when the exact sum is not
    /// a decimal.
    pub(crate) fn total(&self) -> Result<Decimal, ArithmeticError> {
        if self.overflowed {
            return Err(ArithmeticError::Overflow);
        }
        // Carry from the smallest digit up, leaving one digit in 0..=9 per scale: the value is
        // then `integer + Σ digits[s] × 10^-s`, a canonical form.
        let mut digits = [0_i128; MAX_SCALE as usize + 1];
        let mut carry = 0_i128;
        for scale in (1..=MAX_SCALE as usize).rev() {
            let value = self.by_scale[scale]
                .checked_add(carry)
                .ok_or(ArithmeticError::Overflow)?;
            digits[scale] = value.rem_euclid(10);
            carry = value.div_euclid(10);
        }
        let integer = self.by_scale[0]
            .checked_add(carry)
            .ok_or(ArithmeticError::Overflow)?;
        // The value is `integer + fraction` with the fraction in 0..1: beyond the range when
        // its magnitude passes `MAX = 2^96 - 1`.
        let has_fraction = digits.iter().any(|digit| *digit != 0);
        let beyond_range = if !has_fraction {
            integer.unsigned_abs() >= MANTISSA_LIMIT.unsigned_abs()
        } else if integer >= 0 {
            integer >= MANTISSA_LIMIT - 1
        } else {
            integer <= -MANTISSA_LIMIT
        };
        if beyond_range {
            return Err(ArithmeticError::Overflow);
        }
        let scale = (1..=MAX_SCALE as usize)
            .rev()
            .find(|&scale| digits[scale] != 0)
            .unwrap_or(0);
        let mut mantissa = integer;
        for digit in &digits[1..=scale] {
            mantissa = mantissa
                .checked_mul(10)
                .and_then(|shifted| shifted.checked_add(*digit))
                .ok_or(ArithmeticError::Inexact)?;
        }
        let scale = u32::try_from(scale).map_err(|_| ArithmeticError::Inexact)?;
        Decimal::try_from_i128_with_scale(mantissa, scale).map_err(|_| ArithmeticError::Inexact)
    }
}

impl Extend<Decimal> for ExactSum {
    fn extend<T: IntoIterator<Item = Decimal>>(&mut self, values: T) {
        for value in values {
            self.add(value);
        }
    }
}

impl FromIterator<Decimal> for ExactSum {
    fn from_iter<T: IntoIterator<Item = Decimal>>(values: T) -> Self {
        let mut sum = Self::default();
        sum.extend(values);
        sum
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rust_decimal::Decimal;

    use super::*;

    fn decimal(text: &str) -> Decimal {
        text.parse().expect("a decimal")
    }

    #[test]
    fn the_issue_s_sum_is_refused_as_inexact_where_checked_sub_rounds() {
        let (position, fill) = (
            decimal("720575940379279.35"),
            decimal("0.000000072057594037927938"),
        );
        let rounded = position
            .checked_sub(fill)
            .expect("checked_sub rounds, not fails");
        assert!(rounded.scale() < fill.scale(), "it rounded: {rounded}");
        assert_eq!(exact_sub(position, fill), Err(ArithmeticError::Inexact));
        let mut sum = ExactSum::default();
        sum.extend([position, -fill]);
        assert_eq!(sum.total(), Err(ArithmeticError::Inexact));
    }

    #[test]
    fn exact_sums_keep_checked_add_s_scale_and_value() {
        assert_eq!(
            exact_add(decimal("1.50"), decimal("1")).map(|sum| sum.to_string()),
            Ok("2.50".to_owned())
        );
        assert_eq!(
            exact_add(Decimal::MAX, Decimal::ONE),
            Err(ArithmeticError::Overflow)
        );
        assert_eq!(
            exact_add(Decimal::MIN, -Decimal::ONE),
            Err(ArithmeticError::Overflow)
        );
        assert_eq!(exact_add(Decimal::MAX, -Decimal::MAX), Ok(Decimal::ZERO));
        // Trailing zeros beyond the mantissa: aligned, `1e28 × 10^28` overflows an `i128`,
        // yet the sum is exact once the zeros are dropped.
        let big = Decimal::from_i128_with_scale(10_i128.pow(28), 0);
        let tiny_scale_zero = Decimal::from_i128_with_scale(0, 28);
        assert_eq!(exact_add(big, tiny_scale_zero), Ok(big));
        let mut sum: ExactSum = [Decimal::MAX, Decimal::ONE, decimal("-6")]
            .into_iter()
            .collect();
        assert_eq!(sum.total(), Ok(Decimal::MAX - decimal("5")));
        sum.add(decimal("5.5"));
        assert_eq!(sum.total(), Err(ArithmeticError::Overflow));
        let negative: ExactSum = [decimal("-0.5"), decimal("-0.25")].into_iter().collect();
        assert_eq!(negative.total(), Ok(decimal("-0.75")));
        assert_eq!(ExactSum::default().total(), Ok(Decimal::ZERO));
    }

    /// Decimals over the whole representable range: any 96-bit mantissa, any scale, either
    /// sign, with small mantissas and the extremes over-represented.
    fn any_decimal() -> impl Strategy<Value = Decimal> {
        let mantissa = prop_oneof![
            0_i128..1_000,
            0_i128..(1_i128 << 96),
            Just((1_i128 << 96) - 1),
            (0_u32..=28).prop_map(|exponent| 10_i128.pow(exponent)),
        ];
        (mantissa, 0_u32..=28, any::<bool>()).prop_map(|(mantissa, scale, negative)| {
            let signed = if negative { -mantissa } else { mantissa };
            Decimal::from_i128_with_scale(signed, scale)
        })
    }

    /// Whether `a + b - sum` is exactly zero, by a separate route: integer and fractional
    /// parts (the latter aligned to scale 28) added apart, which cannot overflow.
    fn is_exact_sum(a: Decimal, b: Decimal, sum: Decimal) -> bool {
        let split = |value: Decimal| {
            let unit = 10_i128.pow(value.scale());
            let (integer, fraction) = (value.mantissa() / unit, value.mantissa() % unit);
            (integer, fraction * 10_i128.pow(28 - value.scale()))
        };
        let parts = [split(a), split(b), split(-sum)];
        let integer: i128 = parts.iter().map(|part| part.0).sum();
        let fraction: i128 = parts.iter().map(|part| part.1).sum();
        // |fraction| < 3 × 10^28, so only a small integer part can balance it.
        integer.abs() <= 3 && integer * 10_i128.pow(28) + fraction == 0
    }

    proptest! {
        #[test]
        fn prop_exact_add_is_exact_or_refused(a in any_decimal(), b in any_decimal()) {
            match exact_add(a, b) {
                Ok(sum) => {
                    prop_assert!(is_exact_sum(a, b, sum), "{a} + {b} = {sum}");
                    prop_assert_eq!(Some(sum), a.checked_add(b), "the sum checked_add gives");
                }
                Err(error) => {
                    let rounded = a.checked_add(b);
                    prop_assert_eq!(error.is_overflow(), rounded.is_none());
                    if let Some(rounded) = rounded {
                        prop_assert!(!is_exact_sum(a, b, rounded), "{a} + {b} was exact");
                    }
                }
            }
        }

        #[test]
        fn prop_exact_sum_agrees_with_exact_add_in_any_order(
            a in any_decimal(), b in any_decimal(), c in any_decimal(),
        ) {
            let forwards: ExactSum = [a, b, c].into_iter().collect();
            let backwards: ExactSum = [c, b, a].into_iter().collect();
            prop_assert_eq!(forwards.total(), backwards.total());
            if let (Ok(ab), Ok(abc)) = (exact_add(a, b), forwards.total()) {
                prop_assert_eq!(exact_add(ab, c).ok(), Some(abc));
            }
        }
    }
}
