//! Pure renderers: kubectl-like tables, JSON and YAML, and the terminal decisions (colour,
//! escaping of cluster-supplied text).

use std::io::IsTerminal;

use anyhow::Result;
use comfy_table::{CellAlignment, ColumnConstraint, ContentArrangement, Table, Width};
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
    let mut table = TableWriter::new(headers.iter().map(|h| (*h).to_string()).collect(), no_headers);
    table.page(rows)
}

/// A kubectl-style table written page by page, as a paged list arrives: the header goes with the
/// first page, and a column is as wide as the widest cell seen so far (it never narrows from one
/// page to the next). Within one page, and so for a table of one page, the layout is exactly
/// kubectl's: tabwriter columns with a padding of 3 and a minimum cell width of 6.
pub struct TableWriter {
    headers: Vec<String>,
    widths: Vec<usize>,
    /// The header is still to be written (never, with `--no-headers`).
    header_pending: bool,
}

impl TableWriter {
    pub fn new(headers: Vec<String>, no_headers: bool) -> TableWriter {
        TableWriter { headers, widths: Vec::new(), header_pending: !no_headers }
    }

    /// The text of one page of rows (with the header, on the first page).
    pub fn page(&mut self, rows: &[Vec<String>]) -> String {
        let columns = self.headers.len().max(rows.iter().map(Vec::len).max().unwrap_or(0));
        // kubectl's tabwriter has a minimum cell width of 6 with its padding of 3: a cell
        // narrower than 3 characters (an empty PREV, "10") still takes 6 columns, except in the
        // last column.
        let cell_width = |i: usize, text: &str| {
            let width = console::measure_text_width(text);
            if i + 1 < columns { width.max(3) } else { width }
        };
        let rows: Vec<Vec<String>> = rows.iter().map(|r| r.iter().map(|c| sanitize(c)).collect()).collect();
        self.widths.resize(columns, 0);
        let header = self.header_pending.then(|| self.headers.clone());
        for row in header.iter().chain(rows.iter()) {
            for (i, cell) in row.iter().enumerate() {
                self.widths[i] = self.widths[i].max(cell_width(i, cell));
            }
        }
        // comfy-table lays the page out; each column at least as wide as any cell seen so far,
        // every border blank, the look from padding alone.
        let mut table = Table::new();
        table.load_style(comfy_table::presets::NOTHING);
        table.set_content_arrangement(ContentArrangement::Disabled);
        let cells =
            |row: &Vec<String>| (0..columns).map(|i| row.get(i).cloned().unwrap_or_default()).collect::<Vec<_>>();
        for row in header.iter().chain(rows.iter()) {
            table.add_row(cells(row));
        }
        for (i, column) in table.column_iter_mut().enumerate() {
            let last = i + 1 == columns;
            column.set_padding((0, if last { 0 } else { 3 }));
            column.set_cell_alignment(CellAlignment::Left);
            // comfy-table's width counts the padding.
            let width = u16::try_from(self.widths[i] + if last { 0 } else { 3 }).unwrap_or(u16::MAX);
            column.set_constraint(ColumnConstraint::LowerBoundary(Width::Fixed(width)));
        }
        let mut out = String::new();
        for line in table.lines() {
            out.push_str(line.trim_end());
            out.push('\n');
        }
        self.header_pending = false;
        out
    }
}

/// A `{"apiVersion": "v1", "kind": "List", "items": [...]}` written one item at a time, byte for
/// byte as [`to_json`] or [`to_yaml`] would write the whole List.
pub struct ListWriter {
    yaml: bool,
    items: usize,
}

impl ListWriter {
    pub fn json() -> ListWriter {
        ListWriter { yaml: false, items: 0 }
    }

    pub fn yaml() -> ListWriter {
        ListWriter { yaml: true, items: 0 }
    }

    /// The text of the next item, preceded by the List's opening when it is the first.
    pub fn item<T: Serialize>(&mut self, item: &T) -> Result<String> {
        let mut out = String::new();
        if self.yaml {
            if self.items == 0 {
                out.push_str("apiVersion: v1\nitems:\n");
            }
            // The item as the whole List's serializer lays it out under `items:`.
            let wrapped = to_yaml(&serde_json::json!({ "items": [item] }))?;
            out.push_str(wrapped.strip_prefix("items:\n").unwrap_or(&wrapped));
        } else {
            out.push_str(if self.items == 0 { "{\n  \"apiVersion\": \"v1\",\n  \"items\": [\n" } else { ",\n" });
            let text = serde_json::to_string_pretty(item)?;
            for (i, line) in text.lines().enumerate() {
                if i > 0 {
                    out.push('\n');
                }
                out.push_str("    ");
                out.push_str(line);
            }
        }
        self.items += 1;
        Ok(out)
    }

    /// The text that closes the List (the whole List when it had no item).
    pub fn end(&self) -> Result<String> {
        Ok(match (self.yaml, self.items) {
            (true, 0) => "apiVersion: v1\nitems: []\nkind: List\n".to_string(),
            (true, _) => "kind: List\n".to_string(),
            (false, 0) => "{\n  \"apiVersion\": \"v1\",\n  \"items\": [],\n  \"kind\": \"List\"\n}\n".to_string(),
            (false, _) => "\n  ],\n  \"kind\": \"List\"\n}\n".to_string(),
        })
    }
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
    fn a_table_written_page_by_page_keeps_its_columns_and_never_narrows_them() {
        let row = |a: &str, b: &str, c: &str| vec![a.to_string(), b.to_string(), c.to_string()];
        let first = vec![row("sklearn-iris", "True", ""), row("x", "Unknown", "90")];
        let mut table = TableWriter::new(vec!["NAME".into(), "READY".into(), "PREV".into()], false);
        // One page: exactly the whole table.
        assert_eq!(table.page(&first), render_table(&["NAME", "READY", "PREV"], &first, false));
        // A later page of narrower cells keeps the widths; a wider cell widens its column.
        assert_eq!(table.page(&[row("y", "True", "5")]), "y              True      5\n");
        assert_eq!(table.page(&[row("a-much-longer-name", "é", "1")]), "a-much-longer-name   é         1\n");
        assert_eq!(table.page(&[row("z", "True", "")]), "z                    True\n");
    }

    #[test]
    fn wide_characters_count_by_their_width_on_screen() {
        let rows = vec![vec!["模型".to_string(), "a".to_string()], vec!["abcde".to_string(), "b".to_string()]];
        assert_eq!(render_table(&["N", "X"], &rows, true), "模型    a\nabcde   b\n");
    }

    #[test]
    fn a_list_written_item_by_item_is_the_whole_list() {
        let items: Vec<serde_json::Value> = vec![
            serde_json::json!({"name": "a", "components": {"predictor": {"traffic": [{"percent": 10}], "notes": []}}}),
            serde_json::json!({"name": "b", "url": null, "text": "multi\nline: yes", "nested": [[1, 2], []]}),
        ];
        for n in 0..=items.len() {
            let whole = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": &items[..n]});
            for (mut writer, want) in [(ListWriter::json(), to_json(&whole)), (ListWriter::yaml(), to_yaml(&whole))] {
                let mut text = String::new();
                for item in &items[..n] {
                    text.push_str(&writer.item(item).unwrap());
                }
                text.push_str(&writer.end().unwrap());
                assert_eq!(text, want.unwrap(), "{n} items");
            }
        }
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
