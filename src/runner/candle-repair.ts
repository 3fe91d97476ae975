// `coinlake repair` and the repair step of `coinlake daily`: the missing candles of a candle table (missing-candles.ts),
// fetched again from each venue's source through the pipeline — one run per exchange, its units the missing ranges
// (at most 1,000 candles each), bounded per command. Times the venue answers without a candle are remembered in
// coinlake_meta.candle_known_missing in the same transaction as the repaired rows, and not requested again.
import { tableExists } from '../destinations/table-exists.ts';
import { CANDLE_INTERVALS, candleCount, intervalTableSuffix, nextOpenTime, type CandleInterval } from '../core/candle-interval.ts';
import type { LoadResult, Session } from '../core/destination.ts';
import { ConfigError, TerminalError, errorMessage } from '../core/errors.ts';
import type { Job } from '../core/job.ts';
import type { TableSpec } from '../core/table.ts';
import { DATA_SCHEMA, ensureMetaTables } from '../catalog/meta-tables.ts';
import { HttpClient } from '../http/http-client.ts';
import type { LocalLake } from '../lake/local-lake.ts';
import { runPipeline } from '../pipeline/pipeline.ts';
import { extractBatch } from '../pipeline/run-steps.ts';
import { ohlcvTable, ohlcvTableName } from '../sources/ohlcv-table.ts';
import { canonicalPair } from '../sources/pair-symbol.ts';
import { candleRefetchFor, refetchExchanges } from '../sources/registry.ts';
import { updateRunProgress } from './backfill.ts';
import { buildJob, type Endpoints } from './job-builder.ts';
import { candleSeries, gridPoints, knownMissingCount, missingRanges, recordKnownMissing, type KnownMissing, type MissingRange, type SeriesFilter } from './missing-candles.ts';
import { createBarProgress, type BarProgress } from './progress.ts';
import { RUN_COMPLETE } from './run-history.ts';
import { RunFailedError } from './run-job.ts';

/** The table `coinlake repair` works on unless --table names another. */
export const DEFAULT_REPAIR_TABLE = 'ohlcv_1m';
/** Most candles one repair requests (over every exchange) unless --max-minutes says otherwise. */
export const DEFAULT_MAX_MINUTES = 10_000;
/** Most candles of one unit: one window read through the venue's stream (one Binance page). */
const UNIT_CANDLES = 1000;
/** Exchanges named in a hint before the list is cut short. */
const HINT_EXCHANGES = 20;

/** What to repair. */
export interface RepairRequest {
  /** Candle table name, e.g. `ohlcv_1m` (default) or `ohlcv_1h`. */
  table?: string;
  /** Only this exchange (the table's `exchange` value). */
  exchange?: string;
  /** Only these symbols (`BTC-USDT`; `BTCUSDT` and `BTC/USDT` are read as it). */
  symbols?: string[];
  /** Only candles at or after this instant. */
  since?: Date;
  /** Most candles requested by this repair, over every exchange. Default DEFAULT_MAX_MINUTES. */
  maxMinutes?: number;
  /** Units extracted at once per exchange. Default 4. */
  concurrency?: number;
  endpoints?: Endpoints;
}

export interface RepairOptions {
  session: Session;
  lake: LocalLake;
  logLevel?: string;
  printLog?: boolean;
  /** A progress bar on stderr. Default: only on a TTY. */
  progress?: boolean;
  progressIntervalMs?: number;
  signal?: AbortSignal;
}

/** One exchange's repair run. */
export interface RepairRun {
  exchange: string;
  job: string;
  status: 'ok' | 'failed';
  processId?: number;
  runId?: string;
  logPath?: string;
  /** Series with candles requested. */
  series: number;
  ranges: number;
  /** Windows read (requests where a window fits one page): nearby ranges of a series share one. */
  windows: number;
  /** Candles requested. */
  requested: number;
  /** Candles the venue sent and the table did not have (rows inserted). */
  repaired: number;
  /** Candles the venue answered without: remembered now, not requested again. */
  knownMissing: number;
  error?: string;
}

