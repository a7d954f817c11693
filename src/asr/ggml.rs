//! The whisper.cpp ggml model file: layout, reading with full validation, and writing.
//!
//! whisper.cpp trusts the file and can crash on a truncated or foreign one, so every model is
//! walked here, header to last tensor, before whisper.cpp is allowed to open it.
#![forbid(unsafe_code)]

use std::io::{self, Read, Seek, SeekFrom, Write};

pub const MAGIC: u32 = 0x6767_6d6c;
/// whisper.cpp stores `ftype + 1000 * GGML_QNT_VERSION` for quantised files.
pub const QNT_VERSION_FACTOR: i32 = 1000;
pub const QNT_VERSION: i32 = 2;

/// The eleven header integers, in file order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hparams {
    pub n_vocab: i32,
    pub n_audio_ctx: i32,
    pub n_audio_state: i32,
    pub n_audio_head: i32,
    pub n_audio_layer: i32,
    pub n_text_ctx: i32,
    pub n_text_state: i32,
    pub n_text_head: i32,
    pub n_text_layer: i32,
    pub n_mels: i32,
    pub ftype: i32,
}

impl Hparams {
    fn to_array(self) -> [i32; 11] {
        [
            self.n_vocab,
            self.n_audio_ctx,
            self.n_audio_state,
            self.n_audio_head,
            self.n_audio_layer,
            self.n_text_ctx,
            self.n_text_state,
            self.n_text_head,
            self.n_text_layer,
            self.n_mels,
            self.ftype,
        ]
    }

    fn from_array(a: [i32; 11]) -> Self {
        Self {
            n_vocab: a[0],
            n_audio_ctx: a[1],
            n_audio_state: a[2],
            n_audio_head: a[3],
            n_audio_layer: a[4],
            n_text_ctx: a[5],
            n_text_state: a[6],
            n_text_head: a[7],
            n_text_layer: a[8],
            n_mels: a[9],
            ftype: a[10],
        }
    }

    /// tiny, base, small, medium or large, from the encoder's size.
    pub fn size_name(&self) -> &'static str {
        match (self.n_audio_layer, self.n_audio_state) {
            (4, 384) => "tiny",
            (6, 512) => "base",
            (12, 768) => "small",
            (24, 1024) => "medium",
            (32, 1280) => "large",
            _ => "custom",
        }
    }

    pub fn is_multilingual(&self) -> bool {
        self.n_vocab >= 51865
    }

    /// `tiny.en`, `base`, …: the names Whisper's models are known by.
    pub fn model_name(&self) -> String {
        let size = self.size_name();
        if self.is_multilingual() { size.to_string() } else { format!("{size}.en") }
    }

    /// The weight type name: f32, f16, q8_0, q5_1, …
    pub fn ftype_name(&self) -> &'static str {
        match self.ftype % QNT_VERSION_FACTOR {
            0 => "f32",
            1 => "f16",
            2 => "q4_0",
            3 => "q4_1",
            7 => "q8_0",
            8 => "q5_0",
            9 => "q5_1",
            _ => "unknown",
        }
    }
}

/// ggml tensor types whisper model files use: (type id, name, block length, bytes per block).
const TYPES: [(u32, &str, usize, usize); 7] = [
    (0, "f32", 1, 4),
    (1, "f16", 1, 2),
    (2, "q4_0", 32, 18),
    (3, "q4_1", 32, 20),
    (6, "q5_0", 32, 22),
    (7, "q5_1", 32, 24),
    (8, "q8_0", 32, 34),
];

/// Bytes a tensor of `elements` values takes in type `ttype`, if the type is known and the
/// element count is a whole number of blocks.
pub fn tensor_bytes(ttype: u32, row: usize, elements: usize) -> Option<usize> {
    let &(_, _, block, bytes) = TYPES.iter().find(|t| t.0 == ttype)?;
    if !row.is_multiple_of(block) {
        return None;
    }
    Some(elements / block * bytes)
}

/// Largest weight magnitude a trained Whisper model plausibly holds (its largest are in the
/// tens); damage to f16 data gives NaN, infinity or huge values almost surely.
pub const MAX_WEIGHT: f32 = 1.0e4;
/// A run of this many exact zeros in a weight tensor is a wiped range, not training.
pub const MAX_ZERO_RUN: usize = 4096;

