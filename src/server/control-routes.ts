// The local control endpoint: GET /api/health (who this server is) and POST /api/control/run, through which
// `coinlake run` in another terminal hands its job to the server that holds the warehouse. Only callers that read
// the control token from the marker file (mode 0600, beside the warehouse) may run jobs.
import { timingSafeEqual } from 'node:crypto';
import { Hono } from 'hono';
import { stream } from 'hono/streaming';
import { controlRunRequestSchema, type ControlMessage } from './control-protocol.ts';
import { ApiError } from './request-params.ts';
import type { RunQueue } from './run-queue.ts';

/** What the control routes need. */
export interface ControlDeps {
  queue: RunQueue;
  instance: string;
  token: string;
  startedAt: Date;
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

  app.post('/control/run', async (c) => {
    const auth = c.req.header('authorization') ?? '';
    if (!auth.startsWith('Bearer ') || !sameToken(auth.slice(7), deps.token)) {
      throw new ApiError('missing or wrong control token', 'the token is in the marker file beside the warehouse (<warehouse>.serve.json); `coinlake run` reads it', 401);
    }
    if (!(c.req.header('content-type') ?? '').startsWith('application/json')) throw new ApiError('expected a JSON body (content-type: application/json)', undefined, 415);
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      throw new ApiError('the body is not valid JSON');
    }
    const parsed = controlRunRequestSchema.safeParse(body);
    if (!parsed.success) {
      throw new ApiError(`bad run request: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ')}`);
    }
    c.header('content-type', 'application/x-ndjson');
    c.header('cache-control', 'no-store');
    return stream(c, async (out) => {
      const emit = (m: ControlMessage) => void out.write(JSON.stringify(m) + '\n').catch(() => {});
      await deps.queue.submit(parsed.data, emit);
    });
  });

  return app;
}