/** What a repair found and did. */
export interface RepairSummary {
  /** `coinlake.ohlcv_1m`. */
  table: string;
  interval: CandleInterval;
  /** False when the table does not exist yet (nothing was looked at). */
  exists: boolean;
  /** Series of the table matching the request. */
  series: number;
  /** Missing candles found (known-missing ones not counted) and the ranges they form. */
  missing: number;
  ranges: number;
  /** Known-missing candles of those series, left alone. */
  knownMissing: number;
  /** Candles requested, at most `maxMinutes`. */
  requested: number;
  maxMinutes: number;
  /** The bound left missing candles for a later run. */
  cut: boolean;
  /** Per exchange, the series no source refetches (none serves the exchange, interval or symbol) and their missing candles. */
  unserved: { exchange: string; series: number; missing: number }[];
  runs: RepairRun[];
}

/**
 * One unit of a repair run: a window of one series read through its venue's stream, holding one or more missing
 * ranges (`points`, the missing candles); what the venue sends for other times of the window is left out.
 */
interface RepairUnit {
  job: Job;
  exchange: string;
  symbol: string;
  start: number;
  end: number;
  points: number[];
}

/** The interval of a candle table name (`ohlcv_1m` → 1m, `ohlcv_1mo` → 1M, schema `coinlake.` allowed); the error lists the names. */
export function candleTableInterval(name: string): CandleInterval {
  const bare = name.trim().toLowerCase().replace(/^coinlake\./, '');
  const found = CANDLE_INTERVALS.find((iv) => ohlcvTableName(iv) === bare);
  if (!found) throw new ConfigError(`unknown candle table "${name}"`, { hint: `--table takes a candle table: ${CANDLE_INTERVALS.map(ohlcvTableName).join(', ')}` });
  return found;
}

/** Checks an exchange against the ones some source refetches; the error lists them. */
export function checkRepairExchange(exchange: string): void {
  const known = refetchExchanges();
  if (known.includes(exchange)) return;
  const shown = known.length > HINT_EXCHANGES ? `${known.slice(0, HINT_EXCHANGES).join(', ')}, … (${known.length} in all)` : known.join(', ');
  throw new ConfigError(`no source refetches candles of exchange "${exchange}"`, { hint: `exchanges coinlake repair can refetch: ${shown}` });
}

/** The candle tables present in the warehouse's schema coinlake (for the repair step of `coinlake daily`), sorted. */
export async function presentCandleTables(s: Session): Promise<string[]> {
  const rows = await s.query<{ table_name: string }>(`SELECT table_name FROM information_schema.tables WHERE table_schema = $1`, [DATA_SCHEMA]);
  const names = new Set(CANDLE_INTERVALS.map(ohlcvTableName));
  return rows.map((r) => r.table_name).filter((n) => names.has(n)).sort();
}

/**
 * The units of one series' missing ranges (in time order): consecutive ranges share a window while it spans at most
 * UNIT_CANDLES candles (one request where a 1,000-candle page is served), and a longer range is cut into such windows.
 */
function unitsOf(job: Job, ranges: MissingRange[], interval: CandleInterval): RepairUnit[] {
  const out: RepairUnit[] = [];
  let open: RepairUnit | undefined;
  for (const r of ranges) {
    for (const t of gridPoints(r.start, r.end, interval)) {
      if (open && candleCount(open.start, nextOpenTime(t, interval), interval) <= UNIT_CANDLES) {
        open.points.push(t);
        open.end = nextOpenTime(t, interval);
        continue;
      }
      open = { job, exchange: r.exchange, symbol: r.symbol, start: t, end: nextOpenTime(t, interval), points: [t] };
      out.push(open);
    }
  }
  return out;
}

/** The first `n` candles of a range (the bound cuts it). */
function headOf(r: MissingRange, n: number, interval: CandleInterval): MissingRange {
  if (n >= r.count) return r;
  let end = r.start;
  for (let i = 0; i < n; i++) end = nextOpenTime(end, interval);
  return { ...r, end, count: n };
}

/**
 * Finds the missing candles of a candle table and fetches them again, one run per exchange, requesting at most
 * `maxMinutes` candles in all (oldest ranges first). A run that fails is reported in its RepairRun (status failed,
 * its run row -1); the other exchanges still run. Throws ConfigError for an unknown table or exchange.
 */
