//! Reads a PyTorch state dict saved in the zip format (`torch.save` since 1.6): `data.pkl`, a
//! pickle naming each tensor's storage, shape and strides, and `data/<key>` files holding the
//! storages. Only the part of pickle a state dict uses is understood (a small stack machine;
//! nothing is ever executed): anything else is refused with the opcode or global named.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::io::{Read, Seek};

/// Limits that keep a hostile file from taking the machine: the pickle is a few hundred kB for
/// models of this kind, the whole checkpoint tens of MB.
const MAX_PICKLE: u64 = 16 << 20;
const MAX_STORAGE: u64 = 512 << 20;
const MAX_STACK: usize = 1 << 16;

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("not a PyTorch zip checkpoint: {0}")]
    Zip(String),
    #[error("the checkpoint's pickle is damaged: {0}")]
    Pickle(String),
    #[error("the checkpoint's pickle uses {0}, which a state dict does not need")]
    Unsupported(String),
    #[error("tensor {name}: {detail}")]
    Tensor { name: String, detail: String },
}

/// A float tensor, contiguous, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// What the pickle machine holds.
#[derive(Debug, Clone)]
enum Value {
    None,
    Bool,
    Int(i64),
    Float,
    Str(String),
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    Global(String),
    /// A storage reference: its key in `data/`, its element type.
    Storage {
        key: String,
        dtype: String,
    },
    Tensor(TensorRef),
    Mark,
}

#[derive(Debug, Clone)]
struct TensorRef {
    key: String,
    dtype: String,
    offset: usize,
    shape: Vec<usize>,
    stride: Vec<usize>,
}

fn bad(detail: impl Into<String>) -> CheckpointError {
    CheckpointError::Pickle(detail.into())
}

/// Every tensor of the state dict in `reader` (a zip), by name. Integer tensors (BatchNorm's
/// `num_batches_tracked`) are skipped: inference does not use them.
pub fn read_state_dict<R: Read + Seek>(reader: R) -> Result<HashMap<String, Tensor>, CheckpointError> {
    let mut zip = zip::ZipArchive::new(reader).map_err(|e| CheckpointError::Zip(e.to_string()))?;
    let names: Vec<String> = zip.file_names().filter_map(|n| n.ok().map(|n| n.into_owned())).collect();
    let pkl = names
        .iter()
        .find(|n| n.ends_with("/data.pkl") && n.matches('/').count() == 1)
        .ok_or_else(|| CheckpointError::Zip("no data.pkl".into()))?
        .clone();
    let prefix = pkl.trim_end_matches("data.pkl").to_string();
    let mut read = |name: &str, limit: u64| -> Result<Vec<u8>, CheckpointError> {
        let mut f = zip.by_name(name).map_err(|e| CheckpointError::Zip(format!("{name}: {e}")))?;
        if f.size() > limit {
            return Err(CheckpointError::Zip(format!("{name} is {} bytes, over the limit of {limit}", f.size())));
        }
        let mut out = Vec::with_capacity(f.size() as usize);
        f.by_ref().take(limit).read_to_end(&mut out).map_err(|e| CheckpointError::Zip(format!("{name}: {e}")))?;
        Ok(out)
    };
    if let Ok(order) = read(&format!("{prefix}byteorder"), 16)
        && order != b"little"
    {
        return Err(CheckpointError::Unsupported(format!("byte order {}", String::from_utf8_lossy(&order))));
    }
    let root = unpickle(&read(&pkl, MAX_PICKLE)?)?;
    let Value::Dict(items) = root else { return Err(bad("the top level is not a dict")) };
    let mut out = HashMap::new();
    for (k, v) in items {
        let Value::Str(name) = k else { return Err(bad("a key is not a string")) };
        let Value::Tensor(t) = v else { return Err(bad(format!("{name} is not a tensor"))) };
        let elem = match t.dtype.as_str() {
            "FloatStorage" => 4,
            "LongStorage" | "IntStorage" | "HalfStorage" | "DoubleStorage" | "BoolStorage" => {
                if name.ends_with("num_batches_tracked") {
                    continue;
                }
                return Err(CheckpointError::Tensor { name, detail: format!("{} is not supported", t.dtype) });
            }
            other => return Err(CheckpointError::Tensor { name, detail: format!("unknown storage {other}") }),
        };
        let bytes = read(&format!("{prefix}data/{}", t.key), MAX_STORAGE)?;
        let tensor =
            gather(&bytes, elem, &t).map_err(|detail| CheckpointError::Tensor { name: name.clone(), detail })?;
        out.insert(name, tensor);
    }
    Ok(out)
}

