// The source conformance cases (STYLE principle 3): every stream of a source reads its recorded pages, served over
// loopback HTTP, through the real source and the real HttpClient; the typed rows, key, state, paging and the answers
// to an empty page, 429, 5xx, 401, a malformed body and an unknown field are checked exactly.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TerminalError, type CoinlakeError } from '../../core/errors.ts';
import type { Page, Source, Stream, TimeWindow } from '../../core/source.ts';
import type { Row, TableSpec } from '../../core/table.ts';
import { HttpClient } from '../../http/http-client.ts';
import { normalizeRecords } from '../../normalize/normalizer.ts';
import {
  CASE_IDS,
  NEW_FIELD,
  driftFirstArray,
  emptyFirstArray,
  unexpectedObject,
  type CaseId,
  type SourceConformance,
  type StreamConformance,
} from './conformance-spec.ts';
import { requestLabel, startExchangeServer, type ExchangeServer } from './exchange-server.ts';
import { loadRecording, type Recording } from './recorded-exchanges.ts';
import { fixtureFile } from './spec-files.ts';

/** Retry-After the 429 case sends by default, in seconds (fractions are honoured); the gap must be at least that. */
const RETRY_AFTER_S = 0.15;

/** A client that retries fast, so waits measured are the server's Retry-After, not backoff. */
function client(): HttpClient {
  return new HttpClient({ rateLimitPerMinute: 0, retries: 3, minBackoffMs: 1, maxBackoffMs: 5, timeoutMs: 10_000 });
}

/** What a read gave: its pages, typed rows and what the normalizer reported. */
interface ReadResult {
  pages: Page[];
  rows: Row[];
  quarantined: number;
  unknownFields: string[];
  missingFields: string[];
  state: unknown;
}

const windowOf = (w?: { start: string; end: string }): TimeWindow | undefined => (w ? { start: new Date(w.start), end: new Date(w.end) } : undefined);

/** Reads a stream from `server` and types its records as the loader would (normalizer, then derive). */
async function read(stream: Stream, table: TableSpec, rec: Recording, server: ExchangeServer, opts: { state?: unknown; window?: TimeWindow } = {}): Promise<ReadResult> {
  const params = rec.params;
  const pages: Page[] = [];
  for await (const page of stream.read({
    http: client(),
    baseUrl: server.origin + rec.basePath,
    params,
    state: opts.state,
    window: opts.window ?? windowOf(rec.window),
    signal: AbortSignal.timeout(20_000),
  })) {
    pages.push(page);
  }
  const out: ReadResult = { pages, rows: [], quarantined: 0, unknownFields: [], missingFields: [], state: opts.state };
  const unknown = new Set<string>();
  const missing = new Set<string>();
  for (const page of pages) {
    const n = normalizeRecords(table, page.records, { origin: page.origin });
    for (const row of n.rows) stream.derive?.(row, params);
    out.rows.push(...n.rows);
    out.quarantined += n.quarantinedCount;
    n.unknownFields.forEach((f) => unknown.add(f));
    n.missingFields.forEach((f) => missing.add(f));
    if (page.nextState !== undefined) out.state = page.nextState;
  }
  out.unknownFields = [...unknown].sort();
  out.missingFields = [...missing].sort();
  return out;
}

const keyOf = (row: Row, key: string[]) => JSON.stringify(key.map((k) => (row[k] instanceof Date ? (row[k] as Date).toISOString() : row[k])));

/** A cursor value as ms. */
const cursorMs = (v: unknown): number => (v instanceof Date ? v.getTime() : Number(v));

/** The requests of the first read, as requestLabel writes them (the recorded exchanges before the rerun's). */
function firstReadLabels(rec: Recording): string[] {
  return rec.exchanges.slice(0, rec.firstRead ?? rec.exchanges.length).map(requestLabel);
}

/** The error a promise rejects with (fails the case when it resolves). */
async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  return expect.unreachable('expected the read to fail, but it finished');
}

/**
 * Registers the conformance cases of one source: a describe per stream, the cases a stream (or the whole source)
 * skips listed as skipped with their reason.
 */
export function sourceCases(conformance: SourceConformance): void {
  const { source } = conformance;
  describe(`source conformance: ${source.name}`, () => {
    it('every stream of the source has recorded pages and expectations', () => {
      expect(conformance.streams.map((s) => s.stream).sort()).toEqual(source.streams.map((s) => s.name).sort());
    });
    for (const spec of conformance.streams) streamCases(source, spec, conformance);
  });
}

