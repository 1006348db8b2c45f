//! Sharing the leader's read index among reads that overlap on a member that is not the
//! leader. Each read must learn an index the leader confirmed after the read began; asking
//! once per read costs a round trip each. Instead at most one request is in flight: every
//! read that began before it was sent may use its answer, and the reads that began while it
//! was in flight wait for it to end and then share the next one. Under load this is one
//! round trip for many reads; alone, a read costs the same single round trip as before.

use std::future::Future;
use std::sync::Mutex;

use tokio::sync::watch;

/// Whether the answer to request number `asked` may serve a read that began when
/// `sent_before` requests had been sent: only one sent after the read began reflects every
/// write acknowledged before it (an older request may have been answered before that write).
pub(super) fn serves(sent_before: u64, asked: u64) -> bool {
    asked > sent_before
}

/// The one request in flight to the leader, and the last answer, shared by this member's
/// reads.
#[derive(Debug)]
pub(super) struct Shared<E> {
    state: Mutex<State>,
    answers: watch::Sender<Option<Answer<E>>>,
}

#[derive(Debug, Default)]
struct State {
    /// How many requests were sent so far; the last one is number `sent`.
    sent: u64,
    /// Whether request number `sent` is still awaited.
    in_flight: bool,
}

/// What request number `asked` brought back.
#[derive(Debug, Clone)]
struct Answer<E> {
    asked: u64,
    index: Result<u64, E>,
}

impl<E> Default for Shared<E> {
    fn default() -> Self {
        Self {
            state: Mutex::new(State::default()),
            answers: watch::channel(None).0,
        }
    }
}

impl<E: Clone> Shared<E> {
    /// The leader's read index as confirmed after this call began: from a request sent by
    /// an overlapping read if one is sent after now, otherwise from one `ask` sends here.
    pub(super) async fn index<F, Fut>(&self, ask: F) -> Result<u64, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<u64, E>>,
    {
        let mut answers = self.answers.subscribe();
        let sent_before = self.lock().sent;
        let mut ask = Some(ask);
        loop {
            let last = answers.borrow_and_update().clone();
            if let Some(answer) = last.filter(|a| serves(sent_before, a.asked)) {
                return answer.index;
            }
            let mine = {
                let mut state = self.lock();
                (!state.in_flight).then(|| {
                    state.in_flight = true;
                    state.sent += 1;
                    state.sent
                })
            };
            if let Some(asked) = mine {
                let ask = ask.take().expect("a read sends at most one request");
                let mut asking = Asking {
                    shared: self,
                    asked,
                    index: None,
                };
                let index = ask().await;
                asking.index = Some(index.clone());
                return index;
            }
            // Woken by the answer, or by the asker giving up (then one of us asks).
            if answers.changed().await.is_err() {
                unreachable!("the sender lives as long as self");
            }
        }
    }
}

impl<E> Shared<E> {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The request in flight; when it ends (answered, or dropped because its read gave up) the
/// next read may send one, and the waiting reads are woken.
struct Asking<'a, E> {
    shared: &'a Shared<E>,
    asked: u64,
    index: Option<Result<u64, E>>,
}

