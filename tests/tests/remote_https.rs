//! `corral remote` over HTTPS, end to end: a laptop adds real members as remotes, trusting
//! them on first contact (by the user's word, a password or a token), and runs commands
//! through `REMOTE:`.

#[path = "remote_https/common.rs"]
mod common;

use corral_tests::{Cluster, Member};

use common::{
    Laptop, mode, names, pem_fingerprint, server_fingerprint, standalone, trust_store, trust_token,
    trusted_as,
};

#[test]
fn a_cluster_added_with_the_password_answers_every_command_through_its_prefix() {
    let cluster = Cluster::form(3);
    cluster[0]
        .corral(&["config", "set", "core.trust_password", "laptop-secret"])
        .ok();
    let laptop = Laptop::new();
    let address = cluster[1].address.clone();
    let expected = server_fingerprint(&address);

    let url = format!("https://{address}");
    let added = laptop.corral(
        &["remote", "add", "prod", &url, "--password", "laptop-secret"],
        "y\n",
    );
    let out = added.ok();
    assert!(
        out.contains(&format!(
            "Certificate fingerprint: {expected}\nok (y/n/[fingerprint])? "
        )),
        "{out}"
    );
    assert!(
        out.contains("Client certificate now trusted by server: prod"),
        "{out}"
    );
    assert!(
        added.stderr.contains("Generating a client certificate"),
        "{added:?}"
    );
    // The key is private, the pinned certificate is the one shown, the server trusts us.
    assert_eq!(mode(&laptop.conf()), 0o700);
    assert_eq!(mode(&laptop.conf().join("client.key")), 0o600);
    let pinned = std::fs::read_to_string(laptop.conf().join("servercerts/prod.crt")).unwrap();
    assert_eq!(pem_fingerprint(&pinned), expected);
    assert!(trust_store(&cluster[0]).contains(&laptop.client_fingerprint()));
    assert!(
        laptop.config_yml().contains(&format!(
            "  prod:\n    addr: https://{address}\n    auth_type: tls\n"
        )),
        "{}",
        laptop.config_yml()
    );

    // Through the prefix, while the default stays local (which has no daemon here).
    let listed = laptop.corral(&["cluster", "list", "prod:", "--format", "json"], "");
    assert_eq!(names(listed.ok()), ["node1", "node2", "node3"]);
    let local = laptop.corral(&["cluster", "list"], "");
    assert!(local.failed().contains("Is corrald running?"), "{local:?}");
    let shown = laptop.corral(&["cluster", "show", "prod:node3"], "");
    assert!(shown.ok().contains("server_name: node3\n"), "{shown:?}");
    let server = laptop.corral(&["query", "prod:/1.0"], "");
    let server: serde_json::Value = serde_json::from_str(server.ok()).unwrap();
    assert_eq!(server["auth"], "trusted");
    let config = laptop.corral(&["config", "show", "prod:"], "");
    assert!(
        config.ok().contains("core.trust_password: true"),
        "{config:?}"
    );
    laptop
        .corral(&["config", "set", "prod:", "user.laptop", "was-here"], "")
        .ok();
    let value = cluster[2].corral(&["config", "get", "user.laptop"]);
    assert_eq!(value.ok(), "was-here\n");
    let token = laptop.corral(&["cluster", "add", "prod:node4", "--quiet"], "");
    let token = token.ok().trim().to_owned();
    let node4 = Member::start("node4");
    node4.init(&node4.token_preseed(&cluster[0], &token)).ok();
    let listed = laptop.corral(&["cluster", "list", "prod:", "-f", "json"], "");
    assert_eq!(names(listed.ok()), ["node1", "node2", "node3", "node4"]);

    // Switched to, it is what commands without a prefix reach.
    laptop.corral(&["remote", "switch", "prod"], "").ok();
    let version = laptop.corral(&["version"], "");
    assert!(!version.ok().contains("unreachable"), "{version:?}");
    let listed = laptop.corral(&["cluster", "list", "-f", "csv"], "");
    assert_eq!(listed.ok().lines().count(), 4, "{listed:?}");
    // Renamed, its pinned certificate follows it.
    laptop
        .corral(&["remote", "rename", "prod", "live"], "")
        .ok();
    let listed = laptop.corral(&["cluster", "list", "live:", "-f", "csv"], "");
    assert_eq!(listed.ok().lines().count(), 4, "{listed:?}");
    let gone = laptop.corral(&["cluster", "list", "prod:"], "");
    assert!(
        gone.failed().contains("The remote \"prod\" doesn't exist"),
        "{gone:?}"
    );
}

