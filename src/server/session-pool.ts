// A few warehouse sessions shared by the dashboard's readers. On DuckDB each is its own connection to the file the
// server holds (MVCC: every query reads a committed snapshot while a run writes); on PostgreSQL its own connection.
import type { Session } from '../core/destination.ts';
import { TerminalError } from '../core/errors.ts';

/** What a request gets from a pool that is closing. */
function shuttingDown(): TerminalError {
  return new TerminalError('the dashboard is shutting down', { hint: 'start coinlake serve again and reload the page' });
}

/** Sessions opened on demand up to `size`, handed to one task at a time. */
export class SessionPool {
  private readonly idle: Session[] = [];
  private readonly waiting: { resolve: (s: Session) => void; reject: (err: unknown) => void }[] = [];
  private opened = 0;
  private closed = false;

  /** `open` makes a new session; `size` caps how many exist at once (default 3). */
  constructor(
    private readonly open: () => Promise<Session>,
    private readonly size = 3,
  ) {}

  /** Runs fn with a session of the pool; a session whose query failed is closed rather than reused. */
  async use<T>(fn: (s: Session) => Promise<T>): Promise<T> {
    const s = await this.acquire();
    let healthy = true;
    try {
      return await fn(s);
    } catch (err) {
      healthy = false;
      throw err;
    } finally {
      if (healthy) this.release(s);
      else void this.discard(s);
    }
  }

  private async acquire(): Promise<Session> {
    if (this.closed) throw shuttingDown();
    const idle = this.idle.pop();
    if (idle) return idle;
    if (this.opened < this.size) {
      this.opened++;
      try {
        return await this.open();
      } catch (err) {
        this.opened--;
        throw err;
      }
    }
    return new Promise<Session>((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  private release(s: Session): void {
    const next = this.waiting.shift();
    if (next) next.resolve(s);
    else if (this.closed) void this.discard(s);
    else this.idle.push(s);
  }

  private async discard(s: Session): Promise<void> {
    this.opened--;
    await s.close().catch(() => {});
    // A waiter gets a fresh session in place of the discarded one.
    const next = this.waiting.shift();
    if (next && !this.closed) {
      this.opened++;
      this.open().then(next.resolve, (err: unknown) => {
        this.opened--;
        next.reject(err);
      });
    }
  }

  /** Closes every idle session; sessions in use close when they come back. */
  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiting.splice(0)) w.reject(shuttingDown());
    const idle = this.idle.splice(0);
    await Promise.all(idle.map((s) => s.close().catch(() => {})));
  }
}
