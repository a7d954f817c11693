//! sha256 checksums as lower-case hex: of files (models, media, articles) and of bytes.
#![forbid(unsafe_code)]

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

/// The sha256 of a file, read a megabyte at a time. Only a regular file: a device (`/dev/zero`)
/// would be hashed for ever, a FIFO would block until a writer came and then lose its data.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    regular(path)?;
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

/// An error unless `path` is a regular file (symbolic links followed), checked before it is
/// opened: opening a FIFO waits for a writer.
pub fn regular(path: &Path) -> std::io::Result<()> {
    if std::fs::metadata(path)?.is_file() {
        Ok(())
    } else {
        Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file (a folder, device, FIFO or socket): only files are read here",
        ))
    }
}

/// The sha256 of some bytes.
pub fn sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_digest() {
        assert_eq!(super::sha256(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
