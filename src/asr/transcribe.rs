//! Runs whisper.cpp (through whisper-rs) over 16 kHz mono PCM and returns a [`Transcript`].
// The FFI to whisper.cpp and ggml: one of the two modules allowed unsafe code.
#![allow(unsafe_code)]

use std::ffi::{c_int, c_void};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};
use whisper_rs::whisper_rs_sys;
use whisper_rs::{
    DtwMode, DtwModelPreset, DtwParameters, FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters,
    WhisperState,
};

use super::model::{self, ModelError, ModelInfo};
use super::transcript::{Segment, Token, Transcript, words_from_tokens};
use crate::media::resample::TARGET_RATE;
use crate::progress::{Cancel, Progress};
use crate::time::{Ms, centis_to_ms, ms_to_samples, samples_to_ms};

#[derive(Debug, thiserror::Error)]
pub enum TranscribeError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("whisper.cpp could not load {path}")]
    Load { path: std::path::PathBuf },
    #[error(
        "{model} is an English-only model; it cannot transcribe or translate language {language:?} (use a multilingual model such as base)"
    )]
    EnglishOnly { model: String, language: String },
    #[error("unknown language {0:?} (use a code such as en, fr, hy, ru, or auto)")]
    UnknownLanguage(String),
    #[error("no DTW alignment heads are known for model {0}")]
    NoDtw(String),
    #[error("whisper.cpp failed: {0}")]
    Whisper(String),
    #[error("cancelled")]
    Cancelled,
}

/// Recognition options; recorded in the JSON output.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TranscribeOptions {
    /// Language code, or `None` to detect it (multilingual models only).
    pub language: Option<String>,
    /// Translate into English instead of transcribing.
    pub translate: bool,
    pub threads: usize,
    /// Text to condition the first window on (names, spelling, style).
    pub prompt: Option<String>,
    /// 1 is greedy decoding; more is beam search with that many beams.
    pub beam: usize,
    /// Word times from whisper.cpp's DTW alignment of cross-attention instead of its timestamp
    /// tokens (needs a model with known alignment heads).
    #[serde(default)]
    pub dtw: bool,
    /// Recognition lanes (1 or 2): with 2, an input up to ten minutes is cut in two halves
    /// recognised side by side, the second without the first's text (faster, fewer right words
    /// on some inputs: see README). Documents written before lanes were an option ran two.
    #[serde(default = "two_lanes")]
    pub lanes: usize,
    /// Speaker turns asked for (`--speakers`), and how their number is decided; since schema 4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speakers: Option<crate::speakers::SpeakerOptions>,
    /// A window whose text deflate compresses more than this has gone round in a loop and is
    /// recognised again with less context (`--loop-ratio`; recorded only where not the default).
    #[serde(default = "default_loop_ratio", skip_serializing_if = "is_default_loop_ratio")]
    pub loop_ratio: f64,
}

/// Whisper's and faster-whisper's `compression_ratio_threshold`: beam search on the sample
/// report repeated one sentence six times (ratio 4.6); whole windows of speech give 1.3–1.9.
pub const LOOP_RATIO: f64 = 2.4;

fn default_loop_ratio() -> f64 {
    LOOP_RATIO
}

fn is_default_loop_ratio(r: &f64) -> bool {
    *r == LOOP_RATIO
}

fn two_lanes() -> usize {
    2
}

impl Default for TranscribeOptions {
    fn default() -> Self {
        Self {
            language: None,
            translate: false,
            threads: default_threads(),
            prompt: None,
            beam: 1,
            dtw: true,
            lanes: 1,
            speakers: None,
            loop_ratio: LOOP_RATIO,
        }
    }
}

/// One thread per core: ggml's threads spin while waiting, so more than the cores is slower.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

static VERBOSE: AtomicBool = AtomicBool::new(false);

unsafe extern "C" fn log_sink(_level: whisper_rs_sys::ggml_log_level, text: *const std::ffi::c_char, _: *mut c_void) {
    if VERBOSE.load(Ordering::Relaxed) && !text.is_null() {
        // SAFETY: whisper.cpp passes a NUL-terminated string that lives for the call.
        let s = unsafe { std::ffi::CStr::from_ptr(text) };
        eprint!("{}", s.to_string_lossy());
    }
}

/// whisper.cpp and ggml log to stderr on their own; route them through a sink that prints only
/// when `verbose` is set.
pub fn set_library_logging(verbose: bool) {
    VERBOSE.store(verbose, Ordering::Relaxed);
    // SAFETY: installing a plain function pointer with no user data.
    unsafe {
        whisper_rs_sys::whisper_log_set(Some(log_sink), std::ptr::null_mut());
        whisper_rs_sys::ggml_log_set(Some(log_sink), std::ptr::null_mut());
    }
}

/// A loaded model.
pub struct Model {
    ctx: WhisperContext,
    pub info: ModelInfo,
    dtw: bool,
}

/// whisper.cpp's alignment-head preset for a model, by name.
fn dtw_preset(name: &str) -> Option<DtwModelPreset> {
    Some(match name {
        "tiny.en" => DtwModelPreset::TinyEn,
        "tiny" => DtwModelPreset::Tiny,
        "base.en" => DtwModelPreset::BaseEn,
        "base" => DtwModelPreset::Base,
        "small.en" => DtwModelPreset::SmallEn,
        "small" => DtwModelPreset::Small,
        "medium.en" => DtwModelPreset::MediumEn,
        "medium" => DtwModelPreset::Medium,
        _ => return None,
    })
}

impl Model {
    /// Whether word times come from DTW alignment.
    pub fn uses_dtw(&self) -> bool {
        self.dtw
    }

    /// Checks the file fully, then loads it into whisper.cpp.
    pub fn load(path: &Path) -> Result<Self, TranscribeError> {
        Self::load_with(path, false)
    }

    /// As [`load`](Self::load); `dtw` prepares DTW word timing.
    pub fn load_with(path: &Path, dtw: bool) -> Result<Self, TranscribeError> {
        // whisper.cpp logs to stderr unless told otherwise: quiet unless a caller asked for it.
        static SINK: std::sync::Once = std::sync::Once::new();
        SINK.call_once(|| {
            if !VERBOSE.load(Ordering::Relaxed) {
                set_library_logging(false);
            }
        });
        let (info, _) = model::verify(path)?;
        // Flash attention stays off: on this project's AVX2 machines whisper.cpp's CPU flash
        // attention made the tiny.en encoder 1.7x slower (3.5 s instead of 2.1 s per 30 s
        // window), and DTW needs it off anyway.
        let mut params = WhisperContextParameters { use_gpu: false, flash_attn: false, ..Default::default() };
        // Models without known alignment heads fall back to timestamp tokens.
        let dtw = dtw && dtw_preset(&info.name).is_some();
        if dtw {
            let preset = dtw_preset(&info.name).ok_or_else(|| TranscribeError::NoDtw(info.name.clone()))?;
            params.dtw_parameters =
                DtwParameters { mode: DtwMode::ModelPreset { model_preset: preset }, ..Default::default() };
        }
        let ctx = WhisperContext::new_with_params(path, params)
            .map_err(|_| TranscribeError::Load { path: path.to_path_buf() })?;
        Ok(Self { ctx, info, dtw })
    }
}

