// Charts of the funnel analytics pages: a <canvas data-analytics-chart="ID" data-chart-src="…/chart.umd.min.js"> is
// drawn from the JSON in <script type="application/json" id="ID"> (app/analytics/charts.py writes it:
// {labels, datasets: [{label, data, type, axis}], axes: {y, y2}, horizontal, currency}) with the vendored Chart.js,
// loaded once per document and only when a page has such a canvas. No inline script (the CSP forbids them);
// Chart.js writes no <style>, only the canvas's sizes through the CSSOM, which the CSP allows. Loaded again by a
// boosted navigation: its listeners are installed once; an htmx swap (the realtime tab every 5 seconds) draws the
// new canvases it brings.
(function () {
  "use strict";
  if (window.leadforgeAnalytics) { window.leadforgeAnalytics.drawAll(document); return; }

  function withChart(src, callback) { window.Leadforge.withLibrary("Chart", src, callback); }

  function readData(canvas) {
    var holder = document.getElementById(canvas.getAttribute("data-analytics-chart"));
    if (!holder) return null;
    try { return JSON.parse(holder.textContent); } catch (e) { return null; }
  }

  function formatter(kind, currency) {
    if (kind === "money") {
      var money;
      try {
        money = new Intl.NumberFormat(undefined, { style: "currency", currency: currency || "USD" });
      } catch (e) {
        money = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
      }
      return function (value) { return money.format(value); };
    }
    if (kind === "percent") return function (value) { return Math.round(value * 10) / 10 + "%"; };
    if (kind === "seconds") return function (value) { return value + " s"; };
    var number = new Intl.NumberFormat();
    return function (value) { return number.format(value); };
  }

  function ratioFor(width, horizontal, rows) {
    if (horizontal) return Math.max(1.2, Math.min(4, 8 / Math.max(rows, 1)));
    return width && width < 560 ? 1.4 : 3;
  }

  function draw(Chart, canvas, data) {
    var existing = Chart.getChart(canvas);
    if (existing) existing.destroy();
    var styles = getComputedStyle(document.documentElement);
    var colours = [styles.getPropertyValue("--accent").trim() || "#4f46e5",
                   styles.getPropertyValue("--text-muted").trim() || "#6b7280",
                   styles.getPropertyValue("--danger").trim() || "#dc2626",
                   styles.getPropertyValue("--success").trim() || "#059669"];
    var axes = data.axes || { y: "number" };
    var valueAxis = data.horizontal ? "x" : "y";
    var format = { y: formatter(axes.y, data.currency), y2: formatter(axes.y2 || "number", data.currency) };
    var many = data.labels.length > 62;
    var datasets = data.datasets.map(function (set, index) {
      var colour = colours[index % colours.length];
      var shaped = { type: set.type || "bar", label: set.label, data: set.data, borderColor: colour,
                     backgroundColor: colour, order: set.type === "line" ? 1 : 2 };
      shaped[valueAxis + "AxisID"] = set.axis === "y2" ? "y2" : valueAxis;
      if (set.type === "line") { shaped.tension = 0; shaped.pointRadius = many ? 0 : 2; shaped.fill = false; }
      else { shaped.borderRadius = 3; }
      return shaped;
    });
    var scales = {};
    scales[valueAxis] = { beginAtZero: true, ticks: { precision: axes.y === "number" ? 0 : undefined,
                                                      callback: function (value) { return format.y(value); } } };
    if (axes.y2) {
      scales.y2 = { position: data.horizontal ? "top" : "right", beginAtZero: true, grid: { drawOnChartArea: false },
                    ticks: { precision: axes.y2 === "number" ? 0 : undefined,
                             callback: function (value) { return format.y2(value); } } };
      if (axes.y2 === "percent") scales.y2.max = 100;
    }
    scales[data.horizontal ? "y" : "x"] = { ticks: { autoSkip: true, maxRotation: 0 } };
    new Chart(canvas, {
      data: { labels: data.labels, datasets: datasets },
      options: {
        indexAxis: data.horizontal ? "y" : "x",
        responsive: true,
        maintainAspectRatio: true,
        aspectRatio: ratioFor(canvas.parentNode.clientWidth, data.horizontal, data.labels.length),
        onResize: function (chart, size) {
          var ratio = ratioFor(size.width, data.horizontal, data.labels.length);
          if (chart.options.aspectRatio !== ratio) { chart.options.aspectRatio = ratio; chart.resize(); }
        },
        animation: false,
        interaction: { mode: "index", intersect: false },
        scales: scales,
        plugins: {
          legend: { display: datasets.length > 1, position: "bottom" },
          tooltip: { callbacks: { label: function (item) {
            var axis = item.dataset[valueAxis + "AxisID"] === "y2" ? "y2" : "y";
            var value = data.horizontal ? item.parsed.x : item.parsed.y;
            return item.dataset.label + ": " + format[axis](value);
          } } },
        },
      },
    });
    canvas.setAttribute("data-chart-drawn", "true");
  }

  function drawAll(root) {
    var canvases = (root.querySelectorAll ? root : document).querySelectorAll("canvas[data-analytics-chart]");
    Array.prototype.forEach.call(canvases, function (canvas) {
      if (canvas.getAttribute("data-chart-drawn")) return;
      var data = readData(canvas);
      if (!data) return;
      withChart(canvas.getAttribute("data-chart-src"), function (Chart) {
        if (Chart && canvas.isConnected) draw(Chart, canvas, data);
      });
    });
  }

  window.leadforgeAnalytics = { drawAll: drawAll };
  document.addEventListener("htmx:load", function (event) { drawAll(event.target || document); });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  } else {
    drawAll(document);
  }
})();
