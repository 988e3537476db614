//! Exact decimal text: [`parse_decimal`] reads a price or quantity digit for digit, or refuses it.
//!
//! `rust_decimal`'s own `FromStr` *rounds* a number with more significant digits than a
//! [`Decimal`] keeps (a 96-bit integer mantissa and a scale of at most 28 fractional digits):
//! `"1.00000000000000000000000000000000001"` reads as 1. A position manager must never take a
//! quantity it was not given, so everything the crate reads from outside goes through this
//! parser instead, which either keeps every digit or says why it cannot.
//!
//! # The accepted text
//!
//! An optional `-` or `+`, one or more ASCII digits, and optionally a `.` followed by one or
//! more ASCII digits: `98`, `-0.5`, `0.01000000`. No exponent, no spaces, no `_` separators,
//! no leading or trailing `.`.
//!
//! # Exactness
//!
//! The value read equals the text's value exactly, or the text is refused:
//! * more than [`MAX_SCALE`] fractional digits are refused unless the extra ones are all zeros
//!   (`"1.50000000000000000000000000000000"` is exactly 1.5, so it is accepted);
//! * a value whose digits do not fit the 96-bit mantissa is refused, again after dropping
//!   fractional trailing zeros, which never change the value.
//!
//! The scale of the text is kept where it fits (`"0.0100"` has scale 4, so it prints as
//! written); trailing zeros are dropped only as far as needed to fit.
//!
//! # Example
//!
//! ```
//! use snapstate::decimal::parse_decimal;
//! use rust_decimal::Decimal;
//!
//! assert_eq!(parse_decimal("98.50")?, Decimal::new(9850, 2));
//! assert!(parse_decimal("1.00000000000000000000000000000000001").unwrap_err().is_too_precise());
//! assert!(parse_decimal("1e5").unwrap_err().is_syntax());
//! # Ok::<(), snapstate::decimal::ParseDecimalError>(())
//! ```

use rust_decimal::Decimal;

/// The most fractional digits a [`Decimal`] keeps.
pub const MAX_SCALE: u32 = 28;

/// The largest mantissa a [`Decimal`] keeps: 2⁹⁶ − 1.
const MAX_MANTISSA: u128 = (1 << 96) - 1;

/// Why a text is not an exact decimal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseDecimalError {
    /// The text is not a decimal number in the accepted form.
    #[error("{text:?} is not a decimal number (digits, an optional sign and one optional '.')")]
    Syntax {
        /// The text, cut to its first 64 characters.
        text: String,
    },
    /// More significant fractional digits than a decimal keeps: reading it would round.
    #[error(
        "{text:?} has {digits} significant fractional digits; at most {MAX_SCALE} are kept, so \
         it would be rounded"
    )]
    TooPrecise {
        /// The text, cut to its first 64 characters.
        text: String,
        /// Its significant fractional digits.
        digits: usize,
    },
    /// More significant digits than the 96-bit mantissa holds: too large, or too precise for
    /// its size.
    #[error("{text:?} has more significant digits than a decimal keeps (about 28)")]
    OutOfRange {
        /// The text, cut to its first 64 characters.
        text: String,
    },
}

impl ParseDecimalError {
    /// Whether the text is not a decimal number at all.
    pub fn is_syntax(&self) -> bool {
        matches!(self, Self::Syntax { .. })
    }

    /// Whether the text has more fractional digits than can be kept.
    pub fn is_too_precise(&self) -> bool {
        matches!(self, Self::TooPrecise { .. })
    }

    /// Whether the text has more significant digits than the mantissa holds.
    pub fn is_out_of_range(&self) -> bool {
        matches!(self, Self::OutOfRange { .. })
    }
}

/// The longest prefix of a refused text that an error keeps, so that an error's size is
/// bounded whatever the input.
const MAX_ERROR_TEXT_CHARS: usize = 64;