/// What the C callbacks see; lives on the stack for the duration of `full`.
struct CallbackData<'a> {
    progress: &'a dyn Progress,
    offset_ms: Ms,
    len_ms: Ms,
    cancel: &'a Cancel,
    eot: c_int,
    beg: c_int,
    /// Length of the logits array whisper.cpp passes.
    n_vocab: c_int,
    /// Whether the encoder is running: from whisper.cpp's encoder-begin callback until the
    /// first logits of that window. Only then may a graph be stopped in the middle (see
    /// [`__wrap_ggml_graph_compute`]).
    encoding: std::cell::Cell<bool>,
    /// The text the decoder must say, token by token, then end ([`Forcer`]).
    forced: Option<&'a [c_int]>,
    /// The log-probability the decoder gave each forced token so far, then the end (natural log).
    forced_logprobs: std::cell::RefCell<Vec<f64>>,
    /// The forced tokens before which the log-probabilities of every token are kept, and them.
    peek_at: &'a [usize],
    peeked: std::cell::RefCell<Vec<(usize, Vec<f32>)>>,
    /// The logits before the first forced token, as whisper.cpp gave them.
    first_row: std::cell::RefCell<Vec<f32>>,
}

unsafe extern "C" fn on_progress(
    _: *mut whisper_rs_sys::whisper_context,
    _: *mut whisper_rs_sys::whisper_state,
    percent: c_int,
    user: *mut c_void,
) {
    // SAFETY: `user` points at the CallbackData that outlives the whisper_full call.
    let data = unsafe { &*(user as *const CallbackData) };
    data.progress.at(data.offset_ms + data.len_ms * percent.clamp(0, 100) as u64 / 100);
}

/// Timestamps that end text are at least this many 20 ms steps into the window: whisper.cpp's
/// DTW aborts the process when the text it aligns spans fewer than 8 steps.
const MIN_END_STEPS: c_int = 8;

unsafe extern "C" fn on_logits(
    _: *mut whisper_rs_sys::whisper_context,
    _: *mut whisper_rs_sys::whisper_state,
    tokens: *const whisper_rs_sys::whisper_token_data,
    n_tokens: c_int,
    logits: *mut f32,
    user: *mut c_void,
) {
    // SAFETY: as above; whisper.cpp passes the decoder's tokens so far and its logits (n_vocab,
    // which is past every timestamp token).
    let data = unsafe { &*(user as *const CallbackData) };
    // The encoder of this window is done once its decoder gives logits.
    data.encoding.set(false);
    let tokens = if tokens.is_null() || n_tokens <= 0 {
        &[][..]
    } else {
        unsafe { std::slice::from_raw_parts(tokens, n_tokens as usize) }
    };
    if logits.is_null() || data.beg < 0 {
        return;
    }
    if let Some(forced) = data.forced {
        // Only the next token of the text (whatever the rules before this said of it), then
        // only the end.
        let next = forced.get(tokens.len()).copied().unwrap_or(data.eot);
        // SAFETY: as above, n_vocab logits.
        let all = unsafe { std::slice::from_raw_parts(logits, data.n_vocab as usize) };
        data.forced_logprobs.borrow_mut().push(log_softmax_at(all, next as usize));
        if tokens.is_empty() {
            *data.first_row.borrow_mut() = all.to_vec();
        }
        if data.peek_at.contains(&tokens.len()) {
            data.peeked.borrow_mut().push((tokens.len(), log_softmax(all)));
        }
        for id in 0..data.n_vocab {
            unsafe { *logits.add(id as usize) = if id == next { 0.0 } else { f32::NEG_INFINITY } };
        }
        return;
    }
    if tokens.iter().any(|t| t.id < data.eot) {
        // Only inside the logits array, whatever the model's vocabulary says.
        for id in data.beg..(data.beg + MIN_END_STEPS).min(data.n_vocab) {
            unsafe { *logits.add(id as usize) = f32::NEG_INFINITY };
        }
    }
}

/// `ln softmax(logits)`.
fn log_softmax(logits: &[f32]) -> Vec<f32> {
    let top = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let sum: f64 = logits.iter().map(|&l| (l as f64 - top).exp()).sum();
    let norm = top + sum.ln();
    logits.iter().map(|&l| (l as f64 - norm) as f32).collect()
}

/// `ln softmax(logits)[at]`, with the largest logit taken out first (suppressed tokens are −∞).
fn log_softmax_at(logits: &[f32], at: usize) -> f64 {
    let top = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    if !top.is_finite() || at >= logits.len() {
        return f64::NEG_INFINITY;
    }
    let sum: f64 = logits.iter().map(|&l| (l as f64 - top).exp()).sum();
    logits[at] as f64 - top - sum.ln()
}

unsafe extern "C" fn on_abort(user: *mut c_void) -> bool {
    // SAFETY: as above.
    let data = unsafe { &*(user as *const CallbackData) };
    data.cancel.is_cancelled()
}

unsafe extern "C" fn on_encoder_begin(
    _: *mut whisper_rs_sys::whisper_context,
    _: *mut whisper_rs_sys::whisper_state,
    user: *mut c_void,
) -> bool {
    // SAFETY: as above.
    let data = unsafe { &*(user as *const CallbackData) };
    data.encoding.set(true);
    // A stop asked for between windows ends the call before the next encoder starts.
    !data.cancel.is_cancelled()
}

/// The abort check given to graphs whisper.cpp computes without one: true only while the
/// encoder runs. The decoder's graphs are short (one token), and the decoder pass of DTW word
/// timing must never fail: whisper.cpp aborts the process when it does.
unsafe extern "C" fn on_graph_abort(user: *mut c_void) -> bool {
    // SAFETY: as above.
    let data = unsafe { &*(user as *const CallbackData) };
    data.encoding.get() && data.cancel.is_cancelled()
}

/// Which rows of the decoder's logits a graph computed on this thread gives. whisper.cpp's
/// decoder multiplies every row of a batch by the vocabulary (51,864 × the model's width) and
/// keeps only the rows it will read: with one sequence, the last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rows {
    /// Every row, as whisper.cpp computes them (beam search reads one per beam).
    Every,
    /// The last row only: all whisper.cpp reads when one sequence is decoded. The rows of a
    /// prompt were a third of the work of a forced pass after the article's prompt (223 tokens:
    /// 4.6 of 12 G multiply-adds), and the same words come out.
    Last,
}

/// What ggml's graphs on this thread are given, for the duration of one call into whisper.cpp.
#[derive(Clone, Copy)]
struct GraphScope {
    /// The abort data of that call's [`CallbackData`], or null.
    abort: *mut c_void,
    rows: Rows,
    /// The model's vocabulary: the width of its logits, by which their product is known.
    n_vocab: i64,
    /// The threads the call was given, which no graph of it may exceed (0: no call).
    threads: c_int,
}

impl GraphScope {
    const NONE: GraphScope = GraphScope { abort: std::ptr::null_mut(), rows: Rows::Every, n_vocab: 0, threads: 0 };
}

thread_local! {
    static GRAPH: std::cell::Cell<GraphScope> =
        const { std::cell::Cell::new(GraphScope::NONE) };
}

