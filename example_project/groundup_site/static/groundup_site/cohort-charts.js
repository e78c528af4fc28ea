// The cohort dashboard's two charts, drawn with Chart.js from the figures the page embeds as JSON.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("cohort-charts").textContent);
  const accent = "#1b7c83";
  const red = "#c0392b";
  const distribution = document.getElementById("chart-distribution");
  if (distribution) {
    new Chart(distribution, {
      type: "bar",
      data: {
        labels: data.distribution.labels,
        datasets: [{ label: data.distribution.label, data: data.distribution.counts, backgroundColor: accent }],
      },
      options: { animation: false, plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
    });
  }
  const history = document.getElementById("chart-history");
  if (history) {
    new Chart(history, {
      type: "line",
      data: {
        labels: data.history.labels,
        datasets: [
          { label: data.history.label_delayed, data: data.history.delayed, borderColor: red, backgroundColor: red },
          { label: data.history.label_active, data: data.history.active, borderColor: accent, backgroundColor: accent },
        ],
      },
      options: { animation: false, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
    });
  }
})();
