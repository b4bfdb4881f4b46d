//! Node leases and target claims: one claimer wins, an ended lease can be taken over,
//! a node whose own lease ended cannot claim, and cancel requests reach the driver once.

use crate::conformance;
use drover_domain::asset::NewAsset;
use drover_domain::deployment::{DeployOptions, Executor, RunMode, TargetState};
use drover_domain::ids::TargetId;
use drover_domain::package::parse_package;
use drover_domain::serve_ranges::ServeRanges;
use drover_store::{Claim, NewDeployment, Store};

conformance!(
    two_claimers_one_wins,
    an_ended_lease_is_taken_over,
    a_node_without_a_lease_claims_nothing,
    queued_unclaimed_targets_and_cancel_requests,
    a_node_s_serve_ranges_and_the_addresses_of_targets,
    a_node_says_where_deployers_reach_it,
);

fn all() -> ServeRanges {
    ServeRanges::all()
}

/// A deployment of `n` queued targets; their ids.
async fn targets(s: &Store, n: usize) -> Vec<TargetId> {
    let def = parse_package(
        "name = \"p\"\nversion = \"1\"\n[[steps]]\nname = \"a\"\ntype = \"command\"\ncommand = \"true\"\n",
        &[],
    )
    .unwrap();
    let pkg = s.create_package(&def, &[], 1).await.unwrap();
    let mut assets = Vec::new();
    for i in 0..n {
        let new = NewAsset { name: format!("h{i}"), address: format!("10.0.0.{i}"), ssh_port: 22, macs: vec![] };
        let a = s.create_asset(&new, 1).await.unwrap();
        assets.push((a.id, a.name));
    }
    let new = NewDeployment {
        package_id: pkg.id,
        package_name: "p".into(),
        package_version: "1".into(),
        executor: Executor::user("admin"),
        run_mode: RunMode::System,
        options: DeployOptions::default(),
        targets: assets,
        selection: None,
    };
    s.create_deployment(&new, 100).await.unwrap().1.into_iter().map(|t| t.id).collect()
}

async fn two_claimers_one_wins(s: Store) {
    let ids = targets(&s, 3).await;
    let now = 10_000;
    for n in ["a", "b"] {
        s.heartbeat(n, now, now + 15_000, &all()).await.unwrap();
    }
    for &id in &ids {
        let mut racers = Vec::new();
        for i in 0..8 {
            let s = s.clone();
            let me = if i % 2 == 0 { "a" } else { "b" };
            racers.push(tokio::spawn(async move { (me, s.claim_target(id, me, now).await.unwrap()) }));
        }
        let mut winners = Vec::new();
        for r in racers {
            let (me, claim) = r.await.unwrap();
            match claim {
                Claim::Won { from } => winners.push((me, from)),
                Claim::Lost => {}
            }
        }
        let first: Vec<_> = winners.iter().filter(|(_, from)| from.is_none()).collect();
        let driver = s.target(id).await.unwrap().server.unwrap();
        // the winner may claim again (it drives it), the other never
        assert!(winners.iter().all(|(me, _)| *me == driver), "only {driver} may win: {winners:?}");
        assert!(!first.is_empty(), "someone won target {id}");
        let other = if driver == "a" { "b" } else { "a" };
        assert_eq!(s.claim_target(id, other, now + 1).await.unwrap(), Claim::Lost, "its driver's lease runs");
        assert_eq!(s.claim_target(id, &driver, now + 1).await.unwrap(), Claim::Won { from: None }, "its own");
    }
    assert!(s.orphaned_targets("a", now).await.unwrap().is_empty(), "every lease runs");
}

async fn an_ended_lease_is_taken_over(s: Store) {
    let ids = targets(&s, 2).await;
    s.heartbeat("a", 0, 15_000, &all()).await.unwrap();
    s.heartbeat("b", 0, 15_000, &all()).await.unwrap();
    assert_eq!(s.claim_target(ids[0], "a", 1_000).await.unwrap(), Claim::Won { from: None });
    s.transition(ids[0], TargetState::Connecting, "connecting", None, 1_000).await.unwrap();
    s.transition(ids[0], TargetState::Running, "running", None, 1_000).await.unwrap();
    // b renews its lease, a does not (it died)
    s.heartbeat("b", 14_000, 29_000, &all()).await.unwrap();
    assert_eq!(s.claim_target(ids[0], "b", 14_000).await.unwrap(), Claim::Lost, "a's lease still runs");
    assert!(s.orphaned_targets("b", 14_000).await.unwrap().is_empty());
    let orphans = s.orphaned_targets("b", 16_000).await.unwrap();
    assert_eq!(orphans.iter().map(|t| t.id).collect::<Vec<_>>(), [ids[0]], "a's running target, not the queued one");
    assert_eq!(orphans[0].state, TargetState::Running);
    assert!(s.orphaned_targets("a", 16_000).await.unwrap().is_empty(), "its own are not orphans to a node");
    // two nodes take over at once: one wins
    s.heartbeat("c", 16_000, 31_000, &all()).await.unwrap();
    let (x, y) = tokio::join!(s.claim_target(ids[0], "b", 16_000), s.claim_target(ids[0], "c", 16_000));
    let (x, y) = (x.unwrap(), y.unwrap());
    let taken = Claim::Won { from: Some(("a".to_string(), Some(15_000))) };
    assert!((x == taken) != (y == taken), "exactly one takes it over: {x:?} {y:?}");
    let winner = if x == taken { "b" } else { "c" };
    assert_eq!(s.target(ids[0]).await.unwrap().server.as_deref(), Some(winner));
    let of = |v: Vec<drover_domain::deployment::Target>| v.iter().map(|t| t.id).collect::<Vec<_>>();
    assert_eq!(of(s.unfinished_targets_of(winner).await.unwrap()), [ids[0]]);
    assert!(s.unfinished_targets_of("a").await.unwrap().is_empty(), "a drives nothing now");
    // a comes back: it cannot take its target back while the winner's lease runs
    s.heartbeat("a", 17_000, 32_000, &all()).await.unwrap();
    assert_eq!(s.claim_target(ids[0], "a", 17_000).await.unwrap(), Claim::Lost);
    // a final target is claimed by nobody
    s.transition(ids[0], TargetState::Success, "done", None, 18_000).await.unwrap();
    assert_eq!(s.claim_target(ids[0], winner, 18_000).await.unwrap(), Claim::Lost);
    assert!(s.orphaned_targets("a", 60_000).await.unwrap().is_empty(), "final targets are nobody's orphans");
    let nodes = s.nodes().await.unwrap();
    assert_eq!(nodes.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(), ["a", "b", "c"]);
    assert_eq!((nodes[0].heartbeat_ms, nodes[0].lease_until_ms), (17_000, 32_000));
}

