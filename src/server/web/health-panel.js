// Pipeline health: recent runs (status, rows, duration, errors), freshness of every data table, and the latest
// result of every quality check.
import { api } from './api.js';
import { age, badge, el, int, note, renderTable, utc } from './format.js';

const $ = (id) => document.getElementById(id);

/** Loads runs, freshness and quality results, and fills their tables. */
export async function renderHealth() {
  const [{ runs }, fresh, quality] = await Promise.all([api('runs', { limit: 30 }), api('freshness'), api('quality')]);
  renderTable($('runs-table'), [
    { label: 'process', num: true, value: (r) => r.processId },
    { label: 'run id', value: (r) => el('code', { title: r.logPath ?? '' }, r.runId), cls: () => 'time' },
    { label: 'job', value: (r) => r.job, cls: () => 'wrap' },
    { label: 'status', value: (r) => badge(r.status) },
    { label: 'started (UTC)', value: (r) => utc(r.startedAt), cls: () => 'time' },
    { label: 'duration', num: true, value: (r) => (r.durationSeconds == null ? '—' : `${r.durationSeconds.toFixed(2)} s`) },
    { label: 'rows', num: true, value: (r) => int(r.rowsLoaded) },
    { label: 'ins / upd / del', num: true, value: (r) => (r.inserted == null ? '—' : `${r.inserted} / ${r.updated} / ${r.deleted}`) },
    { label: 'quarantined', num: true, value: (r) => int(r.rowsQuarantined) },
    { label: 'error', value: (r) => r.error ?? '', cls: (r) => (r.error ? 'err' : '') },
  ], runs, 'no runs yet');
  renderTable($('freshness-table'), [
    { label: 'table', value: (f) => f.table.replace(/^coinlake\./, '') },
    { label: 'rows', num: true, value: (f) => int(f.rows) },
    { label: 'loaded', num: true, value: (f) => el('span', { title: `last loaded ${utc(f.lastLoadedAt)} UTC by run ${f.lastRunId ?? '?'}` }, `${age(f.ageSeconds)} ago`) },
    { label: 'newest data (UTC)', value: (f) => el('span', { title: f.timeColumn ?? '' }, utc(f.latest)) },
  ], fresh.tables, 'no data tables yet');
  note($('quality-note'), quality.available ? (quality.results.length ? '' : 'No quality results yet: they are written by runs of tables that declare checks, and by `coinlake check`.') : quality.reason);
  renderTable($('quality-table'), [
    { label: 'table', value: (q) => q.table, cls: () => 'wrap' },
    { label: 'check', value: (q) => q.check, cls: () => 'wrap' },
    { label: 'severity', value: (q) => q.severity },
    { label: 'status', value: (q) => badge(q.status) },
    { label: 'failing', num: true, value: (q) => int(q.failingRows) },
    { label: 'checked (UTC)', value: (q) => utc(q.checkedAt), cls: () => 'time' },
    { label: 'message', value: (q) => q.message ?? '', cls: (q) => (q.status === 'pass' ? 'wrap' : 'err') },
  ], quality.results, 'no results');
}
