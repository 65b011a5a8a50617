//! "Did you mean ...?": edit distance between names, and lists of names for help text.

/// Names longer than this get no suggestion (keeps the work bounded on hostile input).
const MAX_LEN: usize = 64;

/// How many names a help text lists before it says "and N more".
const MAX_LISTED: usize = 12;

/// Levenshtein distance between two strings, in characters.
pub(crate) fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Strips digits, so that `ns1` and `ns3` compare equal: they are siblings in a
/// numbered series, not a typo of each other.
fn without_digits(s: &str) -> String {
    s.chars().filter(|c| !c.is_ascii_digit()).collect()
}

/// The candidate closest to `name`, if it is close enough to be a likely typo.
pub(crate) fn closest<'c>(
    name: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    if name.is_empty() || name.len() > MAX_LEN {
        return None;
    }
    let limit = (name.chars().count() / 3).max(1);
    let lower = name.to_ascii_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        if c == name || c.len() > MAX_LEN {
            continue;
        }
        let d = distance(&lower, &c.to_ascii_lowercase());
        let numbered_sibling = without_digits(name) == without_digits(c) && d > 0;
        if d <= limit && !numbered_sibling && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// `a, b, c` (at most a dozen, then `and N more`).
pub(crate) fn list<'c>(names: impl IntoIterator<Item = &'c str>) -> String {
    let names: Vec<&str> = names.into_iter().collect();
    let mut out = names
        .iter()
        .take(MAX_LISTED)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > MAX_LISTED {
        out.push_str(&format!(" and {} more", names.len() - MAX_LISTED));
    }
    out
}

/// `did you mean `x`? ` when a close candidate exists, else the empty string.
pub(crate) fn did_you_mean<'c>(
    name: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> String {
    match closest(name, candidates) {
        Some(c) => format!("did you mean `{c}`? "),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(distance("", ""), 0);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("forwardng", "forwarding"), 1);
    }

    #[test]
    fn suggestions() {
        assert_eq!(
            closest("forwardng", ["forwarding", "loopback"]),
            Some("forwarding")
        );
        assert_eq!(closest("ns3", ["host", "ns1", "ns2"]), None);
        assert_eq!(closest("nss1", ["host", "ns1", "ns2"]), Some("ns1"));
        assert_eq!(closest("xyz", ["forwarding"]), None);
    }

    #[test]
    fn lists() {
        assert_eq!(list(["a", "b"]), "a, b");
        let many: Vec<String> = (0..14).map(|i| i.to_string()).collect();
        assert!(list(many.iter().map(String::as_str)).ends_with("11 and 2 more"));
    }
}
