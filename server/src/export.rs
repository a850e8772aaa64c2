//! Reports as tables, rendered as JSON, CSV or XLSX, with Chinese headers by default and English
//! on request. Pure: builds bytes, does no IO.

use rust_xlsxwriter::{Format, Workbook};
use serde::Serialize;

/// A cell: text, a whole number, or money in fen (shown in yuan with two decimals).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Cell {
    Text(String),
    Int(i64),
    #[serde(serialize_with = "fen_as_yuan")]
    Fen(i64),
    /// A share from 0 to 1, shown as a percentage; `None` when there is nothing to divide by
    /// (shown as "—").
    Ratio(Option<f64>),
    /// An average (a rating), two decimals; `None` when there is nothing to average.
    Mean(Option<f64>),
    /// A code the model stores (an outcome, a state): people read its words in their language
    /// (the one translation table of the field model); JSON keeps the code.
    Code(String),
    /// Words in Chinese and English (a state, a step, a department); JSON keeps the Chinese.
    #[serde(serialize_with = "words_as_zh")]
    Words(String, String),
}

fn words_as_zh<S: serde::Serializer>(zh: &str, _en: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(zh)
}

fn fen_as_yuan<S: serde::Serializer>(fen: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&yuan(*fen))
}

fn yuan(fen: i64) -> String {
    fieldloop_client_core::model::money::fen_to_yuan(fen).to_string()
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::Text(s.to_string())
    }
}
impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::Text(s)
    }
}
impl From<i64> for Cell {
    fn from(n: i64) -> Self {
        Cell::Int(n)
    }
}

/// A report: a title and columns in both languages, and rows.
#[derive(Debug, Clone, Serialize)]
pub struct Table {
    pub title_zh: String,
    pub title_en: String,
    pub columns: Vec<(String, String)>,
    pub rows: Vec<Vec<Cell>>,
}

/// zh-CN first; English on request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Table {
    pub fn new(title_zh: &str, title_en: &str, columns: &[(&str, &str)]) -> Table {
        Table {
            title_zh: title_zh.into(),
            title_en: title_en.into(),
            columns: columns
                .iter()
                .map(|(z, e)| (z.to_string(), e.to_string()))
                .collect(),
            rows: Vec::new(),
        }
    }

    pub fn push(&mut self, row: Vec<Cell>) {
        self.rows.push(row);
    }

    pub fn headers(&self, lang: Lang) -> Vec<&str> {
        self.columns
            .iter()
            .map(|(z, e)| {
                if lang == Lang::Zh {
                    z.as_str()
                } else {
                    e.as_str()
                }
            })
            .collect()
    }

    /// A text cell's value as a spreadsheet must show it: one that a spreadsheet would read as
    /// a formula (`= + - @`, a tab or a carriage return first) gets a leading `'`, so a customer
    /// name or phone typed as `=HYPERLINK(...)` stays text.
    fn safe_text(cell: &Cell, lang: Lang) -> String {
        match cell {
            Cell::Text(t) if formula_like(t) => format!("'{t}"),
            other => Self::text_in(other, lang),
        }
    }

    /// A cell as people read it, in Chinese.
    pub fn text(cell: &Cell) -> String {
        Self::text_in(cell, Lang::Zh)
    }

    /// A cell as people read it in `lang`: money in yuan, shares as percentages, codes in words,
    /// "—" where there is nothing to show.
    pub fn text_in(cell: &Cell, lang: Lang) -> String {
        match cell {
            Cell::Text(t) => t.clone(),
            Cell::Int(n) => n.to_string(),
            Cell::Fen(f) => yuan(*f),
            Cell::Ratio(Some(r)) => format!("{:.1}%", r * 100.0),
            Cell::Mean(Some(m)) => format!("{m:.2}"),
            Cell::Ratio(None) | Cell::Mean(None) => "—".to_string(),
            Cell::Words(zh, en) => if lang == Lang::Zh { zh } else { en }.clone(),
            Cell::Code(code) => match fieldloop_client_core::model::fields::code_label(code) {
                Some((zh, en)) => if lang == Lang::Zh { zh } else { en }.to_string(),
                None => code.clone(),
            },
        }
    }

    /// A cell's number, for charts: 0 for text and for nothing.
    pub fn number(cell: &Cell) -> f64 {
        match cell {
            Cell::Int(n) | Cell::Fen(n) => *n as f64,
            Cell::Ratio(r) | Cell::Mean(r) => r.unwrap_or(0.0),
            Cell::Text(t) => t.parse().unwrap_or(0.0),
            Cell::Code(_) | Cell::Words(..) => 0.0,
        }
    }

    /// CSV (RFC 4180), UTF-8 with a byte-order mark so Excel opens Chinese text correctly.
    pub fn to_csv(&self, lang: Lang) -> Vec<u8> {
        let quote = |s: &str| {
            if s.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s.to_string()
            }
        };
        let mut out = String::from("\u{feff}");
        out.push_str(
            &self
                .headers(lang)
                .iter()
                .map(|h| quote(h))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push_str("\r\n");
        for row in &self.rows {
            out.push_str(
                &row.iter()
                    .map(|c| quote(&Self::safe_text(c, lang)))
                    .collect::<Vec<_>>()
                    .join(","),
            );
            out.push_str("\r\n");
        }
        out.into_bytes()
    }

    /// An XLSX workbook with one sheet: headers in bold, money as numbers with two decimals.
    pub fn to_xlsx(&self, lang: Lang) -> Result<Vec<u8>, String> {
        let mut book = Workbook::new();
        let sheet = book.add_worksheet();
        let name = if lang == Lang::Zh {
            &self.title_zh
        } else {
            &self.title_en
        };
        let safe: String = name
            .chars()
            .filter(|c| !"[]:*?/\\".contains(*c))
            .take(31)
            .collect();
        sheet
            .set_name(if safe.is_empty() { "report" } else { &safe })
            .map_err(|e| e.to_string())?;
        let bold = Format::new().set_bold();
        let money = Format::new().set_num_format("0.00");
        let percent = Format::new().set_num_format("0.0%");
        let mean = Format::new().set_num_format("0.00");
        // A quote prefix keeps a formula-like text as text, and is not shown in the cell.
        let as_text = Format::new().set_quote_prefix();
        for (c, h) in self.headers(lang).iter().enumerate() {
            sheet
                .write_string_with_format(0, c as u16, *h, &bold)
                .map_err(|e| e.to_string())?;
        }
        for (r, row) in self.rows.iter().enumerate() {
            let r = r as u32 + 1;
            for (c, cell) in row.iter().enumerate() {
                let c = c as u16;
                match cell {
                    Cell::Text(t) if formula_like(t) => {
                        sheet.write_string_with_format(r, c, t, &as_text)
                    }
                    Cell::Text(t) => sheet.write_string(r, c, t),
                    Cell::Int(n) => sheet.write_number(r, c, *n as f64),
                    Cell::Fen(f) => sheet.write_number_with_format(r, c, *f as f64 / 100.0, &money),
                    Cell::Ratio(Some(x)) => sheet.write_number_with_format(r, c, *x, &percent),
                    Cell::Mean(Some(x)) => sheet.write_number_with_format(r, c, *x, &mean),
                    Cell::Ratio(None) | Cell::Mean(None) | Cell::Code(_) | Cell::Words(..) => {
                        sheet.write_string(r, c, Self::text_in(cell, lang))
                    }
                }
                .map_err(|e| e.to_string())?;
            }
        }
        book.save_to_buffer().map_err(|e| e.to_string())
    }
}

