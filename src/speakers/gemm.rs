//! The matrix products the speaker model is made of, behind safe, bounds-checked calls.
//! Where the CPU has AVX-512 BF16 (AMD Zen 4 and later, Intel Cooper Lake and later) the product
//! is this file's kernel on bfloat16 operands with f32 sums, about twice matrixmultiply's speed;
//! where it has AVX2 and FMA but no AVX-512, this file's f32 kernel (the weights packed once, a
//! batch norm and ReLU applied while `b` is packed: on AMD EPYC Zen 2 the dense blocks' shapes
//! 39–42 GMAC/s against matrixmultiply's 33–35; the front end's 32-row products, `b` read in
//! place, 40–44 against 30–32, the embedding 8 % faster for it); elsewhere matrixmultiply,
//! which picks its kernels at run time (AVX-512 where the CPU has it, else AVX2/FMA; the crate
//! is built for baseline x86-64). Products whose right operand is all
//! ≥ 0 (it follows a ReLU) run in 8 bits where the CPU has AVX-512 VNNI ([`matmul_nonneg`]: on
//! AMD EPYC, 1.6–2× the bfloat16 kernel's speed on the dense blocks' shapes, packing included).
//! All take raw pointers or intrinsics, hence the only `unsafe` outside the whisper bindings.
#![allow(unsafe_code)]

/// `a` in the form this file's kernel reads, made once for a matrix used many times (the
/// model's weights) instead of at every product; `None` where matrixmultiply does the products.
pub struct Packed {
    m: usize,
    k: usize,
    data: PackedData,
}

enum PackedData {
    /// For the bfloat16 kernel ([`pack_a`]).
    Bf16(Vec<u32>),
    /// For the AVX2 kernel ([`pack_a_f32`]).
    F32(Vec<f32>),
}

impl Packed {
    pub fn new(m: usize, k: usize, a: &[f32]) -> Option<Packed> {
        if m == 0 || k == 0 || a.len() < m * k {
            return None;
        }
        let data = if uses_bf16() {
            PackedData::Bf16(pack_a(m, k, a))
        } else if uses_avx2() {
            PackedData::F32(pack_a_f32(m, k, a))
        } else {
            return None;
        };
        Some(Packed { m, k, data })
    }
}

/// `c = a · b (+ c if accumulate)`, all row-major: `a` is m×k, `b` k×n, `c` m×n with its rows
/// `ldc` apart (`ldc ≥ n`: a block of a wider matrix); `packed` is `a`'s packed form where one
/// was made ([`Packed::new`] of this `a`), else it is packed here when the kernel needs it.
///
/// # Panics
/// When a slice is shorter than its dimensions say, or `packed` is of another shape (a
/// programming error, never input-driven: every shape is checked when the model is loaded).
#[allow(clippy::too_many_arguments)]
pub fn matmul(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    packed: Option<&Packed>,
    b: &[f32],
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
) {
    check(m, k, n, a, b, c, ldc);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            c.chunks_mut(ldc).take(m).for_each(|row| row[..n].fill(0.0));
        }
        return;
    }
    if matmul_bf16(m, k, n, a, packed, b, c, ldc, accumulate).is_none()
        && matmul_avx2(m, k, n, a, packed, b, None, c, ldc, accumulate).is_none()
    {
        matmul_exact(m, k, n, a, b, c, ldc, accumulate);
    }
}

/// As [`matmul`] of `relu(b·scale + shift)` (`affine = (scale, shift)`, one of each per row of
/// `b`: a batch norm and its ReLU), applied as `b` is packed where this file's AVX2 kernel runs,
/// else first and apart.
#[allow(clippy::too_many_arguments)]
pub fn matmul_bn_relu(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    packed: Option<&Packed>,
    b: &[f32],
    affine: (&[f32], &[f32]),
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
) {
    check(m, k, n, a, b, c, ldc);
    assert!(affine.0.len() >= k && affine.1.len() >= k, "matmul: affine shorter than {k}");
    if m > 0 && n > 0 && k > 0 && matmul_avx2(m, k, n, a, packed, b, Some(affine), c, ldc, accumulate).is_some() {
        return;
    }
    let (scale, shift) = affine;
    let mut normed = Vec::with_capacity(k * n);
    for ((row, s), t) in b.chunks_exact(n).take(k).zip(scale).zip(shift) {
        normed.extend(row.iter().map(|v| (v * s + t).max(0.0)));
    }
    matmul(m, k, n, a, packed, &normed, c, ldc, accumulate);
}

/// Every element the products address lies inside the slices: row-major `a[i·k + p]`,
/// `b[p·n + j]`, `c[i·ldc + j]` with `j < n ≤ ldc`, the last at `(m-1)·ldc + n - 1`.
fn check(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &[f32], ldc: usize) {
    assert!(
        ldc >= n && a.len() >= m * k && b.len() >= k * n && (m == 0 || c.len() >= (m - 1) * ldc + n),
        "matmul: slices shorter than {m}x{k}x{n}"
    );
}

