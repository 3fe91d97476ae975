// Live-stream benchmark (`npm run bench -- stream`): producer → NATS JetStream → coinlake's consumer → DuckDB.
// 1. baseline: the raw JetStream consume-with-ack rate (a pull consumer that only acks) of stored messages, same run,
//    with the consumer's ack policy (AckPolicy.All, one ack per batch) and, for reference, acking each message;
//    then coinlake's consumer loads the same stored messages into DuckDB (its capacity with no producer competing);
// 2. sustained: a producer process publishing Binance trade records as fast as JetStream takes them while the
//    consumer loads them into stream_trades (micro-batches: raw lake page, curated Parquet, append, state, COMMIT,
//    acks) — rows committed per second over the window, and as a ratio of the baseline;
// 3. latency: the producer at a steady 5,000 msgs/s; end-to-end latency of every row = COMMIT of its batch − the time
//    the producer published it (received_at), p50 / p99;
// 4. at target: the producer at a steady 50,000 msgs/s (the target) — does the consumer keep up with it for the whole
//    window (rows loaded per second, backlog at the end, latency), or does a backlog grow?
// Runs 2–4 also print the mean / max milliseconds of each step of a batch (the consumer's timings), and the CPU each
// process (producer, nats-server when it runs on this machine, consumer) spent per message over the run.
// NATS at COINLAKE_NATS_URL (default nats://127.0.0.1:4222); streams of the bench's own, deleted afterwards.
// COINLAKE_BENCH_STREAM_SECONDS (default 60) sets the measured length of runs 2–4, which the producer starts
// COINLAKE_BENCH_STREAM_WARMUP (default 5) seconds earlier; COINLAKE_BENCH_STREAM_BASELINE (default 300000) the
// messages of run 1; COINLAKE_BENCH_STREAM_RUNS (default drain,sustained,steady,target) which runs follow the baseline.
// The producer runs in a child process (this file, COINLAKE_STREAM_BENCH_ROLE=producer).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { openWarehouse } from '../src/destinations/registry.ts';
import { LocalLake } from '../src/lake/local-lake.ts';
import { binanceTradesFeed } from '../src/sources/binance/binance-feeds.ts';
import type { FeedRecord } from '../src/streaming/feed.ts';
import { FeedPublisher } from '../src/streaming/feed-publisher.ts';
import { connectNats, ensureFeedStream, feedSubject, type FeedSubject } from '../src/streaming/jetstream-streams.ts';
import { StreamConsumer } from '../src/streaming/stream-consumer.ts';

const SECONDS = Number(process.env.COINLAKE_BENCH_STREAM_SECONDS ?? 60);
const BASELINE_MESSAGES = Number(process.env.COINLAKE_BENCH_STREAM_BASELINE ?? 300_000);
/** Seconds the producer runs before the measured window (the consumer's first batches, DuckDB's first writes). */
const WARMUP = Number(process.env.COINLAKE_BENCH_STREAM_WARMUP ?? 5);
const STEADY_RATE = 5_000;
const TARGET_RATE = 50_000;
const TARGET_P99_MS = 500;
/** The consumer's settings under test: a batch closes at this size, or this long after its first message. */
const BATCH_SIZE = Number(process.env.COINLAKE_BENCH_STREAM_BATCH_SIZE ?? 20_000);
const BATCH_MS = Number(process.env.COINLAKE_BENCH_STREAM_BATCH_MS ?? 100);
/** Runs after the baseline (COINLAKE_BENCH_STREAM_RUNS, comma-separated; default all): drain, sustained, steady, target. */
const RUNS = new Set((process.env.COINLAKE_BENCH_STREAM_RUNS ?? 'drain,sustained,steady,target').split(',').map((r) => r.trim()));
const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'ETHBTC', 'SOLUSDT', 'BNBUSDT'];

/** Trade i as the Binance trade feed publishes it (same fields, same message id scheme). */
function tradeRecord(i: number, publishedAt: number): FeedRecord {
  const symbol = SYMBOLS[i % SYMBOLS.length];
  const frame = JSON.stringify({ e: 'trade', E: publishedAt, s: symbol, t: i, p: (100 + (i % 1000) / 100).toFixed(8), q: (0.5 + (i % 5)).toFixed(8), T: publishedAt, m: i % 2 === 1, M: true });
  return binanceTradesFeed.parse(frame, publishedAt)[0];
}

