//! Newtype identifiers, so an asset id cannot be passed where a package id is meant.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($($name:ident),*) => {$(
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    )*};
}

id_type!(
    AssetId,
    CredentialId,
    PackageId,
    DeploymentId,
    TargetId,
    UserId,
    ScheduleId,
    DeployConfigId,
    MappingId,
    AuthorityId,
    ScanTargetId,
    GroupId,
    ReportId,
    ShareLocationId
);
