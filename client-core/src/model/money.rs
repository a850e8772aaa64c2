//! Money: `rust_decimal` yuan in code and on the API, integer fen in documents and storage, so
//! sums are exact to the fen.

use rust_decimal::Decimal;
use std::str::FromStr;

/// Turns an amount in yuan into fen. Refuses negative amounts, more than two decimals and
/// amounts too large to count.
pub fn yuan_to_fen(yuan: Decimal) -> Result<i64, String> {
    if yuan.is_sign_negative() && !yuan.is_zero() {
        return Err(format!("amount {yuan} is negative"));
    }
    if yuan.normalize().scale() > 2 {
        return Err(format!("amount {yuan} has more than two decimals (fen)"));
    }
    let fen = yuan * Decimal::ONE_HUNDRED;
    i64::try_from(fen.trunc()).map_err(|_| format!("amount {yuan} is too large"))
}

/// Parses a yuan amount written by a person ("1000", "1000.5", "4999.99").
pub fn parse_yuan(text: &str) -> Result<i64, String> {
    let trimmed = text.trim();
    let value = Decimal::from_str(trimmed).map_err(|_| format!("'{text}' is not an amount"))?;
    yuan_to_fen(value)
}

/// Fen back to yuan with two decimals.
pub fn fen_to_yuan(fen: i64) -> Decimal {
    Decimal::new(fen, 2)
}

/// An amount as people read it: yuan with thousands grouped and two decimals ("3,000.00",
/// "-12.50").
pub fn yuan_text(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let fen = fen.unsigned_abs();
    let digits = (fen / 100).to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{sign}{grouped}.{:02}", fen % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_grouped() {
        for (fen, text) in [
            (0, "0.00"),
            (5, "0.05"),
            (100_000, "1,000.00"),
            (300_000, "3,000.00"),
            (99_999, "999.99"),
            (123_456_789, "1,234,567.89"),
            (-1_250, "-12.50"),
            (i64::MIN, "-92,233,720,368,547,758.08"),
        ] {
            assert_eq!(yuan_text(fen), text);
        }
    }

    #[test]
    fn exact_conversions() {
        assert_eq!(parse_yuan("1000.00"), Ok(100_000));
        assert_eq!(parse_yuan("0.01"), Ok(1));
        assert_eq!(parse_yuan(" 4999.99 "), Ok(499_999));
        assert_eq!(fen_to_yuan(100_001).to_string(), "1000.01");
    }

    #[test]
    fn bad_amounts_are_refused() {
        // Tried: negative, three decimals, words, empty, overflow.
        assert!(parse_yuan("-1").is_err());
        assert!(parse_yuan("1.001").is_err());
        assert!(parse_yuan("ten").is_err());
        assert!(parse_yuan("").is_err());
        assert!(parse_yuan("99999999999999999999").is_err());
    }
}
