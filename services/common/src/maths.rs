//! `pow` and `log2`, the only functions of the C maths library (libm) that the roles' dependencies
//! call (through `f64::powf` and `f64::log2`), defined here from the `libm` crate: a Rust port of
//! musl's, the one Rust's own compiler builtins use. With both answered inside the binary, the
//! linker leaves libm.so.6 out of what the binary needs, and each FROM-scratch image holds 0.9 MB
//! less. A binary that loads libm anyway (libstdc++ needs it, for libzmq) gets these two instead
//! of glibc's, which agree with them to within an ulp.

/// `x` raised to the power `y`, as C's `pow`.
#[unsafe(no_mangle)]
pub extern "C" fn pow(x: f64, y: f64) -> f64 {
    libm::pow(x, y)
}

/// The base-2 logarithm of `x`, as C's `log2`.
#[unsafe(no_mangle)]
pub extern "C" fn log2(x: f64) -> f64 {
    libm::log2(x)
}

#[cfg(test)]
mod tests {
    #[test]
    fn they_answer_as_the_c_functions_do() {
        assert_eq!(super::pow(2.0, 10.0), 1024.0);
        assert!((super::pow(10.0, -2.0) - 0.01).abs() < 1e-17);
        assert!(super::pow(-1.0, 0.5).is_nan());
        assert_eq!(super::log2(1024.0), 10.0);
        assert_eq!(super::log2(0.0), f64::NEG_INFINITY);
        assert!((super::pow(2.0, 0.5) - std::f64::consts::SQRT_2).abs() < 1e-15);
    }
}
