//! Every input the fuzzers (scripts/fuzz.sh) ever crashed on, replayed through the same code:
//! each must now pass without a panic, a hang or a crash.

#[path = "fuzz/targets.rs"]
mod targets;

use std::path::PathBuf;

#[test]
fn every_input_that_once_crashed_a_fuzz_target_passes() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz/regressions");
    let mut replayed = 0;
    for (target, run) in
        [("subtitles", targets::subtitles as fn(&[u8])), ("article", targets::article), ("media", targets::media)]
    {
        let Ok(entries) = std::fs::read_dir(dir.join(target)) else { continue };
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let data = std::fs::read(e.path()).unwrap();
            let started = std::time::Instant::now();
            run(&data);
            assert!(started.elapsed() < std::time::Duration::from_secs(10), "{}: a hang", e.path().display());
            replayed += 1;
        }
    }
    // The seeds: each target once on an input of the other kinds too.
    for sample in
        ["samples/article.txt", "tests/golden/report.netflix.srt", "tests/golden/notes.vtt", "samples/formats/clip.ogg"]
    {
        let data = std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(sample)).unwrap();
        targets::subtitles(&data);
        targets::article(&data);
        targets::media(&data);
    }
    eprintln!("{replayed} fuzz regressions replayed");
}
