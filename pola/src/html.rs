//! The one HTML and SVG writer of pola: [`esc`] for text and attribute values, and [`Svg`], an
//! inline SVG document built from the shapes the report's ladders and the bench's chart draw
//! (text, lines, rectangles). Everything is written by hand, so a page needs no script, font or
//! image from anywhere else.

use std::fmt::Write;

/// `s` escaped for HTML or SVG text and for attribute values in either kind of quotes.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// An SVG document under construction. Coordinates are in pixels; `attrs` arguments are extra
/// attributes written as they are (`fill="#334" font-size="11"`), so they must not come from
/// outside pola, while every text content goes through [`esc`].
#[derive(Default)]
pub struct Svg {
    body: String,
}

impl Svg {
    pub fn new() -> Svg {
        Svg::default()
    }

    /// Text whose anchor point is (x, y): its baseline, at the start unless `attrs` say otherwise.
    pub fn text(&mut self, x: f64, y: f64, attrs: &str, text: &str) {
        let _ = write!(
            self.body,
            r#"<text x="{x:.1}" y="{y:.1}"{}>{}</text>"#,
            space(attrs),
            esc(text)
        );
    }

    pub fn line(&mut self, (x1, y1): (f64, f64), (x2, y2): (f64, f64), attrs: &str) {
        let _ = write!(
            self.body,
            r#"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}"{}/>"#,
            space(attrs)
        );
    }

    pub fn rect(&mut self, (x, y): (f64, f64), (width, height): (f64, f64), attrs: &str) {
        let _ = write!(
            self.body,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{width:.1}" height="{height:.1}"{}/>"#,
            space(attrs)
        );
    }

    /// Markup of pola's own (a `<defs>` block), written as it is.
    pub fn raw(&mut self, markup: &str) {
        self.body.push_str(markup);
    }

    /// The document, `width` × `height` pixels with a matching viewBox; `attrs` go on the `<svg>`
    /// element and are inherited by every shape (`font-family="monospace"`).
    pub fn finish(self, width: f64, height: f64, attrs: &str) -> String {
        format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.1}" height="{height:.1}" viewBox="0 0 {width:.1} {height:.1}"{}>{}</svg>"#,
            space(attrs),
            self.body
        )
    }
}

/// ` attrs`, or nothing when there are none.
fn space(attrs: &str) -> String {
    if attrs.is_empty() {
        String::new()
    } else {
        format!(" {attrs}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_markup_character_is_escaped() {
        assert_eq!(
            esc(r#"a & b < c > d "e" 'f'"#),
            "a &amp; b &lt; c &gt; d &quot;e&quot; &#39;f&#39;"
        );
        assert_eq!(
            esc("&amp;"),
            "&amp;amp;",
            "escaping twice shows the first escape"
        );
        assert_eq!(esc("µs · naïve"), "µs · naïve");
    }

    #[test]
    fn shapes_land_inside_one_svg_element_with_their_text_escaped() {
        let mut svg = Svg::new();
        svg.text(1.0, 2.5, r#"font-size="11""#, "<PUBLISH & co>");
        svg.line((0.0, 1.0), (2.0, 3.0), r##"stroke="#ccc""##);
        svg.rect((1.0, 2.0), (3.5, 4.0), "");
        let doc = svg.finish(10.0, 20.0, r#"font-family="monospace""#);
        assert_eq!(
            doc,
            concat!(
                r#"<svg xmlns="http://www.w3.org/2000/svg" width="10.0" height="20.0" viewBox="0 0 10.0 20.0" font-family="monospace">"#,
                r#"<text x="1.0" y="2.5" font-size="11">&lt;PUBLISH &amp; co&gt;</text>"#,
                r##"<line x1="0.0" y1="1.0" x2="2.0" y2="3.0" stroke="#ccc"/>"##,
                r#"<rect x="1.0" y="2.0" width="3.5" height="4.0"/>"#,
                "</svg>"
            )
        );
    }
}
