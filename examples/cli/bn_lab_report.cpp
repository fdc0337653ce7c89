// wick bn-lab --report DIR: the experiments run, as one self-contained HTML page (no requests:
// styles inline, charts as inline SVG), readable on a phone and a desktop.

#include "bn_lab.h"
#include "core/atomic_file.h"

namespace wick::cli {
namespace {

std::string html(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

// Every number of `j` as (dotted key, JSON text), depth first: the rows of the numbers table.
void flatten(const nlohmann::json& j, const std::string& key, std::vector<std::pair<std::string, std::string>>& rows) {
  if (j.is_object()) {
    for (auto& [k, v] : j.items()) flatten(v, key.empty() ? k : key + "." + k, rows);
  } else if (j.is_array()) {
    for (size_t i = 0; i < j.size(); ++i) flatten(j[i], key + "." + std::to_string(i), rows);
  } else {
    rows.emplace_back(key, j.dump());
  }
}

constexpr const char* kStyle = R"(
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 0 auto; padding: 1rem; line-height: 1.45;
       color: #222; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.25rem; margin-top: 2.5rem; border-bottom: 1px solid #ccc; }
nav a { margin-right: 0.8rem; white-space: nowrap; }
pre { background: #f6f6f6; padding: 0.6rem; overflow-x: auto; font-size: 0.85rem; }
.chart svg { max-width: 100%; height: auto; border: 1px solid #eee; }
.verdict { padding: 0.6rem 0.8rem; border-left: 5px solid #2a7; background: #eef8f1; }
.verdict.failed { border-color: #c33; background: #fbeeee; }
table { border-collapse: collapse; font-size: 0.85rem; } td { padding: 0.1rem 0.6rem; border-bottom: 1px solid #eee; }
td.value { font-family: monospace; text-align: right; }
)";

}  // namespace

void write_lab_report(const std::string& dir, const std::vector<std::pair<const Experiment*, const Lab*>>& runs) {
  std::string page = "<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
                     "<meta name='viewport' content='width=device-width, initial-scale=1'>\n"
                     "<title>wick bn-lab</title>\n<style>" + std::string(kStyle) + "</style>\n</head>\n<body>\n"
                     "<h1>wick bn-lab: batch normalization, measured</h1>\n<nav>";
  for (const auto& [e, lab] : runs) page += "<a href='#" + std::string(e->name) + "'>" + e->name + "</a> ";
  page += "</nav>\n";
  for (const auto& [e, lab] : runs) {
    page += "<section class='experiment' id='" + std::string(e->name) + "'>\n<h2>" + e->name + ": " + html(e->summary) +
            "</h2>\n";
    std::string lines;  // consecutive printed lines go into one <pre>
    auto flush = [&] {
      if (!lines.empty()) page += "<pre>" + lines + "</pre>\n";
      lines.clear();
    };
    for (const LabBlock& b : lab->blocks()) {
      if (b.kind == LabBlock::Say) {
        lines += html(b.text) + "\n";
        continue;
      }
      flush();
      if (b.kind == LabBlock::Explain) page += "<p>" + html(b.text) + "</p>\n";
      if (b.kind == LabBlock::Chart) page += "<div class='chart'>" + b.text + "</div>\n";
      if (b.kind == LabBlock::Verdict)
        page += std::string("<p class='verdict") + (b.holds ? "" : " failed") + "'><b>verdict:</b> " +
                (b.holds ? "" : "NOT SHOWN: ") + html(b.text) + "</p>\n";
    }
    flush();
    std::vector<std::pair<std::string, std::string>> rows;
    flatten(lab->numbers(), "", rows);
    page += "<details><summary>every number measured (" + std::to_string(rows.size()) +
            ", as --json gives them)</summary>\n<table class='numbers'>\n";
    for (const auto& [key, value] : rows)
      page += "<tr><td class='key'>" + html(key) + "</td><td class='value'>" + html(value) + "</td></tr>\n";
    page += "</table>\n</details>\n</section>\n";
  }
  page += "</body>\n</html>\n";
  write_file_atomic(dir + "/index.html", [&](std::ostream& out) { out << page; });
}

}  // namespace wick::cli
