//! Where a subcommand writes: aligned tables or JSON on standard output, colour only on a
//! terminal without `NO_COLOR`, and the one-line error on standard error.

use std::io::{self, IsTerminal, Write};

use es_core::RecordedEvent;
use serde_json::{Value, json};

use crate::time::rfc3339;

/// A colour or weight for a table cell, written as an ANSI escape when colour is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    Plain,
    Bold,
    Dim,
    Cyan,
    Yellow,
    Red,
}

impl Style {
    fn code(self) -> Option<&'static str> {
        match self {
            Self::Plain => None,
            Self::Bold => Some("1"),
            Self::Dim => Some("2"),
            Self::Cyan => Some("36"),
            Self::Yellow => Some("33"),
            Self::Red => Some("31"),
        }
    }
}

/// One cell of a table: its text and style.
#[derive(Debug, Clone)]
pub(crate) struct Cell {
    text: String,
    style: Style,
}

impl Cell {
    pub(crate) fn new(text: impl Into<String>) -> Self {
        Self::styled(text, Style::Plain)
    }

    pub(crate) fn styled(text: impl Into<String>, style: Style) -> Self {
        Self {
            text: text.into(),
            style,
        }
    }
}

/// A column of a table: its title, and whether its values are numbers (right-aligned).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Column {
    pub(crate) title: &'static str,
    pub(crate) numeric: bool,
}

/// A text column.
pub(crate) const fn text(title: &'static str) -> Column {
    Column {
        title,
        numeric: false,
    }
}

/// A numeric (right-aligned) column.
pub(crate) const fn number(title: &'static str) -> Column {
    Column {
        title,
        numeric: true,
    }
}

/// Standard output, as a subcommand sees it.
pub(crate) struct Out {
    writer: io::Stdout,
    /// Whether `--json` was given.
    pub(crate) json: bool,
    /// Whether standard output is a terminal.
    pub(crate) terminal: bool,
    colour: bool,
}

impl Out {
    /// Standard output, in JSON if `json`.
    pub(crate) fn stdout(json: bool) -> Self {
        let writer = io::stdout();
        let terminal = writer.is_terminal();
        Self {
            writer,
            json,
            terminal,
            colour: terminal && colour_allowed(),
        }
    }

    /// Writes `line` and a newline, and flushes (a `tail` shows each event at once).
    pub(crate) fn line(&mut self, line: &str) -> io::Result<()> {
        let mut lock = self.writer.lock();
        lock.write_all(line.as_bytes())?;
        lock.write_all(b"\n")?;
        lock.flush()
    }

    /// Writes `text` without a newline, and flushes: a progress line that the next one
    /// overwrites.
    pub(crate) fn partial(&mut self, text: &str) -> io::Result<()> {
        let mut lock = self.writer.lock();
        lock.write_all(text.as_bytes())?;
        lock.flush()
    }

    /// Writes `value` as one JSON document, pretty-printed on a terminal, on one line
    /// otherwise.
    pub(crate) fn json(&mut self, value: &Value) -> io::Result<()> {
        let text = if self.terminal {
            serde_json::to_string_pretty(value)
        } else {
            serde_json::to_string(value)
        }
        .map_err(io::Error::other)?;
        self.line(&text)
    }

    /// `text` in `style` when colour is on, plain otherwise.
    pub(crate) fn paint(&self, text: &str, style: Style) -> String {
        match style.code() {
            Some(code) if self.colour => format!("\x1b[{code}m{text}\x1b[0m"),
            _ => text.to_owned(),
        }
    }

    /// Writes a table: the titles in bold, each column as wide as its widest value, text
    /// left-aligned and numbers right-aligned, two spaces apart. Nothing but the titles
    /// when there are no rows.
    pub(crate) fn table(&mut self, columns: &[Column], rows: &[Vec<Cell>]) -> io::Result<()> {
        let mut widths: Vec<usize> = columns.iter().map(|c| c.title.chars().count()).collect();
        for row in rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.text.chars().count());
            }
        }
        let titles: Vec<Cell> = columns
            .iter()
            .map(|c| Cell::styled(c.title, Style::Bold))
            .collect();
        for row in std::iter::once(&titles).chain(rows) {
            let mut line = String::new();
            for (index, ((column, width), cell)) in columns.iter().zip(&widths).zip(row).enumerate()
            {
                let last = index + 1 == columns.len();
                let pad = width.saturating_sub(cell.text.chars().count());
                if index > 0 {
                    line.push_str("  ");
                }
                if column.numeric {
                    line.push_str(&" ".repeat(pad));
                }
                line.push_str(&self.paint(&cell.text, cell.style));
                if !column.numeric && !last {
                    line.push_str(&" ".repeat(pad));
                }
            }
            self.line(&line)?;
        }
        Ok(())
    }
}

/// Whether colour may be used at all: `NO_COLOR` unset or empty.
pub(crate) fn colour_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
}

/// Writes `error` to standard error as one line, `error: ...`, the word in red on a terminal.
pub(crate) fn report_error(error: &dyn std::fmt::Display) {
    let stderr = io::stderr();
    let label = if stderr.is_terminal() && colour_allowed() {
        "\x1b[31merror:\x1b[0m"
    } else {
        "error:"
    };
    let message = error.to_string().replace('\n', " ");
    let _ = writeln!(stderr.lock(), "{label} {message}");
}

/// A payload as JSON: its value when it is JSON, its text when it is UTF-8, its bytes in
/// hexadecimal otherwise (`{"hex": "..."}`).
pub(crate) fn payload_value(payload: &[u8]) -> Value {
    if let Ok(value) = serde_json::from_slice::<Value>(payload) {
        return value;
    }
    match std::str::from_utf8(payload) {
        Ok(text) => Value::String(text.to_owned()),
        Err(_) => {
            let hex: String = payload.iter().map(|byte| format!("{byte:02x}")).collect();
            json!({ "hex": hex })
        }
    }
}

/// An event as JSON: its envelope, its payload ([`payload_value`]) and, when a decoder is
/// registered for its name, the decoded value as text.
pub(crate) fn event_json(event: &RecordedEvent, decoded: Option<String>) -> Value {
    let mut value = json!({
        "stream": event.stream_id.as_str(),
        "version": event.stream_version.0,
        "position": event.position.0,
        "event_id": event.event_id.0.to_string(),
        "recorded_at": rfc3339(event.recorded_at, true),
        "name": &*event.name,
        "schema_version": event.schema_version,
        "payload": payload_value(&event.payload),
        "metadata": serde_json::to_value(&event.metadata).unwrap_or(Value::Null),
    });
    if let (Some(decoded), Some(object)) = (decoded, value.as_object_mut()) {
        object.insert("decoded".to_owned(), Value::String(decoded));
    }
    value
}

/// A payload on one line of a table: compact JSON, or the decoded value, cut at `max`
/// characters with an ellipsis.
pub(crate) fn one_line(text: &str, max: usize) -> String {
    let flat = text.replace('\n', " ");
    if flat.chars().count() <= max {
        return flat;
    }
    let mut cut: String = flat.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}