/// As [`matmul`] in f32 throughout.
#[allow(clippy::too_many_arguments)]
fn matmul_exact(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32], ldc: usize, accumulate: bool) {
    check(m, k, n, a, b, c, ldc);
    let beta = if accumulate { 1.0 } else { 0.0 };
    // SAFETY: `check` above proves that every element the strides address lies inside
    // the slices (row-major: a[i*k + p], b[p*n + j], c[i*ldc + j] with j < n ≤ ldc, so the
    // last is at most (m-1)*ldc + n - 1); `c` is borrowed mutably and
    // so aliases neither input. Strides fit isize: the slices exist, so their lengths do.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            k as isize,
            1,
            b.as_ptr(),
            n as isize,
            1,
            beta,
            c.as_mut_ptr(),
            ldc as isize,
            1,
        );
    }
}

/// The same product on AVX-512 BF16 where the CPU has it: both operands rounded to bfloat16
/// (8 bits of mantissa, round to nearest even), sums in f32 — `vdpbf16ps` does twice the
/// multiply-adds of an f32 FMA per instruction. `None` when the CPU lacks the instructions.
#[allow(clippy::too_many_arguments)]
fn matmul_bf16(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    packed: Option<&Packed>,
    b: &[f32],
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
) -> Option<()> {
    #[cfg(target_arch = "x86_64")]
    {
        if uses_bf16() {
            check(m, k, n, a, b, c, ldc);
            if m == 0 || n == 0 || k == 0 {
                return None;
            }
            let kp = k.div_ceil(2);
            let (mb, nb) = (m.div_ceil(MR), n.div_ceil(NR));
            let owned;
            let pa = match packed.map(|p| (p, shape(p, m, k))) {
                Some((Packed { data: PackedData::Bf16(d), .. }, ())) => d,
                _ => {
                    owned = pack_a(m, k, a);
                    &owned
                }
            };
            // B in blocks of NR columns, each a row of k-pairs: pb[(jb·kp + p)·NR + c].
            // SAFETY: the CPU has AVX-512F and BF16 (checked above); safe code inside.
            let pb = unsafe { pack_b(k, n, b) };
            for ib in 0..mb {
                for jb in 0..nb {
                    let rows = (m - ib * MR).min(MR);
                    let cols = (n - jb * NR).min(NR);
                    let out = &mut c[ib * MR * ldc + jb * NR..];
                    // SAFETY: the CPU has AVX-512F and BF16 (checked above); the kernel reads
                    // kp·MR and kp·NR elements of the packed blocks, which are that long, and
                    // writes `cols` ≤ NR of each of `rows` rows of `out`, `ldc` apart, which the
                    // `check` above proves are inside `c`.
                    unsafe {
                        kernel(
                            kp,
                            &pa[ib * kp * MR..][..kp * MR],
                            &pb[jb * kp * NR..][..kp * NR],
                            out,
                            ldc,
                            rows,
                            cols,
                            accumulate,
                        )
                    };
                }
            }
            return Some(());
        }
    }
    let _ = (m, k, n, a, packed, b, c, ldc, accumulate);
    None
}

/// `packed` is of `a`'s shape (a programming error otherwise).
fn shape(p: &Packed, m: usize, k: usize) {
    assert!(p.m == m && p.k == k, "matmul: packed {}x{} for a {m}x{k} operand", p.m, p.k);
}

/// Whether the products are this file's AVX2/FMA kernel's (the CPU has AVX2 and FMA but not
/// AVX-512, where matrixmultiply's kernel or the bfloat16 one is faster). On AMD EPYC (Zen 2) it
/// does 20–40 % more multiply-adds a second than matrixmultiply: the model's weights are packed
/// once instead of at every product, a batch norm and ReLU ride along with the packing of `b`
/// ([`matmul_bn_relu`]), and narrow products do not pack `b` at all. 8 bits would not pay
/// there: `vpmaddubsw` and `vpmaddwd` share one pipe, so 8-bit products run no faster than f32
/// ones on two FMA pipes.
pub fn uses_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
            && !std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// The AVX2 kernel's block: MR2 rows of A by NR2 columns of B, 12 accumulators of 8 lanes
/// (BLIS's Haswell shape); KC deep at a time, so that a block of A (6 KB) and one of B (16 KB)
/// stay in L1 while the kernel runs over them.
const MR2: usize = 6;
const NR2: usize = 16;
const KC: usize = 256;
/// Products of fewer rows (the front end's 32-row products, most only 32 or 96 deep) read `b`
/// where it lies instead of packing it, unless a batch norm is applied to it on the way: each
/// block of it serves a few row blocks only, and a shallow one stays in L1 meanwhile (32×32 by
/// 444 columns: 40 GMAC/s against matrixmultiply's 31, which packs both operands at every
/// product; AMD EPYC Zen 2).
const PACK_B_FROM_M: usize = 64;

