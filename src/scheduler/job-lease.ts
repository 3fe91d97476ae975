// Leases of scheduled jobs in the warehouse (coinlake_meta.job_lease): before a `coinlake schedule` process runs a job
// it takes the job's row — atomically, with a conditional UPDATE — for a bounded time it renews while the run goes on,
// so no two schedulers anywhere run one job at once, and the row keeps the newest fire time started, so one fire time
// is run once however many schedulers see it. A dead holder's lease expires by itself. Portable SQL, the warehouse's
// clock: the same on DuckDB and PostgreSQL.
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Session } from '../core/destination.ts';
import { errorMessage } from '../core/errors.ts';

export const JOB_LEASE_TABLE = 'coinlake_meta.job_lease';
/** How long a lease lasts unless renewed (it is renewed every third of it while the run goes on). Default 60 s. */
export const DEFAULT_LEASE_TTL_MS = 60_000;

/** `now + ms` on the warehouse's clock. */
const expiry = (param: number) => `CURRENT_TIMESTAMP + CAST($${param} AS INTEGER) * INTERVAL '1 millisecond'`;

/** The answer to a take: taken, or refused with why (who holds it, or that the fire time was started already). */
export type LeaseAnswer = { taken: true } | { taken: false; because: string };

/** A name for this process's leases: `<host>-<pid>-<random>`. */
function leaseHolder(): string {
  return `${os.hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/** Creates the job's (free) row unless it exists; another process creating it at once is fine. */
async function ensureRow(s: Session, key: string): Promise<void> {
  try {
    await s.exec(
      `INSERT INTO ${JOB_LEASE_TABLE} (job_key, holder, fire_at, taken_at, expires_at)
       SELECT CAST($1 AS VARCHAR), NULL, NULL, NULL, CURRENT_TIMESTAMP WHERE NOT EXISTS (SELECT 1 FROM ${JOB_LEASE_TABLE} WHERE job_key = $1)`,
      [key],
    );
  } catch (err) {
    const [row] = await s.query(`SELECT 1 AS one FROM ${JOB_LEASE_TABLE} WHERE job_key = $1`, [key]);
    if (!row) throw err;
  }
}

/**
 * Takes job `key`'s lease for `ttlMs`, for the run of fire time `fireAt`: refused while another holder's lease has not
 * expired, or when a run for `fireAt` (or a later fire time) was started already, by anyone.
 */
export async function takeJobLease(s: Session, key: string, holder: string, fireAt: Date, ttlMs = DEFAULT_LEASE_TTL_MS): Promise<LeaseAnswer> {
  await ensureRow(s, key);
  const taken = await s.exec(
    `UPDATE ${JOB_LEASE_TABLE} SET holder = $2, fire_at = $3, taken_at = CURRENT_TIMESTAMP, expires_at = ${expiry(4)}
      WHERE job_key = $1 AND (holder IS NULL OR holder = $2 OR expires_at <= CURRENT_TIMESTAMP) AND (fire_at IS NULL OR fire_at < $3)`,
    [key, holder, fireAt, Math.round(ttlMs)],
  );
  if (taken > 0) return { taken: true };
  const [row] = await s.query<{ holder: string | null; fire_at: Date | null; expires_at: Date }>(`SELECT holder, fire_at, expires_at FROM ${JOB_LEASE_TABLE} WHERE job_key = $1`, [key]);
  if (row?.fire_at && row.fire_at.getTime() >= fireAt.getTime()) {
    const at = row.fire_at.getTime() === fireAt.getTime() ? '' : ` (and for ${row.fire_at.toISOString()})`;
    return { taken: false, because: `its run for ${fireAt.toISOString()} was started by ${row.holder ?? 'another scheduler'}${at} (lease in ${JOB_LEASE_TABLE})` };
  }
  return { taken: false, because: `${row?.holder ?? 'another scheduler'} is running it (lease in ${JOB_LEASE_TABLE} until ${row?.expires_at.toISOString()})` };
}

/** Extends a held lease by `ttlMs` from now; false when it is no longer this holder's (it expired and was taken). */
export async function renewJobLease(s: Session, key: string, holder: string, ttlMs = DEFAULT_LEASE_TTL_MS): Promise<boolean> {
  const n = await s.exec(`UPDATE ${JOB_LEASE_TABLE} SET expires_at = ${expiry(3)} WHERE job_key = $1 AND holder = $2`, [key, holder, Math.round(ttlMs)]);
  return n > 0;
}

/** Lets go of a held lease (the row keeps the fire time it was taken for). */
export async function releaseJobLease(s: Session, key: string, holder: string): Promise<void> {
  await s.exec(`UPDATE ${JOB_LEASE_TABLE} SET holder = NULL, expires_at = CURRENT_TIMESTAMP WHERE job_key = $1 AND holder = $2`, [key, holder]);
}

/** A lease held for one run: renewed on a timer until released. */
export interface HeldLease {
  release(): Promise<void>;
}

/**
 * The leases of one scheduler process. `withSession` opens a short session per call (a run holds its own: a renewal
 * must not wait for, or join, the run's transaction).
 */
export class JobLeases {
  constructor(
    private readonly withSession: <T>(fn: (s: Session) => Promise<T>) => Promise<T>,
    readonly holder = leaseHolder(),
    readonly ttlMs = DEFAULT_LEASE_TTL_MS,
    /** Told when a renewal failed or found the lease taken by another holder (the run goes on). */
    private readonly onTrouble?: (key: string, message: string) => void,
  ) {}

  /** Takes the job's lease for fire time `fireAt`, or says why not. */
  async take(key: string, fireAt: Date): Promise<HeldLease | { refused: string }> {
    const answer = await this.withSession((s) => takeJobLease(s, key, this.holder, fireAt, this.ttlMs));
    if (!answer.taken) return { refused: answer.because };
    let renewing: Promise<void> = Promise.resolve();
    const timer = setInterval(() => {
      renewing = this.withSession((s) => renewJobLease(s, key, this.holder, this.ttlMs)).then(
        (held) => {
          if (!held) this.onTrouble?.(key, `its lease in ${JOB_LEASE_TABLE} expired and was taken by another scheduler`);
        },
        (err) => this.onTrouble?.(key, `could not renew its lease in ${JOB_LEASE_TABLE}: ${errorMessage(err)}`),
      );
    }, Math.max(50, Math.floor(this.ttlMs / 3)));
    return {
      release: async () => {
        clearInterval(timer);
        await renewing;
        await this.withSession((s) => releaseJobLease(s, key, this.holder));
      },
    };
  }
}