// ---- producer process -------------------------------------------------------------------------------------------

/** Publishes for `seconds`: as fast as JetStream acks (rate 0) or at `rate` msgs/s; prints {published, seconds}. */
async function producerMain(): Promise<void> {
  const [subject, rateText, secondsText, startText] = process.argv.slice(2);
  const rate = Number(rateText);
  const seconds = Number(secondsText);
  const nc = await connectNats();
  const counters = { published: 0, duplicates: 0 };
  const publisher = new FeedPublisher(nc, subject, counters, { maxInFlight: 4096 });
  let i = Number(startText);
  const t0 = Date.now();
  const end = t0 + seconds * 1000;
  if (rate > 0) {
    // Steady: every millisecond tick tops the count up to rate × elapsed.
    let sent = 0;
    while (Date.now() < end) {
      const due = Math.floor(((Date.now() - t0) * rate) / 1000);
      if (sent < due) {
        const now = Date.now();
        const batch: FeedRecord[] = [];
        for (; sent < due; sent++) batch.push(tradeRecord(i++, now));
        await publisher.publish(batch);
      }
      await sleep(1);
    }
  } else {
    while (Date.now() < end) {
      const now = Date.now();
      const batch: FeedRecord[] = [];
      for (let k = 0; k < 1000; k++) batch.push(tradeRecord(i++, now));
      await publisher.publish(batch);
    }
  }
  await publisher.flush();
  const elapsed = (Date.now() - t0) / 1000;
  await nc.close();
  const cpu = process.cpuUsage();
  process.stdout.write(JSON.stringify({ published: counters.published, duplicates: counters.duplicates, seconds: elapsed, cpuSeconds: (cpu.user + cpu.system) / 1e6 }) + '\n');
}

/** Runs the producer in its own process; resolves with its summary. */
function runProducer(subject: string, rate: number, seconds: number, start: number): Promise<{ published: number; duplicates: number; seconds: number; cpuSeconds: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), subject, String(rate), String(seconds), String(start)], {
    env: { ...process.env, COINLAKE_STREAM_BENCH_ROLE: 'producer' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`bench producer exited with ${code}`));
      resolve(JSON.parse(out.trim().split('\n').pop()!));
    });
  });
}

// ---- benchmark ---------------------------------------------------------------------------------------------------

/** CPU seconds the local nats-server has used so far (user + system, from /proc), or undefined when none is found. */
function natsServerCpuSeconds(): number | undefined {
  try {
    for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      let comm: string;
      try {
        comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      } catch {
        continue; // the process ended
      }
      if (comm !== 'nats-server') continue;
      // utime and stime: fields 14 and 15 of stat (12 and 13 after the command's closing parenthesis), in clock ticks.
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
    }
  } catch {
    // no /proc (not Linux)
  }
  return undefined;
}
/** Linux's USER_HZ, the unit of /proc/<pid>/stat times (100 on every architecture Node runs on). */
const CLOCK_TICKS = 100;

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

async function freshStream(nc: NatsConnection, streams: string[]): Promise<FeedSubject> {
  const names = feedSubject(binanceTradesFeed, `bench${randomBytes(3).toString('hex')}`);
  await ensureFeedStream(await jetstreamManager(nc), names);
  streams.push(names.stream);
  return names;
}

/** Run 1: publish `n` messages (untimed), then time pull consumers that only ack them, with either ack policy. */
async function baseline(nc: NatsConnection, streams: string[], n: number): Promise<{ ackAll: number; ackEach: number; names: FeedSubject }> {
  const names = await freshStream(nc, streams);
  const counters = { published: 0, duplicates: 0 };
  const publisher = new FeedPublisher(nc, names.subject, counters, { maxInFlight: 4096 });
  const now = Date.now();
  for (let i = 0; i < n; i += 1000) await publisher.publish(Array.from({ length: Math.min(1000, n - i) }, (_, k) => tradeRecord(i + k, now)));
  await publisher.flush();
  // As coinlake's consumer: one ack per batch of BATCH_SIZE acks the batch (AckPolicy.All).
  const ackAll = await rawConsume(nc, names, n, 'raw_all', AckPolicy.All, BATCH_SIZE);
  const ackEach = await rawConsume(nc, names, n, 'raw_each', AckPolicy.Explicit, 1);
  return { ackAll, ackEach, names };
}

