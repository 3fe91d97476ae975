// The control endpoint's protocol, shared by `coinlake serve` and the commands that hand themselves over to it.
// POST /api/control/run (a job by name) with a JSON body (below) and `Authorization: Bearer <token from the
// marker>`; the answer is NDJSON, one message per line, ending with `done` or `failed`. Any command: further down.
import { z } from 'zod';
import type { RunSummary } from '../runner/run-job.ts';

const text = z.string().min(1).max(200);

/** What `coinlake run` sends: a job by name or a catalog entry, its options, and where its sources are. */
export const controlRunRequestSchema = z
  .strictObject({
    /** A job name (`coincap.assets`), or… */
    job: text.optional(),
    /** …a catalog entry: connection (-s) and asset (-a). */
    section: text.optional(),
    tableName: text.optional(),
    options: z
      .strictObject({ asset: text.optional(), interval: text.optional(), from: text.optional(), to: text.optional(), mode: text.optional() })
      .default({}),
    /** CoinCap key of the caller's environment (COINCAP_API_KEY), sent over loopback only. */
    apiKey: z.string().max(500).optional(),
    /** Base URLs of the caller (its replay server, COINLAKE_<SOURCE>_URL), rate limit and retry overrides. */
    endpoints: z
      .strictObject({
        baseUrls: z.record(z.string(), z.url()).optional(),
        rateLimitPerMinute: z.number().int().min(0).optional(),
        http: z
          .strictObject({
            retries: z.number().int().min(0).optional(),
            minBackoffMs: z.number().min(0).optional(),
            maxBackoffMs: z.number().min(0).optional(),
            timeoutMs: z.number().min(0).optional(),
          })
          .optional(),
      })
      .default({}),
    /** The caller's config file (-p) and working directory, for catalog entries. */
    config: z.strictObject({ file: z.string().max(4096).optional(), cwd: z.string().max(4096) }).optional(),
    logLevel: z.enum(['debug', 'info', 'warning', 'error']).optional(),
  })
  .refine((r) => Boolean(r.job) !== Boolean(r.section || r.tableName), 'give either job or section and tableName')
  .refine((r) => Boolean(r.job) || (Boolean(r.section) && Boolean(r.tableName)), 'section and tableName go together');

export type ControlRunRequest = z.input<typeof controlRunRequestSchema>;
export type ParsedControlRunRequest = z.output<typeof controlRunRequestSchema>;

/** The run a failure belongs to, when it got as far as a run row. */
export interface FailedRunRef {
  processId: number;
  runId: string;
  logPath: string;
  job: string;
}

/** One line of the answer. */
export type ControlMessage =
  | { type: 'queued'; ahead: number }
  | { type: 'started' }
  | { type: 'done'; summary: RunSummary; ms: number }
  | { type: 'failed'; error: { message: string; hint?: string }; run?: FailedRunRef };

// ── Any command: POST /api/control/command runs a CLI command in the server (the same code, on its warehouse
// session) and streams its output back; POST /api/control/cancel asks a running one to stop (its Ctrl-C).

/**
 * The caller's environment variables a command may read, sent with it: coinlake's own (COINLAKE_*, the sources' URLs
 * COINLAKE_<SOURCE>_URL among them), the sources' API keys (<NAME>_API_KEY), cloud credentials, TZ. Nothing else of
 * the caller's environment travels; never logged.
 */
export const HANDED_OVER_ENV = /^(COINLAKE_|AWS_|GOOGLE_|GCLOUD_)[A-Z0-9_]*$|^[A-Z][A-Z0-9_]*_API_KEY$|^TZ$/;

/** A command as the CLI sends it. */
export const controlCommandRequestSchema = z.strictObject({
  /** The command's name path (`models run`), shown on the server's queue; its arguments are in argv. */
  command: z.string().regex(/^[a-z][a-z-]*( [a-z][a-z-]*)?$/, 'a command name such as "models run"'),
  /** The arguments after `coinlake`, global options included, as the caller typed them. */
  argv: z.array(z.string().max(100_000)).max(1000),
  /** The caller's working directory: relative paths (a CSV file, a config file) resolve against it. */
  cwd: z.string().min(1).max(4096),
  /** The caller's variables that match HANDED_OVER_ENV (others are refused). */
  env: z.record(z.string().regex(HANDED_OVER_ENV, 'not a variable a command reads'), z.string().max(100_000)).default({}),
  /** The caller's terminal: progress is drawn as it would be there. */
  tty: z.strictObject({ stdout: z.boolean(), stderr: z.boolean(), columns: z.number().int().positive().max(10_000).optional() }).default({ stdout: false, stderr: false }),
});

export type ControlCommandRequest = z.input<typeof controlCommandRequestSchema>;
export type ParsedControlCommandRequest = z.output<typeof controlCommandRequestSchema>;

/** One line of a command's answer: queued (with the id to cancel it by), output as it is written, the exit code. */
export type CommandMessage =
  | { type: 'queued'; id: string; ahead: number; running?: string }
  | { type: 'started' }
  | { type: 'out'; fd: 1 | 2; text: string }
  /** Sent every few seconds while nothing else is, so that the caller can tell a live server from a dead one. */
  | { type: 'alive' }
  | { type: 'exit'; code: number };

/** POST /api/control/cancel: the caller's Ctrl-C. */
export const controlCancelRequestSchema = z.strictObject({ id: z.string().min(1).max(100) });

/** The answer to a cancel: what became of the command. */
export interface CancelAnswer {
  /** `dequeued`: it had not started and will not; `signalled`: it stops as on Ctrl-C; `running`: it does not stop on Ctrl-C and runs to its end; `unknown`: no such command (it ended). */
  outcome: 'dequeued' | 'signalled' | 'running' | 'unknown';
}
