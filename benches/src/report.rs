//! The table: rows, verdicts and how figures are printed.

use std::fmt::Write as _;
use std::time::Duration;

use crate::Config;

/// Whether a row meets its goal.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Met,
    NotMet,
    Info,
}

impl Verdict {
    pub(crate) fn of(met: bool) -> Self {
        if met { Self::Met } else { Self::NotMet }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Met => "met",
            Self::NotMet => "NOT MET",
            Self::Info => "-",
        }
    }
}

pub(crate) struct Row {
    pub(crate) workload: String,
    pub(crate) framework: String,
    pub(crate) baseline: String,
    pub(crate) ratio: String,
    pub(crate) goal: String,
    pub(crate) verdict: Verdict,
}

impl Row {
    /// A throughput row: `count` operations in `framework` and in `baseline` time.
    pub(crate) fn rate(
        workload: String,
        unit: &str,
        count: u64,
        framework: Duration,
        baseline: Duration,
    ) -> Self {
        Self {
            workload,
            framework: rate(count, framework, unit),
            baseline: rate(count, baseline, unit),
            ratio: format!("{:.2}x", baseline.as_secs_f64() / framework.as_secs_f64()),
            goal: "- (reported)".to_owned(),
            verdict: Verdict::Info,
        }
    }

    /// The framework/baseline throughput ratio.
    pub(crate) fn throughput_ratio(framework: Duration, baseline: Duration) -> f64 {
        baseline.as_secs_f64() / framework.as_secs_f64()
    }

    /// The goal of a throughput ratio of at least `goal`, judged on `framework` and
    /// `baseline` times: `1.23x baseline (>= 0.8x)`.
    pub(crate) fn ratio_goal(self, framework: Duration, baseline: Duration, goal: f64) -> Self {
        let ratio = Self::throughput_ratio(framework, baseline);
        self.goal(
            format!("{ratio:.2}x baseline (>= {goal}x)"),
            Verdict::of(ratio >= goal),
        )
    }

    pub(crate) fn goal(mut self, goal: String, verdict: Verdict) -> Self {
        self.goal = goal;
        self.verdict = verdict;
        self
    }
}

pub(crate) fn rate(count: u64, time: Duration, unit: &str) -> String {
    let per_second = count as f64 / time.as_secs_f64();
    let (value, prefix) = if per_second >= 1e6 {
        (per_second / 1e6, "M")
    } else if per_second >= 1e3 {
        (per_second / 1e3, "k")
    } else {
        (per_second, "")
    };
    format!("{value:.2}{prefix} {unit}/s")
}

pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub(crate) fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// Prints the table, with `notes` (one line each) under its header lines.
pub(crate) fn print_table(config: &Config, rows: &[Row], notes: &[String]) {
    let headers = [
        "workload",
        "framework",
        "baseline",
        "ratio",
        "goal (measured)",
        "met",
    ];
    let cells: Vec<[&str; 6]> = rows
        .iter()
        .map(|r| {
            [
                r.workload.as_str(),
                r.framework.as_str(),
                r.baseline.as_str(),
                r.ratio.as_str(),
                r.goal.as_str(),
                r.verdict.label(),
            ]
        })
        .collect();
    let mut widths = headers.map(str::len);
    for row in &cells {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 6]| {
        let mut out = String::from("|");
        for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
            let pad = width - cell.chars().count();
            // Numbers right-aligned, text left-aligned.
            if (1..=3).contains(&i) {
                let _ = write!(out, " {}{cell} |", " ".repeat(pad));
            } else {
                let _ = write!(out, " {cell}{} |", " ".repeat(pad));
            }
        }
        out
    };
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    println!(
        "es-bench: scale {} (ES_BENCH_SCALE), each figure the best of {} run(s) (ES_BENCH_REPS), {cpus} CPU(s)",
        config.scale, config.reps
    );
    println!(
        "ratio = framework throughput / baseline throughput (memory: framework / baseline peak RSS)"
    );
    for note in notes {
        println!("{note}");
    }
    println!("{}", line(headers));
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(w + 2)).collect();
    println!("|{}|", rule.join("|"));
    for row in cells {
        println!("{}", line(row));
    }
}
