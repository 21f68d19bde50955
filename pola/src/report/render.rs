//! Laying out the analyses: a side-by-side table, then per model its proofs, its messages by kind
//! and (in HTML) an SVG ladder diagram drawn here by hand, hosts as columns and time downwards,
//! so the page needs no script, font or image from anywhere else.

use std::fmt::Write;

use super::analysis::{Analysis, Arrow};
use super::lang::{fill, Words};

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.2}", a / b)
    } else {
        "–".into()
    }
}

/// The table rows of one analysis, in the order of `Words::rows`.
fn cells(a: &Analysis) -> [String; 12] {
    let h = &a.handshake;
    let per = |x: f64, n: u64| if n > 0 { x / n as f64 } else { 0.0 };
    [
        a.packets.to_string(),
        a.connections.to_string(),
        a.wire_bytes.to_string(),
        a.payload_bytes.to_string(),
        ratio(a.wire_bytes as f64, a.payload_bytes as f64),
        a.app_messages.to_string(),
        ratio(a.packets as f64, a.app_messages as f64),
        ratio(a.round_trips as f64, a.app_messages as f64),
        if h.tcp_conns > 0 {
            format!(
                "{:.0} B, {:.3} ms",
                per(h.tcp_bytes as f64, h.tcp_conns),
                per(h.tcp_secs * 1e3, h.tcp_conns)
            )
        } else {
            "–".into()
        },
        if h.app_conns > 0 {
            format!(
                "{:.1}, {:.0} B, {:.3} ms",
                per(h.app_packets as f64, h.app_conns),
                per(h.app_bytes as f64, h.app_conns),
                per(h.app_secs * 1e3, h.app_conns)
            )
        } else {
            "–".into()
        },
        format!("{:.1}", a.duration * 1e3),
        a.malformed.to_string(),
    ]
}

/// The ladder diagram of one capture as an inline SVG.
pub fn ladder_svg(a: &Analysis) -> String {
    let (col, left, row, top) = (190.0, 90.0, 24.0, 48.0);
    let n = a.hosts.len().max(1) as f64;
    let width = left + col * n + 40.0;
    let height = top + row * (a.ladder.len() as f64 + 1.0);
    let x = |h: &str| {
        left + 20.0 + col * a.hosts.iter().position(|x| x == h).unwrap_or(0) as f64 + col / 2.0
            - 20.0
    };
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="monospace" font-size="11">"#
    );
    s.push_str(r##"<defs><marker id="arrow" markerWidth="8" markerHeight="8" refX="7" refY="3" orient="auto"><path d="M0,0 L7,3 L0,6 z" fill="#334"/></marker></defs>"##);
    for h in &a.hosts {
        let cx = x(h);
        let _ = write!(
            s,
            r##"<text x="{cx}" y="16" text-anchor="middle" font-weight="bold">{}</text><line x1="{cx}" y1="24" x2="{cx}" y2="{height}" stroke="#aab" stroke-dasharray="4 3"/>"##,
            esc(h)
        );
    }
    for (
        i,
        Arrow {
            t,
            from,
            to,
            label,
            app,
        },
    ) in a.ladder.iter().enumerate()
    {
        let y = top + row * i as f64;
        let (x1, x2) = (x(from), x(to));
        let colour = if *app { "#1a4f9c" } else { "#667" };
        let weight = if *app { "bold" } else { "normal" };
        let _ = write!(
            s,
            r##"<text x="4" y="{y}" fill="#667">{:.6}</text><line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" stroke="{colour}" marker-end="url(#arrow)"/><text x="{}" y="{}" text-anchor="middle" fill="{colour}" font-weight="{weight}">{}</text>"##,
            t,
            (x1 + x2) / 2.0,
            y - 4.0,
            esc(label)
        );
    }
    s.push_str("</svg>");
    s
}

fn more_packets(a: &Analysis) -> u64 {
    a.packets.saturating_sub(a.ladder.len() as u64)
}

