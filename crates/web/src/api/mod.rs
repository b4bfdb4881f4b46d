//! The JSON API, one module per feature.

mod assets;
mod credentials;
mod deployments;
mod host_keys;
mod node;
mod packages;
mod scan;
mod schedules;
mod selections;
mod session;
mod share_locations;

use axum::Router;
use drover_engine::Engine;

pub(crate) fn routes() -> Router<Engine> {
    Router::new()
        .merge(session::routes())
        .merge(credentials::routes())
        .merge(assets::routes())
        .merge(packages::routes())
        .merge(deployments::routes())
        .merge(host_keys::routes())
        .merge(node::routes())
        .merge(schedules::routes())
        .merge(scan::routes())
        .merge(selections::routes())
        .merge(share_locations::routes())
}
