//! Percentiles and the summary every timing figure reports.

use serde_json::{Value, json};

/// The `p`-th percentile (0..=100) of `sorted` (ascending), by the nearest-rank method:
/// the smallest value with at least `p`% of the samples at or below it. `None` when empty.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let p = p.clamp(0.0, 100.0);
    // Nearest rank: ceil(p/100 * n), at least 1.
    let n = sorted.len();
    let rank = ((p / 100.0) * n as f64).ceil() as usize;
    let index = rank.clamp(1, n) - 1;
    sorted.get(index).copied()
}

/// Count, median, p95, p99, min and max of some samples (any unit).
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Number of samples.
    pub count: usize,
    /// 50th percentile.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Smallest sample.
    pub min: f64,
    /// Largest sample.
    pub max: f64,
}

impl Summary {
    /// Summarises `samples` (sorted here); `None` when there are none.
    pub fn of(mut samples: Vec<f64>) -> Option<Self> {
        samples.retain(|v| v.is_finite());
        samples.sort_by(f64::total_cmp);
        Some(Self {
            count: samples.len(),
            p50: percentile(&samples, 50.0)?,
            p95: percentile(&samples, 95.0)?,
            p99: percentile(&samples, 99.0)?,
            min: *samples.first()?,
            max: *samples.last()?,
        })
    }

    /// The summary as JSON, each value suffixed with `unit` (e.g. `p50_ms`).
    /// Adds the summary's figures (`count`, `p50_<unit>`...) to the JSON object `out`.
    pub fn add_to(&self, out: &mut Value, unit: &str) {
        if let (Some(o), Value::Object(s)) = (out.as_object_mut(), self.to_json(unit)) {
            o.extend(s);
        }
    }

    pub fn to_json(&self, unit: &str) -> Value {
        json!({
            "count": self.count,
            format!("p50_{unit}"): self.p50,
            format!("p95_{unit}"): self.p95,
            format!("p99_{unit}"): self.p99,
            format!("min_{unit}"): self.min,
            format!("max_{unit}"): self.max,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), Some(50.0));
        assert_eq!(percentile(&v, 95.0), Some(95.0));
        assert_eq!(percentile(&v, 100.0), Some(100.0));
        assert_eq!(percentile(&v, 0.0), Some(1.0));
        assert_eq!(percentile(&[7.0], 95.0), Some(7.0));
        assert_eq!(percentile(&[], 50.0), None);
        // Four samples: the median is the 2nd, p95 the 4th.
        let w = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile(&w, 50.0), Some(2.0));
        assert_eq!(percentile(&w, 95.0), Some(4.0));
    }

    #[test]
    fn summary_sorts_and_drops_non_finite() {
        let s = Summary::of(vec![3.0, f64::NAN, 1.0, 2.0]).expect("samples");
        assert_eq!(s.count, 3);
        assert_eq!((s.min, s.p50, s.max), (1.0, 2.0, 3.0));
        assert!(Summary::of(vec![]).is_none());
        let j = s.to_json("ms");
        assert_eq!(j["p50_ms"], 2.0);
    }
}
