// The workbench's own script: draws the process diagram in the browser, so every label
// (Chinese included) stays text in the page. No inline scripts (see the CSP). Charts and
// sortable tables are the dashboard's script (/web/static/charts/dashboard.js).
(function () {
  "use strict";
  function drawDiagrams() {
    if (typeof mermaid === "undefined") { return; }
    mermaid.initialize({ startOnLoad: false, securityLevel: "strict", theme: "neutral" });
    mermaid.run({ querySelector: "pre.mermaid" }).then(function () {
      document.querySelectorAll("pre.mermaid").forEach(function (el) {
        el.dataset.drawn = "true";
      });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawDiagrams);
  } else { drawDiagrams(); }
})();