/// Reads every tensor's values and refuses what whisper.cpp must never see: NaN, infinities,
/// absurd magnitudes, long runs of zeros (f32 and f16 weights; the f16 scales of each block of
/// quantised ones). Trained models pass; damaged bytes in the weights are found before they can
/// crash whisper.cpp (a NaN made its DTW segfault).
pub fn check_values<R: Read + Seek>(r: &mut R, layout: &Layout) -> Result<(), GgmlError> {
    let mut buf = Vec::new();
    for t in &layout.tensors {
        buf.resize(t.nbytes as usize, 0);
        r.seek(SeekFrom::Start(t.offset))?;
        r.read_exact(&mut buf).map_err(|e| eof(e, &t.name))?;
        let bad = |problem: String| GgmlError::Tensor { name: t.name.clone(), problem };
        let mut zeros = 0usize;
        let mut check = |v: f32, i: usize| -> Result<(), GgmlError> {
            if !v.is_finite() || v.abs() > MAX_WEIGHT {
                return Err(bad(format!("value {v} at {i} (damaged weights)")));
            }
            zeros = if v == 0.0 { zeros + 1 } else { 0 };
            if zeros >= MAX_ZERO_RUN {
                return Err(bad(format!("{MAX_ZERO_RUN} zeros in a row before {i} (damaged weights)")));
            }
            Ok(())
        };
        match t.ttype {
            0 => {
                for (i, c) in buf.chunks_exact(4).enumerate() {
                    check(f32::from_le_bytes([c[0], c[1], c[2], c[3]]), i)?;
                }
            }
            1 => {
                for (i, c) in buf.chunks_exact(2).enumerate() {
                    check(half::f16::from_le_bytes([c[0], c[1]]).to_f32(), i)?;
                }
            }
            ttype => {
                // Each block starts with its f16 scale (and, for the _1 types, its f16 minimum).
                let Some(&(_, _, _, block)) = TYPES.iter().find(|x| x.0 == ttype) else { continue };
                let scales = if matches!(ttype, 3 | 7) { 2 } else { 1 };
                for (b, c) in buf.chunks_exact(block).enumerate() {
                    for k in 0..scales {
                        let v = half::f16::from_le_bytes([c[2 * k], c[2 * k + 1]]).to_f32();
                        if !v.is_finite() || v.abs() > MAX_WEIGHT {
                            return Err(bad(format!("block scale {v} at block {b} (damaged weights)")));
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// One tensor's header and where its data lies.
#[derive(Debug, Clone)]
pub struct TensorInfo {
    pub name: String,
    /// Dimensions in ggml order (ne0 first).
    pub ne: Vec<usize>,
    pub ttype: u32,
    pub offset: u64,
    pub nbytes: u64,
}

impl TensorInfo {
    pub fn elements(&self) -> usize {
        self.ne.iter().product()
    }
}

/// The whole file's structure.
#[derive(Debug, Clone)]
pub struct Layout {
    pub hparams: Hparams,
    pub n_mel: i32,
    pub n_fft: i32,
    pub mel_offset: u64,
    pub vocab: Vec<Vec<u8>>,
    pub tensors: Vec<TensorInfo>,
    pub file_len: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum GgmlError {
    #[error("not a whisper.cpp ggml model (magic {0:#010x})")]
    Magic(u32),
    #[error("the file is truncated: it ends inside {0}")]
    Truncated(String),
    #[error("implausible header value {name} = {value}")]
    Header { name: &'static str, value: i32 },
    #[error("tensor {name}: {problem}")]
    Tensor { name: String, problem: String },
    #[error("the model lacks tensor {0}")]
    Missing(String),
    #[error("read error")]
    Io(#[from] io::Error),
}

fn read_i32<R: Read>(r: &mut R, what: &str) -> Result<i32, GgmlError> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b).map_err(|e| eof(e, what))?;
    Ok(i32::from_le_bytes(b))
}

fn eof(e: io::Error, what: &str) -> GgmlError {
    if e.kind() == io::ErrorKind::UnexpectedEof { GgmlError::Truncated(what.to_string()) } else { GgmlError::Io(e) }
}

/// Tensor names whisper.cpp requires for these hyperparameters.
pub fn required_tensors(h: &Hparams) -> Vec<String> {
    let mut v: Vec<String> = [
        "encoder.positional_embedding",
        "encoder.conv1.weight",
        "encoder.conv1.bias",
        "encoder.conv2.weight",
        "encoder.conv2.bias",
        "encoder.ln_post.weight",
        "encoder.ln_post.bias",
        "decoder.positional_embedding",
        "decoder.token_embedding.weight",
        "decoder.ln.weight",
        "decoder.ln.bias",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let attn = [
        "attn.query.weight",
        "attn.query.bias",
        "attn.key.weight",
        "attn.value.weight",
        "attn.value.bias",
        "attn.out.weight",
        "attn.out.bias",
    ];
    let common = [
        "mlp_ln.weight",
        "mlp_ln.bias",
        "mlp.0.weight",
        "mlp.0.bias",
        "mlp.2.weight",
        "mlp.2.bias",
        "attn_ln.weight",
        "attn_ln.bias",
    ];
    for i in 0..h.n_audio_layer {
        for n in attn.iter().chain(common.iter()) {
            v.push(format!("encoder.blocks.{i}.{n}"));
        }
    }
    for i in 0..h.n_text_layer {
        for n in attn.iter().chain(common.iter()) {
            v.push(format!("decoder.blocks.{i}.{n}"));
        }
        for n in attn {
            v.push(format!("decoder.blocks.{i}.cross_{n}"));
        }
        v.push(format!("decoder.blocks.{i}.cross_attn_ln.weight"));
        v.push(format!("decoder.blocks.{i}.cross_attn_ln.bias"));
    }
    v
}

/// Walks the whole file and checks that whisper.cpp will find everything it reads.
pub fn read_layout<R: Read + Seek>(r: &mut R) -> Result<Layout, GgmlError> {
    let file_len = r.seek(SeekFrom::End(0))?;
    r.seek(SeekFrom::Start(0))?;
    let mut b = [0u8; 4];
    r.read_exact(&mut b).map_err(|e| eof(e, "the header"))?;
    let magic = u32::from_le_bytes(b);
    if magic != MAGIC {
        return Err(GgmlError::Magic(magic));
    }
    let mut a = [0i32; 11];
    for x in a.iter_mut() {
        *x = read_i32(r, "the header")?;
    }
    let h = Hparams::from_array(a);
    let checks: [(&str, i32, i32, i32); 11] = [
        ("n_vocab", h.n_vocab, 1000, 1_000_000),
        ("n_audio_ctx", h.n_audio_ctx, 1, 1500),
        ("n_audio_state", h.n_audio_state, 64, 8192),
        ("n_audio_head", h.n_audio_head, 1, 128),
        ("n_audio_layer", h.n_audio_layer, 1, 128),
        ("n_text_ctx", h.n_text_ctx, 1, 448),
        ("n_text_state", h.n_text_state, 64, 8192),
        ("n_text_head", h.n_text_head, 1, 128),
        ("n_text_layer", h.n_text_layer, 1, 128),
        ("n_mels", h.n_mels, 80, 128),
        ("ftype", h.ftype % QNT_VERSION_FACTOR, 0, 9),
    ];
    for (name, value, lo, hi) in checks {
        if value < lo || value > hi {
            return Err(GgmlError::Header { name, value });
        }
    }
    let n_mel = read_i32(r, "the mel filters")?;
    let n_fft = read_i32(r, "the mel filters")?;
    if !(1..=256).contains(&n_mel) || !(1..=2048).contains(&n_fft) {
        return Err(GgmlError::Header { name: "mel filter size", value: n_mel.max(n_fft) });
    }
    let mel_offset = r.stream_position()?;
    let mel_bytes = n_mel as u64 * n_fft as u64 * 4;
    if mel_offset + mel_bytes > file_len {
        return Err(GgmlError::Truncated("the mel filters".into()));
    }
    r.seek(SeekFrom::Current(mel_bytes as i64))?;
    let n_tokens = read_i32(r, "the vocabulary")?;
    if n_tokens < 0 || n_tokens > h.n_vocab {
        return Err(GgmlError::Header { name: "vocabulary size", value: n_tokens });
    }
    let mut vocab = Vec::with_capacity(n_tokens as usize);
    let mut br = io::BufReader::new(&mut *r);
    for _ in 0..n_tokens {
        let len = read_i32(&mut br, "the vocabulary")?;
        if !(0..=4096).contains(&len) {
            return Err(GgmlError::Header { name: "token length", value: len });
        }
        let mut t = vec![0u8; len as usize];
        br.read_exact(&mut t).map_err(|e| eof(e, "the vocabulary"))?;
        vocab.push(t);
    }
    let mut pos = br.stream_position()?;
    drop(br);
    r.seek(SeekFrom::Start(pos))?;
    let mut tensors = Vec::new();
    while pos < file_len {
        let mut hdr = [0u8; 12];
        r.read_exact(&mut hdr).map_err(|e| eof(e, "a tensor header"))?;
        let n_dims = i32::from_le_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]);
        let name_len = i32::from_le_bytes([hdr[4], hdr[5], hdr[6], hdr[7]]);
        let ttype = u32::from_le_bytes([hdr[8], hdr[9], hdr[10], hdr[11]]);
        if !(1..=4).contains(&n_dims) || !(1..=512).contains(&name_len) {
            return Err(GgmlError::Tensor {
                name: format!("#{}", tensors.len()),
                problem: format!("bad header (n_dims {n_dims}, name length {name_len})"),
            });
        }
        let mut ne = Vec::with_capacity(n_dims as usize);
        for _ in 0..n_dims {
            let d = read_i32(r, "a tensor header")?;
            if d <= 0 {
                return Err(GgmlError::Tensor {
                    name: format!("#{}", tensors.len()),
                    problem: format!("dimension {d}"),
                });
            }
            ne.push(d as usize);
        }
        let mut name = vec![0u8; name_len as usize];
        r.read_exact(&mut name).map_err(|e| eof(e, "a tensor name"))?;
        let name = String::from_utf8_lossy(&name).into_owned();
        let elements: usize = ne.iter().product();
        let nbytes = tensor_bytes(ttype, ne[0], elements).ok_or_else(|| GgmlError::Tensor {
            name: name.clone(),
            problem: format!("unknown type {ttype} or row length {} not a whole number of blocks", ne[0]),
        })? as u64;
        let offset = r.stream_position()?;
        if offset + nbytes > file_len {
            return Err(GgmlError::Truncated(format!("tensor {name}")));
        }
        r.seek(SeekFrom::Current(nbytes as i64))?;
        pos = offset + nbytes;
        tensors.push(TensorInfo { name, ne, ttype, offset, nbytes });
    }
    for want in required_tensors(&h) {
        if !tensors.iter().any(|t| t.name == want) {
            return Err(GgmlError::Missing(want));
        }
    }
    Ok(Layout { hparams: h, n_mel, n_fft, mel_offset, vocab, tensors, file_len })
}

pub fn write_header<W: Write + ?Sized>(w: &mut W, h: &Hparams) -> io::Result<()> {
    w.write_all(&MAGIC.to_le_bytes())?;
    for v in h.to_array() {
        w.write_all(&v.to_le_bytes())?;
    }
    Ok(())
}

pub fn write_mel<W: Write + ?Sized>(w: &mut W, n_mel: i32, n_fft: i32, data: &[f32]) -> io::Result<()> {
    w.write_all(&n_mel.to_le_bytes())?;
    w.write_all(&n_fft.to_le_bytes())?;
    for v in data {
        w.write_all(&v.to_le_bytes())?;
    }
    Ok(())
}

pub fn write_vocab<W: Write + ?Sized>(w: &mut W, tokens: &[Vec<u8>]) -> io::Result<()> {
    w.write_all(&(tokens.len() as i32).to_le_bytes())?;
    for t in tokens {
        w.write_all(&(t.len() as i32).to_le_bytes())?;
        w.write_all(t)?;
    }
    Ok(())
}

/// Writes one tensor; `ne` in ggml order, `data` already in type `ttype`.
pub fn write_tensor<W: Write + ?Sized>(w: &mut W, name: &str, ne: &[usize], ttype: u32, data: &[u8]) -> io::Result<()> {
    w.write_all(&(ne.len() as i32).to_le_bytes())?;
    w.write_all(&(name.len() as i32).to_le_bytes())?;
    w.write_all(&ttype.to_le_bytes())?;
    for &d in ne {
        w.write_all(&(d as i32).to_le_bytes())?;
    }
    w.write_all(name.as_bytes())?;
    w.write_all(data)
}
