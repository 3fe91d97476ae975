// Exchanges: share of total volume and volume USD of the current snapshot (top 10), and volume and rank over time
// for the chosen exchanges from every observed change of their snapshot rows (change events). Until the user picks,
// the top three by rank are shown, chosen again on every refresh (a page opened on an empty warehouse picks them once
// data arrives).
import { api } from './api.js';
import { compact, el, int, note, pct, renderTable, utc } from './format.js';
import { PALETTE, drawBars, drawLines } from './line-charts.js';

const $ = (id) => document.getElementById(id);
let selected;
let known = [];
/** True once the user added or removed an exchange: from then on the selection is theirs. */
let userChose = false;

const colorOf = (id) => PALETTE[selected.indexOf(id) % PALETTE.length];

function renderPicker(onChange) {
  const add = $('exchange-add');
  const options = known.filter((x) => !selected.includes(x.id));
  add.replaceChildren(el('option', { value: '' }, `— ${options.length} more —`), ...options.map((x) => el('option', { value: x.id }, `#${x.rank ?? '?'} ${x.name ?? x.id}`)));
  add.onchange = () => {
    if (!add.value) return;
    selected = [...selected, add.value].slice(-10);
    userChose = true;
    onChange();
  };
  $('exchange-chips').replaceChildren(
    ...selected.map((id) =>
      el('span', { class: 'chip', 'data-exchange': id }, el('span', { class: 'swatch', style: { background: colorOf(id) } }), known.find((x) => x.id === id)?.name ?? id,
        el('button', { title: `remove ${id}`, 'aria-label': `remove ${id}`, onclick: () => ((selected = selected.filter((x) => x !== id)), (userChose = true), onChange()) }, '×')),
    ),
  );
}

/** Loads the exchange snapshot and the chosen exchanges' history, and draws them. */
export async function renderExchanges() {
  const list = await api('exchanges');
  known = list.available ? list.exchanges : [];
  note($('exchanges-note'), list.available ? '' : list.reason);
  selected = (userChose ? selected : known.slice(0, 3).map((x) => x.id)).filter((id) => known.some((x) => x.id === id));
  window.coinlake.selectedExchanges = [...selected];
  renderPicker(() => void renderExchanges());

  const byShare = known.filter((x) => x.percentTotalVolume != null).sort((a, b) => b.percentTotalVolume - a.percentTotalVolume);
  const top = byShare.slice(0, 10);
  const rest = byShare.slice(10).reduce((sum, x) => sum + x.percentTotalVolume, 0);
  drawBars('share', $('chart-share'), {
    labels: [...top.map((x) => x.name ?? x.id), ...(byShare.length > 10 ? [`${byShare.length - 10} others`] : [])],
    values: [...top.map((x) => x.percentTotalVolume), ...(byShare.length > 10 ? [rest] : [])],
    label: 'share of total volume',
    format: (v) => `${v.toFixed(v < 10 ? 1 : 0)} %`,
    emptyText: 'no exchange volumes yet',
  });
  const byVolume = known.filter((x) => x.volumeUsd != null).sort((a, b) => b.volumeUsd - a.volumeUsd).slice(0, 10);
  drawBars('volume', $('chart-volume'), { labels: byVolume.map((x) => x.name ?? x.id), values: byVolume.map((x) => x.volumeUsd), color: PALETTE[1], label: 'volume USD', emptyText: 'no exchange volumes yet' });

  const trends = selected.length ? (await api('exchanges/trends', { ids: selected.join(',') })).series : [];
  drawLines('exchangeVolume', $('chart-exchange-volume'), {
    series: trends.map((s) => ({ label: s.id, color: colorOf(s.id), t: s.t, values: s.volumeUsd })),
    emptyText: selected.length ? 'no snapshot changes recorded for the chosen exchanges' : known.length ? 'choose an exchange' : 'no exchanges loaded yet',
  });
  drawLines('exchangeRank', $('chart-exchange-rank'), {
    series: trends.map((s) => ({ label: s.id, color: colorOf(s.id), t: s.t, values: s.rank, stepped: true })),
    invert: true,
    log: false,
    format: (v) => (Number.isInteger(v) ? String(v) : ''),
    emptyText: selected.length ? 'no snapshot changes recorded for the chosen exchanges' : known.length ? 'choose an exchange' : 'no exchanges loaded yet',
  });

  renderTable($('exchange-table'), [
    { label: 'rank', num: true, value: (x) => x.rank ?? '—' },
    { label: 'exchange', value: (x) => x.name ?? x.id },
    { label: 'share of volume', num: true, value: (x) => pct(x.percentTotalVolume) },
    { label: 'volume USD', num: true, value: (x) => compact(x.volumeUsd) },
    { label: 'pairs', num: true, value: (x) => int(x.tradingPairs) },
    { label: 'updated (UTC)', value: (x) => utc(x.updated) },
  ], known.slice(0, 15), 'no exchanges loaded');
}
