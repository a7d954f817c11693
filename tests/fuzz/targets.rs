// What each fuzz target does with its input, shared by the fuzz targets (tests/fuzz) and the
// regression test that replays the crashes they found (tests/fuzz_regressions.rs).

/// The SRT and WebVTT readers, then every caption rule on what they read.
pub fn subtitles(data: &[u8]) {
    let profile = vidscribe::captions::Profile::netflix();
    for parsed in [vidscribe::formats::srt::read(data), vidscribe::formats::vtt::read(data)] {
        let _ = vidscribe::captions::rules::evaluate(&parsed.cues, &profile);
    }
}

/// The article parsers (text, Markdown, HTML), then the prompt and names taken from them.
pub fn article(data: &[u8]) {
    if let Ok(a) = vidscribe::article::parse_any(data) {
        let _ = vidscribe::article::wording::prompt(&a);
    }
    let _ = vidscribe::article::parse_text(data);
    let _ = vidscribe::article::parse_html(data);
}

/// The media probe and decoder: open, then decode up to two seconds.
pub fn media(data: &[u8]) {
    let opts = vidscribe::media::DecodeOptions::default();
    if let Ok(mut s) = vidscribe::media::Stream::open_bytes(data.to_vec().into(), &opts) {
        let mut pcm = Vec::new();
        let _ = s.read(&mut pcm, 16_000 * 2);
    }
}
