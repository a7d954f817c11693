//! Kaldi's log mel filter bank features, as `torchaudio.compliance.kaldi.fbank` computes them
//! with the options the speaker model was trained on (80 bins, 25 ms frames every 10 ms, Povey
//! window, pre-emphasis 0.97, DC removed, edges snipped, no dither), then the utterance's mean
//! taken off each bin, as 3D-Speaker does before the model.
#![forbid(unsafe_code)]

use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex};

pub const RATE: u32 = 16_000;
pub const BINS: usize = 80;
/// Samples per frame (25 ms) and between frame starts (10 ms).
pub const FRAME: usize = 400;
pub const SHIFT: usize = 160;
const FFT: usize = 512;
const PREEMPH: f32 = 0.97;
const LOW_HZ: f64 = 20.0;

/// A reusable feature extractor (the FFT plan, window and filters made once).
pub struct Fbank {
    fft: Arc<dyn RealToComplex<f32>>,
    window: Vec<f32>,
    /// Per filter: the first FFT bin it covers and its weights from there.
    filters: Vec<(usize, Vec<f32>)>,
}

impl Default for Fbank {
    fn default() -> Self {
        Self::new()
    }
}

fn mel(hz: f64) -> f64 {
    1127.0 * (1.0 + hz / 700.0).ln()
}

impl Fbank {
    pub fn new() -> Self {
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(FFT);
        // Povey's window: a Hann window (not periodic) to the power 0.85.
        let window = (0..FRAME)
            .map(|i| {
                let hann = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / (FRAME - 1) as f64).cos();
                hann.powf(0.85) as f32
            })
            .collect();
        // Triangles evenly spaced on the mel scale from 20 Hz to Nyquist, over FFT bins 0..256
        // (Kaldi leaves the Nyquist bin out).
        let (lo, hi) = (mel(LOW_HZ), mel(RATE as f64 / 2.0));
        let delta = (hi - lo) / (BINS + 1) as f64;
        let bin_hz = RATE as f64 / FFT as f64;
        let filters = (0..BINS)
            .map(|b| {
                let (left, center, right) =
                    (lo + b as f64 * delta, lo + (b + 1) as f64 * delta, lo + (b + 2) as f64 * delta);
                let weights: Vec<(usize, f32)> = (0..FFT / 2)
                    .filter_map(|k| {
                        let m = mel(bin_hz * k as f64);
                        let w = ((m - left) / (center - left)).min((right - m) / (right - center));
                        (w > 0.0).then_some((k, w as f32))
                    })
                    .collect();
                let first = weights.first().map_or(0, |w| w.0);
                (first, weights.iter().map(|w| w.1).collect())
            })
            .collect();
        Fbank { fft, window, filters }
    }

    /// Frames `samples` (16 kHz mono, any scale: the mean removal cancels a gain) yield.
    pub fn frames(samples: usize) -> usize {
        if samples < FRAME { 0 } else { 1 + (samples - FRAME) / SHIFT }
    }

    /// Features of `samples`, `frames(len) × 80`, row-major (frame by frame), mean-normalised.
    pub fn compute(&self, samples: &[f32]) -> Vec<f32> {
        let n = Self::frames(samples.len());
        let mut out = vec![0f32; n * BINS];
        let mut frame = self.fft.make_input_vec();
        let mut spectrum = self.fft.make_output_vec();
        let mut scratch = self.fft.make_scratch_vec();
        let mut power = vec![0f32; FFT / 2];
        for (f, row) in out.chunks_exact_mut(BINS).enumerate() {
            let src = &samples[f * SHIFT..f * SHIFT + FRAME];
            let mean = src.iter().map(|&x| x as f64).sum::<f64>() as f32 / FRAME as f32;
            for (d, &s) in frame.iter_mut().zip(src) {
                *d = s - mean;
            }
            for i in (1..FRAME).rev() {
                frame[i] -= PREEMPH * frame[i - 1];
            }
            frame[0] -= PREEMPH * frame[0];
            for (d, w) in frame.iter_mut().zip(&self.window) {
                *d *= w;
            }
            frame[FRAME..].fill(0.0);
            // The plan and buffers are made for each other: the lengths always match.
            if self.fft.process_with_scratch(&mut frame, &mut spectrum, &mut scratch).is_err() {
                continue;
            }
            for (p, c) in power.iter_mut().zip(&spectrum) {
                *p = c.re * c.re + c.im * c.im;
            }
            for (o, (first, w)) in row.iter_mut().zip(&self.filters) {
                let e: f32 = w.iter().zip(&power[*first..]).map(|(a, b)| a * b).sum();
                *o = e.max(f32::EPSILON).ln();
            }
        }
        // Cepstral mean normalisation over the utterance.
        if n > 0 {
            let mut mean = [0f64; BINS];
            for row in out.chunks_exact(BINS) {
                for (m, &x) in mean.iter_mut().zip(row) {
                    *m += x as f64;
                }
            }
            for row in out.chunks_exact_mut(BINS) {
                for (x, m) in row.iter_mut().zip(&mean) {
                    *x -= (*m / n as f64) as f32;
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_count_snips_edges() {
        assert_eq!(Fbank::frames(399), 0);
        assert_eq!(Fbank::frames(400), 1);
        assert_eq!(Fbank::frames(559), 1);
        assert_eq!(Fbank::frames(560), 2);
        assert_eq!(Fbank::frames(16_000), 98);
    }

    #[test]
    fn a_tone_lights_the_filter_around_its_frequency() {
        let fb = Fbank::new();
        let tone: Vec<f32> =
            (0..16_000).map(|i| (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 16_000.0).sin()).collect();
        // Mean-normalised features of a steady tone are ~0; look at the raw shape instead by
        // adding silence after it, so the tone's frames stand above the mean where it is.
        let mut x = tone.clone();
        x.extend(std::iter::repeat_n(0.0, 16_000));
        let f = fb.compute(&x);
        let row = &f[10 * BINS..11 * BINS];
        let peak = row.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
        // 1 kHz is mel 1000: filter centres are 20 Hz + k·(2840-31)/81 mel apart → bin ~27.
        assert!((26..=28).contains(&peak), "peak at {peak}");
    }
}
