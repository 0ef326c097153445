/* global Chart, document */
// Runs inside report.html: turns the chart descriptions embedded in #chart-data (built by
// src/report/charts.ts) into Chart.js charts. Plain browser JavaScript, inlined as-is into the page.
(function () {
  'use strict';

  const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';
  const GRID = '#e7e9ee';
  const INK = '#2b2f36';
  const REFERENCE_DASH = [5, 4];

  Chart.defaults.font.family = FONT;
  Chart.defaults.font.size = 12;
  Chart.defaults.color = INK;
  // Static charts: the page is read and screenshotted, not watched.
  Chart.defaults.animation = false;

  function format(value, kind, forTick) {
    if (value === null || value === undefined || Number.isNaN(value)) return '–';
    if (kind === 'percent') return (value * 100).toFixed(forTick ? 0 : 1) + '%';
    if (kind === 'integer') return String(Math.round(value));
    return String(Number(value.toFixed(forTick ? 2 : 3)));
  }

  function withAlpha(hex, alpha) {
    const n = parseInt(hex.slice(1), 16);
    return 'rgba(' + (n >> 16) + ',' + ((n >> 8) & 255) + ',' + (n & 255) + ',' + alpha + ')';
  }

  /** Lines on the x scale are vertical and carry a label at the top; the others are named in the legend. */
  function isVertical(line) {
    return line.scale === 'x';
  }

  /** Dashed reference lines (chance level, collapse step) drawn over the data. */
  const referenceLines = {
    id: 'referenceLines',
    afterDatasetsDraw(chart, _args, options) {
      const area = chart.chartArea;
      const ctx = chart.ctx;
      for (const line of options.lines || []) {
        const scale = chart.scales[line.scale];
        if (!scale) continue;
        const at = scale.getPixelForValue(line.value);
        const vertical = scale.isHorizontal();
        ctx.save();
        ctx.strokeStyle = line.color;
        ctx.lineWidth = 1.5;
        ctx.setLineDash(REFERENCE_DASH);
        ctx.beginPath();
        if (vertical) {
          ctx.moveTo(at, area.top);
          ctx.lineTo(at, area.bottom);
        } else {
          ctx.moveTo(area.left, at);
          ctx.lineTo(area.right, at);
        }
        ctx.stroke();
        if (vertical) {
          ctx.setLineDash([]);
          ctx.font = '600 11px ' + FONT;
          const width = ctx.measureText(line.label).width + 8;
          const x = Math.min(at + 4, area.right - width);
          ctx.fillStyle = 'rgba(255,255,255,0.9)';
          ctx.fillRect(x, area.top + 4, width, 15);
          ctx.fillStyle = line.color;
          ctx.textBaseline = 'top';
          ctx.fillText(line.label, x + 4, area.top + 6);
        }
        ctx.restore();
      }
    },
  };

  /** Legend entries: lines show their dash pattern (not only colour), plus the horizontal reference lines. */
  function legendLabels(spec) {
    return function (chart) {
      const items = Chart.defaults.plugins.legend.labels.generateLabels(chart);
      for (const item of items) {
        const d = spec.datasets[item.datasetIndex];
        const line = (d.type || spec.type) === 'line';
        item.pointStyle = line ? 'line' : 'rect';
        // With point styles on, Chart.js takes the legend's style from the first point, which has no dash.
        item.lineDash = d.dash || [];
        if (line) item.lineWidth = Math.max(2, item.lineWidth);
        else item.lineWidth = 0;
      }
      for (const line of spec.references || []) {
        if (isVertical(line)) continue;
        items.push({
          text: line.label,
          fillStyle: line.color,
          strokeStyle: line.color,
          fontColor: INK,
          lineWidth: 1.5,
          lineDash: REFERENCE_DASH,
          pointStyle: 'line',
          hidden: false,
        });
      }
      return items;
    };
  }

  function legendClick(event, item, legend) {
    // Reference-line entries are not datasets and cannot be toggled.
    if (item.datasetIndex === undefined) return;
    Chart.defaults.plugins.legend.onClick.call(this, event, item, legend);
  }

  function valueAxis(spec, position, showGrid) {
    return {
      type: 'linear',
      position: position,
      min: spec.min,
      max: spec.max,
      title: { display: true, text: spec.title, font: { weight: '600' } },
      ticks: {
        // A bound like 15 beside the nice tick 14 would crowd the axis; the grid still ends at the bound.
        includeBounds: false,
        callback: function (value) {
          return format(value, spec.format, true);
        },
      },
      grid: { color: GRID, display: showGrid },
      border: { display: false },
    };
  }

  function categoryAxis(spec) {
    return {
      type: 'category',
      title: { display: true, text: spec.title, font: { weight: '600' } },
      grid: { display: false },
    };
  }

  function dataset(spec, d) {
    const line = (d.type || spec.type) === 'line';
    const colors = Array.isArray(d.color) ? d.color : null;
    const out = {
      label: d.label,
      data: d.data,
      borderColor: d.color,
      backgroundColor: colors
        ? colors.map((c) => withAlpha(c, 0.85))
        : line
          ? d.color
          : withAlpha(d.color, 0.85),
      borderWidth: d.width || (line ? 2 : 0),
      borderDash: d.dash || [],
      spanGaps: true,
      valueFormat: d.format || spec.y.format,
    };
    if (d.type) out.type = d.type;
    if (d.axis) out.yAxisID = d.axis;
    if (line) {
      out.pointStyle = d.pointStyle || 'circle';
      out.pointRadius = d.pointStyle === 'line' ? 0 : 2.5;
      out.pointHoverRadius = 5;
      out.tension = 0;
    } else {
      out.borderRadius = 3;
      out.maxBarThickness = 46;
    }
    return out;
  }

  function config(spec) {
    const scales = {};
    if (spec.horizontal) {
      scales.x = valueAxis(spec.x, 'bottom', true);
      scales.y = categoryAxis(spec.y);
    } else {
      scales.x = spec.x.linear ? valueAxis(spec.x, 'bottom', false) : categoryAxis(spec.x);
      scales.y = valueAxis(spec.y, 'left', true);
      if (spec.y2) scales.y2 = valueAxis(spec.y2, 'right', false);
    }
    const datasets = spec.datasets.map((d) => dataset(spec, d));
    const horizontalReferences = (spec.references || []).filter((line) => !isVertical(line));
    return {
      type: spec.type,
      data: { labels: spec.labels, datasets: datasets },
      plugins: [referenceLines],
      options: {
        responsive: true,
        maintainAspectRatio: false,
        indexAxis: spec.horizontal ? 'y' : 'x',
        interaction: { mode: spec.x.linear ? 'nearest' : 'index', intersect: false },
        scales: scales,
        plugins: {
          legend: {
            display: datasets.length + horizontalReferences.length > 1,
            position: 'bottom',
            onClick: legendClick,
            labels: {
              usePointStyle: true,
              pointStyleWidth: spec.type === 'line' ? 28 : undefined,
              boxHeight: 10,
              padding: 14,
              generateLabels: legendLabels(spec),
            },
          },
          tooltip: {
            callbacks: {
              label: function (item) {
                const value = spec.horizontal ? item.parsed.x : item.parsed.y;
                return ' ' + item.dataset.label + ': ' + format(value, item.dataset.valueFormat, false);
              },
            },
          },
          referenceLines: { lines: spec.references || [] },
        },
      },
    };
  }

  const specs = JSON.parse(document.getElementById('chart-data').textContent);
  for (const canvas of document.querySelectorAll('canvas[data-chart]')) {
    const spec = specs[canvas.dataset.chart];
    if (!spec) throw new Error('report: no chart data for canvas ' + canvas.dataset.chart);
    new Chart(canvas, config(spec));
  }
})();
