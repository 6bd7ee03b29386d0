//! Byte sizes given on the command line (`--cache-size`, `synth --state-bytes`, ...):
//! one grammar for every option, so `1MB` means the same everywhere.

/// Parses a byte count: a number (a fraction allowed) with an optional suffix —
/// `K`/`KiB`, `M`/`MiB`, `G`/`GiB`, `T`/`TiB` are powers of 1,024 (`k`, `m`, `g`, `t`
/// too); `kB`/`KB`, `MB`, `GB`, `TB` are powers of 1,000; `B` is a byte.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, suffix) = t.split_at(split);
    let mult: u64 = match suffix.trim() {
        "" | "B" => 1,
        "K" | "k" | "KiB" | "kiB" => 1 << 10,
        "M" | "m" | "MiB" => 1 << 20,
        "G" | "g" | "GiB" => 1 << 30,
        "T" | "t" | "TiB" => 1 << 40,
        "kB" | "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        other => {
            return Err(format!(
                "unknown size suffix {other:?} in {text:?} (use KiB, MiB, GiB, TiB or kB, MB, GB, TB)"
            ));
        }
    };
    let not_a_size = || format!("{text:?} is not a byte count (e.g. 4096, 16MiB, 1.5GiB)");
    if number.is_empty() || number.matches('.').count() > 1 {
        return Err(not_a_size());
    }
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| not_a_size())?
    };
    let too_large = || format!("{text:?} is too large");
    let mut bytes = whole.checked_mul(mult).ok_or_else(too_large)?;
    // The fraction exactly, in integers: 1.5KiB is 1536 bytes, 0.1kB is 100.
    if !fraction.is_empty() {
        let digits = fraction.len().min(18) as u32;
        let f: u128 = fraction[..digits as usize]
            .parse()
            .map_err(|_| not_a_size())?;
        let part = f * mult as u128 / 10u128.pow(digits);
        bytes = bytes.checked_add(part as u64).ok_or_else(too_large)?;
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn binary_and_decimal_suffixes_mean_the_same_everywhere() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("16MiB"), Ok(16 << 20));
        assert_eq!(parse_size("4G"), Ok(4 << 30));
        assert_eq!(parse_size("1MB"), Ok(1_000_000));
        assert_eq!(parse_size("1.5k"), Ok(1536));
        assert_eq!(parse_size("0.1kB"), Ok(100));
        assert_eq!(parse_size(" 2 KiB "), Ok(2048));
        for bad in [
            "",
            "12 parsecs",
            "1.2.3K",
            "MiB",
            "-1",
            "99999999999999999999",
        ] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        assert!(parse_size("20000000TiB").is_err());
    }
}