#[test]
fn a_wrong_fingerprint_pasted_at_the_prompt_refuses_before_anything_is_sent() {
    let member = standalone("solo1", "pw");
    let laptop = Laptop::new();
    let store_before = trust_store(&member);
    let real = server_fingerprint(&member.address);
    let wrong = "ab".repeat(32);
    assert_ne!(real, wrong);

    for (answer, says) in [
        (format!("{wrong}\n"), "Certificate fingerprint mismatch"),
        ("n\n".to_owned(), "Server certificate NACKed by user"),
        (String::new(), "Server certificate NACKed by user"),
    ] {
        let refused = laptop.corral(
            &["remote", "add", "prod", &member.address, "--password", "pw"],
            &answer,
        );
        let error = refused.failed();
        assert!(error.contains(says), "{answer:?}: {error}");
        assert!(error.contains("nothing was sent"), "{error}");
        assert!(refused.stdout.contains(&real), "{refused:?}");
    }
    // The server's trust store is as it was, and the laptop remembers nothing of it.
    assert_eq!(trust_store(&member), store_before);
    assert!(!laptop.config_yml().contains("prod"));
    assert!(!laptop.conf().join("servercerts/prod.crt").exists());

    // Pasting the right fingerprint (any case, with colons) accepts it.
    let pasted = real
        .as_bytes()
        .chunks(2)
        .map(|pair| std::str::from_utf8(pair).unwrap().to_ascii_uppercase())
        .collect::<Vec<_>>()
        .join(":");
    laptop
        .corral(
            &["remote", "add", "prod", &member.address, "--password", "pw"],
            &format!("{pasted}\n"),
        )
        .ok();
    assert!(trust_store(&member).contains(&laptop.client_fingerprint()));
}

#[test]
fn accept_certificate_asks_nothing_and_a_wrong_password_says_what_to_check() {
    let member = standalone("solo2", "right");
    let laptop = Laptop::new();
    let store_before = trust_store(&member);

    let wrong = laptop.corral(
        &[
            "remote",
            "add",
            "prod",
            &member.address,
            "--accept-certificate",
            "--password",
            "wrong",
        ],
        "",
    );
    let error = wrong.failed();
    assert!(error.contains("not authorized"), "{error}");
    assert!(error.contains("core.trust_password"), "{error}");
    assert!(
        !wrong.stdout.contains("Certificate fingerprint"),
        "{wrong:?}"
    );
    assert_eq!(trust_store(&member), store_before);
    assert!(!laptop.config_yml().contains("prod"));

    // Without --password, the password is asked for (and read from a pipe here).
    let added = laptop.corral(
        &[
            "remote",
            "add",
            "prod",
            &member.address,
            "--accept-certificate",
        ],
        "right\n",
    );
    let out = added.ok();
    assert!(
        out.contains("Admin password (or token) for prod: "),
        "{out}"
    );
    assert!(!out.contains("Certificate fingerprint"), "{out}");
    let listed = laptop.corral(&["cluster", "list", "prod:", "-f", "csv"], "");
    assert!(listed.ok().starts_with("solo2,"), "{listed:?}");
    // Adding it again is refused as lxc refuses it.
    let again = laptop.corral(&["remote", "add", "prod", &member.address], "");
    let url = format!("https://{}", member.address);
    assert!(
        again
            .failed()
            .contains(&format!("Remote prod exists as <{url}>")),
        "{again:?}"
    );
}

