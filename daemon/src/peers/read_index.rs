//! The read-index line: how a member that is not the leader asks the leader for its read
//! index. Every current read on such a member needs one, so it is the most frequent call
//! between members; as a gRPC call it cost about as much CPU on each side as a whole REST
//! listing (HTTP/2 framing, header compression, and hand-offs between the tasks of the
//! channel). Instead the member keeps one TLS connection of its own to the leader, told
//! apart on the shared port by ALPN ([`ALPN`]): one byte asks, nine bytes answer, and the
//! task that asks reads the answer itself.
//!
//! Frames: the member sends [`ASK`], or on a line agreed as [`ALPN_NAMED`], [`ASK_NAMED`] and
//! its member id (u64, big endian), so the leader can send that member, if it is a spare,
//! what it gathered for it (see `cluster::spares::Fed::hurry`). The leader answers `0` and
//! the index (u64, big endian), or `1`, a length (u16, big endian) and a message saying
//! why it cannot.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::ClientConfig;

use super::dial::LineDial;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// The ALPN protocol name of the line.
pub const ALPN: &[u8] = b"corral-read-index";

/// The ALPN protocol name of the line where asks may name the asker; offered first by
/// members that read such asks. Older members offer only [`ALPN`].
pub const ALPN_NAMED: &[u8] = b"corral-read-index/named";

/// What a member offers in ALPN for the line, in the order it prefers; a server picks the
/// first of its own that is offered, so it lists them in this order too.
pub const ALPNS: [&[u8]; 2] = [ALPN_NAMED, ALPN];

/// The byte that asks for the read index.
pub const ASK: u8 = b'?';

/// The byte that asks for the read index, followed by the asker's member id.
pub const ASK_NAMED: u8 = b'!';

/// An ask for the read index, as read off the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ask {
    /// The asking member, when it said.
    pub from: Option<u64>,
}

impl Ask {
    /// The ask as sent on the line.
    pub fn encode(&self) -> Vec<u8> {
        match self.from {
            None => vec![ASK],
            Some(id) => {
                let mut frame = vec![ASK_NAMED];
                frame.extend_from_slice(&id.to_be_bytes());
                frame
            }
        }
    }
}

/// The longest message a refusal carries; longer ones are cut.
const MAX_MESSAGE: usize = 1024;

/// What the leader answers to an ask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// The read index.
    Index(u64),
    /// Why it cannot give one (not the leader, no quorum, not a member).
    Refused(String),
}

impl Reply {
    /// The reply as sent on the line.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Reply::Index(index) => {
                let mut frame = vec![0];
                frame.extend_from_slice(&index.to_be_bytes());
                frame
            }
            Reply::Refused(message) => {
                let cut = cut_at_char(message, MAX_MESSAGE);
                let mut frame = vec![1];
                frame.extend_from_slice(&(cut.len() as u16).to_be_bytes());
                frame.extend_from_slice(cut.as_bytes());
                frame
            }
        }
    }

    /// Reads one reply off the line.
    pub async fn read<R: AsyncRead + Unpin>(line: &mut R) -> std::io::Result<Reply> {
        match line.read_u8().await? {
            0 => Ok(Reply::Index(line.read_u64().await?)),
            1 => {
                let len = usize::from(line.read_u16().await?);
                if len > MAX_MESSAGE {
                    return Err(malformed(format!("a refusal of {len} bytes")));
                }
                let mut message = vec![0; len];
                line.read_exact(&mut message).await?;
                let message = String::from_utf8(message)
                    .map_err(|_| malformed("a refusal that is not UTF-8".into()))?;
                Ok(Reply::Refused(message))
            }
            tag => Err(malformed(format!("a reply tagged {tag}"))),
        }
    }
}

/// The member's next ask (`None` when it closed the line); any other byte is an error.
pub async fn read_ask<R: AsyncRead + Unpin>(line: &mut R) -> std::io::Result<Option<Ask>> {
    match line.read_u8().await {
        Ok(ASK) => Ok(Some(Ask { from: None })),
        Ok(ASK_NAMED) => Ok(Some(Ask {
            from: Some(line.read_u64().await?),
        })),
        Ok(other) => Err(malformed(format!("byte {other} where an ask was expected"))),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
        Err(e) => Err(e),
    }
}

fn malformed(what: String) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("the read-index line carried {what}"),
    )
}

/// `text` cut to at most `max` bytes, on a character boundary.
fn cut_at_char(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Why an ask on the line got no index.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    /// The server does not speak the line (a member of an older version): ask over gRPC.
    #[error("{0} does not offer the read-index line")]
    NotOffered(String),
    /// The leader answered that it cannot give a read index.
    #[error("{0}")]
    Refused(String),
    /// Nothing usable came back in time.
    #[error("{address}: {reason}")]
    Unreachable {
        /// The address asked.
        address: String,
        /// What went wrong.
        reason: String,
    },
}

/// What one exchange on the line gives: the reply, and the line to keep.
type Exchanged = std::io::Result<(Reply, TlsStream<TcpStream>)>;

/// A kept connection and the address it goes to.
type Kept = (String, TlsStream<TcpStream>);

/// The member's kept connection to the leader for read indexes (at most one; reads share
/// asks, see `node::read_index`). Clones share it.
#[derive(Clone, Default)]
pub struct Line {
    kept: Arc<Mutex<Option<Kept>>>,
}

