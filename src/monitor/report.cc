// The drift report as JSON (for machines) and as one self-contained HTML page
// (for people): inline CSS, a few lines of JS and SVG charts, nothing fetched.
#include <algorithm>
#include <cmath>

#include <fmt/core.h>

#include "monitor/internal.h"
#include "monitor/monitor.h"

namespace mlforge::monitor {
namespace {

void NumberOrNull(json::Writer& w, std::string_view key, double v) {
  w.Key(key);
  if (std::isnan(v)) {
    w.Null();
  } else {
    w.Double(v);
  }
}

void WriteSummary(json::Writer& w, const ColumnSummary& s, ColumnKind kind) {
  w.StartObject();
  w.Key("count").Uint(s.count);
  w.Key("missing").Uint(s.missing);
  w.Field("missing_rate", s.missing_rate());
  if (kind == ColumnKind::kNumeric) {
    for (auto [k, v] : {std::pair{"min", s.min}, {"p25", s.p25}, {"median", s.median}, {"p75", s.p75},
                        {"max", s.max}, {"mean", s.mean}, {"std", s.std}}) {
      NumberOrNull(w, k, v);
    }
  } else {
    w.Key("unique").Uint(s.unique);
  }
  w.EndObject();
}

void WriteStats(json::Writer& w, const DriftStats& s) {
  w.StartObject();
  auto put = [&](std::string_view k, double v) {
    if (!std::isnan(v)) w.Field(k, v);
  };
  put("ks_statistic", s.ks_statistic);
  put("ks_p_value", s.ks_p_value);
  put("wasserstein", s.wasserstein);
  put("wasserstein_normed", s.wasserstein_normed);
  put("chi2_statistic", s.chi2_statistic);
  if (!std::isnan(s.chi2_statistic)) w.Field("chi2_dof", s.chi2_dof);
  put("chi2_p_value", s.chi2_p_value);
  put("cramers_v", s.cramers_v);
  put("z_p_value", s.z_p_value);
  put("cohens_h", s.cohens_h);
  put("psi", s.psi);
  put("jensen_shannon", s.jensen_shannon);
  put("hellinger", s.hellinger);
  w.EndObject();
}

std::string Html(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string Num(double v) {
  if (std::isnan(v)) return "–";
  if (v != 0 && (std::abs(v) < 1e-3 || std::abs(v) >= 1e6)) return fmt::format("{:.3e}", v);
  return fmt::format("{:.4g}", v);
}

std::string Pct(double share) { return fmt::format("{:.1f}%", 100 * share); }

constexpr std::string_view kRefColor = "#4e79a7";
constexpr std::string_view kCurColor = "#f28e2b";

std::string NumericSvg(const Chart& c) {
  const double w = 600, h = 170, left = 40, bottom = 24, top = 8;
  size_t bins = c.reference.size();
  double peak = 0;
  for (size_t i = 0; i < bins; ++i) peak = std::max({peak, c.reference[i], c.current[i]});
  if (peak <= 0) peak = 1;
  double plot_w = w - left - 8, plot_h = h - bottom - top;
  std::string s = fmt::format("<svg viewBox=\"0 0 {} {}\" width=\"{}\" height=\"{}\" role=\"img\">", w, h, w, h);
  s += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#999\"/>", left, h - bottom,
                   w - 8, h - bottom);
  double bw = plot_w / static_cast<double>(std::max<size_t>(bins, 1));
  for (size_t i = 0; i < bins; ++i) {
    double x = left + bw * static_cast<double>(i);
    double rh = plot_h * c.reference[i] / peak, ch = plot_h * c.current[i] / peak;
    std::string range = c.edges.size() > i + 1 ? "[" + Num(c.edges[i]) + ", " + Num(c.edges[i + 1]) + ")" : "";
    s += fmt::format(
        "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\"><title>{} reference "
        "{}</title></rect>",
        x + 1, h - bottom - rh, bw / 2 - 1, rh, kRefColor, range, Pct(c.reference[i]));
    s += fmt::format(
        "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\"><title>{} current "
        "{}</title></rect>",
        x + bw / 2, h - bottom - ch, bw / 2 - 1, ch, kCurColor, range, Pct(c.current[i]));
  }
  if (!c.edges.empty()) {
    s += fmt::format("<text x=\"{}\" y=\"{}\" class=\"ax\">{}</text>", left, h - 6, Html(Num(c.edges.front())));
    s += fmt::format("<text x=\"{}\" y=\"{}\" class=\"ax\" text-anchor=\"end\">{}</text>", w - 8, h - 6,
                     Html(Num(c.edges.back())));
  }
  s += fmt::format("<text x=\"2\" y=\"{}\" class=\"ax\">{}</text>", top + 10, Pct(peak));
  s += "</svg>";
  return s;
}

std::string CategoricalSvg(const Chart& c) {
  const double w = 600, row = 18, label_w = 170;
  double h = row * static_cast<double>(c.labels.size()) + 8;
  double peak = 0;
  for (size_t i = 0; i < c.labels.size(); ++i) peak = std::max({peak, c.reference[i], c.current[i]});
  if (peak <= 0) peak = 1;
  double bar_w = w - label_w - 60;
  std::string s = fmt::format("<svg viewBox=\"0 0 {} {}\" width=\"{}\" height=\"{}\" role=\"img\">", w, h, w, h);
  for (size_t i = 0; i < c.labels.size(); ++i) {
    double y = 4 + row * static_cast<double>(i);
    std::string label = c.labels[i].size() > 28 ? c.labels[i].substr(0, 27) + "…" : c.labels[i];
    s += fmt::format("<text x=\"{}\" y=\"{:.1f}\" class=\"ax\" text-anchor=\"end\">{}</text>", label_w - 6,
                     y + 12, Html(label));
    s += fmt::format(
        "<rect x=\"{}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"7\" fill=\"{}\"><title>{}: reference "
        "{}</title></rect>",
        label_w, y + 1, bar_w * c.reference[i] / peak, kRefColor, Html(c.labels[i]), Pct(c.reference[i]));
    s += fmt::format(
        "<rect x=\"{}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"7\" fill=\"{}\"><title>{}: current "
        "{}</title></rect>",
        label_w, y + 8, bar_w * c.current[i] / peak, kCurColor, Html(c.labels[i]), Pct(c.current[i]));
    s += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" class=\"ax\">{} / {}</text>",
                     label_w + bar_w * std::max(c.reference[i], c.current[i]) / peak + 4, y + 12,
                     Pct(c.reference[i]), Pct(c.current[i]));
  }
  s += "</svg>";
  return s;
}

std::string PValueText(const FeatureDrift& f) {
  if (!MethodGivesPValue(f.method)) return "–";
  std::string s = Num(f.p_value);
  if (!std::isnan(f.adjusted_p_value) && f.adjusted_p_value != f.p_value) s += " (adj. " + Num(f.adjusted_p_value) + ")";
  return s;
}

constexpr std::string_view kStyle = R"(
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1100px;color:#222;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}h3{font-size:15px;margin:0 0 4px}
.meta{color:#555}.verdict{display:inline-block;padding:4px 10px;border-radius:4px;font-weight:600;margin:10px 0}
.drift{background:#fde2e1;color:#a4161a}.ok{background:#e3f4e1;color:#1b5e20}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{border-bottom:1px solid #e3e3e3;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f6f6;cursor:pointer;user-select:none}td.n{text-align:right}
.badge{padding:1px 6px;border-radius:3px;font-size:12px;font-weight:600}
.b-drift{background:#fde2e1;color:#a4161a}.b-ok{background:#e3f4e1;color:#1b5e20}.b-na{background:#eee;color:#666}
.feature{border:1px solid #e3e3e3;border-radius:6px;padding:12px 14px;margin:12px 0}
.feature .stats{font-size:13px;color:#444;margin:6px 0}.ax{font-size:11px;fill:#555}
.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px;vertical-align:middle}
.issues li{margin:2px 0}code{background:#f3f3f3;padding:0 3px;border-radius:3px}
)";

constexpr std::string_view kScript = R"(
document.getElementById('only-drift').addEventListener('change',function(e){
  document.querySelectorAll('[data-drifted]').forEach(function(el){
    el.style.display=(e.target.checked&&el.dataset.drifted!=='1')?'none':'';});});
document.querySelectorAll('#summary th').forEach(function(th,i){th.addEventListener('click',function(){
  var body=document.querySelector('#summary tbody'),rows=Array.from(body.rows),asc=th.dataset.asc!=='1';
  th.dataset.asc=asc?'1':'0';
  rows.sort(function(a,b){var x=a.cells[i].dataset.v||a.cells[i].textContent,y=b.cells[i].dataset.v||b.cells[i].textContent;
    var nx=parseFloat(x),ny=parseFloat(y);var c=(!isNaN(nx)&&!isNaN(ny))?nx-ny:x.localeCompare(y);return asc?c:-c;});
  rows.forEach(function(r){body.appendChild(r);});});});
)";

std::string SortKey(double v) { return std::isnan(v) ? "" : fmt::format("{}", v); }

}  // namespace

std::string DriftReportToJson(const DriftReport& r, const ReportLabels& labels) {
  json::Writer w;
  w.StartObject();
  w.Field("format", "mlforge.drift_report");
  w.Field("version", 1);
  w.Key("reference").StartObject().Field("name", labels.reference).Field("rows", r.reference_rows).EndObject();
  w.Key("current").StartObject().Field("name", labels.current).Field("rows", r.current_rows).EndObject();
  const DriftOptions& o = r.options;
  w.Key("options").StartObject();
  w.Field("method", DriftMethodName(o.method));
  w.Field("alpha", o.alpha);
  if (o.threshold) w.Field("threshold", *o.threshold);
  w.Field("correction", CorrectionName(o.correction));
  w.Field("drift_share", o.drift_share);
  w.Field("small_sample_max", o.small_sample_max);
  w.Field("categorical_max_unique", o.categorical_max_unique);
  w.Field("bins", o.bins);
  w.EndObject();
  w.Key("summary").StartObject();
  w.Field("features_tested", r.features_tested);
  w.Field("features_drifted", r.features_drifted);
  w.Field("drift_share", r.drift_share);
  w.Field("dataset_drift", r.dataset_drift);
  w.EndObject();
  w.Key("columns").StartArray();
  for (const FeatureDrift& f : r.columns) {
    w.StartObject();
    w.Field("column", f.column);
    w.Field("role", f.role);
    w.Field("kind", ColumnKindName(f.kind));
    w.Field("tested", f.tested);
    if (f.tested) {
      w.Field("method", DriftMethodName(f.method));
      NumberOrNull(w, "score", f.score);
      NumberOrNull(w, "threshold", f.threshold);
      NumberOrNull(w, "p_value", f.p_value);
      NumberOrNull(w, "adjusted_p_value", f.adjusted_p_value);
      w.Key("effect_size").StartObject().Field("name", f.effect_size_name);
      NumberOrNull(w, "value", f.effect_size);
      w.EndObject();
      w.Field("drifted", f.drifted);
      w.Field("approximate", f.approximate);
      w.Key("stats");
      WriteStats(w, f.stats);
    }
    w.Key("reference");
    WriteSummary(w, f.reference, f.kind);
    w.Key("current");
    WriteSummary(w, f.current, f.kind);
    if (f.kind == ColumnKind::kNumeric) w.Key("out_of_range").Uint(f.out_of_range);
    if (f.kind == ColumnKind::kCategorical) {
      w.Key("unseen").Uint(f.unseen);
      w.Key("unseen_examples").StartArray();
      for (const std::string& e : f.unseen_examples) w.String(e);
      w.EndArray();
    }
    if (f.tested) {
      w.Key("chart").StartObject();
      if (f.chart.categorical) {
        w.Key("labels").StartArray();
        for (const std::string& l : f.chart.labels) w.String(l);
        w.EndArray();
      } else {
        internal::WriteDoubles(w, "edges", f.chart.edges);
      }
      internal::WriteDoubles(w, "reference", f.chart.reference);
      internal::WriteDoubles(w, "current", f.chart.current);
      w.EndObject();
    }
    w.EndObject();
  }
  w.EndArray();
  w.Key("quality").StartArray();
  for (const QualityIssue& q : r.quality) {
    w.StartObject().Field("column", q.column).Field("kind", q.kind).Field("message", q.message).EndObject();
  }
  w.EndArray();
  w.EndObject();
  return w.Take();
}

std::string DriftReportToHtml(const DriftReport& r, const ReportLabels& labels) {
  std::string h;
  h.reserve(64 << 10);
  h += "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">";
  h += "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">";
  h += "<title>Drift report: " + Html(labels.current) + " vs " + Html(labels.reference) + "</title>";
  h += "<style>" + std::string(kStyle) + "</style></head><body>";
  h += "<h1>Data drift report</h1>";
  h += fmt::format("<div class=\"meta\">reference <code>{}</code> ({} rows) &nbsp;·&nbsp; current <code>{}</code> ({} rows)</div>",
                   Html(labels.reference), r.reference_rows, Html(labels.current), r.current_rows);
  h += fmt::format("<div class=\"verdict {}\">{}: {} of {} features drifted ({})</div>",
                   r.dataset_drift ? "drift" : "ok", r.dataset_drift ? "Dataset drift" : "No dataset drift",
                   r.features_drifted, r.features_tested, Pct(r.drift_share));
  const DriftOptions& o = r.options;
  h += fmt::format(
      "<div class=\"meta\">method {} &nbsp;·&nbsp; alpha {} with {} correction across features &nbsp;·&nbsp; "
      "dataset drift at a share of {} &nbsp;·&nbsp; "
      "auto: KS / chi-square / z up to {} reference values, Wasserstein (normed) / Jensen-Shannon above</div>",
      DriftMethodName(o.method), Num(o.alpha), CorrectionName(o.correction), Pct(o.drift_share), o.small_sample_max);
  h += "<div class=\"legend\"><span style=\"background:" + std::string(kRefColor) + "\"></span>reference" +
       "<span style=\"background:" + std::string(kCurColor) + "\"></span>current &nbsp; " +
       "<label><input type=\"checkbox\" id=\"only-drift\"> drifted only</label></div>";

  h += "<h2>Summary</h2><table id=\"summary\"><thead><tr><th>column</th><th>role</th><th>kind</th><th>method</th>"
       "<th>score</th><th>threshold</th><th>p-value</th><th>effect size</th><th>drift</th><th>missing ref / cur</th>"
       "</tr></thead><tbody>";
  for (const FeatureDrift& f : r.columns) {
    std::string badge = !f.tested ? "<span class=\"badge b-na\">not tested</span>"
                        : f.drifted ? "<span class=\"badge b-drift\">drift</span>"
                                    : "<span class=\"badge b-ok\">ok</span>";
    h += fmt::format(
        "<tr data-drifted=\"{}\"><td><a href=\"#col-{}\">{}</a></td><td>{}</td><td>{}</td><td>{}{}</td>"
        "<td class=\"n\" data-v=\"{}\">{}</td><td class=\"n\">{}</td><td class=\"n\" data-v=\"{}\">{}</td>"
        "<td>{} {}</td><td data-v=\"{}\">{}</td><td>{} / {}</td></tr>",
        f.drifted ? 1 : 0, Html(f.column), Html(f.column), Html(f.role), ColumnKindName(f.kind),
        f.tested ? DriftMethodName(f.method) : "–", f.approximate ? " ≈" : "", SortKey(f.score), Num(f.score),
        Num(f.threshold), SortKey(f.p_value), PValueText(f), Html(f.effect_size_name), Num(f.effect_size),
        f.drifted ? 1 : 0, badge, Pct(f.reference.missing_rate()), Pct(f.current.missing_rate()));
  }
  h += "</tbody></table>";

  h += "<h2>Data quality</h2>";
  if (r.quality.empty()) {
    h += "<p>No issues: schema matches, no missing-rate jumps, values within the reference range, no new categories.</p>";
  } else {
    h += "<ul class=\"issues\">";
    for (const QualityIssue& q : r.quality) {
      h += "<li><code>" + Html(q.kind) + "</code> " + (q.column.empty() ? "" : "<b>" + Html(q.column) + "</b>: ") +
           Html(q.message) + "</li>";
    }
    h += "</ul>";
  }

  h += "<h2>Columns</h2>";
  for (const FeatureDrift& f : r.columns) {
    h += fmt::format("<div class=\"feature\" id=\"col-{}\" data-drifted=\"{}\"><h3>{} <span class=\"badge {}\">{}</span></h3>",
                     Html(f.column), f.drifted ? 1 : 0, Html(f.column),
                     !f.tested ? "b-na" : f.drifted ? "b-drift" : "b-ok",
                     !f.tested ? "not tested" : f.drifted ? "drift" : "ok");
    if (!f.tested) {
      h += "<div class=\"stats\">Not tested: one side has no values.</div></div>";
      continue;
    }
    const DriftStats& s = f.stats;
    std::string test = fmt::format("{} ({}): score {} vs threshold {}", DriftMethodName(f.method),
                                   f.role, Num(f.score), Num(f.threshold));
    if (MethodGivesPValue(f.method)) test += ", p-value " + PValueText(f);
    test += ", " + f.effect_size_name + " " + Num(f.effect_size);
    if (f.approximate) test += " (approximate: from sketches)";
    h += "<div class=\"stats\">" + Html(test) + "</div>";
    std::string all;
    if (f.kind == ColumnKind::kNumeric) {
      all = fmt::format("KS D {} (p {}) · Wasserstein {} (normed {}) · PSI {} · Jensen-Shannon {} · Hellinger {}",
                        Num(s.ks_statistic), Num(s.ks_p_value), Num(s.wasserstein), Num(s.wasserstein_normed),
                        Num(s.psi), Num(s.jensen_shannon), Num(s.hellinger));
    } else {
      all = fmt::format("chi-square {} (dof {}, p {}, Cramér's V {}) · PSI {} · Jensen-Shannon {} · Hellinger {}",
                        Num(s.chi2_statistic), s.chi2_dof, Num(s.chi2_p_value), Num(s.cramers_v), Num(s.psi),
                        Num(s.jensen_shannon), Num(s.hellinger));
      if (!std::isnan(s.z_p_value)) all += fmt::format(" · z p {} (Cohen's h {})", Num(s.z_p_value), Num(s.cohens_h));
    }
    h += "<div class=\"stats\">" + Html(all) + "</div>";
    h += f.chart.categorical ? CategoricalSvg(f.chart) : NumericSvg(f.chart);
    const ColumnSummary& a = f.reference;
    const ColumnSummary& b = f.current;
    h += "<table><thead><tr><th></th><th>count</th><th>missing</th>";
    if (f.kind == ColumnKind::kNumeric) {
      h += "<th>min</th><th>p25</th><th>median</th><th>p75</th><th>max</th><th>mean</th><th>std</th></tr></thead><tbody>";
      for (auto [name, x] : {std::pair{"reference", &a}, {"current", &b}}) {
        h += fmt::format(
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>"
            "<td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            name, x->count, Pct(x->missing_rate()), Num(x->min), Num(x->p25), Num(x->median), Num(x->p75),
            Num(x->max), Num(x->mean), Num(x->std));
      }
    } else {
      h += "<th>categories</th></tr></thead><tbody>";
      for (auto [name, x] : {std::pair{"reference", &a}, {"current", &b}}) {
        h += fmt::format("<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                         name, x->count, Pct(x->missing_rate()), x->unique);
      }
    }
    h += "</tbody></table></div>";
  }
  h += "<script>" + std::string(kScript) + "</script></body></html>\n";
  return h;
}

}  // namespace mlforge::monitor
