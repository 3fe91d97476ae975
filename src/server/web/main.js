// The dashboard page: loads every panel, shows the empty state when the warehouse holds no data, and listens to
// /api/events — a committed run (or stream batch) refreshes the page. `window.coinlake` exposes what was drawn
// (charts with their series and point counts, received events, render count) for the browser tests.
import { api } from './api.js';
import { renderAssets } from './assets-panel.js';
import { renderCandles } from './candles-panel.js';
import { renderDivergence } from './divergence-panel.js';
import { renderExchanges } from './exchanges-panel.js';
import { el } from './format.js';
import { renderHealth } from './health-panel.js';

window.coinlake = { charts: {}, events: [], renders: 0, errors: [] };
const $ = (id) => document.getElementById(id);

/** Runs one panel; a failure shows as a note in that panel instead of breaking the others. */
async function panel(name, fn, noteId) {
  try {
    await fn();
  } catch (err) {
    window.coinlake.errors.push(`${name}: ${err.message}`);
    const n = noteId && $(noteId);
    if (n) {
      n.hidden = false;
      n.textContent = `${name} could not be loaded: ${err.message}`;
    }
  }
}

async function renderAll() {
  const ov = await api('overview').catch((err) => (window.coinlake.errors.push(`overview: ${err.message}`), null));
  if (ov) {
    $('empty').hidden = !ov.empty;
    $('empty-commands').textContent = ov.loadCommands.join('\n');
  }
  await Promise.all([
    panel('assets', renderAssets, 'assets-note'),
    panel('exchanges', renderExchanges, 'exchanges-note'),
    panel('candles', renderCandles, 'candles-note'),
    panel('divergence', renderDivergence, 'divergence-note'),
    panel('pipeline health', renderHealth, 'quality-note'),
  ]);
  $('updated').textContent = `updated ${new Date().toISOString().slice(11, 19)} UTC`;
  window.coinlake.renders++;
  document.body.dataset.state = 'ready';
  document.body.dataset.renders = String(window.coinlake.renders);
}

// One refresh at a time; requests arriving meanwhile coalesce into one more.
let running = null;
let again = false;
function refresh() {
  if (running) {
    again = true;
    return running;
  }
  running = renderAll().finally(() => {
    running = null;
    if (again) {
      again = false;
      refresh();
    }
  });
  return running;
}

function toast(text) {
  const t = el('div', { class: 'toast' }, text);
  $('toasts').append(t);
  setTimeout(() => t.remove(), 6000);
}

function logEvent(text, attrs = {}) {
  const list = $('event-log');
  list.querySelector('.muted')?.remove();
  list.prepend(el('li', attrs, `${new Date().toISOString().slice(11, 19)} ${text}`));
}

function listen() {
  const live = $('live');
  const source = new EventSource('/api/events');
  source.addEventListener('hello', () => {
    live.className = 'live on';
    live.textContent = 'live';
  });
  source.onerror = () => {
    live.className = 'live off';
    live.textContent = 'reconnecting';
  };
  source.addEventListener('run', (e) => {
    const run = JSON.parse(e.data);
    window.coinlake.events.push({ type: 'run', ...run });
    const text = `run ${run.processId} ${run.status}: ${run.job}${run.rowsLoaded != null ? ` — ${run.rowsLoaded} rows` : ''}${run.error ? ` — ${run.error}` : ''}`;
    logEvent(text, { 'data-run': run.runId, 'data-status': run.status });
    if (run.status !== 'running') {
      toast(text);
      refresh();
    }
  });
  source.addEventListener('batch', (e) => {
    const batch = JSON.parse(e.data);
    window.coinlake.events.push({ type: 'batch', ...batch });
    logEvent(`batch into ${batch.table}`);
    refresh();
  });
  // A command handed over to the server ended (models run, import cdd, check …): whatever it changed is redrawn.
  source.addEventListener('command', (e) => {
    const command = JSON.parse(e.data);
    window.coinlake.events.push({ type: 'command', ...command });
    logEvent(`coinlake ${command.command} ended (exit ${command.exitCode})`, { 'data-command': command.command, 'data-exit': String(command.exitCode) });
    refresh();
  });
}

listen();
refresh();
