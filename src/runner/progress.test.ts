// Progress output: a cli-progress bar with counts, rows and ETA on a terminal; plain periodic lines elsewhere.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createBarProgress } from './progress.ts';

/** A stderr stand-in that keeps what was written. */
function sink(tty: boolean): NodeJS.WriteStream & { text: () => string } {
  let text = '';
  const w = new Writable({
    write(chunk, _enc, cb) {
      text += chunk.toString();
      cb();
    },
  }) as unknown as NodeJS.WriteStream & { text: () => string };
  Object.assign(w, { isTTY: tty, columns: 120, cursorTo: () => true, clearLine: () => true, moveCursor: () => true, text: () => text });
  return w;
}

describe('bar progress', () => {
  it('prints plain lines with counts, percentage, rows and ETA when not on a terminal', async () => {
    const out = sink(false);
    const p = createBarProgress('binance.klines', { total: 40, initial: 10, stream: out, intervalMs: 0 });
    await new Promise((r) => setTimeout(r, 20));
    p.update(20, { rows: 14_400 });
    p.done();
    expect(out.text()).toMatch(/^binance\.klines: 20\/40 chunks \(50%\), 14,400 rows, \d+ s elapsed, ETA \d+ s\n$/);
  });

  it('draws a bar with counts, rows and ETA on a terminal', () => {
    const out = sink(true);
    const p = createBarProgress('import cdd', { total: 520, unit: 'MB', stream: out });
    p.update(260, { files: 1, rows: 2_500_000 });
    p.done();
    expect(out.text()).toMatch(/import cdd \|[█░]+\| 260\/520 MB \| 1 files \| 2,500,000 rows \| ETA \d+ s/);
  });

  it('prints nothing when disabled', () => {
    const out = sink(false);
    const p = createBarProgress('x', { total: 1, stream: out, enabled: false, intervalMs: 0 });
    p.update(1, { rows: 1 });
    p.done();
    expect(out.text()).toBe('');
  });
});
