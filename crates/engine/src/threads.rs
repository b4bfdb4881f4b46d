//! Deployment threads: how many targets this node drives at once. The limit changes
//! live. Waiting targets are grouped by deployment; a freed thread goes to the
//! deployment with the fewest targets running (the oldest one on a tie), first come,
//! first served within it. So one large deployment does not hold back a small one
//! started after it, and with one deployment the order is simply first come, first served.

pub use drover_api::threads::ThreadsInfo;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

#[derive(Debug)]
pub struct Threads {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    limit: usize,
    running: usize,
    /// Who waits, per group (deployment id, oldest first), in arrival order, each with
    /// what wakes it alone: a freed thread wakes the one waiter it goes to, never all of
    /// them (100,000 waiters woken at every release made a large deployment quadratic).
    waiting: BTreeMap<u64, VecDeque<(u64, Arc<Notify>)>>,
    /// Waiters counted in `waiting` (those that left are skipped when their turn comes).
    queued: usize,
    /// Waiters that gave up (their wait was cancelled) before their turn.
    left: HashSet<u64>,
    /// Waiters given a thread that have not taken it yet.
    granted: HashSet<u64>,
    /// Running targets per group.
    running_by: HashMap<u64, usize>,
    next_id: u64,
}

impl State {
    /// Gives the free threads to the waiters whose turn it is: the front of the group
    /// with the fewest running, one at a time.
    fn hand_out(&mut self) {
        while self.running < self.limit {
            let group = self
                .waiting
                .iter()
                .min_by_key(|(g, _)| (self.running_by.get(*g).copied().unwrap_or(0), **g))
                .map(|(g, _)| *g);
            let Some(group) = group else { return };
            let Some(q) = self.waiting.get_mut(&group) else { return };
            let next = q.pop_front();
            if q.is_empty() {
                self.waiting.remove(&group);
            }
            let Some((id, wake)) = next else { continue };
            if self.left.remove(&id) {
                continue;
            }
            self.queued -= 1;
            self.running += 1;
            *self.running_by.entry(group).or_default() += 1;
            self.granted.insert(id);
            wake.notify_one();
        }
    }

    /// A thread of `group` ends: the next waiter gets it.
    fn release(&mut self, group: u64) {
        self.running -= 1;
        if let Some(n) = self.running_by.get_mut(&group) {
            *n -= 1;
            if *n == 0 {
                self.running_by.remove(&group);
            }
        }
        self.hand_out();
    }
}

/// A place in the queue; leaving it (a cancelled wait) removes it, or gives back the
/// thread it was granted meanwhile.
struct Waiting<'a> {
    threads: &'a Threads,
    group: u64,
    id: u64,
    taken: bool,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if self.taken {
            return;
        }
        let mut s = self.threads.lock();
        if s.granted.remove(&self.id) {
            s.release(self.group);
        } else {
            s.left.insert(self.id);
            s.queued -= 1;
        }
    }
}

/// A held thread; dropping it frees the thread.
pub struct Thread<'a> {
    threads: &'a Threads,
    group: u64,
}

