//! Pure renderers: kubectl-like tables, JSON and YAML, and the terminal decisions (colour,
//! escaping of cluster-supplied text).

use std::io::IsTerminal;

use anyhow::Result;
use comfy_table::{CellAlignment, ColumnConstraint, ContentArrangement, Table};
use serde::Serialize;

use crate::cli::OutputFormat;
use crate::isvc::Isvc;

/// Escapes control characters so that nothing the cluster supplies can drive the terminal.
pub fn sanitize(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    text.chars().map(|c| if c.is_control() { c.escape_default().collect::<String>() } else { c.to_string() }).collect()
}

/// A kubectl-style table: no borders, columns separated by three spaces, upper-case headers
/// (given as such), left-aligned, no trailing spaces.
pub fn render_table(headers: &[&str], rows: &[Vec<String>], no_headers: bool) -> String {
    if rows.is_empty() && no_headers {
        return String::new();
    }
    let mut table = Table::new();
    // Every border and separator blank: the look comes from padding alone.
    table.load_style(comfy_table::presets::NOTHING);
    table.set_content_arrangement(ContentArrangement::Disabled);
    let width = headers.len().max(rows.iter().map(Vec::len).max().unwrap_or(0));
    // kubectl's tabwriter has a minimum cell width of 6 with its padding of 3: a cell narrower
    // than 3 characters (an empty PREV, "10") still takes 6 columns, except in the last column.
    let min_width = |i: usize, text: String| if i + 1 < width { format!("{text:<3}") } else { text };
    if !no_headers {
        table.set_header(headers.iter().enumerate().map(|(i, h)| min_width(i, (*h).to_string())));
    }
    for row in rows {
        table.add_row(row.iter().enumerate().map(|(i, c)| min_width(i, sanitize(c))));
    }
    for (i, column) in table.column_iter_mut().enumerate() {
        column.set_padding((0, if i + 1 == width { 0 } else { 3 }));
        column.set_cell_alignment(CellAlignment::Left);
        column.set_constraint(ColumnConstraint::ContentWidth);
    }
    let mut out = String::new();
    for line in table.lines() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The result of a command on one InferenceService, on stdout: the object (`-o json|yaml`), its
/// reference (`-o name`), or kubectl's line `inferenceservice.serving.kserve.io/NAME WHAT`.
pub fn print_result(format: Option<OutputFormat>, isvc: &Isvc, what: &str) -> Result<()> {
    // The name comes from the cluster: escaped like every cluster-supplied text.
    let reference = format!("inferenceservice.serving.kserve.io/{}", sanitize(&isvc.name));
    match format {
        Some(OutputFormat::Name) => println!("{reference}"),
        Some(OutputFormat::Json) => print!("{}", to_json(&isvc.raw)?),
        Some(OutputFormat::Yaml) => print!("{}", to_yaml(&isvc.raw)?),
        _ => println!("{reference} {what}"),
    }
    Ok(())
}

/// An empty value shown as `-`.
pub fn dash(s: &str) -> &str {
    if s.is_empty() { "-" } else { s }
}

pub fn to_json<T: Serialize>(value: &T) -> Result<String> {
    Ok(serde_json::to_string_pretty(value)? + "\n")
}

pub fn to_yaml<T: Serialize>(value: &T) -> Result<String> {
    let text = serde_saphyr::to_string(value)?;
    Ok(if text.ends_with('\n') { text } else { text + "\n" })
}

/// Whether colour may be used on stderr: a terminal, and neither NO_COLOR, TERM=dumb nor --no-color.
pub fn color_enabled(no_color_flag: bool) -> bool {
    !no_color_flag
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::env::var("TERM").map_or(true, |t| t != "dumb")
        && std::io::stderr().is_terminal()
}

/// Paints a word for a person; plain text when colour is off.
pub fn paint(text: &str, color: Color, enabled: bool) -> String {
    if !enabled {
        return text.to_string();
    }
    let code = match color {
        Color::Green => "32",
        Color::Yellow => "33",
        Color::Red => "31",
        Color::Bold => "1",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

#[derive(Debug, Clone, Copy)]
pub enum Color {
    Green,
    Yellow,
    Red,
    Bold,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_kubectl_like() {
        let rows = vec![
            vec!["sklearn-iris".to_string(), "True".to_string(), String::new()],
            vec!["x".to_string(), "Unknown".to_string(), "90".to_string()],
        ];
        let text = render_table(&["NAME", "READY", "PREV"], &rows, false);
        assert_eq!(text, "NAME           READY     PREV\nsklearn-iris   True\nx              Unknown   90\n");
    }

    #[test]
    fn narrow_and_empty_cells_take_kubectls_minimum_width() {
        // As `kubectl get isvc --no-headers` prints a promoted InferenceService (PREV empty).
        let rows = vec![vec!["a".to_string(), String::new(), "1".to_string(), "x".to_string()]];
        assert_eq!(render_table(&["N", "P", "L", "R"], &rows, true), "a           1     x\n");
        assert_eq!(render_table(&["N", "P", "L", "R"], &rows, false), "N     P     L     R\na           1     x\n");
    }

    #[test]
    fn no_headers_drops_the_header_line() {
        let rows = vec![vec!["a".to_string(), "b".to_string()]];
        // kubectl pads a one-character cell to its minimum width of 6.
        assert_eq!(render_table(&["X", "Y"], &rows, true), "a     b\n");
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(sanitize("bad\x1b[31mred\n"), "bad\\u{1b}[31mred\\n");
        assert_eq!(sanitize("plain"), "plain");
    }

    #[test]
    fn yaml_and_json_render() {
        let v = serde_json::json!({"a": 1, "b": ["x"]});
        assert!(to_json(&v).unwrap().contains("\"a\": 1"));
        assert!(to_yaml(&v).unwrap().contains("a: 1"));
    }
}
