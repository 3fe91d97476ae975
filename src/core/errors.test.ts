// Every error coinlake throws is a CoinlakeError with a hint the CLI prints under the message (STYLE principle 6).
import { describe, expect, it } from 'vitest';
import { CoinlakeError, ConfigError, InternalError, TerminalError } from './errors.ts';
import { parseInstant } from './time.ts';
import { planWindows } from '../runner/backfill-chunks.ts';
import { RateWindow } from '../replay/rate-window.ts';
import { FaultQueue } from '../replay/faults.ts';
import { WeightBudget } from '../sources/binance/binance-weight-budget.ts';
import { imageColumns } from '../load/change-events.ts';

/** What the CLI shows of an error: its class, message and hint. */
function shown(fn: () => unknown): { class: string; message: string; hint: string | undefined } {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CoinlakeError);
    const e = err as CoinlakeError;
    return { class: e.constructor.name, message: e.message, hint: e.hint };
  }
  throw new InternalError('expected a throw');
}

describe('errors', () => {
  it('an InternalError is a CoinlakeError whose hint says to report it; a given hint wins', () => {
    const e = new InternalError('the staging holds 3 rows where 4 were added', { file: 'a.json' });
    expect(e).toBeInstanceOf(CoinlakeError);
    expect(e).not.toBeInstanceOf(TerminalError);
    expect([e.name, e.message, e.context.file, e.hint]).toEqual([
      'InternalError',
      'the staging holds 3 rows where 4 were added',
      'a.json',
      'this is a bug in coinlake: please report it with the command you ran and its output with --print-log',
    ]);
    expect(new InternalError('x', { hint: 'y' }).hint).toBe('y');
  });

  it('bad input to the core helpers throws a TerminalError naming the value, with a hint', () => {
    expect(shown(() => parseInstant('yesterday'))).toEqual({
      class: 'TerminalError',
      message: '"yesterday" is not a date (expected YYYY-MM-DD, ISO-8601 or epoch)',
      hint: 'write it as 2024-01-31, 2024-01-31T12:00:00Z or an epoch number in seconds or milliseconds',
    });
    expect(shown(() => planWindows(new Date(0), new Date(1), 0))).toEqual({
      class: 'ConfigError',
      message: 'chunk length must be positive, got 0 ms',
      hint: 'give the chunk length as a positive duration, e.g. --chunk 1d or --chunk 6h',
    });
    expect(shown(() => new RateWindow(0))).toEqual({
      class: 'ConfigError',
      message: 'rateLimitPerMinute must be positive, got 0',
      hint: 'give the replay server a rate limit of at least 1 request per minute, or none',
    });
    expect(shown(() => new FaultQueue().add({ kind: 'status500', times: 0 }))).toEqual({
      class: 'TerminalError',
      message: 'fault times must be positive, got 0',
      hint: 'leave times out for one fault, or give how many requests it applies to (1 or more)',
    });
    expect(shown(() => new WeightBudget({ limit: 0 }))).toEqual({
      class: 'ConfigError',
      message: 'weight budget needs a positive limit and window (got 0 per 60000 ms)',
      hint: 'give Binance a weight limit of at least 1 per a window of at least 1 ms (defaults: 6000 per 60000 ms)',
    });
    expect(shown(() => imageColumns({ schema: 'coinlake', name: 'assets', columns: [{ name: 'id', type: 'varchar' }], primaryKey: ['asset_id'] }))).toEqual({
      class: 'ConfigError',
      message: 'primary key column "asset_id" is not a column of coinlake.assets',
      hint: "the primary key of assets must list its own columns: fix the table's definition (primaryKey, or primary_key in the catalog)",
    });
    expect(ConfigError.prototype).toBeInstanceOf(TerminalError);
  });
});
