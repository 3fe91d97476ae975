// Candles of a chosen symbol and interval (coinlake.ohlcv_<interval>) with lightweight-charts, volume underneath,
// and — only when the analytics models built coinlake.fact_indicators — SMA/EMA/Bollinger overlays and RSI and MACD
// panes, with a legend naming every line and a title in each pane. Nothing is computed here: without the table, or
// without values for the chosen candles, the page says so and names the command that computes them.
import { CandlestickSeries, HistogramSeries, LineSeries, LineStyle, createChart } from '/vendor/lightweight-charts.mjs';
import { api } from './api.js';
import { el, int, note, utc } from './format.js';
import { PALETTE } from './line-charts.js';

const $ = (id) => document.getElementById(id);
let chosen;
let chart;
let titleObserver;

/** The command that computes the indicators (coinlake.fact_indicators). */
export const MODELS_COMMAND = 'coinlake models run';
/** Heights the panes are drawn at (px): price with volume and overlays, then RSI and MACD below it. */
const PRICE_PANE = 340;
const INDICATOR_PANE = 150;
const TIME_AXIS = 28;

const keyOf = (s) => `${s.exchange}|${s.symbol}|${s.interval}`;

/** Points of a series as [{ time, value }], nulls left out. */
const line = (t, values) => t.flatMap((time, i) => (values[i] == null ? [] : [{ time, value: values[i] }]));

/** How the page names an indicator column (`sma` → SMA, `bb_upper` → Bollinger upper, `rsi_wilder` → RSI (Wilder)). */
function labelOf(column) {
  const m = /^(sma|ema|bb|bollinger|rsi|macd)(?:_(.*))?$/.exec(column);
  if (!m) return column;
  const [, kind, rest = ''] = m;
  const words = rest.split('_').filter(Boolean);
  const nums = words.filter((w) => /^\d+$/.test(w)).join(', ');
  const names = words.filter((w) => !/^\d+$/.test(w));
  const suffix = nums ? ` ${nums}` : '';
  if (kind === 'sma' || kind === 'ema') return `${kind.toUpperCase()}${suffix}`;
  if (kind === 'bb' || kind === 'bollinger') return `Bollinger ${names[0] === 'mid' ? 'middle' : names[0]}${suffix}`;
  if (kind === 'rsi') return `RSI${suffix}${names.length ? ` (${names.map((w) => (w === 'wilder' ? 'Wilder' : w)).join(' ')})` : ''}`;
  if (names[0] === 'hist' || names[0] === 'histogram') return `MACD histogram${suffix}`;
  return `MACD${names[0] === 'signal' ? ' signal' : ''}${suffix}`;
}

const isBand = (column) => /^(bb|bollinger)_/.test(column);
const hasValues = (values) => values.some((v) => v != null);

/** Indicator columns with at least one value among the drawn candles, by group. */
function withValues(ind) {
  if (!ind.available) return { overlay: [], rsi: [], macd: [] };
  const pick = (group) => Object.entries(group).filter(([, values]) => hasValues(values));
  return { overlay: pick(ind.overlay), rsi: pick(ind.rsi), macd: pick(ind.macd) };
}

/** The note under the series picker when no indicator is drawn, naming the command that computes them. */
function indicatorsNote(data, drawn) {
  const ind = data.indicators;
  if (!ind.available) return `Indicators hidden (SMA/EMA/Bollinger overlays, RSI and MACD panes): ${ind.reason}. Compute them: ${MODELS_COMMAND}`;
  if (data.t.length === 0 || drawn.overlay.length + drawn.rsi.length + drawn.macd.length > 0) return '';
  return `No indicators for ${data.exchange} · ${data.symbol} · ${data.interval} yet: the analytics models have not computed them for these candles. Compute them: ${MODELS_COMMAND}`;
}