/// The tensor's elements in row-major order, following its strides through the storage.
fn gather(bytes: &[u8], elem: usize, t: &TensorRef) -> Result<Tensor, String> {
    if t.shape.len() != t.stride.len() {
        return Err("shape and strides differ in length".into());
    }
    let count = t.shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).ok_or("size overflows")?;
    let storage_len = bytes.len() / elem;
    // The furthest element addressed must lie inside the storage.
    let last = t
        .shape
        .iter()
        .zip(&t.stride)
        .try_fold(t.offset, |a, (&d, &s)| if d == 0 { Some(a) } else { a.checked_add((d - 1).checked_mul(s)?) });
    match last {
        Some(l) if count == 0 || l < storage_len => {}
        _ => return Err(format!("addresses past its storage of {storage_len} elements")),
    }
    let mut data = Vec::with_capacity(count);
    let mut index = vec![0usize; t.shape.len()];
    for _ in 0..count {
        let at = t.offset + index.iter().zip(&t.stride).map(|(i, s)| i * s).sum::<usize>();
        let b = &bytes[at * elem..at * elem + 4];
        data.push(f32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        for d in (0..index.len()).rev() {
            index[d] += 1;
            if index[d] < t.shape[d] {
                break;
            }
            index[d] = 0;
        }
    }
    Ok(Tensor { shape: t.shape.clone(), data })
}

fn as_usizes(v: &Value) -> Option<Vec<usize>> {
    match v {
        Value::Tuple(items) => {
            items.iter().map(|x| if let Value::Int(i) = x { usize::try_from(*i).ok() } else { None }).collect()
        }
        _ => None,
    }
}

