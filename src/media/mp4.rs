//! Reads the MP4 edit list, which symphonia ignores, to find encoder priming (AAC's leading
//! 1024 or 2112 frames) and delayed track starts, so that decoded times match the player's.
#![forbid(unsafe_code)]

use std::io::{Read, Seek, SeekFrom};

/// How the container says the decoded audio maps onto the presentation timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EditTiming {
    /// Decoded frames (at the track's sample rate) to drop from the front.
    pub priming_frames: u64,
    /// Milliseconds of silence that precede the track in the presentation.
    pub leading_ms: u64,
}

/// The moov box is metadata only; a larger one is not a real file.
const MAX_MOOV: u64 = 256 << 20;

fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4).map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

fn be_u64(b: &[u8], at: usize) -> Option<u64> {
    b.get(at..at + 8).map(|s| {
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        u64::from_be_bytes(a)
    })
}

/// Iterates over the child boxes of `data` as (type, body).
fn boxes(data: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8])> {
    let mut pos = 0usize;
    std::iter::from_fn(move || {
        let size32 = be_u32(data, pos)? as u64;
        let kind: [u8; 4] = data.get(pos + 4..pos + 8)?.try_into().ok()?;
        let (header, size) = match size32 {
            1 => (16u64, be_u64(data, pos + 8)?),
            0 => (8, (data.len() - pos) as u64),
            n => (8, n),
        };
        if size < header || pos as u64 + size > data.len() as u64 {
            return None;
        }
        let body = &data[pos + header as usize..pos + size as usize];
        pos += size as usize;
        Some((kind, body))
    })
}

fn child<'a>(data: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    boxes(data).find(|(k, _)| k == kind).map(|(_, b)| b)
}

/// Finds the top-level `moov` box and returns its body.
fn read_moov<R: Read + Seek>(r: &mut R) -> Option<Vec<u8>> {
    let end = r.seek(SeekFrom::End(0)).ok()?;
    let mut pos = 0u64;
    while pos + 8 <= end {
        r.seek(SeekFrom::Start(pos)).ok()?;
        let mut h = [0u8; 16];
        r.read_exact(&mut h[..8]).ok()?;
        let size32 = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as u64;
        let (header, size) = match size32 {
            1 => {
                r.read_exact(&mut h[8..16]).ok()?;
                (16, be_u64(&h, 8)?)
            }
            0 => (8, end - pos),
            n => (8, n),
        };
        if size < header {
            return None;
        }
        if &h[4..8] == b"moov" {
            let len = size - header;
            if len > MAX_MOOV || pos + size > end {
                return None;
            }
            let mut body = vec![0u8; len as usize];
            r.seek(SeekFrom::Start(pos + header)).ok()?;
            r.read_exact(&mut body).ok()?;
            return Some(body);
        }
        pos += size;
    }
    None
}

/// Whether the top-level `moov` (the index) comes before `mdat` (the data): such a file can be
/// read front to back, and so still be read when its end is cut off.
pub fn moov_first<R: Read + Seek>(r: &mut R) -> bool {
    let Ok(end) = r.seek(SeekFrom::End(0)) else { return false };
    let mut pos = 0u64;
    while pos + 8 <= end {
        let mut h = [0u8; 16];
        if r.seek(SeekFrom::Start(pos)).is_err() || r.read_exact(&mut h[..8]).is_err() {
            return false;
        }
        let size = match u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as u64 {
            1 => match r.read_exact(&mut h[8..16]).ok().and_then(|_| be_u64(&h, 8)) {
                Some(n) => n,
                None => return false,
            },
            0 => end - pos,
            n => n,
        };
        match &h[4..8] {
            b"moov" => return true,
            b"mdat" => return false,
            _ if size < 8 => return false,
            _ => pos += size,
        }
    }
    false
}

