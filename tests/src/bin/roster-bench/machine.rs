//! What the machine and each process used, read from `/proc`: CPU seconds,
//! peak RSS, page faults, and whether the machine is quiet enough to measure.

use crate::Args;
use std::time::{Duration, Instant};

/// Waits (up to `--wait-idle-secs`) for the machine to be under 10% busy over a
/// second, and says how busy it was.
pub(crate) async fn quiet(args: &Args) {
    let deadline = Instant::now() + Duration::from_secs(args.wait_idle_secs);
    loop {
        let before = cpu_jiffies();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let busy = match (before, cpu_jiffies()) {
            (Some((b0, t0)), Some((b1, t1))) if t1 > t0 => (b1 - b0) as f64 / (t1 - t0) as f64,
            _ => return,
        };
        if busy < 0.10 {
            return;
        }
        if Instant::now() >= deadline {
            println!(
                "  (the machine was {:.0}% busy before this measurement)",
                busy * 100.0
            );
            return;
        }
    }
}

/// The machine's CPU use since a moment, less this process's: what other
/// processes took from the hash floor.
pub(crate) struct Load {
    pub(crate) jiffies: Option<(u64, u64)>,
    own: f64,
    pub(crate) faults: f64,
    started: Instant,
}

impl Load {
    pub(crate) fn now() -> Self {
        Load {
            jiffies: cpu_jiffies(),
            own: own_cpu(),
            faults: minor_faults(std::process::id()),
            started: Instant::now(),
        }
    }

    /// CPU seconds this process used since.
    pub(crate) fn own_used(&self) -> f64 {
        own_cpu() - self.own
    }

    /// Says how much CPU others used, when it is over 5% of one core.
    pub(crate) fn report(&self) {
        let (Some((b0, _)), Some((b1, _))) = (self.jiffies, cpu_jiffies()) else {
            return;
        };
        let others = (b1 - b0) as f64 / 100.0 - (own_cpu() - self.own);
        if others > 0.05 * self.started.elapsed().as_secs_f64() {
            println!("  (other processes used {others:.1} CPU s meanwhile)");
        }
    }
}

pub(crate) fn own_cpu() -> f64 {
    cpu_seconds(std::process::id())
}

/// `VmHWM` (peak resident set) of a process, in MB.
pub(crate) fn peak_rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// User + system CPU seconds of a process (fields 14 and 15 of `/proc/PID/stat`,
/// in clock ticks of 1/100 s, Linux's USER_HZ); 0 if it is gone.
pub(crate) fn cpu_seconds(pid: u32) -> f64 {
    stat_field(pid, 14)
        .zip(stat_field(pid, 15))
        .map_or(0.0, |(user, system)| (user + system) / 100.0)
}

/// CPU seconds of a process's live threads since they started, summed by name
/// (digits dropped: `roster-hash-0` and `roster-hash-1` are `roster-hash-`).
pub(crate) fn thread_cpu(pid: u32) -> Vec<(String, f64)> {
    let mut by_name: Vec<(String, f64)> = Vec::new();
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten();
    for task in tasks.filter_map(|t| t.file_name().to_str()?.parse::<u32>().ok()) {
        let path = format!("/proc/{pid}/task/{task}");
        let Ok(comm) = std::fs::read_to_string(format!("{path}/comm")) else {
            continue;
        };
        let name: String = comm
            .trim()
            .trim_end_matches(|c: char| c.is_ascii_digit())
            .to_owned();
        let Ok(stat) = std::fs::read_to_string(format!("{path}/stat")) else {
            continue;
        };
        let Some(cpu) = stat_fields(&stat, 14)
            .zip(stat_fields(&stat, 15))
            .map(|(u, s)| (u + s) / 100.0)
        else {
            continue;
        };
        match by_name.iter_mut().find(|(n, _)| *n == name) {
            Some((_, total)) => *total += cpu,
            None => by_name.push((name, cpu)),
        }
    }
    by_name.sort_by(|a, b| b.1.total_cmp(&a.1));
    by_name
}

/// Minor page faults of a process so far (field 10 of `/proc/PID/stat`): memory
/// it was given afresh, as when a large allocation is mapped for every use.
pub(crate) fn minor_faults(pid: u32) -> f64 {
    stat_field(pid, 10).unwrap_or(0.0)
}

/// Field `n` (counted from 1, as in proc(5)) of `/proc/PID/stat`.
pub(crate) fn stat_field(pid: u32, n: usize) -> Option<f64> {
    stat_fields(
        &std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?,
        n,
    )
}

/// Field `n` (counted from 1) of a `stat` line of proc(5).
pub(crate) fn stat_fields(stat: &str, n: usize) -> Option<f64> {
    // The command name (field 2) may hold spaces: count from after its ')'.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    rest.split_whitespace().nth(n.checked_sub(3)?)?.parse().ok()
}

/// (busy, total) jiffies over all cores, from the first line of `/proc/stat`.
pub(crate) fn cpu_jiffies() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let values: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: u64 = values.iter().take(8).sum();
    let idle = values.get(3)? + values.get(4)?;
    Some((total - idle, total))
}
