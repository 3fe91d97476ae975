// The local control endpoint: GET /api/health (who this server is), POST /api/control/command, through which any
// command in another terminal that needs the warehouse this server holds runs here instead (its output streamed
// back), POST /api/control/cancel (that command's Ctrl-C), and POST /api/control/run (a job by name, the older
// form). Only callers that read the control token from the marker file (mode 0600, beside the warehouse) may use them.
import { timingSafeEqual } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { Hono } from 'hono';
import { stream } from 'hono/streaming';
import type { Context } from 'hono';
import type { z } from 'zod';
import {
  controlCancelRequestSchema,
  controlCommandRequestSchema,
  controlRunRequestSchema,
  type CommandMessage,
  type ControlMessage,
} from './control-protocol.ts';
import { ApiError } from './request-params.ts';
import type { RunQueue } from './run-queue.ts';

/** What the control routes need. */
export interface ControlDeps {
  queue: RunQueue;
  instance: string;
  token: string;
  startedAt: Date;
  /** How often a command's answer carries an `alive` line when nothing else is sent. Default 5 s. */
  heartbeatMs?: number;
}

function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** /api/health and /api/control/run. */
export function controlRoutes(deps: ControlDeps): Hono {
  const app = new Hono();

  app.get('/health', (c) =>
    c.json({ ok: true, service: 'coinlake serve', pid: process.pid, instance: deps.instance, startedAt: deps.startedAt.toISOString(), queuedRuns: deps.queue.depth }),
  );

  /** The token check and the JSON body, parsed by `schema` (401, 415, 400 otherwise). */
  async function request<S extends z.ZodType>(c: Context, schema: S, what: string): Promise<z.output<S>> {
    const auth = c.req.header('authorization') ?? '';
    if (!auth.startsWith('Bearer ') || !sameToken(auth.slice(7), deps.token)) {
      throw new ApiError('missing or wrong control token', 'the token is in the marker file beside the warehouse (<warehouse>.serve.json); the coinlake command reads it', 401);
    }
    if (!(c.req.header('content-type') ?? '').startsWith('application/json')) throw new ApiError('expected a JSON body (content-type: application/json)', undefined, 415);
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      throw new ApiError('the body is not valid JSON');
    }
    const parsed = schema.safeParse(body);
    if (!parsed.success) {
      throw new ApiError(`bad ${what} request: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ')}`);
    }
    return parsed.data;
  }

  app.post('/control/run', async (c) => {
    const req = await request(c, controlRunRequestSchema, 'run');
    deps.queue.assertRoom();
    c.header('content-type', 'application/x-ndjson');
    c.header('cache-control', 'no-store');
    return stream(c, async (out) => {
      const emit = (m: ControlMessage) => void out.write(JSON.stringify(m) + '\n').catch(() => {});
      await deps.queue.submit(req, emit);
    });
  });

  app.post('/control/command', async (c) => {
    const req = await request(c, controlCommandRequestSchema, 'command');
    deps.queue.assertRoom();
    c.header('content-type', 'application/x-ndjson');
    c.header('cache-control', 'no-store');
    return stream(c, async (out) => {
      const gone = new AbortController();
      out.onAbort(() => gone.abort());
      // The caller went away (killed, or its connection dropped): a queued command is dropped, a running one gets SIGINT.
      const outgoing = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing;
      outgoing?.once('close', () => gone.abort());
      let last = Date.now();
      const emit = (m: CommandMessage) => {
        last = Date.now();
        if (!out.aborted) void out.write(JSON.stringify(m) + '\n').catch(() => gone.abort());
      };
      const every = deps.heartbeatMs ?? 5000;
      const beat = setInterval(() => Date.now() - last >= every && emit({ type: 'alive' }), Math.max(50, every / 2));
      try {
        await deps.queue.submitCommand(req, emit, gone.signal);
      } finally {
        clearInterval(beat);
      }
    });
  });

  app.post('/control/cancel', async (c) => {
    const { id } = await request(c, controlCancelRequestSchema, 'cancel');
    return c.json(deps.queue.cancel(id));
  });

  return app;
}
