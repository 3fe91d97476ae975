// Every source plug-in, one line each. Adding a source does not touch the runner.
import { TerminalError } from '../core/errors.ts';
import type { CandleSeries, Source, SourceExamples, Stream, StreamParams } from '../core/source.ts';
import { binanceSource } from './binance/binance-source.ts';
import { ccxtSource } from './ccxt/ccxt-source.ts';
import { coincapSource } from './coincap/coincap-source.ts';
import { coinloreSource } from './coinlore/coinlore-source.ts';
import { evmSource } from './evm/evm-source.ts';
import { restSource } from './rest/rest-source.ts';

export const SOURCES: Source[] = [coincapSource, binanceSource, coinloreSource, evmSource, restSource, ccxtSource];

/** The source named `name`; the error lists the sources. */
export function findSource(name: string): Source {
  const source = SOURCES.find((s) => s.name === name);
  if (!source) throw new TerminalError(`unknown source "${name}"`, { hint: `known sources: ${SOURCES.map((s) => s.name).join(', ')}` });
  return source;
}

/** Finds `source.stream` (e.g. `coincap.assets`); the error lists what exists. */
export function findStream(name: string): { source: Source; stream: Stream<unknown> } {
  const [sourceName, streamName] = name.split('.', 2);
  const source = SOURCES.find((s) => s.name === sourceName);
  const stream = source?.streams.find((s) => s.name === streamName);
  if (!source || !stream) {
    throw new TerminalError(`unknown job "${name}"`, { hint: `known jobs: ${allJobNames().join(', ')}` });
  }
  return { source, stream };
}

/** All `source.stream` names. */
export function allJobNames(): string[] {
  return SOURCES.flatMap((s) => s.streams.map((st) => `${s.name}.${st.name}`));
}

/**
 * The stream that refetches the candles of `series` (Stream.refetch) and its job's params, or undefined when no
 * registered stream serves that exchange and interval.
 */
export function candleRefetchFor(series: CandleSeries): { job: string; params: StreamParams } | undefined {
  for (const source of SOURCES) {
    for (const stream of source.streams) {
      if (!stream.refetch?.exchanges().includes(series.exchange)) continue;
      const params = stream.refetch.params(series);
      if (params) return { job: `${source.name}.${stream.name}`, params };
    }
  }
  return undefined;
}

/** Every exchange some stream refetches candles of (`coinlake repair --exchange`), sorted. */
export function refetchExchanges(): string[] {
  return [...new Set(SOURCES.flatMap((s) => s.streams.flatMap((st) => st.refetch?.exchanges() ?? [])))].sort();
}

/** Placeholders where no registered source offers an example of a kind. */
const PLACEHOLDER_EXAMPLES: Required<SourceExamples> = {
  job: '<source>.<stream>',
  jobWithParams: '<source>.<stream> --asset <id>',
  backfillJob: '<source>.<stream>',
  connection: '<CONNECTION>',
  catalogAsset: '<ASSET>',
  table: '<table>',
  exchange: '<exchange>',
  subject: 'coinlake.<source>.<stream>',
};

/** The first example of each kind the registered sources offer, for help and error texts (sources in registry order). */
export const EXAMPLES: Required<SourceExamples> = Object.fromEntries(
  Object.entries(PLACEHOLDER_EXAMPLES).map(([kind, placeholder]) => [
    kind,
    SOURCES.map((s) => s.examples?.[kind as keyof SourceExamples]).find((v) => v !== undefined) ?? placeholder,
  ]),
) as Required<SourceExamples>;
