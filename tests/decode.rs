//! Decoding: every container and codec in samples/, durations, 16 kHz mono, no timing lag.

mod common;

use std::sync::Arc;

use common::*;
use vidscribe::media::{self, Audio, DecodeError, DecodeOptions};
use vidscribe::progress::{Cancel, Silent};

fn decode(path: &std::path::Path) -> Result<Audio, DecodeError> {
    media::decode_path(path, &DecodeOptions::default(), &Silent, &Cancel::new())
}

/// First sample (16 kHz) where a 10 ms window's RMS rises above the noise bed.
fn onset_ms(a: &Audio) -> u64 {
    let win = 160;
    let i = a
        .samples
        .chunks(win)
        .position(|c| (c.iter().map(|x| x * x).sum::<f32>() / c.len() as f32).sqrt() > 0.02)
        .expect("speech somewhere");
    (i * win) as u64 / 16
}

const CLIPS: [&str; 9] = [
    "clip.m4a",
    "clip-vorbis.mkv",
    "clip-opus.mkv",
    "clip.ogg",
    "clip.opus",
    "clip.mp3",
    "clip.wav",
    "clip.flac",
    "clip-webm-named.mp3",
];

#[test]
fn every_container_decodes_to_the_right_length() {
    for name in CLIPS {
        let a = decode(&sample(&format!("formats/{name}"))).unwrap_or_else(|e| panic!("{name}: {e}"));
        let d = a.duration_ms() as i64;
        assert!((d - 8000).abs() <= 50, "{name}: {d} ms, want 8000 ± 50");
        assert!((a.samples.len() as i64 - a.duration_ms() as i64 * 16).abs() <= 8, "{name}: 16 samples per ms");
        assert_eq!(a.source.skipped_packets, 0, "{name}");
    }
    let want = report_duration_ms() as i64;
    for name in ["report.mp4", "report.webm"] {
        let a = decode(&sample(name)).unwrap();
        let d = a.duration_ms() as i64;
        assert!((d - want).abs() <= 50, "{name}: {d} ms, want {want} ± 50");
        assert_eq!(a.source.channels, 2, "{name} is stereo");
    }
}

#[test]
fn containers_are_sniffed_not_guessed_from_the_name() {
    let a = decode(&sample("formats/clip-webm-named.mp3")).unwrap();
    assert_eq!(a.source.container, "matroska");
    assert_eq!(a.source.codec, "opus");
}

#[test]
fn priming_and_pre_skip_are_removed() {
    // The speech starts at the same instant in every encoding as in the PCM original.
    let reference = onset_ms(&decode(&sample("formats/clip.wav")).unwrap()) as i64;
    let script_start = script()[0].start_ms as i64;
    assert!((reference - script_start).abs() <= 20, "wav onset {reference} vs script {script_start}");
    for name in CLIPS.iter().copied().chain(["../report.mp4", "../report.webm"]) {
        let a = decode(&sample(&format!("formats/{name}"))).unwrap();
        let o = onset_ms(&a) as i64;
        assert!((o - reference).abs() <= 10, "{name}: speech at {o} ms, reference {reference} ms");
    }
    let m4a = decode(&sample("formats/clip.m4a")).unwrap();
    assert!(m4a.source.priming_frames >= 1024, "AAC priming read from the edit list");
}

/// A 16-bit PCM WAV file in memory.
fn wav(channels: u16, rate: u32, frames: &[Vec<i16>]) -> Vec<u8> {
    let data: Vec<u8> = frames.iter().flatten().flat_map(|s| s.to_le_bytes()).collect();
    let mut v = wav_header(channels, rate, data.len() as u32);
    v.extend_from_slice(&data);
    v
}

