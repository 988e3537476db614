//! Parsers for the command line's durations and rates, with typed errors that clap prints.

use std::time::Duration;

/// Why a duration argument was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Nothing, or no digits before the unit.
    #[error("expected a number followed by a unit (ms, s or m), e.g. 250ms, 10s, 2m")]
    NoNumber,
    /// A unit other than `ms`, `s` or `m`.
    #[error("unknown unit {0:?}: use ms, s or m")]
    UnknownUnit(String),
    /// More than [`MAX_DURATION`].
    #[error("longer than the limit of {} s", MAX_DURATION.as_secs())]
    TooLong,
}

/// The longest duration any option takes: one day, far beyond any sensible run, and small
/// enough that no time arithmetic on it can overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 60 * 60);

/// Parses `250ms`, `10s`, `1.5s` or `2m`; a bare number is seconds.
///
/// # Errors
///
/// A [`DurationError`] for anything else, or for more than [`MAX_DURATION`].
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let text = text.trim();
    let split = text
        .find(|character: char| !(character.is_ascii_digit() || character == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().map_err(|_| DurationError::NoNumber)?;
    let seconds_per_unit = match unit.trim() {
        "ms" => 0.001,
        "" | "s" => 1.0,
        "m" => 60.0,
        other => return Err(DurationError::UnknownUnit(other.to_owned())),
    };
    let seconds = value * seconds_per_unit;
    if !seconds.is_finite() || seconds > MAX_DURATION.as_secs_f64() {
        return Err(DurationError::TooLong);
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Like [`parse_duration`], refusing zero.
///
/// # Errors
///
/// As for [`parse_duration`], and [`PositiveDurationError::Zero`] for a zero duration.
pub fn parse_positive_duration(text: &str) -> Result<Duration, PositiveDurationError> {
    let duration = parse_duration(text)?;
    if duration.is_zero() {
        return Err(PositiveDurationError::Zero);
    }
    Ok(duration)
}

/// Why a duration that must be positive was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PositiveDurationError {
    /// Not a duration at all.
    #[error(transparent)]
    Invalid(#[from] DurationError),
    /// Zero.
    #[error("must be longer than zero")]
    Zero,
}

/// Why a rate argument was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RateError {
    /// Not a number.
    #[error("expected a probability between 0 and 1, e.g. 0.01")]
    NotANumber,
    /// Outside `0..=1`.
    #[error("{0} is not a probability between 0 and 1")]
    OutOfRange(String),
}

/// Parses a probability in `0..=1`, e.g. `0.01` for one event in a hundred.
///
/// # Errors
///
/// A [`RateError`] for anything else.
pub fn parse_rate(text: &str) -> Result<f64, RateError> {
    let value: f64 = text.trim().parse().map_err(|_| RateError::NotANumber)?;
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(RateError::OutOfRange(text.trim().to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_milliseconds_seconds_minutes_and_bare_seconds() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1_500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("0ms"), Ok(Duration::ZERO));
    }

    #[test]
    fn malformed_or_huge_durations_are_typed_errors() {
        assert_eq!(parse_duration(""), Err(DurationError::NoNumber));
        assert_eq!(parse_duration("ms"), Err(DurationError::NoNumber));
        assert_eq!(parse_duration("-1s"), Err(DurationError::NoNumber));
        assert_eq!(parse_duration("1.2.3s"), Err(DurationError::NoNumber));
        assert_eq!(
            parse_duration("5h"),
            Err(DurationError::UnknownUnit("h".into()))
        );
        assert_eq!(parse_duration("99999999m"), Err(DurationError::TooLong));
        assert_eq!(
            parse_duration(&"9".repeat(400)),
            Err(DurationError::TooLong)
        );
        assert_eq!(
            parse_positive_duration("0s"),
            Err(PositiveDurationError::Zero)
        );
    }

    #[test]
    fn rates_are_probabilities() {
        assert_eq!(parse_rate("0"), Ok(0.0));
        assert_eq!(parse_rate("0.25"), Ok(0.25));
        assert_eq!(parse_rate("1"), Ok(1.0));
        assert_eq!(parse_rate("1.5"), Err(RateError::OutOfRange("1.5".into())));
        assert_eq!(parse_rate("NaN"), Err(RateError::OutOfRange("NaN".into())));
        assert_eq!(parse_rate("often"), Err(RateError::NotANumber));
    }
}
