// uPlot line and bar charts of the page. Every chart is registered in `window.coinlake.charts[key]` with its series
// labels and point counts (read from the uPlot instance itself), so a browser test can check what was drawn.
import uPlot from '/vendor/uplot.mjs';
import { compact } from './format.js';

export const PALETTE = ['#2f6fde', '#e8793a', '#1f9d55', '#a24bd6', '#d64545', '#0f9fb0', '#c98a00', '#6b7383', '#d94f9b', '#3b3f99'];

const charts = new Map();
const HEIGHT = 240;

/** Series labels and non-null point counts of a uPlot instance. */
function describe(u) {
  return u.series.slice(1).map((s, i) => ({ label: s.label, points: u.data[i + 1].filter((v) => v != null).length }));
}

function register(key, entry) {
  window.coinlake.charts[key] = entry;
}

function clear(key, target, emptyText) {
  charts.get(key)?.destroy();
  charts.delete(key);
  target.replaceChildren();
  if (emptyText) {
    const msg = document.createElement('div');
    msg.className = 'nodata';
    msg.textContent = emptyText;
    target.append(msg);
  }
  register(key, { kind: 'uplot', series: [], empty: true });
}

/** Joins series with their own time axes into one x axis (sorted union) with nulls where a series has no point. */
export function align(list) {
  const xs = [...new Set(list.flatMap((s) => s.t))].sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const ys = list.map((s) => {
    const out = new Array(xs.length).fill(null);
    s.t.forEach((t, i) => (out[index.get(t)] = s.values[i]));
    return out;
  });
  return { x: xs, ys };
}

/** True when the positive values span more than `ratio` (a log axis then reads better). */
function wideRange(ys, ratio = 20) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const y of ys) for (const v of y) if (v != null && v > 0) (lo = Math.min(lo, v)), (hi = Math.max(hi, v));
  return hi / lo > ratio;
}

/** Width of a y axis: 64 px, or more when its longest tick label needs it (`60,250.00`, `-50 bps`). */
function axisSize(u, values) {
  const longest = Math.max(0, ...(values ?? []).map((v) => String(v).length));
  return Math.max(64, longest * 7 + 20);
}

/**
 * Draws a time-series line chart. `series`: `{ label, color, t, values, dash?, stepped? }`; `invert` puts small values
 * on top (ranks); `log` is 'auto' (default), true or false. Without any point it shows `emptyText`.
 */
export function drawLines(key, target, { series, invert = false, log = 'auto', emptyText = 'no data', format = compact }) {
  const usable = series.filter((s) => s.values.some((v) => v != null));
  if (usable.length === 0) return clear(key, target, emptyText);
  const { x, ys } = align(usable);
  const useLog = log === 'auto' ? !invert && wideRange(ys) : log;
  const few = x.length < 40;
  const opts = {
    width: Math.max(300, target.clientWidth),
    height: HEIGHT,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC'),
    legend: { live: true },
    cursor: { points: { size: 6 } },
    // A single time would get a years-wide axis; give it an hour either side instead.
    scales: { x: { time: true, ...(x[0] === x[x.length - 1] ? { auto: false, range: [x[0] - 3600, x[0] + 3600] } : {}) }, y: { distr: useLog ? 3 : 1, dir: invert ? -1 : 1 } },
    axes: [{ stroke: '#6b7383', grid: { stroke: '#eef0f3' } }, { stroke: '#6b7383', grid: { stroke: '#eef0f3' }, ticks: { show: !useLog }, size: axisSize, values: (u, splits) => splits.map((v) => format(v)) }],
    series: [
      { label: 'time (UTC)' },
      ...usable.map((s) => ({
        label: s.label,
        stroke: s.color,
        width: 1.5,
        dash: s.dash,
        spanGaps: true,
        paths: s.stepped ? uPlot.paths.stepped({ align: 1 }) : undefined,
        points: { show: few, size: 6, fill: s.color },
        value: (u, v) => (v == null ? '—' : format(v)),
      })),
    ],
  };
  charts.get(key)?.destroy();
  target.replaceChildren();
  const u = new uPlot(opts, [x, ...ys], target);
  charts.set(key, u);
  register(key, { kind: 'uplot', series: describe(u), log: useLog, instance: u });
}

const short = (label) => (label.length > 14 ? `${label.slice(0, 13)}…` : label);

/** Draws a bar chart of labelled values (`labels[i]` under bar i). */
export function drawBars(key, target, { labels, values, color = PALETTE[0], label = 'value', emptyText = 'no data', format = compact }) {
  if (!values.some((v) => v != null)) return clear(key, target, emptyText);
  const x = labels.map((_, i) => i);
  const opts = {
    width: Math.max(300, target.clientWidth),
    height: HEIGHT,
    legend: { show: false },
    cursor: { points: { show: false } },
    scales: { x: { time: false, range: [-0.6, labels.length - 0.4] } },
    axes: [
      { stroke: '#6b7383', grid: { show: false }, splits: () => x, values: (u, splits) => splits.map((i) => short(labels[i] ?? '')), rotate: labels.length > 6 ? -35 : 0, size: labels.length > 6 ? 80 : 40 },
      { stroke: '#6b7383', grid: { stroke: '#eef0f3' }, size: 64, values: (u, splits) => splits.map((v) => format(v)) },
    ],
    series: [{}, { label, fill: color + 'cc', stroke: color, paths: uPlot.paths.bars({ size: [0.7, 60] }), points: { show: false } }],
  };
  charts.get(key)?.destroy();
  target.replaceChildren();
  const u = new uPlot(opts, [x, values], target);
  charts.set(key, u);
  register(key, { kind: 'uplot', series: describe(u), labels, instance: u });
}

addEventListener('resize', () => {
  for (const u of charts.values()) u.setSize({ width: Math.max(300, u.root.parentElement.clientWidth), height: HEIGHT });
});
