// The fixture format of the source conformance suite: one stream's read recorded as the HTTP exchanges it took
// (request → response), in order, with the job parameters and window that produced them.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { TerminalError } from '../../core/errors.ts';

/** Stands for the recording server's origin (`http://127.0.0.1:PORT`) in recorded headers and bodies. */
export const ORIGIN_PLACEHOLDER = '{{origin}}';

const exchangeSchema = z.object({
  method: z.enum(['GET', 'POST']),
  /** Path and query from the server's root, exactly as the source sent them. */
  url: z.string().startsWith('/'),
  /** POST body as sent (JSON-RPC). */
  body: z.string().optional(),
  status: z.number().int(),
  headers: z.record(z.string(), z.string()).default({}),
  /** The response body: parsed JSON when it was JSON (stored minified), else text. */
  response: z.unknown(),
});

const recordingSchema = z.object({
  source: z.string(),
  stream: z.string(),
  /** Where the exchanges came from and how to record them again. */
  recordedFrom: z.string(),
  /** The source's base URL path on the server (e.g. `/v2`): base URL = server origin + basePath. */
  basePath: z.string(),
  params: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
  window: z.object({ start: z.string(), end: z.string() }).optional(),
  /** Incremental streams: the window of the rerun from the first read's state (its requests are recorded too). */
  rerunWindow: z.object({ start: z.string(), end: z.string() }).optional(),
  /** How many of `exchanges` the first read took (the rest are the rerun's); default all. */
  firstRead: z.number().int().positive().optional(),
  exchanges: z.array(exchangeSchema).min(1),
});

export type RecordedExchange = z.infer<typeof exchangeSchema>;
export type Recording = z.infer<typeof recordingSchema>;

/** Reads and checks one recording; a missing or malformed file is a TerminalError naming it. */
export function loadRecording(file: URL): Recording {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new TerminalError(`cannot read the recorded pages ${file.pathname}: ${(err as Error).message}`, {
      file: file.pathname,
      hint: 'record them again: node --import tsx src/sources/conformance/record-fixtures.ts',
    });
  }
  const parsed = recordingSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TerminalError(`recorded pages ${file.pathname} are malformed at ${issue?.path.join('.') || 'the top'}: ${issue?.message}`, { file: file.pathname });
  }
  return parsed.data;
}

/** The response body as bytes, with the placeholder replaced by `origin`. */
export function responseBytes(exchange: RecordedExchange, origin: string, response: unknown = exchange.response): Buffer {
  const text = typeof response === 'string' ? response : JSON.stringify(response);
  return Buffer.from(text.replaceAll(ORIGIN_PLACEHOLDER, origin), 'utf8');
}
