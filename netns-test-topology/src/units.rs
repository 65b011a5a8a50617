//! Durations and sizes as people write them in attributes and environment variables
//! (`timeout = "30s"`, `NETNS_TEST_CAPTURE_LIMIT=64MiB`): one set of rules for the
//! macro at compile time and the runtime.

/// `250ms`, `30s`, `2m`/`2min`, `1h` (a whole number and a unit), or `none` or `0`
/// (no limit, returned as 0), in milliseconds.
///
/// ```
/// use netns_test_topology::units::parse_duration_ms;
/// assert_eq!(parse_duration_ms("30s"), Some(30_000));
/// assert_eq!(parse_duration_ms("none"), Some(0));
/// assert_eq!(parse_duration_ms("10"), None); // a unit is required
/// ```
pub fn parse_duration_ms(s: &str) -> Option<u64> {
    let s = s.trim();
    if s == "none" || s == "0" {
        return Some(0);
    }
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let scale = match unit.trim() {
        "ms" => 1,
        "s" => 1000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        _ => return None,
    };
    n.checked_mul(scale).filter(|ms| *ms > 0)
}

/// `32MiB`, `512KiB`, `1GiB` (also `K`, `M`, `G`; binary), or a plain byte count.
///
/// ```
/// use netns_test_topology::units::parse_size;
/// assert_eq!(parse_size("32MiB"), Some(32 << 20));
/// assert_eq!(parse_size("4096"), Some(4096));
/// assert_eq!(parse_size("lots"), None);
/// ```
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let scale: u64 = match unit.trim() {
        "" | "B" => 1,
        "K" | "KiB" => 1 << 10,
        "M" | "MiB" => 1 << 20,
        "G" | "GiB" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(scale)
}