/// A (m×k) in blocks of MR2 rows, each a column of k values: `pa[(ib·k + p)·MR2 + r]`, the
/// rows past `m` zero.
fn pack_a_f32(m: usize, k: usize, a: &[f32]) -> Vec<f32> {
    let mut pa = vec![0.0; m.div_ceil(MR2) * k * MR2];
    for (i, row) in a.chunks_exact(k).take(m).enumerate() {
        let block = &mut pa[(i / MR2) * k * MR2 + i % MR2..];
        for (p, v) in row.iter().enumerate() {
            block[p * MR2] = *v;
        }
    }
    pa
}

/// B (k×n) in blocks of NR2 columns, each a column of k rows: `pb[(jb·k + p)·NR2 + c]`, the
/// columns past `n` zero; with `affine`, `relu(b·scale + shift)` per row.
fn pack_b_f32(k: usize, n: usize, b: &[f32], affine: Option<(&[f32], &[f32])>) -> Vec<f32> {
    let mut pb = vec![0.0; n.div_ceil(NR2) * k * NR2];
    for (p, row) in b.chunks_exact(n).take(k).enumerate() {
        for (jb, part) in row.chunks(NR2).enumerate() {
            let out = &mut pb[(jb * k + p) * NR2..][..part.len()];
            match affine {
                Some((s, t)) => {
                    let (s, t) = (s[p], t[p]);
                    out.iter_mut().zip(part).for_each(|(o, v)| *o = (v * s + t).max(0.0));
                }
                None => out.copy_from_slice(part),
            }
        }
    }
    pb
}

/// The product on this file's AVX2 kernel, `b` passed through `affine` (see [`matmul_bn_relu`]);
/// `None` where [`uses_avx2`] says no. The caller has checked the shapes and that none is 0.
#[allow(clippy::too_many_arguments)]
fn matmul_avx2(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    packed: Option<&Packed>,
    b: &[f32],
    affine: Option<(&[f32], &[f32])>,
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
) -> Option<()> {
    #[cfg(target_arch = "x86_64")]
    {
        if uses_avx2() {
            let packs_b = m >= PACK_B_FROM_M || affine.is_some();
            check(m, k, n, a, b, c, ldc);
            let owned;
            let pa = match packed.map(|p| (p, shape(p, m, k))) {
                Some((Packed { data: PackedData::F32(d), .. }, ())) => d,
                _ => {
                    owned = pack_a_f32(m, k, a);
                    &owned
                }
            };
            // `b` packed in blocks of NR2 columns, or read where it lies but for its last
            // columns (fewer than a block), packed here with zeros after.
            let (pb, tail) = if packs_b {
                (pack_b_f32(k, n, b, affine), Vec::new())
            } else {
                let whole = n / NR2 * NR2;
                let mut tail = Vec::new();
                if whole < n {
                    tail = vec![0.0; k * NR2];
                    for (row, out) in b.chunks_exact(n).zip(tail.chunks_exact_mut(NR2)) {
                        out[..n - whole].copy_from_slice(&row[whole..]);
                    }
                }
                (Vec::new(), tail)
            };
            // Passes of equal depth: a short last one would read and write `c` once more for
            // little work.
            let depth = k.div_ceil(k.div_ceil(KC));
            for p0 in (0..k).step_by(depth) {
                let kc = depth.min(k - p0);
                for jb in 0..n.div_ceil(NR2) {
                    let cols = (n - jb * NR2).min(NR2);
                    // This block of B: `kc` rows of NR2 values, `ldb` apart.
                    let (bb, ldb) = match (packs_b, cols == NR2) {
                        (true, _) => (&pb[(jb * k + p0) * NR2..][..kc * NR2], NR2),
                        (false, true) => (&b[p0 * n + jb * NR2..][..(kc - 1) * n + NR2], n),
                        (false, false) => (&tail[p0 * NR2..][..kc * NR2], NR2),
                    };
                    for ib in 0..m.div_ceil(MR2) {
                        let rows = (m - ib * MR2).min(MR2);
                        let out = &mut c[ib * MR2 * ldc + jb * NR2..];
                        let (pa, acc) = (&pa[(ib * k + p0) * MR2..][..kc * MR2], accumulate || p0 > 0);
                        // SAFETY: the CPU has AVX2 and FMA (checked above); the kernel reads
                        // `R` ≤ MR2 of every MR2 values of `pa`, kc·MR2 long, and NR2 values of
                        // each of `kc` rows of `bb`, `ldb` apart, which the slicing above proves
                        // are inside; it writes `cols` ≤ NR2 of each of `rows` ≤ `R` rows of
                        // `out`, `ldc` apart, which the `check` above proves are inside `c`.
                        // A last block of 1–2 rows (32 = 5·6 + 2) costs a third of a whole one.
                        unsafe {
                            match rows {
                                1 | 2 => kernel_f32::<2>(kc, pa, bb, ldb, out, ldc, rows, cols, acc),
                                3 | 4 => kernel_f32::<4>(kc, pa, bb, ldb, out, ldc, rows, cols, acc),
                                _ => kernel_f32::<MR2>(kc, pa, bb, ldb, out, ldc, rows, cols, acc),
                            }
                        };
                    }
                }
            }
            return Some(());
        }
    }
    let _ = (m, k, n, a, packed, b, affine, c, ldc, accumulate);
    None
}