#[test]
fn all_channels_are_mixed_not_just_the_first() {
    // Left silent, a tone on the right only.
    let frames: Vec<Vec<i16>> = (0..48000).map(|i| vec![0, ((i as f32 * 0.05).sin() * 16000.0) as i16]).collect();
    let a = media::decode_bytes(Arc::from(wav(2, 48000, &frames)), &DecodeOptions::default(), &Silent, &Cancel::new())
        .unwrap();
    let rms = (a.samples.iter().map(|x| x * x).sum::<f32>() / a.samples.len() as f32).sqrt();
    assert!(rms > 0.1, "right channel lost: rms {rms}");
    assert_eq!(a.duration_ms(), 1000);
    // 0.05 rad per 48 kHz sample is 382 Hz: at a true 16 kHz, 764 zero crossings in one second.
    let crossings = a.samples.windows(2).filter(|w| (w[0] < 0.0) != (w[1] < 0.0)).count() as i64;
    assert!((crossings - 764).abs() <= 4, "{crossings} zero crossings: output is not 16 kHz");
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.mp4");
    std::fs::write(&empty, b"").unwrap();
    assert!(matches!(decode(&empty), Err(DecodeError::Empty)));
    assert!(matches!(decode(&sample("no-audio.mp4")), Err(DecodeError::NoAudioTrack)));
    let bytes = std::fs::read(sample("report.mp4")).unwrap();
    // Cut inside its index (moov, first in this file): nothing can be read.
    for cut in [100, 5_000] {
        let p = dir.path().join(format!("cut{cut}.mp4"));
        std::fs::write(&p, &bytes[..cut]).unwrap();
        assert!(decode(&p).is_err(), "truncated at {cut} bytes must fail");
    }
    // Cut in its data: the audio up to the cut, the rest reported lost.
    for cut in [bytes.len() / 3, bytes.len() - 5000] {
        let p = dir.path().join(format!("cut{cut}.mp4"));
        std::fs::write(&p, &bytes[..cut]).unwrap();
        let a = decode(&p).unwrap_or_else(|e| panic!("cut at {cut} bytes: {e}"));
        let lost = &a.source.damaged;
        assert!(
            lost.len() == 1
                && lost[0].cause == media::decode::DamageCause::Truncated
                && lost[0].start_ms == a.duration_ms(),
            "cut at {cut} bytes: {} ms, {lost:?}",
            a.duration_ms()
        );
    }
    // A WebM cut in half gives the first half, and says the rest is missing.
    let webm = std::fs::read(sample("report.webm")).unwrap();
    let p = dir.path().join("cut.webm");
    std::fs::write(&p, &webm[..webm.len() / 2]).unwrap();
    let a = decode(&p).expect("the half that is there");
    let full = report_duration_ms();
    assert!((a.duration_ms() as i64 - full as i64 / 2).abs() < full as i64 / 8, "{} ms of {full}", a.duration_ms());
    let lost = &a.source.damaged;
    assert_eq!(lost.len(), 1, "{lost:?}");
    assert_eq!((lost[0].start_ms, lost[0].cause), (a.duration_ms(), media::decode::DamageCause::Truncated));
    assert!((lost[0].end_ms as i64 - full as i64).abs() < 200, "{lost:?}");
    let bad = DecodeOptions { track: Some(0), ..Default::default() };
    let e = media::decode_path(&sample("report.mp4"), &bad, &Silent, &Cancel::new()).unwrap_err();
    assert!(matches!(e, DecodeError::BadTrack { .. }), "track 0 is the video: {e}");
}

#[test]
fn mp4_and_webm_decode_to_the_same_audio() {
    let a = decode(&sample("report.mp4")).unwrap();
    let b = decode(&sample("report.webm")).unwrap();
    let n = a.samples.len().min(b.samples.len());
    let snr_at = |lag: i64| {
        let (mut sig, mut diff) = (0f64, 0f64);
        for i in 1000..n - 1000 {
            let (p, q) = (a.samples[i] as f64, b.samples[(i as i64 + lag) as usize] as f64);
            sig += p * p;
            diff += (p - q) * (p - q);
        }
        10.0 * (sig / diff).log10()
    };
    let aligned = snr_at(0);
    // Only coding noise between AAC and Opus, and no offset: a one-sample shift is far worse.
    assert!(aligned > 15.0, "AAC vs Opus SNR {aligned:.1} dB");
    assert!(aligned > snr_at(1) + 6.0 && aligned > snr_at(-1) + 6.0, "misaligned");
}