/// Runs the pickle opcodes a state dict uses.
fn unpickle(data: &[u8]) -> Result<Value, CheckpointError> {
    let mut stack: Vec<Value> = Vec::new();
    let mut memo: HashMap<u32, Value> = HashMap::new();
    let mut pos = 0usize;
    let take = |pos: &mut usize, n: usize| -> Result<&[u8], CheckpointError> {
        let end = pos.checked_add(n).filter(|&e| e <= data.len()).ok_or_else(|| bad("truncated"))?;
        let s = &data[*pos..end];
        *pos = end;
        Ok(s)
    };
    let u32_at = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let pop_mark = |stack: &mut Vec<Value>| -> Result<Vec<Value>, CheckpointError> {
        let at = stack.iter().rposition(|v| matches!(v, Value::Mark)).ok_or_else(|| bad("no mark"))?;
        let items = stack.split_off(at + 1);
        stack.pop();
        Ok(items)
    };
    loop {
        if stack.len() > MAX_STACK || memo.len() > MAX_STACK * 4 {
            return Err(bad("too deep"));
        }
        let op = take(&mut pos, 1)?[0];
        match op {
            0x80 => {
                take(&mut pos, 1)?; // PROTO n
            }
            0x95 => {
                take(&mut pos, 8)?; // FRAME
            }
            b'.' => return stack.pop().ok_or_else(|| bad("empty stack at STOP")),
            b'}' => stack.push(Value::Dict(Vec::new())),
            b']' => stack.push(Value::List(Vec::new())),
            b')' => stack.push(Value::Tuple(Vec::new())),
            b'(' => stack.push(Value::Mark),
            b'N' => stack.push(Value::None),
            0x88 | 0x89 => stack.push(Value::Bool),
            b'J' => {
                let b = take(&mut pos, 4)?;
                stack.push(Value::Int(i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64));
            }
            b'K' => stack.push(Value::Int(take(&mut pos, 1)?[0] as i64)),
            b'M' => {
                let b = take(&mut pos, 2)?;
                stack.push(Value::Int(u16::from_le_bytes([b[0], b[1]]) as i64));
            }
            0x8a => {
                // LONG1: n bytes of two's-complement little-endian
                let n = take(&mut pos, 1)?[0] as usize;
                let b = take(&mut pos, n)?;
                if n > 8 {
                    return Err(bad("integer too large"));
                }
                let mut v: i64 = 0;
                for (i, &x) in b.iter().enumerate() {
                    v |= (x as i64) << (8 * i);
                }
                if n > 0 && n < 8 && b[n - 1] & 0x80 != 0 {
                    v -= 1i64 << (8 * n);
                }
                stack.push(Value::Int(v));
            }
            b'G' => {
                take(&mut pos, 8)?;
                stack.push(Value::Float);
            }
            b'X' => {
                let n = u32_at(take(&mut pos, 4)?) as usize;
                let s = std::str::from_utf8(take(&mut pos, n)?).map_err(|_| bad("string is not UTF-8"))?;
                stack.push(Value::Str(s.to_string()));
            }
            0x8c => {
                let n = take(&mut pos, 1)?[0] as usize;
                let s = std::str::from_utf8(take(&mut pos, n)?).map_err(|_| bad("string is not UTF-8"))?;
                stack.push(Value::Str(s.to_string()));
            }
            b'c' => {
                // GLOBAL "module\nname\n"
                let line = |pos: &mut usize| -> Result<String, CheckpointError> {
                    let rest = &data[*pos..];
                    let end = rest.iter().position(|&c| c == b'\n').ok_or_else(|| bad("unterminated global"))?;
                    *pos += end + 1;
                    Ok(String::from_utf8_lossy(&rest[..end]).into_owned())
                };
                let module = line(&mut pos)?;
                let name = line(&mut pos)?;
                stack.push(Value::Global(format!("{module}.{name}")));
            }
            b'q' => {
                let k = take(&mut pos, 1)?[0] as u32;
                memo.insert(k, stack.last().cloned().ok_or_else(|| bad("BINPUT on empty stack"))?);
            }
            b'r' => {
                let k = u32_at(take(&mut pos, 4)?);
                memo.insert(k, stack.last().cloned().ok_or_else(|| bad("LONG_BINPUT on empty stack"))?);
            }
            0x94 => {
                let k = memo.len() as u32;
                memo.insert(k, stack.last().cloned().ok_or_else(|| bad("MEMOIZE on empty stack"))?);
            }
            b'h' => {
                let k = take(&mut pos, 1)?[0] as u32;
                stack.push(memo.get(&k).cloned().ok_or_else(|| bad(format!("memo {k} unset")))?);
            }
            b'j' => {
                let k = u32_at(take(&mut pos, 4)?);
                stack.push(memo.get(&k).cloned().ok_or_else(|| bad(format!("memo {k} unset")))?);
            }
            b't' => {
                let items = pop_mark(&mut stack)?;
                stack.push(Value::Tuple(items));
            }
            0x85..=0x87 => {
                let n = (op - 0x84) as usize;
                if stack.len() < n {
                    return Err(bad("tuple from an empty stack"));
                }
                let items = stack.split_off(stack.len() - n);
                stack.push(Value::Tuple(items));
            }
            b'a' | b'e' => {
                let items =
                    if op == b'a' { vec![stack.pop().ok_or_else(|| bad("APPEND"))?] } else { pop_mark(&mut stack)? };
                match stack.last_mut() {
                    Some(Value::List(l)) => l.extend(items),
                    _ => return Err(bad("APPEND to a non-list")),
                }
            }
            b's' | b'u' => {
                let items = if op == b's' {
                    let v = stack.pop().ok_or_else(|| bad("SETITEM"))?;
                    let k = stack.pop().ok_or_else(|| bad("SETITEM"))?;
                    vec![k, v]
                } else {
                    pop_mark(&mut stack)?
                };
                if items.len() % 2 != 0 {
                    return Err(bad("odd SETITEMS"));
                }
                match stack.last_mut() {
                    Some(Value::Dict(d)) => {
                        let mut it = items.into_iter();
                        while let (Some(k), Some(v)) = (it.next(), it.next()) {
                            d.push((k, v));
                        }
                    }
                    _ => return Err(bad("SETITEMS on a non-dict")),
                }
            }
            b'Q' => {
                // BINPERSID: ('storage', StorageType, key, location, numel)
                let pid = stack.pop().ok_or_else(|| bad("BINPERSID"))?;
                let Value::Tuple(p) = pid else { return Err(bad("persistent id is not a tuple")) };
                match p.as_slice() {
                    [Value::Str(kind), Value::Global(ty), Value::Str(key), ..] if kind == "storage" => {
                        let dtype = ty.rsplit('.').next().unwrap_or(ty).to_string();
                        stack.push(Value::Storage { key: key.clone(), dtype });
                    }
                    _ => return Err(bad("persistent id is not a storage")),
                }
            }
            b'R' => {
                let args = stack.pop().ok_or_else(|| bad("REDUCE"))?;
                let func = stack.pop().ok_or_else(|| bad("REDUCE"))?;
                let (Value::Global(f), Value::Tuple(args)) = (func, args) else {
                    return Err(bad("REDUCE of a non-global"));
                };
                let v = match f.as_str() {
                    "collections.OrderedDict" => Value::Dict(Vec::new()),
                    "torch._utils._rebuild_tensor_v2" => match args.as_slice() {
                        [Value::Storage { key, dtype }, Value::Int(offset), shape, stride, ..] => {
                            Value::Tensor(TensorRef {
                                key: key.clone(),
                                dtype: dtype.clone(),
                                offset: usize::try_from(*offset).map_err(|_| bad("negative offset"))?,
                                shape: as_usizes(shape).ok_or_else(|| bad("tensor shape"))?,
                                stride: as_usizes(stride).ok_or_else(|| bad("tensor stride"))?,
                            })
                        }
                        _ => return Err(bad("tensor arguments")),
                    },
                    other => return Err(CheckpointError::Unsupported(format!("the global {other}"))),
                };
                stack.push(v);
            }
            b'b' => {
                // BUILD: state on an object; a tensor's or a dict's state is not needed.
                stack.pop().ok_or_else(|| bad("BUILD"))?;
            }
            other => return Err(CheckpointError::Unsupported(format!("opcode 0x{other:02x}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A checkpoint as `torch.save({'w': torch.arange(6.).reshape(2, 3).t()}, f)` writes it
    /// (protocol 2, a transposed view: strides (1, 3)).
    fn checkpoint(pickle: &[u8], storage: &[f32]) -> Vec<u8> {
        let mut buf = std::io::Cursor::new(Vec::new());
        let mut z = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
        z.start_file("archive/data.pkl", opts).unwrap();
        z.write_all(pickle).unwrap();
        z.start_file("archive/data/0", opts).unwrap();
        for x in storage {
            z.write_all(&x.to_le_bytes()).unwrap();
        }
        z.start_file("archive/byteorder", opts).unwrap();
        z.write_all(b"little").unwrap();
        z.finish().unwrap();
        buf.into_inner()
    }

    fn transposed_pickle() -> Vec<u8> {
        pickle_with(b"collections\nOrderedDict\n")
    }

    fn pickle_with(global: &[u8]) -> Vec<u8> {
        let mut p = vec![0x80, 2, b'}', b'q', 0, b'('];
        p.extend(b"X\x01\x00\x00\x00w");
        p.extend(b"ctorch._utils\n_rebuild_tensor_v2\n");
        p.extend(b"((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x06tQ");
        p.extend(b"K\x00K\x03K\x02\x86K\x01K\x03\x86\x89c");
        p.extend(global);
        p.extend(b")RtR");
        p.extend(b"u.");
        p
    }

    #[test]
    fn reads_a_strided_tensor_in_row_major_order() {
        let zip = checkpoint(&transposed_pickle(), &[0., 1., 2., 3., 4., 5.]);
        let sd = read_state_dict(std::io::Cursor::new(zip)).unwrap();
        assert_eq!(sd["w"], Tensor { shape: vec![3, 2], data: vec![0., 3., 1., 4., 2., 5.] });
    }

    #[test]
    fn refuses_storage_too_small_and_foreign_globals() {
        let zip = checkpoint(&transposed_pickle(), &[0., 1., 2.]);
        let err = read_state_dict(std::io::Cursor::new(zip)).unwrap_err();
        assert!(err.to_string().contains("past its storage"), "{err}");
        let zip = checkpoint(&pickle_with(b"os\nsystem\n"), &[0.; 6]);
        let err = read_state_dict(std::io::Cursor::new(zip)).unwrap_err();
        assert!(err.to_string().contains("os.system"), "{err}");
        let err = read_state_dict(std::io::Cursor::new(b"not a zip".to_vec())).unwrap_err();
        assert!(matches!(err, CheckpointError::Zip(_)));
        for cut in 0..transposed_pickle().len() {
            let zip = checkpoint(&transposed_pickle()[..cut], &[0.; 6]);
            assert!(read_state_dict(std::io::Cursor::new(zip)).is_err(), "cut at {cut}");
        }
    }
}
