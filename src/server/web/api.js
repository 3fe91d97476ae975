// GET requests to the dashboard API. A refused request throws with the server's message and hint.

/** Fetches `/api/<path>` with query parameters (undefined ones left out) and returns the parsed JSON. */
export async function api(path, params = {}) {
  const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v != null && v !== ''));
  const res = await fetch(`/api/${path}${q.size ? `?${q}` : ''}`, { headers: { accept: 'application/json' } });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(`${body.error ?? res.statusText}${body.hint ? ` — ${body.hint}` : ''}`);
  return body;
}
