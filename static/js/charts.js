// Charts of the order analytics page: a <canvas data-chart="ID" data-chart-src="…/chart.umd.min.js"> is drawn
// from the JSON in <script type="application/json" id="ID"> ({labels, revenue, orders, currency}) with the
// vendored Chart.js, which this script loads once per document, only when a page has such a canvas (no
// inline script: the CSP forbids them; Chart.js writes no <style>, only the canvas's sizes through the
// CSSOM, which the CSP allows). Loaded again by a boosted navigation: its listeners are installed once, and
// a filter change (an htmx swap of the figures) draws the new canvas.
(function () {
  "use strict";
  if (window.leadforgeCharts) { window.leadforgeCharts.drawAll(document); return; }

  function withChart(src, callback) { window.Leadforge.withLibrary("Chart", src, callback); }

  function readData(canvas) {
    var holder = document.getElementById(canvas.getAttribute("data-chart"));
    if (!holder) return null;
    try { return JSON.parse(holder.textContent); } catch (e) { return null; }
  }

  function money(currency) {
    var format;
    try {
      format = new Intl.NumberFormat(undefined, { style: "currency", currency: currency });
    } catch (e) {
      format = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    }
    return function (value) { return format.format(value); };
  }

  function ratioFor(width) { return width && width < 560 ? 1.4 : 3; }

  function draw(Chart, canvas, data) {
    var existing = Chart.getChart(canvas);
    if (existing) existing.destroy();
    var styles = getComputedStyle(document.documentElement);
    var accent = styles.getPropertyValue("--accent").trim() || "#4f46e5";
    var muted = styles.getPropertyValue("--text-muted").trim() || "#6b7280";
    var asMoney = money(data.currency);
    new Chart(canvas, {
      data: {
        labels: data.labels,
        datasets: [
          { type: "bar", label: "Revenue (" + data.currency + ")", data: data.revenue, yAxisID: "revenue",
            backgroundColor: accent, borderRadius: 3, order: 2 },
          { type: "line", label: "Paid orders", data: data.orders, yAxisID: "orders", borderColor: muted,
            backgroundColor: muted, tension: 0, pointRadius: data.labels.length > 62 ? 0 : 2, order: 1 },
        ],
      },
      options: {
        responsive: true,
        maintainAspectRatio: true,
        aspectRatio: ratioFor(canvas.parentNode.clientWidth),
        onResize: function (chart, size) {  // taller on a phone, where 30 bars are narrow
          var ratio = ratioFor(size.width);
          if (chart.options.aspectRatio !== ratio) { chart.options.aspectRatio = ratio; chart.resize(); }
        },
        animation: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { ticks: { autoSkip: true, maxRotation: 0 } },
          revenue: { position: "left", beginAtZero: true, ticks: { callback: asMoney } },
          orders: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false },
                    ticks: { precision: 0 } },
        },
        plugins: {
          legend: { position: "bottom" },
          tooltip: { callbacks: { label: function (item) {
            return item.dataset.yAxisID === "revenue" ? "Revenue: " + asMoney(item.parsed.y)
              : "Paid orders: " + item.parsed.y;
          } } },
        },
      },
    });
    canvas.setAttribute("data-chart-drawn", "true");
  }

  function drawAll(root) {
    var canvases = (root.querySelectorAll ? root : document).querySelectorAll("canvas[data-chart]");
    Array.prototype.forEach.call(canvases, function (canvas) {
      if (canvas.getAttribute("data-chart-drawn")) return;
      var data = readData(canvas);
      if (!data) return;
      withChart(canvas.getAttribute("data-chart-src"), function (Chart) {
        if (Chart && canvas.isConnected) draw(Chart, canvas, data);
      });
    });
  }

  window.leadforgeCharts = { drawAll: drawAll };
  document.addEventListener("htmx:load", function (event) { drawAll(event.target || document); });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  } else {
    drawAll(document);
  }
})();
