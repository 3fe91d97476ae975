// Live updates: a fan-out of dashboard events to every open server-sent-events stream, and a watcher that turns
// commits into events — new or finished rows of workflow_action_history (runs of this server, of other processes on
// PostgreSQL, and stream batches that record runs) and new `_loaded_at` values of the stream_* tables.
import type { Session } from '../core/destination.ts';
import { DATA_SCHEMA, META_SCHEMA } from '../catalog/meta-tables.ts';
import { RUN_STATUS } from './health-queries.ts';
import type { SessionPool } from './session-pool.ts';
import { readWarehouseTables } from './warehouse-tables.ts';

/**
 * An event as the page receives it: `run` (a run started or finished), `batch` (a stream table got rows) or
 * `command` (a command handed over to the server ended: its name and exit code, never its arguments).
 */
export interface DashboardEvent {
  id: number;
  type: 'run' | 'batch' | 'command';
  data: Record<string, unknown>;
}

/** Fans events out to subscribers (one per open /api/events stream). */
export class EventHub {
  private readonly listeners = new Set<(e: DashboardEvent) => void>();
  private lastId = 0;

  /** Adds a listener; returns the function that removes it. */
  subscribe(fn: (e: DashboardEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Sends an event to every listener. */
  publish(type: DashboardEvent['type'], data: Record<string, unknown>): DashboardEvent {
    const e = { id: ++this.lastId, type, data };
    for (const fn of this.listeners) fn(e);
    return e;
  }

  /** Open streams. */
  get subscribers(): number {
    return this.listeners.size;
  }
}

interface RunRowLite {
  process_id: unknown;
  run_id: string;
  connection_name: string | null;
  table_name: string | null;
  execution_status: unknown;
  rows_loaded: unknown;
  execution_end_datetime: Date | null;
  error_message: string | null;
}

/**
 * Polls the warehouse every `intervalMs` (default 2 s) for commits and publishes them; `poke()` polls at once (the
 * server calls it after each run it executed, so its own runs show up without waiting for the timer).
 */
export class CommitWatcher {
  private maxProcessId = -1;
  private readonly open = new Set<number>();
  private readonly streamLoads = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  private chain: Promise<void> = Promise.resolve();
  private primed = false;

  constructor(
    private readonly pool: SessionPool,
    private readonly hub: EventHub,
    private readonly intervalMs = 2000,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  /** Reads where the warehouse stands now (no events for what already happened), then polls on the timer. */
  async start(): Promise<void> {
    await this.poke();
    this.timer = setInterval(() => void this.poke(), this.intervalMs);
    this.timer.unref();
  }

  /** Polls now, after any poll in flight. */
  poke(): Promise<void> {
    this.chain = this.chain.then(() => this.pool.use((s) => this.poll(s)).catch(this.onError));
    return this.chain;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async poll(s: Session): Promise<void> {
    const tables = await readWarehouseTables(s);
    const quiet = !this.primed;
    this.primed = true;
    if (tables.has(META_SCHEMA, 'workflow_action_history')) {
      const open = [...this.open];
      const params: unknown[] = [this.maxProcessId];
      const inOpen = open.length ? ` OR process_id IN (${open.map((id) => `$${params.push(id)}`).join(', ')})` : '';
      const rows = await s.query<RunRowLite>(
        `SELECT process_id, run_id, connection_name, table_name, execution_status, rows_loaded, execution_end_datetime, error_message
           FROM coinlake_meta.workflow_action_history WHERE process_id > $1${inOpen} ORDER BY process_id`,
        params,
      );
      for (const r of rows) {
        const id = Number(r.process_id);
        const status = Number(r.execution_status);
        const isNew = id > this.maxProcessId;
        const finished = this.open.has(id) && status !== 0;
        if (isNew) this.maxProcessId = id;
        if (status === 0) this.open.add(id);
        else this.open.delete(id);
        if (quiet || !(isNew || finished)) continue;
        this.hub.publish('run', {
          processId: id,
          runId: r.run_id,
          job: `${r.connection_name ?? ''}/${r.table_name ?? ''}`,
          status: RUN_STATUS[status] ?? String(status),
          statusCode: status,
          rowsLoaded: r.rows_loaded == null ? null : Number(r.rows_loaded),
          endedAt: r.execution_end_datetime?.toISOString() ?? null,
          error: r.error_message,
        });
      }
    }
    for (const name of tables.tablesOf(DATA_SCHEMA)) {
      if (!name.startsWith('stream_') || !tables.columnsOf(DATA_SCHEMA, name).has('_loaded_at')) continue;
      const [r] = await s.query<{ at: Date | null }>(`SELECT max(_loaded_at) AS at FROM ${s.dialect.table(DATA_SCHEMA, name)}`);
      const at = r.at?.getTime() ?? 0;
      const before = this.streamLoads.get(name);
      this.streamLoads.set(name, at);
      if (!quiet && at > (before ?? 0)) this.hub.publish('batch', { table: `${DATA_SCHEMA}.${name}`, loadedAt: new Date(at).toISOString() });
    }
  }
}
