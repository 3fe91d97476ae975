// A loopback fake of BigQuery's REST API, only for the BigQuery destination's tests (Google cannot be reached from
// here): jobs.insert (query jobs), the multipart upload of load jobs, jobs.get and jobs.getQueryResults in their
// documented JSON shapes, and the GCE metadata server's token endpoint for a client that looks for credentials.
// It executes nothing: it records every job's configuration (and an upload's data) and answers what the test says.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A job as the client sent it. */
export interface RecordedJob {
  projectId: string;
  location?: string;
  /** The job's `configuration` exactly as sent (query or load). */
  configuration: { query?: QueryConfiguration; load?: Record<string, unknown> };
  /** A load job's uploaded data, as text (NDJSON). */
  data?: string;
  /** A load job's uploaded data, byte for byte (Parquet). */
  bytes?: Buffer;
}

export interface QueryConfiguration {
  query: string;
  useLegacySql?: boolean;
  parameterMode?: string;
  queryParameters?: { name: string; parameterType: { type: string }; parameterValue: { value: unknown } }[];
}

/** What a query job returns: rows (all columns as strings or null; numbers typed INTEGER), a DML count, or an error. */
export interface FakeAnswer {
  rows?: Record<string, string | number | null>[];
  /** The result schema, when the rows' own types would not say it (typed values, as BigQuery sends them, in the rows). */
  fields?: { name: string; type: string; precision?: string; scale?: string }[];
  affected?: number;
  error?: { code: number; message: string; reason?: string };
}

export interface FakeBigQuery {
  /** http://127.0.0.1:PORT */
  url: string;
  jobs: RecordedJob[];
  /** The SQL of every query job, in order. */
  readonly queries: string[];
  close(): Promise<void>;
}

