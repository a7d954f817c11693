//! Down-mixing to mono and band-limited resampling to the 16 kHz that Whisper expects.
#![forbid(unsafe_code)]

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

/// The sample rate every later stage works at.
pub const TARGET_RATE: u32 = 16_000;

/// Output frames per FFT block of the resampler, at least. The block's length sets the
/// anti-aliasing filter's: rubato's default of ~256-frame sub-blocks rolled 48 kHz input off from
/// 6.2 kHz (-20 dB at 7 kHz, -55 dB at 7.5 kHz), so the top eighth of the band Whisper's mel
/// filters read (up to 8 kHz) was silent where the model was trained on ffmpeg's resampling,
/// which keeps it. One block of this many output frames keeps it flat to ~7.8 kHz at every
/// common rate (test `whispers_band_is_kept`); its delay (half a block) is cut from the front.
const BLOCK_OUT: usize = 1366;

/// The highest input rate resampled (studio audio goes to 384 kHz); a block above it would be
/// sized by a rate no recording has.
pub const MAX_RATE: u32 = 384_000;

/// Averages the channels of interleaved audio into `out` (appending), so that speech panned to one
/// side, or present in one channel only, is kept.
pub fn downmix_into(interleaved: &[f32], channels: usize, out: &mut Vec<f32>) {
    if channels <= 1 {
        out.extend_from_slice(interleaved);
        return;
    }
    let scale = 1.0 / channels as f32;
    out.extend(interleaved.chunks_exact(channels).map(|frame| frame.iter().sum::<f32>() * scale));
}