async fn a_node_without_a_lease_claims_nothing(s: Store) {
    let ids = targets(&s, 1).await;
    assert_eq!(s.claim_target(ids[0], "ghost", 1_000).await.unwrap(), Claim::Lost, "no lease at all");
    s.heartbeat("late", 0, 5_000, &all()).await.unwrap();
    assert_eq!(s.claim_target(ids[0], "late", 6_000).await.unwrap(), Claim::Lost, "its lease ended");
    assert_eq!(s.target(ids[0]).await.unwrap().server, None);
    assert!(s.heartbeat("", 0, 1, &all()).await.is_err(), "a node has a name");
}

async fn queued_unclaimed_targets_and_cancel_requests(s: Store) {
    let ids = targets(&s, 4).await;
    s.heartbeat("a", 0, 15_000, &all()).await.unwrap();
    let newest: Vec<_> = s.unclaimed_targets(2).await.unwrap().iter().map(|t| t.id).collect();
    assert_eq!(newest, [ids[3], ids[2]], "newest first, at most the limit");
    s.claim_target(ids[3], "a", 1).await.unwrap();
    s.transition(ids[2], TargetState::Cancelled, "cancelled", None, 1).await.unwrap();
    let left: Vec<_> = s.unclaimed_targets(10).await.unwrap().iter().map(|t| t.id).collect();
    assert_eq!(left, [ids[1], ids[0]], "claimed and final targets are not offered");
    // a cancel asked for on any node reaches the driving node once
    assert!(s.request_cancel(ids[3], "cancelled by user:admin").await.unwrap());
    assert!(s.take_cancel_requests("b").await.unwrap().is_empty(), "not b's");
    assert_eq!(s.take_cancel_requests("a").await.unwrap(), [(ids[3], "cancelled by user:admin".to_string())]);
    assert!(s.take_cancel_requests("a").await.unwrap().is_empty(), "taken once");
    assert!(!s.request_cancel(ids[2], "too late").await.unwrap(), "an ended target needs none");
}

async fn a_node_s_serve_ranges_and_the_addresses_of_targets(s: Store) {
    let ids = targets(&s, 3).await;
    let ranges = ServeRanges::parse(&["10.0.0.0/31,10.9.0.1-10.9.0.9"]).unwrap();
    s.heartbeat("a", 0, 15_000, &ranges).await.unwrap();
    s.heartbeat("b", 0, 15_000, &all()).await.unwrap();
    let nodes = s.nodes().await.unwrap();
    assert_eq!(nodes[0].serve_ranges, ranges, "a's ranges read back");
    assert!(nodes[1].serve_ranges.is_all(), "b serves every address");
    // the next heartbeat writes the ranges again: a node restarted with others
    let narrower = ServeRanges::parse(&["10.0.0.2/32"]).unwrap();
    s.heartbeat("a", 1_000, 16_000, &narrower).await.unwrap();
    assert_eq!(s.nodes().await.unwrap()[0].serve_ranges, narrower);
    // the addresses of what a node picks from
    let assets: Vec<_> = {
        let mut v = Vec::new();
        for &id in &ids {
            v.push(s.target(id).await.unwrap().asset_id);
        }
        v
    };
    let addresses = s.asset_addresses(&assets).await.unwrap();
    assert_eq!(addresses.len(), 3);
    assert_eq!(addresses[&assets[2]], "10.0.0.2");
    assert!(s.asset_addresses(&[]).await.unwrap().is_empty());
    s.claim_target(ids[2], "a", 2_000).await.unwrap();
    let unclaimed = s.unclaimed_target_addresses().await.unwrap();
    assert_eq!(unclaimed, [(ids[1], "10.0.0.1".to_string()), (ids[0], "10.0.0.0".to_string())], "newest first");
}

async fn a_node_says_where_deployers_reach_it(s: Store) {
    s.heartbeat("a", 0, 15_000, &all()).await.unwrap();
    s.heartbeat("b", 0, 15_000, &all()).await.unwrap();
    s.set_node_address("a", Some("https://10.0.0.1:8080"), Some(&"ab".repeat(32))).await.unwrap();
    // a later heartbeat keeps it
    s.heartbeat("a", 1_000, 16_000, &all()).await.unwrap();
    let nodes = s.nodes().await.unwrap();
    assert_eq!(nodes[0].url.as_deref(), Some("https://10.0.0.1:8080"));
    assert_eq!(nodes[0].cert_sha256, Some("ab".repeat(32)));
    assert_eq!((nodes[1].url.as_deref(), nodes[1].cert_sha256.as_deref()), (None, None), "b said nothing");
    s.set_node_address("a", None, None).await.unwrap();
    assert_eq!(s.nodes().await.unwrap()[0].url, None);
}
