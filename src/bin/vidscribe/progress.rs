//! Progress on the terminal: one bar for a job, a bar per input for a batch.

use std::path::Path;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use vidscribe::progress::Progress;
use vidscribe::time::short_clock;

/// A progress bar on stderr, drawn only for a terminal.
pub(crate) struct Bar {
    bar: ProgressBar,
}

impl Bar {
    pub(crate) fn new(visible: bool) -> Self {
        let bar = ProgressBar::with_draw_target(
            Some(0),
            if visible { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() },
        );
        Self { bar }
    }
}

impl Progress for Bar {
    fn begin(&self, stage: &str, total_ms: Option<u64>) {
        self.bar.reset();
        self.bar.set_length(total_ms.unwrap_or(0).max(1));
        // The audio done of its whole length, beside what the stage is doing now.
        let known = total_ms.is_some();
        let style =
            ProgressStyle::with_template("{prefix} {msg:<20} {wide_bar} {audio}  {elapsed} elapsed, {eta} left")
                .map(|s| {
                    s.with_key("audio", move |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                        let done = short_clock(state.pos());
                        let _ = if known {
                            write!(w, "{done} of {}", short_clock(state.len().unwrap_or(0)))
                        } else {
                            write!(w, "{done}")
                        };
                    })
                })
                .unwrap_or_else(|_| ProgressStyle::default_bar());
        self.bar.set_style(style);
        self.bar.set_prefix(stage.to_string());
        self.bar.set_message("");

        // The clock moves even while a long stage reports nothing.
        self.bar.enable_steady_tick(std::time::Duration::from_millis(250));
    }
    fn begin_bytes(&self, stage: &str, total_bytes: Option<u64>) {
        self.bar.reset();
        self.bar.set_length(total_bytes.unwrap_or(0).max(1));
        let template = if total_bytes.is_some() {
            "{prefix} {wide_bar} {decimal_bytes} of {decimal_total_bytes}  {decimal_bytes_per_sec}, {eta} left"
        } else {
            "{prefix} {spinner} {decimal_bytes}  {decimal_bytes_per_sec}"
        };
        self.bar.set_style(ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()));
        self.bar.set_prefix(stage.to_string());
        self.bar.enable_steady_tick(std::time::Duration::from_millis(250));
    }
    fn step(&self, what: &str) {
        self.bar.set_message(what.to_string());
    }
    fn at(&self, done_ms: u64) {
        self.bar.set_position(done_ms);
    }
    fn end(&self) {
        self.bar.finish_and_clear();
    }
}

/// Progress of a batch: one line for the whole collection (reports, hours of audio, time left)
/// and one for the current file; without a terminal, a line per finished report.
pub(crate) struct BatchBars {
    overall: ProgressBar,
    file: ProgressBar,
    lines: bool,
    state: std::sync::Mutex<BatchState>,
}

#[derive(Default)]
struct BatchState {
    total: usize,
    finished: usize,
    audio_total: u64,
    audio_before: u64,
    current_ms: u64,
}

impl BatchBars {
    pub(crate) fn new(show: bool, lines: bool) -> Self {
        let multi = indicatif::MultiProgress::with_draw_target(if show {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        });
        let overall = multi.add(ProgressBar::new(1));
        overall.set_style(
            ProgressStyle::with_template("{msg} {wide_bar} {eta} left")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        let file = multi.add(ProgressBar::new(1));
        file.set_style(
            ProgressStyle::with_template("  {msg:.dim} {bar:30} {percent:>3}%")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        overall.enable_steady_tick(std::time::Duration::from_millis(500));
        Self { overall, file, lines: lines && !show, state: Default::default() }
    }

    /// Takes both bars off the terminal.
    pub(crate) fn clear(&self) {
        self.overall.finish_and_clear();
        self.file.finish_and_clear();
    }

    fn redraw(&self, s: &BatchState) {
        let done = s.audio_before + s.current_ms;
        self.overall.set_length(s.audio_total.max(done).max(1));
        self.overall.set_position(done);
        self.overall.set_message(format!(
            "{}/{} reports, {:.2} of {:.2} h of audio",
            s.finished,
            s.total,
            done as f64 / 3_600_000.0,
            s.audio_total as f64 / 3_600_000.0
        ));
    }
}

impl Progress for BatchBars {
    fn begin(&self, stage: &str, total_ms: Option<u64>) {
        self.file.set_length(total_ms.unwrap_or(1).max(1));
        self.file.set_position(0);
        self.step(stage);
    }
    fn step(&self, what: &str) {
        let name = self.file.message();
        self.file.set_message(format!("{} ({what})", name.split(" (").next().unwrap_or("")));
    }
    fn at(&self, done_ms: u64) {
        self.file.set_position(done_ms);
        if let Ok(mut s) = self.state.lock() {
            s.current_ms = done_ms;
            self.redraw(&s);
        }
    }
}

impl vidscribe::archive::Observer for BatchBars {
    fn planned(&self, total: usize, audio_ms: u64) {
        if let Ok(mut s) = self.state.lock() {
            s.total = total;
            s.audio_total = audio_ms;
            self.redraw(&s);
        }
    }
    fn started(&self, _index: usize, media: &Path, _audio_ms: Option<u64>) {
        self.file.set_message(vidscribe::secret::address(&media.display().to_string()));
        self.file.set_position(0);
    }
    fn finished(&self, index: usize, media: &Path, outcome: &vidscribe::archive::Outcome) {
        use vidscribe::archive::Outcome;
        let total = if let Ok(mut s) = self.state.lock() {
            s.finished += 1;
            if let Outcome::Done { audio_ms, .. } = outcome {
                s.audio_before += audio_ms;
            }
            s.current_ms = 0;
            self.redraw(&s);
            s.total
        } else {
            0
        };
        let what = match outcome {
            Outcome::Done { report, audio_ms, damage } if damage.is_empty() => {
                format!("made {report} ({} of audio)", short_clock(*audio_ms))
            }
            Outcome::Done { report, audio_ms, damage } => {
                format!("made {report} ({} of audio; damaged input, {damage})", short_clock(*audio_ms))
            }
            Outcome::Skipped { report } => format!("unchanged {report}, skipped"),
            Outcome::Updated { report } => format!("updated {report} (metadata), not recognised again"),
            Outcome::Elsewhere { report, .. } => format!("{report} made by another batch"),
            Outcome::Failed { error } => {
                format!("FAILED {}: {error}", vidscribe::secret::address(&media.display().to_string()))
            }
        };
        if self.lines {
            eprintln!("vidscribe: [{}/{total}] {what}", index + 1);
        } else if matches!(outcome, Outcome::Failed { .. }) {
            self.overall.suspend(|| eprintln!("vidscribe: {what}"));
        }
    }
    fn progress(&self) -> &dyn Progress {
        self
    }
}