/// `R` rows by NR2 columns of `c` (`rows`, `cols` of them written) from `kc` steps: step p
/// takes rows `pa[p·MR2..][..R]` of A and `pb[p·ldb..][..NR2]` of B.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn kernel_f32<const R: usize>(
    kc: usize,
    pa: &[f32],
    pb: &[f32],
    ldb: usize,
    c: &mut [f32],
    ldc: usize,
    rows: usize,
    cols: usize,
    accumulate: bool,
) {
    // SAFETY: the caller guarantees the CPU features and the bounds (see `matmul_avx2`).
    unsafe {
        use std::arch::x86_64::*;
        let mut acc = [[_mm256_setzero_ps(); 2]; R];
        let (pa, pb) = (pa.as_ptr(), pb.as_ptr());
        for p in 0..kc {
            let b0 = _mm256_loadu_ps(pb.add(p * ldb));
            let b1 = _mm256_loadu_ps(pb.add(p * ldb + 8));
            for (r, acc) in acc.iter_mut().enumerate() {
                let x = _mm256_broadcast_ss(&*pa.add(p * MR2 + r));
                acc[0] = _mm256_fmadd_ps(x, b0, acc[0]);
                acc[1] = _mm256_fmadd_ps(x, b1, acc[1]);
            }
        }
        for (r, acc) in acc.iter().enumerate().take(rows) {
            let row = c.as_mut_ptr().add(r * ldc);
            if cols == NR2 {
                for (h, v) in acc.iter().enumerate() {
                    let dst = row.add(8 * h);
                    let v = if accumulate { _mm256_add_ps(*v, _mm256_loadu_ps(dst)) } else { *v };
                    _mm256_storeu_ps(dst, v);
                }
            } else {
                let mut sums = [0.0f32; NR2];
                for (h, v) in acc.iter().enumerate() {
                    _mm256_storeu_ps(sums.as_mut_ptr().add(8 * h), *v);
                }
                for (j, v) in sums.iter().enumerate().take(cols) {
                    let dst = row.add(j);
                    *dst = if accumulate { *dst + v } else { *v };
                }
            }
        }
    }
}

/// A (m×k) in blocks of MR rows, each a column of k-pairs: `pa[(ib·kp + p)·MR + r]`.
fn pack_a(m: usize, k: usize, a: &[f32]) -> Vec<u32> {
    let kp = k.div_ceil(2);
    let mut pa = vec![0u32; m.div_ceil(MR) * kp * MR];
    for (i, row) in a.chunks_exact(k).take(m).enumerate() {
        let block = &mut pa[(i / MR) * kp * MR + i % MR..];
        for (p, pair) in row.chunks(2).enumerate() {
            block[p * MR] = bf16(pair[0]) | pair.get(1).map_or(0, |y| bf16(*y)) << 16;
        }
    }
    pa
}

/// B (k×n) in blocks of NR columns, each a row of k-pairs: `pb[(jb·kp + p)·NR + c]`; compiled
/// for AVX-512 so the rounding loop runs 16 lanes wide.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bf16")]
fn pack_b(k: usize, n: usize, b: &[f32]) -> Vec<u32> {
    let (kp, nb) = (k.div_ceil(2), n.div_ceil(NR));
    let mut pb = vec![0u32; nb * kp * NR];
    for (jb, block) in pb.chunks_exact_mut(kp * NR).enumerate() {
        let (j0, w) = (jb * NR, (n - jb * NR).min(NR));
        for (p, out) in block.chunks_exact_mut(NR).enumerate() {
            let r0 = &b[2 * p * n + j0..][..w];
            if 2 * p + 1 < k {
                let r1 = &b[(2 * p + 1) * n + j0..][..w];
                for ((o, x), y) in out.iter_mut().zip(r0).zip(r1) {
                    *o = bf16(*x) | bf16(*y) << 16;
                }
            } else {
                for (o, x) in out.iter_mut().zip(r0) {
                    *o = bf16(*x);
                }
            }
        }
    }
    pb
}

/// Whether the products round their operands to bfloat16 (the CPU has AVX-512 BF16): the
/// embeddings then differ from exact f32 ones by about 1e-4 in cosine (measured on the reference
/// clips), far inside what tells two voices apart.
pub fn uses_bf16() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512bf16")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// The kernel's block: MR rows of A by NR columns of B, 16 accumulators of 16 lanes.
const MR: usize = 8;
const NR: usize = 32;

