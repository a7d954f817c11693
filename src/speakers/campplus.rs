//! CAM++ (Wang et al., Interspeech 2023; 3D-Speaker's `campplus`), the speaker-embedding
//! network, evaluated by hand: a 2-D convolutional front end over the fbank "image", a strided
//! TDNN, three densely connected TDNN blocks with context-aware masking, statistics pooling and a
//! 192-wide embedding. The front end's 3×3 convolutions of stride 1 are Winograd's
//! F(2×2, 3×3) (16 small products), those that halve the frequency bins Winograd's F(2, 3)
//! along time (4 products); every other convolution is an im2col and one matrix product; batch norms that follow a convolution are folded into it when the weights are
//! loaded, so evaluation is products, additions and ReLUs (the dense blocks' 1×1 products, most
//! of their work, in 8 bits where the CPU can: `product_bn_relu`). The reference outputs in `tests/data/speakers/` come from
//! PyTorch running 3D-Speaker's own module on the same weights.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::sync::OnceLock;

use super::checkpoint::Tensor;
use super::fbank::BINS;
use super::gemm::{Packed, PackedI8, matmul, matmul_bn_relu, matmul_nonneg};

/// Width of an embedding.
pub const DIM: usize = 192;
const BN_EPS: f32 = 1e-5;
/// Frames over which the masking context is averaged (3D-Speaker's `seg_len`).
const SEG: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("the speaker model lacks {0}")]
    Missing(String),
    #[error("the speaker model's {name} has shape {got:?}, expected {want:?}")]
    Shape { name: String, got: Vec<usize>, want: Vec<usize> },
    #[error("the speaker model's {0} holds a value that is not finite")]
    NotFinite(String),
}

/// A convolution (1-D or 2-D; 1×1 ones too) with a bias, batch norm folded in where one follows.
struct Conv {
    /// `cout × (cin·kh·kw)`, row-major.
    w: Vec<f32>,
    b: Vec<f32>,
    cout: usize,
    cin: usize,
    kh: usize,
    kw: usize,
    /// For a 3×3 convolution over many channels: its weights in the Winograd domain, as
    /// matrices `cout × wino_k` (16 of `cin` for [`winograd`], 4 of `3·cin` for
    /// [`winograd_time`]); empty otherwise.
    wino: Vec<f32>,
    wino_k: usize,
    /// `w`'s and each of `wino`'s 16 matrices' packed form ([`Packed`]: bfloat16, or f32 panels
    /// for the AVX2 kernel), made at first use (after the loader's folding) rather than at every
    /// product.
    packed: OnceLock<Option<Packed>>,
    packed_wino: OnceLock<Vec<Option<Packed>>>,
    /// `w` in 8 bits, for the dense blocks' 1×1 convolutions (see [`product_bn_relu`]).
    packed_i8: OnceLock<Option<PackedI8>>,
}

/// A batch norm standing alone (before a ReLU and a convolution): `x·scale + shift` per channel.
struct Affine {
    scale: Vec<f32>,
    shift: Vec<f32>,
}

struct ResBlock {
    conv1: Conv,
    conv2: Conv,
    shortcut: Option<Conv>,
    stride: usize,
}

struct DenseLayer {
    bn1: Affine,
    /// 1×1, with the second batch norm folded in (ReLU after).
    linear1: Conv,
    local: Conv,
    dilation: usize,
    cam1: Conv,
    cam2: Conv,
}

struct Block {
    layers: Vec<DenseLayer>,
    transit_bn: Affine,
    transit: Conv,
}

/// The network with its weights, ready to embed.
pub struct CamPlus {
    stem: Conv,
    res: Vec<ResBlock>,
    stem2: Conv,
    tdnn: Conv,
    blocks: Vec<Block>,
    out_bn: Affine,
    dense: Conv,
}

/// Takes named tensors out of the state dict, checking shapes.
struct Weights<'a>(&'a HashMap<String, Tensor>);

impl Weights<'_> {
    fn get(&self, name: &str, want: &[usize]) -> Result<Vec<f32>, NetError> {
        let t = self.0.get(name).ok_or_else(|| NetError::Missing(name.into()))?;
        if t.shape != want {
            return Err(NetError::Shape { name: name.into(), got: t.shape.clone(), want: want.to_vec() });
        }
        if t.data.iter().any(|x| !x.is_finite()) {
            return Err(NetError::NotFinite(name.into()));
        }
        Ok(t.data.clone())
    }

    /// A batch norm as an affine map; `affine: false` norms have no weight or bias.
    fn bn(&self, prefix: &str, c: usize, affine: bool) -> Result<Affine, NetError> {
        let mean = self.get(&format!("{prefix}.running_mean"), &[c])?;
        let var = self.get(&format!("{prefix}.running_var"), &[c])?;
        let (w, b) = if affine {
            (self.get(&format!("{prefix}.weight"), &[c])?, self.get(&format!("{prefix}.bias"), &[c])?)
        } else {
            (vec![1.0; c], vec![0.0; c])
        };
        let scale: Vec<f32> = w.iter().zip(&var).map(|(w, v)| w / (v + BN_EPS).sqrt()).collect();
        let shift = b.iter().zip(&mean).zip(&scale).map(|((b, m), s)| b - m * s).collect();
        Ok(Affine { scale, shift })
    }

    fn conv(&self, name: &str, shape: &[usize], bias: bool) -> Result<Conv, NetError> {
        let w = self.get(&format!("{name}.weight"), shape)?;
        let cout = shape[0];
        let b = if bias { self.get(&format!("{name}.bias"), &[cout])? } else { vec![0.0; cout] };
        let (kh, kw) = match shape.len() {
            4 => (shape[2], shape[3]),
            _ => (1, shape[2]),
        };
        Ok(Conv::new(w, b, cout, shape[1], kh, kw))
    }
}

