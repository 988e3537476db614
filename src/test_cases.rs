//! How many cases a property test runs: a quick default for `cargo test --workspace`, the full
//! count where CI asks for it.
//!
//! Each property test names two case counts: the full one, which CI runs, and a quick one for
//! the default run, so that the newcomer's `cargo test --workspace` stays a few minutes on two
//! cores (an unoptimised case of the level-map properties costs a fifth of a second).
//! `.ci/run` sets `SNAPSTATE_TEST_FULL=1` to run the full counts, and `PROPTEST_CASES`
//! (proptest's own variable) overrides every property test when set, for a long campaign.

/// The case count for a property test: `full` under `SNAPSTATE_TEST_FULL`, `quick` otherwise,
/// `PROPTEST_CASES` whenever it is set.
pub(crate) fn cases(full: u32, quick: u32) -> u32 {
    if let Some(cases) = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|value| value.parse::<u32>().ok())
        .filter(|&value| value > 0)
    {
        return cases;
    }
    if std::env::var_os("SNAPSTATE_TEST_FULL").is_some_and(|value| !value.is_empty()) {
        full
    } else {
        quick.min(full)
    }
}
