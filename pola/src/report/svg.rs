//! The ladder diagram drawn by hand as inline SVG (hosts as columns, time downwards), so the page
//! needs no script, font or image from anywhere else; and [`esc`], the one escaper of the HTML
//! page. Every label is cut to the width its arrow spans, so no text leaves its SVG.

use std::fmt::Write;

use super::ladder::{trim, Arrow, Ladder};

/// `s` escaped for HTML text and attribute values.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Arrows per SVG page: long captures become a column of pages in a scrolling box.
pub const PAGE: usize = 100;
const COL: f64 = 190.0;
const LEFT: f64 = 90.0;
const ROW: f64 = 24.0;
const TOP: f64 = 48.0;
/// The width of one character of the 11 px monospace font, with room to spare.
const CHAR: f64 = 7.2;

/// The ladder as SVG pages of at most [`PAGE`] arrows each, host names atop every page.
pub fn ladder_pages(l: &Ladder) -> Vec<String> {
    l.arrows
        .chunks(PAGE)
        .map(|rows| page(&l.hosts, rows))
        .collect()
}

fn page(hosts: &[String], rows: &[Arrow]) -> String {
    let width = LEFT + COL * hosts.len().max(1) as f64 + 20.0;
    let height = TOP + ROW * rows.len() as f64;
    let x =
        |h: &str| LEFT + COL * hosts.iter().position(|x| x == h).unwrap_or(0) as f64 + COL / 2.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="monospace" font-size="11">"#
    );
    s.push_str(r##"<defs><marker id="arrow" markerWidth="8" markerHeight="8" refX="7" refY="3" orient="auto"><path d="M0,0 L7,3 L0,6 z" fill="#334"/></marker></defs>"##);
    for h in hosts {
        let cx = x(h);
        let _ = write!(
            s,
            r##"<text x="{cx}" y="16" text-anchor="middle" font-weight="bold">{}</text><line x1="{cx}" y1="24" x2="{cx}" y2="{height}" stroke="#aab" stroke-dasharray="4 3"/>"##,
            esc(&fit(h, COL - 10.0))
        );
    }
    for (i, a) in rows.iter().enumerate() {
        let y = TOP + ROW * i as f64;
        let (x1, x2) = (x(&a.from), x(&a.to));
        let (colour, weight) = if a.app {
            ("#1a4f9c", "bold")
        } else {
            ("#667", "normal")
        };
        let _ = write!(
            s,
            r##"<text x="4" y="{y}" fill="#667">{}</text><line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" stroke="{colour}" marker-end="url(#arrow)"/><text x="{}" y="{}" text-anchor="middle" fill="{colour}" font-weight="{weight}">{}</text>"##,
            fit(&format!("{:.6}", a.t), LEFT - 8.0),
            (x1 + x2) / 2.0,
            y - 4.0,
            esc(&fit(&a.text(), (x1 - x2).abs() - 10.0))
        );
    }
    s.push_str("</svg>");
    s
}

/// `s` cut to what fits in `width` pixels of the monospace font.
fn fit(s: &str, width: f64) -> String {
    trim(s, (width / CHAR).max(1.0) as usize)
}
