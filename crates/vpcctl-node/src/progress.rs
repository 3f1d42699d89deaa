//! How often progress reaches JS. netkit reports every completed op; each
//! report passed on is a call on the JS thread, so the binding lets one
//! through when at least 1% of the plan, or 50 ms, has passed since the
//! last one, and always the final one (`done == total`).

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

pub struct Throttle {
    last: Mutex<(usize, Instant)>,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle {
            last: Mutex::new((0, Instant::now())),
        }
    }
}

impl Throttle {
    pub const INTERVAL: Duration = Duration::from_millis(50);

    /// Whether `(done, total)` should be reported.
    pub fn pass(&self, done: usize, total: usize) -> bool {
        let mut last = self.last.lock().unwrap();
        let step = (total / 100).max(1);
        if done >= total || done >= last.0 + step || last.1.elapsed() >= Self::INTERVAL {
            *last = (done, Instant::now());
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_one_percent_steps_and_the_end() {
        let t = Throttle::default();
        let passed: Vec<usize> = (1..=1000).filter(|&d| t.pass(d, 1000)).collect();
        // Without time passing: every 10th op (1% of 1000), the last included.
        assert!(passed.len() < 200, "{}", passed.len());
        assert!(passed.len() >= 100, "{}", passed.len());
        assert_eq!(passed.last(), Some(&1000));
        let t = Throttle::default();
        assert!(
            t.pass(1, 3) && t.pass(2, 3) && t.pass(3, 3),
            "small plans: every op"
        );
        let t = Throttle::default();
        assert!(!t.pass(1, 1000));
        std::thread::sleep(Throttle::INTERVAL);
        assert!(t.pass(2, 1000), "after 50 ms");
    }
}
