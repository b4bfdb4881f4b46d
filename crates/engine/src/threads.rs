//! Deployment threads: how many targets this node drives at once. The limit changes
//! live; waiting targets go first come, first served (so the oldest deployment first).

use serde::Serialize;
use std::sync::Mutex;
use tokio::sync::Notify;

/// What the API shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ThreadsInfo {
    pub threads: usize,
    pub running: usize,
    pub queued: usize,
}

#[derive(Debug)]
pub struct Threads {
    state: Mutex<State>,
    freed: Notify,
}

#[derive(Debug)]
struct State {
    limit: usize,
    running: usize,
    /// Who waits, in arrival order.
    queue: std::collections::VecDeque<u64>,
    next_id: u64,
}

/// A place in the queue; leaving it (a cancelled wait) removes it.
struct Waiting<'a> {
    threads: &'a Threads,
    id: u64,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let mut s = self.threads.lock();
        if let Some(pos) = s.queue.iter().position(|i| *i == self.id) {
            s.queue.remove(pos);
            drop(s);
            self.threads.freed.notify_waiters();
        }
    }
}

/// A held thread; dropping it frees the thread.
pub struct Thread<'a> {
    threads: &'a Threads,
}

impl Threads {
    pub fn new(limit: usize) -> Threads {
        Threads {
            state: Mutex::new(State {
                limit: limit.max(1),
                running: 0,
                queue: std::collections::VecDeque::new(),
                next_id: 0,
            }),
            freed: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for a free thread, in arrival order.
    pub async fn acquire(&self) -> Thread<'_> {
        let waiting = {
            let mut s = self.lock();
            s.next_id += 1;
            let id = s.next_id;
            s.queue.push_back(id);
            Waiting { threads: self, id }
        };
        loop {
            let notified = self.freed.notified();
            {
                let mut s = self.lock();
                if s.queue.front() == Some(&waiting.id) && s.running < s.limit {
                    s.queue.pop_front();
                    s.running += 1;
                    drop(s);
                    // the next in line may fit too
                    self.freed.notify_waiters();
                    return Thread { threads: self };
                }
            }
            notified.await;
        }
    }

    /// Changes the limit now: more threads start waiting targets at once; fewer let
    /// running targets finish and start no new ones until below the limit.
    pub fn set_limit(&self, limit: usize) {
        self.lock().limit = limit.max(1);
        self.freed.notify_waiters();
    }

    pub fn info(&self) -> ThreadsInfo {
        let s = self.lock();
        ThreadsInfo { threads: s.limit, running: s.running, queued: s.queue.len() }
    }
}

impl Drop for Thread<'_> {
    fn drop(&mut self) {
        self.threads.lock().running -= 1;
        self.threads.freed.notify_waiters();
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
        let a = t.acquire().await;
        let b = t.acquire().await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut waiting = Vec::new();
        for i in 0..3 {
            let (t, order) = (t.clone(), order.clone());
            waiting.push(tokio::spawn(async move {
                let _held = t.acquire().await;
                order.lock().unwrap().push(i);
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }));
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(t.info(), ThreadsInfo { threads: 2, running: 2, queued: 3 });
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
            let _held = t2.acquire().await;
            order2.lock().unwrap().push(9);
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        let (t3, order3) = (t.clone(), order.clone());
        let behind = tokio::spawn(async move {
            let _held = t3.acquire().await;
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
}