/** Messages per second of a pull consumer reading the `n` stored messages and acking every `ackEvery`-th (and the last). */
async function rawConsume(nc: NatsConnection, names: FeedSubject, n: number, durable: string, policy: AckPolicy, ackEvery: number): Promise<number> {
  const jsm = await jetstreamManager(nc);
  await jsm.consumers.add(names.stream, { durable_name: durable, ack_policy: policy, deliver_policy: DeliverPolicy.All, max_ack_pending: BATCH_SIZE * 4, filter_subject: names.subject });
  const consumer = await jetstream(nc).consumers.get(names.stream, durable);
  let received = 0;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  const t0 = performance.now();
  const messages = await consumer.consume({
    max_messages: Math.max(BATCH_SIZE * 2, 100),
    callback: (m) => {
      received++;
      if (received % ackEvery === 0 || received === n) m.ack();
      if (received === n) resolveDone();
    },
  });
  await done;
  await nc.flush();
  const seconds = (performance.now() - t0) / 1000;
  await messages.close();
  // The server applies acks after it answered the flush: its ack floor may take a moment to reach the last message.
  let floor = 0;
  for (const until = Date.now() + 10_000; floor !== n && Date.now() < until; await sleep(20)) floor = (await jsm.consumers.info(names.stream, durable)).ack_floor.stream_seq;
  if (floor !== n) throw new Error(`baseline ${durable}: ack floor ${floor}, expected ${n}`);
  return n / seconds;
}

/** Run 1b: coinlake's consumer (another durable) loads the same `n` stored messages into DuckDB: its own capacity. */
async function drain(nc: NatsConnection, names: FeedSubject, n: number): Promise<number> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-stream-bench-'));
  const session = await openWarehouse(path.join(dir, 'coinlake.duckdb'));
  try {
    const consumer = new StreamConsumer({ feed: binanceTradesFeed, names, nc, session, lake: new LocalLake(path.join(dir, 'lake')), batchSize: BATCH_SIZE, batchMs: BATCH_MS });
    await consumer.start(); // the run row, the meta tables and the target table: setup, not throughput
    const t0 = performance.now();
    while (consumer.stats.rowsLoaded < n) await sleep(5);
    const seconds = (performance.now() - t0) / 1000;
    await consumer.stop();
    return n / seconds;
  } finally {
    await session.close();
    await rm(dir, { recursive: true, force: true });
  }
}

interface LoadRun {
  published: number;
  publishSeconds: number;
  /** Rows committed in the measured window, per second. */
  loadedPerSecond: number;
  /** Messages published but not committed when the producer stopped. */
  backlogAtEnd: number;
  /** Batches committed in the window, and their mean size. */
  batches: number;
  meanBatch: number;
  /** Publish → COMMIT of every row published in the window, sorted (ms). */
  latencies: Float64Array;
  /** Per step of a batch (decode, raw, normalize, stage, curated, writeMode, commit, …): mean and max ms over the window. */
  steps: Record<string, { mean: number; max: number }>;
  /** CPU microseconds per published message over the whole run: producer, nats-server (if local), consumer (this process). */
  cpuPerMessage: { producer: number; nats?: number; consumer: number };
}

/**
 * Runs 2–4: the producer process at `rate` (0: flat out) for WARMUP + `seconds`, coinlake's consumer into DuckDB.
 * Only the last `seconds` count: rows committed in that window, and the latency of rows published in it.
 */
