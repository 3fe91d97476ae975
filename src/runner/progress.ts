// Progress of long work: a live line on a TTY, plain periodic lines otherwise (logs, CI).

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
