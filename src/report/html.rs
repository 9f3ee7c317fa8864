//! The HTML report: one file that opens offline (charts inline as SVG, no external assets), with
//! a manager's summary of headline figures against the previous period, then retention,
//! segments, value and forecast, and data quality. Every number's caption says what it means,
//! in the words of METRICS.md.

use super::charts::Chart;

pub struct Kpi {
    pub label: String,
    pub value: String,
    /// The change against the previous period, e.g. "+4.2% vs 2024-11".
    pub change: Option<String>,
    pub caption: String,
}

/// What the report opens with: the alerts the run crossed, and what moved.
pub struct Opening<'a> {
    pub alerts: &'a [String],
    /// Whether any alert threshold is configured (then "none crossed" is said too).
    pub alerts_checked: bool,
    /// (sentence, id of the chart that shows it).
    pub movements: &'a [(String, String)],
}

pub struct Section {
    pub title: String,
    pub intro: String,
    pub charts: Vec<(Chart, String)>,
    /// Small tables: (caption, header, rows).
    pub tables: Vec<(String, Vec<String>, Vec<Vec<String>>)>,
}

pub use crate::output::escape_markup as escape;

const STYLE: &str = "
body { font-family: 'DejaVu Sans', Verdana, sans-serif; margin: 0; color: #1d2733; background: #f4f6f8; }
header { background: #1f3b57; color: white; padding: 18px 32px; }
header h1 { margin: 0 0 4px 0; font-size: 26px; }
header p { margin: 0; opacity: 0.85; }
main { max-width: 1040px; margin: 0 auto; padding: 16px 32px 48px; }
section { background: white; border-radius: 6px; padding: 16px 24px; margin: 20px 0; box-shadow: 0 1px 3px rgba(0,0,0,0.08); }
h2 { margin-top: 4px; color: #1f3b57; }
.kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(220px, 1fr)); gap: 14px; }
.kpi { border: 1px solid #dde3ea; border-radius: 6px; padding: 12px 14px; }
.kpi .label { font-size: 13px; color: #52606d; }
.kpi .value { font-size: 28px; font-weight: bold; margin: 4px 0; }
.kpi .change { font-size: 13px; }
.kpi .change.up { color: #1a7f37; } .kpi .change.down { color: #b42318; }
.kpi .caption, figcaption, .note { font-size: 12.5px; color: #52606d; line-height: 1.4; }
figure { margin: 18px 0; } figure svg { width: 100%; height: auto; border: 1px solid #eef1f4; }
/* Each chart comes twice: drawn for a wide screen, and narrow for a phone, its title as text
   above it (a long title wraps there; inside the chart it would be cut). */
figure .narrow { display: none; }
.chart-title { font-weight: bold; font-size: 14px; margin: 0 0 4px; color: #1f3b57; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0 16px; }
th, td { border-bottom: 1px solid #e4e8ec; padding: 4px 10px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
details.values { margin: 6px 0 0; font-size: 13px; } details.values summary { cursor: pointer; color: #1f3b57; }
details.values table { display: block; max-height: 320px; overflow: auto; }
/* A phone: the page and every chart fit the screen's width; wide tables scroll inside
   themselves, never the page. */
@media (max-width: 640px) {
  header { padding: 12px 14px; } header h1 { font-size: 20px; }
  main { padding: 8px 8px 32px; }
  section { padding: 10px 12px; margin: 12px 0; }
  .kpis { grid-template-columns: 1fr; }
  .kpi .value { font-size: 22px; }
  table { display: block; max-width: 100%; overflow-x: auto; }
  figure .wide { display: none; } figure .narrow { display: block; }
}
/* Print to PDF: one section a page, charts whole, the values tables left out. */
@media print {
  body { background: white; }
  main { max-width: none; padding: 0; }
  section { box-shadow: none; border-radius: 0; margin: 0; break-after: page; page-break-after: always; }
  figure { break-inside: avoid; page-break-inside: avoid; }
  details.values { display: none; }
  a { color: inherit; text-decoration: none; }
}
section.alerts { border-left: 6px solid #b42318; } section.alerts li { color: #b42318; margin: 4px 0; }
#movements li { margin: 6px 0; line-height: 1.4; }
";

pub fn page(
    title: &str,
    subtitle: &str,
    opening: &Opening,
    kpis: &[Kpi],
    sections: &[Section],
) -> String {
    let mut h = String::new();
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    h.push_str(&format!(
        "<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        escape(title)
    ));
    h.push_str(&format!(
        "<header><h1>{}</h1><p>{}</p></header>\n<main>\n",
        escape(title),
        escape(subtitle)
    ));
    if !opening.alerts.is_empty() {
        h.push_str("<section id=\"alerts\" class=\"alerts\"><h2>Alerts</h2><ul>\n");
        for line in opening.alerts {
            h.push_str(&format!("<li>{}</li>\n", escape(line)));
        }
        h.push_str("</ul></section>\n");
    } else if opening.alerts_checked {
        h.push_str("<section id=\"alerts\"><h2>Alerts</h2><p class=\"note\">No alert threshold was crossed.</p></section>\n");
    }
    if !opening.movements.is_empty() {
        h.push_str("<section id=\"movements\"><h2>What moved</h2><ul>\n");
        for (line, chart) in opening.movements {
            h.push_str(&format!(
                "<li>{} <a href=\"#{}\">See the chart.</a></li>\n",
                escape(line),
                escape(chart)
            ));
        }
        h.push_str("</ul></section>\n");
    }
    h.push_str("<section id=\"summary\"><h2>Summary</h2><div class=\"kpis\">\n");
    for k in kpis {
        let class = match &k.change {
            Some(c) if c.starts_with('+') => "change up",
            Some(c) if c.starts_with('-') => "change down",
            _ => "change",
        };
        h.push_str(&format!(
            "<div class=\"kpi\"><div class=\"label\">{}</div><div class=\"value\">{}</div><div class=\"{class}\">{}</div><div class=\"caption\">{}</div></div>\n",
            escape(&k.label),
            escape(&k.value),
            escape(k.change.as_deref().unwrap_or("")),
            escape(&k.caption)
        ));
    }
    h.push_str("</div></section>\n");
    for s in sections {
        let id: String = s
            .title
            .to_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        h.push_str(&format!(
            "<section id=\"{id}\"><h2>{}</h2><p class=\"note\">{}</p>\n",
            escape(&s.title),
            escape(&s.intro)
        ));
        for (chart, caption) in &s.charts {
            h.push_str(&format!(
                "<figure id=\"chart-{}\"><div class=\"wide\">{}</div><div class=\"narrow\"><p class=\"chart-title\">{}</p>{}</div><figcaption>{}</figcaption>{}</figure>\n",
                chart.name,
                strip_xml_header(&chart.svg),
                escape(&chart.title),
                strip_xml_header(&chart.narrow_svg),
                escape(caption),
                values_table(&chart.values)
            ));
        }
        for (caption, header, rows) in &s.tables {
            h.push_str(&format!(
                "<p class=\"note\">{}</p><table><tr>",
                escape(caption)
            ));
            for c in header {
                h.push_str(&format!("<th>{}</th>", escape(c)));
            }
            h.push_str("</tr>\n");
            for r in rows {
                h.push_str("<tr>");
                for c in r {
                    h.push_str(&format!("<td>{}</td>", escape(c)));
                }
                h.push_str("</tr>\n");
            }
            h.push_str("</table>\n");
        }
        h.push_str("</section>\n");
    }
    h.push_str("</main>\n</body>\n</html>\n");
    h
}

/// A chart's values as a table a person can copy from and a screen reader can read, folded
/// under the chart.
fn values_table(values: &[[String; 3]]) -> String {
    if values.is_empty() {
        return String::new();
    }
    let with_series = values.iter().any(|v| !v[0].is_empty());
    let mut t = String::from(
        "<details class=\"values\"><summary>The values of this chart</summary><table><tr>",
    );
    if with_series {
        t.push_str("<th>series</th>");
    }
    t.push_str("<th></th><th>value</th></tr>\n");
    for [series, label, value] in values {
        t.push_str("<tr>");
        if with_series {
            t.push_str(&format!("<td>{}</td>", escape(series)));
        }
        t.push_str(&format!(
            "<td>{}</td><td>{}</td></tr>\n",
            escape(label),
            escape(value)
        ));
    }
    t.push_str("</table></details>");
    t
}

fn strip_xml_header(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => svg,
    }
}
