// Cross-venue divergence of a chosen pair and grain (coinlake.fact_price_divergence, #25): each venue's price beside
// the cross-venue median, the spread and each venue's deviation in bps, and the alert episodes — a venue more than N
// bps off the median for at least M consecutive times, "open" while the episode reaches the pair's latest time.
// The pairs come from the table; without it (or without rows) the panel says which command builds it.
import { api } from './api.js';
import { badge, el, int, note, price, renderTable, utc } from './format.js';
import { PALETTE, drawLines } from './line-charts.js';

const $ = (id) => document.getElementById(id);
/** The chosen pair as `symbol|grain`; kept across refreshes while the table holds it. */
let chosen;
/** Counts renders: an answer that arrives after a newer render began (another pair, other thresholds) is dropped. */
let generation = 0;

const keyOf = (p) => `${p.symbol}|${p.grain}`;
const UNIT = { '1m': ['minute', 'minutes'], '1h': ['hour', 'hours'] };
/** Basis points with one decimal (the alerts table). */
const bps = (v) => (v == null || !Number.isFinite(v) ? '—' : `${v.toFixed(1)} bps`);
/** Basis points on a chart: whole ticks without decimals. */
const bpsAxis = (v) => (v == null || !Number.isFinite(v) ? '—' : `${Number.isInteger(v) ? v : v.toFixed(1)} bps`);

function clearCharts(text) {
  for (const [key, id] of [['divergencePrice', 'chart-divergence-price'], ['divergenceSpread', 'chart-divergence-spread'], ['divergenceDeviation', 'chart-divergence-deviation']]) {
    drawLines(key, $(id), { series: [], emptyText: text });
  }
}

/** The alerts table's columns; `many` names the grain's unit (`minutes`, `hours`). */
const alertColumns = (many) => [
  { label: 'venue', value: (a) => a.exchange },
  { label: 'from (UTC)', value: (a) => utc(a.from), cls: () => 'time' },
  { label: 'to (UTC)', value: (a) => utc(a.to), cls: () => 'time' },
  { label: `length (${many})`, num: true, value: (a) => int(a.length) },
  { label: 'max |deviation|', num: true, value: (a) => bps(a.maxAbsBps) },
  { label: 'state', value: (a) => badge(a.open ? 'open' : 'closed') },
];

function renderAlerts(data) {
  const [one, many] = UNIT[data.grain];
  $('divergence-rule').textContent =
    `Alerts: a venue more than ${data.maxBps} bps from the median for at least ${data.consecutive} consecutive ${many}; ` +
    `open while the episode reaches the pair's latest ${one} (${utc(data.latest)} UTC).` +
    (data.alertsTotal > data.alerts.length ? ` Newest ${data.alerts.length} of ${int(data.alertsTotal)} shown.` : '');
  renderTable($('divergence-table'), alertColumns(many), data.alerts, `no venue was more than ${data.maxBps} bps off for ${data.consecutive} ${many} in a row`);
}

/** Loads the pairs of fact_price_divergence, then the chosen one, and draws it. */
export async function renderDivergence() {
  const mine = ++generation;
  const list = await api('divergence/pairs');
  if (mine !== generation) return;
  const select = $('divergence-pair');
  const pairs = list.available ? list.pairs : [];
  if (pairs.length === 0) {
    chosen = undefined;
    select.replaceChildren(el('option', { value: '' }, 'none'));
    note($('divergence-note'), list.available
      ? 'coinlake.fact_price_divergence holds no rows yet: load candles of a pair from two or more venues, then run `coinlake models run`.'
      : list.reason);
    clearCharts(list.available ? 'no divergence rows yet' : 'fact_price_divergence not built');
    $('divergence-rule').textContent = '';
    renderTable($('divergence-table'), alertColumns('times'), [], 'no alerts: nothing to compare yet');
    return;
  }
  note($('divergence-note'), '');
  if (!chosen || !pairs.some((p) => keyOf(p) === chosen)) {
    // Prefer the pair with the most venues (the one there is something to compare on), minutes before hours.
    const best = [...pairs].sort((a, b) => b.venues.length - a.venues.length || (a.grain === '1m' ? -1 : 1) - (b.grain === '1m' ? -1 : 1))[0];
    chosen = keyOf(best);
  }
  select.replaceChildren(...pairs.map((p) => el('option', { value: keyOf(p), selected: keyOf(p) === chosen },
    `${p.symbol} · ${p.grain} (${p.venues.length} venue${p.venues.length === 1 ? '' : 's'}, ${int(p.times)} ${UNIT[p.grain][p.times === 1 ? 0 : 1]}, ${utc(p.from).slice(0, 16)} → ${utc(p.to).slice(0, 16)})`)));
  select.onchange = () => ((chosen = select.value), void renderDivergence());
  const bpsInput = $('divergence-bps');
  const runInput = $('divergence-run');
  bpsInput.onchange = runInput.onchange = () => void renderDivergence();
  const [symbol, grain] = chosen.split('|');
  const data = await api('divergence', { symbol, grain, max_bps: bpsInput.value, consecutive: runInput.value });
  if (mine !== generation) return;

  const colour = (i) => PALETTE[i % PALETTE.length];
  drawLines('divergencePrice', $('chart-divergence-price'), {
    series: [
      ...data.venues.map((v, i) => ({ label: v.exchange, color: colour(i), t: v.t, values: v.price })),
      { label: 'median', color: '#1d2330', dash: [6, 4], t: data.median.t, values: data.median.values },
    ],
    log: false,
    format: price,
    emptyText: 'no prices for this pair',
  });
  drawLines('divergenceSpread', $('chart-divergence-spread'), {
    series: [{ label: 'spread (bps)', color: PALETTE[4], t: data.spread.t, values: data.spread.values }],
    log: false,
    format: bpsAxis,
    emptyText: 'no spread for this pair',
  });
  const edge = (sign) => ({ label: `${sign > 0 ? '+' : '−'}${data.maxBps} bps`, color: '#8a93a3', dash: [3, 3], t: data.median.t, values: data.median.t.map(() => sign * data.maxBps) });
  drawLines('divergenceDeviation', $('chart-divergence-deviation'), {
    series: [...data.venues.map((v, i) => ({ label: v.exchange, color: colour(i), t: v.t, values: v.deviationBps })), edge(1), edge(-1)],
    log: false,
    format: bpsAxis,
    emptyText: 'no deviations for this pair',
  });
  renderAlerts(data);
  window.coinlake.divergence = { symbol: data.symbol, grain: data.grain, alerts: data.alerts.length };
}