/// Streaming mono resampler to [`TARGET_RATE`].
///
/// Input arrives in arbitrary pieces; output is exactly as long as the input lasts
/// (`ceil(n_in * 16000 / rate)` frames) and starts at time zero: the resampler's own
/// delay is cut from the front and its tail flushed at the end.
pub struct MonoResampler {
    inner: Option<Fft<f32>>,
    pending: Vec<f32>,
    /// Input frames fed per call.
    chunk: usize,
    to_skip: usize,
    in_total: u64,
    out_total: u64,
    rate: u32,
    scratch: Vec<f32>,
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl MonoResampler {
    /// A resampler from `rate` Hz. Fails for a rate of 0 or above [`MAX_RATE`].
    pub fn new(rate: u32) -> Result<Self, String> {
        if !(1..=MAX_RATE).contains(&rate) {
            return Err(format!("sample rate outside 1 Hz–{} kHz", MAX_RATE / 1000));
        }
        // Input frames per call: one FFT block of at least BLOCK_OUT output frames, made of an
        // even number of the smallest whole blocks (rate/gcd in, 16000/gcd out) so that the
        // delay, half a block, is a whole number of samples on both sides.
        let g = gcd(rate, TARGET_RATE) as usize;
        let (min_in, min_out) = (rate as usize / g, TARGET_RATE as usize / g);
        let blocks = BLOCK_OUT.div_ceil(min_out).next_multiple_of(2);
        let chunk = blocks * min_in;
        let inner = if rate == TARGET_RATE {
            None
        } else {
            let fft = Fft::<f32>::new_custom(
                rate as usize,
                TARGET_RATE as usize,
                chunk,
                1,
                1,
                rubato::WindowFunction::BlackmanHarris2,
                FixedSync::Input,
            )
            .map_err(|e| e.to_string())?;
            Some(fft)
        };
        let to_skip = inner.as_ref().map_or(0, |r| r.output_delay());
        let scratch = vec![0.0; inner.as_ref().map_or(0, |r| r.output_frames_max())];
        Ok(Self {
            inner,
            pending: Vec::with_capacity(chunk * 2),
            chunk,
            to_skip,
            in_total: 0,
            out_total: 0,
            rate,
            scratch,
        })
    }

    fn expected_out(&self) -> u64 {
        (self.in_total * TARGET_RATE as u64).div_ceil(self.rate as u64)
    }

    /// Feeds mono samples and appends whatever output is ready to `out`.
    pub fn push(&mut self, input: &[f32], out: &mut Vec<f32>) {
        self.in_total += input.len() as u64;
        let Some(_) = self.inner else {
            out.extend_from_slice(input);
            self.out_total += input.len() as u64;
            return;
        };
        self.pending.extend_from_slice(input);
        let mut start = 0;
        while self.pending.len() - start >= self.chunk {
            self.run_chunk(start, self.chunk, out);
            start += self.chunk;
        }
        self.pending.drain(..start);
    }

    /// Flushes the resampler's tail; call once after the last [`push`](Self::push).
    pub fn finish(&mut self, out: &mut Vec<f32>) {
        if self.inner.is_none() {
            return;
        }
        let want = self.expected_out();
        // Feed silence until the delayed output has caught up with the input.
        let mut guard = 0;
        while self.out_total < want && guard < 64 {
            let n = self.pending.len().min(self.chunk);
            self.pending.resize(self.chunk, 0.0);
            self.run_chunk(0, n, out);
            self.pending.clear();
            guard += 1;
        }
        if self.out_total > want {
            let extra = (self.out_total - want) as usize;
            out.truncate(out.len().saturating_sub(extra));
            self.out_total = want;
        }
    }

    fn run_chunk(&mut self, start: usize, valid: usize, out: &mut Vec<f32>) {
        let Some(rs) = self.inner.as_mut() else {
            return;
        };
        let input = &self.pending[start..start + self.chunk];
        let frames_out = rs.output_frames_next();
        // Both adapters are sized from the resampler's own figures, so construction cannot fail.
        let (Ok(inp), Ok(mut outp)) = (
            InterleavedSlice::new(input, 1, self.chunk),
            InterleavedSlice::new_mut(&mut self.scratch[..frames_out], 1, frames_out),
        ) else {
            return;
        };
        let indexing = rubato::Indexing {
            input_offset: 0,
            output_offset: 0,
            partial_len: Some(valid),
            active_channels_mask: None,
        };
        let Ok((_, produced)) = rs.process_into_buffer(&inp, &mut outp, Some(&indexing)) else {
            return;
        };
        let skip = self.to_skip.min(produced);
        self.to_skip -= skip;
        out.extend_from_slice(&self.scratch[skip..produced]);
        self.out_total += (produced - skip) as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, hz: f32, secs: f32) -> Vec<f32> {
        let n = (rate as f32 * secs) as usize;
        (0..n).map(|i| (2.0 * std::f32::consts::PI * hz * i as f32 / rate as f32).sin()).collect()
    }

    fn resample_all(rate: u32, input: &[f32], piece: usize) -> Vec<f32> {
        let mut r = MonoResampler::new(rate).unwrap();
        let mut out = Vec::new();
        for c in input.chunks(piece) {
            r.push(c, &mut out);
        }
        r.finish(&mut out);
        out
    }

    #[test]
    fn length_is_preserved_in_time() {
        for rate in [8000, 11025, 22050, 44100, 44101, 48000, 383_999, MAX_RATE] {
            let input = sine(rate, 440.0, 1.37);
            let out = resample_all(rate, &input, 777);
            let want = (input.len() as u64 * 16000).div_ceil(rate as u64) as usize;
            assert_eq!(out.len(), want, "rate {rate}");
        }
    }

    #[test]
    fn no_delay_is_added() {
        // A click at exactly 0.5 s must come out at 0.5 s (8000 samples), give or take a sample.
        for rate in [8000, 22050, 32000, 44100, 48000, 96000, MAX_RATE] {
            let mut input = vec![0.0f32; rate as usize];
            input[rate as usize / 2] = 1.0;
            let out = resample_all(rate, &input, 1000);
            let peak = out.iter().enumerate().max_by(|a, b| a.1.abs().total_cmp(&b.1.abs())).unwrap().0;
            assert!((peak as i64 - 8000).abs() <= 1, "rate {rate}: peak at {peak}");
        }
    }

    #[test]
    fn no_fraction_of_a_sample_is_added() {
        // An odd FFT block put 44.1 kHz input half an input sample late: harmless to the ear, but
        // a 5 kHz tone then differs from the same tone made at 16 kHz by a third of its size.
        for rate in [8000, 22050, 32000, 44100, 48000, 96000] {
            let out = resample_all(rate, &sine(rate, 3000.0, 1.0), 1000);
            let want = sine(16000, 3000.0, 1.0);
            let err: f32 = out[2000..14000].iter().zip(&want[2000..14000]).map(|(a, b)| (a - b) * (a - b)).sum();
            let rel = (err / 6000.0).sqrt();
            assert!(rel < 0.01, "rate {rate}: relative error {rel}");
        }
    }

    fn rms_of(rate: u32, hz: f32) -> f32 {
        let out = resample_all(rate, &sine(rate, hz, 1.0), 4096);
        (out[2000..14000].iter().map(|x| x * x).sum::<f32>() / 12000.0).sqrt()
    }

    #[test]
    fn whispers_band_is_kept() {
        // Whisper's 80 mel filters read up to 8 kHz, and it was trained on audio resampled by
        // ffmpeg, flat to about 7.8 kHz. A tone at 7.6 kHz must come through within 1 dB
        // at every common rate (the default FFT sub-blocks gave -55 dB at 7.5 kHz from 48 kHz).
        for rate in [22050, 32000, 44100, 48000, 96000, MAX_RATE] {
            for hz in [1000.0, 6000.0, 7000.0, 7600.0] {
                let rms = rms_of(rate, hz);
                assert!(rms > 0.707 * 0.89 && rms < 0.707 * 1.05, "rate {rate}, {hz} Hz: rms {rms}");
            }
        }
    }

    #[test]
    fn tones_above_nyquist_are_removed() {
        // 12 kHz cannot exist at 16 kHz; linear interpolation would alias it to 4 kHz.
        let out = resample_all(48000, &sine(48000, 12000.0, 1.0), 4096);
        let rms = (out[2000..14000].iter().map(|x| x * x).sum::<f32>() / 12000.0).sqrt();
        assert!(rms < 0.01, "alias energy {rms}");
        let pass = resample_all(48000, &sine(48000, 1000.0, 1.0), 4096);
        let rms = (pass[2000..14000].iter().map(|x| x * x).sum::<f32>() / 12000.0).sqrt();
        assert!((rms - 0.707).abs() < 0.02, "passband {rms}");
    }

    #[test]
    fn rates_beyond_the_limit_are_refused() {
        assert!(MonoResampler::new(0).is_err());
        assert!(MonoResampler::new(MAX_RATE + 1).is_err());
        assert!(MonoResampler::new(u32::MAX).is_err());
        assert!(MonoResampler::new(MAX_RATE).is_ok());
        assert!(MonoResampler::new(7).is_ok());
    }

    #[test]
    fn downmix_averages_channels() {
        let mut out = Vec::new();
        downmix_into(&[1.0, 0.0, 0.5, 0.5], 2, &mut out);
        assert_eq!(out, vec![0.5, 0.5]);
    }
}
