// Progress of long work: a live line on a TTY, plain periodic lines otherwise (logs, CI).
import cliProgress from 'cli-progress';

export interface ProgressReporter {
  update(fields: Record<string, number | string>): void;
  done(): void;
}

/** Reports to stderr; on a TTY it rewrites one line, elsewhere it prints at most every intervalMs. */
export function createProgress(label: string, opts: { stream?: NodeJS.WriteStream; intervalMs?: number; enabled?: boolean } = {}): ProgressReporter {
  const out = opts.stream ?? process.stderr;
  const tty = Boolean(out.isTTY);
  const interval = opts.intervalMs ?? (tty ? 100 : 5_000);
  const started = Date.now();
  let last = 0;
  let pending = '';
  const render = (fields: Record<string, number | string>) =>
    `${label}: ${Object.entries(fields).map(([k, v]) => `${typeof v === 'number' ? v.toLocaleString('en-US') : v} ${k}`).join(', ')} (${((Date.now() - started) / 1000).toFixed(1)} s)`;
  if (opts.enabled === false) return { update() {}, done() {} };
  return {
    update(fields) {
      pending = render(fields);
      const now = Date.now();
      if (now - last < interval) return;
      last = now;
      out.write(tty ? `\r\x1b[2K${pending}` : `${pending}\n`);
    },
    done() {
      if (tty && last > 0) out.write('\r\x1b[2K');
    },
  };
}

/** Progress of work counted in units (chunks, files) with a known total. */
export interface BarProgress {
  /** `done` units finished so far (skipped ones included), plus the figures shown beside the bar (e.g. rows). */
  update(done: number, fields?: Record<string, number>): void;
  done(): void;
}

export interface BarProgressOptions {
  total: number;
  /** Unit name shown after the counts. Default 'chunks'. */
  unit?: string;
  /** Units already done before this run started (e.g. chunks committed by an earlier run); the ETA ignores them. */
  initial?: number;
  stream?: NodeJS.WriteStream;
  /** Plain mode: at most one line per interval. Default 5 s. */
  intervalMs?: number;
  enabled?: boolean;
}

const numberText = (v: number) => v.toLocaleString('en-US');

function secondsText(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`;
}

/**
 * A progress bar with counts, rate-based ETA and extra figures (rows) on a TTY (cli-progress), or plain periodic
 * lines elsewhere (`label: 12/30 chunks (40%), 17,280 rows, 3 s elapsed, ETA 5 s`), both on stderr.
 */
export function createBarProgress(label: string, opts: BarProgressOptions): BarProgress {
  const out = opts.stream ?? process.stderr;
  const unit = opts.unit ?? 'chunks';
  const initial = opts.initial ?? 0;
  if (opts.enabled === false) return { update() {}, done() {} };
  const started = Date.now();
  const eta = (done: number) => {
    const progressed = done - initial;
    if (progressed <= 0) return undefined;
    return ((Date.now() - started) / progressed) * (opts.total - done);
  };
  const extras = (fields: Record<string, number>) => Object.entries(fields).map(([k, v]) => `${numberText(v)} ${k}`);
  if (out.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        stream: out,
        format: `${label} |{bar}| {value}/{total} ${unit} | {extras} | ETA {etaText}`,
        hideCursor: true,
        barsize: 24,
        fps: 10,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(opts.total, initial, { extras: '', etaText: '…' });
    return {
      update(done, fields = {}) {
        const left = eta(done);
        bar.update(done, { extras: extras(fields).join(' | '), etaText: left === undefined ? '…' : secondsText(left) });
      },
      done() {
        bar.stop();
      },
    };
  }
  const interval = opts.intervalMs ?? 5_000;
  let last = started;
  return {
    update(done, fields = {}) {
      const now = Date.now();
      if (now - last < interval) return;
      last = now;
      const pct = opts.total > 0 ? Math.floor((done / opts.total) * 100) : 100;
      const left = eta(done);
      const parts = [`${numberText(done)}/${numberText(opts.total)} ${unit} (${pct}%)`, ...extras(fields), `${secondsText(now - started)} elapsed`];
      if (left !== undefined) parts.push(`ETA ${secondsText(left)}`);
      out.write(`${label}: ${parts.join(', ')}\n`);
    },
    done() {},
  };
}
