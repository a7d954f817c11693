//! Finding one's feet again in a damaged Matroska/WebM file.
//!
//! symphonia's reader stops at the first element it cannot parse, so a kilobyte of zeros in the
//! middle of a WebM lost everything after it. Matroska's audio lives in Clusters, each a
//! top-level element that begins with its own time code; the reader is given the file's header
//! (everything before the first Cluster) followed by the file from the next intact Cluster after
//! the damage, and goes on from there. The gap between is silence of its length.
#![forbid(unsafe_code)]

use std::io::{Read, Seek, SeekFrom};

const EBML_ID: u32 = 0x1A45_DFA3;
const SEGMENT_ID: u32 = 0x1853_8067;
const CLUSTER_ID: u32 = 0x1F43_B675;
const TIMECODE_ID: u8 = 0xE7;
/// A CRC-32 element may come first in a Cluster (ffmpeg's Matroska muxer writes one).
const CRC32_ID: u8 = 0xBF;
/// The header (EBML header, SeekHead, Info, Tracks…) is looked for in this much of the file.
pub const MAX_HEADER_BYTES: u64 = 16 << 20;
/// Bytes read at a time while scanning for a Cluster.
const SCAN_BLOCK: usize = 1 << 20;

/// An EBML element ID at the start of `b`: (id, length).
fn element_id(b: &[u8]) -> Option<(u32, usize)> {
    let first = *b.first()?;
    let len = first.leading_zeros() as usize + 1;
    if len > 4 || b.len() < len {
        return None;
    }
    Some((b[..len].iter().fold(0u32, |v, &x| (v << 8) | x as u32), len))
}

/// An EBML size at the start of `b`: (size, length); `None` for "unknown" (all ones) or invalid.
fn element_size(b: &[u8]) -> Option<(u64, usize)> {
    let first = *b.first()?;
    let len = first.leading_zeros() as usize + 1;
    if len > 8 || b.len() < len {
        return None;
    }
    let mask = if len == 8 { 0 } else { 0xFFu8 >> len };
    let mut v = (first & mask) as u64;
    for &x in &b[1..len] {
        v = (v << 8) | x as u64;
    }
    let unknown = (1u64 << (7 * len)) - 1;
    (v != unknown).then_some((v, len))
}

/// Offset of the first Cluster: the header ends there.
pub fn first_cluster(r: &mut (impl Read + Seek + ?Sized)) -> Option<u64> {
    r.seek(SeekFrom::Start(0)).ok()?;
    let mut head = Vec::new();
    r.take(MAX_HEADER_BYTES).read_to_end(&mut head).ok()?;
    let (id, n) = element_id(&head)?;
    if id != EBML_ID {
        return None;
    }
    let (size, m) = element_size(&head[n..])?;
    let mut at = n + m + usize::try_from(size).ok()?;
    // The Segment (its size may be unknown), then its children until the first Cluster.
    let (id, n) = element_id(head.get(at..)?)?;
    if id != SEGMENT_ID {
        return None;
    }
    let m = head.get(at + n)?.leading_zeros() as usize + 1;
    at += n + m;
    loop {
        let (id, n) = element_id(head.get(at..)?)?;
        if id == CLUSTER_ID {
            return Some(at as u64);
        }
        let (size, m) = element_size(head.get(at + n..)?)?;
        at = at.checked_add(n + m)?.checked_add(usize::try_from(size).ok()?)?;
    }
}

/// A Cluster header at the start of `b` (ID, a size, its Timecode first, after a CRC-32 if
/// there is one): its time code.
fn cluster_at(b: &[u8]) -> Option<u64> {
    if b.get(..4)? != CLUSTER_ID.to_be_bytes() {
        return None;
    }
    let (_, n) = element_size(&b[4..]).or_else(|| {
        // A cluster written live may have an unknown size.
        let len = b.get(4)?.leading_zeros() as usize + 1;
        (len <= 8).then_some((u64::MAX, len))
    })?;
    let mut at = 4 + n;
    if *b.get(at)? == CRC32_ID && *b.get(at + 1)? == 0x84 {
        at += 6;
    }
    if *b.get(at)? != TIMECODE_ID {
        return None;
    }
    let (size, m) = element_size(&b[at + 1..])?;
    if !(1..=8).contains(&size) {
        return None;
    }
    let v = b.get(at + 1 + m..at + 1 + m + size as usize)?;
    Some(v.iter().fold(0u64, |t, &x| (t << 8) | x as u64))
}

