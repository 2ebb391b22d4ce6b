//! Measures the CPU time of one Argon2id hash and one verify with the production parameters
//! (`gatehouse::crypto`), on this thread, for `infra/bench/memory_sizing.py` (which derives
//! latency and cost per Lambda memory size from it). Prints one JSON line:
//! `{"hash_cpu_ms": [..], "verify_cpu_ms": [..]}`.
//!
//!     cargo run -p gatehouse --example argon2_cost -- 15
//!
//! (argon2 and blake2 are built at opt-level 3 in debug builds too: Cargo.toml.)

use std::time::Duration;

/// This thread's CPU time (user + system), from the kernel's per-thread clock.
fn thread_cpu() -> Duration {
    // /proc/thread-self/schedstat: on-CPU time in nanoseconds, first field (no rounding to ticks).
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").expect("a Linux /proc");
    Duration::from_nanos(stat.split_whitespace().next().and_then(|n| n.parse().ok()).expect("schedstat's first field"))
}

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(15);
    let password = "correct horse battery staple";
    let phc = gatehouse::crypto::hash_password_blocking(password).expect("hashing works"); // warm-up
    let (mut hash, mut verify) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let t = thread_cpu();
        gatehouse::crypto::hash_password_blocking(password).expect("hashing works");
        hash.push(thread_cpu().saturating_sub(t).as_secs_f64() * 1000.0);
        let t = thread_cpu();
        assert!(verify_blocking(password, &phc), "the password verifies");
        verify.push(thread_cpu().saturating_sub(t).as_secs_f64() * 1000.0);
    }
    println!("{}", serde_json::json!({ "hash_cpu_ms": hash, "verify_cpu_ms": verify }));
}

/// What `gatehouse::crypto::verify_password` runs on the blocking pool, on this thread.
fn verify_blocking(password: &str, phc: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    use gatehouse::crypto::{ARGON2_ITERATIONS, ARGON2_MEMORY_KIB, ARGON2_PARALLELISM};
    let params = argon2::Params::new(ARGON2_MEMORY_KIB, ARGON2_ITERATIONS, ARGON2_PARALLELISM, None).expect("valid parameters");
    let argon2 = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    argon2.verify_password(password.as_bytes(), &PasswordHash::new(phc).expect("a PHC string")).is_ok()
}