impl<E> Drop for Asking<'_, E> {
    fn drop(&mut self) {
        // Under the lock, so that no read finds the request ended without its answer.
        let mut state = self.shared.lock();
        state.in_flight = false;
        match self.index.take() {
            Some(index) => {
                self.shared.answers.send_replace(Some(Answer {
                    asked: self.asked,
                    index,
                }));
            }
            None => self.shared.answers.send_modify(|_| {}),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    use tokio::sync::Notify;

    use super::*;

    #[test]
    fn only_a_request_sent_after_a_read_began_serves_it() {
        // (requests sent when the read began, number of the answered request, serves)
        let cases = [
            (0, 1, true),
            (0, 0, false),
            (3, 3, false),
            (3, 4, true),
            (3, 9, true),
            (5, 2, false),
        ];
        for (sent_before, asked, want) in cases {
            assert_eq!(
                serves(sent_before, asked),
                want,
                "began after {sent_before} requests, answer of request {asked}"
            );
        }
    }

    /// A leader that answers each request with its number, once released.
    struct Leader {
        asked: AtomicU64,
        release: Notify,
    }

    impl Leader {
        fn new() -> Arc<Self> {
            Arc::new(Self {
                asked: AtomicU64::new(0),
                release: Notify::new(),
            })
        }

        async fn answer(&self) -> Result<u64, String> {
            let n = self.asked.fetch_add(1, Ordering::SeqCst) + 1;
            self.release.notified().await;
            Ok(n * 10)
        }
    }

    async fn settle() {
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn reads_that_began_before_a_request_share_it_and_later_ones_wait_for_the_next() {
        let shared = Arc::new(Shared::<String>::default());
        let leader = Leader::new();
        let read = |shared: &Arc<Shared<String>>, leader: &Arc<Leader>| {
            let (shared, leader) = (shared.clone(), leader.clone());
            tokio::spawn(async move { shared.index(|| leader.answer()).await })
        };
        // The first read sends request 1; two more begin while it is in flight.
        let first = read(&shared, &leader);
        settle().await;
        assert_eq!(leader.asked.load(Ordering::SeqCst), 1);
        let second = read(&shared, &leader);
        let third = read(&shared, &leader);
        settle().await;
        assert_eq!(leader.asked.load(Ordering::SeqCst), 1, "they wait, not ask");
        // Request 1 answers: only the read that began before it was sent takes it.
        leader.release.notify_one();
        assert_eq!(first.await.unwrap(), Ok(10));
        settle().await;
        assert_eq!(
            leader.asked.load(Ordering::SeqCst),
            2,
            "the waiting reads send one request between them"
        );
        assert!(!second.is_finished() && !third.is_finished());
        leader.release.notify_one();
        assert_eq!(second.await.unwrap(), Ok(20));
        assert_eq!(third.await.unwrap(), Ok(20));
        assert_eq!(leader.asked.load(Ordering::SeqCst), 2);
        // A read that begins after that answer does not take it: it asks again.
        let fourth = read(&shared, &leader);
        settle().await;
        assert_eq!(leader.asked.load(Ordering::SeqCst), 3);
        leader.release.notify_one();
        assert_eq!(fourth.await.unwrap(), Ok(30));
    }

    #[tokio::test]
    async fn an_error_is_shared_like_an_answer() {
        let shared = Shared::<String>::default();
        let failed = shared.index(|| async { Err("no leader".to_owned()) }).await;
        assert_eq!(failed, Err("no leader".to_owned()));
        // The next read asks anew rather than taking the old error.
        assert_eq!(shared.index(|| async { Ok(7) }).await, Ok(7));
    }

    #[tokio::test]
    async fn a_read_that_gives_up_mid_request_lets_a_waiting_read_ask() {
        let shared = Arc::new(Shared::<String>::default());
        let leader = Leader::new();
        let (s, l) = (shared.clone(), leader.clone());
        // It gives up (times out) while its request is in flight.
        let gave_up = tokio::time::timeout(Duration::from_millis(20), async move {
            s.index(|| l.answer()).await
        });
        let (s, l) = (shared.clone(), leader.clone());
        let waiting = tokio::spawn(async move {
            // Begins while the first request is in flight.
            tokio::task::yield_now().await;
            s.index(|| l.answer()).await
        });
        assert!(gave_up.await.is_err(), "the first read timed out");
        settle().await;
        assert_eq!(
            leader.asked.load(Ordering::SeqCst),
            2,
            "the waiting read sent its own request"
        );
        leader.release.notify_one();
        let answered = tokio::time::timeout(Duration::from_secs(5), waiting).await;
        assert_eq!(answered.expect("answered, not stuck").unwrap(), Ok(20));
    }
}