fn excerpt(text: &str) -> String {
    match text.char_indices().nth(MAX_ERROR_TEXT_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// Reads `text` as a decimal, exactly.
///
/// # Errors
///
/// A [`ParseDecimalError`] when `text` is not in the accepted form, or its value cannot be
/// kept digit for digit (see the module docs).
///
/// # Example
///
/// ```
/// use snapstate::decimal::parse_decimal;
/// use rust_decimal::Decimal;
///
/// assert_eq!(parse_decimal("-0.0100")?.to_string(), "-0.0100");
/// assert_eq!(parse_decimal("2.5000000000000000000000000000000")?, Decimal::new(25, 1));
/// assert!(parse_decimal("98.000000000000000000000000001").is_err());
/// # Ok::<(), snapstate::decimal::ParseDecimalError>(())
/// ```
pub fn parse_decimal(text: &str) -> Result<Decimal, ParseDecimalError> {
    let syntax = || ParseDecimalError::Syntax {
        text: excerpt(text),
    };
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (integer, fraction) = match unsigned.split_once('.') {
        Some((integer, fraction)) => (integer, fraction),
        None => (unsigned, ""),
    };
    let all_digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
    let has_point = unsigned.contains('.');
    if integer.is_empty()
        || (has_point && fraction.is_empty())
        || !all_digits(integer)
        || !all_digits(fraction)
    {
        return Err(syntax());
    }
    let significant = fraction.trim_end_matches('0');
    if significant.len() > MAX_SCALE as usize {
        return Err(ParseDecimalError::TooPrecise {
            text: excerpt(text),
            digits: significant.len(),
        });
    }
    let out_of_range = || ParseDecimalError::OutOfRange {
        text: excerpt(text),
    };
    let integer = integer.trim_start_matches('0');
    let mantissa = digits_value(integer, significant).ok_or_else(out_of_range)?;
    // Keep the text's trailing zeros where they fit, so that the value prints as written.
    let mut scale = significant.len();
    let mut mantissa = mantissa;
    let written_scale = fraction.len().min(MAX_SCALE as usize);
    while scale < written_scale {
        match mantissa
            .checked_mul(10)
            .filter(|value| *value <= MAX_MANTISSA)
        {
            Some(value) => {
                mantissa = value;
                scale += 1;
            }
            None => break,
        }
    }
    let signed = i128::try_from(mantissa).map_err(|_| out_of_range())?;
    let signed = if negative { -signed } else { signed };
    // `scale` is at most MAX_SCALE and the mantissa at most MAX_MANTISSA, so this cannot fail.
    Decimal::try_from_i128_with_scale(signed, scale as u32).map_err(|_| out_of_range())
}

/// The integer whose decimal digits are `integer` followed by `fraction`, if it fits the
/// mantissa.
fn digits_value(integer: &str, fraction: &str) -> Option<u128> {
    integer
        .bytes()
        .chain(fraction.bytes())
        .try_fold(0_u128, |value, digit| {
            value
                .checked_mul(10)?
                .checked_add(u128::from(digit - b'0'))
                .filter(|value| *value <= MAX_MANTISSA)
        })
}

/// Strict serde support: decimals from strings (read by [`parse_decimal`]) or JSON integers,
/// never through a binary float.
///
/// Use it with `#[serde(deserialize_with = "snapstate::decimal::serde::deserialize")]`
/// (and [`deserialize_option`](self::serde::deserialize_option) for an `Option`). A
/// fractional JSON number is refused: it reaches a deserializer as an `f64`, whose digits
/// are no longer the ones written.
#[cfg(feature = "serde")]
pub mod serde {
    use std::fmt;

    use rust_decimal::Decimal;
    use serde::de::{self, Deserializer, Visitor};

    struct Strict;

    impl Visitor<'_> for Strict {
        type Value = Decimal;

        fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
            formatter.write_str("a decimal as a string, such as \"98.5\", or an integer")
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<Decimal, E> {
            super::parse_decimal(text).map_err(E::custom)
        }

        fn visit_i64<E: de::Error>(self, value: i64) -> Result<Decimal, E> {
            Ok(Decimal::from(value))
        }

        fn visit_u64<E: de::Error>(self, value: u64) -> Result<Decimal, E> {
            Ok(Decimal::from(value))
        }

        fn visit_i128<E: de::Error>(self, value: i128) -> Result<Decimal, E> {
            Decimal::try_from_i128_with_scale(value, 0)
                .map_err(|_| E::custom(format!("{value} does not fit a decimal")))
        }

        fn visit_u128<E: de::Error>(self, value: u128) -> Result<Decimal, E> {
            i128::try_from(value)
                .map_err(|_| E::custom(format!("{value} does not fit a decimal")))
                .and_then(|value| self.visit_i128(value))
        }

        fn visit_f64<E: de::Error>(self, value: f64) -> Result<Decimal, E> {
            Err(E::custom(format!(
                "the fractional number {value} passed through a binary float; write decimals \
                 as strings, such as \"98.5\", to keep every digit"
            )))
        }
    }

    /// Deserializes a decimal strictly (see the [module docs](self)).
    ///
    /// # Errors
    ///
    /// The deserializer's error for a refused text, a fractional number or another type.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
        deserializer.deserialize_any(Strict)
    }

    /// Deserializes an optional decimal strictly: `null` (or, with `#[serde(default)]`, a
    /// missing field) is `None`.
    ///
    /// # Errors
    ///
    /// As [`deserialize`].
    pub fn deserialize_option<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Decimal>, D::Error> {
        struct Optional;

        impl<'de> Visitor<'de> for Optional {
            type Value = Option<Decimal>;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("null or a decimal")
            }

            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }

            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }

            fn visit_some<D: Deserializer<'de>>(
                self,
                deserializer: D,
            ) -> Result<Self::Value, D::Error> {
                deserialize(deserializer).map(Some)
            }
        }

        deserializer.deserialize_option(Optional)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_texts_keep_their_value_and_scale() {
        for (text, mantissa, scale) in [
            ("0", 0, 0),
            ("98", 98, 0),
            ("98.50", 9850, 2),
            ("-0.0100", -100, 4),
            ("+7", 7, 0),
            ("007.5", 75, 1),
            (
                "79228162514264337593543950335",
                79_228_162_514_264_337_593_543_950_335,
                0,
            ),
            ("0.0000000000000000000000000001", 1, 28),
        ] {
            let value = parse_decimal(text).expect(text);
            assert_eq!(
                value,
                Decimal::from_i128_with_scale(mantissa, scale),
                "{text}"
            );
            assert_eq!(value.scale(), scale, "{text}");
        }
    }

    #[test]
    fn trailing_zeros_beyond_what_fits_are_dropped_without_changing_the_value() {
        let value = parse_decimal("1.5000000000000000000000000000000000000").expect("exact");
        assert_eq!(value, Decimal::new(15, 1));
        assert_eq!(value.scale(), MAX_SCALE);
        let large = parse_decimal("79228162514264337593543950335.000").expect("exact");
        assert_eq!(large, Decimal::MAX);
        assert_eq!(large.scale(), 0);
    }

    #[test]
    fn a_text_that_would_round_is_refused() {
        for text in [
            "1.00000000000000000000000000000000001",
            "0.00000000000000000000000000001",
        ] {
            assert!(
                parse_decimal(text).expect_err(text).is_too_precise(),
                "{text}"
            );
        }
        for text in [
            "79228162514264337593543950336",
            // 27 fractional digits fit the scale, but not beside two integer digits.
            "98.000000000000000000000000001",
            "123456789012345678901234567890.1",
            "100000000000000000000000000000000000000000000",
        ] {
            assert!(
                parse_decimal(text).expect_err(text).is_out_of_range(),
                "{text}"
            );
        }
    }

    #[test]
    fn text_outside_the_accepted_form_is_a_syntax_error() {
        for text in [
            "", "-", ".5", "5.", "1e5", "1_000", " 1", "1 ", "0x10", "1.2.3", "--1", "٣",
        ] {
            assert!(parse_decimal(text).expect_err(text).is_syntax(), "{text:?}");
        }
    }

    #[test]
    fn an_error_keeps_a_bounded_excerpt() {
        let text = "9".repeat(10_000);
        let error = parse_decimal(&text).expect_err("too large");
        assert!(error.to_string().len() < 200, "{error}");
    }
}
