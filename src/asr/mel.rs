//! The mel filterbank whisper.cpp reads from the model file: librosa's Slaney-style
//! `filters.mel(sr=16000, n_fft=400, n_mels=N)`, as openai-whisper ships it.
#![forbid(unsafe_code)]

const SR: f64 = 16_000.0;
pub const N_FFT_BINS: usize = 201;

fn hz_to_mel(f: f64) -> f64 {
    let f_sp = 200.0 / 3.0;
    let logstep = 6.4f64.ln() / 27.0;
    if f >= 1000.0 { 15.0 + (f / 1000.0).ln() / logstep } else { f / f_sp }
}

fn mel_to_hz(m: f64) -> f64 {
    let f_sp = 200.0 / 3.0;
    let logstep = 6.4f64.ln() / 27.0;
    if m >= 15.0 { 1000.0 * (logstep * (m - 15.0)).exp() } else { f_sp * m }
}

/// Row-major `n_mels × 201` filter weights.
pub fn filterbank(n_mels: usize) -> Vec<f32> {
    let fft_freqs: Vec<f64> = (0..N_FFT_BINS).map(|k| k as f64 * SR / 400.0).collect();
    let (lo, hi) = (hz_to_mel(0.0), hz_to_mel(SR / 2.0));
    let mel_f: Vec<f64> = (0..n_mels + 2).map(|i| mel_to_hz(lo + (hi - lo) * i as f64 / (n_mels + 1) as f64)).collect();
    let mut w = vec![0f32; n_mels * N_FFT_BINS];
    for i in 0..n_mels {
        let enorm = 2.0 / (mel_f[i + 2] - mel_f[i]);
        for (k, &f) in fft_freqs.iter().enumerate() {
            let lower = (f - mel_f[i]) / (mel_f[i + 1] - mel_f[i]);
            let upper = (mel_f[i + 2] - f) / (mel_f[i + 2] - mel_f[i + 1]);
            w[i * N_FFT_BINS + k] = (lower.min(upper).max(0.0) * enorm) as f32;
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values read from openai-whisper's `assets/mel_filters.npz` (mel_80).
    #[test]
    fn matches_openai_whisper_assets() {
        let w = filterbank(80);
        let at = |r: usize, c: usize| w[r * N_FFT_BINS + c];
        let known = [
            (0, 1, 0.024_862_595),
            (1, 1, 0.001_990_822),
            (2, 3, 0.020_880_95),
            (40, 43, 0.014_735_566),
            (79, 199, 0.000_448_759),
        ];
        for (r, c, v) in known {
            assert!((at(r, c) - v).abs() < 1e-6, "[{r}][{c}] = {} not {v}", at(r, c));
        }
        assert_eq!(w.iter().filter(|&&x| x != 0.0).count(), 391);
        assert!((w.iter().map(|&x| x as f64).sum::<f64>() - 1.999_024_092).abs() < 1e-5);
    }
}