/// whisper.cpp passes its abort callback to ggml only for the graphs it computes without a
/// scheduler, not for the encoder's or decoder's (whisper.cpp issue 3718): the encoder of one
/// window (a second or more of work on two cores) could not be stopped. The link step
/// (`--wrap=ggml_graph_compute`, in src/build.rs) routes every graph through here, which gives a
/// graph computed on a thread inside a whisper_full call ([`full`]) that call's abort
/// callback; ggml checks it between nodes. Here too the decoder's product by the vocabulary
/// is cut to the rows that are read ([`Rows`]), and every graph is held to the call's threads
/// ([`keep_to_threads`]).
///
/// # Safety
/// Called by ggml only, with the graph and plan it was about to compute.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __wrap_ggml_graph_compute(
    graph: *mut whisper_rs_sys::ggml_cgraph,
    plan: *mut whisper_rs_sys::ggml_cplan,
) -> whisper_rs_sys::ggml_status {
    unsafe extern "C" {
        fn __real_ggml_graph_compute(
            graph: *mut whisper_rs_sys::ggml_cgraph,
            plan: *mut whisper_rs_sys::ggml_cplan,
        ) -> whisper_rs_sys::ggml_status;
    }
    let scope = GRAPH.with(|cell| cell.get());
    // SAFETY: `plan` and `graph` are ggml's own for this call; `scope.abort` is set only while
    // the CallbackData it points at is alive (see ScopeGuard).
    unsafe {
        if !plan.is_null() && !scope.abort.is_null() && (*plan).abort_callback.is_none() {
            (*plan).abort_callback = Some(on_graph_abort);
            (*plan).abort_callback_data = scope.abort;
        }
        if !plan.is_null() && scope.threads > 0 {
            keep_to_threads(graph, plan, scope.threads);
        }
        let cut = match scope.rows {
            Rows::Last => logits_node(graph, scope.n_vocab).and_then(|node| LastRow::cut(node)),
            Rows::Every => None,
        };
        let status = __real_ggml_graph_compute(graph, plan);
        if let Some(cut) = cut {
            cut.restore();
        }
        status
    }
}

/// whisper.cpp computes the attention weights its DTW aligns on a CPU backend of its own, at
/// ggml's default of 4 threads whatever the call was given, and filters them with a median done
/// by one thread while the others wait: on 2 cores, 4 threads spinning at barriers for every
/// window (8 with two lanes). So a graph asking for more threads than its call was given gets
/// the call's, and whisper.cpp's median filter (its only custom operation) is replaced by
/// [`median_rows`], the same medians shared by every thread. report.mp4 4.20 -> 3.53 s,
/// report.webm 4.43 -> 4.00 s, the same JSON (AMD EPYC Zen 4, 2 cores).
///
/// # Safety
/// `graph` and `plan` are ggml's, about to be computed.
unsafe fn keep_to_threads(
    graph: *mut whisper_rs_sys::ggml_cgraph,
    plan: *mut whisper_rs_sys::ggml_cplan,
    threads: c_int,
) {
    // SAFETY: fewer threads than planned need no more work buffer than planned; the nodes are
    // ggml's tensors, alive for the call, and a custom operation's parameters are
    // ggml_map_custom1_op_params (ggml-impl.h), copied in and out as ggml does.
    unsafe {
        if (*plan).n_threads > threads {
            (*plan).n_threads = threads;
        }
        for i in 0..whisper_rs_sys::ggml_graph_n_nodes(graph) {
            let node = whisper_rs_sys::ggml_graph_node(graph, i);
            if node.is_null() || (*node).op != whisper_rs_sys::ggml_op_GGML_OP_MAP_CUSTOM1 {
                continue;
            }
            let at = (*node).op_params.as_mut_ptr() as *mut CustomOp;
            let mut op = at.read_unaligned();
            let median: unsafe extern "C" fn(_, _, _, _, _) = median_rows;
            if op.fun.is_some_and(|f| f as usize != median as usize) && is_median_filter(&*node, op.userdata) {
                op.fun = Some(median);
                at.write_unaligned(op);
            }
        }
    }
}

/// ggml's parameters of a custom operation of one source (`ggml_map_custom1_op_params`).
#[repr(C)]
#[derive(Clone, Copy)]
struct CustomOp {
    fun: whisper_rs_sys::ggml_custom1_op_t,
    n_tasks: c_int,
    userdata: *mut c_void,
}

/// Whether `node` is whisper.cpp's DTW median filter: over a 3-D f32 tensor (heads × tokens ×
/// audio frames) into one of the same shape, its user data the odd filter width, below the
/// frames.
///
/// # Safety
/// `node` is a ggml tensor of a graph about to be computed; `userdata` its operation's.
unsafe fn is_median_filter(node: &whisper_rs_sys::ggml_tensor, userdata: *mut c_void) -> bool {
    let f32 = whisper_rs_sys::ggml_type_GGML_TYPE_F32;
    // SAFETY: as above.
    unsafe {
        let a = node.src[0];
        if a.is_null() || userdata.is_null() || !node.src[1].is_null() {
            return false;
        }
        let a = &*a;
        let width = *(userdata as *const c_int);
        node.type_ == f32
            && a.type_ == f32
            && a.ne == node.ne
            && a.ne[3] == 1
            && width > 0
            && width % 2 == 1
            && (width as i64) < a.ne[2]
            && !node.data.is_null()
            && !a.data.is_null()
    }
}

/// whisper.cpp's DTW median filter, shared by the `nth` threads: each row along the third
/// dimension of `a` (the audio frames) filtered with a window of the width `userdata` points
/// at, mirrored at the ends ("reflect" padding), into `dst`. The same medians as whisper.cpp's
/// one-thread filter (a median of a handful of numbers does not depend on how they are sorted).
///
/// # Safety
/// Called by ggml with the tensors [`is_median_filter`] accepted.
unsafe extern "C" fn median_rows(
    dst: *mut whisper_rs_sys::ggml_tensor,
    a: *const whisper_rs_sys::ggml_tensor,
    ith: c_int,
    nth: c_int,
    userdata: *mut c_void,
) {
    // SAFETY: as above: f32 tensors of the same shape, read and written through their strides;
    // each thread writes its own rows.
    unsafe {
        let (a, d) = (&*a, &*dst);
        let half = (*(userdata as *const c_int) / 2) as i64;
        let (n0, n1, n2) = (a.ne[0], a.ne[1], a.ne[2]);
        let rows = n0 * n1;
        let per = (rows + nth as i64 - 1) / (nth as i64).max(1);
        let mut row = vec![0f32; n2 as usize];
        let mut window = vec![0f32; 2 * half as usize + 1];
        for r in (ith as i64 * per)..((ith as i64 + 1) * per).min(rows) {
            let (i, j) = (r / n1, r % n1);
            let from = (a.data as *const u8).add(i as usize * a.nb[0] + j as usize * a.nb[1]);
            for (k, v) in row.iter_mut().enumerate() {
                *v = (from.add(k * a.nb[2]) as *const f32).read_unaligned();
            }
            let to = (d.data as *mut u8).add(i as usize * d.nb[0] + j as usize * d.nb[1]);
            for k in 0..n2 {
                (to.add(k as usize * d.nb[2]) as *mut f32).write_unaligned(median_at(&row, k, half, &mut window));
            }
        }
    }
}

/// The median of `row[k - half..=k + half]`, mirrored at the ends (index -1 is 1, n is n - 2).
fn median_at(row: &[f32], k: i64, half: i64, window: &mut [f32]) -> f32 {
    let n = row.len() as i64;
    for (w, off) in window.iter_mut().zip(-half..=half) {
        let idx = (k + off).abs();
        *w = row[(if idx >= n { 2 * (n - 1) - idx } else { idx }) as usize];
    }
    window.sort_unstable_by(|x, y| x.partial_cmp(y).unwrap_or(std::cmp::Ordering::Equal));
    window[window.len() / 2]
}

