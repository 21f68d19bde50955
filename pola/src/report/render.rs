//! Laying out the analyses: a side-by-side table, then per capture its proofs, its messages by
//! kind and (in HTML) its ladder diagram from [`super::svg`], every arrow of it in a scrolling box.

use std::fmt::Write;

use super::analysis::Analysis;
use super::fault::FaultReport;
use super::lang::{fill, Words};
use super::svg::ladder_pages;
use crate::html::esc;

fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.2}", a / b)
    } else {
        "–".into()
    }
}

/// The table rows of one analysis, in the order of `Words::rows`.
fn cells(a: &Analysis) -> [String; 12] {
    let (h, t) = (&a.handshake, &a.traffic);
    let per = |x: f64, n: u64| if n > 0 { x / n as f64 } else { 0.0 };
    [
        t.packets.to_string(),
        t.connections.to_string(),
        t.wire_bytes.to_string(),
        t.payload_bytes.to_string(),
        ratio(t.wire_bytes as f64, t.payload_bytes as f64),
        t.app_messages.to_string(),
        ratio(t.packets as f64, t.app_messages as f64),
        ratio(t.round_trips as f64, t.app_messages as f64),
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
        format!("{:.1}", t.duration() * 1e3),
        t.malformed.to_string(),
    ]
}

/// The rows of a fault section's table, in the order of `Words::fault_cols`.
fn fault_rows(f: &FaultReport, w: &Words) -> Vec<[String; 7]> {
    f.windows
        .iter()
        .map(|(at, step, c)| {
            [
                at.clone(),
                if step.is_empty() {
                    w.fault_start.to_string()
                } else {
                    step.clone()
                },
                c.retransmissions.to_string(),
                c.redelivered.to_string(),
                c.connections.to_string(),
                c.greetings.to_string(),
                c.resets.to_string(),
            ]
        })
        .collect()
}

fn model_name(a: &Analysis) -> &'static str {
    a.model.map_or("–", |m| m.name())
}

/// One capture's section of the HTML page.
fn html_section(s: &mut String, a: &Analysis, w: &Words) {
    let _ = write!(
        s,
        r#"<h2 id="{0}">{0} <small>({1})</small></h2>"#,
        esc(&a.name),
        model_name(a)
    );
    if a.truncated {
        let _ = write!(s, r#"<p class="bad">{}</p>"#, esc(w.truncated));
    }
    if a.traffic.gaps > 0 {
        let _ = write!(
            s,
            r#"<p class="bad">{} {}</p>"#,
            a.traffic.gaps,
            esc(w.gaps)
        );
    }
    if let Some(f) = &a.fault {
        let _ = write!(s, "<h3>{}</h3><table><tr>", esc(w.fault_title));
        for c in w.fault_cols {
            let _ = write!(s, "<th>{}</th>", esc(c));
        }
        s.push_str("</tr>");
        for row in fault_rows(f, w) {
            s.push_str("<tr>");
            for c in row {
                let _ = write!(s, "<td>{}</td>", esc(&c));
            }
            s.push_str("</tr>");
        }
        s.push_str("</table>");
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
                esc(&fill(w.sentence(p.claim), &p.args))
            );
            for d in &p.details {
                let _ = write!(s, "<li><code>{}</code></li>", esc(d));
            }
            s.push_str("</ul></li>");
        }
        s.push_str("</ul>");
    }
    let _ = write!(s, "<h3>{}</h3><p>", esc(w.kinds));
    s.push_str(&esc(&a.traffic.kinds_line()));
    let _ = write!(s, "</p><h3>{}</h3><div class=\"ladder\">", esc(w.ladder));
    for page in ladder_pages(&a.ladder) {
        s.push_str(&page);
    }
    s.push_str("</div>");
    if a.ladder.skipped > 0 {
        let _ = write!(s, "<p>… {} {}</p>", a.ladder.skipped, esc(w.ladder_more));
    }
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
.ladder{{overflow:auto;max-height:70vh;border:1px solid #ccd;padding:4px}}.ladder svg{{display:block}}li{{margin:2px 0}}
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
    super::twins::html(&mut s, all, w, esc);
    for a in all {
        html_section(&mut s, a, w);
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
    super::twins::markdown(&mut s, all, w);
    for a in all {
        let _ = write!(s, "\n## {} ({})\n\n", a.name, model_name(a));
        if a.truncated {
            let _ = writeln!(s, "**{}**\n", w.truncated);
        }
        if a.traffic.gaps > 0 {
            let _ = writeln!(s, "**{} {}**\n", a.traffic.gaps, w.gaps);
        }
        if let Some(f) = &a.fault {
            let _ = writeln!(
                s,
                "{}\n\n| {} |\n|---|---|{}",
                w.fault_title,
                w.fault_cols.join(" | "),
                "---:|".repeat(w.fault_cols.len() - 2)
            );
            for row in fault_rows(f, w) {
                let _ = writeln!(s, "| {} |", row.join(" | "));
            }
            s.push('\n');
        }
        for p in &a.proofs {
            let verdict = if p.holds { w.holds } else { w.fails };
            let _ = writeln!(s, "- **{verdict}**: {}", fill(w.sentence(p.claim), &p.args));
            for d in &p.details {
                let _ = writeln!(s, "  - {}", code_span(d));
            }
        }
        let _ = writeln!(s, "\n{}: {}", w.kinds, a.traffic.kinds_line());
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

/// `text` as a Markdown code span: fenced with one more backtick than its longest run of them.
fn code_span(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if longest > 0 { " " } else { "" };
    format!("{fence}{pad}{text}{pad}{fence}")
}