/// The self-contained HTML page.
pub fn html(all: &[Analysis], problems: &[String], w: &Words) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<!DOCTYPE html><html lang="{}"><head><meta charset="utf-8"><title>{}</title><style>
body{{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#223}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccd;padding:4px 8px;text-align:right}}
th:first-child,td:first-child{{text-align:left}}.ok{{color:#186b2b}}.bad{{color:#a11}}
.ladder{{overflow-x:auto;border:1px solid #ccd;padding:4px}}li{{margin:2px 0}}
</style></head><body><h1>{}</h1><p>{}</p><table><tr><th></th>"#,
        w.lang,
        esc(w.title),
        esc(w.title),
        esc(w.intro)
    );
    for a in all {
        let _ = write!(s, "<th>{}</th>", esc(&a.name));
    }
    s.push_str("</tr>");
    let table: Vec<[String; 12]> = all.iter().map(cells).collect();
    for (r, label) in w.rows.iter().enumerate() {
        let _ = write!(s, "<tr><td>{}</td>", esc(label));
        for c in &table {
            let _ = write!(s, "<td>{}</td>", esc(&c[r]));
        }
        s.push_str("</tr>");
    }
    s.push_str("</table>");
    for a in all {
        let _ = write!(
            s,
            r#"<h2 id="{0}">{0} <small>({1})</small></h2>"#,
            esc(&a.name),
            esc(&a.model)
        );
        if a.truncated {
            let _ = write!(s, r#"<p class="bad">{}</p>"#, esc(w.truncated));
        }
        if !a.proofs.is_empty() {
            let _ = write!(s, "<h3>{}</h3><ul>", esc(w.proves));
            for p in &a.proofs {
                let (class, verdict) = if p.holds {
                    ("ok", w.holds)
                } else {
                    ("bad", w.fails)
                };
                let _ = write!(
                    s,
                    r#"<li><b class="{class}">{}</b>: {}<ul>"#,
                    esc(verdict),
                    esc(&fill(w.sentence(p.key), &p.args))
                );
                for d in &p.details {
                    let _ = write!(s, "<li><code>{}</code></li>", esc(d));
                }
                s.push_str("</ul></li>");
            }
            s.push_str("</ul>");
        }
        let _ = write!(s, "<h3>{}</h3><p>", esc(w.kinds));
        let kinds: Vec<String> = a.kinds.iter().map(|(k, n)| format!("{k}: {n}")).collect();
        s.push_str(&esc(&kinds.join(" · ")));
        let _ = write!(
            s,
            "</p><h3>{}</h3><div class=\"ladder\">{}</div>",
            esc(w.ladder),
            ladder_svg(a)
        );
        if more_packets(a) > 0 {
            let _ = write!(s, "<p>… {} {}</p>", more_packets(a), esc(w.ladder_more));
        }
    }
    if !problems.is_empty() {
        let _ = write!(s, "<h2>{}</h2><ul>", esc(w.problems));
        for p in problems {
            let _ = write!(s, "<li>{}</li>", esc(p));
        }
        s.push_str("</ul>");
    }
    s.push_str("</body></html>\n");
    s
}

/// The Markdown version: the same table and proofs; the ladders stay in the HTML page.
pub fn markdown(all: &[Analysis], problems: &[String], w: &Words) -> String {
    let mut s = format!("# {}\n\n{}\n\n|   |", w.title, w.intro);
    for a in all {
        let _ = write!(s, " {} |", a.name);
    }
    s.push_str("\n|---|");
    s.push_str(&"---:|".repeat(all.len()));
    s.push('\n');
    let table: Vec<[String; 12]> = all.iter().map(cells).collect();
    for (r, label) in w.rows.iter().enumerate() {
        let _ = write!(s, "| {label} |");
        for c in &table {
            let _ = write!(s, " {} |", c[r]);
        }
        s.push('\n');
    }
    for a in all {
        let _ = write!(s, "\n## {} ({})\n\n", a.name, a.model);
        if a.truncated {
            let _ = writeln!(s, "**{}**\n", w.truncated);
        }
        for p in &a.proofs {
            let verdict = if p.holds { w.holds } else { w.fails };
            let _ = writeln!(s, "- **{verdict}**: {}", fill(w.sentence(p.key), &p.args));
            for d in &p.details {
                let _ = writeln!(s, "  - `{d}`");
            }
        }
        let kinds: Vec<String> = a.kinds.iter().map(|(k, n)| format!("{k}: {n}")).collect();
        let _ = writeln!(s, "\n{}: {}", w.kinds, kinds.join(" · "));
    }
    let _ = writeln!(s, "\n{}", w.md_ladder);
    if !problems.is_empty() {
        let _ = writeln!(s, "\n## {}\n", w.problems);
        for p in problems {
            let _ = writeln!(s, "- {p}");
        }
    }
    s
}
