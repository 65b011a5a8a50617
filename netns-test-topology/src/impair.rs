//! Reading link impairments: `netem = { delay = "50ms", jitter = "5ms", loss = "1%",
//! duplicate = "1%", reorder = "25%", corrupt = "0.1%", limit = 1000 }`, `rate =
//! "10mbit"` and `burst = "32kb"` on an interface, and the value syntaxes they use
//! (durations, percentages, rates, sizes) as `tc` writes them.

use std::time::Duration;

use crate::elements::{Impairment, Ratio};
use crate::reader::{Ctx, Field, Kind, Val, get};

/// The keys of a `netem` table.
pub(crate) const NETEM_KEYS: &[&str] = &[
    "delay",
    "jitter",
    "loss",
    "duplicate",
    "reorder",
    "corrupt",
    "limit",
];

/// Longest delay or jitter accepted.
pub(crate) const MAX_DELAY: Duration = Duration::from_secs(60);

/// The rates accepted, in bits per second: 8bit to 1000gbit.
pub(crate) const RATES: std::ops::RangeInclusive<u64> = 8..=1_000_000_000_000;

/// Reads `netem`, `rate` and `burst` from an interface table into `imp`.
pub(crate) fn read_impairment(ctx: &mut Ctx<'_>, fields: &[Field<'_>], imp: &mut Impairment) {
    if let Some(v) = get(fields, "netem") {
        read_netem(ctx, v, imp);
    }
    if let Some(v) = get(fields, "rate") {
        imp.rate = rate(ctx, v);
    }
    if let Some(v) = get(fields, "burst") {
        imp.burst = size(ctx, v);
        if imp.rate.is_none() && get(fields, "rate").is_none() {
            ctx.err(
                &v.span,
                "`burst` without `rate`",
                "`burst` is the bucket size of a rate limit: add `rate = \"10mbit\"`, or remove `burst`",
            );
        }
    }
}

fn read_netem(ctx: &mut Ctx<'_>, v: &Val<'_>, imp: &mut Impairment) {
    let expected = "a table like { delay = \"50ms\", loss = \"1%\" }";
    let Some(fields) = ctx.table_of(v, expected) else {
        return;
    };
    ctx.check_keys(fields, NETEM_KEYS, "`netem`");
    if let Some(v) = get(fields, "delay") {
        imp.delay = duration(ctx, v);
    }
    if let Some(j) = get(fields, "jitter") {
        imp.jitter = duration(ctx, j);
    }
    for (key, slot) in [
        ("loss", &mut imp.loss),
        ("duplicate", &mut imp.duplicate),
        ("reorder", &mut imp.reorder),
        ("corrupt", &mut imp.corrupt),
    ] {
        if let Some(v) = get(fields, key) {
            *slot = percent(ctx, v, key);
        }
    }
    if let Some(v) = get(fields, "limit") {
        imp.limit = ctx
            .int_in(v, "limit", 1, i64::from(u32::MAX))
            .and_then(|l| u32::try_from(l).ok());
    }
    let delay_set = get(fields, "delay").is_some();
    for key in ["jitter", "reorder"] {
        if let (Some(v), false) = (get(fields, key), delay_set) {
            let msg = format!("`{key}` without `delay`");
            let help = format!(
                "netem's {key} works on delayed packets: add `delay = \"10ms\"` to this `netem`"
            );
            ctx.err(&v.span, msg, help);
        }
    }
    if let (Some(d), Some(j)) = (imp.delay, imp.jitter) {
        if j > d {
            if let Some(v) = get(fields, "jitter") {
                let msg = format!(
                    "jitter {} is larger than the delay {}",
                    crate::format_duration(j),
                    crate::format_duration(d)
                );
                ctx.err(
                    &v.span,
                    msg,
                    "a packet cannot leave before it was sent: keep the jitter at most the delay",
                );
            }
        }
    }
}