/// The decoder's product by the vocabulary, if it is the last node of `graph` (as in every
/// decoder graph of whisper.cpp): `n_vocab` × rows of f32, contiguous, from a contiguous f32
/// input of one row per token.
///
/// # Safety
/// `graph` is a graph ggml is about to compute, or has.
unsafe fn logits_node(
    graph: *mut whisper_rs_sys::ggml_cgraph,
    n_vocab: i64,
) -> Option<*mut whisper_rs_sys::ggml_tensor> {
    // SAFETY: the graph's nodes and their sources are ggml's tensors, alive for the call.
    unsafe {
        let n = whisper_rs_sys::ggml_graph_n_nodes(graph);
        if n_vocab <= 0 || n < 1 {
            return None;
        }
        let node = whisper_rs_sys::ggml_graph_node(graph, n - 1);
        if node.is_null() || (*node).op != whisper_rs_sys::ggml_op_GGML_OP_MUL_MAT {
            return None;
        }
        let (w, x) = ((*node).src[0], (*node).src[1]);
        if w.is_null() || x.is_null() {
            return None;
        }
        let (d, w, x) = (&*node, &*w, &*x);
        let f32 = whisper_rs_sys::ggml_type_GGML_TYPE_F32;
        let flat = |t: &whisper_rs_sys::ggml_tensor| {
            t.type_ == f32
                && t.ne[2] == 1
                && t.ne[3] == 1
                && t.nb[0] == 4
                && t.nb[1] == 4 * t.ne[0] as usize
                && !t.data.is_null()
        };
        (d.ne[0] == n_vocab && w.ne[1] == n_vocab && x.ne[1] == d.ne[1] && flat(d) && flat(x)).then_some(node)
    }
}

/// The product by the vocabulary cut to its last row while ggml computes it: the product reads
/// a one-row view of its input and writes the last row of its result, where whisper.cpp reads.
struct LastRow {
    node: *mut whisper_rs_sys::ggml_tensor,
    input: *mut whisper_rs_sys::ggml_tensor,
    saved: (i64, *mut c_void, [usize; 4]),
    _view: Box<whisper_rs_sys::ggml_tensor>,
}

impl LastRow {
    /// # Safety
    /// `node` is from [`logits_node`], not yet computed; [`LastRow::restore`] before anything
    /// else reads it.
    unsafe fn cut(node: *mut whisper_rs_sys::ggml_tensor) -> Option<Self> {
        // SAFETY: as above; the input's rows are computed before this node, in this call, so
        // the view (a copy of its header, not of its data) is cut, not the input itself.
        unsafe {
            let rows = (*node).ne[1] as usize;
            if rows < 2 {
                return None;
            }
            let input = (*node).src[1];
            let mut view = Box::new(*input);
            view.data = ((*input).data as *mut u8).add((rows - 1) * (*input).nb[1]) as *mut c_void;
            view.ne[1] = 1;
            view.nb[2] = view.nb[1];
            view.nb[3] = view.nb[1];
            let saved = ((*node).ne[1], (*node).data, (*node).nb);
            (*node).src[1] = &mut *view;
            (*node).data = ((*node).data as *mut u8).add((rows - 1) * (*node).nb[1]) as *mut c_void;
            (*node).ne[1] = 1;
            (*node).nb[2] = (*node).nb[1];
            (*node).nb[3] = (*node).nb[1];
            Some(Self { node, input, saved, _view: view })
        }
    }

    /// # Safety
    /// The graph of [`LastRow::cut`] is computed.
    unsafe fn restore(self) {
        // SAFETY: as above; the node is ggml's, the view is dropped after it is unlinked.
        unsafe {
            let (rows, data, nb) = self.saved;
            (*self.node).ne[1] = rows;
            (*self.node).data = data;
            (*self.node).nb = nb;
            (*self.node).src[1] = self.input;
        }
    }
}

/// Gives ggml's graphs on this thread a [`GraphScope`], until dropped.
struct ScopeGuard;

impl ScopeGuard {
    fn new(scope: GraphScope) -> Self {
        GRAPH.with(|cell| cell.set(scope));
        ScopeGuard
    }
}

impl Drop for ScopeGuard {
    fn drop(&mut self) {
        GRAPH.with(|cell| cell.set(GraphScope::NONE));
    }
}

/// Encoder frames for `samples` of audio up to 30 s: only the frames the audio fills (20 ms
/// each; whisper.cpp's DTW needs them all) and the silence after it, instead of 30 s.
fn audio_ctx(samples: usize) -> c_int {
    let frames = (samples as u64).div_ceil(320) as usize + 1 + SILENCE_AFTER_FRAMES;
    frames.next_multiple_of(32).min(1500) as c_int
}

/// What a forced whisper_full call gave.
struct Forced {
    /// The log-probability of each forced token, then of the end (natural log).
    logprobs: Vec<f64>,
    /// For each forced token index peeked at, the log-probabilities of every token there.
    peeked: Vec<(usize, Vec<f32>)>,
    /// The logits before the first forced token.
    first_row: Vec<f32>,
}

/// One whisper_full call over `pcm` (which starts `offset_ms` into the input) on `threads`
/// threads (every graph of the call included) with the callbacks: progress, stops, and (for a
/// [`Forcer`]) the text the decoder must say, whose tokens' log-probabilities (then the end's)
/// it returns. `one_sequence`: the call decodes one
/// sequence (greedy, best of 1), so only the last row of the decoder's logits is computed.
#[allow(clippy::too_many_arguments)]
fn full(
    model: &Model,
    state: &mut WhisperState,
    mut params: FullParams,
    threads: usize,
    pcm: &[f32],
    offset_ms: Ms,
    progress: &dyn Progress,
    cancel: &Cancel,
    forced: Option<&[c_int]>,
    peek_at: &[usize],
    one_sequence: bool,
) -> Result<Forced, TranscribeError> {
    let data = CallbackData {
        progress,
        offset_ms,
        len_ms: samples_to_ms(pcm.len() as u64, TARGET_RATE),
        cancel,
        eot: model.ctx.token_eot(),
        beg: model.ctx.token_beg(),
        n_vocab: model.ctx.n_vocab(),
        encoding: std::cell::Cell::new(false),
        forced,
        forced_logprobs: std::cell::RefCell::new(Vec::new()),
        peek_at,
        peeked: std::cell::RefCell::new(Vec::new()),
        first_row: std::cell::RefCell::new(Vec::new()),
    };
    let user = &data as *const CallbackData as *mut c_void;
    let threads = threads.max(1) as c_int;
    params.set_n_threads(threads);
    // SAFETY: `data` outlives `state.full` below, which is the only time the callbacks run.
    // (whisper-rs's own set_abort_callback_safe is broken in 0.16, hence the raw callbacks.)
    unsafe {
        params.set_filter_logits_callback(Some(on_logits));
        params.set_filter_logits_callback_user_data(user);
        params.set_progress_callback(Some(on_progress));
        params.set_progress_callback_user_data(user);
        params.set_abort_callback(Some(on_abort));
        params.set_abort_callback_user_data(user);
        params.set_start_encoder_callback(Some(on_encoder_begin));
        params.set_start_encoder_callback_user_data(user);
    }
    let rows = if one_sequence { Rows::Last } else { Rows::Every };
    let scope = ScopeGuard::new(GraphScope { abort: user, rows, n_vocab: data.n_vocab as i64, threads });
    let result = state.full(params, pcm);
    drop(scope);
    if cancel.is_cancelled() {
        return Err(TranscribeError::Cancelled);
    }
    result
        .map(|_| Forced {
            logprobs: data.forced_logprobs.take(),
            peeked: data.peeked.take(),
            first_row: data.first_row.take(),
        })
        .map_err(|e| TranscribeError::Whisper(e.to_string()))
}