export async function runRepair(req: RepairRequest, opts: RepairOptions): Promise<RepairSummary> {
  const interval = candleTableInterval(req.table ?? DEFAULT_REPAIR_TABLE);
  if (req.exchange !== undefined) checkRepairExchange(req.exchange);
  const maxMinutes = req.maxMinutes ?? DEFAULT_MAX_MINUTES;
  if (!Number.isInteger(maxMinutes) || maxMinutes <= 0) throw new ConfigError(`--max-minutes must be a positive whole number, got ${maxMinutes}`);
  const table = ohlcvTable(interval);
  const { session } = opts;
  const summary: RepairSummary = {
    table: `${table.schema}.${table.name}`,
    interval,
    exists: false,
    series: 0,
    missing: 0,
    ranges: 0,
    knownMissing: 0,
    requested: 0,
    maxMinutes,
    cut: false,
    unserved: [],
    runs: [],
  };
  await ensureMetaTables(session);
  if (!(await tableExists(session, table.schema, table.name))) return summary;
  summary.exists = true;
  const filter: SeriesFilter = { exchange: req.exchange, symbols: req.symbols?.map((s) => canonicalPair(s) ?? s.trim().toUpperCase()), since: req.since };
  const series = await candleSeries(session, table, filter);
  summary.series = series.length;
  summary.knownMissing = await knownMissingCount(session, table, filter);
  const ranges = await missingRanges(session, table, interval, filter);
  summary.missing = ranges.reduce((n, r) => n + r.count, 0);
  summary.ranges = ranges.length;

  // Each series' job (its venue's stream), or none: those series are reported, not repaired.
  const jobs = new Map<string, Job | undefined>();
  const jobOf = (exchange: string, symbol: string): Job | undefined => {
    const key = `${exchange}\u0000${symbol}`;
    if (!jobs.has(key)) {
      const found = candleRefetchFor({ exchange, symbol, interval });
      let job: Job | undefined;
      try {
        job = found ? buildJob(found.job, { params: found.params }, req.endpoints) : undefined;
      } catch {
        job = undefined; // the stream refuses these params (a symbol it cannot spell): not repairable here
      }
      jobs.set(key, job && job.table.name === table.name ? job : undefined);
    }
    return jobs.get(key);
  };
  const unserved = new Map<string, { series: Set<string>; missing: number }>();
  for (const s of series) {
    if (jobOf(s.exchange, s.symbol)) continue;
    const u = unserved.get(s.exchange) ?? { series: new Set<string>(), missing: 0 };
    u.series.add(s.symbol);
    unserved.set(s.exchange, u);
  }

  // The bound: the oldest ranges first, over every exchange; then each series' ranges in windows.
  const taken = new Map<string, { job: Job; ranges: MissingRange[] }>();
  let budget = maxMinutes;
  for (const r of ranges) {
    const job = jobOf(r.exchange, r.symbol);
    if (!job) {
      unserved.get(r.exchange)!.missing += r.count;
      continue;
    }
    if (budget === 0) {
      summary.cut = true;
      continue;
    }
    const head = headOf(r, budget, interval);
    if (head.count < r.count) summary.cut = true;
    budget -= head.count;
    summary.requested += head.count;
    const key = `${r.exchange}\u0000${r.symbol}`;
    const series = taken.get(key) ?? { job, ranges: [] };
    series.ranges.push(head);
    taken.set(key, series);
  }
  summary.unserved = [...unserved].map(([exchange, u]) => ({ exchange, series: u.series.size, missing: u.missing }));
  const byExchange = new Map<string, { units: RepairUnit[]; ranges: number }>();
  for (const { job, ranges: series } of taken.values()) {
    const work = byExchange.get(series[0].exchange) ?? { units: [], ranges: 0 };
    for (const u of unitsOf(job, series, interval)) work.units.push(u);
    work.ranges += series.length;
    byExchange.set(series[0].exchange, work);
  }

  for (const [exchange, { units, ranges: rangeCount }] of byExchange) {
    // Oldest windows first, the series side by side.
    units.sort((a, b) => a.start - b.start || a.symbol.localeCompare(b.symbol));
    try {
      summary.runs.push(await repairExchange(exchange, units, rangeCount, table, interval, req, opts));
    } catch (err) {
      const inner = err instanceof RunFailedError ? err.cause : err;
      const ids = err instanceof RunFailedError ? { processId: err.summary.processId, runId: err.summary.runId, logPath: err.summary.logPath } : {};
      summary.runs.push({
        exchange,
        job: units[0].job.name,
        status: 'failed',
        ...ids,
        series: new Set(units.map((u) => u.symbol)).size,
        ranges: rangeCount,
        windows: units.length,
        requested: units.reduce((n, u) => n + u.points.length, 0),
        repaired: 0,
        knownMissing: 0,
        error: errorMessage(inner),
      });
    }
  }
  return summary;
}

