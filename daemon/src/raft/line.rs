//! The Raft line: Raft's messages to one peer on a kept TLS connection of their own, told
//! apart on the shared port by ALPN ([`ALPN`]). openraft sends one message at a time per
//! peer and waits for its answer, so the connection needs no multiplexing; as gRPC calls,
//! each heartbeat cost the sender HTTP/2 framing and hand-offs between the channel's tasks,
//! most of an idle leader's work. Messages are openraft's own types as JSON, as over gRPC.
//!
//! Frames: a message is its kind (one byte), whether it names its target (one byte) and the
//! target's Raft id (u64), then the JSON's length (u32) and the JSON. An answer is `0` and
//! openraft's result as JSON, or `1` and why the message was refused, each with its length
//! (u32). Integers are big endian.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::NodeId;

/// The ALPN protocol name of the line.
pub const ALPN: &[u8] = b"corral-raft";

/// The largest frame either side accepts: a snapshot chunk of 512 KiB as JSON, where a byte
/// may take four characters, fits with room to spare.
const MAX_FRAME: u32 = 16 * 1024 * 1024;

/// Which Raft message a frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Append entries (and heartbeats).
    Append,
    /// A vote request.
    Vote,
    /// A snapshot chunk.
    Snapshot,
}

impl Kind {
    fn byte(self) -> u8 {
        match self {
            Kind::Append => b'a',
            Kind::Vote => b'v',
            Kind::Snapshot => b's',
        }
    }

    fn of(byte: u8) -> Option<Kind> {
        match byte {
            b'a' => Some(Kind::Append),
            b'v' => Some(Kind::Vote),
            b's' => Some(Kind::Snapshot),
            _ => None,
        }
    }

    /// The word logs and errors use for it.
    pub fn word(self) -> &'static str {
        match self {
            Kind::Append => "append",
            Kind::Vote => "vote",
            Kind::Snapshot => "snapshot",
        }
    }
}

/// One message as it travels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// What it is.
    pub kind: Kind,
    /// The Raft id it is meant for, when named (messages to spares, outside the membership).
    pub target: Option<NodeId>,
    /// openraft's request, JSON.
    pub json: Vec<u8>,
}

impl Message {
    /// The message as sent.
    pub fn encode(&self) -> Vec<u8> {
        let mut frame = Vec::with_capacity(14 + self.json.len());
        frame.push(self.kind.byte());
        frame.push(u8::from(self.target.is_some()));
        frame.extend_from_slice(&self.target.unwrap_or(0).to_be_bytes());
        frame.extend_from_slice(&(self.json.len() as u32).to_be_bytes());
        frame.extend_from_slice(&self.json);
        frame
    }

    /// Reads one message off the line; `None` when the peer closed it between messages.
    pub async fn read<R: AsyncRead + Unpin>(line: &mut R) -> std::io::Result<Option<Message>> {
        let kind = match line.read_u8().await {
            Ok(byte) => Kind::of(byte).ok_or_else(|| malformed(format!("message kind {byte}")))?,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        };
        let named = match line.read_u8().await? {
            0 => false,
            1 => true,
            other => return Err(malformed(format!("a target flag of {other}"))),
        };
        let target = line.read_u64().await?;
        if !named && target != 0 {
            return Err(malformed(format!(
                "target {target} in a message naming none"
            )));
        }
        let json = read_body(line).await?;
        Ok(Some(Message {
            kind,
            target: named.then_some(target),
            json,
        }))
    }
}

/// What the receiving member answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// openraft's result (`Result<Response, RaftError>`), JSON.
    Result(Vec<u8>),
    /// Why the message was not handed to Raft (not a member, another target, malformed).
    Refused(String),
}

impl Answer {
    /// The answer as sent.
    pub fn encode(&self) -> Vec<u8> {
        let (tag, body) = match self {
            Answer::Result(json) => (0, json.as_slice()),
            Answer::Refused(why) => (1, why.as_bytes()),
        };
        let mut frame = Vec::with_capacity(5 + body.len());
        frame.push(tag);
        frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
        frame.extend_from_slice(body);
        frame
    }
}

async fn read_body<R: AsyncRead + Unpin>(line: &mut R) -> std::io::Result<Vec<u8>> {
    let len = line.read_u32().await?;
    if len > MAX_FRAME {
        return Err(malformed(format!("a frame of {len} bytes")));
    }
    let mut body = vec![0; len as usize];
    line.read_exact(&mut body).await?;
    Ok(body)
}

fn malformed(what: String) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("the Raft line carried {what}"),
    )
}

/// Why a message on the line got no answer.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    /// The peer does not speak the line (a member of an older version): use gRPC.
    #[error("the peer does not offer the Raft line")]
    NotOffered,
    /// The peer could not be dialled.
    #[error("{0}")]
    Unreachable(String),
    /// Dialled, but the exchange failed or took too long.
    #[error("{0}")]
    Failed(String),
}