/// Would a spreadsheet read this text as a formula (or the start of one)?
fn formula_like(text: &str) -> bool {
    text.starts_with(['=', '+', '-', '@', '\t', '\r'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_read_in_the_users_language_and_keep_their_json() {
        let words = Cell::Words("处理中".into(), "open".into());
        assert_eq!(Table::text_in(&words, Lang::En), "open");
        assert_eq!(Table::text_in(&words, Lang::Zh), "处理中");
        assert_eq!(
            serde_json::to_value(&words).unwrap(),
            serde_json::json!("处理中")
        );
        let code = Cell::Code("taken_back".into());
        assert_eq!(Table::text_in(&code, Lang::Zh), "带回维修");
        assert_eq!(
            serde_json::to_value(&code).unwrap(),
            serde_json::json!("taken_back")
        );
        assert_eq!(Table::text_in(&Cell::Ratio(Some(0.125)), Lang::Zh), "12.5%");
        assert_eq!(Table::text_in(&Cell::Ratio(None), Lang::En), "—");
        assert_eq!(Table::text_in(&Cell::Mean(Some(4.5)), Lang::En), "4.50");
    }

    #[test]
    fn formula_like_text_stays_text() {
        let mut t = Table::new("测试", "Test", &[("电话", "Phone"), ("金额", "Amount")]);
        for bad in [
            "=HYPERLINK(\"http://x\",\"y\")",
            "+1",
            "-1+2",
            "@SUM(A1)",
            "\tx",
            "\rx",
        ] {
            t.push(vec![bad.into(), Cell::Fen(-150)]);
        }
        t.push(vec!["027-8888".into(), Cell::Fen(100)]);
        let csv = String::from_utf8(t.to_csv(Lang::En)).unwrap();
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert!(lines[1].starts_with("\"'=HYPERLINK("), "{csv}");
        assert!(lines[2].starts_with("'+1,"), "{csv}");
        assert!(
            lines[3].starts_with("'-1+2,-1.50"),
            "money stays a number: {csv}"
        );
        assert!(lines[4].starts_with("'@SUM"), "{csv}");
        assert!(lines[5].starts_with("'\tx"), "{csv}");
        assert!(lines[6].starts_with("\"'\rx\""), "{csv}");
        assert!(
            lines[7].starts_with("027-8888,"),
            "ordinary text untouched: {csv}"
        );
        assert!(t.to_xlsx(Lang::Zh).is_ok());
    }

    #[test]
    fn csv_quotes_and_shows_money_to_the_fen() {
        let mut t = Table::new("测试", "Test", &[("名称", "Name"), ("金额", "Amount")]);
        t.push(vec![Cell::from("a, \"b\""), Cell::Fen(100_001)]);
        let csv = String::from_utf8(t.to_csv(Lang::Zh)).unwrap();
        assert_eq!(csv, "\u{feff}名称,金额\r\n\"a, \"\"b\"\"\",1000.01\r\n");
        let en = String::from_utf8(t.to_csv(Lang::En)).unwrap();
        assert!(en.starts_with("\u{feff}Name,Amount"));
        assert!(!t.to_xlsx(Lang::Zh).unwrap().is_empty());
    }
}