/// f32 → bfloat16 bits, rounded to nearest even (finite inputs).
fn bf16(x: f32) -> u32 {
    let bits = x.to_bits();
    (bits + 0x7fff + ((bits >> 16) & 1)) >> 16
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bf16")]
#[allow(clippy::too_many_arguments)]
unsafe fn kernel(
    kp: usize,
    pa: &[u32],
    pb: &[u32],
    c: &mut [f32],
    ldc: usize,
    rows: usize,
    cols: usize,
    accumulate: bool,
) {
    // SAFETY: the caller guarantees the CPU features and the bounds (see `matmul_bf16`).
    unsafe {
        use std::arch::x86_64::*;
        let mut acc = [[_mm512_setzero_ps(); 2]; MR];
        for p in 0..kp {
            let b0: __m512bh = std::mem::transmute(_mm512_loadu_si512(pb.as_ptr().add(p * NR).cast()));
            let b1: __m512bh = std::mem::transmute(_mm512_loadu_si512(pb.as_ptr().add(p * NR + 16).cast()));
            let a = &pa[p * MR..][..MR];
            for r in 0..MR {
                let x: __m512bh = std::mem::transmute(_mm512_set1_epi32(a[r] as i32));
                acc[r][0] = _mm512_dpbf16_ps(acc[r][0], x, b0);
                acc[r][1] = _mm512_dpbf16_ps(acc[r][1], x, b1);
            }
        }
        for (r, acc) in acc.iter().enumerate().take(rows) {
            let row = c.as_mut_ptr().add(r * ldc);
            for (h, v) in acc.iter().enumerate() {
                let start = h * 16;
                if start >= cols {
                    break;
                }
                let mask: __mmask16 = if cols - start >= 16 { 0xffff } else { (1u16 << (cols - start)) - 1 };
                let dst = row.add(start);
                let v = if accumulate { _mm512_add_ps(*v, _mm512_maskz_loadu_ps(mask, dst)) } else { *v };
                _mm512_mask_storeu_ps(dst, mask, v);
            }
        }
    }
}

/// Weights in the form the 8-bit kernel reads: each row scaled into −127…127 (its scale kept),
/// in blocks of MR rows, each a column of k-quads (four signed bytes in a `u32`):
/// `data[(ib·kq + q)·MR + r]`. `None` where the CPU lacks AVX-512 VNNI.
pub struct PackedI8 {
    m: usize,
    k: usize,
    scale: Vec<f32>,
    data: Vec<u32>,
}

/// Longest row an 8-bit product takes: its sums, at most 255 · 127 per term, stay exact in an
/// i32 (the speaker model's longest is 992).
pub const MAX_K_I8: usize = i32::MAX as usize / (255 * 127);

impl PackedI8 {
    /// `None` where the CPU lacks AVX-512 VNNI or `k` exceeds [`MAX_K_I8`] (the caller then uses
    /// the other products).
    pub fn new(m: usize, k: usize, a: &[f32]) -> Option<PackedI8> {
        if !uses_vnni() || m == 0 || k == 0 || k > MAX_K_I8 || a.len() < m * k {
            return None;
        }
        let kq = k.div_ceil(4);
        let mut data = vec![0u32; m.div_ceil(MR) * kq * MR];
        let mut scale = Vec::with_capacity(m);
        for (i, row) in a.chunks_exact(k).take(m).enumerate() {
            let top = row.iter().fold(0.0f32, |t, v| t.max(v.abs()));
            let s = if top > 0.0 { top / 127.0 } else { 1.0 };
            scale.push(s);
            let block = &mut data[(i / MR) * kq * MR + i % MR..];
            for (q, quad) in row.chunks(4).enumerate() {
                let mut word = 0u32;
                for (e, v) in quad.iter().enumerate() {
                    word |= u32::from((v / s).round().clamp(-127.0, 127.0) as i8 as u8) << (8 * e);
                }
                block[q * MR] = word;
            }
        }
        Some(PackedI8 { m, k, scale, data })
    }
}

/// Whether the CPU has AVX-512 VNNI (`vpdpbusd`: 64 byte products summed into 16 lanes per
/// instruction, twice `vdpbf16ps`'s multiply-adds).
pub fn uses_vnni() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// `c = a · b (+ c if accumulate)` for a `b` whose elements are all ≥ 0 (what follows a ReLU;
/// with `affine = (scale, shift)`, one of each per row of `b`, the product is of
/// `max(b·scale + shift, 0)` instead, a batch norm and its ReLU applied as `b` is read), in 8 bits: `a` as packed (rows scaled to ±127), each column of `b` scaled to 0…255 by its
/// largest value; sums exact in 32 bits, then scaled back. `None` when the CPU lacks AVX-512
/// VNNI (the caller then uses [`matmul`]). Negative elements of `b` count as 0.
///
/// # Panics
/// As [`matmul`], and when `packed` is of another shape.
#[allow(clippy::too_many_arguments)]
pub fn matmul_nonneg(
    m: usize,
    k: usize,
    n: usize,
    packed: &PackedI8,
    b: &[f32],
    affine: Option<(&[f32], &[f32])>,
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
) -> Option<()> {
    assert!(affine.is_none_or(|(s, t)| s.len() >= k && t.len() >= k), "matmul: affine shorter than {k}");
    assert!(packed.m == m && packed.k == k, "matmul: packed {}x{} for a {m}x{k} operand", packed.m, packed.k);
    assert!(
        ldc >= n && b.len() >= k * n && (m == 0 || c.len() >= (m - 1) * ldc + n),
        "matmul: slices shorter than {m}x{k}x{n}"
    );
    #[cfg(target_arch = "x86_64")]
    {
        if uses_vnni() && m > 0 && n > 0 && k > 0 {
            let kq = k.div_ceil(4);
            // SAFETY: the CPU has AVX-512F (checked above) and `b` holds k·n elements (asserted).
            let (pb, bscale) = unsafe { pack_b_u8(k, n, b, affine) };
            for ib in 0..m.div_ceil(MR) {
                for jb in 0..n.div_ceil(NR) {
                    let rows = (m - ib * MR).min(MR);
                    let cols = (n - jb * NR).min(NR);
                    let out = &mut c[ib * MR * ldc + jb * NR..];
                    // SAFETY: the CPU has AVX-512F and VNNI (checked above); the kernel reads
                    // kq·MR and kq·NR words of the packed blocks, which are that long, MR
                    // row scales and NR column scales (padded), and writes `cols` ≤ NR of
                    // each of `rows` rows of `out`, `ldc` apart, inside `c` by the assert above.
                    unsafe {
                        kernel_u8(
                            kq,
                            &packed.data[ib * kq * MR..][..kq * MR],
                            &packed.scale[ib * MR..][..rows],
                            &pb[jb * kq * NR..][..kq * NR],
                            &bscale[jb * NR..][..NR],
                            out,
                            ldc,
                            cols,
                            accumulate,
                        )
                    };
                }
            }
            return Some(());
        }
    }
    let _ = (b, affine, c, accumulate);
    None
}

/// B (k×n, ≥ 0) in blocks of NR columns, each a row of k-quads of unsigned bytes:
/// `pb[(jb·kq + q)·NR + c]`, with each column's scale (its largest value / 255), padded to whole
/// blocks; `affine` as in [`matmul_nonneg`].
///
/// # Safety
/// The CPU has AVX-512F, `b` holds at least `k·n` elements and `affine`'s slices `k` each.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn pack_b_u8(k: usize, n: usize, b: &[f32], affine: Option<(&[f32], &[f32])>) -> (Vec<u32>, Vec<f32>) {
    use std::arch::x86_64::*;
    let (kq, nb) = (k.div_ceil(4), n.div_ceil(NR));
    // Sixteen columns at a time from `at` (of which `w` are inside the row): masked loads,
    // so no element past the row's end is read.
    let mask = |w: usize| -> __mmask16 { if w >= 16 { 0xffff } else { (1u16 << w) - 1 } };
    let zero = _mm512_setzero_ps();
    // Row p's element at c0…c0+15 (those of them inside the row), ReLU'd (after the affine map).
    let at = |p: usize, c0: usize, m: __mmask16| {
        // SAFETY: row p < k at columns c0…c0+w−1 with c0 + w ≤ n (the mask), so inside `b`
        // (k·n elements), and p < k inside `affine`'s slices, by the callers' loops and the
        // caller's guarantee.
        let x = unsafe { _mm512_maskz_loadu_ps(m, b.as_ptr().add(p * n + c0)) };
        let x = match affine {
            Some((s, t)) => _mm512_fmadd_ps(x, _mm512_set1_ps(s[p]), _mm512_set1_ps(t[p])),
            None => x,
        };
        // Masked-out lanes stay 0 (a shifted 0 is cleared here too).
        _mm512_maskz_max_ps(m, x, zero)
    };
    let mut top = vec![0.0f32; nb * NR];
    // SAFETY (this block and the next): `top`, `inv` and `block` are read and written 16 at a
    // time at offsets below their padded lengths.
    unsafe {
        for p in 0..k {
            for c0 in (0..n).step_by(16) {
                let x = at(p, c0, mask(n - c0));
                let t = top.as_mut_ptr().add(c0);
                _mm512_storeu_ps(t, _mm512_max_ps(_mm512_loadu_ps(t), x));
            }
        }
    }
    let scale: Vec<f32> = top.iter().map(|t| t / 255.0).collect();
    let inv: Vec<f32> = top.iter().map(|t| if *t > 0.0 { 255.0 / t } else { 0.0 }).collect();
    let mut pb = vec![0u32; nb * kq * NR];
    unsafe {
        let most = _mm512_set1_epi32(255);
        for (jb, block) in pb.chunks_exact_mut(kq * NR).enumerate() {
            for h in 0..NR / 16 {
                let c0 = jb * NR + h * 16;
                if c0 >= n {
                    break;
                }
                let (m, s) = (mask(n - c0), _mm512_loadu_ps(inv.as_ptr().add(c0)));
                for q in 0..kq {
                    let mut word = _mm512_setzero_si512();
                    for e in 0..4.min(k - 4 * q) {
                        // Rounded to nearest; x ≥ 0, and x·s ≤ 255 by the scale.
                        let y = _mm512_cvtps_epi32(_mm512_mul_ps(at(4 * q + e, c0, m), s));
                        let y = _mm512_min_epi32(y, most);
                        word = _mm512_or_si512(word, _mm512_sllv_epi32(y, _mm512_set1_epi32(8 * e as i32)));
                    }
                    _mm512_storeu_si512(block.as_mut_ptr().add(q * NR + h * 16).cast(), word);
                }
            }
        }
    }
    (pb, scale)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vnni")]
#[allow(clippy::too_many_arguments)]
unsafe fn kernel_u8(
    kq: usize,
    pa: &[u32],
    ascale: &[f32],
    pb: &[u32],
    bscale: &[f32],
    c: &mut [f32],
    ldc: usize,
    cols: usize,
    accumulate: bool,
) {
    // SAFETY: the caller guarantees the CPU features and the bounds (see `matmul_nonneg`).
    unsafe {
        use std::arch::x86_64::*;
        let mut acc = [[_mm512_setzero_si512(); 2]; MR];
        for q in 0..kq {
            let b0 = _mm512_loadu_si512(pb.as_ptr().add(q * NR).cast());
            let b1 = _mm512_loadu_si512(pb.as_ptr().add(q * NR + 16).cast());
            let a = &pa[q * MR..][..MR];
            for r in 0..MR {
                let x = _mm512_set1_epi32(a[r] as i32);
                acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], b0, x);
                acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], b1, x);
            }
        }
        let bs = [_mm512_loadu_ps(bscale.as_ptr()), _mm512_loadu_ps(bscale.as_ptr().add(16))];
        for (r, (acc, s)) in acc.iter().zip(ascale).enumerate() {
            let row = c.as_mut_ptr().add(r * ldc);
            let s = _mm512_set1_ps(*s);
            for (h, v) in acc.iter().enumerate() {
                let start = h * 16;
                if start >= cols {
                    break;
                }
                let mask: __mmask16 = if cols - start >= 16 { 0xffff } else { (1u16 << (cols - start)) - 1 };
                let dst = row.add(start);
                let v = _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(*v), s), bs[h]);
                let v = if accumulate { _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, dst)) } else { v };
                _mm512_mask_storeu_ps(dst, mask, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiplies_and_accumulates_like_the_definition() {
        let (m, k, n) = (3, 5, 7);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
        let mut c = vec![1.0; m * n];
        matmul_exact(m, k, n, &a, &b, &mut c, n, true);
        for i in 0..m {
            for j in 0..n {
                let want: f32 = 1.0 + (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum::<f32>();
                assert!((c[i * n + j] - want).abs() < 1e-5);
            }
        }
        matmul_exact(m, k, n, &a, &b, &mut c, n, false);
        assert!((c[0] - (0..k).map(|p| a[p] * b[p * n]).sum::<f32>()).abs() < 1e-5);
    }

    #[test]
    #[should_panic(expected = "shorter")]
    fn short_slices_are_refused() {
        matmul(2, 2, 2, &[0.0; 3], None, &[0.0; 4], &mut [0.0; 4], 2, false);
    }

    #[test]
    fn bfloat16_products_stay_within_their_rounding() {
        // Shapes with ragged edges in every dimension (odd k, m and n not multiples of the
        // block), into a wider matrix, accumulating.
        let (m, k, n, ldc) = (13, 37, 45, 50);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin() * 3.0).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
        let mut c = vec![0.5; m * ldc];
        let Some(()) = matmul_bf16(m, k, n, &a, None, &b, &mut c, ldc, true) else {
            assert!(!uses_bf16());
            eprintln!("this CPU has no AVX-512 BF16: the exact products are the only ones");
            return;
        };
        // The weights' packed form, made once, gives the very same sums.
        let mut again = vec![0.5; m * ldc];
        matmul(m, k, n, &a, Packed::new(m, k, &a).as_ref(), &b, &mut again, ldc, true);
        assert_eq!(again, c);
        for i in 0..m {
            for j in 0..ldc {
                let got = c[i * ldc + j];
                if j >= n {
                    assert_eq!(got, 0.5, "column {j} is outside the product and must be left alone");
                    continue;
                }
                let exact: f32 = 0.5 + (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum::<f32>();
                // Each operand is rounded to 8 bits of mantissa: a relative error of at most
                // 2^-8 per factor, so about 2^-7 of the sum of the products' magnitudes.
                let scale: f32 = (0..k).map(|p| (a[i * k + p] * b[p * n + j]).abs()).sum();
                assert!((got - exact).abs() <= scale / 128.0 + 1e-5, "({i}, {j}): {got} against {exact}");
            }
        }
    }

    #[test]
    fn every_kernel_multiplies_like_the_definition() {
        // Row counts that end in every tail the AVX2 kernel has (6·20 + 2, + 4, + 5), and the same
        // below the rows from which `b` is packed (6·10 + 3, 6·5 + 2, 6·5, 1), a depth of two
        // passes, ragged columns (unpacked: whole blocks and a packed tail, and a tail only), a
        // block of a wider matrix; with the weights packed beforehand and not, with a batch norm
        // and ReLU applied on the way and not, added to what `c` holds and not.
        let cases = [
            (122, 37, true),
            (124, 37, false),
            (125, 37, true),
            (PACK_B_FROM_M - 1, 37, false),
            (32, 53, true),
            (30, 48, false),
            (1, 11, true),
        ];
        for (m, n, accumulate) in cases {
            let (k, ldc) = (300, n + 3);
            let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
            let (scale, shift): (Vec<f32>, Vec<f32>) =
                (0..k).map(|p| (0.5 + p as f32 * 0.01, 0.3 - p as f32 * 0.002)).unzip();
            let normed: Vec<f32> =
                b.iter().enumerate().map(|(i, v)| (v * scale[i / n] + shift[i / n]).max(0.0)).collect();
            let packed = Packed::new(m, k, &a);
            for (affine, operand) in [(false, &b), (true, &normed)] {
                for pre in [None, packed.as_ref()] {
                    let mut c = vec![0.5; m * ldc];
                    if affine {
                        matmul_bn_relu(m, k, n, &a, pre, &b, (&scale, &shift), &mut c, ldc, accumulate);
                    } else {
                        matmul(m, k, n, &a, pre, &b, &mut c, ldc, accumulate);
                    }
                    for i in 0..m {
                        for j in 0..ldc {
                            let got = c[i * ldc + j];
                            if j >= n {
                                assert_eq!(got, 0.5, "column {j} is outside the product");
                                continue;
                            }
                            let start = if accumulate { 0.5 } else { 0.0 };
                            let want: f32 = start + (0..k).map(|p| a[i * k + p] * operand[p * n + j]).sum::<f32>();
                            let size: f32 = (0..k).map(|p| (a[i * k + p] * operand[p * n + j]).abs()).sum();
                            // f32 sums in another order; bfloat16 operands where the CPU has them.
                            let tol = if uses_bf16() { size / 128.0 } else { size * 1e-5 } + 1e-5;
                            assert!(
                                (got - want).abs() <= tol,
                                "m {m} ({i}, {j}), affine {affine}: {got} against {want}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn eight_bit_rows_longer_than_exact_sums_allow_are_refused() {
        assert!(MAX_K_I8 as u64 * 255 * 127 <= i32::MAX as u64);
        assert!((MAX_K_I8 as u64 + 1) * 255 * 127 > i32::MAX as u64);
        let k = MAX_K_I8 + 1;
        assert!(PackedI8::new(1, k, &vec![1.0; k]).is_none());
        if uses_vnni() {
            assert!(PackedI8::new(1, MAX_K_I8, &vec![1.0; MAX_K_I8]).is_some());
        }
    }

    #[test]
    fn eight_bit_products_stay_within_their_rounding() {
        let (m, k, n, ldc) = (13, 37, 45, 50);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin() * 3.0).collect();
        // Non-negative, as after a ReLU, with one column all zero.
        let b: Vec<f32> = (0..k * n).map(|i| if i % n == 7 { 0.0 } else { (i as f32 * 0.11).cos().max(0.0) }).collect();
        let Some(packed) = PackedI8::new(m, k, &a) else {
            assert!(!uses_vnni());
            eprintln!("this CPU has no AVX-512 VNNI: the 8-bit products are not used");
            return;
        };
        let mut c = vec![0.5; m * ldc];
        matmul_nonneg(m, k, n, &packed, &b, None, &mut c, ldc, true).expect("VNNI");
        for i in 0..m {
            let amax = a[i * k..][..k].iter().fold(0.0f32, |t, v| t.max(v.abs()));
            for j in 0..ldc {
                let got = c[i * ldc + j];
                if j >= n {
                    assert_eq!(got, 0.5, "column {j} is outside the product and must be left alone");
                    continue;
                }
                let exact: f32 = 0.5 + (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum::<f32>();
                // Each weight within half a step of 2·amax/254, each input within half a step
                // of bmax/255: per product at most amax·bmax·(1/254 + 1/510).
                let bmax = (0..k).map(|p| b[p * n + j]).fold(0.0f32, f32::max);
                let bound = k as f32 * amax * bmax * (1.0 / 254.0 + 1.0 / 510.0) + 1e-5;
                assert!((got - exact).abs() <= bound, "({i}, {j}): {got} against {exact}");
                if j == 7 {
                    assert_eq!(got, 0.5);
                }
            }
        }
        // With a batch norm and ReLU applied as `b` is read: the product of relu(b·s + t).
        let (scale, shift): (Vec<f32>, Vec<f32>) =
            (0..k).map(|p| (0.5 + p as f32 * 0.1, p as f32 * 0.07 - 1.0)).unzip();
        let normed: Vec<f32> = b.iter().enumerate().map(|(i, v)| (v * scale[i / n] + shift[i / n]).max(0.0)).collect();
        let mut fused = vec![0.5; m * ldc];
        matmul_nonneg(m, k, n, &packed, &b, Some((&scale, &shift)), &mut fused, ldc, true).expect("VNNI");
        let mut apart = vec![0.5; m * ldc];
        matmul_nonneg(m, k, n, &packed, &normed, None, &mut apart, ldc, true).expect("VNNI");
        for (f, a) in fused.iter().zip(&apart) {
            // The same bytes up to the last bit of a fused multiply-add.
            assert!((f - a).abs() <= 1e-4 * a.abs().max(1.0), "{f} against {a}");
        }
    }
}