impl Threads {
    pub fn new(limit: usize) -> Threads {
        Threads {
            state: Mutex::new(State {
                limit: limit.max(1),
                running: 0,
                waiting: BTreeMap::new(),
                queued: 0,
                left: HashSet::new(),
                granted: HashSet::new(),
                running_by: HashMap::new(),
                next_id: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for a free thread for a target of `group` (its deployment).
    pub async fn acquire(&self, group: u64) -> Thread<'_> {
        let wake = Arc::new(Notify::new());
        let mut waiting = {
            let mut s = self.lock();
            s.next_id += 1;
            let id = s.next_id;
            s.waiting.entry(group).or_default().push_back((id, wake.clone()));
            s.queued += 1;
            s.hand_out();
            Waiting { threads: self, group, id, taken: false }
        };
        loop {
            if self.lock().granted.remove(&waiting.id) {
                waiting.taken = true;
                return Thread { threads: self, group };
            }
            // a grant made before this wait stored a permit: it is not missed
            wake.notified().await;
        }
    }

    /// Changes the limit now: more threads start waiting targets at once; fewer let
    /// running targets finish and start no new ones until below the limit.
    pub fn set_limit(&self, limit: usize) {
        let mut s = self.lock();
        s.limit = limit.max(1);
        s.hand_out();
    }

    /// How many more targets this node takes on now: its threads and as many waiting for
    /// them, less those running or waiting. A node that takes other nodes' work keeps a
    /// backlog, so that a thread freed between two of its passes goes on at once (with
    /// only its free threads, two nodes did 1.72x the work of one in the scale benchmark).
    pub fn room(&self) -> usize {
        let s = self.lock();
        (2 * s.limit).saturating_sub(s.running + s.queued)
    }

    pub fn info(&self) -> ThreadsInfo {
        let s = self.lock();
        ThreadsInfo { threads: s.limit, running: s.running, queued: s.queued }
    }
}

impl Drop for Thread<'_> {
    fn drop(&mut self) {
        self.threads.lock().release(self.group);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test]
    async fn limit_order_and_live_changes() {
        let t = Arc::new(Threads::new(2));
        assert_eq!(t.room(), 4, "two threads and two waiting");
        let a = t.acquire(1).await;
        assert_eq!(t.room(), 3, "what other nodes' targets may still get");
        let b = t.acquire(1).await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut waiting = Vec::new();
        for i in 0..3 {
            let (t, order) = (t.clone(), order.clone());
            waiting.push(tokio::spawn(async move {
                let _held = t.acquire(1).await;
                order.lock().unwrap().push(i);
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }));
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(t.info(), ThreadsInfo { threads: 2, running: 2, queued: 3 });
        assert_eq!(t.room(), 0, "two running and three waiting: no room");
        drop(a);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(*order.lock().unwrap(), vec![0], "first come, first served");
        t.set_limit(4);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(*order.lock().unwrap(), vec![0, 1, 2]);
        assert_eq!(t.info(), ThreadsInfo { threads: 4, running: 4, queued: 0 });
        t.set_limit(1);
        assert_eq!(t.info().running, 4, "running targets are not interrupted");
        // a cancelled wait leaves the queue and does not block those behind it
        let (t2, order2) = (t.clone(), order.clone());
        let stuck = tokio::spawn(async move {
            let _held = t2.acquire(1).await;
            order2.lock().unwrap().push(9);
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        let (t3, order3) = (t.clone(), order.clone());
        let behind = tokio::spawn(async move {
            let _held = t3.acquire(1).await;
            order3.lock().unwrap().push(10);
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(t.info().queued, 2);
        stuck.abort();
        for w in waiting {
            w.abort();
        }
        drop(b);
        tokio::time::timeout(Duration::from_secs(5), behind).await.unwrap().unwrap();
        assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 10]);
    }

    #[tokio::test]
    async fn a_small_deployment_is_not_held_back_by_a_large_one() {
        let t = Arc::new(Threads::new(2));
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut release = std::collections::HashMap::new();
        // deployment 1: six targets; deployment 2, started later: two
        for (group, n) in [(1u64, 6), (2, 2)] {
            for i in 0..n {
                let (t, order) = (t.clone(), order.clone());
                let (tx, rx) = tokio::sync::oneshot::channel::<()>();
                release.insert((group, i), tx);
                tokio::spawn(async move {
                    let _held = t.acquire(group).await;
                    order.lock().unwrap().push((group, i));
                    let _ = rx.await;
                });
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        assert_eq!(*order.lock().unwrap(), vec![(1, 0), (1, 1)]);
        assert_eq!(t.info(), ThreadsInfo { threads: 2, running: 2, queued: 6 });
        // a freed thread goes to the deployment with the fewest running, the oldest on a tie
        for (done, next) in [((1, 0), (2, 0)), ((1, 1), (1, 2)), ((2, 0), (2, 1)), ((1, 2), (1, 3))] {
            let _ = release.remove(&done).unwrap().send(());
            tokio::time::sleep(Duration::from_millis(20)).await;
            assert_eq!(order.lock().unwrap().last(), Some(&next), "after {done:?} ended");
        }
    }
}
