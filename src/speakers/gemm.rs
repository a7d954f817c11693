//! The one matrix product the speaker model is made of, behind a safe, bounds-checked call.
//! matrixmultiply picks its kernels at run time (AVX-512 where the CPU has it, else AVX2/FMA;
//! the crate is built for baseline x86-64);
//! its entry point takes raw pointers, hence the only `unsafe` outside the whisper bindings.
#![allow(unsafe_code)]

/// `c = a · b (+ c if accumulate)`, all row-major: `a` is m×k, `b` k×n, `c` m×n.
///
/// # Panics
/// When a slice is shorter than its dimensions say (a programming error, never input-driven:
/// every shape is checked when the model is loaded).
pub fn matmul(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32], accumulate: bool) {
    matmul_into(m, k, n, a, b, c, n, accumulate);
}

/// As [`matmul`], with the rows of `c` `ldc` apart (`ldc ≥ n`): a block of a wider matrix.
#[allow(clippy::too_many_arguments)]
pub fn matmul_into(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32], ldc: usize, accumulate: bool) {
    assert!(
        ldc >= n && a.len() >= m * k && b.len() >= k * n && (m == 0 || c.len() >= (m - 1) * ldc + n),
        "matmul: slices shorter than {m}x{k}x{n}"
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            c.chunks_mut(ldc).take(m).for_each(|row| row[..n].fill(0.0));
        }
        return;
    }
    let beta = if accumulate { 1.0 } else { 0.0 };
    // SAFETY: the assertion above proves that every element the strides address lies inside
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiplies_and_accumulates_like_the_definition() {
        let (m, k, n) = (3, 5, 7);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
        let mut c = vec![1.0; m * n];
        matmul(m, k, n, &a, &b, &mut c, true);
        for i in 0..m {
            for j in 0..n {
                let want: f32 = 1.0 + (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum::<f32>();
                assert!((c[i * n + j] - want).abs() < 1e-5);
            }
        }
        matmul(m, k, n, &a, &b, &mut c, false);
        assert!((c[0] - (0..k).map(|p| a[p] * b[p * n]).sum::<f32>()).abs() < 1e-5);
    }

    #[test]
    #[should_panic(expected = "shorter")]
    fn short_slices_are_refused() {
        matmul(2, 2, 2, &[0.0; 3], &[0.0; 4], &mut [0.0; 4], false);
    }
}
