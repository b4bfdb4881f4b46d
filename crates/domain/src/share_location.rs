//! Package shares per location: an IP range whose targets fetch package files from a
//! nearer share (another drover node or a plain web server holding the files at
//! `BASE/files/<sha256>`, the server's own layout), still checked by SHA-256 on the target.

use crate::ids::ShareLocationId;
use crate::scope::IpRange;
use serde::{Deserialize, Serialize};

/// An IP range and the share its targets use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShareLocation {
    pub id: ShareLocationId,
    pub range: IpRange,
    /// The share's base URL (`http://` or `https://`, no trailing slash); files are at
    /// `{url}/files/<sha256>`.
    pub url: String,
    /// The SHA-256 (hex) of the `https://` share's TLS certificate, which targets pin
    /// (another drover node's own certificate); None: trusted through the public
    /// certificate authorities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_sha256: Option<String>,
    pub created_ms: i64,
}

/// Checks a share's base URL and gives it without a trailing slash.
pub fn share_url(url: &str) -> Result<String, String> {
    let u = url.trim().trim_end_matches('/');
    let rest = u.strip_prefix("https://").or_else(|| u.strip_prefix("http://"));
    match rest {
        Some(r)
            if !r.is_empty()
                && !r.starts_with('/')
                && !u.chars().any(|c| c.is_whitespace() || c == '?' || c == '#') =>
        {
            Ok(u.to_string())
        }
        _ => Err(format!(
            "'{url}' is not a share URL: give the base URL of a web server or drover node holding the package files at BASE/files/<sha256>, e.g. https://mirror.example/drover (http:// or https://, no query)"
        )),
    }
}

/// The location whose range holds `address`: the narrowest, the oldest among equals;
/// None when no range holds it (the target uses the server's own share).
pub fn location_for<'a>(locations: &'a [ShareLocation], address: &str) -> Option<&'a ShareLocation> {
    locations.iter().filter(|l| l.range.contains_address(address)).min_by_key(|l| (l.range.size(), l.id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(id: i64, range: &str) -> ShareLocation {
        let range = IpRange::parse(range).unwrap_or_else(|e| panic!("{e}"));
        ShareLocation { id: ShareLocationId(id), range, url: format!("http://s{id}"), cert_sha256: None, created_ms: 0 }
    }

    #[test]
    fn the_narrowest_range_holding_the_address_wins() {
        let all =
            [loc(1, "10.0.0.0/8"), loc(2, "10.1.0.0/16"), loc(3, "10.1.0.0/16"), loc(4, "192.168.0.1-192.168.0.9")];
        let id = |a: &str| location_for(&all, a).map(|l| l.id.0);
        assert_eq!(id("10.1.2.3"), Some(2));
        assert_eq!(id("10.2.0.1"), Some(1));
        assert_eq!(id("192.168.0.9"), Some(4));
        assert_eq!(id("192.168.0.10"), None);
        assert_eq!(id("web1.example"), None, "a name is in no range");
    }

    #[test]
    fn share_urls_are_http_bases() {
        assert_eq!(share_url(" https://m.example/drover/ ").as_deref(), Ok("https://m.example/drover"));
        assert_eq!(share_url("http://10.0.0.5:8000").as_deref(), Ok("http://10.0.0.5:8000"));
        for bad in ["ftp://x", "m.example", "http://", "http:///x", "http://x/?a=1", "http://a b"] {
            assert!(share_url(bad).is_err(), "{bad}");
        }
    }
}