async function loadRun(nc: NatsConnection, streams: string[], rate: number, seconds: number): Promise<LoadRun> {
  const names = await freshStream(nc, streams);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-stream-bench-'));
  const session = await openWarehouse(path.join(dir, 'coinlake.duckdb'));
  try {
    let latencies = new Float64Array(1 << 16);
    let samples = 0;
    let measureFrom = Infinity;
    const commits: { at: number; rows: number; timings: Record<string, number> }[] = [];
    const consumer = new StreamConsumer({
      feed: binanceTradesFeed,
      names,
      nc,
      session,
      lake: new LocalLake(path.join(dir, 'lake')),
      batchSize: BATCH_SIZE,
      batchMs: BATCH_MS,
      onBatch: ({ rows, committedAt, timings }) => {
        commits.push({ at: committedAt, rows: rows.length, timings });
        if (samples + rows.length > latencies.length) {
          const bigger = new Float64Array(Math.max(latencies.length * 2, samples + rows.length));
          bigger.set(latencies.subarray(0, samples));
          latencies = bigger;
        }
        for (const r of rows) {
          const publishedAt = (r.received_at as Date).getTime();
          if (publishedAt >= measureFrom) latencies[samples++] = committedAt - publishedAt;
        }
      },
    });
    await consumer.start();
    const cpu0 = process.cpuUsage();
    const nats0 = natsServerCpuSeconds();
    const started = Date.now();
    measureFrom = started + WARMUP * 1000;
    const produced = await runProducer(names.subject, rate, WARMUP + seconds, 0);
    const windowEnd = started + produced.seconds * 1000;
    const windowSeconds = (windowEnd - measureFrom) / 1000;
    // Let the consumer finish what was published (bounded), so the latency run measures every message.
    const drainBy = Date.now() + 120_000;
    while (consumer.stats.rowsLoaded < produced.published && Date.now() < drainBy) await sleep(50);
    await consumer.stop();
    const cpu1 = process.cpuUsage(cpu0);
    const nats1 = natsServerCpuSeconds();
    const perMessage = (cpuSeconds: number) => (cpuSeconds * 1e6) / Math.max(1, produced.published);
    const cpuPerMessage = {
      producer: perMessage(produced.cpuSeconds),
      nats: nats0 !== undefined && nats1 !== undefined ? perMessage(nats1 - nats0) : undefined,
      consumer: perMessage((cpu1.user + cpu1.system) / 1e6),
    };
    const inWindow = commits.filter((c) => c.at >= measureFrom && c.at <= windowEnd);
    const loaded = inWindow.reduce((sum, c) => sum + c.rows, 0);
    const loadedByEnd = commits.filter((c) => c.at <= windowEnd).reduce((sum, c) => sum + c.rows, 0);
    const steps: Record<string, { mean: number; max: number }> = {};
    for (const c of inWindow) {
      for (const [step, ms] of Object.entries(c.timings)) {
        const s = (steps[step] ??= { mean: 0, max: 0 });
        s.mean += ms / inWindow.length;
        s.max = Math.max(s.max, ms);
      }
    }
    return {
      steps,
      cpuPerMessage,
      published: produced.published,
      publishSeconds: produced.seconds,
      loadedPerSecond: loaded / windowSeconds,
      backlogAtEnd: produced.published - loadedByEnd,
      batches: inWindow.length,
      meanBatch: loaded / Math.max(1, inWindow.length),
      latencies: latencies.slice(0, samples).sort(),
    };
  } finally {
    await session.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
/** `producer 12.1, nats-server 12.5, consumer 17.5 (sum 42.1; …)`: CPU µs each process spent per message. */
function fmtCpu(c: LoadRun['cpuPerMessage']): string {
  const sum = c.producer + (c.nats ?? 0) + c.consumer;
  const cores = os.availableParallelism();
  return (
    `producer ${c.producer.toFixed(1)}, nats-server ${c.nats?.toFixed(1) ?? '(not local)'}, consumer ${c.consumer.toFixed(1)} ` +
    `(sum ${sum.toFixed(1)}: at that cost ${cores} cores carry at most ${fmt((cores * 1e6) / sum)} msgs/s)`
  );
}
/** `decode 12/40, …`: mean/max ms of each step of a batch. */
const fmtSteps = (steps: LoadRun['steps']) =>
  Object.entries(steps)
    .filter(([, s]) => s.max >= 0.5)
    .map(([step, s]) => `${step} ${s.mean.toFixed(0)}/${s.max.toFixed(0)}`)
    .join(', ');

export async function main(): Promise<void> {
  const nc = await connectNats();
  const streams: string[] = [];
  try {
    console.log(`stream bench: ${SECONDS} s runs after ${WARMUP} s of warm-up, consumer batch ${fmt(BATCH_SIZE)} msgs / ${BATCH_MS} ms, DuckDB; targets ≥ ${fmt(TARGET_RATE)} msgs/s, p99 < ${TARGET_P99_MS} ms at ${fmt(STEADY_RATE)} msgs/s`);
    // The figures depend on what else runs on the machine's cores (nats-server, the producer and the consumer share them).
    const load = () => os.loadavg().map((l) => l.toFixed(1)).join(' ');
    console.log(`${os.cpus().length} cores, load average ${load()} at the start`);
    const { ackAll: raw, ackEach, names } = await baseline(nc, streams, BASELINE_MESSAGES);
    console.log(
      `baseline  raw JetStream consume-with-ack of ${fmt(BASELINE_MESSAGES)} stored messages: ${fmt(raw)} msgs/s with one ack per ${fmt(BATCH_SIZE)} (AckPolicy.All, as coinlake's consumer); ` +
        `${fmt(ackEach)} msgs/s acking each message (AckPolicy.Explicit)`,
    );
    if (RUNS.has('drain')) {
      const drained = await drain(nc, names, BASELINE_MESSAGES);
      console.log(`drain     the same stored messages → coinlake consumer → DuckDB (no producer running): ${fmt(drained)} msgs/s (${(drained / raw).toFixed(2)}× baseline)`);
    }
    const met = (ok: boolean) => (ok ? 'met' : 'NOT MET');
    const verdicts: string[] = [];
    if (RUNS.has('sustained')) {
      const max = await loadRun(nc, streams, 0, SECONDS);
      console.log(
        `sustained producer → JetStream → consumer → DuckDB: ${fmt(max.loadedPerSecond)} msgs/s loaded (${(max.loadedPerSecond / raw).toFixed(2)}× baseline); ` +
          `published ${fmt(max.published / max.publishSeconds)} msgs/s for ${max.publishSeconds.toFixed(1)} s, backlog (published, not committed) at the end ${fmt(max.backlogAtEnd)}; ` +
          `${fmt(max.batches)} batches of ${fmt(max.meanBatch)} on average`,
      );
      console.log(`          per batch, mean/max ms: ${fmtSteps(max.steps)}`);
      console.log(`          CPU µs per message: ${fmtCpu(max.cpuPerMessage)}`);
      verdicts.push(`target ≥ ${fmt(TARGET_RATE)} msgs/s into DuckDB: ${met(max.loadedPerSecond >= TARGET_RATE)} (${fmt(max.loadedPerSecond)})`);
    }
    const latencyLine = (run: LoadRun, rate: number) => {
      const p50 = percentile(run.latencies, 50);
      const p99 = percentile(run.latencies, 99);
      console.log(
        `steady ${fmt(rate)} msgs/s: published ${fmt(run.published / run.publishSeconds)} msgs/s, loaded ${fmt(run.loadedPerSecond)} msgs/s, backlog (published, not committed) at the end ${fmt(run.backlogAtEnd)}; ` +
          `end-to-end latency (publish → COMMIT) p50 ${p50.toFixed(0)} ms, p99 ${p99.toFixed(0)} ms, max ${run.latencies[run.latencies.length - 1]?.toFixed(0)} ms ` +
          `over ${fmt(run.latencies.length)} messages; ${fmt(run.batches)} batches of ${fmt(run.meanBatch)} on average`,
      );
      console.log(`          per batch, mean/max ms: ${fmtSteps(run.steps)}`);
      console.log(`          CPU µs per message: ${fmtCpu(run.cpuPerMessage)}`);
      return p99;
    };
    if (RUNS.has('steady')) {
      const p99 = latencyLine(await loadRun(nc, streams, STEADY_RATE, SECONDS), STEADY_RATE);
      verdicts.push(`target p99 < ${TARGET_P99_MS} ms at ${fmt(STEADY_RATE)} msgs/s: ${met(p99 < TARGET_P99_MS)} (${p99.toFixed(0)} ms)`);
    }
    if (RUNS.has('target')) {
      // Keeping up: the rows loaded per second match what was published, and what is left at the end is under a second's worth.
      const run = await loadRun(nc, streams, TARGET_RATE, SECONDS);
      latencyLine(run, TARGET_RATE);
      const published = run.published / run.publishSeconds;
      const keptUp = run.loadedPerSecond >= 0.98 * published && run.backlogAtEnd < published;
      verdicts.push(`the consumer keeps up with a steady ${fmt(TARGET_RATE)} msgs/s for ${SECONDS} s: ${keptUp ? 'yes' : 'NO'} (loaded ${fmt(run.loadedPerSecond)} of ${fmt(published)} msgs/s published, backlog at the end ${fmt(run.backlogAtEnd)})`);
    }
    console.log(`load average ${load()} at the end`);
    for (const v of verdicts) console.log(v);
  } finally {
    const jsm = await jetstreamManager(nc);
    for (const s of streams) await jsm.streams.delete(s).catch(() => undefined);
    await nc.close();
  }
}

if (process.env.COINLAKE_STREAM_BENCH_ROLE === 'producer') await producerMain();
