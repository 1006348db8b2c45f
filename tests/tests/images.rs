//! Images across a cluster, driven as an operator would: `corral image import` on one
//! member and `list` from another, copies on as many members as
//! `cluster.images_minimal_replica` asks (read from `images_nodes` and the members' disks),
//! a member lacking the image fetching it from a holder and refusing a damaged copy,
//! deletion everywhere, aliases, a member joining later getting its copy, and the
//! refusals of files that are not images.
//!
//! One four-member cluster serves every step (formation is the slow part).

use std::path::{Path, PathBuf};
use std::time::Duration;

use corral_tests::{
    Cluster, Member, Monitor, fingerprint_of, test_image, wait_for_roles, wait_until,
};

/// The names of the members holding image `fp`, as the replicated `images_nodes` says.
fn holders(member: &Member, fp: &str) -> Vec<String> {
    let query = format!(
        "SELECT nodes.name FROM images_nodes JOIN nodes ON nodes.id = images_nodes.node_id \
         JOIN images ON images.id = images_nodes.image_id WHERE images.fingerprint = '{fp}' \
         ORDER BY nodes.name"
    );
    let out = member.corrald(&["sql", "global", &query], None);
    let mut names: Vec<String> = out
        .ok()
        .lines()
        .filter_map(|l| l.strip_prefix("| "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with("node"))
        .map(str::to_owned)
        .collect();
    names.sort();
    names
}

/// The members whose disk holds image `fp`'s file.
fn on_disk(cluster: &Cluster, fp: &str) -> Vec<String> {
    let mut names: Vec<String> = cluster
        .members()
        .iter()
        .filter(|m| image_file(m, fp).is_file())
        .map(|m| m.name.clone())
        .collect();
    names.sort();
    names
}

fn image_file(member: &Member, fp: &str) -> PathBuf {
    member.dir().join("images").join(fp)
}

/// Files in a member's image store that are neither images nor directories: transfers
/// or uploads left behind.
fn leftovers(member: &Member) -> Vec<String> {
    std::fs::read_dir(member.dir().join("images"))
        .map(|dir| {
            dir.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default()
}

fn listed(member: &Member) -> Vec<serde_json::Value> {
    let out = member.corral(&["image", "list", "--format", "json"]);
    serde_json::from_str(out.ok()).expect("image list prints JSON")
}

fn import(member: &Member, tarball: &Path, alias: Option<&str>) -> String {
    let path = tarball.to_str().expect("a UTF-8 path");
    let mut args = vec!["image", "import", path];
    if let Some(alias) = alias {
        args.extend(["--alias", alias]);
    }
    let out = member.corral(&args);
    out.ok()
        .trim()
        .strip_prefix("Image imported with fingerprint: ")
        .unwrap_or_else(|| panic!("unexpected import output: {out:?}"))
        .to_owned()
}

/// A gzip tarball of `dir`'s contents (made with tar, as an image author would).
fn tar_of(dir: &Path, out: &Path) {
    let status = std::process::Command::new("tar")
        .arg("-czf")
        .arg(out)
        .arg("-C")
        .arg(dir)
        .arg(".")
        .status()
        .expect("tar runs");
    assert!(status.success());
}

#[test]
fn images_are_imported_copied_fetched_and_deleted_across_the_cluster() {
    let image = test_image();
    let fp = fingerprint_of(&image);
    let mut cluster = Cluster::form(3);
    cluster.add("node4");
    wait_for_roles(&cluster[0], 4, 3, 1);

    refuses_files_that_are_not_images(&cluster[0]);

    // Two copies: the importer's and one more, on a member chosen at random.
    cluster[0]
        .corral(&["config", "set", "cluster.images_minimal_replica", "2"])
        .ok();
    assert_eq!(import(&cluster[1], &image, Some("busybox")), fp);
    let shown = listed(&cluster[3]);
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert_eq!(shown[0]["fingerprint"], fp.as_str());
    assert_eq!(shown[0]["aliases"][0]["name"], "busybox");
    assert_eq!(shown[0]["properties"]["os"], "busybox");
    assert_eq!(shown[0]["filename"], "busybox.tar.gz");
    assert_eq!(
        shown[0]["size"],
        std::fs::metadata(&image).unwrap().len() as i64
    );
    let table = cluster[2].corral(&["image", "list"]);
    assert!(table.ok().contains(&fp[..12]), "{table:?}");
    assert!(table.ok().contains("| busybox "), "{table:?}");
    let held = holders(&cluster[3], &fp);
    assert_eq!(held.len(), 2, "{held:?}");
    assert!(held.contains(&"node2".to_owned()), "{held:?}");
    assert_eq!(on_disk(&cluster, &fp), held);
    let duplicate = cluster[2].corral(&["image", "import", image.to_str().unwrap()]);
    assert!(
        duplicate
            .failed()
            .contains("Image with same fingerprint already exists"),
        "{duplicate:?}"
    );

    fetches_on_demand_and_refuses_a_damaged_copy(&cluster, &image, &fp);
    aliases_name_images(&cluster[2], &fp);
    properties_and_visibility_are_edited(&cluster, &fp);

    // Deleted through a member holding no copy: gone from the database and every disk.
    let lacking = cluster
        .members()
        .iter()
        .position(|m| !image_file(m, &fp).is_file());
    let via = &cluster[lacking.unwrap_or(0)];
    via.corral(&["image", "delete", "busybox"]).ok();
    for m in cluster.members() {
        assert!(listed(m).is_empty(), "{} still lists it", m.name);
    }
    assert!(holders(&cluster[0], &fp).is_empty());
    assert!(on_disk(&cluster, &fp).is_empty());
    let gone = cluster[0].corral(&["image", "show", &fp]);
    assert!(gone.failed().contains("Image not found"), "{gone:?}");

    // -1: every member keeps a copy.
    cluster[0]
        .corral(&["config", "set", "cluster.images_minimal_replica=-1"])
        .ok();
    assert_eq!(import(&cluster[3], &image, None), fp);
    let all = vec!["node1", "node2", "node3", "node4"];
    assert_eq!(holders(&cluster[0], &fp), all);
    assert_eq!(on_disk(&cluster, &fp), all);

    // A member joining later gets its copy in the background, from the leader's check.
    cluster.add("node5");
    let five = vec!["node1", "node2", "node3", "node4", "node5"];
    wait_until(
        "the new member to hold a copy of the image",
        Duration::from_secs(60),
        || (holders(&cluster[0], &fp) == five).then_some(()),
    );
    assert_eq!(fingerprint_of(&image_file(&cluster[4], &fp)), fp);
    for m in cluster.members() {
        assert!(leftovers(m).is_empty(), "{}: {:?}", m.name, leftovers(m));
    }
}

/// Files that are not LXD unified images are refused, saying why; nothing is recorded
/// or left on disk.
fn refuses_files_that_are_not_images(member: &Member) {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "this is not an image\n").unwrap();
    let out = member.corral(&["image", "import", text.to_str().unwrap()]);
    assert!(out.failed().contains("is not an image tarball"), "{out:?}");

    let no_metadata = dir.path().join("no-metadata");
    std::fs::create_dir_all(no_metadata.join("rootfs/bin")).unwrap();
    std::fs::write(no_metadata.join("rootfs/bin/true"), "").unwrap();
    let tarball = dir.path().join("no-metadata.tar.gz");
    tar_of(&no_metadata, &tarball);
    let out = member.corral(&["image", "import", tarball.to_str().unwrap()]);
    assert!(out.failed().contains("no metadata.yaml"), "{out:?}");

    let no_rootfs = dir.path().join("no-rootfs");
    std::fs::create_dir_all(&no_rootfs).unwrap();
    std::fs::write(no_rootfs.join("metadata.yaml"), "architecture: x86_64\n").unwrap();
    let tarball = dir.path().join("no-rootfs.tar.gz");
    tar_of(&no_rootfs, &tarball);
    let out = member.corral(&["image", "import", tarball.to_str().unwrap()]);
    assert!(out.failed().contains("no rootfs/"), "{out:?}");

    let unknown = member.corral(&["image", "show", "nothing-by-this-name"]);
    assert!(unknown.failed().contains("Image not found"), "{unknown:?}");
    assert!(listed(member).is_empty());
    assert!(leftovers(member).is_empty(), "{:?}", leftovers(member));
}

/// A member without the image fetches it from a holder when asked to make sure it has it;
/// when every holder's copy is damaged, the transfer's SHA-256 differs from the
/// fingerprint and the copy is refused (not kept, not recorded).
fn fetches_on_demand_and_refuses_a_damaged_copy(cluster: &Cluster, image: &Path, fp: &str) {
    let held = holders(&cluster[0], fp);
    let lacking = cluster
        .members()
        .iter()
        .find(|m| !held.contains(&m.name))
        .expect("a member without a copy");
    let holder_members: Vec<&Member> = cluster
        .members()
        .iter()
        .filter(|m| held.contains(&m.name))
        .collect();
    for m in &holder_members {
        let mut bytes = std::fs::read(image).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xff;
        std::fs::write(image_file(m, fp), bytes).unwrap();
    }
    let pull = format!("/internal/images/{fp}/pull");
    let (status, body) = lacking.raw("POST", &pull, None);
    assert_ne!(status, 200, "{body}");
    assert!(
        body.contains("not the image's fingerprint: refused"),
        "{body}"
    );
    assert!(!image_file(lacking, fp).exists());
    assert!(leftovers(lacking).is_empty(), "{:?}", leftovers(lacking));
    assert_eq!(holders(&cluster[0], fp), held);

    // With a good copy back on one holder, the image is fetched, checked and recorded
    // (here by LXD's export, which makes sure the member holds what it serves).
    std::fs::copy(image, image_file(holder_members[0], fp)).unwrap();
    for m in &holder_members[1..] {
        std::fs::remove_file(image_file(m, fp)).unwrap();
    }
    let (status, _) = lacking.raw("GET", &format!("/1.0/images/{fp}/export"), None);
    assert_eq!(status, 200);
    assert_eq!(fingerprint_of(&image_file(lacking, fp)), fp);
    let mut now_held = held.clone();
    now_held.push(lacking.name.clone());
    now_held.sort();
    wait_until(
        "the fetching member to be recorded as a holder",
        Duration::from_secs(10),
        || (holders(&cluster[3], fp) == now_held).then_some(()),
    );
    // The holder whose copy was removed gets it back the same way.
    for m in &holder_members[1..] {
        let (status, body) = m.raw("POST", &pull, None);
        assert_eq!(status, 200, "{body}");
        assert_eq!(fingerprint_of(&image_file(m, fp)), fp);
    }
}

/// Aliases: created by fingerprint prefix, listed, refused twice, resolved, deleted.
fn aliases_name_images(member: &Member, fp: &str) {
    member
        .corral(&[
            "image",
            "alias",
            "create",
            "tiny",
            &fp[..12],
            "--description",
            "small",
        ])
        .ok();
    let list = member.corral(&["image", "alias", "list", "--format", "csv"]);
    assert_eq!(
        list.ok(),
        format!(
            "busybox,{},CONTAINER,\ntiny,{},CONTAINER,small\n",
            &fp[..12],
            &fp[..12]
        )
    );
    let again = member.corral(&["image", "alias", "create", "tiny", fp]);
    assert!(
        again.failed().contains("Alias 'tiny' already exists"),
        "{again:?}"
    );
    let shown = member.corral(&["image", "show", "tiny"]);
    assert!(
        shown.ok().contains(&format!("fingerprint: {fp}")),
        "{shown:?}"
    );
    member.corral(&["image", "alias", "delete", "tiny"]).ok();
    let missing = member.corral(&["image", "alias", "delete", "tiny"]);
    assert!(
        missing.failed().contains("Image alias not found"),
        "{missing:?}"
    );
    let bad = member.corral(&["image", "alias", "create", "a/b", fp]);
    assert!(bad.failed().contains("Invalid alias name"), "{bad:?}");
    let nowhere = member.corral(&["image", "alias", "create", "x", "0123456789ab"]);
    assert!(nowhere.failed().contains("Image not found"), "{nowhere:?}");
}

/// `image set-property|get-property|unset-property|edit` through different members, each
/// change announced as `image-updated`; what an image cannot have and a stale ETag refused.
fn properties_and_visibility_are_edited(cluster: &Cluster, fp: &str) {
    let monitor = Monitor::start(&cluster[0], &["--type", "lifecycle", "--format", "json"]);
    cluster[1]
        .corral(&["image", "set-property", "busybox", "release", "1.36"])
        .ok();
    let event = monitor.line_containing(Duration::from_secs(20), "image-updated");
    assert!(event.contains(&format!("/1.0/images/{fp}")), "{event}");
    let shown = cluster[2].corral(&["image", "show", "busybox"]);
    assert!(shown.ok().contains("release: \"1.36\""), "{shown:?}");
    let got = cluster[3].corral(&["image", "get-property", &fp[..12], "release"]);
    assert_eq!(got.ok(), "1.36\n");
    cluster[3]
        .corral(&["image", "unset-property", "busybox", "release"])
        .ok();
    let gone = cluster[1].corral(&["image", "get-property", "busybox", "release"]);
    assert!(
        gone.failed().contains("has no property \"release\""),
        "{gone:?}"
    );

    // Edited from YAML on standard input, as `lxc image edit` reads a pipe.
    let yaml = "public: true\nproperties:\n  os: busybox\n  description: edited\n";
    cluster[0]
        .corral_with_stdin(&["image", "edit", "busybox"], yaml)
        .ok();
    let image = &listed(&cluster[2])[0];
    assert_eq!(image["public"], true);
    assert_eq!(image["properties"]["description"], "edited");
    let refused =
        cluster[0].corral_with_stdin(&["image", "edit", "busybox"], "auto_update: true\n");
    assert!(
        refused.failed().contains("\"auto_update\": true"),
        "{refused:?}"
    );
    let path = format!("/1.0/images/{fp}");
    let stale = cluster[1].request_if_match(
        "PUT",
        &path,
        &serde_json::json!({"public": false}),
        "\"not-the-etag\"",
    );
    assert_eq!(stale, 412);
    let etag = cluster[1].etag(&path).expect("an ETag");
    let fresh =
        cluster[1].request_if_match("PATCH", &path, &serde_json::json!({"public": false}), &etag);
    assert_eq!(fresh, 200);
    let image = &listed(&cluster[3])[0];
    assert_eq!(image["public"], false);
    assert_eq!(
        image["properties"]["description"], "edited",
        "a PATCH keeps the rest"
    );
}

#[test]
fn an_image_only_a_leaving_member_holds_is_copied_before_it_goes() {
    let image = test_image();
    let fp = fingerprint_of(&image);
    let cluster = Cluster::form(3);
    // One copy: the importer's, node3's.
    cluster[0]
        .corral(&["config", "set", "cluster.images_minimal_replica", "1"])
        .ok();
    assert_eq!(import(&cluster[2], &image, Some("busybox")), fp);
    assert_eq!(holders(&cluster[0], &fp), ["node3"]);
    cluster[0].corral(&["cluster", "remove", "node3"]).ok();
    let held = holders(&cluster[0], &fp);
    assert_eq!(held.len(), 1, "{held:?}");
    let keeper = cluster
        .members()
        .iter()
        .find(|m| m.name == held[0])
        .expect("a remaining member holds it");
    assert_eq!(fingerprint_of(&image_file(keeper, &fp)), fp);
    let shown = cluster[1].corral(&["image", "show", "busybox"]);
    assert!(shown.ok().contains(&fp), "{shown:?}");
}
