//! The progress line of `convert`: bytes done of the total (known up front from the
//! exact sizes), rate and ETA, redrawn in place on a terminal.

use std::io::{self, IsTerminal};
use std::time::{Duration, Instant};

/// A carriage-return progress line on stderr, when stderr is a terminal.
pub struct Progress {
    enabled: bool,
    total: u64,
    done: u64,
    started: Instant,
    shown: Instant,
}

impl Progress {
    pub fn new(total: u64) -> Progress {
        let now = Instant::now();
        Progress {
            enabled: io::stderr().is_terminal(),
            total,
            done: 0,
            started: now,
            shown: now,
        }
    }

    pub fn add(&mut self, n: u64) {
        self.done += n;
        if self.enabled && self.shown.elapsed() >= Duration::from_millis(200) {
            self.shown = Instant::now();
            eprint!("\r{}\x1b[K", self.line());
        }
    }

    fn line(&self) -> String {
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let rate = self.done as f64 / secs;
        let eta = if rate > 0.0 {
            let left = self.total.saturating_sub(self.done) as f64 / rate;
            format!("ETA {}:{:02}", left as u64 / 60, left as u64 % 60)
        } else {
            "ETA ?".into()
        };
        let pct = if self.total == 0 {
            100.0
        } else {
            self.done as f64 * 100.0 / self.total as f64
        };
        format!(
            "converting {} / {} ({pct:.0}%)  {}/s  {eta}",
            human(self.done as f64),
            human(self.total as f64),
            human(rate)
        )
    }

    pub fn finish(&self, files: usize) {
        if self.enabled {
            let secs = self.started.elapsed().as_secs_f64();
            eprintln!(
                "\rwrote {files} files, {} in {secs:.1} s ({}/s)\x1b[K",
                human(self.done as f64),
                human(self.done as f64 / secs.max(1e-3))
            );
        }
    }
}

fn human(bytes: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{v:.0} {}", UNITS[u])
    } else {
        format!("{v:.2} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::human;

    #[test]
    fn human_sizes() {
        assert_eq!(human(512.0), "512 B");
        assert_eq!(human(1536.0), "1.50 KiB");
        assert_eq!(human(4.0 * 1024.0 * 1024.0 * 1024.0), "4.00 GiB");
    }
}
