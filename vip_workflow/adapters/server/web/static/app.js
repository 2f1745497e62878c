// The workbench's own script: draws the charts and the process diagram in the browser, so
// every label (Chinese included) stays text in the page. No inline scripts (see the CSP).
(function () {
  "use strict";
  function drawCharts() {
    if (typeof echarts === "undefined") { return; }
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var source = document.getElementById(el.dataset.chart);
      if (!source) { return; }
      var chart = echarts.init(el, null, { renderer: "svg" });
      chart.setOption(JSON.parse(source.textContent));
      el.dataset.drawn = "true";
      window.addEventListener("resize", function () { chart.resize(); });
    });
  }
  function drawDiagrams() {
    if (typeof mermaid === "undefined") { return; }
    mermaid.initialize({ startOnLoad: false, securityLevel: "strict", theme: "neutral" });
    mermaid.run({ querySelector: "pre.mermaid" }).then(function () {
      document.querySelectorAll("pre.mermaid").forEach(function (el) {
        el.dataset.drawn = "true";
      });
    });
  }
  function start() { drawCharts(); drawDiagrams(); }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else { start(); }
})();
