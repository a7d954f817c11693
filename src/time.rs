//! Time is integer milliseconds everywhere; these are the only conversions in and out.
#![forbid(unsafe_code)]

/// Milliseconds since the start of the media.
pub type Ms = u64;

/// A stretch of media time, `[start_ms, end_ms)`: speech found by voice activity detection, as
/// the pipeline, the cue builder, the guard and the JSON document all use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Span {
    pub start_ms: Ms,
    pub end_ms: Ms,
}

/// Whisper reports times in centiseconds (10 ms); negative values (seen at the very start) clamp to 0.
pub fn centis_to_ms(cs: i64) -> Ms {
    cs.max(0) as u64 * 10
}

/// Number of samples at `rate` Hz to milliseconds, rounded to nearest.
pub fn samples_to_ms(samples: u64, rate: u32) -> Ms {
    (samples * 1000 + rate as u64 / 2) / rate as u64
}

/// Milliseconds to a number of samples at `rate` Hz (exact for whole milliseconds at 16 kHz).
pub fn ms_to_samples(ms: Ms, rate: u32) -> usize {
    (ms * rate as u64 / 1000) as usize
}

/// `HH:MM:SS{sep}mmm`, as SRT (`,`) and WebVTT (`.`) write it; hours always present.
pub fn clock(ms: Ms, sep: char) -> String {
    let h = ms / 3_600_000;
    let m = ms / 60_000 % 60;
    let s = ms / 1000 % 60;
    format!("{h:02}:{m:02}:{s:02}{sep}{:03}", ms % 1000)
}

/// `M:SS`, or `H:MM:SS` from an hour on: for people, not for files.
pub fn short_clock(ms: Ms) -> String {
    let (h, m, s) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60);
    if h > 0 { format!("{h}:{m:02}:{s:02}") } else { format!("{m}:{s:02}") }
}

/// Now, UTC, as RFC 3339 to the second (`2026-11-29T03:04:05Z`).
pub fn utc_now() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    utc_rfc3339(secs)
}

/// Seconds since 1970 as RFC 3339, UTC (days to civil date: Howard Hinnant's algorithm).
pub fn utc_rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem / 60 % 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339() {
        assert_eq!(utc_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc_rfc3339(1_796_267_045), "2026-12-03T03:04:05Z");
    }

    #[test]
    fn conversions() {
        assert_eq!(centis_to_ms(-3), 0);
        assert_eq!(centis_to_ms(1234), 12_340);
        assert_eq!(samples_to_ms(16_000, 16_000), 1000);
        assert_eq!(samples_to_ms(44_101, 44_100), 1000);
        assert_eq!(ms_to_samples(1234, 16_000), 19_744);
        assert_eq!(samples_to_ms(ms_to_samples(278_840, 16_000) as u64, 16_000), 278_840);
        assert_eq!(clock(3_723_004, ','), "01:02:03,004");
        assert_eq!(clock(0, '.'), "00:00:00.000");
        assert_eq!(clock(100 * 3_600_000, '.'), "100:00:00.000");
        assert_eq!(
            (short_clock(8_594), short_clock(754_000), short_clock(3_723_004)),
            ("0:08".into(), "12:34".into(), "1:02:03".into())
        );
    }
}