/// The kept connection to one peer; how many answers it still owes for messages whose wait
/// ran out (read and dropped before the next answer, so a slow answer costs no
/// reconnection); what was read of an answer not yet complete; and whether a frame was cut
/// off half written (the connection is then of no further use).
pub struct Line<S> {
    stream: Option<S>,
    owed: usize,
    read: Vec<u8>,
    writing: bool,
}

impl<S> Default for Line<S> {
    fn default() -> Self {
        Self {
            stream: None,
            owed: 0,
            read: Vec::new(),
            writing: false,
        }
    }
}

/// The first complete answer in `read` and the bytes it takes, `None` while incomplete.
pub fn parse_answer(read: &[u8]) -> std::io::Result<Option<(Answer, usize)>> {
    let Some((&tag, rest)) = read.split_first() else {
        return Ok(None);
    };
    let Some(len) = rest.get(..4) else {
        return Ok(None);
    };
    let len = u32::from_be_bytes(len.try_into().expect("four bytes"));
    if len > MAX_FRAME {
        return Err(malformed(format!("a frame of {len} bytes")));
    }
    let Some(body) = rest.get(4..4 + len as usize) else {
        return Ok(None);
    };
    let answer = match tag {
        0 => Answer::Result(body.to_vec()),
        1 => Answer::Refused(
            String::from_utf8(body.to_vec())
                .map_err(|_| malformed("a refusal that is not UTF-8".into()))?,
        ),
        tag => return Err(malformed(format!("an answer tagged {tag}"))),
    };
    Ok(Some((answer, 5 + len as usize)))
}

/// The next answer on `stream`. Cancel-safe: what was read of an incomplete answer stays in
/// `read` for the next call.
async fn next_answer<S: AsyncRead + Unpin>(
    stream: &mut S,
    read: &mut Vec<u8>,
) -> std::io::Result<Answer> {
    loop {
        if let Some((answer, used)) = parse_answer(read)? {
            read.drain(..used);
            return Ok(answer);
        }
        if stream.read_buf(read).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
    }
}

impl<S> Line<S> {
    /// Whether it holds a connection worth keeping.
    pub fn is_open(&self) -> bool {
        self.stream.is_some() && !self.writing
    }
}

/// A line lent out by [`Lines::lend`]: it goes back when dropped, also when the exchange
/// on it is dropped midway. openraft drops a message's future when its own wait for the
/// answer runs out; a line lost with it cost a new connection (a TLS handshake on both
/// sides) per slow answer, and under load those handshakes made answers slower still.
pub struct Lent<'a, S> {
    lines: &'a Lines<S>,
    address: &'a str,
    line: Option<Line<S>>,
}

impl<S> std::ops::Deref for Lent<'_, S> {
    type Target = Line<S>;
    fn deref(&self) -> &Line<S> {
        self.line.as_ref().expect("held until dropped")
    }
}

impl<S> std::ops::DerefMut for Lent<'_, S> {
    fn deref_mut(&mut self) -> &mut Line<S> {
        self.line.as_mut().expect("held until dropped")
    }
}

impl<S> Drop for Lent<'_, S> {
    fn drop(&mut self) {
        if let Some(line) = self.line.take() {
            self.lines.give_back(self.address, line);
        }
    }
}

/// How many idle lines to one peer are kept for reuse.
const IDLE_PER_PEER: usize = 4;

/// How long a peer that does not offer the line is sent gRPC before it is tried again (it
/// may have been upgraded meanwhile).
const NOT_OFFERED_FOR: Duration = Duration::from_secs(30);

/// The member's idle lines, by peer address. openraft makes a new client for every
/// leadership check and every election, besides each peer's replication stream: each takes
/// a line from here and gives it back, so a check costs no new connection (a TLS handshake
/// per peer), and concurrent users of one peer each have their own line.
pub struct Lines<S> {
    idle: Mutex<HashMap<String, Vec<Line<S>>>>,
    not_offered: Mutex<HashMap<String, Instant>>,
}

impl<S> Default for Lines<S> {
    fn default() -> Self {
        Self {
            idle: Mutex::new(HashMap::new()),
            not_offered: Mutex::new(HashMap::new()),
        }
    }
}

