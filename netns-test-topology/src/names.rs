//! Node names, interface names, and `"node:iface"` references.

use crate::reader::{Ctx, Span};

/// Longest node name accepted.
pub(crate) const MAX_NODE_NAME: usize = 32;

/// Longest interface name the kernel accepts (IFNAMSIZ - 1).
pub(crate) const MAX_IFNAME: usize = 15;

/// Checks a node name (1..=32 of `[A-Za-z0-9_.-]`). Reports at `span`.
pub(crate) fn check_node_name(ctx: &mut Ctx<'_>, name: &str, span: &Span) -> bool {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
    if name.is_empty() {
        ctx.err(span, "empty node name", "name the node, e.g. `[nodes.ns1]`");
        false
    } else if name.chars().count() > MAX_NODE_NAME {
        let msg = format!(
            "node name `{name}` is {} characters long; at most {MAX_NODE_NAME} are allowed",
            name.chars().count()
        );
        ctx.err(span, msg, "use a shorter name");
        false
    } else if name == "." || name == ".." {
        ctx.err(
            span,
            format!("`{name}` is not a valid node name"),
            "a node's name also names its files inside the test: use letters or digits \
             too, e.g. `ns1`",
        );
        false
    } else if let Some(c) = name.chars().find(|c| !ok_char(*c)) {
        let msg = format!(
            "node name `{}` contains {}",
            name.escape_debug(),
            describe(c)
        );
        ctx.err(
            span,
            msg,
            "node names use only letters, digits, `_`, `.` and `-`",
        );
        false
    } else {
        true
    }
}

fn describe(c: char) -> String {
    if c.is_whitespace() || c.is_control() {
        format!("the character {:?}", c)
    } else {
        format!("`{c}`")
    }
}

/// Checks an interface name against the kernel's rules (`dev_valid_name`), plus `lo`
/// (every node already has it) and `%` (the kernel would treat it as a pattern).
/// `span` is the span of the name itself.
pub(crate) fn check_iface_name(ctx: &mut Ctx<'_>, name: &str, span: &Span) -> bool {
    let chars = "use letters, digits, `-`, `_` or `.`";
    if name.is_empty() {
        ctx.err(
            span,
            "empty interface name",
            "name the interface, e.g. `eth0`",
        );
    } else if name.len() > MAX_IFNAME {
        let mut short = String::new();
        for c in name.chars() {
            if short.len() + c.len_utf8() > MAX_IFNAME {
                break;
            }
            short.push(c);
        }
        let msg = format!(
            "interface name `{name}` is {} bytes long; Linux allows at most {MAX_IFNAME} (IFNAMSIZ - 1)",
            name.len()
        );
        ctx.err(span, msg, format!("shorten it, e.g. to `{short}`"));
    } else if name == "." || name == ".." {
        ctx.err(
            span,
            format!("`{name}` is not a valid interface name"),
            chars,
        );
    } else if name == "lo" {
        let msg = "interface name `lo` is reserved: every node already has its loopback interface";
        let help = "pick another name (`loopback = false` on a node keeps its `lo` down)";
        ctx.err(span, msg, help);
    } else if let Some(c) = name.chars().find(|c| {
        // `"` would end the name in the node's nftables rules.
        matches!(c, '/' | ':' | '%' | '"') || c.is_whitespace() || c.is_control()
    }) {
        let msg = format!(
            "interface name `{}` contains {}, which is not allowed in interface names",
            name.escape_debug(),
            describe(c)
        );
        ctx.err(span, msg, chars);
    } else if let Some(c) = name
        .chars()
        .find(|c| c.to_string().as_bytes().contains(&0xA0))
    {
        // The kernel checks names byte by byte, and its `isspace` counts 0xA0 (a
        // no-break space in Latin-1) as a space: `à` (C3 A0) is refused.
        let msg = format!(
            "interface name `{name}` contains `{c}`, whose UTF-8 bytes hold 0xA0, which \
             Linux reads as a space in interface names"
        );
        ctx.err(span, msg, chars);
    } else {
        return true;
    }
    false
}

/// A parsed `"node:iface"` (or, where allowed, a bare `"iface"`) with sub-spans.
#[derive(Debug, Clone)]
pub(crate) struct IfaceRef {
    /// The node part, if written.
    pub(crate) node: Option<(String, Span)>,
    /// The interface part.
    pub(crate) iface: String,
    pub(crate) iface_span: Span,
}

/// Splits a reference string at its one `:`. `span` is the string value's span.
/// Reports a malformed reference (`what` names the thing, e.g. "link endpoint") and
/// returns `None`; does not check the names themselves.
pub(crate) fn split_ref(
    ctx: &mut Ctx<'_>,
    s: &str,
    span: &Span,
    what: &str,
    node_optional: bool,
) -> Option<IfaceRef> {
    let parts: Vec<&str> = s.split(':').collect();
    match parts.as_slice() {
        [iface] if node_optional && !iface.is_empty() => Some(IfaceRef {
            node: None,
            iface: (*iface).to_owned(),
            iface_span: ctx.sub_span(span, s, 0..s.len()),
        }),
        [node, iface] if !node.is_empty() && !iface.is_empty() => Some(IfaceRef {
            node: Some(((*node).to_owned(), ctx.sub_span(span, s, 0..node.len()))),
            iface: (*iface).to_owned(),
            iface_span: ctx.sub_span(span, s, node.len() + 1..s.len()),
        }),
        _ => {
            let msg = format!(
                "{what} `{}` must be written \"node:iface\"",
                s.escape_debug()
            );
            let example = match parts.as_slice() {
                [one] if !one.is_empty() && !one.contains(char::is_whitespace) => {
                    format!("host:{one}")
                }
                _ => "ns1:eth0".to_owned(),
            };
            let help = if node_optional {
                format!("write `{example}` or just the interface name")
            } else {
                format!(
                    "write the node, a colon and the interface name, e.g. `{example}` (`host` is the test's own namespace)"
                )
            };
            ctx.err(span, msg, help);
            None
        }
    }
}

/// How to write `[nodes.NAME]` for a node name (quoted if it contains a dot).
pub(crate) fn node_header(name: &str) -> String {
    if name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !name.is_empty()
    {
        format!("[nodes.{name}]")
    } else {
        format!("[nodes.\"{}\"]", name.escape_debug())
    }
}