/// `"50ms"`, `"1.5s"`, `"200us"`.
pub(crate) fn duration(ctx: &mut Ctx<'_>, v: &Val<'_>) -> Option<Duration> {
    let help = "write a number and a unit (us, ms or s), e.g. \"50ms\"";
    let Kind::Str(s) = v.kind else {
        ctx.type_error(v, "a duration string like \"50ms\"");
        return None;
    };
    let Some((num, unit)) = split_unit(s) else {
        ctx.err(
            &v.span,
            format!("invalid duration `{}`", s.escape_debug()),
            help,
        );
        return None;
    };
    let scale = match unit {
        "us" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        _ => {
            let msg = format!("unknown unit `{}` in duration `{s}`", unit.escape_debug());
            ctx.err(&v.span, msg, help);
            return None;
        }
    };
    let d = Duration::try_from_secs_f64(num * scale).ok();
    match d {
        Some(d) if d <= MAX_DELAY => Some(d),
        _ => {
            ctx.err(
                &v.span,
                format!("duration `{s}` is out of range"),
                "keep it between 0 and 60s",
            );
            None
        }
    }
}

/// `"1%"`, `"0.5%"`: a probability.
pub(crate) fn percent(ctx: &mut Ctx<'_>, v: &Val<'_>, what: &str) -> Option<Ratio> {
    let help = format!("write a percentage, e.g. {what} = \"1%\" or \"0.5%\"");
    let Kind::Str(s) = v.kind else {
        ctx.err(
            &v.span,
            format!(
                "expected a percentage string like \"1%\", found {}",
                v.found()
            ),
            help,
        );
        return None;
    };
    let parsed = s
        .trim()
        .strip_suffix('%')
        .and_then(|n| n.trim().parse::<f64>().ok())
        .filter(|n| n.is_finite());
    match parsed {
        Some(p) if (0.0..=100.0).contains(&p) => {
            // In range, so the product fits a u32.
            Some(Ratio((p * 1e4).round() as u32))
        }
        Some(_) => {
            ctx.err(
                &v.span,
                format!("{what} `{s}` is out of range"),
                "a percentage is between 0% and 100%",
            );
            None
        }
        None => {
            ctx.err(
                &v.span,
                format!("invalid percentage `{}`", s.escape_debug()),
                help,
            );
            None
        }
    }
}

/// `"10mbit"`, `"500kbit"`, `"1gbit"`, `"100bit"`, `"1mbps"` (bytes): bits per second.
pub(crate) fn rate(ctx: &mut Ctx<'_>, v: &Val<'_>) -> Option<u64> {
    let help = "write a number and a unit as tc does: bit, kbit, mbit, gbit (bits per second) or bps, kbps, mbps (bytes per second), e.g. \"10mbit\"";
    let Kind::Str(s) = v.kind else {
        ctx.err(
            &v.span,
            format!(
                "expected a rate string like \"10mbit\", found {}",
                v.found()
            ),
            help,
        );
        return None;
    };
    let Some((num, unit)) = split_unit(s) else {
        ctx.err(
            &v.span,
            format!("invalid rate `{}`", s.escape_debug()),
            help,
        );
        return None;
    };
    let scale = match unit.to_ascii_lowercase().as_str() {
        "bit" => 1.0,
        "kbit" => 1e3,
        "mbit" => 1e6,
        "gbit" => 1e9,
        "bps" => 8.0,
        "kbps" => 8e3,
        "mbps" => 8e6,
        "gbps" => 8e9,
        _ => {
            let hint = crate::suggest::did_you_mean(unit, ["bit", "kbit", "mbit", "gbit"]);
            let msg = format!("unknown unit `{}` in rate `{s}`", unit.escape_debug());
            ctx.err(&v.span, msg, format!("{hint}{help}"));
            return None;
        }
    };
    let bits = num * scale;
    if !(*RATES.start() as f64..=*RATES.end() as f64).contains(&bits) {
        ctx.err(
            &v.span,
            format!("rate `{s}` is out of range"),
            "a rate is between 8bit and 1000gbit",
        );
        return None;
    }
    // In range, so the conversion is exact enough and fits.
    Some(bits.round() as u64)
}