/// Reads the edit list of track `track_id` from an MP4/MOV file. `None` when the file has no
/// usable edit list for it (then nothing is trimmed).
pub fn edit_timing<R: Read + Seek>(r: &mut R, track_id: u32, sample_rate: u32) -> Option<EditTiming> {
    let start = r.stream_position().ok()?;
    let moov = read_moov(r);
    r.seek(SeekFrom::Start(start)).ok()?;
    let moov = moov?;
    let mvhd = child(&moov, b"mvhd")?;
    let movie_scale = if mvhd.first()? == &1 { be_u32(mvhd, 20)? } else { be_u32(mvhd, 12)? };
    let trak = boxes(&moov).filter(|(k, _)| k == b"trak").map(|(_, b)| b).find(|trak| {
        child(trak, b"tkhd").and_then(|t| if t.first()? == &1 { be_u32(t, 20) } else { be_u32(t, 12) })
            == Some(track_id)
    })?;
    let mdhd = child(child(trak, b"mdia")?, b"mdhd")?;
    let media_scale = if mdhd.first()? == &1 { be_u32(mdhd, 20)? } else { be_u32(mdhd, 12)? };
    let elst = child(child(trak, b"edts")?, b"elst")?;
    let version = *elst.first()?;
    let count = be_u32(elst, 4)? as usize;
    let entry_len = if version == 1 { 20 } else { 12 };
    let mut timing = EditTiming::default();
    for i in 0..count.min(64) {
        let at = 8 + i * entry_len;
        let (duration, media_time) = if version == 1 {
            (be_u64(elst, at)?, be_u64(elst, at + 8)? as i64)
        } else {
            (be_u32(elst, at)? as u64, be_u32(elst, at + 4)? as i32 as i64)
        };
        if media_time < 0 {
            // An empty edit: the track starts this much later in the presentation.
            if movie_scale > 0 {
                timing.leading_ms += duration * 1000 / movie_scale as u64;
            }
            continue;
        }
        if media_scale > 0 {
            timing.priming_frames = media_time as u64 * sample_rate as u64 / media_scale as u64;
        }
        break;
    }
    Some(timing)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn bx(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut v = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(body);
        v
    }

    fn file(elst_entries: &[(u32, i32)]) -> Vec<u8> {
        let mut mvhd = vec![0u8; 100];
        mvhd[12..16].copy_from_slice(&1000u32.to_be_bytes());
        let mut tkhd = vec![0u8; 84];
        tkhd[12..16].copy_from_slice(&2u32.to_be_bytes());
        let mut mdhd = vec![0u8; 24];
        mdhd[12..16].copy_from_slice(&48000u32.to_be_bytes());
        let mut elst = vec![0u8; 4];
        elst.extend_from_slice(&(elst_entries.len() as u32).to_be_bytes());
        for (d, t) in elst_entries {
            elst.extend_from_slice(&d.to_be_bytes());
            elst.extend_from_slice(&t.to_be_bytes());
            elst.extend_from_slice(&[0, 1, 0, 0]);
        }
        let trak = [bx(b"tkhd", &tkhd), bx(b"edts", &bx(b"elst", &elst)), bx(b"mdia", &bx(b"mdhd", &mdhd))].concat();
        let moov = [bx(b"mvhd", &mvhd), bx(b"trak", &trak)].concat();
        [bx(b"ftyp", b"isom\0\0\0\0"), bx(b"mdat", &[0u8; 32]), bx(b"moov", &moov)].concat()
    }

    #[test]
    fn reads_priming_and_empty_edits() {
        let f = file(&[(250, -1), (5000, 1024)]);
        let t = edit_timing(&mut Cursor::new(f), 2, 48000).unwrap();
        assert_eq!(t, EditTiming { priming_frames: 1024, leading_ms: 250 });
    }

    #[test]
    fn other_tracks_and_garbage_give_none() {
        assert_eq!(edit_timing(&mut Cursor::new(file(&[(1, 1024)])), 7, 48000), None);
        assert_eq!(edit_timing(&mut Cursor::new(vec![0xffu8; 100]), 1, 48000), None);
    }
}
