//! The instances figures (issue 17): launching the busybox test image to Running, listing
//! many instances, and evacuating then restoring a member holding stopped instances, on a
//! three-member loopback cluster with real runc containers.

use std::process::Command;
use std::time::{Duration, Instant};

use corral_shared::client::Client;
use corral_tests::{Cluster, test_image};
use serde_json::{Value, json};

use super::{Figures, stage};

/// Instances held by the member that is evacuated (figure 15).
pub const EVACUATED: usize = 20;

/// Clients creating the instances of figure 14 at once.
const CREATORS: usize = 8;

/// Disk an instance's copy of the busybox rootfs takes, with room to spare.
const DISK_PER_INSTANCE: u64 = 2 << 20;

/// Disk left free after the instances, for everything else on the machine.
const DISK_MARGIN: u64 = 2 << 30;

/// How long one operation (create, start, evacuate, restore) may take on a loaded machine.
const OPERATION: Duration = Duration::from_secs(300);

/// Why the instance figures cannot be measured here (no root, no runc), if they cannot.
pub fn missing() -> Option<String> {
    // SAFETY: geteuid only reads the process's credentials.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not running as root (runc needs root)".into());
    }
    let runc = Command::new("runc").arg("--version").output();
    if !runc.is_ok_and(|o| o.status.success()) {
        return Some("runc is not installed: apt-get install runc".into());
    }
    None
}

/// Why `count` instances do not fit on the disk of the members' directories, if they do not.
pub fn short_of_disk(count: usize) -> Option<String> {
    let dir = std::env::temp_dir();
    let free = free_bytes(&dir)?;
    let need = count as u64 * DISK_PER_INSTANCE + DISK_MARGIN;
    (free < need).then(|| {
        format!(
            "{count} instances need about {} MB free under {} (with a {} MB margin), {} MB are: \
             pass a smaller --instances",
            need >> 20,
            dir.display(),
            DISK_MARGIN >> 20,
            free >> 20
        )
    })
}

fn free_bytes(dir: &std::path::Path) -> Option<u64> {
    let path = std::ffi::CString::new(dir.to_str()?).ok()?;
    // SAFETY: statvfs writes into the zeroed struct we own; the path is a valid C string.
    let mut fs: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut fs) } != 0 {
        return None;
    }
    Some(fs.f_bavail as u64 * fs.f_frsize as u64)
}

/// Figures 13 to 15 on a fresh three-member cluster: `launches` launches one after another,
/// the list at `count` instances, the evacuation and restore of [`EVACUATED`] stopped ones.
pub fn run(rt: &tokio::runtime::Runtime, figs: &mut Figures, launches: usize, count: usize) {
    stage("figures 13-15 (forming 3 members, importing the busybox image)".into());
    let cluster = Cluster::form(3);
    let m = cluster.members();
    // Declared after the cluster, so dropped first: containers go before the members' dirs.
    let _containers = corral_tests::containers::Containers::of(m);
    let client = m[0].client().with_timeout(OPERATION);
    import_image(rt, &client);

    // 13. Launch: POST /1.0/instances, then start, until the instance reads Running.
    let mut took = Vec::new();
    for i in 0..launches {
        stage(format!("figure 13 (launch {}/{launches})", i + 1));
        let name = format!("l{i}");
        let t = Instant::now();
        rt.block_on(async {
            create(&client, &name, None).await?;
            change_state(&client, &name, "start").await?;
            let state: Value = client
                .get(&format!("/1.0/instances/{name}/state"))
                .await
                .map_err(|e| e.to_string())?;
            if state["status"] != "Running" {
                return Err(format!("{name} started but reads {}", state["status"]));
            }
            Ok::<(), String>(())
        })
        .unwrap_or_else(|e| panic!("launching {name}: {e}"));
        took.push(t.elapsed().as_secs_f64());
    }
    for t in &took {
        figs.add("launch", *t);
    }
    took.sort_by(f64::total_cmp);
    figs.add("launch_p90", percentile(&took, 0.9));
    stage("figure 13 (deleting the launched instances)".into());
    for i in 0..launches {
        let name = format!("l{i}");
        rt.block_on(async {
            change_state_forced(&client, &name).await?;
            delete(&client, &name).await
        })
        .unwrap_or_else(|e| panic!("deleting {name}: {e}"));
    }

    // 15. Evacuation of node2 holding EVACUATED stopped instances, then its restore.
    stage(format!(
        "figure 15 (creating {EVACUATED} stopped instances on node2)"
    ));
    let held: Vec<String> = (0..EVACUATED).map(|i| format!("e{i}")).collect();
    create_all(rt, &client, &held, Some("node2"));
    for (key, action) in [("evacuate", "evacuate"), ("restore", "restore")] {
        stage(format!("figure 15 ({action} node2, {EVACUATED} stopped)"));
        let t = Instant::now();
        rt.block_on(async {
            let answer = client
                .post(
                    "/1.0/cluster/members/node2/state",
                    &json!({ "action": action }),
                )
                .await
                .map_err(|e| e.to_string())?;
            wait(&client, &answer).await
        })
        .unwrap_or_else(|e| panic!("{action} of node2: {e}"));
        figs.add(key, t.elapsed().as_secs_f64());
    }
    let on_node2 = rt
        .block_on(client.get::<Vec<Value>>("/1.0/instances?recursion=1"))
        .expect("the instance list")
        .iter()
        .filter(|i| i["location"] == "node2")
        .count();
    assert_eq!(
        on_node2, EVACUATED,
        "the restore brings back the {EVACUATED} instances node2 held"
    );

    // 14. The list at `count` instances (the evacuated ones count), made by concurrent
    // clients with init: created, not started.
    let rest: Vec<String> = (EVACUATED..count).map(|i| format!("i{i}")).collect();
    stage(format!(
        "figure 14 (creating {} more stopped instances)",
        rest.len()
    ));
    let t = Instant::now();
    create_all(rt, &client, &rest, None);
    stage(format!(
        "figure 14 ({} created in {:.0} s; listing)",
        rest.len(),
        t.elapsed().as_secs_f64()
    ));
    for _ in 0..3 {
        let t = Instant::now();
        let all = rt
            .block_on(client.get::<Vec<Value>>("/1.0/instances?recursion=1"))
            .expect("the instance list");
        figs.add("inst_get", t.elapsed().as_secs_f64());
        assert_eq!(all.len(), count.max(EVACUATED), "every instance is listed");
        let t = Instant::now();
        m[0].corral(&["list"]).ok();
        figs.add("inst_list", t.elapsed().as_secs_f64());
    }
    stage("figures 13-15 (tearing down)".into());
}

