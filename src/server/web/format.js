// Formatting and DOM helpers of the page. Data is always inserted as text (never as HTML).

/** Creates an element with attributes (`class`, `title`, data-*, …) and children (nodes or text). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'style') Object.assign(node.style, v);
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c != null) node.append(c instanceof Node ? c : String(c));
  return node;
}

/** 1.93T, 412.5B, 19.8M, 12.3K, 950. */
export function compact(v) {
  if (v == null || !Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  for (const [d, s] of [[1e12, 'T'], [1e9, 'B'], [1e6, 'M'], [1e3, 'K']]) if (a >= d) return `${(v / d).toFixed(a / d >= 100 ? 0 : a / d >= 10 ? 1 : 2)}${s}`;
  return a >= 1 ? v.toFixed(a >= 100 ? 0 : 2) : v.toPrecision(3);
}

/** A price: grouped with 2 decimals from 1 up, 4 significant digits below. */
export function price(v) {
  if (v == null || !Number.isFinite(v)) return '—';
  return Math.abs(v) >= 1 ? v.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 }) : v.toPrecision(4);
}

/** A whole number with grouping. */
export function int(v) {
  return v == null || !Number.isFinite(v) ? '—' : Math.round(v).toLocaleString('en-US');
}

/** A percentage with 2 decimals. */
export function pct(v) {
  return v == null || !Number.isFinite(v) ? '—' : `${v.toFixed(2)} %`;
}

/** An ISO time as `YYYY-MM-DD HH:MM:SS` UTC. */
export function utc(iso) {
  return iso ? `${iso.slice(0, 10)} ${iso.slice(11, 19)}` : '—';
}

/** A duration in seconds as `0.4 s`, `3 min`, `5 h`, `2 d`. */
export function age(s) {
  if (s == null) return '—';
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 86400) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(1)} d`;
}

/**
 * Fills a table: `columns` are `{ label, value(row) → text|Node, num?, cls?(row) }`; an empty list shows `emptyText`.
 */
export function renderTable(table, columns, rows, emptyText = 'nothing yet') {
  const head = el('thead', {}, el('tr', {}, columns.map((c) => el('th', { class: c.num ? 'num' : null }, c.label))));
  const body = el('tbody');
  if (rows.length === 0) body.append(el('tr', {}, el('td', { colspan: columns.length, class: 'muted' }, emptyText)));
  for (const row of rows) {
    body.append(el('tr', {}, columns.map((c) => el('td', { class: [c.num ? 'num' : '', c.cls?.(row) ?? ''].join(' ').trim() || null }, c.value(row)))));
  }
  table.replaceChildren(head, body);
}

/** A status badge (`ok`, `failed`, `pass`, …). */
export function badge(status) {
  return el('span', { class: `status ${status}` }, status);
}

/** Shows a note (or hides it when `text` is empty). */
export function note(node, text) {
  node.hidden = !text;
  node.textContent = text || '';
}
