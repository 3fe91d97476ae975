// Curated Parquet of a stream, one file set per interval instead of one per micro-batch. A consumer committing a batch
// every 100 ms–1 s would otherwise write up to 86,400 small Parquet files a day per feed. Each batch's staged rows —
// the exact rows it loaded, with their lineage — are copied, in the batch's own transaction, into a pending table of
// the consumer (coinlake_meta."curated_pending_<durable>"), keyed by the stream sequence of the batch's first message.
// A roll writes the pending rows as curated files, publishes them, then deletes those rows. The files of a roll are
// named after its first batch (`<durable>-<first key>-<its load time in epoch ms>`: the time tells a stream created
// again, whose sequences start over, from the old one), so a roll redone after a crash between publishing and deleting
// rewrites the same files instead of adding a second copy of their rows; a consumer that stopped without rolling
// leaves its rows pending for the next one, which rolls them when it starts.
import { randomBytes } from 'node:crypto';
import type { Session } from '../core/destination.ts';
import type { Row, TableSpec } from '../core/table.ts';
import { writeCurated, type CuratedGroup } from '../lake/curated-writer.ts';
import { discardCurated, publishCurated, type RunScope } from '../runner/run-steps.ts';

/** Default seconds between rolls. */
export const DEFAULT_CURATED_EVERY_MS = 60_000;

const KEY = '_batch_key';

export interface CuratedRollOptions {
  scope: RunScope;
  table: TableSpec;
  /** The consumer's durable name: names the pending table and the curated files. */
  durable: string;
  /** A roll is due this long after the first batch it holds committed; 0 rolls after every batch. */
  everyMs: number;
  /** Test hook: runs after a roll's files are published, before its pending rows are deleted. */
  beforeCleanup?: () => Promise<void>;
}

/** The pending rows of one stream consumer and the rolls that turn them into curated files. */
export class CuratedRoll {
  private readonly session: Session;
  /** The pending table, quoted. */
  private readonly pending: string;
  private readonly name: string;
  /** When the oldest batch not yet rolled committed (ms), if any. */
  private pendingSince?: number;

  constructor(private readonly opts: CuratedRollOptions) {
    this.session = opts.scope.session;
    this.name = `curated_pending_${opts.durable}`;
    this.pending = `coinlake_meta.${this.session.dialect.ident(this.name)}`;
  }

  /**
   * Inside a batch's transaction: copies its staged rows (data, lineage, ordinal) into the pending table, created
   * from the staging table's shape when missing.
   */
  async add(staging: string, batchKey: number): Promise<void> {
    const s = this.session;
    const from = s.dialect.ident(staging);
    await s.exec(`CREATE TABLE IF NOT EXISTS ${this.pending} AS SELECT *, CAST(0 AS BIGINT) AS ${KEY} FROM ${from} LIMIT 0`);
    await s.exec(`INSERT INTO ${this.pending} SELECT *, CAST(${Math.trunc(batchKey)} AS BIGINT) FROM ${from}`);
  }

  /** After the batch committed: starts the interval of the roll that will hold it. */
  committed(at = Date.now()): void {
    this.pendingSince ??= at;
  }

  /** Whether a roll is due. */
  due(now = Date.now()): boolean {
    return this.pendingSince !== undefined && now - this.pendingSince >= this.opts.everyMs;
  }

  /**
   * At start: rolls what an earlier consumer left pending, then drops the pending table, so that it is made again
   * from the shape of this run's staging (a column added to the table since). Returns the lake paths written.
   */
  async recover(): Promise<string[]> {
    if (!(await this.exists())) return [];
    const paths = await this.roll();
    await this.session.exec(`DROP TABLE IF EXISTS ${this.pending}`);
    return paths;
  }

  /** Writes every pending row as curated files, publishes them, deletes those rows. Returns the lake paths. */
  async roll(): Promise<string[]> {
    this.pendingSince = undefined;
    if (!(await this.exists())) return [];
    const s = this.session;
    const [range] = await s.query<{ lo: unknown; hi: unknown; n: unknown; first: unknown }>(
      `SELECT min(${KEY}) AS lo, max(${KEY}) AS hi, count(*) AS n, min(_loaded_at) AS first FROM ${this.pending}`,
    );
    if (!range || Number(range.n) === 0) return [];
    const lo = Number(range.lo);
    const hi = Number(range.hi);
    const first = range.first instanceof Date ? range.first : new Date(String(range.first));
    const { scope, table } = this.opts;
    const where = `${KEY} BETWEEN ${lo} AND ${hi}`;
    const args = { session: s, lake: scope.lake, table, runId: scope.runId, day: new Date(), fileStem: `${this.opts.durable}-${lo}-${first.getTime()}` };
    let files;
    if (s.capabilities.exportsParquet) {
      // The warehouse writes the rows itself, through a view that leaves out the key.
      const view = `roll_${randomBytes(4).toString('hex')}`;
      await s.exec(`CREATE TEMP VIEW ${s.dialect.ident(view)} AS SELECT * EXCLUDE (${KEY}) FROM ${this.pending} WHERE ${where}`);
      try {
        files = await writeCurated({ ...args, staging: view, rows: [] });
      } finally {
        await s.exec(`DROP VIEW IF EXISTS ${s.dialect.ident(view)}`);
      }
    } else {
      files = await writeCurated({ ...args, staging: '', rows: [], groups: groupByLoad(await s.query<Row>(`SELECT * FROM ${this.pending} WHERE ${where} ORDER BY ${KEY}`)) });
    }
    let paths: string[];
    try {
      paths = await publishCurated(scope, files);
    } catch (err) {
      await discardCurated(scope, files);
      throw err;
    }
    await this.opts.beforeCleanup?.();
    await s.exec(`DELETE FROM ${this.pending} WHERE ${where}`);
    scope.log.info({ table: `${table.schema}.${table.name}`, rows: Number(range.n), files: paths }, 'curated files rolled');
    return paths;
  }

  private async exists(): Promise<boolean> {
    const [r] = await this.session.query<{ n: unknown }>(`SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = 'coinlake_meta' AND table_name = $1`, [this.name]);
    return Number(r?.n ?? 0) > 0;
  }
}

/** Pending rows read back, grouped by the load that wrote them (their lineage), each with its lineage as context. */
function groupByLoad(rows: Row[]): CuratedGroup[] {
  const groups = new Map<string, CuratedGroup>();
  for (const r of rows) {
    const runId = String(r._run_id);
    const loadedAt = r._loaded_at instanceof Date ? r._loaded_at : new Date(String(r._loaded_at));
    const id = `${runId}\u0000${loadedAt.getTime()}`;
    let g = groups.get(id);
    if (!g) groups.set(id, (g = { runId, loadedAt, rows: [] }));
    g.rows.push(r);
  }
  return [...groups.values()];
}