/// The value below which `share` of the sorted samples fall (nearest rank).
fn percentile(sorted: &[f64], share: f64) -> f64 {
    let rank = (share * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn import_image(rt: &tokio::runtime::Runtime, client: &Client) {
    let tarball = std::fs::read(test_image()).expect("the busybox test image");
    let fingerprint = corral_tests::fingerprint_of(&test_image());
    rt.block_on(async {
        let (status, body) = client
            .raw("POST", "/1.0/images", Some(tarball))
            .await
            .map_err(|e| e.to_string())?;
        let answer: Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        if status != 202 {
            return Err(format!("the image upload answered {status}: {answer}"));
        }
        let op = answer["operation"].as_str().unwrap_or_default().to_owned();
        client
            .wait_operation(&op, OPERATION)
            .await
            .map_err(|e| e.to_string())?;
        let alias = json!({ "name": "busybox", "target": fingerprint });
        client
            .post("/1.0/images/aliases", &alias)
            .await
            .map_err(|e| e.to_string())?;
        Ok::<(), String>(())
    })
    .unwrap_or_else(|e| panic!("importing the busybox image: {e}"));
}

/// Waits for the operation an async answer started.
async fn wait(client: &Client, answer: &corral_shared::client::Response) -> Result<(), String> {
    let op = answer.operation().map_err(|e| e.to_string())?;
    client
        .wait_operation(&format!("/1.0/operations/{}", op.id), OPERATION)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// `POST /1.0/instances` from the busybox image (on `target` when given), to its end.
async fn create(client: &Client, name: &str, target: Option<&str>) -> Result<(), String> {
    let path = match target {
        Some(t) => format!("/1.0/instances?target={t}"),
        None => "/1.0/instances".to_owned(),
    };
    let body = json!({
        "name": name,
        "type": "container",
        "source": { "type": "image", "alias": "busybox" },
        // busybox's init may ignore the stop signal: a short clean-stop wait.
        "config": { "boot.host_shutdown_timeout": "2" },
    });
    let answer = client.post(&path, &body).await.map_err(|e| e.to_string())?;
    wait(client, &answer).await
}

async fn change_state(client: &Client, name: &str, action: &str) -> Result<(), String> {
    let answer = client
        .put(
            &format!("/1.0/instances/{name}/state"),
            &json!({ "action": action, "timeout": -1 }),
            None,
        )
        .await
        .map_err(|e| e.to_string())?;
    wait(client, &answer).await
}

async fn change_state_forced(client: &Client, name: &str) -> Result<(), String> {
    let answer = client
        .put(
            &format!("/1.0/instances/{name}/state"),
            &json!({ "action": "stop", "force": true }),
            None,
        )
        .await
        .map_err(|e| e.to_string())?;
    wait(client, &answer).await
}

async fn delete(client: &Client, name: &str) -> Result<(), String> {
    let answer = client
        .delete(&format!("/1.0/instances/{name}"))
        .await
        .map_err(|e| e.to_string())?;
    wait(client, &answer).await
}

/// Creates `names` (stopped) with [`CREATORS`] clients at once, each taking the next name.
fn create_all(
    rt: &tokio::runtime::Runtime,
    client: &Client,
    names: &[String],
    target: Option<&str>,
) {
    let queue = std::sync::Arc::new(std::sync::Mutex::new(names.to_vec()));
    let target = target.map(str::to_owned);
    rt.block_on(async {
        let tasks: Vec<_> = (0..CREATORS)
            .map(|_| {
                let (client, queue, target) = (client.clone(), queue.clone(), target.clone());
                tokio::spawn(async move {
                    loop {
                        let next = queue.lock().unwrap_or_else(|e| e.into_inner()).pop();
                        let Some(name) = next else { return Ok(()) };
                        create(&client, &name, target.as_deref())
                            .await
                            .map_err(|e| format!("creating {name}: {e}"))?;
                    }
                })
            })
            .collect();
        for task in tasks {
            let done: Result<(), String> = task.await.expect("a creating client died");
            done.unwrap_or_else(|e| panic!("{e}"));
        }
    });
}
