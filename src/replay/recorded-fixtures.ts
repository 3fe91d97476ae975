// The root of the recorded payloads under test/fixtures/ that the replay routes of the sources serve.

/** Root of the recorded payloads, resolved from this file so it works from any working directory. */
export const fixturesRoot = new URL('../../test/fixtures/', import.meta.url);

export type ApiRecord = Record<string, unknown>;