/// What a window is conditioned on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// The end of the text recognised so far, as Whisper was trained; before any, the prompt.
    Full,
    /// The prompt only (if any).
    PromptOnly,
    /// Nothing: Whisper hears the window with no expectations.
    Nothing,
}

/// Tokens of recognised text carried into the next window. Whisper allows 223, but the prompt is
/// decoded again at every window. On the LibriSpeech clip: 32 tokens 3.7 % WER, 64 tokens 2.4 %,
/// 128 tokens 2.1 % but 20 % slower; on the sample report 64 was best.
const HISTORY_TOKENS: usize = 64;
/// Longest audio a single encoder pass covers.
const WHISPER_WINDOW_MS: Ms = 30_000;
/// Encoder frames (20 ms) of the silence that follows a window's audio that the encoder also
/// reads. Cut off right after the last word, Whisper tends to repeat the last sentence; with 2 s
/// of silence after it the LibriSpeech clip went from 5.8 % to 2.4 % WER (1 s: same words,
/// worse on the sample report; 3 s: no better, slower).
const SILENCE_AFTER_FRAMES: usize = 100;
/// Passes over one window at most (Whisper may stop early and be sent back to finish).
const MAX_PASSES: usize = 4;

/// A [`Recognizer`]'s text context, saved.
#[derive(Clone)]
pub struct Saved(Vec<c_int>);

impl Saved {
    /// No text recognised yet: the next window hears the prompt only.
    pub fn empty() -> Self {
        Saved(Vec::new())
    }
}

/// Recognises audio window by window with one whisper.cpp state, carrying the prompt and the
/// end of the text recognised so far from window to window.
pub struct Recognizer<'m> {
    model: &'m Model,
    state: WhisperState,
    language: String,
    opts: TranscribeOptions,
    prompt: Vec<c_int>,
    history: Vec<c_int>,
    /// Threads of the next whisper.cpp call (at most `opts.threads`).
    threads: usize,
}

/// The language whisper.cpp is asked for: checked against the model.
fn language_for(model: &Model, opts: &TranscribeOptions) -> Result<String, TranscribeError> {
    let multilingual = model.info.multilingual;
    Ok(match opts.language.as_deref() {
        None | Some("auto") if multilingual => "auto".to_string(),
        None | Some("auto") => "en".to_string(),
        Some(l) => {
            let l = l.to_ascii_lowercase();
            if whisper_rs::get_lang_id(&l).is_none() {
                return Err(TranscribeError::UnknownLanguage(l));
            }
            if !multilingual && l != "en" {
                return Err(TranscribeError::EnglishOnly { model: model.info.name.clone(), language: l });
            }
            l
        }
    })
}

impl<'m> Recognizer<'m> {
    pub fn new(model: &'m Model, opts: &TranscribeOptions) -> Result<Self, TranscribeError> {
        let language = language_for(model, opts)?;
        let whisper = |e: whisper_rs::WhisperError| TranscribeError::Whisper(e.to_string());
        let prompt = match opts.prompt.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
            Some(p) => model.ctx.tokenize(&format!(" {p}"), 1024).map_err(whisper)?,
            None => Vec::new(),
        };
        let state = model.ctx.create_state().map_err(whisper)?;
        Ok(Self { model, state, language, opts: opts.clone(), prompt, history: Vec::new(), threads: opts.threads })
    }

    /// The model it recognises with.
    pub fn model(&self) -> &'m Model {
        self.model
    }

    /// The language recognised in (or given for) the audio so far.
    pub fn language(&self) -> String {
        if self.language == "auto" {
            whisper_rs::get_lang_str(self.state.full_lang_id_from_state()).unwrap_or("unknown").to_string()
        } else {
            self.language.clone()
        }
    }

    /// Threads for the calls that follow (capped by the options' count).
    pub fn set_threads(&mut self, n: usize) {
        self.threads = n.clamp(1, self.opts.threads.max(1));
    }

    /// The text context as it stands, to go back to if a window's result is thrown away.
    pub fn save(&self) -> Saved {
        Saved(self.history.clone())
    }

    pub fn restore(&mut self, saved: Saved) {
        self.history = saved.0;
    }

    /// Recognises `pcm` (16 kHz mono), which starts `offset_ms` into the input; the segments
    /// come back with times in the input. Audio up to 30 s is one encoder pass over just that
    /// audio; longer audio is read by whisper.cpp's own moving window.
    pub fn recognise(
        &mut self,
        pcm: &[f32],
        offset_ms: Ms,
        context: Context,
        progress: &dyn Progress,
        cancel: &Cancel,
    ) -> Result<Vec<Segment>, TranscribeError> {
        let mut segments = Vec::new();
        let (mut from, mut context) = (0usize, context);
        for _ in 0..MAX_PASSES {
            let at = offset_ms + samples_to_ms(from as u64, TARGET_RATE);
            let (got, resume) = self.pass(&pcm[from..], at, context, progress, cancel)?;
            segments.extend(got);
            match resume {
                // Whisper began a new segment and stopped: the rest of the audio is read again
                // from there, as whisper.cpp's own moving window does.
                Some(ms) if ms >= 200 && pcm.len() >= from + ms_to_samples(ms + 1000, TARGET_RATE) => {
                    from += ms_to_samples(ms, TARGET_RATE);
                    context = Context::Full;
                }
                _ => break,
            }
        }
        Ok(segments)
    }

    /// One whisper_full call; also says where (ms into `pcm`) Whisper stopped if it stopped
    /// at the start of a segment it did not fill.
    fn pass(
        &mut self,
        pcm: &[f32],
        offset_ms: Ms,
        context: Context,
        progress: &dyn Progress,
        cancel: &Cancel,
    ) -> Result<(Vec<Segment>, Option<Ms>), TranscribeError> {
        let len_ms = samples_to_ms(pcm.len() as u64, TARGET_RATE);
        if pcm.len() < TARGET_RATE as usize / 5 {
            return Ok((Vec::new(), None));
        }
        let strategy = if self.opts.beam > 1 {
            SamplingStrategy::BeamSearch { beam_size: self.opts.beam as c_int, patience: -1.0 }
        } else {
            SamplingStrategy::Greedy { best_of: 1 }
        };
        let mut params = FullParams::new(strategy);
        params.set_language(Some(&self.language));
        params.set_translate(self.opts.translate && self.model.info.multilingual);
        params.set_token_timestamps(true);
        params.set_print_progress(false);
        params.set_print_realtime(false);
        params.set_print_special(false);
        params.set_print_timestamps(false);
        params.set_no_context(true);
        if len_ms <= WHISPER_WINDOW_MS {
            params.set_audio_ctx(audio_ctx(pcm.len()));
            // One pass over the window: whisper.cpp otherwise goes round again for the last
            // fraction of a second after its final timestamp, and its DTW aborts the process
            // on a pass shorter than 160 ms.
            params.set_single_segment(true);
        }
        // The prompt leads into the first speech only, as in Whisper, where the text recognised
        // pushes it out of the context. Carried into every window, it made tiny.en garble a
        // window of the sample report and drop 15 words.
        let tokens: &[c_int] = match context {
            Context::Full if !self.history.is_empty() => {
                &self.history[self.history.len().saturating_sub(HISTORY_TOKENS)..]
            }
            Context::Full | Context::PromptOnly => &self.prompt,
            Context::Nothing => &[],
        };
        // whisper.cpp keeps at most half its text context (223 tokens after the marker).
        let tokens = &tokens[tokens.len().saturating_sub(223)..];
        if !tokens.is_empty() {
            params.set_tokens(tokens);
        }
        let one_sequence = self.opts.beam <= 1;
        let threads = self.threads.clamp(1, self.opts.threads.max(1));
        full(self.model, &mut self.state, params, threads, pcm, offset_ms, progress, cancel, None, &[], one_sequence)?;
        Ok(self.collect(offset_ms))
    }

    /// Segments of the last whisper_full call, shifted by `offset_ms`; their text tokens join
    /// the history.
    fn collect(&mut self, offset_ms: Ms) -> (Vec<Segment>, Option<Ms>) {
        let eot = self.model.ctx.token_eot();
        let beg = self.model.ctx.token_beg();
        let dtw = self.model.dtw;
        let mut segments = Vec::new();
        // Segments are cut at timestamp tokens here rather than by whisper.cpp, which is asked
        // for one segment per window (see `recognise`).
        let mut open: Option<(Ms, Vec<Token>, f32)> = None;
        // The last two tokens were timestamps: where the second one points.
        let mut resume: Option<Ms> = None;
        let mut last_was_ts = true;
        let mut start_at: Option<Ms> = None;
        let close = |open: Option<(Ms, Vec<Token>, f32)>, end: Option<Ms>, segments: &mut Vec<Segment>| {
            let Some((start_ms, tokens, no_speech)) = open else { return };
            let words = words_from_tokens(&tokens);
            let text =
                String::from_utf8_lossy(&tokens.iter().flat_map(|t| t.bytes.iter().copied()).collect::<Vec<_>>())
                    .trim()
                    .to_string();
            if text.is_empty() {
                return;
            }
            let last = tokens.last().map_or(start_ms, |t| t.end_ms);
            segments.push(Segment {
                start_ms,
                end_ms: end.unwrap_or(last).max(start_ms),
                text,
                no_speech_probability: no_speech,
                words,
                speaker: None,
            });
        };
        for seg in self.state.as_iter() {
            let no_speech = seg.no_speech_probability();
            let mut after_text = false;
            for i in 0..seg.n_tokens() {
                let Some(tok) = seg.get_token(i) else { continue };
                let id = tok.token_id();
                let d = tok.token_data();
                let dtw_at = (dtw && d.t_dtw >= 0).then(|| offset_ms + centis_to_ms(d.t_dtw));
                if let (Some(at), Some((_, tokens, _)), true) = (dtw_at, open.as_mut(), after_text)
                    && let Some(prev) = tokens.last_mut()
                {
                    // DTW gives each token one instant: its start, and the end of the token before.
                    prev.end_ms = at.max(prev.start_ms);
                }
                // The history keeps timestamp tokens as Whisper's own does: conditioned on text
                // without them, Whisper stops giving timestamps and ends windows early.
                if id < eot || id >= beg {
                    self.history.push(id);
                }
                if id >= beg {
                    let rel = (id - beg) as Ms * 20;
                    resume = last_was_ts.then_some(rel);
                    last_was_ts = true;
                    let at = offset_ms + rel;
                    if let Some((_, tokens, _)) = open.as_mut() {
                        // The segment's closing timestamp bounds its last token, whose own end is
                        // otherwise the end of the window.
                        if let Some(last) = tokens.last_mut() {
                            last.end_ms = last.end_ms.min(at).max(last.start_ms);
                        }
                        close(open.take(), Some(at), &mut segments);
                        start_at = None;
                    } else {
                        start_at = Some(at);
                    }
                    after_text = false;
                    continue;
                }
                if id >= eot {
                    continue;
                }
                (resume, last_was_ts) = (None, false);
                let (start_ms, end_ms) = match dtw_at {
                    Some(at) => (at, at.max(offset_ms + centis_to_ms(d.t1))),
                    None => (offset_ms + centis_to_ms(d.t0), offset_ms + centis_to_ms(d.t1)),
                };
                let token = Token {
                    bytes: tok.to_bytes().map(<[u8]>::to_vec).unwrap_or_default(),
                    start_ms,
                    end_ms,
                    probability: d.p,
                };
                let (_, tokens, _) =
                    open.get_or_insert_with(|| (start_at.unwrap_or(start_ms).min(start_ms), Vec::new(), no_speech));
                tokens.push(token);
                after_text = true;
            }
        }
        close(open.take(), None, &mut segments);
        let keep = self.history.len().saturating_sub(4 * HISTORY_TOKENS);
        self.history.drain(..keep);
        (segments, resume)
    }
}

