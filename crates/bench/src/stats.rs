//! The few statistics the report needs.

/// The `q` quantile (0..=1) of sorted values, nearest rank; 0 for no values.
pub fn quantile_sorted(sorted: &[u64], q: f64) -> u64 {
    let rank = (q.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
    let index = rank.clamp(1, sorted.len().max(1)) - 1;
    sorted.get(index).copied().unwrap_or(0)
}

/// Minimum, median and maximum of `values`; `NaN`s for none.
#[derive(Clone, Copy, Debug)]
pub struct Spread {
    /// The smallest value.
    pub min: f64,
    /// The median (the mean of the two middle values for an even count).
    pub median: f64,
    /// The largest value.
    pub max: f64,
}

impl Spread {
    /// The spread of `values`, leaving out NaNs.
    pub fn of(values: &[f64]) -> Spread {
        let mut sorted: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let at = |i: usize| sorted.get(i).copied().unwrap_or(f64::NAN);
        // For an odd count both middle indices are the same value, and (x + x) / 2 is x.
        let median = (at(n.saturating_sub(1) / 2) + at(n / 2)) / 2.0;
        Spread {
            min: at(0),
            median,
            max: at(n.wrapping_sub(1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_use_the_nearest_rank() {
        let values: Vec<u64> = (1..=100).collect();
        assert_eq!(quantile_sorted(&values, 0.5), 50);
        assert_eq!(quantile_sorted(&values, 0.99), 99);
        assert_eq!(quantile_sorted(&values, 1.0), 100);
        assert_eq!(quantile_sorted(&values, 0.0), 1);
        assert_eq!(quantile_sorted(&[], 0.5), 0);
    }

    #[test]
    fn spread_takes_the_middle_value_and_leaves_out_nans() {
        let spread = Spread::of(&[4.0, 1.0, 3.0, 2.0]);
        assert_eq!((spread.min, spread.median, spread.max), (1.0, 2.5, 4.0));
        assert!(Spread::of(&[]).median.is_nan());
        let odd = Spread::of(&[3.0, f64::NAN, 1.0, 2.0]);
        assert_eq!((odd.min, odd.median, odd.max), (1.0, 2.0, 3.0));
    }
}