function body(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** The parts of a multipart/related upload: the job metadata (JSON) and the data, byte for byte. */
function multipart(raw: Buffer, contentType: string): { metadata: Record<string, unknown>; data: Buffer } {
  const boundary = /boundary=([^;]+)/.exec(contentType)?.[1];
  if (!boundary) throw new Error(`no boundary in ${contentType}`);
  const parts: Buffer[] = [];
  const mark = Buffer.from(`--${boundary}`);
  let at = raw.indexOf(mark);
  while (at >= 0) {
    const next = raw.indexOf(mark, at + mark.length);
    if (next < 0) break;
    const part = raw.subarray(at + mark.length, next);
    const start = part.indexOf('\r\n\r\n') + 4;
    parts.push(part.subarray(start, part.length - 2)); // the CRLF before the next boundary
    at = next;
  }
  return { metadata: JSON.parse(parts[0].toString('utf8')) as Record<string, unknown>, data: parts[1] ?? Buffer.alloc(0) };
}

/**
 * Starts the fake; `answer` gives each query job's result (default: no rows), `loadRows` takes a load job's data and
 * gives the rows it reports (default: NDJSON loads report their lines, Parquet loads 0).
 */
export async function fakeBigQuery(
  answer: (sql: string, params: NonNullable<QueryConfiguration['queryParameters']>) => FakeAnswer | Promise<FakeAnswer> = () => ({}),
  loadRows?: (data: Buffer, load: Record<string, unknown>) => number | Promise<number>,
): Promise<FakeBigQuery> {
  const jobs: RecordedJob[] = [];
  const results = new Map<string, FakeAnswer & { location?: string; projectId: string; statistics?: unknown }>();
  let next = 0;
  const server: Server = createServer((req, res) => {
    const send = (status: number, json: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const p = url.pathname.replace(/^\/bigquery\/v2(?=\/projects)/, '');
      // The GCE metadata server (gcp-metadata with GCE_METADATA_HOST): a token for clients that look for credentials.
      if (p.startsWith('/computeMetadata/v1')) {
        res.setHeader('Metadata-Flavor', 'Google');
        if (p.endsWith('/token')) return send(200, { access_token: 'fake-token', expires_in: 3600, token_type: 'Bearer' });
        if (p.endsWith('/project/project-id')) return res.writeHead(200, { 'content-type': 'text/plain' }).end('coinlake-demo');
        if (p.endsWith('/universe/universe-domain')) return res.writeHead(200, { 'content-type': 'text/plain' }).end('googleapis.com');
        return res.writeHead(200, { 'content-type': 'text/plain' }).end('');
      }
      let m = /^(?:\/upload\/bigquery\/v2)?\/projects\/([^/]+)\/jobs$/.exec(p);
      if (m && req.method === 'POST') {
        const raw = await body(req);
        const upload = url.searchParams.get('uploadType') === 'multipart' ? multipart(raw, req.headers['content-type'] ?? '') : undefined;
        const job = (upload?.metadata ?? JSON.parse(raw.toString('utf8'))) as { configuration: RecordedJob['configuration']; jobReference?: { jobId?: string; location?: string } };
        const jobId = job.jobReference?.jobId ?? `job_${++next}`;
        const location = job.jobReference?.location;
        const parquet = job.configuration.load?.sourceFormat === 'PARQUET';
        jobs.push({ projectId: m[1], location, configuration: job.configuration, ...(upload ? (parquet ? { bytes: upload.data } : { data: upload.data.toString('utf8') }) : {}) });
        const q = job.configuration.query;
        const a: FakeAnswer = q ? await answer(q.query, q.queryParameters ?? []) : {};
        const load = job.configuration.load;
        const outputRows = !upload || !load ? 0 : loadRows ? await loadRows(upload.data, load) : parquet ? 0 : upload.data.toString('utf8').split('\n').filter(Boolean).length;
        const statistics = job.configuration.load ? { load: { outputRows: String(outputRows) } } : { query: { statementType: 'SCRIPT' } };
        results.set(jobId, { ...a, location, projectId: m[1], statistics });
        return send(200, {
          kind: 'bigquery#job',
          id: `${m[1]}:${location ?? 'US'}.${jobId}`,
          jobReference: { projectId: m[1], jobId, location: location ?? 'US' },
          configuration: job.configuration,
          status: { state: 'DONE' },
          statistics,
        });
      }
      m = /^\/projects\/([^/]+)\/(jobs|queries)\/([^/]+)$/.exec(p);
      const r = m ? results.get(m[3]) : undefined;
      if (m && r && req.method === 'GET') {
        if (r.error) {
          return send(r.error.code, { error: { code: r.error.code, message: r.error.message, errors: [{ reason: r.error.reason ?? 'invalidQuery', message: r.error.message }], status: 'INVALID_ARGUMENT' } });
        }
        const jobReference = { projectId: r.projectId, jobId: m[3], location: r.location ?? 'US' };
        if (m[2] === 'jobs') return send(200, { kind: 'bigquery#job', jobReference, status: { state: 'DONE' }, statistics: r.statistics });
        const rows = r.rows ?? [];
        const fields = r.fields ?? (rows.length ? Object.keys(rows[0]) : []).map((name) => ({ name, type: typeof rows[0][name] === 'number' ? 'INTEGER' : 'STRING' }));
        const names = fields.map((f) => f.name);
        return send(200, {
          kind: 'bigquery#getQueryResultsResponse',
          jobReference,
          jobComplete: true,
          totalRows: String(rows.length),
          schema: { fields: fields.map((f) => ({ ...f, mode: 'NULLABLE' })) },
          rows: rows.map((row) => ({ f: names.map((n) => ({ v: row[n] === null ? null : String(row[n]) })) })),
          ...(r.affected !== undefined ? { numDmlAffectedRows: String(r.affected) } : {}),
        });
      }
      send(404, { error: { code: 404, message: `fake BigQuery: no ${req.method} ${url.pathname}` } });
    })().catch((err: unknown) => send(500, { error: { code: 500, message: String(err) } }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    jobs,
    get queries() {
      return jobs.flatMap((j) => (j.configuration.query ? [j.configuration.query.query] : []));
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