/// Most text tokens one forced pass says: whisper.cpp decodes at most 220 tokens in a window.
pub const MAX_FORCED_TOKENS: usize = 200;
/// Shortest audio a forced pass reads: whisper.cpp's DTW aborts the process on less than 160 ms.
pub const MIN_FORCED_MS: Ms = 1000;

/// What [`Forcer::likelihood`] found.
#[derive(Debug, Clone)]
pub struct Likelihood {
    /// ln P(text | audio, prompt).
    pub logprob: f64,
    /// For each word peeked at: ln P(token | audio, prompt, the text before it), for every token
    /// id (empty if the decoder never got there).
    pub next: Vec<Vec<f32>>,
}

/// Makes the decoder say a known text over a stretch of audio and times its words by the same
/// DTW alignment that times recognised words: forced alignment with the recognition model.
pub struct Forcer<'m> {
    model: &'m Model,
    state: WhisperState,
    language: String,
    threads: usize,
    /// What the state holds from the last [`Forcer::likelihood`], if another text over the same
    /// clip and prompt can branch from it.
    heard: Option<Heard>,
    /// Texts scored by a branch instead of a pass of their own.
    branches: usize,
}

/// A clip the state has encoded and a text it has decoded over it after a prompt: the encoder's
/// output and the decoder's keys and values of the prompt and text stay in the state, so another
/// text over that clip and prompt costs only the decoder's steps from where the two texts part,
/// not a whisper_full call (the encoder, the prompt, then a step per token).
struct Heard {
    pcm: Vec<f32>,
    prompt: String,
    /// Tokens before the text in the decoder's cache: the marker, the prompt, the task.
    before: usize,
    /// The text's tokens after them.
    tokens: Vec<c_int>,
    /// The log-probability of each of those tokens, then of the end.
    logprobs: Vec<f64>,
    /// The logits before the text's first token, from the pass itself: a text that parts from
    /// this one at its first token takes its first log-probability from them rather than from
    /// the task's last token decoded again alone, whose keys and values would then differ from
    /// the batch the pass decoded it in (by 0.11 nats over a sentence of the sample report).
    first_row: Vec<f32>,
}

/// Two ways of scoring one text that must agree (the last token decoded again from the cache
/// against the whisper_full pass that decoded it first) agree to this, in nats; beyond it the
/// cache is not what [`Forcer`] takes it for, and every text gets a pass of its own.
const BRANCH_AGREE: f64 = 1e-3;

impl<'m> Forcer<'m> {
    /// A forcer for text in `language` (an ISO 639-1 code); the model must time words by DTW.
    pub fn new(model: &'m Model, language: &str, threads: usize) -> Result<Self, TranscribeError> {
        if !model.dtw {
            return Err(TranscribeError::NoDtw(model.info.name.clone()));
        }
        Self::scorer(model, language, threads)
    }

