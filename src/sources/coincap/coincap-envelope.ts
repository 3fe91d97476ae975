// CoinCap's `{data, timestamp}` envelope, validated with zod; detects the 2025 v2 shutdown body.
import { z } from 'zod';
import { TerminalError } from '../../core/errors.ts';

// Records are checked one by one by the normalizer (a non-object is quarantined there), so the envelope
// check stays shallow and cheap on pages of thousands of records.
const listEnvelope = z.object({ data: z.array(z.unknown()), timestamp: z.number().optional() });
const deprecatedEnvelope = z.object({ data: z.object({ message: z.string() }) });

/** Parses a CoinCap list response; throws a clear TerminalError for the v2 deprecation body or another shape. */
export function parseListEnvelope(json: unknown, url: string): { data: Record<string, unknown>[]; timestamp?: number } {
  const deprecated = deprecatedEnvelope.safeParse(json);
  if (deprecated.success && /deprecat/i.test(deprecated.data.data.message)) {
    throw new TerminalError(`CoinCap v2 is shut down: ${url} answered "${deprecated.data.data.message.slice(0, 80)}…"`, {
      url,
      hint: 'use CoinCap v3: set COINCAP_API_KEY (the base URL becomes https://rest.coincap.io/v3), or run with --replay',
    });
  }
  const parsed = listEnvelope.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TerminalError(`unexpected response from ${url}: expected {"data": [ {...} ], "timestamp": <ms>}, got ${issue?.path.join('.') || 'body'}: ${issue?.message}`, { url });
  }
  return parsed.data as { data: Record<string, unknown>[]; timestamp?: number };
}
