// Candles of a chosen symbol and interval (coinlake.ohlcv_<interval>) with lightweight-charts, volume underneath,
// and — only when the analytics models built coinlake.fact_indicators — SMA/EMA/Bollinger overlays and RSI and MACD
// panes. Without that table nothing is computed here: the page says the indicators are hidden and why.
import { CandlestickSeries, HistogramSeries, LineSeries, createChart } from '/vendor/lightweight-charts.mjs';
import { api } from './api.js';
import { el, int, note, utc } from './format.js';
import { PALETTE } from './line-charts.js';

const $ = (id) => document.getElementById(id);
let chosen;
let chart;

const keyOf = (s) => `${s.exchange}|${s.symbol}|${s.interval}`;

/** Points of a series as [{ time, value }], nulls left out. */
const line = (t, values) => t.flatMap((time, i) => (values[i] == null ? [] : [{ time, value: values[i] }]));

function draw(data) {
  chart?.remove();
  const target = $('chart-candles');
  target.replaceChildren();
  chart = createChart(target, {
    autoSize: true,
    layout: { background: { color: '#ffffff' }, textColor: '#1d2330', panes: { separatorColor: '#e3e6eb' } },
    grid: { vertLines: { color: '#f0f2f5' }, horzLines: { color: '#f0f2f5' } },
    timeScale: { timeVisible: data.interval !== '1d' && data.interval !== '1w' && data.interval !== '1M', borderColor: '#e3e6eb' },
    rightPriceScale: { borderColor: '#e3e6eb' },
  });
  const described = [];
  const add = (label, def, options, points, pane = 0) => {
    const s = chart.addSeries(def, options, pane);
    s.setData(points);
    described.push({ label, pane, points: s.data().length });
    return s;
  };
  add(`${data.symbol} ${data.interval}`, CandlestickSeries, { upColor: '#1f9d55', downColor: '#d64545', borderVisible: false, wickUpColor: '#1f9d55', wickDownColor: '#d64545' },
    data.t.map((time, i) => ({ time, open: data.open[i], high: data.high[i], low: data.low[i], close: data.close[i] })));
  const volume = add('volume', HistogramSeries, { priceFormat: { type: 'volume' }, priceScaleId: 'volume', color: '#9bb4e0' }, line(data.t, data.volume));
  volume.priceScale().applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });

  const ind = data.indicators;
  if (ind.available) {
    Object.entries(ind.overlay).forEach(([name, values], i) =>
      add(name, LineSeries, { color: PALETTE[(i + 1) % PALETTE.length], lineWidth: 1, lineStyle: name.startsWith('bb') || name.startsWith('bollinger') ? 2 : 0, priceLineVisible: false, lastValueVisible: false }, line(data.t, values)));
    let pane = 1;
    if (Object.keys(ind.rsi).length) {
      Object.entries(ind.rsi).forEach(([name, values], i) => add(name, LineSeries, { color: PALETTE[(i + 3) % PALETTE.length], lineWidth: 1, priceLineVisible: false }, line(data.t, values), pane));
      pane++;
    }
    if (Object.keys(ind.macd).length) {
      for (const [name, values] of Object.entries(ind.macd)) {
        const hist = /hist/.test(name);
        add(name, hist ? HistogramSeries : LineSeries, hist ? { color: '#b8c4d8', priceLineVisible: false } : { color: /signal/.test(name) ? PALETTE[1] : PALETTE[0], lineWidth: 1, priceLineVisible: false }, line(data.t, values), pane);
      }
      pane++;
    }
    chart.panes().slice(1).forEach((p) => p.setHeight(110));
  }
  chart.timeScale().fitContent();
  window.coinlake.charts.candles = { kind: 'lightweight-charts', series: described, panes: chart.panes().length, indicators: ind.available, instance: chart };
}

/** Loads the list of candle series, then the chosen one, and draws it. */
export async function renderCandles() {
  const { series } = await api('candles/catalog');
  const select = $('candle-series');
  const limit = $('candle-limit');
  if (series.length === 0) {
    chart?.remove();
    chart = undefined;
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
  note(
    $('indicators-note'),
    data.indicators.available ? '' : `Indicators hidden (SMA/EMA/Bollinger overlays, RSI and MACD panes): ${data.indicators.reason}. Build the analytics models to see them.`,
  );
  draw(data);
}