/// The first intact Cluster at or after byte `from` whose time code is later than `after`
/// (clusters already heard are passed over): its offset and time code.
pub fn next_cluster(r: &mut (impl Read + Seek + ?Sized), from: u64, after: i64) -> Option<(u64, u64)> {
    let mut block = vec![0u8; SCAN_BLOCK + 32];
    let mut pos = from;
    loop {
        r.seek(SeekFrom::Start(pos)).ok()?;
        let mut got = 0;
        while got < block.len() {
            match r.read(&mut block[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return None,
            }
        }
        if got < 4 {
            return None;
        }
        let data = &block[..got];
        // Candidates start in the first SCAN_BLOCK bytes; the 32 beyond let the header be read.
        let end = got.min(SCAN_BLOCK);
        for i in 0..end {
            if data[i] == 0x1F
                && let Some(tc) = cluster_at(&data[i..])
                && i64::try_from(tc).is_ok_and(|t| t > after)
            {
                return Some((pos + i as u64, tc));
            }
        }
        if got < block.len() {
            return None;
        }
        pos += SCAN_BLOCK as u64;
    }
}

/// The file as the reader is given it after damage: the header, then the file from `resume`.
pub struct Spliced<R> {
    head: std::io::Cursor<Vec<u8>>,
    tail: R,
}

impl<R: Read + Seek> Spliced<R> {
    /// `file` read for its first `header_len` bytes, then from `resume` on.
    pub fn new(mut file: R, header_len: u64, resume: u64) -> std::io::Result<Self> {
        file.seek(SeekFrom::Start(0))?;
        let mut head = Vec::with_capacity(header_len as usize);
        (&mut file).take(header_len).read_to_end(&mut head)?;
        file.seek(SeekFrom::Start(resume))?;
        Ok(Self { head: std::io::Cursor::new(head), tail: file })
    }
}

impl<R: Read> Read for Spliced<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.head.read(buf)? {
            0 => self.tail.read(buf),
            n => Ok(n),
        }
    }
}

impl<R> Seek for Spliced<R> {
    fn seek(&mut self, _: SeekFrom) -> std::io::Result<u64> {
        Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "a re-synchronised Matroska stream is read front to back",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal file: EBML header, Segment of unknown size, Info, then clusters at 0, 1000, 2000.
    fn file() -> (Vec<u8>, Vec<u64>) {
        let mut f = vec![0x1A, 0x45, 0xDF, 0xA3, 0x84, 0x42, 0x82, 0x81, 0x77];
        f.extend([0x18, 0x53, 0x80, 0x67, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
        f.extend([0x15, 0x49, 0xA9, 0x66, 0x83, 1, 2, 3]);
        let mut at = Vec::new();
        for tc in [0u16, 1000, 2000] {
            at.push(f.len() as u64);
            f.extend([0x1F, 0x43, 0xB6, 0x75, 0x8C, 0xE7, 0x82]);
            f.extend(tc.to_be_bytes());
            f.extend([0xA3, 0x86, 0x81, 0, 0, 0x80, 9, 9]);
        }
        (f, at)
    }

    #[test]
    fn clusters_are_found_after_damage() {
        let (mut f, at) = file();
        assert_eq!(first_cluster(&mut std::io::Cursor::new(&f)), Some(at[0]));
        // The second cluster's header zeroed: the third is the next intact one.
        for b in &mut f[at[1] as usize..at[1] as usize + 6] {
            *b = 0;
        }
        let mut c = std::io::Cursor::new(&f);
        assert_eq!(next_cluster(&mut c, at[0] + 1, -1), Some((at[2], 2000)));
        // Clusters already heard are passed over.
        assert_eq!(next_cluster(&mut c, at[0], 0), Some((at[2], 2000)));
        assert_eq!(next_cluster(&mut c, at[0], 2000), None);
        let mut s = Vec::new();
        Spliced::new(std::io::Cursor::new(&f), at[0], at[2]).unwrap().read_to_end(&mut s).unwrap();
        assert_eq!(s.len() as u64, at[0] + (f.len() as u64 - at[2]));
        assert_eq!(first_cluster(&mut std::io::Cursor::new(&s)), Some(at[0]));
    }

    #[test]
    fn garbage_is_not_a_header() {
        assert_eq!(first_cluster(&mut std::io::Cursor::new(vec![0u8; 100])), None);
        assert_eq!(first_cluster(&mut std::io::Cursor::new(vec![0xFFu8; 100])), None);
        assert_eq!(next_cluster(&mut std::io::Cursor::new(vec![0x1Fu8; 5000]), 0, -1), None);
        assert_eq!(element_size(&[0x80]), Some((0, 1)));
        assert_eq!(element_size(&[0xFF]), None, "unknown size");
        assert_eq!(element_size(&[0x00]), None);
    }
}
