//! Share locations (admin only): `/share-locations`, `/share-locations/{id}`.

use drover_domain::share_location::ShareLocation;
use serde::{Deserialize, Serialize};

/// `POST /share-locations`: targets whose address is in `range` fetch package files from
/// `url` (files at `url/files/<sha256>`, checked by SHA-256 on the target).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddShareLocation {
    /// A CIDR (`10.1.0.0/16`) or `first-last` range.
    pub range: String,
    /// The base URL of another drover node's share (`https://node2:8080/share/v1`) or of
    /// a plain web server holding the files.
    pub url: String,
    /// The SHA-256 of an `https://` share's TLS certificate, which targets then pin
    /// (another drover node's self-made certificate); absent: the public authorities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

/// `GET /share-locations`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShareLocations {
    pub locations: Vec<ShareLocation>,
}
