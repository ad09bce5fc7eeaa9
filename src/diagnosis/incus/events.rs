//! Incus's event stream (`GET /1.0/events`, upgraded to a websocket, RFC 6455): the frames the
//! server sends, read one JSON event at a time. Only what a reader needs: text frames (and
//! their continuations), pings answered with pongs, close. Frames are bounded
//! ([`MAX_EVENT_BYTES`]); what the client sends (pongs, the close) is masked, as a client's
//! frames must be.

use std::io::Read;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Largest event read (lifecycle and logging events are a few KB).
pub const MAX_EVENT_BYTES: usize = 1 << 20;

/// Fills `buf` with random bytes from the kernel (zeros when it cannot be read: a websocket
/// key and mask need not be secret).
pub fn fill_random(buf: &mut [u8]) {
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = f.read_exact(buf);
    }
}

/// Why the stream ended.
#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    /// The connection failed or closed.
    #[error("the event stream ended: {0}")]
    Io(#[from] std::io::Error),
    /// The server sent something that is not a websocket frame of ours.
    #[error("the event stream sent a bad frame: {0}")]
    Protocol(String),
}

/// An open event stream.
pub struct Events {
    io: reqwest::Upgraded,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Events")
    }
}

/// One frame: opcode, payload, whether it ends a message.
struct Frame {
    opcode: u8,
    fin: bool,
    payload: Vec<u8>,
}

impl Events {
    pub(crate) fn new(io: reqwest::Upgraded) -> Events {
        Events { io }
    }

    async fn frame(&mut self) -> Result<Frame, EventsError> {
        let mut head = [0u8; 2];
        self.io.read_exact(&mut head).await?;
        let fin = head[0] & 0x80 != 0;
        let opcode = head[0] & 0x0f;
        let masked = head[1] & 0x80 != 0;
        let len = match head[1] & 0x7f {
            126 => u64::from(self.io.read_u16().await?),
            127 => self.io.read_u64().await?,
            n => u64::from(n),
        };
        if len > MAX_EVENT_BYTES as u64 {
            return Err(EventsError::Protocol(format!("a frame of {len} bytes")));
        }
        let mut mask = [0u8; 4];
        if masked {
            self.io.read_exact(&mut mask).await?;
        }
        let mut payload = vec![0u8; len as usize];
        self.io.read_exact(&mut payload).await?;
        if masked {
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= mask[i % 4];
            }
        }
        Ok(Frame {
            opcode,
            fin,
            payload,
        })
    }

    async fn send(&mut self, opcode: u8, payload: &[u8]) -> Result<(), EventsError> {
        let mut mask = [0u8; 4];
        fill_random(&mut mask);
        let mut out = vec![0x80 | opcode, 0x80 | payload.len().min(125) as u8];
        out.extend_from_slice(&mask);
        out.extend(
            payload
                .iter()
                .take(125)
                .enumerate()
                .map(|(i, b)| b ^ mask[i % 4]),
        );
        self.io.write_all(&out).await?;
        self.io.flush().await?;
        Ok(())
    }

    /// The next event; `Ok(None)` when the server closed the stream.
    pub async fn next(&mut self) -> Result<Option<serde_json::Value>, EventsError> {
        let mut message = Vec::new();
        loop {
            let f = self.frame().await?;
            match f.opcode {
                0x0..=0x2 => {
                    if message.len() + f.payload.len() > MAX_EVENT_BYTES {
                        return Err(EventsError::Protocol("an event over 1 MiB".into()));
                    }
                    message.extend_from_slice(&f.payload);
                    if f.fin {
                        return serde_json::from_slice(&message)
                            .map(Some)
                            .map_err(|e| EventsError::Protocol(format!("not JSON: {e}")));
                    }
                }
                0x8 => {
                    let _ = self.send(0x8, &[]).await;
                    return Ok(None);
                }
                0x9 => self.send(0xA, &f.payload).await?,
                0xA => {}
                other => return Err(EventsError::Protocol(format!("opcode {other}"))),
            }
        }
    }
}
