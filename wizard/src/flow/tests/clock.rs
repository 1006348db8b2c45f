//! Token expiry is checked against the clock when the token is pasted, not when the
//! wizard started.

use std::sync::{Arc, Mutex};

use time::{Duration, OffsetDateTime};

use super::*;

/// A clock the test moves, starting at `env()`'s time.
fn movable() -> (Clock, Arc<Mutex<OffsetDateTime>>) {
    let now = Arc::new(Mutex::new(datetime!(2026-01-01 00:00 UTC)));
    let read = now.clone();
    (Clock::new(move || *read.lock().unwrap()), now)
}

#[test]
fn the_token_check_reads_the_clock_each_time() {
    let (clock, now) = movable();
    let check = checks::token(clock);
    let pasted = token("2026-01-01T00:01:00Z");
    assert!(check(&pasted).is_ok());
    *now.lock().unwrap() += Duration::minutes(2);
    let err = check(&pasted).unwrap_err();
    assert!(err.contains("expired at 2026-01-01T00:01:00Z"), "{err}");
}

#[test]
fn a_token_that_expired_while_the_wizard_waited_is_refused_when_pasted() {
    let (clock, now) = movable();
    let remote = cluster();
    let mut environment = env();
    environment.clock = clock;
    let flow = Flow::new(environment, &remote);
    // The operator went to fetch the token: it expired a minute after the wizard started,
    // and is pasted two minutes after.
    *now.lock().unwrap() += Duration::minutes(2);
    let mut p = ScriptedPrompter::new(vec![
        Y(true),
        T(""),
        Y(true),
        S(token("2026-01-01T00:01:00Z")),
        S(token("2026-01-01T01:00:00Z")),
        Y(true),
        T(""),
        Y(false),
    ]);
    applied(flow.run(&mut p));
    let refusals = p.refusals();
    assert_eq!(refusals.len(), 1, "{refusals:#?}");
    assert!(refusals[0].contains("expired at 2026-01-01T00:01:00Z"));
    assert!(!p.said().contains("expires at 2026-01-01T00:01:00Z"));
}
