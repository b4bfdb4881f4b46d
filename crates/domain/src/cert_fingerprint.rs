//! A TLS certificate's SHA-256 as people read and type it: `AB:CD:…` (what `drover serve`
//! and `openssl x509 -fingerprint -sha256` print), plain hex, or with a `SHA256:` prefix;
//! kept as 64 lower-case hex digits.

/// A fingerprint as given, as lower-case hex; Err says what is wrong with it.
pub fn parse(text: &str) -> Result<String, String> {
    let t = text.trim();
    let t = t.strip_prefix("SHA256:").or_else(|| t.strip_prefix("sha256:")).unwrap_or(t);
    let hex: String = t.chars().filter(|c| *c != ':').collect::<String>().to_ascii_lowercase();
    if hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(hex)
    } else {
        Err(format!(
            "'{text}' is not a certificate's SHA-256 fingerprint: give its 64 hex digits (colons allowed), \
             as `drover serve` prints at start or `openssl x509 -noout -fingerprint -sha256 -in CERT` shows"
        ))
    }
}

/// A SHA-256 (hex) as people compare it: upper-case hex pairs joined by colons.
pub fn show(sha256_hex: &str) -> String {
    let upper = sha256_hex.to_ascii_uppercase();
    upper.as_bytes().chunks(2).filter_map(|c| std::str::from_utf8(c).ok()).collect::<Vec<_>>().join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fingerprint_reads_in_every_usual_form() {
        let hex = "0a".repeat(32);
        assert_eq!(parse(&hex).unwrap(), hex);
        assert_eq!(parse(&show(&hex)).unwrap(), hex);
        assert_eq!(show(&hex), vec!["0A"; 32].join(":"));
        assert_eq!(parse(&format!("SHA256:{}", hex.to_uppercase())).unwrap(), hex);
        assert!(parse("0a:0b").unwrap_err().contains("64 hex digits"));
        assert!(parse(&"zz".repeat(32)).is_err());
    }
}