impl Line {
    /// Asks the leader at `address` for its read index for member `asker`, within `wait`,
    /// on the kept connection or a new one dialled with `tls` (which offers [`ALPN_NAMED`]
    /// and [`ALPN`]).
    pub async fn ask(
        &self,
        address: &str,
        tls: Arc<ClientConfig>,
        wait: Duration,
        asker: u64,
    ) -> Result<u64, LineError> {
        let unreachable = |reason: String| LineError::Unreachable {
            address: address.to_owned(),
            reason,
        };
        // Taken out while in use: an ask cut off half-way leaves the line in an unknown
        // state, and dropping it is the only safe end.
        let kept = self.take(address);
        let reused = kept.is_some();
        let asked = tokio::time::timeout(wait, async {
            let first = match kept {
                Some(stream) => Self::exchange(stream, asker).await,
                None => Self::open(address, tls.clone(), asker).await?,
            };
            Ok::<_, LineError>(match first {
                // The leader may have closed a kept line (it restarted, or lost the lead
                // and dropped its connections): one fresh try.
                Err(_) if reused => Self::open(address, tls, asker).await?,
                other => other,
            })
        })
        .await;
        match asked {
            Err(_) => Err(unreachable(format!("no read index within {wait:?}"))),
            Ok(Err(e)) => Err(e),
            Ok(Ok(Err(e))) => Err(unreachable(e.to_string())),
            Ok(Ok(Ok((reply, stream)))) => {
                self.keep(address, stream);
                match reply {
                    Reply::Index(index) => Ok(index),
                    Reply::Refused(message) => Err(LineError::Refused(message)),
                }
            }
        }
    }

    /// Forgets the kept connection (the member's certificate changed).
    pub fn close(&self) {
        self.kept.lock().unwrap_or_else(|p| p.into_inner()).take();
    }

    fn take(&self, address: &str) -> Option<TlsStream<TcpStream>> {
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        match kept.take() {
            Some((to, stream)) if to == address => Some(stream),
            _ => None,
        }
    }

    fn keep(&self, address: &str, stream: TlsStream<TcpStream>) {
        *self.kept.lock().unwrap_or_else(|p| p.into_inner()) = Some((address.to_owned(), stream));
    }

    /// Dials the line and asks once; `Err` only when the server does not speak it.
    async fn open(
        address: &str,
        tls: Arc<ClientConfig>,
        asker: u64,
    ) -> Result<Exchanged, LineError> {
        let stream = match super::dial::dial_line(address, tls, &ALPNS).await {
            Ok(stream) => stream,
            Err(LineDial::NotOffered) => return Err(LineError::NotOffered(address.to_owned())),
            Err(LineDial::Failed(e)) => return Ok(Err(e)),
        };
        Ok(Self::exchange(stream, asker).await)
    }

    /// One ask and its reply; the ask names `asker` where the line agreed on named asks.
    async fn exchange(mut stream: TlsStream<TcpStream>, asker: u64) -> Exchanged {
        let named = stream.get_ref().1.alpn_protocol() == Some(ALPN_NAMED);
        let ask = Ask {
            from: named.then_some(asker),
        };
        stream.write_all(&ask.encode()).await?;
        stream.flush().await?;
        let reply = Reply::read(&mut stream).await?;
        Ok((reply, stream))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn replies_read_back_as_written_and_odd_frames_are_refused() {
        let long = "é".repeat(MAX_MESSAGE);
        let cut = cut_at_char(&long, MAX_MESSAGE).to_owned();
        let cases: Vec<(Vec<u8>, Result<Reply, ()>)> = vec![
            (Reply::Index(0).encode(), Ok(Reply::Index(0))),
            (Reply::Index(u64::MAX).encode(), Ok(Reply::Index(u64::MAX))),
            (
                Reply::Refused("not the leader".into()).encode(),
                Ok(Reply::Refused("not the leader".into())),
            ),
            // A long message is cut on a character boundary, never mid-character.
            (
                Reply::Refused(long.clone()).encode(),
                Ok(Reply::Refused(cut)),
            ),
            (vec![2, 0, 0], Err(())),
            (vec![1, 0xff, 0xff], Err(())),
            (vec![0, 1, 2], Err(())),
            (vec![], Err(())),
        ];
        for (frame, want) in cases {
            let got = Reply::read(&mut frame.as_slice()).await.map_err(drop);
            assert_eq!(got, want, "frame {frame:?}");
        }
    }

    #[tokio::test]
    async fn an_ask_may_name_the_asker_and_a_closed_line_is_no_ask() {
        let named = |id: u64| Ask { from: Some(id) }.encode();
        /// What reading the bytes gives: an ask, a closed line, or an error.
        type Read = Result<Option<Ask>, ()>;
        let cases: Vec<(Vec<u8>, Read)> = vec![
            (vec![ASK], Ok(Some(Ask { from: None }))),
            (Ask { from: None }.encode(), Ok(Some(Ask { from: None }))),
            (named(7), Ok(Some(Ask { from: Some(7) }))),
            (
                named(u64::MAX),
                Ok(Some(Ask {
                    from: Some(u64::MAX),
                })),
            ),
            (vec![], Ok(None)),
            (b"x".to_vec(), Err(())),
            // A named ask cut short is not an ask from member 0.
            (vec![ASK_NAMED, 0, 0], Err(())),
        ];
        for (bytes, want) in cases {
            let mut line = bytes.as_slice();
            assert_eq!(read_ask(&mut line).await.map_err(drop), want, "{bytes:?}");
        }
    }
}