    /// A forcer for [`Forcer::likelihood`] alone, which needs no DTW timing (and is faster
    /// without: whisper.cpp aligns every pass of a DTW model).
    pub fn scorer(model: &'m Model, language: &str, threads: usize) -> Result<Self, TranscribeError> {
        let opts = TranscribeOptions { language: Some(language.to_string()), ..Default::default() };
        let language = language_for(model, &opts)?;
        let state = model.ctx.create_state().map_err(|e| TranscribeError::Whisper(e.to_string()))?;
        Ok(Self { model, state, language, threads: threads.max(1), heard: None, branches: 0 })
    }

    /// How many texts [`Forcer::likelihood`] has scored by branching from the text before them
    /// over the same clip and prompt, instead of a pass of their own.
    pub fn branches(&self) -> usize {
        self.branches
    }

    /// Threads for the calls that follow.
    pub fn set_threads(&mut self, n: usize) {
        self.threads = n.max(1);
    }

    /// The tokens of each word as the decoder says it within a text (after a space).
    fn tokens(&self, words: &[&str]) -> Result<Vec<Vec<c_int>>, TranscribeError> {
        words
            .iter()
            .map(|w| self.model.ctx.tokenize(&format!(" {w}"), 64).map_err(|e| TranscribeError::Whisper(e.to_string())))
            .collect()
    }

    /// whisper.cpp's parameters for a forced pass over `samples` of audio in `language`, after
    /// `prompt`.
    fn params<'s>(language: &'s str, samples: usize, prompt: Option<&'s str>) -> FullParams<'s, 's> {
        let mut params = FullParams::new(SamplingStrategy::Greedy { best_of: 1 });
        params.set_language(Some(language));
        params.set_translate(false);
        params.set_no_timestamps(true);
        params.set_token_timestamps(true);
        params.set_single_segment(true);
        params.set_no_context(true);
        params.set_suppress_blank(false);
        // One decoding, whatever its probabilities: the text is known, not guessed.
        params.set_temperature_inc(0.0);
        params.set_entropy_thold(f32::NEG_INFINITY);
        params.set_logprob_thold(f32::NEG_INFINITY);
        params.set_no_speech_thold(f32::INFINITY);
        params.set_print_progress(false);
        params.set_print_realtime(false);
        params.set_print_special(false);
        params.set_print_timestamps(false);
        params.set_audio_ctx(audio_ctx(samples));
        if let Some(p) = prompt.filter(|p| !p.is_empty()) {
            params.set_initial_prompt(p);
        }
        params
    }

    /// How likely the decoder finds `words` said over `pcm` (16 kHz mono, [`MIN_FORCED_MS`] to
    /// 30 s) after `prompt`: the natural log of the probability it gives their tokens and the end,
    /// one after the other (teacher forcing). Two texts over the same audio and prompt compare by
    /// it as the decoder would have ranked them. For each word index in `peek`, also the
    /// log-probability of every token where that word begins, the text before it said. `None`
    /// as for [`Forcer::starts`].
    pub fn likelihood(
        &mut self,
        pcm: &[f32],
        prompt: &str,
        words: &[&str],
        peek: &[usize],
        cancel: &Cancel,
    ) -> Result<Option<Likelihood>, TranscribeError> {
        let Some((per_word, forced)) = self.forced(pcm, words) else { return Ok(None) };
        if cancel.is_cancelled() {
            return Err(TranscribeError::Cancelled);
        }
        if peek.is_empty()
            && let Some(logprob) = self.branch(pcm, prompt, &forced)
        {
            return Ok(logprob.is_finite().then_some(Likelihood { logprob, next: Vec::new() }));
        }
        self.heard = None;
        let peek_at: Vec<usize> =
            peek.iter().map(|&w| per_word[..w.min(per_word.len())].iter().map(Vec::len).sum()).collect();
        let mut params = Self::params(&self.language, pcm.len(), Some(prompt));
        params.set_token_timestamps(false);
        let Forced { logprobs, peeked, first_row } = full(
            self.model,
            &mut self.state,
            params,
            self.threads,
            pcm,
            0,
            &crate::progress::Silent,
            cancel,
            Some(&forced),
            &peek_at,
            true,
        )?;
        let logprob: f64 = logprobs.iter().sum();
        let next = peek_at
            .iter()
            .map(|t| peeked.iter().find(|(at, _)| at == t).map(|(_, l)| l.clone()).unwrap_or_default())
            .collect();
        if logprob.is_finite() && logprobs.len() == forced.len() + 1 {
            self.remember(pcm, prompt, forced, logprobs, first_row);
        }
        Ok(logprob.is_finite().then_some(Likelihood { logprob, next }))
    }

    /// Keeps what a whisper_full pass over `pcm` left in the state for [`Forcer::branch`], once
    /// its last token, decoded again from the cache, gives the end the same log-probability.
    fn remember(&mut self, pcm: &[f32], prompt: &str, tokens: Vec<c_int>, logprobs: Vec<f64>, first_row: Vec<f32>) {
        let n_prompt = if prompt.is_empty() {
            0
        } else {
            let Ok(t) = self.model.ctx.tokenize(prompt, 4096) else { return };
            // whisper.cpp keeps the marker and at most the last 223 tokens of the prompt.
            if t.is_empty() { 0 } else { 1 + t.len().min(223) }
        };
        let task = if self.model.info.multilingual { 3 } else { 1 };
        let before = n_prompt + task + 1;
        let Some(&last) = tokens.last() else { return };
        let eot = self.model.ctx.token_eot();
        if first_row.len() <= eot as usize {
            return;
        }
        let Some(again) = self.step(last, before + tokens.len() - 1, eot) else { return };
        if (again - logprobs[tokens.len()]).abs() <= BRANCH_AGREE {
            self.heard =
                Some(Heard { pcm: pcm.to_vec(), prompt: prompt.to_string(), before, tokens, logprobs, first_row });
        }
    }

    /// Decodes `token` at position `n_past` of the cache (dropping what follows it there), as
    /// whisper_full decodes a text, one token a step: the log-probability of `next` after it
    /// among the text's tokens and the end (every token after the end is special, masked before
    /// a forced pass sees its logits: timestamps, the task's, languages). `None` when
    /// whisper.cpp fails.
    fn step(&mut self, token: c_int, n_past: usize, next: c_int) -> Option<f64> {
        self.state.decode(&[token], n_past, self.threads).ok()?;
        let logits = self.state.get_logits().ok()?;
        let eot = self.model.ctx.token_eot() as usize;
        Some(log_softmax_at(logits.get(..=eot)?, next as usize))
    }

    /// The log-probability of `tokens` and the end over the clip and prompt the state last heard,
    /// branching from the tokens shared with the text it last decoded; `None` when the state
    /// holds another clip or prompt (or none).
    fn branch(&mut self, pcm: &[f32], prompt: &str, tokens: &[c_int]) -> Option<f64> {
        let heard = self.heard.take()?;
        if heard.prompt != prompt || heard.pcm != pcm {
            return None;
        }
        let shared = heard.tokens.iter().zip(tokens).take_while(|(a, b)| a == b).count();
        // Decoding restarts at the last shared token, whose logits give the next one's; when the
        // texts share nothing, the first token's log-probability comes from the pass's first row
        // and decoding starts at that token.
        let (kept, mut logprobs) = if shared == 0 {
            (1, vec![log_softmax_at(&heard.first_row, *tokens.first()? as usize)])
        } else {
            let kept = shared.min(tokens.len());
            (kept, heard.logprobs[..kept].to_vec())
        };
        let from = kept - 1;
        // One token at a time, as whisper_full decodes a text: the same bits as a pass of its
        // own. (In one batch the rows differed from those by up to 0.2 nats over a sentence,
        // ggml's batched products summing in another order, for no time saved on the sample
        // report: 12.3 against 12.5 s.) Each step gives the next token's log-probability.
        let eot = self.model.ctx.token_eot();
        for (k, &t) in tokens[from..].iter().enumerate() {
            let next = tokens.get(kept + k).copied().unwrap_or(eot);
            logprobs.push(self.step(t, heard.before + from + k, next)?);
        }
        let logprob = logprobs.iter().sum();
        self.heard = Some(Heard { tokens: tokens.to_vec(), logprobs, ..heard });
        self.branches += 1;
        Some(logprob)
    }

    /// The tokens of each of `words` and all of them in a row, when a forced pass can say them
    /// over `pcm`: [`MIN_FORCED_MS`] to 30 s of audio, at most [`MAX_FORCED_TOKENS`] tokens, no
    /// word of more than 64 or of none.
    fn forced(&self, pcm: &[f32], words: &[&str]) -> Option<(Vec<Vec<c_int>>, Vec<c_int>)> {
        let len_ms = samples_to_ms(pcm.len() as u64, TARGET_RATE);
        if words.is_empty() || !(MIN_FORCED_MS..=WHISPER_WINDOW_MS).contains(&len_ms) {
            return None;
        }
        let per_word = self.tokens(words).ok()?;
        let forced: Vec<c_int> = per_word.iter().flatten().copied().collect();
        (forced.len() <= MAX_FORCED_TOKENS && per_word.iter().all(|t| !t.is_empty())).then_some((per_word, forced))
    }

    /// The tokens of `word` said after a space, as the decoder would say it within a text.
    pub fn word_tokens(&self, word: &str) -> Vec<c_int> {
        self.tokens(&[word]).ok().and_then(|mut t| t.pop()).unwrap_or_default()
    }

    /// When each of `words` starts in `pcm` (16 kHz mono, [`MIN_FORCED_MS`] to 30 s, starting
    /// `offset_ms` into the input), with the decoder made to say exactly those words. `None`
    /// when the words do not fit one pass (more than [`MAX_FORCED_TOKENS`] tokens, a word of
    /// more than 64) or the audio is too short or too long.
    pub fn starts(
        &mut self,
        pcm: &[f32],
        offset_ms: Ms,
        words: &[&str],
        cancel: &Cancel,
    ) -> Result<Option<Vec<Ms>>, TranscribeError> {
        let Some((per_word, forced)) = self.forced(pcm, words) else { return Ok(None) };
        let params = Self::params(&self.language, pcm.len(), None);
        self.heard = None;
        full(
            self.model,
            &mut self.state,
            params,
            self.threads,
            pcm,
            offset_ms,
            &crate::progress::Silent,
            cancel,
            Some(&forced),
            &[],
            true,
        )?;
        // The text tokens said, each with its DTW instant; they must be the text, in order.
        let eot = self.model.ctx.token_eot();
        let mut said = Vec::with_capacity(forced.len());
        for seg in self.state.as_iter() {
            for i in 0..seg.n_tokens() {
                let Some(tok) = seg.get_token(i) else { continue };
                let d = tok.token_data();
                if tok.token_id() < eot {
                    said.push((tok.token_id(), d.t_dtw));
                }
            }
        }
        if said.len() != forced.len() || said.iter().zip(&forced).any(|((id, _), f)| id != f) {
            return Ok(None);
        }
        let mut starts = Vec::with_capacity(words.len());
        let mut at = 0;
        for t in &per_word {
            starts.push(offset_ms + centis_to_ms(said[at].1));
            at += t.len();
        }
        Ok(Some(starts))
    }
}

