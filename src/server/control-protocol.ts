// The control endpoint's protocol, shared by `coinlake serve` and the `coinlake run` that hands its job over:
// POST /api/control/run with a JSON body (below) and `Authorization: Bearer <token from the marker>`; the answer
// is NDJSON, one message per line, ending with `done` or `failed`.
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
