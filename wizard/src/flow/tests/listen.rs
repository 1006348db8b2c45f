//! This server's own address is refused at its question when it cannot be listened on.

use super::*;

#[test]
fn an_address_that_cannot_be_listened_on_is_refused_at_its_question() {
    let remote = cluster();
    let mut environment = env();
    environment.can_listen = ListenCheck::new(|address| match address {
        "10.0.0.66:8443" => Err(format!("cannot listen on {address}: in use")),
        _ => Ok(()),
    });
    let mut p = ScriptedPrompter::new(vec![
        Y(true),
        T("10.0.0.66"),
        T("10.0.0.5"),
        Y(false),
        T("boot1"),
        Y(false),
        Y(false),
        T(""),
        Y(false),
    ]);
    let (preseed, _) = applied(Flow::new(environment, &remote).run(&mut p));
    assert_eq!(preseed.config["core.https_address"], "10.0.0.5:8443");
    assert_eq!(p.refusals(), ["cannot listen on 10.0.0.66:8443: in use"]);
}

#[test]
fn the_system_check_takes_what_the_daemon_serves_and_refuses_what_is_taken() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = taken.local_addr().unwrap().to_string();
    let served = "127.0.0.1:1".to_owned();
    let check = ListenCheck::system(vec![served.clone()]);
    assert_eq!(check.check(&served), Ok(()));
    let err = check.check(&taken).unwrap_err();
    assert!(err.contains(&format!("cannot listen on {taken}")), "{err}");
    assert_eq!(check.check("127.0.0.1:0"), Ok(()));
}
