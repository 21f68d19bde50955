//! The ladder diagram as inline SVG (hosts as columns, time downwards), drawn with
//! [`crate::html::Svg`]. Every label is cut to the width its arrow spans, so no text leaves its SVG.

use super::ladder::{trim, Arrow, Ladder};
use crate::html::Svg;

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
    let mut svg = Svg::new();
    svg.raw(r##"<defs><marker id="arrow" markerWidth="8" markerHeight="8" refX="7" refY="3" orient="auto"><path d="M0,0 L7,3 L0,6 z" fill="#334"/></marker></defs>"##);
    for h in hosts {
        let cx = x(h);
        let name = fit(h, COL - 10.0);
        svg.text(
            cx,
            16.0,
            r#"text-anchor="middle" font-weight="bold""#,
            &name,
        );
        svg.line(
            (cx, 24.0),
            (cx, height),
            r##"stroke="#aab" stroke-dasharray="4 3""##,
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
        svg.text(
            4.0,
            y,
            r##"fill="#667""##,
            &fit(&format!("{:.6}", a.t), LEFT - 8.0),
        );
        svg.line(
            (x1, y),
            (x2, y),
            &format!(r#"stroke="{colour}" marker-end="url(#arrow)""#),
        );
        svg.text(
            (x1 + x2) / 2.0,
            y - 4.0,
            &format!(r#"text-anchor="middle" fill="{colour}" font-weight="{weight}""#),
            &fit(&a.text(), (x1 - x2).abs() - 10.0),
        );
    }
    svg.finish(width, height, r#"font-family="monospace" font-size="11""#)
}

/// `s` cut to what fits in `width` pixels of the monospace font.
fn fit(s: &str, width: f64) -> String {
    trim(s, (width / CHAR).max(1.0) as usize)
}