impl<S> Lines<S> {
    /// An idle line to `address`, or a new one that will dial when used.
    fn take(&self, address: &str) -> Line<S> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        idle.get_mut(address).and_then(Vec::pop).unwrap_or_default()
    }

    /// An idle line to `address` (or a new one), given back when the loan is dropped.
    pub fn lend<'a>(&'a self, address: &'a str) -> Lent<'a, S> {
        Lent {
            lines: self,
            address,
            line: Some(self.take(address)),
        }
    }

    /// Keeps `line` for the next user, if it is open and there is room.
    fn give_back(&self, address: &str, line: Line<S>) {
        if !line.is_open() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let kept = idle.entry(address.to_owned()).or_default();
        if kept.len() < IDLE_PER_PEER {
            kept.push(line);
        }
    }

    /// Drops every idle line (the member's certificate changed).
    pub fn clear(&self) {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self.not_offered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Notes that the peer at `address` does not offer the line.
    pub fn mark_not_offered(&self, address: &str) {
        self.not_offered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(address.to_owned(), Instant::now());
    }

    /// Whether the peer at `address` was found not to offer the line lately.
    pub fn not_offered(&self, address: &str) -> bool {
        self.not_offered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(address)
            .is_some_and(|at| at.elapsed() < NOT_OFFERED_FOR)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Line<S> {
    /// Sends `message` and waits (within `wait`) for its answer, on the kept connection or
    /// one `dial` opens; a kept connection that fails is dialled again once.
    pub async fn exchange<D, Fut>(
        &mut self,
        message: &Message,
        wait: Duration,
        dial: D,
    ) -> Result<Answer, LineError>
    where
        D: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<S, LineError>>,
    {
        let frame = message.encode();
        let deadline = tokio::time::Instant::now() + wait;
        let reused = self.stream.is_some();
        match self.try_once(&frame, deadline, &dial).await {
            Err(LineError::Failed(_)) if reused && tokio::time::Instant::now() < deadline => {
                self.try_once(&frame, deadline, &dial).await
            }
            other => other,
        }
    }

    async fn try_once<D, Fut>(
        &mut self,
        frame: &[u8],
        deadline: tokio::time::Instant,
        dial: &D,
    ) -> Result<Answer, LineError>
    where
        D: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<S, LineError>>,
    {
        if self.writing {
            // The last frame was cut off half written: the peer cannot read past it.
            self.stream = None;
            self.writing = false;
        }
        if self.stream.is_none() {
            let dialled = tokio::time::timeout_at(deadline, dial())
                .await
                .map_err(|_| LineError::Unreachable("no connection in time".into()))??;
            self.stream = Some(dialled);
            self.owed = 0;
            self.read.clear();
        }
        let Self {
            stream,
            owed,
            read,
            writing,
        } = self;
        let stream = stream.as_mut().expect("dialled above");
        let exchanged = tokio::time::timeout_at(deadline, async {
            *writing = true;
            stream.write_all(frame).await?;
            stream.flush().await?;
            *writing = false;
            *owed += 1;
            loop {
                let answer = next_answer(stream, read).await?;
                *owed -= 1;
                if *owed == 0 {
                    return Ok::<_, std::io::Error>(answer);
                }
            }
        })
        .await;
        match exchanged {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(e)) => {
                self.stream = None;
                Err(LineError::Failed(e.to_string()))
            }
            Err(_) => {
                // Cut off while writing, the frame may be half sent: only a new connection
                // is sure to be clean (see `writing`). Cut off while waiting, the answer is
                // owed still.
                Err(LineError::Failed("no answer in time".into()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn messages_and_answers_read_back_as_written() {
        let messages = [
            Message {
                kind: Kind::Append,
                target: None,
                json: b"{}".to_vec(),
            },
            Message {
                kind: Kind::Vote,
                target: Some(7),
                json: Vec::new(),
            },
            Message {
                kind: Kind::Snapshot,
                target: Some(0),
                json: vec![b'x'; 70_000],
            },
        ];
        for m in messages {
            let frame = m.encode();
            assert_eq!(Message::read(&mut frame.as_slice()).await.unwrap(), Some(m));
        }
        assert_eq!(
            Message::read(&mut &[][..]).await.unwrap(),
            None,
            "closed between messages"
        );
        for bad in [
            &b"x\0"[..],
            b"a\0\0\0\0\0\0\0\0\0\xff\xff\xff\xff",
            b"a\0\0",
        ] {
            assert!(Message::read(&mut &bad[..]).await.is_err(), "{bad:?}");
        }
        for a in [
            Answer::Result(b"{\"Ok\":1}".to_vec()),
            Answer::Refused("no".into()),
        ] {
            let frame = a.encode();
            let whole = parse_answer(&frame).unwrap();
            assert_eq!(whole, Some((a, frame.len())));
            // Any prefix is incomplete, not an error: the rest may still come.
            for cut in 0..frame.len() {
                assert_eq!(parse_answer(&frame[..cut]).unwrap(), None, "{cut}");
            }
        }
        assert!(parse_answer(b"\x02\0\0\0\0").is_err());
        assert!(parse_answer(b"\0\xff\xff\xff\xff").is_err());
    }

    /// A peer that answers each message with its JSON, after `delay` for the first `slow`.
    async fn echo(server: tokio::io::DuplexStream, delay: Duration, mut slow: usize) {
        let mut server = server;
        while let Ok(Some(m)) = Message::read(&mut server).await {
            if slow > 0 {
                slow -= 1;
                tokio::time::sleep(delay).await;
            }
            if server
                .write_all(&Answer::Result(m.json).encode())
                .await
                .is_err()
            {
                return;
            }
        }
    }

    /// Dials a new [`echo`] peer whose first answer comes 300 ms late, counting the dials.
    async fn dial_echo(
        dials: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    ) -> Result<tokio::io::DuplexStream, LineError> {
        dials.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let (client, server) = tokio::io::duplex(1 << 20);
        tokio::spawn(echo(server, Duration::from_millis(300), 1));
        Ok(client)
    }

    #[test]
    fn lines_are_reused_per_peer_up_to_a_bound_and_only_when_open() {
        let lines: Lines<tokio::io::DuplexStream> = Lines::default();
        let open = || Line {
            stream: Some(tokio::io::duplex(8).0),
            ..Line::default()
        };
        assert!(!lines.take("a:1").is_open(), "nothing kept yet: a new line");
        lines.give_back("a:1", Line::default());
        assert!(!lines.take("a:1").is_open(), "a closed line is not kept");
        for _ in 0..IDLE_PER_PEER + 2 {
            lines.give_back("a:1", open());
        }
        let taken: Vec<bool> = (0..IDLE_PER_PEER + 1)
            .map(|_| lines.take("a:1").is_open())
            .collect();
        assert_eq!(taken.iter().filter(|o| **o).count(), IDLE_PER_PEER);
        assert!(!lines.take("b:2").is_open(), "lines are kept per peer");
        lines.mark_not_offered("b:2");
        assert!(lines.not_offered("b:2") && !lines.not_offered("a:1"));
        lines.clear();
        assert!(!lines.not_offered("b:2"));
    }

    #[tokio::test]
    async fn a_line_whose_exchange_is_dropped_goes_back_unless_cut_off_mid_frame() {
        let dials = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let dial = || dial_echo(dials.clone());
        let lines: Lines<tokio::io::DuplexStream> = Lines::default();
        let say = |n: u8| Message {
            kind: Kind::Append,
            target: None,
            json: vec![n],
        };
        let (short, long) = (Duration::from_millis(50), Duration::from_secs(10));

        // The caller gives up first (as openraft does) while the answer is awaited: the
        // line goes back, owing that answer, and the next message uses the same connection.
        let dropped =
            tokio::time::timeout(short, lines.lend("a:1").exchange(&say(1), long, dial)).await;
        assert!(dropped.is_err(), "the caller's wait ran out first");
        let next = lines.lend("a:1").exchange(&say(2), long, dial).await;
        assert_eq!(next.unwrap(), Answer::Result(vec![2]));
        assert_eq!(dials.load(std::sync::atomic::Ordering::SeqCst), 1);

        // Cut off halfway through writing a frame (the peer reads nothing): not kept.
        let (stuck, _peer) = tokio::io::duplex(8);
        let mut line = lines.lend("b:2");
        line.stream = Some(stuck);
        let big = Message {
            kind: Kind::Append,
            target: None,
            json: vec![0; 1024],
        };
        let cut = tokio::time::timeout(short, line.exchange(&big, long, dial)).await;
        assert!(cut.is_err(), "the frame could not be written whole");
        drop(line);
        assert!(
            !lines.take("b:2").is_open(),
            "a half-written line is not kept"
        );
    }

    #[tokio::test]
    async fn a_late_answer_is_skipped_on_the_same_connection_and_a_dead_one_is_replaced() {
        let dials = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let dial = || dial_echo(dials.clone());
        let mut line = Line::default();
        let say = |n: u8| Message {
            kind: Kind::Append,
            target: None,
            json: vec![n],
        };
        let (short, long) = (Duration::from_millis(50), Duration::from_secs(10));

        // The first answer comes late: the wait runs out, the connection stays.
        let late = line.exchange(&say(1), short, dial).await;
        assert!(matches!(late, Err(LineError::Failed(_))), "{late:?}");
        // The next message gets its own answer, not the late one, on the same connection.
        let next = line.exchange(&say(2), long, dial).await.unwrap();
        assert_eq!(next, Answer::Result(vec![2]));
        assert_eq!(dials.load(std::sync::atomic::Ordering::SeqCst), 1);

        // The peer goes away: the kept connection fails and a new one is dialled at once.
        line.stream = Some(tokio::io::duplex(64).0);
        let after = line.exchange(&say(3), long, dial).await.unwrap();
        assert_eq!(after, Answer::Result(vec![3]));
        assert_eq!(dials.load(std::sync::atomic::Ordering::SeqCst), 2);
    }
}