impl Conv {
    fn new(w: Vec<f32>, b: Vec<f32>, cout: usize, cin: usize, kh: usize, kw: usize) -> Conv {
        Conv {
            w,
            b,
            cout,
            cin,
            kh,
            kw,
            wino: Vec::new(),
            wino_k: 0,
            packed: OnceLock::new(),
            packed_wino: OnceLock::new(),
            packed_i8: OnceLock::new(),
        }
    }

    /// `w`'s packed form for [`matmul`].
    fn packed(&self) -> Option<&Packed> {
        self.packed.get_or_init(|| Packed::new(self.cout, self.w.len() / self.cout, &self.w)).as_ref()
    }

    /// The packed form of `wino`'s `k`-th matrix (`cout × wino_k`).
    fn packed_wino(&self, k: usize) -> Option<&Packed> {
        let (cout, inner) = (self.cout, self.wino_k);
        self.packed_wino
            .get_or_init(|| self.wino.chunks_exact(cout * inner).map(|u| Packed::new(cout, inner, u)).collect())
            .get(k)?
            .as_ref()
    }

    /// `M = U·V` for each of `wino`'s matrices `U` (`cout × wino_k`): `V` (`wino_k × p`) the
    /// transformed input, `stride_v` apart in `v`; each `M` (`cout × p`) `stride_m` apart in `m`.
    fn wino_products(&self, v: &[f32], stride_v: usize, m: &mut [f32], stride_m: usize, p: usize) {
        let (cout, inner) = (self.cout, self.wino_k);
        for (x, u) in self.wino.chunks_exact(cout * inner).enumerate() {
            let (b, c) = (&v[x * stride_v..][..inner * p], &mut m[x * stride_m..][..cout * p]);
            matmul(cout, inner, p, u, self.packed_wino(x), b, c, p, false);
        }
    }

    /// Folds the batch norm that follows this convolution into it.
    fn fold(mut self, bn: Affine) -> Conv {
        let k = self.w.len() / self.cout;
        for o in 0..self.cout {
            for x in &mut self.w[o * k..(o + 1) * k] {
                *x *= bn.scale[o];
            }
            self.b[o] = self.b[o] * bn.scale[o] + bn.shift[o];
        }
        self.packed = OnceLock::new();
        self.packed_i8 = OnceLock::new();
        self
    }

    /// Readies this 3×3 convolution for [`winograd`]: `U = G·g·Gᵀ` for every kernel `g`, as 16
    /// matrices `cout × cin` (one per element of the 4×4 transformed tile).
    fn for_winograd(mut self) -> Conv {
        assert!(self.kh == 3 && self.kw == 3, "Winograd F(2×2, 3×3) is for 3×3 kernels");
        let (cout, cin) = (self.cout, self.cin);
        let mut u = vec![0.0; 16 * cout * cin];
        for o in 0..cout {
            for c in 0..cin {
                let g = &self.w[(o * cin + c) * 9..][..9];
                for (a, ga) in WINO_G.iter().enumerate() {
                    for (b, gb) in WINO_G.iter().enumerate() {
                        let mut v = 0.0;
                        for i in 0..3 {
                            for j in 0..3 {
                                v += ga[i] * g[i * 3 + j] * gb[j];
                            }
                        }
                        u[(a * 4 + b) * cout * cin + o * cin + c] = v;
                    }
                }
            }
        }
        self.wino = u;
        self.wino_k = cin;
        self.packed_wino = OnceLock::new();
        self
    }

    /// Readies this 3×3 convolution for [`winograd_time`]: `U = G·g` along time for each row of
    /// every kernel `g`, as 4 matrices `cout × 3·cin` (columns: channel, then kernel row).
    fn for_winograd_time(mut self) -> Conv {
        assert!(self.kh == 3 && self.kw == 3, "Winograd F(2, 3) along time is for 3×3 kernels");
        let (cout, cin) = (self.cout, self.cin);
        let k = 3 * cin;
        let mut u = vec![0.0; 4 * cout * k];
        for (x, gx) in WINO_G.iter().enumerate() {
            for o in 0..cout {
                for (ci, taps) in self.w[o * 9 * cin..][..9 * cin].chunks_exact(3).enumerate() {
                    u[(x * cout + o) * k + ci] = gx.iter().zip(taps).map(|(a, b)| a * b).sum();
                }
            }
        }
        self.wino = u;
        self.wino_k = k;
        self.packed_wino = OnceLock::new();
        self
    }
}