/// Transcribes `pcm` (16 kHz mono) in one whisper.cpp pass with its own moving 30 s window:
/// the reference the windowed pipeline is checked against.
pub fn transcribe(
    model: &Model,
    pcm: &[f32],
    opts: &TranscribeOptions,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<Transcript, TranscribeError> {
    let mut r = Recognizer::new(model, opts)?;
    let total_ms = samples_to_ms(pcm.len() as u64, TARGET_RATE);
    progress.begin("transcribing", Some(total_ms));
    // One call over everything: whisper.cpp carries its own history from window to window.
    let segments = r.recognise(pcm, 0, Context::Full, progress, cancel);
    progress.end();
    Ok(Transcript { language: r.language(), segments: segments? })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ggml f32 tensor header over `data` with the given shape and strides (in floats).
    fn tensor(data: &mut [f32], ne: [i64; 3], strides: [usize; 3]) -> whisper_rs_sys::ggml_tensor {
        // SAFETY: ggml_tensor is a plain C struct; all zeros is a valid (empty) header.
        let mut t: whisper_rs_sys::ggml_tensor = unsafe { std::mem::zeroed() };
        t.type_ = whisper_rs_sys::ggml_type_GGML_TYPE_F32;
        t.ne = [ne[0], ne[1], ne[2], 1];
        t.nb = [strides[0] * 4, strides[1] * 4, strides[2] * 4, data.len() * 4];
        t.data = data.as_mut_ptr() as *mut c_void;
        t
    }

    #[test]
    fn the_shared_median_filter_gives_whisper_cpps_medians() {
        // whisper.cpp's filter, as it is written: for each element, the sorted window's middle.
        let (heads, tokens, frames, width) = (3i64, 5i64, 40i64, 7 as c_int);
        let mut seed = 7u64;
        let mut input: Vec<f32> = (0..heads * tokens * frames)
            .map(|_| {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((seed >> 40) % 1000) as f32 / 100.0 - 5.0
            })
            .collect();
        // Stored frames-first (as whisper.cpp's permuted view is): element (h, t, f) at
        // f * heads * tokens + t * heads + h.
        let at = |h: i64, t: i64, f: i64| (f * heads * tokens + t * heads + h) as usize;
        let mut expected = vec![0f32; input.len()];
        for h in 0..heads {
            for t in 0..tokens {
                for f in 0..frames {
                    let mut w: Vec<f32> = (-3..=3)
                        .map(|o: i64| {
                            let i = f + o;
                            let i = if i < 0 {
                                -i
                            } else if i >= frames {
                                2 * (frames - 1) - i
                            } else {
                                i
                            };
                            input[at(h, t, i)]
                        })
                        .collect();
                    w.sort_by(|a, b| a.partial_cmp(b).unwrap());
                    expected[(h * tokens * frames + t * frames + f) as usize] = w[3];
                }
            }
        }
        let a = tensor(&mut input, [heads, tokens, frames], [1, heads as usize, (heads * tokens) as usize]);
        let mut out = vec![f32::NAN; expected.len()];
        let mut d = tensor(&mut out, [heads, tokens, frames], [(tokens * frames) as usize, frames as usize, 1]);
        d.src[0] = &a as *const _ as *mut _;
        let mut user = width;
        let user = &mut user as *mut c_int as *mut c_void;
        // SAFETY: the headers point at live buffers of their shapes.
        unsafe {
            assert!(is_median_filter(&d, user));
            for ith in 0..3 {
                median_rows(&mut d, &a, ith, 3, user);
            }
        }
        assert_eq!(out, expected);
        // A width the frames cannot hold, an even one, or a second source: not the filter.
        let mut wide = frames as c_int;
        let mut even = 6 as c_int;
        // SAFETY: as above.
        unsafe {
            assert!(!is_median_filter(&d, &mut wide as *mut c_int as *mut c_void));
            assert!(!is_median_filter(&d, &mut even as *mut c_int as *mut c_void));
            d.src[1] = &a as *const _ as *mut _;
            assert!(!is_median_filter(&d, user));
        }
    }
}
