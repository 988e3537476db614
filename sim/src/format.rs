//! Number formatting shared by the command's tables.

/// `1234567` as `1,234,567`.
pub fn grouped(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// A probability as a percentage without needless digits: `0.005` as `0.5%`.
pub fn percent(probability: f64) -> String {
    let value = probability * 100.0;
    let text = format!("{value:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}%")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
        assert_eq!(grouped(u64::MAX), "18,446,744,073,709,551,615");
    }

    #[test]
    fn percentages_drop_trailing_zeros() {
        assert_eq!(percent(0.0), "0%");
        assert_eq!(percent(0.005), "0.5%");
        assert_eq!(percent(0.01), "1%");
        assert_eq!(percent(1.0), "100%");
    }
}
