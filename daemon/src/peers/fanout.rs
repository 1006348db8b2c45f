//! Calling many members at once: every call starts together, each is bounded, and the
//! answers come back one per target in the order the targets were given, whatever order
//! they arrived in and even if a call's task died.

use std::future::Future;
use std::time::Duration;

use super::{Member, PeerError};

/// Calls `call` on every target at once, each bounded by `wait`, and returns one answer per
/// target in the order given.
pub async fn fan_out<K, T, F, Fut>(
    targets: Vec<(K, Member)>,
    wait: Duration,
    call: F,
) -> Vec<(K, Result<T, PeerError>)>
where
    T: Send + 'static,
    F: Fn(Member) -> Fut,
    Fut: Future<Output = Result<T, PeerError>> + Send + 'static,
{
    let mut calls = tokio::task::JoinSet::new();
    let mut keys = Vec::with_capacity(targets.len());
    for (i, (key, member)) in targets.into_iter().enumerate() {
        let address = member.address().to_owned();
        keys.push((key, address.clone()));
        let answer = call(member);
        calls.spawn(async move {
            let answer = match tokio::time::timeout(wait, answer).await {
                Ok(answer) => answer,
                Err(_) => Err(PeerError::Unreachable {
                    address,
                    reason: format!("no answer within {wait:?}"),
                }),
            };
            (i, answer)
        });
    }
    let mut answers = Vec::with_capacity(keys.len());
    while let Some(joined) = calls.join_next().await {
        // A call whose task died has no answer; `collect` says so.
        if let Ok(answer) = joined {
            answers.push(answer);
        }
    }
    collect(keys, answers, |address| PeerError::Unreachable {
        address,
        reason: "the call stopped without an answer".into(),
    })
}

/// Puts `answers` (target index, answer) back in the order of `targets` (key, address); a
/// target without an answer gets `missing(address)`.
pub fn collect<K, T, E>(
    targets: Vec<(K, String)>,
    answers: Vec<(usize, Result<T, E>)>,
    missing: impl Fn(String) -> E,
) -> Vec<(K, Result<T, E>)> {
    let mut slots: Vec<Option<Result<T, E>>> = (0..targets.len()).map(|_| None).collect();
    for (i, answer) in answers {
        if let Some(slot) = slots.get_mut(i) {
            *slot = Some(answer);
        }
    }
    targets
        .into_iter()
        .zip(slots)
        .map(|((key, address), answer)| (key, answer.unwrap_or_else(|| Err(missing(address)))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(n: usize) -> Vec<(u64, String)> {
        (1..=n as u64)
            .map(|i| (i, format!("127.0.0.{i}:8443")))
            .collect()
    }

    #[test]
    fn answers_come_back_in_the_order_of_the_targets() {
        for (n, answers, want) in [
            (0, vec![], vec![]),
            (
                3,
                vec![(2, Ok(30)), (0, Ok(10)), (1, Ok(20))],
                vec![(1, Ok(10)), (2, Ok(20)), (3, Ok(30))],
            ),
            (
                2,
                vec![(1, Err("refused".to_owned())), (0, Ok(10))],
                vec![(1, Ok(10)), (2, Err("refused".to_owned()))],
            ),
            // A target without an answer is named, and answers for no target are dropped.
            (
                3,
                vec![(0, Ok(10)), (7, Ok(70))],
                vec![
                    (1, Ok(10)),
                    (2, Err("none from 127.0.0.2:8443".to_owned())),
                    (3, Err("none from 127.0.0.3:8443".to_owned())),
                ],
            ),
        ] {
            let got = collect(targets(n), answers, |a| format!("none from {a}"));
            assert_eq!(got, want, "{n} targets");
        }
    }

    #[tokio::test]
    async fn a_slow_member_is_bounded_and_the_others_answer() {
        let dialer = super::super::Dialer::new();
        let members = vec![
            ("fast", Member::new("127.0.0.1:1", dialer.clone())),
            ("slow", Member::new("127.0.0.2:1", dialer.clone())),
        ];
        let started = std::time::Instant::now();
        let got = fan_out(members, Duration::from_millis(200), |m| async move {
            if m.address().starts_with("127.0.0.2") {
                tokio::time::sleep(Duration::from_secs(30)).await;
            }
            Ok(m.address().to_owned())
        })
        .await;
        assert!(started.elapsed() < Duration::from_secs(5), "bounded");
        assert_eq!(got[0].0, "fast");
        assert_eq!(got[0].1.as_deref().ok(), Some("127.0.0.1:1"));
        assert_eq!(got[1].0, "slow");
        match &got[1].1 {
            Err(PeerError::Unreachable { address, reason }) => {
                assert_eq!(address, "127.0.0.2:1");
                assert!(reason.contains("no answer within 200ms"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }
}
