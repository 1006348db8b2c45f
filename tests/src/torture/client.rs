//! The clients: each a thread of its own sending reads, writes and compare-and-sets to a
//! random member through the public REST API (the member's unix socket), recording each
//! operation as it ends.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use corral_shared::client::{Client, ClientError};

use super::Rng;
use super::history::{Call, Op, Outcome, register_key};

/// The members clients may talk to (name and unix socket, updated as members join and
/// leave), and how many operations are under way on each.
#[derive(Debug, Default)]
pub struct Endpoints(Mutex<EndpointList>);

#[derive(Debug, Default)]
struct EndpointList {
    members: Vec<(String, PathBuf)>,
    busy: HashMap<String, usize>,
}

/// An operation under way on a member; ends (and is uncounted) when dropped.
pub struct Busy<'a> {
    endpoints: &'a Endpoints,
    member: String,
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        if let Some(n) = self.endpoints.list().busy.get_mut(&self.member) {
            *n = n.saturating_sub(1);
        }
    }
}

impl Endpoints {
    fn list(&self) -> std::sync::MutexGuard<'_, EndpointList> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Replaces the list.
    pub fn set(&self, endpoints: Vec<(String, PathBuf)>) {
        self.list().members = endpoints;
    }

    /// How many operations are under way on `member`.
    pub fn busy(&self, member: &str) -> usize {
        self.list().busy.get(member).copied().unwrap_or(0)
    }

    fn pick(&self, rng: &mut Rng) -> Option<(String, PathBuf, Busy<'_>)> {
        let mut list = self.list();
        if list.members.is_empty() {
            return None;
        }
        let (name, socket) = list.members[rng.below(list.members.len())].clone();
        *list.busy.entry(name.clone()).or_insert(0) += 1;
        let busy = Busy {
            endpoints: self,
            member: name.clone(),
        };
        Some((name, socket, busy))
    }
}

/// The history being written, shared by every client.
#[derive(Debug)]
pub struct Recorder {
    began: Instant,
    ops: Mutex<Vec<Op>>,
}

impl Recorder {
    /// An empty history whose clock starts now.
    pub fn new() -> Self {
        Self {
            began: Instant::now(),
            ops: Mutex::default(),
        }
    }

    /// Microseconds since the run began.
    pub fn now(&self) -> u64 {
        self.began.elapsed().as_micros() as u64
    }

    /// Adds an operation that ended; returns it as recorded (with its position).
    pub fn record(&self, mut op: Op) -> Op {
        let mut ops = self.ops.lock().unwrap_or_else(|p| p.into_inner());
        op.id = ops.len();
        ops.push(op.clone());
        op
    }

    /// The history so far.
    pub fn history(&self) -> Vec<Op> {
        self.ops.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

/// What each client does, and how long it waits for an answer.
#[derive(Debug, Clone, Copy)]
pub struct Workload {
    /// How many registers there are.
    pub registers: usize,
    /// How long an operation may take before its outcome is unknown.
    pub timeout: Duration,
}

/// One client's loop: runs until `stop`, recording every operation in `recorder`.
pub fn run(
    client: usize,
    seed: u64,
    workload: Workload,
    endpoints: &Endpoints,
    recorder: &Recorder,
    stop: &AtomicBool,
) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime for a torture client");
    let mut rng = Rng::new(seed);
    let mut sequence = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let Some((member, socket, _busy)) = endpoints.pick(&mut rng) else {
            std::thread::park_timeout(Duration::from_millis(10));
            continue;
        };
        let register = rng.below(workload.registers);
        let api = Client::unix(socket).with_timeout(workload.timeout);
        let session = Session {
            client,
            member: &member,
            register,
            recorder,
            timeout: workload.timeout,
        };
        sequence += 1;
        let value = format!("{client}-{sequence}");
        match rng.below(10) {
            0..=3 => {
                rt.block_on(session.read(&api));
            }
            4..=6 => rt.block_on(session.write(&api, value)),
            _ => rt.block_on(session.cas(&api, value)),
        }
    }
}

