// Named locks on BigQuery, which has none: one lease row per key in the meta dataset's `lock_lease` table, taken by a
// single UPDATE that only a free, expired or own lease matches (concurrent UPDATEs of one table do not both commit in
// BigQuery: the later one runs after the first, or fails on the concurrent update, so two takers cannot both find it
// free), renewed while held, given back when the session's transaction() ends, and left to expire when its process
// dies.
import { randomUUID } from 'node:crypto';
import { TransientError, errorMessage } from '../../core/errors.ts';
import { datasetOf, type BigQueryLocation } from './bigquery-location.ts';
import { bigQueryTable } from './bigquery-sql.ts';

/** What the locks need of their session: statements and the meta dataset. */
export interface LeaseSession {
  exec(sql: string, params?: unknown[]): Promise<number>;
  ensureSchema(schema: string): Promise<void>;
}

/** Timing of the leases. */
export interface LeaseTiming {
  /** How long a lease lasts without renewal (a dead holder's lease frees after this). Default 5 minutes. */
  ttlMs: number;
  /** First wait between attempts on a held lease; doubled up to maxPollMs. Default 100 ms. */
  pollMs: number;
  maxPollMs: number;
  /** Give up waiting after this long (a TransientError). Default 1 hour. */
  waitMs: number;
}

const DEFAULTS: LeaseTiming = { ttlMs: 5 * 60_000, pollMs: 100, maxPollMs: 2_000, waitMs: 60 * 60_000 };

/** The lease locks of one session: `take` waits for a key, `releaseAll` gives every held key back. */
export class BigQueryLeaseLocks {
  /** This session's name on the leases it holds. */
  readonly holder = randomUUID();
  private readonly table: string;
  private readonly timing: LeaseTiming;
  private readonly held = new Set<string>();
  private ready = false;
  private renewal: NodeJS.Timeout | undefined;

  constructor(
    private readonly s: LeaseSession,
    where: BigQueryLocation,
    timing: Partial<LeaseTiming> = {},
  ) {
    this.table = bigQueryTable({ projectId: where.projectId, datasetId: datasetOf(where, 'coinlake_meta'), tableId: 'lock_lease' });
    this.timing = { ...DEFAULTS, ...timing };
  }

  /** Waits until this session holds `key` (at once when it already does). */
  async take(key: string): Promise<void> {
    if (this.held.has(key)) return;
    await this.ensureTable();
    await this.s.exec(
      `INSERT INTO ${this.table} (lock_key, holder, expires_at)\nSELECT @p1, CAST(NULL AS STRING), CAST(NULL AS TIMESTAMP) FROM (SELECT 1 AS one)\nWHERE NOT EXISTS (SELECT 1 FROM ${this.table} WHERE lock_key = @p1)`,
      [key],
    );
    const started = Date.now();
    for (let wait = this.timing.pollMs; ; wait = Math.min(wait * 2, this.timing.maxPollMs)) {
      const taken = await this.s
        .exec(
          `UPDATE ${this.table} SET holder = @p2, expires_at = @p3\nWHERE lock_key = @p1 AND (holder IS NULL OR holder = @p2 OR expires_at < CURRENT_TIMESTAMP())`,
          [key, this.holder, this.expiry()],
        )
        // Another session's UPDATE of the table won the race (BigQuery: "Could not serialize access to table … due
        // to concurrent update"): not taken this time.
        .catch((err: unknown) => {
          if (/due to concurrent update/i.test(errorMessage(err))) return 0;
          throw err;
        });
      if (taken > 0) break;
      if (Date.now() - started > this.timing.waitMs) {
        throw new TransientError(`BigQuery lock "${key}" is still held by another process after ${Math.round(this.timing.waitMs / 60_000)} min`, {
          hint: `another run of the same job is in progress; its lease in ${this.table} frees when it ends, or ${Math.round(this.timing.ttlMs / 60_000)} min after its process died`,
        });
      }
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
    this.held.add(key);
    this.renewal ??= setInterval(() => void this.renew().catch(() => undefined), this.timing.ttlMs / 3).unref();
  }

  /** Gives back every key this session holds. */
  async releaseAll(): Promise<void> {
    const keys = [...this.held];
    this.held.clear();
    clearInterval(this.renewal);
    this.renewal = undefined;
    for (const key of keys) {
      await this.s.exec(`UPDATE ${this.table} SET holder = CAST(NULL AS STRING), expires_at = CAST(NULL AS TIMESTAMP)\nWHERE lock_key = @p1 AND holder = @p2`, [key, this.holder]);
    }
  }

  private expiry(): Date {
    return new Date(Date.now() + this.timing.ttlMs);
  }

  /** Moves the expiry of the held leases on, so a live holder never loses one. */
  private async renew(): Promise<void> {
    for (const key of this.held) {
      await this.s.exec(`UPDATE ${this.table} SET expires_at = @p3\nWHERE lock_key = @p1 AND holder = @p2`, [key, this.holder, this.expiry()]);
    }
  }

  private async ensureTable(): Promise<void> {
    if (this.ready) return;
    await this.s.ensureSchema('coinlake_meta');
    await this.s.exec(`CREATE TABLE IF NOT EXISTS ${this.table} (\n  lock_key STRING NOT NULL,\n  holder STRING,\n  expires_at TIMESTAMP\n)`);
    this.ready = true;
  }
}
