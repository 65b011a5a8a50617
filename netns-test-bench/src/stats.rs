//! Medians and the printed table.

use std::time::Duration;

/// One measured row: label and timings in milliseconds.
pub(crate) struct Row {
    label: String,
    median: f64,
    min: f64,
    max: f64,
    n: usize,
    /// CPU per run over both cores, when measured.
    cpu: Option<f64>,
}

fn ms(d: &Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub(crate) fn median(samples: &[Duration]) -> f64 {
    middle(samples.iter().map(ms).collect())
}

/// The median of `v` (NaN when it is empty).
pub(crate) fn middle(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

impl Row {
    pub(crate) fn new(label: &str, samples: &[Duration]) -> Row {
        let v: Vec<f64> = samples.iter().map(ms).collect();
        Row {
            label: label.to_owned(),
            median: median(samples),
            min: v.iter().copied().fold(f64::INFINITY, f64::min),
            max: v.iter().copied().fold(0.0, f64::max),
            n: v.len(),
            cpu: None,
        }
    }

    /// The row with the CPU time its runs took, per run.
    pub(crate) fn cpu(mut self, per_run: Duration) -> Row {
        self.cpu = Some(ms(&per_run));
        self
    }
}

enum Line {
    Row(Row),
    Note(String),
}

/// The benchmark's output.
#[derive(Default)]
pub(crate) struct Table {
    lines: Vec<Line>,
}

impl Table {
    pub(crate) fn push(&mut self, row: Row) {
        match row.cpu {
            Some(c) => eprintln!(
                "  measured: {} (median {:.2} ms, CPU {c:.2} ms a run)",
                row.label, row.median
            ),
            None => eprintln!("  measured: {} (median {:.2} ms)", row.label, row.median),
        }
        self.lines.push(Line::Row(row));
    }

    pub(crate) fn note(&mut self, text: &str) {
        eprintln!("  measured: {text}");
        self.lines.push(Line::Note(text.to_owned()));
    }

    /// A ratio of two medians.
    pub(crate) fn ratio(&mut self, label: &str, a: &[Duration], b: &[Duration]) {
        self.note(&format!("ratio {label}: {:.1}x", median(a) / median(b)));
    }

    /// A ratio of two CPU times per run.
    pub(crate) fn cpu_ratio(&mut self, label: &str, a: Duration, b: Duration) {
        self.note(&format!(
            "ratio of CPU per run, {label}: {:.1}x",
            a.as_secs_f64() / b.as_secs_f64()
        ));
    }

    pub(crate) fn print(&self) {
        let rows: Vec<&Row> = self
            .lines
            .iter()
            .filter_map(|l| match l {
                Line::Row(r) => Some(r),
                Line::Note(_) => None,
            })
            .collect();
        let w = rows
            .iter()
            .map(|r| r.label.chars().count())
            .max()
            .unwrap_or(0)
            .max("scenario".len());
        println!(
            "| {:<w$} | {:>10} | {:>10} | {:>10} | {:>5} | {:>11} |",
            "scenario", "median ms", "min ms", "max ms", "runs", "CPU ms/run"
        );
        println!(
            "|{:-<w2$}|{:->12}|{:->12}|{:->12}|{:->7}|{:->13}|",
            "",
            "",
            "",
            "",
            "",
            "",
            w2 = w + 2
        );
        for r in rows {
            let cpu = r.cpu.map_or_else(String::new, |c| format!("{c:.2}"));
            println!(
                "| {:<w$} | {:>10.2} | {:>10.2} | {:>10.2} | {:>5} | {:>11} |",
                r.label, r.median, r.min, r.max, r.n, cpu
            );
        }
        println!();
        for l in &self.lines {
            if let Line::Note(n) = l {
                println!("- {n}");
            }
        }
    }
}
