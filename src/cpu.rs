//! How many cores are free for recognition right now. ggml's worker threads busy-wait at every
//! barrier, so one more thread than there are free cores makes whisper.cpp many times slower
//! (a 26 s clip on 2 threads beside another 2-thread process: 74 s; on 1 thread: 2.2 s; AMD
//! EPYC Zen 4, 2 cores). Before each window the recogniser looks at what the rest of the
//! machine has been doing and uses no more threads than there are idle cores. It looks back over
//! the time since it last looked (the window just recognised), taking its own CPU time out of
//! the machine's, so the look costs nothing; only where too little time has passed does it watch
//! for a moment in which it computes nothing.
#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

/// How long the machine is watched when the last look was too recent to look back from.
const SAMPLE: Duration = Duration::from_millis(40);

/// Busy and total jiffies of all CPUs together, from /proc/stat (Linux).
fn cpu_times() -> Option<(u64, u64)> {
    parse_stat(&std::fs::read_to_string("/proc/stat").ok()?)
}

/// The first (all-CPU) line of /proc/stat's text: (busy, total) jiffies.
fn parse_stat(stat: &str) -> Option<(u64, u64)> {
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

/// CPU time of this process (all its threads), in the same clock ticks as /proc/stat.
fn own_times() -> Option<u64> {
    parse_own(&std::fs::read_to_string("/proc/self/stat").ok()?)
}

/// utime + stime from /proc/self/stat's text.
fn parse_own(stat: &str) -> Option<u64> {
    // Fields after the command name (which may hold spaces and parentheses): state is field 3,
    // utime and stime fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// Cores the rest of the machine keeps busy, watched over a short moment in which this process
/// computes nothing; `None` where the system does not tell (then nothing is assumed busy).
fn busy_elsewhere(cores: usize) -> Option<f64> {
    let (b0, t0) = cpu_times()?;
    std::thread::sleep(SAMPLE);
    let (b1, t1) = cpu_times()?;
    let total = t1.checked_sub(t0).filter(|&t| t > 0)?;
    Some((b1.saturating_sub(b0)) as f64 / total as f64 * cores as f64)
}

/// Shortest look back worth trusting: /proc/stat counts in ticks of 10 ms per core.
const LOOK_BACK: Duration = Duration::from_millis(300);

/// The machine as last seen: its busy and total ticks and this process's own, and when.
#[derive(Debug, Clone, Copy)]
pub struct Watch {
    seen: Option<(u64, u64, u64)>,
    at: Instant,
}

impl Watch {
    pub fn start() -> Watch {
        Watch { seen: cpu_times().zip(own_times()).map(|((b, t), o)| (b, t, o)), at: Instant::now() }
    }

    /// Threads to use now: at most `wanted`, at least one, and no more than the cores the rest
    /// of the machine left idle since the last look (or, if that was too recent, in a moment's
    /// watch). Starts the next look back.
    pub fn threads(&mut self, wanted: usize) -> usize {
        let cores = cores();
        if wanted <= 1 || cores <= 1 {
            return 1; // nothing to decide: no need to watch the machine
        }
        let now = Watch::start();
        let busy = match (self.seen, now.seen) {
            (Some(before), Some(after)) if now.at - self.at >= LOOK_BACK && after.1 > before.1 => {
                Some(busy_between(before, after, cores))
            }
            _ => busy_elsewhere(cores),
        };
        *self = now;
        fit(wanted, cores, busy)
    }
}

/// Cores that other processes kept busy between two looks, each (machine busy, machine total,
/// this process's own) ticks: the machine's busy time less this process's own.
fn busy_between(before: (u64, u64, u64), after: (u64, u64, u64), cores: usize) -> f64 {
    let (b0, t0, o0) = before;
    let (b1, t1, o1) = after;
    let others = b1.saturating_sub(b0).saturating_sub(o1.saturating_sub(o0));
    others as f64 / t1.saturating_sub(t0).max(1) as f64 * cores as f64
}

/// Cores this process may run on, asked once (the standard library reads cgroup files for it).
fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
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
        assert!(own_times().is_some(), "/proc/self/stat is readable here");
    }

    /// Looking back, this process's own work is not load; another process's is. Decided on
    /// recorded counters (a 2-core machine over 600 ms: 120 total ticks), so the test does not
    /// depend on how busy the machine running it is.
    #[test]
    fn the_look_back_tells_own_work_from_others() {
        let stat = |busy: u64, idle: u64| format!("cpu  {busy} 0 0 {idle} 0 0 0 0 0 0\ncpu0 1 2 3 4\n");
        let own = |ticks: u64| {
            format!("4242 (a (strange) name) R 1 2 3 4 5 6 7 8 9 10 {} {} 0 0", ticks / 2, ticks - ticks / 2)
        };
        let look = |busy, idle, mine| {
            let (b, t) = parse_stat(&stat(busy, idle)).unwrap();
            (b, t, parse_own(&own(mine)).unwrap())
        };
        let before = look(1000, 3000, 200);
        // This process spun both cores: all the busy ticks are its own.
        let spinning = look(1120, 3000, 320);
        assert!(busy_between(before, spinning, 2) < 0.1);
        assert_eq!(fit(2, 2, Some(busy_between(before, spinning, 2))), 2);
        // Two other processes spun both cores while this one waited.
        let hogs = look(1120, 3000, 200);
        assert!((busy_between(before, hogs, 2) - 2.0).abs() < 0.1);
        assert_eq!(fit(2, 2, Some(busy_between(before, hogs, 2))), 1);
        // One core busy elsewhere, this process on the other.
        let half = look(1120, 3000, 260);
        assert_eq!(fit(2, 2, Some(busy_between(before, half, 2))), 1);
        assert_eq!(parse_stat("intr 1 2\n"), None);
    }
}