function streamCases(source: Source, spec: StreamConformance, conformance: SourceConformance): void {
  const stream = source.streams.find((s) => s.name === spec.stream);
  const rec = loadRecording(fixtureFile(source, spec.stream));
  const table = spec.table ?? stream?.tableFor?.(rec.params) ?? stream?.table;
  const skips = { ...conformance.skip, ...spec.skip };
  const firstUrls = firstReadLabels(rec);
  /** The URL the first request goes to, as an error must name it. */
  const firstTarget = rec.exchanges[0].url.split('?')[0];
  const cursor = spec.cursor ?? stream?.cursor;

  describe(`${source.name}.${spec.stream}`, () => {
    let server: ExchangeServer;
    beforeEach(async () => {
      server = await startExchangeServer(rec.exchanges);
    });
    afterEach(async () => {
      await server.close();
    });

    const test = (id: CaseId, title: string, fn: () => Promise<void>): void => {
      const reason = skips[id];
      if (reason) it.skip(`${id}: ${title} — skipped: ${reason}`, fn);
      else it(`${id}: ${title}`, fn);
    };
    const readIt = (opts?: { state?: unknown; window?: TimeWindow }) => read(stream!, table!, rec, server, opts);

    test('rows', `${spec.rows} rows typed as ${table?.name} expects, with exact values`, async () => {
      const r = await readIt();
      expect(r.rows).toHaveLength(spec.rows);
      expect(r.quarantined).toBe(spec.quarantined ?? 0);
      expect(r.missingFields).toEqual([...(spec.missingFields ?? [])].sort());
      expect(r.unknownFields).toEqual([...(spec.unmappedFields ?? [])].sort());
      expect(spec.values.length).toBeGreaterThan(0);
      for (const want of spec.values) {
        const key = table!.primaryKey;
        const got = r.rows.find((row) => keyOf(row, key) === keyOf(want, key));
        expect(got, `a row with key ${keyOf(want, key)}`).toBeDefined();
        expect(Object.fromEntries(Object.keys(want).map((k) => [k, got![k]]))).toEqual(want);
      }
    });

    test('primaryKey', 'primary key unique and non-null on every row', async () => {
      const r = await readIt();
      const key = table!.primaryKey;
      expect(key.length).toBeGreaterThan(0);
      const nulls = r.rows.filter((row) => key.some((k) => row[k] === null || row[k] === undefined));
      expect(nulls).toEqual([]);
      expect(new Set(r.rows.map((row) => keyOf(row, key))).size).toBe(r.rows.length);
    });

    test('state', cursor ? 'watermark = the largest cursor read; a rerun from it asks for the next window only' : 'no state from a snapshot stream', async () => {
      const r = await readIt();
      if (!cursor) {
        expect(r.state).toBeUndefined();
        return;
      }
      expect(r.state).toEqual(spec.state);
      const maxCursor = Math.max(...r.rows.map((row) => cursorMs(row[cursor])));
      expect((r.state as { watermark: number }).watermark).toBeGreaterThanOrEqual(maxCursor);
      const before = server.requests.length;
      const rerun = await readIt({ state: r.state, window: windowOf(rec.rerunWindow) });
      const asked = server.requests.slice(before).map(requestLabel);
      expect(asked.filter((label) => spec.rerunRequestsMatching?.test(label) ?? true)).toEqual(spec.rerunRequests);
      expect(rerun.rows.filter((row) => cursorMs(row[cursor]) <= maxCursor)).toEqual([]);
    });

    test('paging', `paging followed to the end: ${spec.pages} pages, every recorded request in order`, async () => {
      const r = await readIt();
      expect(spec.pages).toBeGreaterThan(1);
      expect(r.pages).toHaveLength(spec.pages);
      expect(server.requests.map(requestLabel)).toEqual(firstUrls);
      expect(server.requests.every((q) => q.status === 200)).toBe(true);
    });

    test('emptyPage', 'an empty page is no rows and no error, and ends the read', async () => {
      server.rewrite(spec.empty ?? emptyFirstArray);
      const r = await readIt();
      expect(r.rows).toEqual([]);
      expect(r.quarantined).toBe(0);
      expect(server.requests.length).toBeLessThanOrEqual(firstUrls.length);
    });

    const retryAfter = spec.retryAfterSeconds ?? RETRY_AFTER_S;
    test('retryAfter', `HTTP 429 with Retry-After: ${retryAfter} is waited out, then the same rows`, async () => {
      server.refuseNext({ status: 429, headers: { 'retry-after': String(retryAfter) }, body: '{"error":"rate limit exceeded"}' });
      const r = await readIt();
      expect(r.rows).toHaveLength(spec.rows);
      expect(server.requests.map((q) => q.status)).toEqual([429, ...firstUrls.map(() => 200)]);
      expect(server.requests[1].url).toBe(server.requests[0].url);
      expect(server.requests[1].at - server.requests[0].at).toBeGreaterThanOrEqual(retryAfter * 1000 - 5);
    });

    test('serverError', 'HTTP 503 is retried, then the same rows', async () => {
      server.refuseNext({ status: 503, body: '{"error":"service unavailable"}' });
      const r = await readIt();
      expect(r.rows).toHaveLength(spec.rows);
      expect(server.requests.map((q) => q.status)).toEqual([503, ...firstUrls.map(() => 200)]);
      expect(server.requests[1].url).toBe(server.requests[0].url);
    });

    test('terminalStatus', 'HTTP 401 and 404 fail the read at once with a TerminalError naming the URL', async () => {
      for (const status of [401, 404]) {
        const before = server.requests.length;
        server.refuseNext({ status, body: `{"error":"HTTP ${status}"}` }, 10);
        const err = await failure(readIt());
        expect(err).toBeInstanceOf(TerminalError);
        expect(err.message).toContain(`HTTP ${status}`);
        expect(err.message).toContain(`${server.origin}${firstTarget}`);
        expect(server.requests.length - before).toBe(1);
        server.clearRefusals();
      }
    });

    test('malformedBody', 'a body of the wrong shape fails the read with a TerminalError naming the URL', async () => {
      server.rewrite(spec.malformed ?? unexpectedObject);
      const err = await failure(readIt());
      expect(err).toBeInstanceOf(TerminalError);
      expect(err.message).toContain(`${server.origin}${firstTarget}`);
      expect((err as CoinlakeError).context.url).toContain(server.origin);
    });

    test('drift', `an unknown field (${NEW_FIELD}) is reported as drift, not dropped, and the rows stay`, async () => {
      server.rewrite(spec.drift ?? driftFirstArray);
      const r = await readIt();
      expect(r.unknownFields).toEqual([...(spec.unmappedFields ?? []), NEW_FIELD].sort());
      expect(r.rows).toHaveLength(spec.rows);
      expect(r.pages.flatMap((p) => p.records).filter((rec) => rec[NEW_FIELD] === 'new').length).toBeGreaterThan(0);
    });
  });
}

export { CASE_IDS };