/// `"32kb"`, `"1mb"`, `"1500b"` or an integer: bytes.
pub(crate) fn size(ctx: &mut Ctx<'_>, v: &Val<'_>) -> Option<u32> {
    let help = "write bytes as an integer or with a unit (b, kb, mb), e.g. \"32kb\"";
    let bytes = match v.kind {
        Kind::Int(i) => i as f64,
        Kind::Str(s) => match split_unit(s) {
            Some((n, u)) => match u.to_ascii_lowercase().as_str() {
                "b" | "" => n,
                "k" | "kb" => n * 1024.0,
                "m" | "mb" => n * 1024.0 * 1024.0,
                _ => {
                    let msg = format!("unknown unit `{}` in size `{s}`", u.escape_debug());
                    ctx.err(&v.span, msg, help);
                    return None;
                }
            },
            None => {
                ctx.err(
                    &v.span,
                    format!("invalid size `{}`", s.escape_debug()),
                    help,
                );
                return None;
            }
        },
        _ => {
            ctx.err(
                &v.span,
                format!("expected a size like \"32kb\", found {}", v.found()),
                help,
            );
            return None;
        }
    };
    if !(1.0..=f64::from(u32::MAX)).contains(&bytes) {
        ctx.err(
            &v.span,
            "size out of range",
            "keep it between 1 byte and 4gb",
        );
        return None;
    }
    Some(bytes.round() as u32)
}

/// `"1.5ms"` → `(1.5, "ms")`; `None` without a leading number.
fn split_unit(s: &str) -> Option<(f64, &str)> {
    let s = s.trim();
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let num: f64 = s.get(..end)?.parse().ok()?;
    num.is_finite().then_some((num, s.get(end..)?.trim()))
}

#[cfg(test)]
mod tests {
    use crate::parse;

    fn link(extra: &str) -> String {
        format!(
            "[nodes.a]\n[nodes.b]\n[[links]]\nendpoints = [{{ iface = \"a:e0\", {extra} }}, \"b:e0\"]\n"
        )
    }

    fn errors(extra: &str) -> String {
        parse(&link(extra), "t.toml").unwrap_err().to_string()
    }

    #[test]
    fn impairments_are_read() {
        let t = parse(
            &link(
                "netem = { delay = \"50ms\", jitter = \"5ms\", loss = \"1%\", duplicate = \"0.5%\", reorder = \"25%\", corrupt = \"0.1%\", limit = 500 }, rate = \"10mbit\", burst = \"32kb\"",
            ),
            "t",
        )
        .unwrap();
        let i = &t.links[0].ends[0].config.impairment;
        assert_eq!(
            i.to_string(),
            "delay 50ms 5ms loss 1% duplicate 0.5% reorder 25% corrupt 0.1% limit 500 rate 10mbit"
        );
        assert_eq!(i.burst, Some(32 * 1024));
        assert!(t.links[0].ends[1].config.impairment.is_empty());
    }

    #[test]
    fn bad_values_say_how_to_write_them() {
        let e = errors("netem = { delay = \"50 parsecs\" }");
        assert!(
            e.contains("unknown unit `parsecs` in duration `50 parsecs`"),
            "{e}"
        );
        let e = errors("netem = { loss = 1 }");
        assert!(
            e.contains("expected a percentage string like \"1%\", found an integer"),
            "{e}"
        );
        let e = errors("netem = { loss = \"150%\" }");
        assert!(e.contains("loss `150%` is out of range"), "{e}");
        let e = errors("rate = \"10mbits\"");
        assert!(e.contains("unknown unit `mbits`"), "{e}");
        assert!(e.contains("did you mean `mbit`?"), "{e}");
        let e = errors("netem = { jitter = \"5ms\" }");
        assert!(e.contains("`jitter` without `delay`"), "{e}");
        let e = errors("netem = { delay = \"1ms\", jitter = \"5ms\" }");
        assert!(e.contains("jitter 5ms is larger than the delay 1ms"), "{e}");
        let e = errors("netem = { delay = \"200us\", jitter = \"500us\" }");
        assert!(
            e.contains("jitter 500us is larger than the delay 200us"),
            "{e}"
        );
        let e = errors("netem = { dealy = \"5ms\" }");
        assert!(e.contains("unknown key `dealy` in `netem`"), "{e}");
        let e = errors("burst = \"32kb\"");
        assert!(e.contains("`burst` without `rate`"), "{e}");
        let e = errors("rate = \"10mbit\", burst = \"32parsecs\"");
        assert!(e.contains("unknown unit `parsecs` in size"), "{e}");
    }
}