/** One exchange's repair on the pipeline: its units extracted `concurrency` at a time, committed in groups. */
async function repairExchange(
  exchange: string,
  units: RepairUnit[],
  ranges: number,
  table: TableSpec,
  interval: CandleInterval,
  req: RepairRequest,
  opts: RepairOptions,
): Promise<RepairRun> {
  const { session, lake } = opts;
  const first = units[0].job;
  const runTable = `REPAIR_${table.name.toUpperCase()}`;
  const requested = units.reduce((n, u) => n + u.points.length, 0);
  const seriesCount = new Set(units.map((u) => u.symbol)).size;
  const figures = { pages: 0, extracted: 0, loaded: 0, quarantined: 0, repaired: 0, knownMissing: 0, commits: 0, done: 0, candlesDone: 0 };
  const load: LoadResult = { inserted: 0, updated: 0, deleted: 0 };
  const clients = new Map<string, HttpClient>();
  const lakePaths = new Set<string>();
  const unit = interval === '1m' ? 'minutes' : 'candles';
  let bar: BarProgress | undefined;
  const note = () => `repaired ${figures.repaired.toLocaleString('en-US')}, known missing ${figures.knownMissing.toLocaleString('en-US')} of ${requested.toLocaleString('en-US')} requested`;
  const details = (status: string) => ({
    note: note(),
    repair: { table: `${table.schema}.${table.name}`, exchange, interval, series: seriesCount, ranges, windows: units.length, requested, repaired: figures.repaired, knownMissing: figures.knownMissing, status },
    pages: figures.pages,
    load,
  });
  return runPipeline<RepairUnit, RepairRun>({
    session,
    lake,
    run: {
      open: {
        connectionName: first.connectionName,
        tableName: runTable,
        window: { start: new Date(units.reduce((m, u) => Math.min(m, u.start), Infinity)), end: new Date(units.reduce((m, u) => Math.max(m, u.end), -Infinity)) },
        logLevel: opts.logLevel,
        printLog: opts.printLog,
      },
    },
    concurrency: Math.max(1, Math.floor(req.concurrency ?? 4)),
    group: { maxRows: 200_000, maxBatches: 1000 },
    signal: opts.signal,
    hooks: {
      plan: ({ log }) => {
        log.info({ exchange, table: `${table.schema}.${table.name}`, series: seriesCount, ranges, windows: units.length, requested }, 'repair started');
        bar = createBarProgress(`repair ${exchange} ${table.name}`, { total: requested, unit, enabled: opts.progress ?? Boolean(process.stderr.isTTY), intervalMs: opts.progressIntervalMs });
        return units;
      },
      extract: async (u, { scope, signal, nextPage }) => {
        const key = `${u.job.name} ${u.job.baseUrl}`;
        let http = clients.get(key);
        if (!http) {
          http = new HttpClient({ ...u.job.http, rateLimitPerMinute: u.job.rateLimitPerMinute, headers: u.job.headers, logger: scope.log });
          clients.set(key, http);
        }
        const batch = await extractBatch(scope, u.job, { http, window: { start: new Date(u.start), end: new Date(u.end) }, signal, table, nextPage });
        // Only the missing candles are loaded: the window's other candles are in the table already.
        const wanted = new Set(u.points);
        batch.rows = batch.rows.filter((r) => r.exchange === u.exchange && r.symbol === u.symbol && wanted.has(timeOf(r.ts)));
        return batch;
      },
      // The lock a backfill of the same stream and interval takes (backfill.ts planBackfill): one writer at a time.
      target: () => ({ table, writeMode: first.writeMode, lockKey: `${first.connectionName}/${first.stream.name}_${intervalTableSuffix(interval)}`.toUpperCase(), afterLoad: false }),
      inTransaction: async ({ group, rows, load: groupLoad }, { processId, runId, startedAt }) => {
        const missing = group.flatMap((e) => knownMissingOf(e.unit, e.batch.rows, e.batch.quarantinedCount, interval, startedAt));
        await recordKnownMissing(session, table, missing, runId, new Date());
        const extracted = group.reduce((n, e) => n + e.batch.records, 0);
        const quarantined = group.reduce((n, e) => n + e.batch.quarantinedCount, 0);
        figures.knownMissing += missing.length;
        figures.repaired += groupLoad.inserted;
        await updateRunProgress(session, processId, {
          rowsExtracted: figures.extracted + extracted,
          rowsLoaded: figures.loaded + rows,
          rowsQuarantined: figures.quarantined + quarantined,
          details: details('running'),
        });
      },
      committed: ({ group, rows, committed, published, quarantineFile }, { log }) => {
        figures.commits++;
        for (const e of group) {
          figures.extracted += e.batch.records;
          figures.quarantined += e.batch.quarantinedCount;
          figures.pages += e.batch.pages;
          figures.candlesDone += e.unit.points.length;
          for (const p of e.batch.lakePaths) lakePaths.add(p.slice(0, Math.max(0, p.lastIndexOf('/'))) + '/');
        }
        for (const p of [...published, ...(quarantineFile ? [quarantineFile] : [])]) lakePaths.add(p);
        figures.loaded += rows;
        load.inserted += committed.load.inserted;
        load.updated += committed.load.updated;
        load.deleted += committed.load.deleted;
        log.debug({ units: group.length, rows, ...committed.load }, 'repaired candles committed');
        bar?.update(figures.candlesDone, { repaired: figures.repaired, 'known missing': figures.knownMissing });
      },
      complete: async ({ log, processId, runId, logPath }) => {
        bar?.done();
        log.info({ exchange, requested, repaired: figures.repaired, knownMissing: figures.knownMissing, ...load }, 'repair complete');
        const result: RepairRun = { exchange, job: first.name, status: 'ok', processId, runId, logPath, series: seriesCount, ranges, windows: units.length, requested, repaired: figures.repaired, knownMissing: figures.knownMissing };
        return {
          result,
          outcome: { status: RUN_COMPLETE, rowsExtracted: figures.extracted, rowsLoaded: figures.loaded, rowsQuarantined: figures.quarantined, lakePaths: [...lakePaths], details: details('complete') },
        };
      },
      failed: (err, { processId, runId, logPath }) => {
        bar?.done();
        return {
          figures: { rowsExtracted: figures.extracted, rowsLoaded: figures.loaded, rowsQuarantined: figures.quarantined, lakePaths: [...lakePaths], details: details('failed') },
          error: new RunFailedError({ processId, runId, logPath, job: first.name }, err instanceof Error ? err : new TerminalError(errorMessage(err))),
        };
      },
    },
  });
}

/**
 * The missing candles of a unit the venue answered without: its points with no row among `rows` (the unit's own,
 * already filtered). None when a record was quarantined (the venue did send something), and never a candle that had
 * not closed when the run began.
 */
function knownMissingOf(u: RepairUnit, rows: Record<string, unknown>[], quarantined: number, interval: CandleInterval, startedAt: Date): KnownMissing[] {
  if (quarantined > 0) return [];
  const got = new Set(rows.map((r) => timeOf(r.ts)));
  return u.points.filter((t) => !got.has(t) && nextOpenTime(t, interval) <= startedAt.getTime()).map((ts) => ({ exchange: u.exchange, symbol: u.symbol, ts }));
}

/** A typed time value in ms. */
function timeOf(v: unknown): number {
  return v instanceof Date ? v.getTime() : Number(v);
}