#[test]
fn a_known_remote_presenting_another_certificate_is_refused_loudly() {
    let first = standalone("solo3", "pw");
    let other = standalone("solo4", "pw");
    let laptop = Laptop::new();
    let pinned = server_fingerprint(&first.address);
    let presented = server_fingerprint(&other.address);
    assert_ne!(pinned, presented, "two clusters, two certificates");
    laptop
        .corral(
            &[
                "remote",
                "add",
                "prod",
                &first.address,
                "--accept-certificate",
                "--password",
                "pw",
            ],
            "",
        )
        .ok();
    let other_store = trust_store(&other);

    // The same name now leads to another server.
    let url = format!("https://{}", other.address);
    laptop.corral(&["remote", "set-url", "prod", &url], "").ok();
    let refused = laptop.corral(&["cluster", "list", "prod:"], "");
    let error = refused.failed();
    for says in [
        "The server certificate of remote \"prod\"",
        "has changed, so nothing was sent to it",
        &format!("pinned:    {pinned}"),
        &format!("presented: {presented}"),
        "corral remote remove prod",
    ] {
        assert!(error.contains(says), "{says}: {error}");
    }
    assert_eq!(trust_store(&other), other_store);

    // Expected change: remove, add again, and it works.
    laptop.corral(&["remote", "remove", "prod"], "").ok();
    assert!(!laptop.conf().join("servercerts/prod.crt").exists());
    laptop
        .corral(
            &[
                "remote",
                "add",
                "prod",
                &url,
                "--accept-certificate",
                "--password",
                "pw",
            ],
            "",
        )
        .ok();
    let listed = laptop.corral(&["cluster", "list", "prod:", "-f", "csv"], "");
    assert!(listed.ok().starts_with("solo4,"), "{listed:?}");
}

#[test]
fn remotes_are_listed_switched_renamed_pointed_elsewhere_and_removed_as_lxc_does() {
    let laptop = Laptop::new();
    // No config yet: only the built-in local, and it is the default.
    assert_eq!(
        laptop.corral(&["remote", "get-default"], "").ok(),
        "local\n"
    );
    let listed = laptop.corral(&["remote", "list", "-f", "csv"], "");
    assert_eq!(
        listed.ok(),
        "local (current),unix://,lxd,file access,NO,YES,NO\n"
    );

    laptop
        .corral(
            &[
                "remote",
                "add",
                "lab",
                "ssh://admin@lab.example:2222/srv/corral",
            ],
            "",
        )
        .ok();
    laptop.corral(&["remote", "switch", "lab"], "").ok();
    assert_eq!(laptop.corral(&["remote", "get-default"], "").ok(), "lab\n");
    let table = laptop.corral(&["remote", "list"], "");
    let table = table.ok();
    for column in [
        "NAME",
        "URL",
        "PROTOCOL",
        "AUTH TYPE",
        "PUBLIC",
        "STATIC",
        "GLOBAL",
    ] {
        assert!(table.contains(column), "{table}");
    }
    assert!(table.contains("lab (current)"), "{table}");

    let refused = laptop.corral(&["remote", "remove", "lab"], "");
    assert!(
        refused.failed().contains("Can't remove the default remote"),
        "{refused:?}"
    );
    for args in [
        &["remote", "remove", "local"][..],
        &["remote", "rename", "local", "mine"],
        &["remote", "set-url", "local", "unix:///elsewhere"],
    ] {
        let refused = laptop.corral(args, "");
        assert!(
            refused
                .failed()
                .contains("Remote local is static and cannot be modified"),
            "{args:?}: {refused:?}"
        );
    }
    let refused = laptop.corral(&["remote", "add", "pw", "ssh://lab", "--password", "x"], "");
    assert!(
        refused
            .failed()
            .contains("--password and --token are for HTTPS remotes"),
        "{refused:?}"
    );
    let refused = laptop.corral(&["remote", "add", "bad", "ssh://@lab"], "");
    assert!(refused.failed().contains("empty user"), "{refused:?}");
    let refused = laptop.corral(&["remote", "switch", "nope"], "");
    assert!(
        refused.failed().contains("Remote nope doesn't exist"),
        "{refused:?}"
    );
    let refused = laptop.corral(&["cluster", "list", "nope:"], "");
    assert!(
        refused
            .failed()
            .contains("The remote \"nope\" doesn't exist"),
        "{refused:?}"
    );

    laptop.corral(&["remote", "rename", "lab", "lab2"], "").ok();
    assert_eq!(laptop.corral(&["remote", "get-default"], "").ok(), "lab2\n");
    laptop
        .corral(
            &["remote", "set-url", "lab2", "ssh://root@other.example"],
            "",
        )
        .ok();
    laptop.corral(&["remote", "switch", "local"], "").ok();
    laptop.corral(&["remote", "remove", "lab2"], "").ok();
    let listed = laptop.corral(&["remote", "list", "-f", "csv"], "");
    assert_eq!(
        listed.ok(),
        "local (current),unix://,lxd,file access,NO,YES,NO\n"
    );
    let yml = laptop.config_yml();
    assert!(yml.starts_with("default-remote: local\n"), "{yml}");
    assert!(!yml.contains("lab"), "{yml}");
}

