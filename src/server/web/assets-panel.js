// Assets: price, market cap (price × circulating supply) and circulating vs max supply from the price history
// (coincap_asset_history), rank from every observed change of the snapshot rows (change events), and the current
// snapshot as a table. Until the user picks, the page shows its defaults, chosen again on every refresh (so a page
// opened on an empty warehouse picks them once data arrives); the user's choice survives refreshes.
import { api } from './api.js';
import { compact, el, int, note, pct, price, renderTable, utc } from './format.js';
import { PALETTE, drawLines } from './line-charts.js';

const $ = (id) => document.getElementById(id);
let selected;
let known = [];
/** True once the user added or removed an asset: from then on the selection is theirs. */
let userChose = false;

function colorOf(id) {
  return PALETTE[selected.indexOf(id) % PALETTE.length];
}

function renderPicker(onChange) {
  const add = $('asset-add');
  const options = known.filter((a) => !selected.includes(a.id));
  add.replaceChildren(
    el('option', { value: '' }, `— ${options.length} more —`),
    ...options.map((a) => el('option', { value: a.id }, `#${a.rank ?? '?'} ${a.symbol ?? ''} ${a.name ?? a.id}${a.history.length ? ' · history' : ''}`)),
  );
  add.onchange = () => {
    if (!add.value) return;
    selected = [...selected, add.value].slice(-10);
    userChose = true;
    onChange();
  };
  $('asset-chips').replaceChildren(
    ...selected.map((id) =>
      el(
        'span',
        { class: 'chip', 'data-asset': id },
        el('span', { class: 'swatch', style: { background: colorOf(id) } }),
        known.find((a) => a.id === id)?.symbol ?? id,
        el('button', {
          title: `remove ${id}`,
          'aria-label': `remove ${id}`,
          onclick: () => {
            selected = selected.filter((x) => x !== id);
            userChose = true;
            onChange();
          },
        }, '×'),
      ),
    ),
  );
}

/** Loads the asset list and the chosen assets' trends, and draws them. */
export async function renderAssets() {
  const list = await api('assets');
  if (!list.available) {
    known = [];
    note($('assets-note'), list.reason);
  } else {
    known = list.assets;
    note($('assets-note'), '');
  }
  const ids = new Set(known.map((a) => a.id));
  if (!userChose) {
    const withHistory = known.filter((a) => a.history.length > 0).map((a) => a.id);
    selected = (withHistory.length ? withHistory : known.map((a) => a.id)).slice(0, 3);
  }
  selected = selected.filter((id) => ids.has(id));
  renderPicker(() => void renderAssets());
  window.coinlake.selectedAssets = [...selected];

  const trends = selected.length ? (await api('assets/trends', { ids: selected.join(',') })).series : [];
  const hist = (key) => trends.map((s) => ({ label: s.id, color: colorOf(s.id), t: s.history.t, values: s.history[key] }));
  const empty = selected.length ? 'no price history for the chosen assets' : known.length ? 'choose an asset' : 'no assets loaded yet';
  drawLines('price', $('chart-price'), { series: hist('price'), emptyText: empty, format: price });
  drawLines('marketCap', $('chart-mcap'), { series: hist('marketCap'), emptyText: empty });
  drawLines('supply', $('chart-supply'), {
    series: trends.flatMap((s) => [
      { label: `${s.id} supply`, color: colorOf(s.id), t: s.history.t, values: s.history.supply },
      ...(s.maxSupply != null && s.history.t.length ? [{ label: `${s.id} max`, color: colorOf(s.id), dash: [6, 4], t: s.history.t, values: s.history.t.map(() => s.maxSupply) }] : []),
    ]),
    emptyText: empty,
  });
  drawLines('rank', $('chart-rank'), {
    series: trends.map((s) => ({ label: s.id, color: colorOf(s.id), t: s.snapshots.t, values: s.snapshots.rank, stepped: true })),
    invert: true,
    log: false,
    format: (v) => (Number.isInteger(v) ? String(v) : ''),
    emptyText: selected.length ? 'no snapshot changes recorded for the chosen assets' : empty,
  });

  $('asset-history-notes').replaceChildren(
    ...trends
      .filter((s) => s.interval === null)
      .map((s) =>
        el('li', { 'data-missing-history': s.id }, `no price history for ${s.id} yet — load it: `, el('code', {}, `npx coinlake --replay run coincap.asset_history --asset ${s.id} --interval h1 --from 2024-12-01 --to 2025-01-01`)),
      ),
    ...trends.filter((s) => s.interval !== null).map((s) => el('li', {}, `${s.id}: ${int(s.points)} ${s.interval} points${s.points > s.history.t.length ? ` (drawn: ${int(s.history.t.length)})` : ''}`)),
  );

  const rows = selected.map((id) => known.find((a) => a.id === id)).filter(Boolean);
  renderTable($('asset-table'), [
    { label: 'rank', num: true, value: (a) => a.rank ?? '—' },
    { label: 'asset', value: (a) => el('span', {}, el('span', { class: 'swatch', style: { background: colorOf(a.id), display: 'inline-block', width: '10px', height: '10px', marginRight: '6px' } }), `${a.symbol} · ${a.name}`) },
    { label: 'price USD', num: true, value: (a) => price(a.priceUsd) },
    { label: 'market cap', num: true, value: (a) => compact(a.marketCapUsd) },
    { label: 'supply', num: true, value: (a) => compact(a.supply) },
    { label: 'max supply', num: true, value: (a) => (a.maxSupply == null ? 'unlimited' : compact(a.maxSupply)) },
    { label: 'of max', num: true, value: (a) => (a.maxSupply ? pct((100 * a.supply) / a.maxSupply) : '—') },
    { label: 'volume 24h', num: true, value: (a) => compact(a.volumeUsd24Hr) },
    { label: 'change 24h', num: true, value: (a) => pct(a.changePercent24Hr) },
    { label: 'snapshot (UTC)', value: (a) => utc(a.snapshotTime) },
  ], rows, 'no asset chosen');
}