/** Puts each pane's title in the top-left corner of its pane (again whenever the chart's size changes). */
function placeTitles(target, titles) {
  titleObserver?.disconnect();
  const place = () => {
    if (!chart) return;
    target.querySelectorAll('.pane-title').forEach((t) => t.remove());
    chart.panes().forEach((pane, i) => {
      // The pane's row holds the left axis, the pane's own cell (position: relative) and the right axis.
      const cell = pane.getHTMLElement()?.children[1];
      if (cell && titles[i]) cell.append(el('div', { class: 'pane-title', 'data-pane': i }, titles[i]));
    });
  };
  place();
  titleObserver = new ResizeObserver(() => requestAnimationFrame(place));
  titleObserver.observe(target);
}

function legendItem(label, key) {
  return el('span', { class: 'legend-item' }, key, label);
}

function draw(data) {
  chart?.remove();
  titleObserver?.disconnect();
  const target = $('chart-candles');
  target.replaceChildren();
  const drawn = withValues(data.indicators);
  const panes = 1 + (drawn.rsi.length ? 1 : 0) + (drawn.macd.length ? 1 : 0);
  target.style.height = `${PRICE_PANE + (panes - 1) * INDICATOR_PANE + TIME_AXIS}px`;
  chart = createChart(target, {
    autoSize: true,
    layout: { background: { color: '#ffffff' }, textColor: '#1d2330', panes: { separatorColor: '#c9ced8', enableResize: false } },
    grid: { vertLines: { color: '#f0f2f5' }, horzLines: { color: '#f0f2f5' } },
    timeScale: { timeVisible: data.interval !== '1d' && data.interval !== '1w' && data.interval !== '1M', borderColor: '#e3e6eb' },
    rightPriceScale: { borderColor: '#e3e6eb' },
  });
  const described = [];
  const legend = [];
  const add = (label, def, options, points, pane = 0) => {
    const s = chart.addSeries(def, options, pane);
    s.setData(points);
    described.push({ label, pane, points: s.data().length });
    return s;
  };
  add(`${data.symbol} ${data.interval}`, CandlestickSeries, { upColor: '#1f9d55', downColor: '#d64545', borderVisible: false, wickUpColor: '#1f9d55', wickDownColor: '#d64545' },
    data.t.map((time, i) => ({ time, open: data.open[i], high: data.high[i], low: data.low[i], close: data.close[i] })));
  legend.push(legendItem(`${data.symbol} ${data.interval} candles`, el('span', { class: 'key candle' })));
  const volume = add('volume', HistogramSeries, { priceFormat: { type: 'volume' }, priceScaleId: 'volume', color: '#9bb4e0', priceLineVisible: false, lastValueVisible: false }, line(data.t, data.volume));
  volume.priceScale().applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
  legend.push(legendItem('volume', el('span', { class: 'key box', style: { background: '#9bb4e0' } })));

  // Overlays: one colour per line; the Bollinger bands share one (dashed) and one legend entry.
  const BAND = PALETTE[3];
  let colour = 0;
  let bandInLegend = false;
  const titles = [`Price — candles, volume${drawn.overlay.length ? ', ' : ''}${[...new Set(drawn.overlay.map(([c]) => (isBand(c) ? 'Bollinger bands' : labelOf(c))))].join(', ')}`];
  for (const [column, values] of drawn.overlay) {
    const band = isBand(column);
    const color = band ? BAND : [PALETTE[0], PALETTE[1], PALETTE[5], PALETTE[6]][colour++ % 4];
    add(labelOf(column), LineSeries, { color, lineWidth: band ? 1 : 1.5, lineStyle: band ? LineStyle.Dashed : LineStyle.Solid, priceLineVisible: false, lastValueVisible: false }, line(data.t, values));
    if (!band) legend.push(legendItem(labelOf(column), el('span', { class: 'key', style: { borderColor: color } })));
    else if (!bandInLegend) {
      bandInLegend = true;
      legend.push(legendItem('Bollinger bands', el('span', { class: 'key dashed', style: { borderColor: color } })));
    }
  }
  let pane = 1;
  if (drawn.rsi.length) {
    drawn.rsi.forEach(([column, values], i) => {
      const color = [PALETTE[5], PALETTE[3], PALETTE[6]][i % 3];
      const s = add(labelOf(column), LineSeries, {
        color,
        lineWidth: 1.5,
        priceLineVisible: false,
        // RSI lives on 0–100 whatever the candles did, so 30 and 70 are always in view.
        autoscaleInfoProvider: () => ({ priceRange: { minValue: 0, maxValue: 100 } }),
      }, line(data.t, values), pane);
      if (i === 0) {
        // Room above 100 for the pane's title, little below 0 (the default margins put a 120 on the axis).
        s.priceScale().applyOptions({ scaleMargins: { top: 0.16, bottom: 0.06 } });
        for (const price of [70, 30]) s.createPriceLine({ price, color: '#8a93a3', lineWidth: 1, lineStyle: LineStyle.Dashed, axisLabelVisible: true, title: price === 70 ? 'overbought' : 'oversold' });
      }
      legend.push(legendItem(labelOf(column), el('span', { class: 'key', style: { borderColor: color } })));
    });
    titles.push('RSI (0–100) — 30 oversold, 70 overbought');
    pane++;
  }
  if (drawn.macd.length) {
    for (const [column, values] of drawn.macd) {
      const hist = /hist/.test(column);
      const color = hist ? '#b8c4d8' : /signal/.test(column) ? PALETTE[1] : PALETTE[0];
      add(labelOf(column), hist ? HistogramSeries : LineSeries, hist ? { color, priceLineVisible: false, lastValueVisible: false } : { color, lineWidth: 1.5, priceLineVisible: false }, line(data.t, values), pane);
      legend.push(legendItem(labelOf(column), el('span', { class: hist ? 'key box' : 'key', style: hist ? { background: color } : { borderColor: color } })));
    }
    titles.push(`MACD — ${drawn.macd.map(([c]) => (/hist/.test(c) ? 'histogram' : /signal/.test(c) ? 'signal' : 'line')).join(', ')}`);
    pane++;
  }
  // Heights as stretch factors of the container's height (set above): the price pane, then each indicator pane.
  chart.panes().forEach((p, i) => p.setStretchFactor(i === 0 ? PRICE_PANE : INDICATOR_PANE));
  chart.timeScale().fitContent();
  $('candles-legend').replaceChildren(...legend);
  placeTitles(target, titles);
  window.coinlake.charts.candles = { kind: 'lightweight-charts', series: described, panes: chart.panes().length, indicators: panes > 1 || drawn.overlay.length > 0, paneTitles: titles, instance: chart };
  return drawn;
}