#[test]
fn a_token_adds_the_remote_without_questions_and_works_once() {
    let cluster = Cluster::form(3);
    let token = trust_token(&cluster[0], "laptop");

    // `remote add NAME TOKEN`: the addresses and fingerprint come from the token.
    let laptop = Laptop::new();
    let added = laptop.corral(&["remote", "add", "prod", &token], "");
    let out = added.ok();
    assert!(!out.contains("Certificate fingerprint"), "{out}");
    assert!(!out.contains("password"), "{out}");
    assert!(
        out.contains("Client certificate now trusted by server: prod"),
        "{out}"
    );
    // Trusted under the token's name, on every member.
    assert_eq!(
        trusted_as(&cluster[2], &laptop.client_fingerprint()).as_deref(),
        Some("laptop")
    );
    let listed = laptop.corral(&["cluster", "list", "prod:", "-f", "json"], "");
    assert_eq!(names(listed.ok()), ["node1", "node2", "node3"]);
    let yml = laptop.config_yml();
    assert!(
        cluster
            .members()
            .iter()
            .any(|m| yml.contains(&format!("addr: https://{}\n", m.address))),
        "{yml}"
    );

    // The same token again, from another laptop: refused, with what to do.
    let other = Laptop::new();
    let reused = other.corral(&["remote", "add", "prod", &token], "");
    let error = reused.failed();
    assert!(error.contains("A token works once and expires"), "{error}");
    assert!(
        !other.config_yml().contains("prod"),
        "{}",
        other.config_yml()
    );
    assert_eq!(trusted_as(&cluster[0], &other.client_fingerprint()), None);

    // `--token` with an address checks the token's fingerprint instead of asking.
    let fresh = trust_token(&cluster[1], "laptop-2");
    other
        .corral(
            &[
                "remote",
                "add",
                "prod",
                &cluster[1].address,
                "--token",
                &fresh,
            ],
            "",
        )
        .ok();
    assert_eq!(
        trusted_as(&cluster[0], &other.client_fingerprint()).as_deref(),
        Some("laptop-2")
    );

    // A token pasted where the password is asked for works too.
    let third = Laptop::new();
    let pasted = trust_token(&cluster[2], "laptop-3");
    let added = third.corral(
        &[
            "remote",
            "add",
            "prod",
            &cluster[2].address,
            "--accept-certificate",
        ],
        &format!("{pasted}\n"),
    );
    assert!(
        added.ok().contains("Admin password (or token) for prod: "),
        "{added:?}"
    );
    third.corral(&["cluster", "list", "prod:"], "").ok();

    // Removed from the trust store, the client is refused at once, and told why.
    cluster[0]
        .corral(&["config", "trust", "remove", &third.client_fingerprint()])
        .ok();
    let refused = third.corral(&["cluster", "list", "prod:"], "");
    let error = refused.failed();
    assert!(
        error.contains("remote \"prod\" does not trust this client"),
        "{error}"
    );
}

#[test]
fn a_token_of_another_cluster_is_refused_before_anything_is_sent() {
    let ours = standalone("solo5", "pw");
    let theirs = standalone("solo6", "pw");
    let token = trust_token(&theirs, "laptop");
    let store = trust_store(&ours);
    let laptop = Laptop::new();
    let refused = laptop.corral(
        &["remote", "add", "prod", &ours.address, "--token", &token],
        "",
    );
    let error = refused.failed();
    assert!(
        error.contains("Certificate fingerprint mismatch between certificate token and server"),
        "{error}"
    );
    assert!(error.contains("nothing was sent"), "{error}");
    assert_eq!(trust_store(&ours), store);
    // The token was not spent: it still admits a client where it was issued.
    laptop.corral(&["remote", "add", "theirs", &token], "").ok();
    assert!(trusted_as(&theirs, &laptop.client_fingerprint()).is_some());
}