/// Winograd's F(2, 3) (Lavin & Gray 2016): the transform of three taps, `G` (4×3).
const WINO_G: [[f32; 3]; 4] = [[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]];

/// F(2, 3)'s input transform `Bᵀ`: element x of a tile is `d[l] + sign·d[r]` of its four inputs
/// (`d0 − d2, d1 + d2, d2 − d1, d1 − d3`).
const F23_IN: [(usize, usize, f32); 4] = [(0, 2, -1.0), (1, 2, 1.0), (2, 1, -1.0), (1, 3, -1.0)];

/// `row` padded with one zero before (and zeros after) and split into its even and odd columns,
/// `half` (> `row.len() / 2`) each: tile t of F(2, 3) reads padded columns 2t…2t+3, that is
/// even[t], odd[t], even[t+1], odd[t+1], so every step along it goes along contiguous memory.
fn split_padded(row: &[f32], even: &mut [f32], odd: &mut [f32]) {
    even.fill(0.0);
    odd.fill(0.0);
    // Input column i is padded column i + 1.
    let mut pairs = row.chunks_exact(2);
    for ((pair, o), e) in (&mut pairs).zip(odd.iter_mut()).zip(&mut even[1..]) {
        (*o, *e) = (pair[0], pair[1]);
    }
    if let [last] = pairs.remainder() {
        odd[row.len() / 2] = *last;
    }
}

/// `Bᵀ·d` along a row split by [`split_padded`], for `tx` tiles: element x of tile t into
/// `dst[x·stride + t]`.
fn f23_in(even: &[f32], odd: &[f32], tx: usize, dst: &mut [f32], stride: usize) {
    let d = [&even[..tx], &odd[..tx], &even[1..=tx], &odd[1..=tx]];
    for (x, (l, r, sign)) in F23_IN.into_iter().enumerate() {
        for ((o, a), b) in dst[x * stride..][..tx].iter_mut().zip(d[l]).zip(d[r]) {
            *o = a + sign * b;
        }
    }
}

/// F(2, 3)'s output transform `Aᵀ` (`m0 + m1 + m2`, `m1 − m2 − m3`) of each tile's four
/// products, interleaved into `dst` plus `bias` (an odd-width `dst` takes the last tile's first).
fn f23_out(m: [&[f32]; 4], bias: f32, dst: &mut [f32]) {
    let [g0, g1, g2, g3] = m;
    let last_tile = dst.len() / 2;
    let mut pairs = dst.chunks_exact_mut(2);
    for ((((pair, a), b), c), d) in (&mut pairs).zip(g0).zip(g1).zip(g2).zip(g3) {
        pair[0] = a + b + c + bias;
        pair[1] = b - c - d + bias;
    }
    if let [last] = pairs.into_remainder() {
        *last = g0[last_tile] + g1[last_tile] + g2[last_tile] + bias;
    }
}