/** Loads the list of candle series, then the chosen one, and draws it. */
export async function renderCandles() {
  const { series } = await api('candles/catalog');
  const select = $('candle-series');
  const limit = $('candle-limit');
  if (series.length === 0) {
    chart?.remove();
    chart = undefined;
    titleObserver?.disconnect();
    $('chart-candles').style.height = '';
    $('candles-legend').replaceChildren();
    select.replaceChildren(el('option', { value: '' }, 'none loaded'));
    $('chart-candles').replaceChildren(el('div', { class: 'nodata' }, 'no candles yet'));
    note($('candles-note'), 'No candles are loaded yet. Load some: npx coinlake --replay run binance.klines --asset BTCUSDT --interval 1m --from 2024-12-30 --to 2024-12-31');
    note($('indicators-note'), '');
    window.coinlake.charts.candles = { kind: 'lightweight-charts', series: [], empty: true };
    return;
  }
  note($('candles-note'), '');
  if (!chosen || !series.some((s) => keyOf(s) === chosen)) {
    chosen = keyOf(series.find((s) => s.symbol === 'BTC-USDT' && s.interval === '1h') ?? series[0]);
  }
  select.replaceChildren(...series.map((s) => el('option', { value: keyOf(s), selected: keyOf(s) === chosen }, `${s.exchange} · ${s.symbol} · ${s.interval} (${int(s.candles)}, ${utc(s.from).slice(0, 10)} → ${utc(s.to).slice(0, 10)})`)));
  select.onchange = () => ((chosen = select.value), void renderCandles());
  limit.onchange = () => void renderCandles();
  const [exchange, symbol, interval] = chosen.split('|');
  const data = await api('candles', { exchange, symbol, interval, limit: limit.value });
  const drawn = draw(data);
  note($('indicators-note'), indicatorsNote(data, drawn));
}
