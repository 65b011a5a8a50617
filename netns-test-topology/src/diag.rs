//! Diagnostics: what went wrong, where (origin, line, column, byte span), and what to
//! write instead, rendered in the style of rustc without colours so the text is
//! deterministic (it ends up in checked-in trybuild `.stderr` files).

use std::fmt;
use std::ops::Range;

/// One problem found in topology text, with its position and an optional hint.
///
/// `Display` renders it like rustc:
///
/// ```text
/// error: unknown node `ns3` in link endpoint `ns3:veth-ns2`
///  --> fixtures/x.toml:7:14
///   |
/// 7 | endpoints = [{ iface = "ns3:veth-ns2" }]
///   |              ^^^^^^^^^^^^^^^^^^^^^^^^^^
///   = help: declare it with `[nodes.ns3]`, or use one of the nodes: host, ns1, ns2
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Where the text came from: a file path as the user wrote it, or `<inline>`.
    pub origin: String,
    /// 1-based line of the start of `span`.
    pub line: usize,
    /// 1-based column of the start of `span`, counted in characters.
    pub column: usize,
    /// Byte range in the source text that the problem is about.
    pub span: Range<usize>,
    /// What is wrong, in one line.
    pub message: String,
    /// What to write instead, if there is something useful to say.
    pub help: Option<String>,
    /// The text of line `line` (without its line break), shown under the message.
    pub source_line: String,
}

impl Diagnostic {
    /// Builds a diagnostic for `span` (a byte range) of `src`, computing the line, the
    /// column and the source line. Out-of-range or mid-character spans are clamped, so
    /// this never panics.
    pub fn new(
        src: &str,
        origin: &str,
        span: Range<usize>,
        message: impl Into<String>,
        help: Option<String>,
    ) -> Diagnostic {
        let start = floor_char_boundary(src, span.start);
        let end = floor_char_boundary(src, span.end.max(start));
        let before = src.get(..start).unwrap_or("");
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let line = before.matches('\n').count() + 1;
        let column = src.get(line_start..start).unwrap_or("").chars().count() + 1;
        let rest = src.get(line_start..).unwrap_or("");
        let line_text = rest.split('\n').next().unwrap_or("");
        let source_line = line_text.strip_suffix('\r').unwrap_or(line_text).to_owned();
        Diagnostic {
            origin: origin.to_owned(),
            line,
            column,
            span: start..end,
            message: message.into(),
            help,
            source_line,
        }
    }

    /// How many characters of the source line the span covers (at least 1), and the
    /// text to put before the carets so they line up (tabs are kept as tabs).
    fn underline(&self) -> (String, usize) {
        let mut pad = String::new();
        let mut start_byte = self.source_line.len();
        for (n, (i, c)) in self.source_line.char_indices().enumerate() {
            if n + 1 >= self.column {
                start_byte = i;
                break;
            }
            pad.push(if c == '\t' { '\t' } else { ' ' });
        }
        let len = self.span.end.saturating_sub(self.span.start);
        let end_byte = floor_char_boundary(
            &self.source_line,
            start_byte.saturating_add(len).min(self.source_line.len()),
        );
        let width = self
            .source_line
            .get(start_byte..end_byte)
            .map_or(0, |s| s.chars().count());
        (pad, width.max(1))
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    if i >= s.len() {
        return s.len();
    }
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let num = self.line.to_string();
        let gutter = " ".repeat(num.len());
        let (pad, width) = self.underline();
        writeln!(f, "error: {}", self.message)?;
        writeln!(
            f,
            "{gutter}--> {}:{}:{}",
            self.origin, self.line, self.column
        )?;
        writeln!(f, "{gutter} |")?;
        writeln!(f, "{num} | {}", self.source_line)?;
        write!(f, "{gutter} | {pad}{}", "^".repeat(width))?;
        if let Some(help) = &self.help {
            write!(f, "\n{gutter} = help: {help}")?;
        }
        Ok(())
    }
}

/// Why topology text was rejected: one or more [`Diagnostic`]s, in source order.
///
/// `Display` prints every diagnostic, separated by a blank line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    diagnostics: Vec<Diagnostic>,
    omitted: usize,
}

impl Error {
    /// Makes an error from diagnostics (which should not be empty).
    pub fn new(diagnostics: Vec<Diagnostic>) -> Error {
        Error {
            diagnostics,
            omitted: 0,
        }
    }

    pub(crate) fn with_omitted(diagnostics: Vec<Diagnostic>, omitted: usize) -> Error {
        Error {
            diagnostics,
            omitted,
        }
    }

    /// Every diagnostic, in source order.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// How many further problems were found but not reported, because the text had
    /// too many errors to be worth listing them all.
    pub fn omitted(&self) -> usize {
        self.omitted
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                f.write_str("\n\n")?;
            }
            d.fmt(f)?;
        }
        if self.omitted > 0 {
            if !self.diagnostics.is_empty() {
                f.write_str("\n\n")?;
            }
            write!(f, "error: {} more errors not shown", self.omitted)?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(src: &str, span: Range<usize>) -> String {
        Diagnostic::new(src, "t.toml", span, "m", None).to_string()
    }

    #[test]
    fn tabs_are_kept_so_carets_line_up() {
        assert_eq!(
            render("a\n\tx = 1\n", 3..4),
            "error: m\n --> t.toml:2:2\n  |\n2 | \tx = 1\n  | \t^"
        );
    }

    #[test]
    fn end_of_input_and_out_of_range_spans() {
        let d = Diagnostic::new("x = ", "t", 4..4, "m", None);
        assert_eq!((d.line, d.column), (1, 5));
        assert!(d.to_string().ends_with("1 | x = \n  |     ^"));
        let d = Diagnostic::new("ab", "t", 10..20, "m", None);
        assert_eq!((d.line, d.column, d.span.clone()), (1, 3, 2..2));
        let d = Diagnostic::new("a\n", "t", 2..2, "m", None);
        assert_eq!((d.line, d.column, d.source_line.as_str()), (2, 1, ""));
    }

    #[test]
    fn multi_line_spans_underline_the_first_line() {
        assert!(render("ab = [\n 1]\n", 5..11).ends_with("1 | ab = [\n  |      ^"));
    }

    #[test]
    fn crlf_and_mid_character_spans() {
        let d = Diagnostic::new("é = 1\r\nx", "t", 1..2, "m", None);
        assert_eq!((d.line, d.column, d.source_line.as_str()), (1, 1, "é = 1"));
        assert_eq!(d.span, 0..2);
    }

    #[test]
    fn error_lists_all_with_blank_lines() {
        let a = Diagnostic::new("x", "t", 0..1, "first", Some("h".into()));
        let b = Diagnostic::new("x", "t", 0..1, "second", None);
        let e = Error::new(vec![a, b]);
        assert_eq!(
            e.to_string(),
            "error: first\n --> t:1:1\n  |\n1 | x\n  | ^\n  = help: h\n\n\
             error: second\n --> t:1:1\n  |\n1 | x\n  | ^"
        );
        assert_eq!(e.diagnostics().len(), 2);
    }
}
