//! Special functions the customer-base models need beyond statrs: the Gauss hypergeometric
//! function 2F1, which BG/NBD's conditional expectation takes.

/// 2F1(a, b; c; z) for 0 <= z < 1 by its power series, summed until a term no longer changes
/// the sum. The models call it with z = t / (alpha + T + t), well inside the unit disc.
pub fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> f64 {
    debug_assert!((0.0..1.0).contains(&z), "z = {z}");
    let mut term = 1.0;
    let mut sum = 1.0;
    for n in 0..100_000 {
        let n = n as f64;
        term *= (a + n) * (b + n) / ((c + n) * (n + 1.0)) * z;
        sum += term;
        if term.abs() <= 1e-15 * sum.abs() {
            break;
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::hyp2f1;

    #[test]
    fn closed_forms() {
        // 2F1(1, 1; 2; z) = -ln(1 - z) / z
        for z in [0.1, 0.5, 0.9, 0.99] {
            let want = -(1.0f64 - z).ln() / z;
            assert!(
                (hyp2f1(1.0, 1.0, 2.0, z) - want).abs() < 1e-10 * want,
                "z = {z}"
            );
        }
        // 2F1(a, b; b; z) = (1 - z)^-a
        let want = (1.0f64 - 0.3).powf(-2.5);
        assert!((hyp2f1(2.5, 1.7, 1.7, 0.3) - want).abs() < 1e-12 * want);
        assert_eq!(hyp2f1(3.0, 4.0, 5.0, 0.0), 1.0);
    }
}
