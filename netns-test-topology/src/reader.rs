//! Walking a parsed TOML document by hand, with a byte span on every key and value.
//!
//! [`Val`] is a small spanned tree built from `toml_edit`'s document, in which tables
//! and inline tables look the same, and so do arrays and arrays of tables. [`Ctx`]
//! collects diagnostics and offers typed getters that report "expected X, found Y".

use std::ops::Range;

use toml_edit::{Item, Table, Value};

use crate::diag::{Diagnostic, Error};
use crate::suggest;

/// A byte range in the source text.
pub(crate) type Span = Range<usize>;

/// Stop recording after this many diagnostics: the rest would be noise.
const MAX_DIAGNOSTICS: usize = 100;

/// A TOML value with its span.
#[derive(Debug)]
pub(crate) struct Val<'a> {
    pub(crate) kind: Kind<'a>,
    pub(crate) span: Span,
}

/// The shape of a [`Val`].
#[derive(Debug)]
pub(crate) enum Kind<'a> {
    Str(&'a str),
    Int(i64),
    Float,
    Bool(bool),
    Datetime,
    Array(Vec<Val<'a>>),
    Table(Vec<Field<'a>>),
}

/// One `key = value` of a table.
#[derive(Debug)]
pub(crate) struct Field<'a> {
    pub(crate) key: &'a str,
    pub(crate) key_span: Span,
    pub(crate) val: Val<'a>,
}

impl Val<'_> {
    /// "an integer", "a table", ... for "expected X, found Y" messages.
    pub(crate) fn found(&self) -> &'static str {
        match self.kind {
            Kind::Str(_) => "a string",
            Kind::Int(_) => "an integer",
            Kind::Float => "a float",
            Kind::Bool(_) => "a boolean",
            Kind::Datetime => "a date-time",
            Kind::Array(_) => "an array",
            Kind::Table(_) => "a table",
        }
    }
}

/// Builds the spanned tree of an item; `fallback` is used where toml_edit has no span
/// (it always has one for a parsed document, but never trust that with `unwrap`).
pub(crate) fn from_item<'a>(item: &'a Item, fallback: &Span) -> Val<'a> {
    let span = item.span().unwrap_or_else(|| fallback.clone());
    let kind = match item {
        Item::None => Kind::Table(Vec::new()),
        Item::Value(v) => return from_value(v, fallback),
        Item::Table(t) => Kind::Table(table_fields(t, &span)),
        Item::ArrayOfTables(a) => Kind::Array(
            a.iter()
                .map(|t| {
                    let span = t.span().unwrap_or(span.clone());
                    // Wrapping in an Item would clone the table; walk its fields here.
                    Val {
                        kind: Kind::Table(table_fields(t, &span)),
                        span,
                    }
                })
                .collect(),
        ),
    };
    Val { kind, span }
}

/// The fields of table `t`, each spanned at its key (at `span`, the table's, if the key
/// has none).
fn table_fields<'a>(t: &'a Table, span: &Span) -> Vec<Field<'a>> {
    t.iter()
        .map(|(k, v)| {
            let key_span = t.key(k).and_then(|k| k.span()).unwrap_or(span.clone());
            let val = from_item(v, &key_span);
            Field {
                key: k,
                key_span,
                val,
            }
        })
        .collect()
}

fn from_value<'a>(v: &'a Value, fallback: &Span) -> Val<'a> {
    let span = v.span().unwrap_or_else(|| fallback.clone());
    let kind = match v {
        Value::String(s) => Kind::Str(s.value()),
        Value::Integer(i) => Kind::Int(*i.value()),
        Value::Float(_) => Kind::Float,
        Value::Boolean(b) => Kind::Bool(*b.value()),
        Value::Datetime(_) => Kind::Datetime,
        Value::Array(a) => Kind::Array(a.iter().map(|v| from_value(v, &span)).collect()),
        Value::InlineTable(t) => Kind::Table(
            t.iter()
                .map(|(k, v)| {
                    let key_span = t.key(k).and_then(|k| k.span()).unwrap_or(span.clone());
                    let val = from_value(v, &key_span);
                    Field {
                        key: k,
                        key_span,
                        val,
                    }
                })
                .collect(),
        ),
    };
    Val { kind, span }
}

/// The source, its origin, and the diagnostics found so far.
pub(crate) struct Ctx<'s> {
    pub(crate) src: &'s str,
    origin: &'s str,
    diags: Vec<Diagnostic>,
    omitted: usize,
}

impl<'s> Ctx<'s> {
    pub(crate) fn new(src: &'s str, origin: &'s str) -> Self {
        Ctx {
            src,
            origin,
            diags: Vec::new(),
            omitted: 0,
        }
    }

    /// Records an error at `span`.
    pub(crate) fn error(&mut self, span: &Span, message: impl Into<String>, help: Option<String>) {
        if self.diags.len() >= MAX_DIAGNOSTICS {
            self.omitted += 1;
            return;
        }
        let d = Diagnostic::new(self.src, self.origin, span.clone(), message, help);
        self.diags.push(d);
    }

    /// Records an error with a help text.
    pub(crate) fn err(&mut self, span: &Span, message: impl Into<String>, help: impl Into<String>) {
        self.error(span, message, Some(help.into()));
    }

    pub(crate) fn has_errors(&self) -> bool {
        !self.diags.is_empty()
    }

