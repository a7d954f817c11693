//! Response bodies: bytes in memory, or a stretch of an open file read as it is sent, always
//! of a known length (so every answer, HEAD included, carries Content-Length and none is chunked).
#![forbid(unsafe_code)]

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Frame, SizeHint};
use tokio::io::{AsyncRead, ReadBuf};

/// Bytes read from a file at a time.
const CHUNK: usize = 64 * 1024;

pub enum Body {
    Bytes(Option<Bytes>),
    /// `left` bytes of `file` from where it stands.
    File {
        file: tokio::fs::File,
        left: u64,
        buf: Box<[u8]>,
    },
}

impl Body {
    pub fn bytes(b: impl Into<Bytes>) -> Self {
        Body::Bytes(Some(b.into()))
    }

    pub fn empty() -> Self {
        Body::Bytes(None)
    }

    pub fn file(file: tokio::fs::File, len: u64) -> Self {
        Body::File { file, left: len, buf: vec![0; CHUNK].into_boxed_slice() }
    }

    pub fn len(&self) -> u64 {
        match self {
            Body::Bytes(b) => b.as_ref().map_or(0, |b| b.len() as u64),
            Body::File { left, .. } => *left,
        }
    }
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match self.get_mut() {
            Body::Bytes(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Body::File { file, left, buf } => {
                if *left == 0 {
                    return Poll::Ready(None);
                }
                let want = (*left).min(buf.len() as u64) as usize;
                let mut rb = ReadBuf::new(&mut buf[..want]);
                match Pin::new(file).poll_read(cx, &mut rb) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
                    Poll::Ready(Ok(())) => {
                        let got = rb.filled().len();
                        if got == 0 {
                            // The file shrank while it was sent: the connection is closed rather
                            // than the promised length silently broken.
                            return Poll::Ready(Some(Err(io::ErrorKind::UnexpectedEof.into())));
                        }
                        *left -= got as u64;
                        Poll::Ready(Some(Ok(Frame::data(Bytes::copy_from_slice(rb.filled())))))
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.len() == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.len())
    }
}