/// One operation's context.
pub struct Session<'a> {
    /// The client's number.
    pub client: usize,
    /// The member it talks to.
    pub member: &'a str,
    /// The register.
    pub register: usize,
    /// Where it is recorded.
    pub recorder: &'a Recorder,
    /// How long before it is unknown.
    pub timeout: Duration,
}

/// The register's value and the config's ETag, as a read saw them.
type Seen = (Option<String>, Option<String>);

impl Session<'_> {
    fn op(&self, call: Call, invoked_us: u64, outcome: Outcome) -> Op {
        Op {
            id: 0,
            client: self.client,
            member: self.member.to_owned(),
            register: self.register,
            call,
            invoked_us,
            completed_us: self.recorder.now(),
            outcome,
        }
    }

    /// `GET /1.0`: records the read; returns what it saw when it is a current read.
    pub async fn read(&self, api: &Client) -> Option<Seen> {
        let invoked = self.recorder.now();
        let answer = bounded(self.timeout, api.request("GET", "/1.0", None, None)).await;
        let (outcome, seen) = match answer {
            Ok(resp) if resp.stale.is_some() => (
                Outcome::Failed("answered from a copy no leader confirmed (stale mark)".into()),
                None,
            ),
            // A member removed a moment ago answers for itself, a new standalone server.
            Ok(resp) if resp.envelope.metadata["environment"]["server_clustered"] != true => (
                Outcome::Failed("the member is not clustered (removed)".into()),
                None,
            ),
            Ok(resp) => {
                let value = resp.envelope.metadata["config"][register_key(self.register)]
                    .as_str()
                    .map(str::to_owned);
                (Outcome::Ok, Some((value, resp.etag)))
            }
            // A read that did not answer changed nothing and saw nothing.
            Err(why) => (Outcome::Failed(why.why().to_owned()), None),
        };
        let value = seen.as_ref().and_then(|(v, _)| v.clone());
        self.recorder
            .record(self.op(Call::Read { value }, invoked, outcome));
        seen
    }

    /// `PATCH /1.0` setting the register to `value`.
    pub async fn write(&self, api: &Client, value: String) {
        let invoked = self.recorder.now();
        let outcome = self.patch(api, &value, None).await;
        self.recorder
            .record(self.op(Call::Write { value }, invoked, outcome));
    }

    /// Reads the register, then `PATCH /1.0` with `If-Match` of what it read.
    pub async fn cas(&self, api: &Client, value: String) {
        let Some((expected, Some(etag))) = self.read(api).await else {
            return;
        };
        let invoked = self.recorder.now();
        let outcome = self.patch(api, &value, Some(&etag)).await;
        self.recorder
            .record(self.op(Call::Cas { expected, value }, invoked, outcome));
    }

    async fn patch(&self, api: &Client, value: &str, if_match: Option<&str>) -> Outcome {
        let body = serde_json::json!({ "config": { register_key(self.register): value } });
        match bounded(
            self.timeout,
            api.request("PATCH", "/1.0", Some(&body), if_match),
        )
        .await
        {
            Ok(_) => Outcome::Ok,
            Err(why) => why,
        }
    }
}

/// Runs a request with a deadline, classifying what went wrong: refusals that change nothing
/// (no connection made; a 4xx) apart from failures after which the write may still commit.
async fn bounded(
    timeout: Duration,
    request: impl std::future::Future<Output = Result<corral_shared::client::Response, ClientError>>,
) -> Result<corral_shared::client::Response, Outcome> {
    match tokio::time::timeout(timeout + Duration::from_secs(1), request).await {
        Err(_) => Err(Outcome::Unknown(format!("no answer within {timeout:?}"))),
        Ok(Ok(resp)) => Ok(resp),
        Ok(Err(e)) => Err(classify(&e)),
    }
}

/// Whether an error leaves the operation certainly undone.
pub fn classify(e: &ClientError) -> Outcome {
    let short = e.to_string().chars().take(160).collect::<String>();
    match e {
        ClientError::Connect { .. } | ClientError::InvalidRequest(_) => Outcome::Failed(short),
        ClientError::Api { status, .. } if (400..500).contains(status) && *status != 408 => {
            Outcome::Failed(short)
        }
        _ => Outcome::Unknown(short),
    }
}