    /// The diagnostics in source order, as an [`Error`], if there are any.
    pub(crate) fn finish(mut self) -> Option<Error> {
        if self.diags.is_empty() {
            return None;
        }
        self.diags.sort_by_key(|d| d.span.start);
        Some(Error::with_omitted(self.diags, self.omitted))
    }

    /// "expected {expected}, found {x}".
    pub(crate) fn type_error(&mut self, v: &Val<'_>, expected: &str) {
        let msg = format!("expected {expected}, found {}", v.found());
        self.error(&v.span, msg, None);
    }

    pub(crate) fn str_of<'a>(&mut self, v: &Val<'a>, expected: &str) -> Option<&'a str> {
        match v.kind {
            Kind::Str(s) => Some(s),
            _ => {
                self.type_error(v, expected);
                None
            }
        }
    }

    pub(crate) fn bool_of(&mut self, v: &Val<'_>) -> Option<bool> {
        match v.kind {
            Kind::Bool(b) => Some(b),
            _ => {
                self.type_error(v, "a boolean (`true` or `false`)");
                None
            }
        }
    }

    /// An integer in `min..=max`; `what` names it in the out-of-range message.
    pub(crate) fn int_in(&mut self, v: &Val<'_>, what: &str, min: i64, max: i64) -> Option<i64> {
        match v.kind {
            Kind::Int(i) if (min..=max).contains(&i) => Some(i),
            Kind::Int(i) => {
                let msg = format!("{what} {i} is out of range");
                self.err(
                    &v.span,
                    msg,
                    format!("{what} must be between {min} and {max}"),
                );
                None
            }
            _ => {
                self.type_error(v, "an integer");
                None
            }
        }
    }

    /// The fields of a table value.
    pub(crate) fn table_of<'v, 'a>(
        &mut self,
        v: &'v Val<'a>,
        expected: &str,
    ) -> Option<&'v [Field<'a>]> {
        match &v.kind {
            Kind::Table(f) => Some(f),
            _ => {
                self.type_error(v, expected);
                None
            }
        }
    }

    /// The items of an array value.
    pub(crate) fn array_of<'v, 'a>(
        &mut self,
        v: &'v Val<'a>,
        expected: &str,
    ) -> Option<&'v [Val<'a>]> {
        match &v.kind {
            Kind::Array(a) => Some(a),
            _ => {
                self.type_error(v, expected);
                None
            }
        }
    }

    /// Reports every key of `fields` not in `accepted`, with a did-you-mean.
    pub(crate) fn check_keys(&mut self, fields: &[Field<'_>], accepted: &[&str], context: &str) {
        for f in fields {
            if accepted.contains(&f.key) {
                continue;
            }
            let hint = suggest::did_you_mean(f.key, accepted.iter().copied());
            let keys = suggest::list(accepted.iter().copied());
            let help = format!("{hint}accepted keys: {keys}");
            self.err(
                &f.key_span,
                format!("unknown key `{}` in {context}", f.key),
                help,
            );
        }
    }

    /// A required field; reports it missing (at `table_span`) if absent.
    pub(crate) fn require<'v, 'a>(
        &mut self,
        fields: &'v [Field<'a>],
        key: &str,
        table_span: &Span,
        context: &str,
        example: &str,
    ) -> Option<&'v Val<'a>> {
        let found = get(fields, key);
        if found.is_none() {
            let msg = format!("missing key `{key}` in {context}");
            self.err(table_span, msg, format!("add `{example}`"));
        }
        found
    }

    /// The byte span of `range` (a byte range of the string's value) inside the string
    /// value `v` that spans `span`, when the raw text maps one to one onto the value
    /// (a basic string without escapes, or a literal string); otherwise all of `span`.
    pub(crate) fn sub_span(&self, span: &Span, value: &str, range: Range<usize>) -> Span {
        let raw = self.src.get(span.clone()).unwrap_or("");
        let one_to_one = raw.len() == value.len() + 2
            && !raw.starts_with("\"\"\"")
            && !raw.starts_with("'''")
            && ((raw.starts_with('"') && !raw.contains('\\')) || raw.starts_with('\''))
            && raw.get(1..raw.len() - 1) == Some(value);
        if one_to_one && range.start <= range.end && range.end <= value.len() {
            span.start + 1 + range.start..span.start + 1 + range.end
        } else {
            span.clone()
        }
    }
}

/// The field called `key`, if present.
pub(crate) fn get<'v, 'a>(fields: &'v [Field<'a>], key: &str) -> Option<&'v Val<'a>> {
    fields.iter().find(|f| f.key == key).map(|f| &f.val)
}

/// Maps a TOML syntax error to a diagnostic.
pub(crate) fn syntax_error(ctx: &mut Ctx<'_>, err: &toml_edit::TomlError) {
    let span = err.span().unwrap_or(0..0);
    let mut msg = err.message().trim_end().to_owned();
    let mut help = None;
    if msg == "duplicate key" {
        if let Some(text) = ctx.src.get(span.clone()).filter(|t| !t.is_empty()) {
            msg = format!("duplicate key `{text}`");
        }
        help = Some("a key may appear only once in a table; merge the two".to_owned());
    } else if msg.contains("recursion limit") {
        // toml_edit stops at a depth it will not go past, and gives no position.
        msg = "the document nests too deeply (recursion limit)".to_owned();
        help = Some(
            "a key with very many dots, or tables or arrays nested very deep, goes past \
             the parser's limit: no topology needs that, so look for a generated or \
             pasted key"
                .to_owned(),
        );
    }
    ctx.error(&span, format!("TOML syntax error: {msg}"), help);
}
