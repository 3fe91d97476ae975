// The control endpoint's answers: one JSON message a line (NDJSON), read as they arrive.

/**
 * Yields each non-empty line of a streamed response body, parsed as JSON, as soon as the line is complete. With
 * `lastLineUnterminated`, text left after the last newline when the body ends is one more message.
 */
export async function* ndjsonMessages<T>(body: ReadableStream<Uint8Array>, opts: { lastLineUnterminated?: boolean } = {}): AsyncGenerator<T> {
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffered += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      if (line) yield JSON.parse(line) as T;
    }
  }
  if (opts.lastLineUnterminated && buffered.trim()) yield JSON.parse(buffered) as T;
}
