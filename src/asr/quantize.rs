//! Quantises a ggml whisper model (q8_0, q5_1, …) with ggml's own quantiser, following the rules
//! of whisper.cpp's `quantize` tool.
// The FFI to whisper.cpp and ggml: one of the two modules allowed unsafe code.
#![allow(unsafe_code)]

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::str::FromStr;

use whisper_rs::whisper_rs_sys as sys;

use super::ggml::{self, GgmlError, Hparams, QNT_VERSION, QNT_VERSION_FACTOR};
use crate::output::{FileError, write_atomically};

/// Target weight types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quant {
    Q8_0,
    Q5_1,
    Q5_0,
    Q4_0,
}

impl Quant {
    /// As in file names and `model list`: q8_0, q5_1, …
    pub fn name(self) -> &'static str {
        match self {
            Quant::Q8_0 => "q8_0",
            Quant::Q5_1 => "q5_1",
            Quant::Q5_0 => "q5_0",
            Quant::Q4_0 => "q4_0",
        }
    }

    /// (ggml tensor type, ggml file type)
    fn codes(self) -> (u32, i32) {
        match self {
            Quant::Q8_0 => (8, 7),
            Quant::Q5_1 => (7, 9),
            Quant::Q5_0 => (6, 8),
            Quant::Q4_0 => (2, 2),
        }
    }
}

impl FromStr for Quant {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let all = [Quant::Q8_0, Quant::Q5_1, Quant::Q5_0, Quant::Q4_0];
        let lower = s.to_ascii_lowercase();
        all.into_iter()
            .find(|q| q.name() == lower)
            .ok_or_else(|| format!("unknown quantisation {s:?} (choose q8_0, q5_1, q5_0 or q4_0)"))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum QuantizeError {
    #[error("input model")]
    Input(#[source] GgmlError),
    #[error("the input model is already quantised ({0}); quantise an f16 or f32 model")]
    AlreadyQuantised(&'static str),
    #[error("read error")]
    Io(#[from] std::io::Error),
    #[error("tensor {tensor}: {ours} bytes by vidscribe's block table, {ggml} by ggml's; not quantised")]
    Layout { tensor: String, ours: usize, ggml: usize },
}

/// Tensors whisper.cpp leaves unquantised even when they are 2-D.
const KEEP: [&str; 4] =
    ["encoder.conv1.bias", "encoder.conv2.bias", "encoder.positional_embedding", "decoder.positional_embedding"];

fn quantize_into<W: Write + ?Sized>(input: &Path, q: Quant, w: &mut W) -> Result<Hparams, QuantizeError> {
    let mut f = BufReader::new(File::open(input)?);
    let layout = ggml::read_layout(&mut f).map_err(QuantizeError::Input)?;
    let h = layout.hparams;
    if h.ftype % QNT_VERSION_FACTOR > 1 {
        return Err(QuantizeError::AlreadyQuantised(h.ftype_name()));
    }
    let (ttype, ftype) = q.codes();
    let out_h = Hparams { ftype: ftype + QNT_VERSION * QNT_VERSION_FACTOR, ..h };
    ggml::write_header(w, &out_h)?;
    // Mel filters and vocabulary are copied as they are.
    let mut mel = vec![0f32; (layout.n_mel * layout.n_fft) as usize];
    f.seek(SeekFrom::Start(layout.mel_offset))?;
    let mut b = vec![0u8; mel.len() * 4];
    f.read_exact(&mut b)?;
    for (m, c) in mel.iter_mut().zip(b.chunks_exact(4)) {
        *m = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
    }
    ggml::write_mel(w, layout.n_mel, layout.n_fft, &mel)?;
    ggml::write_vocab(w, &layout.vocab)?;

    // SAFETY: ggml_quantize_init only fills ggml's internal lookup tables.
    unsafe { sys::ggml_quantize_init(ttype) };
    let mut raw = Vec::new();
    let mut values: Vec<f32> = Vec::new();
    let mut out = Vec::new();
    for t in &layout.tensors {
        raw.resize(t.nbytes as usize, 0);
        f.seek(SeekFrom::Start(t.offset))?;
        f.read_exact(&mut raw)?;
        let quantise = t.ne.len() == 2 && !KEEP.contains(&t.name.as_str()) && t.ne[0] % 32 == 0 && t.ttype <= 1;
        if !quantise {
            ggml::write_tensor(w, &t.name, &t.ne, t.ttype, &raw)?;
            continue;
        }
        values.clear();
        if t.ttype == 0 {
            values.extend(raw.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])));
        } else {
            values.extend(raw.chunks_exact(2).map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32()));
        }
        let (n_per_row, nrows) = (t.ne[0], t.elements() / t.ne[0]);
        let size = ggml::tensor_bytes(ttype, n_per_row, t.elements()).unwrap_or(0);
        // SAFETY: a pure function of its arguments. ggml's own row size must agree with ours,
        // or the call below would write past `out`.
        let ggml_size = unsafe { sys::ggml_row_size(ttype, n_per_row as i64) } * nrows;
        if size == 0 || ggml_size != size {
            return Err(QuantizeError::Layout { tensor: t.name.clone(), ours: size, ggml: ggml_size });
        }
        out.resize(size, 0);
        // SAFETY: `values` holds nrows × n_per_row floats and `out` has room for the quantised
        // rows (size computed from the same block layout ggml uses).
        let written = unsafe {
            sys::ggml_quantize_chunk(
                ttype,
                values.as_ptr(),
                out.as_mut_ptr().cast(),
                0,
                nrows as i64,
                n_per_row as i64,
                std::ptr::null(),
            )
        };
        debug_assert_eq!(written, size);
        ggml::write_tensor(w, &t.name, &t.ne, ttype, &out)?;
    }
    Ok(out_h)
}

/// Writes a quantised copy of `input` to `output` (atomically).
pub fn quantize(input: &Path, output: &Path, q: Quant) -> Result<Hparams, FileError<QuantizeError>> {
    write_atomically(output, |w| quantize_into(input, q, w))
}
