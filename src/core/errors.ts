// Error types with context. Transient errors are retried with backoff; terminal ones end the run.

/** Context an error carries so the user can find what failed: job, URL (redacted), file, row, field. */
export interface ErrorContext {
  job?: string;
  url?: string;
  file?: string;
  row?: number;
  field?: string;
  hint?: string;
}

/** Base class of every coinlake error. `hint` is printed by the CLI under the message. */
export class CoinlakeError extends Error {
  readonly context: ErrorContext;
  constructor(message: string, context: ErrorContext = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.context = context;
  }
  get hint(): string | undefined {
    return this.context.hint;
  }
}

/** A failure that may succeed when tried again: timeouts, connection errors, 5xx, 429. */
export class TransientError extends CoinlakeError {
  readonly retryAfterMs?: number;
  readonly status?: number;
  constructor(message: string, context: ErrorContext & { retryAfterMs?: number; status?: number } = {}, options?: { cause?: unknown }) {
    super(message, context, options);
    this.retryAfterMs = context.retryAfterMs;
    this.status = context.status;
  }
}

/** A failure that will not go away by retrying: configuration, auth, schema, bad input. */
export class TerminalError extends CoinlakeError {}

/** Raised when a required setting is missing or malformed. */
export class ConfigError extends TerminalError {}

/** The hint of an InternalError unless it gives its own. */
const INTERNAL_ERROR_HINT = 'this is a bug in coinlake: please report it with the command you ran and its output with --print-log';

/** A broken invariant inside coinlake ("cannot happen"): a bug to report, not something the user can fix. */
export class InternalError extends CoinlakeError {
  constructor(message: string, context: ErrorContext = {}, options?: { cause?: unknown }) {
    super(message, { ...context, hint: context.hint ?? INTERNAL_ERROR_HINT }, options);
  }
}

/** The message of any thrown value. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
