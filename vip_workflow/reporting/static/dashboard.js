// The dashboard's script, shared by the workbench and the static report: draws the charts
// from their ECharts options (SVG renderer, so every label, Chinese included, stays text)
// and makes tables marked data-sortable sortable. No network, no inline handlers.
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
  // Each heading of a sortable table becomes a button that sorts by its column (numbers as
  // numbers, text in the page's language), again to reverse.
  function cellValue(row, index) {
    var text = row.cells[index] ? row.cells[index].textContent.trim() : "";
    var number = parseFloat(text.replace(/[,%\s]/g, ""));
    return isNaN(number) || !/^[-+]?[\d,.]+\s*%?$/.test(text) ? text : number;
  }
  function makeSortable(table) {
    var lang = document.documentElement.lang || "zh-CN";
    table.querySelectorAll("thead th").forEach(function (th, index) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "sort";
      button.textContent = th.textContent;
      th.textContent = "";
      th.appendChild(button);
      button.addEventListener("click", function () {
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        var up = th.getAttribute("aria-sort") !== "ascending";
        table.querySelectorAll("thead th").forEach(function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", up ? "ascending" : "descending");
        rows.sort(function (a, b) {
          var x = cellValue(a, index), y = cellValue(b, index);
          var order = typeof x === "number" && typeof y === "number" ? x - y
            : String(x).localeCompare(String(y), lang);
          return up ? order : -order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  }
  function start() {
    document.querySelectorAll("table[data-sortable]").forEach(makeSortable);
    drawCharts();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else { start(); }
})();
