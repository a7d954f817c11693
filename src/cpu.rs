//! How many cores are free for recognition right now. ggml's worker threads busy-wait at every
//! barrier, so one more thread than there are free cores makes whisper.cpp many times slower
//! (a 26 s clip on 2 threads beside another 2-thread process: 74 s; on 1 thread: 2.2 s; AMD
//! EPYC Zen 4, 2 cores). Before each window the recogniser looks at what the rest of the
//! machine is doing and uses no more threads than there are idle cores.
#![forbid(unsafe_code)]

use std::time::Duration;

/// How long the machine is watched before a window.
const SAMPLE: Duration = Duration::from_millis(40);

/// Busy and total jiffies of all CPUs together, from /proc/stat (Linux).
fn cpu_times() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<u64> = line.split_whitespace().filter_map(|x| x.parse().ok()).collect();
    if v.len() < 5 {
        return None;
    }
    // user nice system idle iowait irq softirq steal (guest time is inside user already)
    let idle = v[3] + v.get(4).copied().unwrap_or(0);
    let total: u64 = v.iter().take(8).sum();
    Some((total - idle, total))
}

/// Cores the rest of the machine keeps busy, watched over a short moment in which this process
/// computes nothing; `None` where the system does not tell (then nothing is assumed busy).
pub fn busy_elsewhere(cores: usize) -> Option<f64> {
    let (b0, t0) = cpu_times()?;
    std::thread::sleep(SAMPLE);
    let (b1, t1) = cpu_times()?;
    let total = t1.checked_sub(t0).filter(|&t| t > 0)?;
    Some((b1.saturating_sub(b0)) as f64 / total as f64 * cores as f64)
}

/// Threads to use now: at most `wanted`, at least one, and no more than the idle cores.
pub fn threads_for_now(wanted: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if wanted <= 1 || cores <= 1 {
        return 1; // nothing to decide: no need to watch the machine
    }
    fit(wanted, cores, busy_elsewhere(cores))
}

/// The rule: `wanted` capped by the cores left idle by `busy` (rounded: a core more than half
/// busy is busy).
pub fn fit(wanted: usize, cores: usize, busy: Option<f64>) -> usize {
    let idle = busy.map_or(cores, |b| cores.saturating_sub(b.round() as usize));
    wanted.min(idle).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_more_threads_than_idle_cores() {
        assert_eq!(fit(2, 2, Some(0.1)), 2);
        assert_eq!(fit(2, 2, Some(1.0)), 1);
        assert_eq!(fit(2, 2, Some(2.0)), 1);
        assert_eq!(fit(8, 2, Some(0.0)), 2);
        assert_eq!(fit(2, 2, None), 2);
        assert_eq!(fit(1, 16, Some(3.0)), 1);
        assert_eq!(fit(16, 16, Some(3.4)), 13);
        assert!(cpu_times().is_some(), "/proc/stat is readable here");
    }
}