fn relu(x: &mut [f32]) {
    for v in x {
        *v = v.max(0.0);
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// `cout × n`, each row its bias.
fn bias_rows(conv: &Conv, n: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(conv.cout * n);
    for b in &conv.b {
        out.extend(std::iter::repeat_n(*b, n));
    }
    out
}

/// `out[o, :] = bias[o]` then `+= w · col` (col: `k × n`).
fn product(conv: &Conv, col: &[f32], n: usize) -> Vec<f32> {
    let mut out = bias_rows(conv, n);
    let biased = conv.b.iter().any(|b| *b != 0.0);
    matmul(conv.cout, conv.w.len() / conv.cout, n, &conv.w, conv.packed(), col, &mut out, n, biased);
    out
}

/// A 1×1 convolution of `relu(x·scale + shift)` (`x`: `cin × n`; a batch norm's scale and
/// shift per channel), the dense blocks' products (most of their multiply-adds). Where the CPU
/// has AVX-512 VNNI in 8 bits, the batch norm and ReLU applied as the product reads `x`
/// ([`matmul_nonneg`]: on AMD EPYC the embedding ~17 % faster; against PyTorch's embeddings of
/// the reference clips cosine 0.9986–0.9990 in place of 0.9998, the same speaker turns on the tests'
/// real clips), else [`matmul_bn_relu`] in f32 (on AVX2-only CPUs also applying the batch norm
/// and ReLU as it packs `x`). Only here: 8-bit products for the other
/// convolutions that follow a ReLU (the front end's, the TDNN's, the local ones) saved ~4 % more
/// and moved a real meeting's DER from 6.4 to 7.3 %.
fn product_bn_relu(conv: &Conv, bn: &Affine, x: &[f32], n: usize) -> Vec<f32> {
    let k = conv.w.len() / conv.cout;
    let mut out = bias_rows(conv, n);
    let affine = (bn.scale.as_slice(), bn.shift.as_slice());
    if let Some(packed) = conv.packed_i8.get_or_init(|| PackedI8::new(conv.cout, k, &conv.w))
        && matmul_nonneg(conv.cout, k, n, packed, x, Some(affine), &mut out, n, true).is_some()
    {
        return out;
    }
    matmul_bn_relu(conv.cout, k, n, &conv.w, conv.packed(), x, affine, &mut out, n, true);
    out
}

/// A 3×3 convolution of stride 1 and padding 1 over `x` (`cin × h × w`) by Winograd's minimal
/// filtering F(2×2, 3×3) (Lavin & Gray 2016): each 2×2 block of output from a 4×4 block of input,
/// 16 products of `cout × cin` by `cin × tiles` in place of one of `cout × 9·cin`, 2.25 times fewer
/// multiplications and an operand 4 times the input instead of im2col's 9. The same sums as
/// [`conv2d`] up to rounding. `cout × h × w`.
fn winograd(conv: &Conv, x: &[f32], h: usize, w: usize) -> Vec<f32> {
    let (cin, cout) = (conv.cin, conv.cout);
    let (ty, tx) = (h.div_ceil(2), w.div_ceil(2));
    // Each channel zero-padded (a row and a column before, enough after for whole tiles), and
    // each padded row split into its even and odd columns, `half` each: tile t reads columns
    // 2t…2t+3, that is even[t], odd[t], even[t+1], odd[t+1], so every step below goes along
    // contiguous memory.
    let (ph, half) = (2 * ty + 2, tx + 1);
    let row = |c: usize, i: usize| (c * ph + i) * 2 * half;
    let mut pad = vec![0.0f32; cin * ph * 2 * half];
    for c in 0..cin {
        for r in 0..h {
            let src = &x[(c * h + r) * w..][..w];
            let (even, odd) = pad[row(c, r + 1)..][..2 * half].split_at_mut(half);
            split_padded(src, even, odd);
        }
    }
    let mut out = vec![0.0f32; cout * h * w];
    // A band of tile rows at a time, so that its transformed input and products stay in cache.
    let band = (16384 / (cin.max(cout) * tx).max(1)).clamp(1, ty);
    let most = band * tx;
    let mut v = vec![0.0f32; 16 * cin * most];
    let mut m = vec![0.0f32; 16 * cout * most];
    let mut e = vec![0.0f32; 8 * half];
    let mut s = vec![0.0f32; 8 * tx];
    for t0 in (0..ty).step_by(band) {
        let t1 = (t0 + band).min(ty);
        let p = (t1 - t0) * tx;
        // V = Bᵀ·d·B for every channel and tile, as 16 matrices `cin × p`.
        for c in 0..cin {
            for r in t0..t1 {
                let d = |i: usize, odd: bool| &pad[row(c, 2 * r + i) + usize::from(odd) * half..][..half];
                // Bᵀ·d: rows d0 − d2, d1 + d2, d2 − d1, d1 − d3 (even and odd halves alike).
                for (a, (l, r2, sign)) in F23_IN.into_iter().enumerate() {
                    for odd in [false, true] {
                        let dst = &mut e[(2 * a + usize::from(odd)) * half..][..half];
                        for ((o, x), y) in dst.iter_mut().zip(d(l, odd)).zip(d(r2, odd)) {
                            *o = x + sign * y;
                        }
                    }
                }
                // ·B: columns c0 − c2, c1 + c2, c2 − c1, c1 − c3 of each row.
                let at = c * p + (r - t0) * tx;
                for a in 0..4 {
                    let (ev, od) = e[2 * a * half..][..2 * half].split_at(half);
                    f23_in(ev, od, tx, &mut v[a * 4 * cin * p + at..], cin * p);
                }
            }
        }
        conv.wino_products(&v, cin * p, &mut m, cout * p, p);
        // Y = Aᵀ·M·A: each tile's 2×2 outputs, plus the bias.
        for o in 0..cout {
            let bias = conv.b[o];
            for r in t0..t1 {
                let q = o * p + (r - t0) * tx;
                let g = |k: usize| &m[k * cout * p + q..][..tx];
                // Aᵀ·M: rows m0 + m1 + m2 and m1 − m2 − m3, each of 4 columns.
                for j in 0..4 {
                    let (s0, rest) = s[2 * j * tx..][..2 * tx].split_at_mut(tx);
                    for ((((o0, o1), a), b), (c, d)) in
                        s0.iter_mut().zip(rest.iter_mut()).zip(g(j)).zip(g(4 + j)).zip(g(8 + j).iter().zip(g(12 + j)))
                    {
                        *o0 = a + b + c;
                        *o1 = b - c - d;
                    }
                }
                // ·A: columns c0 + c1 + c2 and c1 − c2 − c3, interleaved into the output row.
                for i in 0..2 {
                    let y = 2 * r + i;
                    if y >= h {
                        continue;
                    }
                    let col = |j: usize| &s[(2 * j + i) * tx..][..tx];
                    f23_out([col(0), col(1), col(2), col(3)], bias, &mut out[(o * h + y) * w..][..w]);
                }
            }
        }
    }
    out
}

/// A 3×3 convolution of padding 1 and stride `(stride, 1)` over `x` (`cin × h × w`), the front
/// end's that halve the frequency bins, by Winograd's F(2, 3) along time only: each pair of
/// output frames from four input frames, 4 products of `cout × 3·cin` by `3·cin × tiles` in
/// place of im2col's `cout × 9·cin` by twice the columns, 1.5 times fewer multiplications (on
/// AMD EPYC Zen 2 these convolutions ~25 % faster). The same sums as [`conv2d`] up to rounding.
/// `(cout × ho × w, ho)`.
fn winograd_time(conv: &Conv, x: &[f32], h: usize, w: usize, stride: usize) -> (Vec<f32>, usize) {
    let (cin, cout) = (conv.cin, conv.cout);
    let ho = h.saturating_sub(1) / stride + 1;
    let (tx, half) = (w.div_ceil(2), w.div_ceil(2) + 1);
    let k = 3 * cin;
    let mut out = vec![0.0f32; cout * ho * w];
    // A band of output rows at a time, so that its transformed input (~1 MB) and products stay
    // in cache, yet wide enough for the products to run at speed.
    let band = (262_144 / (4 * k * tx).max(1)).clamp(1, ho);
    let most = band * tx;
    let mut v = vec![0.0f32; 4 * k * most];
    let mut m = vec![0.0f32; 4 * cout * most];
    // One padded input row split into its even and odd columns: tile t reads padded columns
    // 2t…2t+3, that is even[t], odd[t], even[t+1], odd[t+1].
    let mut split = vec![0.0f32; 2 * half];
    for r0 in (0..ho).step_by(band) {
        let r1 = (r0 + band).min(ho);
        let p = (r1 - r0) * tx;
        // V = Bᵀ·d along time, for every channel, kernel row and output row: 4 matrices
        // `3·cin × p`, rows outside the input (the padding) zero.
        for c in 0..cin {
            for di in 0..3 {
                for fo in r0..r1 {
                    let at = (c * 3 + di) * p + (fo - r0) * tx;
                    let ih = (fo * stride + di).wrapping_sub(1);
                    if ih >= h {
                        for x in 0..4 {
                            v[x * k * most + at..][..tx].fill(0.0);
                        }
                        continue;
                    }
                    let (even, odd) = split.split_at_mut(half);
                    split_padded(&x[(c * h + ih) * w..][..w], even, odd);
                    f23_in(even, odd, tx, &mut v[at..], k * most);
                }
            }
        }
        conv.wino_products(&v, k * most, &mut m, cout * most, p);
        // Y = Aᵀ·M along time: each tile's two output frames, plus the bias.
        for o in 0..cout {
            let bias = conv.b[o];
            for fo in r0..r1 {
                let q = o * p + (fo - r0) * tx;
                let g = |x: usize| &m[x * cout * most + q..][..tx];
                f23_out([g(0), g(1), g(2), g(3)], bias, &mut out[(o * ho + fo) * w..][..w]);
            }
        }
    }
    (out, ho)
}

/// A 2-D convolution over `x` (`cin × h × w`), padding `kh/2` and `kw/2`, stride `(stride, 1)`:
/// `(cout × ho × w, ho)`.
fn conv2d(conv: &Conv, x: &[f32], h: usize, w: usize, stride: usize) -> (Vec<f32>, usize) {
    let (ph, pw) = (conv.kh / 2, conv.kw / 2);
    let ho = (h + 2 * ph - conv.kh) / stride + 1;
    let n = ho * w;
    let k = conv.cin * conv.kh * conv.kw;
    let mut out = Vec::with_capacity(conv.cout * n);
    for b in &conv.b {
        out.extend(std::iter::repeat_n(*b, n));
    }
    // A band of output rows at a time, so that its im2col (~256 kB) stays in cache for the
    // product instead of going out to memory and back; each element written once, in order.
    let band = (65_536 / (k * w).max(1)).clamp(1, ho);
    let mut col = Vec::with_capacity(k * band * w);
    for r0 in (0..ho).step_by(band) {
        let r1 = (r0 + band).min(ho);
        col.clear();
        for c in 0..conv.cin {
            for i in 0..conv.kh {
                for j in 0..conv.kw {
                    // Output column t reads input column t + j - pw.
                    let lo = pw.saturating_sub(j).min(w);
                    let hi = (w + pw).saturating_sub(j).min(w).max(lo);
                    for oh in r0..r1 {
                        let ih = (oh * stride + i).wrapping_sub(ph);
                        if ih >= h {
                            col.extend(std::iter::repeat_n(0.0, w));
                            continue;
                        }
                        let src = &x[(c * h + ih) * w..][..w];
                        col.extend(std::iter::repeat_n(0.0, lo));
                        col.extend_from_slice(&src[lo + j - pw..hi + j - pw]);
                        col.extend(std::iter::repeat_n(0.0, w - hi));
                    }
                }
            }
        }
        matmul(conv.cout, k, (r1 - r0) * w, &conv.w, conv.packed(), &col, &mut out[r0 * w..], n, true);
    }
    (out, ho)
}

/// A 1-D convolution, stride 1, padding `(kw-1)/2·dilation` at the edges of each stretch, over
/// `x` (`cin × n`: stretches of `lens` frames side by side): `cout × n`.
fn conv1d(conv: &Conv, x: &[f32], lens: &[usize], dilation: usize) -> Vec<f32> {
    let n: usize = lens.iter().sum();
    if conv.kw == 1 {
        return product(conv, x, n);
    }
    let pad = (conv.kw - 1) / 2 * dilation;
    let mut col = vec![0.0; conv.cin * conv.kw * n];
    for c in 0..conv.cin {
        let src = &x[c * n..][..n];
        for j in 0..conv.kw {
            let row = &mut col[(c * conv.kw + j) * n..][..n];
            let mut off = 0;
            for &t in lens {
                // Output frame o of this stretch reads its frame o + j·dilation − pad.
                let shift = j * dilation;
                let lo = pad.saturating_sub(shift).min(t);
                let hi = (t + pad).saturating_sub(shift).min(t);
                if lo < hi {
                    row[off + lo..off + hi].copy_from_slice(&src[off + lo + shift - pad..off + hi + shift - pad]);
                }
                off += t;
            }
        }
    }
    product(conv, &col, n)
}

/// The TDNN's convolution of one stretch (`cin × t`): kernel 5, stride 2, padding 2:
/// `(cout × to, to)`.
fn strided_tdnn(conv: &Conv, x: &[f32], t: usize) -> (Vec<f32>, usize) {
    let pad = (conv.kw - 1) / 2;
    let to = (t + 2 * pad - conv.kw) / 2 + 1;
    let mut col = vec![0.0; conv.cin * conv.kw * to];
    for c in 0..conv.cin {
        let src = &x[c * t..][..t];
        for j in 0..conv.kw {
            let row = &mut col[(c * conv.kw + j) * to..][..to];
            for (o, v) in row.iter_mut().enumerate() {
                let i = (o * 2 + j).wrapping_sub(pad);
                if i < t {
                    *v = src[i];
                }
            }
        }
    }
    (product(conv, &col, to), to)
}

/// `relu(x·scale + shift)` per channel of `x` (`c × t`).
fn bn_relu(bn: &Affine, x: &[f32], t: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(x.len());
    for ((row, s), b) in x.chunks_exact(t).zip(&bn.scale).zip(&bn.shift) {
        out.extend(row.iter().map(|v| (v * s + b).max(0.0)));
    }
    out
}

impl CamPlus {
    /// The network from a state dict of 3D-Speaker's CAM++ (80 mel bins in, 192 out).
    pub fn from_state_dict(sd: &HashMap<String, Tensor>) -> Result<Self, NetError> {
        let w = Weights(sd);
        let stem = w.conv("head.conv1", &[32, 1, 3, 3], false)?.fold(w.bn("head.bn1", 32, true)?);
        let mut res = Vec::new();
        for layer in 1..=2 {
            for i in 0..2 {
                let p = format!("head.layer{layer}.{i}");
                let stride = if i == 0 { 2 } else { 1 };
                let conv1 =
                    w.conv(&format!("{p}.conv1"), &[32, 32, 3, 3], false)?.fold(w.bn(&format!("{p}.bn1"), 32, true)?);
                res.push(ResBlock {
                    // Stride 1 is Winograd's in both directions, stride 2 along time only.
                    conv1: if stride == 1 { conv1.for_winograd() } else { conv1.for_winograd_time() },
                    conv2: w
                        .conv(&format!("{p}.conv2"), &[32, 32, 3, 3], false)?
                        .fold(w.bn(&format!("{p}.bn2"), 32, true)?)
                        .for_winograd(),
                    shortcut: if stride == 1 {
                        None
                    } else {
                        Some(w.conv(&format!("{p}.shortcut.0"), &[32, 32, 1, 1], false)?.fold(w.bn(
                            &format!("{p}.shortcut.1"),
                            32,
                            true,
                        )?))
                    },
                    stride,
                });
            }
        }
        let stem2 = w.conv("head.conv2", &[32, 32, 3, 3], false)?.fold(w.bn("head.bn2", 32, true)?).for_winograd_time();
        let fcm_out = 32 * (BINS / 8);
        let tdnn = w.conv("xvector.tdnn.linear", &[128, fcm_out, 5], false)?.fold(w.bn(
            "xvector.tdnn.nonlinear.batchnorm",
            128,
            true,
        )?);
        let mut channels = 128;
        let mut blocks = Vec::new();
        for (b, (layers, dilation)) in [(12, 1), (24, 2), (16, 2)].into_iter().enumerate() {
            let mut dense = Vec::new();
            for l in 0..layers {
                let p = format!("xvector.block{}.tdnnd{}", b + 1, l + 1);
                let cin = channels + l * 32;
                dense.push(DenseLayer {
                    bn1: w.bn(&format!("{p}.nonlinear1.batchnorm"), cin, true)?,
                    linear1: w.conv(&format!("{p}.linear1"), &[128, cin, 1], false)?.fold(w.bn(
                        &format!("{p}.nonlinear2.batchnorm"),
                        128,
                        true,
                    )?),
                    local: w.conv(&format!("{p}.cam_layer.linear_local"), &[32, 128, 3], false)?,
                    dilation,
                    cam1: w.conv(&format!("{p}.cam_layer.linear1"), &[64, 128, 1], true)?,
                    cam2: w.conv(&format!("{p}.cam_layer.linear2"), &[32, 64, 1], true)?,
                });
            }
            channels += layers * 32;
            let p = format!("xvector.transit{}", b + 1);
            blocks.push(Block {
                layers: dense,
                transit_bn: w.bn(&format!("{p}.nonlinear.batchnorm"), channels, true)?,
                transit: w.conv(&format!("{p}.linear"), &[channels / 2, channels, 1], false)?,
            });
            channels /= 2;
        }
        let out_bn = w.bn("xvector.out_nonlinear.batchnorm", channels, true)?;
        let dense = w.conv("xvector.dense.linear", &[DIM, channels * 2, 1], false)?.fold(w.bn(
            "xvector.dense.nonlinear.batchnorm",
            DIM,
            false,
        )?);
        Ok(CamPlus { stem, res, stem2, tdnn, blocks, out_bn, dense })
    }

    /// The embedding of one stretch of speech, from its features (`frames × 80`, as
    /// [`super::fbank::Fbank::compute`] gives them). `None` for fewer than 2 frames.
    pub fn embed(&self, feats: &[f32]) -> Option<[f32; DIM]> {
        self.embed_batch(&[feats]).pop().flatten()
    }

    /// Embeddings of several stretches at once: the front end runs on each, the densely
    /// connected blocks on all of them side by side, so that each weight matrix is packed once
    /// per batch rather than once per stretch (the blocks' products are narrow: 75 frames for
    /// 1.5 s). The same numbers as one at a time.
    pub fn embed_batch(&self, feats: &[&[f32]]) -> Vec<Option<[f32; DIM]>> {
        let fronts: Vec<Option<(Vec<f32>, usize)>> = feats.iter().map(|f| self.front(f)).collect();
        let lens: Vec<usize> = fronts.iter().flatten().map(|(_, t)| *t).collect();
        if lens.is_empty() {
            return vec![None; feats.len()];
        }
        let n: usize = lens.iter().sum();
        // Side by side: channel rows of n frames, window after window.
        let mut x = vec![0.0; 128 * n];
        let mut off = 0;
        for (f, t) in fronts.iter().flatten() {
            for c in 0..128 {
                x[c * n + off..c * n + off + t].copy_from_slice(&f[c * t..(c + 1) * t]);
            }
            off += t;
        }
        for block in &self.blocks {
            // Room for every channel the block adds, so that appending never moves the rest.
            let grown = x.len() / n + block.layers.len() * 32;
            x.reserve_exact(grown * n - x.len());
            for layer in &block.layers {
                let y = layer.forward(&x, &lens);
                x.extend_from_slice(&y);
            }
            x = product_bn_relu(&block.transit, &block.transit_bn, &x, n);
        }
        let x = bn_relu(&self.out_bn, &x, n);
        // Statistics pooling per stretch: means, then unbiased standard deviations; one column
        // per stretch.
        let c = x.len() / n;
        let b = lens.len();
        let mut stats = vec![0.0f32; 2 * c * b];
        for (i, row) in x.chunks_exact(n).enumerate() {
            let mut off = 0;
            for (j, &t) in lens.iter().enumerate() {
                let r = &row[off..off + t];
                let mean = r.iter().map(|&v| v as f64).sum::<f64>() / t as f64;
                let var = r.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / (t - 1) as f64;
                stats[i * b + j] = mean as f32;
                stats[(c + i) * b + j] = var.sqrt() as f32;
                off += t;
            }
        }
        let e = product(&self.dense, &stats, b);
        let mut out = Vec::with_capacity(feats.len());
        let mut j = 0;
        for f in &fronts {
            out.push(f.as_ref().map(|_| {
                let mut v = [0.0; DIM];
                for (d, x) in v.iter_mut().enumerate() {
                    *x = e[d * b + j];
                }
                j += 1;
                v
            }));
        }
        out
    }

    /// The 2-D front end and the strided TDNN of one stretch: `(128 × t, t)`.
    fn front(&self, feats: &[f32]) -> Option<(Vec<f32>, usize)> {
        let t = feats.len() / BINS;
        if t < 2 {
            return None;
        }
        // The fbank "image": 1 channel, 80 bins high, t frames wide.
        let mut x = vec![0.0; BINS * t];
        for (f, row) in feats.chunks_exact(BINS).enumerate() {
            for (b, v) in row.iter().enumerate() {
                x[b * t + f] = *v;
            }
        }
        let (mut x, mut h) = conv2d(&self.stem, &x, BINS, t, 1);
        relu(&mut x);
        for r in &self.res {
            let (mut y, ho) = match r.stride {
                1 => (winograd(&r.conv1, &x, h, t), h),
                _ => winograd_time(&r.conv1, &x, h, t, r.stride),
            };
            relu(&mut y);
            let mut y = winograd(&r.conv2, &y, ho, t);
            match &r.shortcut {
                Some(s) => {
                    let (sc, _) = conv2d(s, &x, h, t, r.stride);
                    y.iter_mut().zip(&sc).for_each(|(a, b)| *a += b);
                }
                None => y.iter_mut().zip(&x).for_each(|(a, b)| *a += b),
            }
            relu(&mut y);
            (x, h) = (y, ho);
        }
        let (mut x, _) = winograd_time(&self.stem2, &x, h, t, 2);
        relu(&mut x);
        // 32 channels × 10 bins → 320 rows of t frames: already that layout.
        let (mut x, t) = strided_tdnn(&self.tdnn, &x, t);
        relu(&mut x);
        Some((x, t))
    }
}

impl DenseLayer {
    /// The 32 channels this layer adds, from the block's channels so far (`cin × n`, the
    /// stretches of `lens` frames side by side).
    fn forward(&self, x: &[f32], lens: &[usize]) -> Vec<f32> {
        let n: usize = lens.iter().sum();
        let mut h = product_bn_relu(&self.linear1, &self.bn1, x, n);
        relu(&mut h);
        let mut y = conv1d(&self.local, &h, lens, self.dilation);
        // Context, per stretch: its mean plus the mean of each of its 100-frame segments; the
        // masks of all segments of all stretches computed in one product.
        let c = h.len() / n;
        let mut spans = Vec::new();
        let mut off = 0;
        for &t in lens {
            for s in (0..t).step_by(SEG) {
                spans.push((off, off + t, off + s, off + (s + SEG).min(t)));
            }
            off += t;
        }
        let k = spans.len();
        let mut ctx = vec![0.0f32; c * k];
        for (ch, row) in h.chunks_exact(n).enumerate() {
            for (j, &(a, b, s, e)) in spans.iter().enumerate() {
                let mean = row[a..b].iter().sum::<f32>() / (b - a) as f32;
                ctx[ch * k + j] = mean + row[s..e].iter().sum::<f32>() / (e - s) as f32;
            }
        }
        let mut hidden = product(&self.cam1, &ctx, k);
        relu(&mut hidden);
        let mask = product(&self.cam2, &hidden, k);
        for (row, m) in y.chunks_exact_mut(n).zip(mask.chunks_exact(k)) {
            for (&(_, _, s, e), g) in spans.iter().zip(m) {
                let g = sigmoid(*g);
                row[s..e].iter_mut().for_each(|v| *v *= g);
            }
        }
        y
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Winograd's F(2, 3) along time gives im2col's sums at stride 1 and 2, odd and even sizes
    /// alike (the padding, the last half tile, a last row that reads only padding below), bias
    /// included.
    #[test]
    fn winograd_along_time_matches_the_direct_convolution() {
        let (cin, cout) = (5, 7);
        let w: Vec<f32> = (0..cout * cin * 9).map(|i| (i as f32 * 0.731).sin()).collect();
        let b: Vec<f32> = (0..cout).map(|i| i as f32 * 0.1 - 0.3).collect();
        let conv = Conv::new(w, b, cout, cin, 3, 3);
        let fast = conv.for_winograd_time();
        for stride in [1, 2] {
            for (h, w) in [(1, 1), (2, 3), (7, 4), (8, 9), (40, 75), (3, 150), (80, 150)] {
                let x: Vec<f32> = (0..cin * h * w).map(|i| (i as f32 * 0.377).cos()).collect();
                let (want, ho) = conv2d(&fast, &x, h, w, stride);
                let (got, got_ho) = winograd_time(&fast, &x, h, w, stride);
                assert_eq!((got_ho, got.len()), (ho, want.len()), "{h}×{w} stride {stride}");
                // As in the 2-D case below: bfloat16 operands where the CPU has them, else f32.
                let size = want.iter().fold(1.0f32, |m, v| m.max(v.abs()));
                let tolerance = if super::super::uses_bf16() { 0.04 * size } else { 1e-4 };
                for (g, e) in got.iter().zip(&want) {
                    assert!((g - e).abs() < tolerance, "{h}×{w} stride {stride}: {g} against {e}");
                }
            }
        }
    }

    /// Winograd's F(2×2, 3×3) gives im2col's sums, odd and even sizes alike (the padding and
    /// the last half tile), bias included.
    #[test]
    fn winograd_matches_the_direct_convolution() {
        let (cin, cout) = (5, 7);
        let w: Vec<f32> = (0..cout * cin * 9).map(|i| (i as f32 * 0.731).sin()).collect();
        let b: Vec<f32> = (0..cout).map(|i| i as f32 * 0.1 - 0.3).collect();
        let conv = Conv::new(w, b, cout, cin, 3, 3);
        let fast = conv.for_winograd();
        for (h, w) in [(1, 1), (2, 3), (7, 4), (8, 9), (40, 75), (3, 150)] {
            let x: Vec<f32> = (0..cin * h * w).map(|i| (i as f32 * 0.377).cos()).collect();
            let (want, ho) = conv2d(&fast, &x, h, w, 1);
            assert_eq!(ho, h);
            let got = winograd(&fast, &x, h, w);
            assert_eq!(got.len(), want.len());
            // The products round their operands to bfloat16 where the CPU has AVX-512 BF16, and
            // Winograd rounds transformed operands whose terms partly cancel: there the two
            // agree to 1.5 % of the output's largest value at worst (measured, AMD EPYC: 0.043
            // against 2.9 on 2×3, 0.074 against 24 on 40×75), elsewhere to f32 rounding. A
            // wrong tile or padding is off by the size of the values.
            let size = want.iter().fold(1.0f32, |m, v| m.max(v.abs()));
            let tolerance = if super::super::uses_bf16() { 0.04 * size } else { 1e-4 };
            for (g, e) in got.iter().zip(&want) {
                assert!((g - e).abs() < tolerance, "{h}×{w}: {g} against {e}");
            }
        }
    }
}
