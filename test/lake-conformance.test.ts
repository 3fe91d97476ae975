// One set of lake cases, run on the local filesystem and on S3 (s3rver over loopback): write, list, read back,
// overwrite on retry, publish curated files, quarantine appends, logs, and paths confined to the root.
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TerminalError, TransientError } from '../src/core/errors.ts';
import type { Lake } from '../src/lake/lake.ts';
import { openLake, requireLocalLake } from '../src/lake/lake.ts';
import { MULTIPART_THRESHOLD, type S3Lake } from '../src/lake/s3-lake.ts';
import { startS3Server, type S3TestServer } from './helpers/s3-server.ts';

let s3: S3TestServer;
let tmp: string;
beforeAll(async () => {
  s3 = await startS3Server();
  tmp = await mkdtemp(path.join(os.tmpdir(), 'coinlake-lake-conf-'));
});
afterAll(async () => {
  await s3?.close();
  await rm(tmp, { recursive: true, force: true });
});

const DAY = new Date('2026-03-02T10:00:00Z');
let n = 0;

const KINDS: { kind: string; open: () => Lake }[] = [
  { kind: 'local', open: () => openLake(path.join(tmp, `lake-${++n}`)) },
  {
    kind: 's3',
    open: () =>
      openLake(`s3://${s3.bucket}/lake-${++n}`, {
        endpoint: s3.endpoint,
        accessKeyId: s3.accessKeyId,
        secretAccessKey: s3.secretAccessKey,
        workDir: path.join(tmp, 'work'),
      }),
  },
];

describe.each(KINDS)('lake conformance: $kind', ({ kind, open }) => {
  it('writes raw pages gzipped under the layout, lists them, reads back the exact bytes', async () => {
    const lake = open();
    const a = await lake.writeRawPage('coincap', 'assets', DAY, 'run1', 1, Buffer.from('{"data":[1]}'));
    await lake.writeRawPage('coincap', 'assets', DAY, 'run1', 2, Buffer.from('{"data":[2]}'));
    expect(lake.relative(a)).toBe('raw/coincap/assets/dt=2026-03-02/run1-00001.json.gz');
    expect(await lake.list(['raw'])).toEqual(['raw/coincap/assets/dt=2026-03-02/run1-00001.json.gz', 'raw/coincap/assets/dt=2026-03-02/run1-00002.json.gz']);
    expect(gunzipSync(await lake.readBytes(a)).toString()).toBe('{"data":[1]}');
    expect(a.startsWith(kind === 's3' ? `s3://${s3.bucket}/lake-` : tmp)).toBe(true);
  });

  it('a retry of the same page overwrites it: one file, the new bytes', async () => {
    const lake = open();
    await lake.writeRawPage('coincap', 'rates', DAY, 'run2', 1, Buffer.from('first'));
    const again = await lake.writeRawPage('coincap', 'rates', DAY, 'run2', 1, Buffer.from('second'));
    expect(await lake.list(['raw'])).toEqual(['raw/coincap/rates/dt=2026-03-02/run2-00001.json.gz']);
    expect(gunzipSync(await lake.readBytes(again)).toString()).toBe('second');
  });

  it('curated files are invisible until published, then listed; publishing twice keeps one copy', async () => {
    const lake = open();
    const dir = lake.curatedWorkDir('coincap_assets', 'run3');
    const temp = path.join(dir, 'dt=2026-03-02', 'run3_0.parquet');
    await mkdir(path.dirname(temp), { recursive: true });
    await writeFile(temp, 'PAR1-bytes');
    const final = lake.curatedFinal('coincap_assets', 'dt=2026-03-02', 'run3.parquet');
    expect(await lake.list(['curated'])).toEqual(kind === 'local' ? ['curated/coincap_assets/.tmp-run3/dt=2026-03-02/run3_0.parquet'] : []);
    await lake.publish(temp, final);
    await lake.discardTempDirs([{ tempDir: dir }]);
    expect(await lake.list(['curated'])).toEqual(['curated/coincap_assets/dt=2026-03-02/run3.parquet']);
    expect((await lake.readBytes(final)).toString()).toBe('PAR1-bytes');
    await mkdir(path.dirname(temp), { recursive: true });
    await writeFile(temp, 'PAR1-retry');
    await lake.publish(temp, final);
    expect(await lake.list(['curated'])).toEqual(['curated/coincap_assets/dt=2026-03-02/run3.parquet']);
    expect((await lake.readBytes(final)).toString()).toBe('PAR1-retry');
  });

  it('quarantine entries of a run accumulate as JSON lines in one file', async () => {
    const lake = open();
    expect(await lake.quarantine('coincap_assets', 'run4', [])).toBeUndefined();
    const q = await lake.quarantine('coincap_assets', 'run4', [{ table: 'coincap_assets', field: 'supply', value: 'x', reason: 'not a number' }]);
    await lake.quarantine('coincap_assets', 'run4', [{ table: 'coincap_assets', field: 'rank', value: 'y', reason: 'not an integer' }]);
    expect(lake.relative(q!)).toBe('quarantine/coincap_assets/run4.jsonl');
    expect((await lake.readText(q!)).trim().split('\n').map((l) => JSON.parse(l).field)).toEqual(['supply', 'rank']);
  });

  it('a run log written locally is in the lake once finished', async () => {
    const lake = open();
    const file = await lake.logFile('run5');
    await writeFile(file, 'line 1\n');
    const where = await lake.finishLog('run5');
    expect(lake.relative(where)).toBe('logs/run5.log');
    expect(await lake.readText(where)).toBe('line 1\n');
    expect(await lake.list(['logs'])).toEqual(['logs/run5.log']);
  });

  it('refuses paths that would leave the lake root, naming the segment', async () => {
    const lake = open();
    await expect(lake.writeRawPage('..', 'assets', DAY, 'run6', 1, Buffer.from('x'))).rejects.toThrow('lake path segment ".." is not allowed (letters, digits, _ . = - only, no "..")');
    await expect(lake.writeRawPage('coincap', '../../etc', DAY, 'run6', 1, Buffer.from('x'))).rejects.toThrow('lake path segment "../../etc" is not allowed');
    expect(() => lake.curatedFinal('coincap_assets; DROP TABLE x', 'dt=2026-03-02', 'r.parquet')).toThrow(/coincap_assets; DROP TABLE x/);
    expect(await lake.list()).toEqual([]);
  });

  it.runIf(kind === 's3')('a file above the multipart threshold goes up in parts and reads back identical', async () => {
    const lake = open();
    const dir = lake.curatedWorkDir('big', 'run7');
    const temp = path.join(dir, 'dt=2026-03-02', 'run7_0.parquet');
    await mkdir(path.dirname(temp), { recursive: true });
    const bytes = Buffer.alloc(MULTIPART_THRESHOLD + 3 * 1024 * 1024);
    for (let i = 0; i < bytes.length; i += 4096) bytes[i] = i % 251;
    await writeFile(temp, bytes);
    const final = lake.curatedFinal('big', 'dt=2026-03-02', 'run7.parquet');
    await lake.publish(temp, final);
    expect((await lake.readBytes(final)).equals(bytes)).toBe(true);
  });
});

describe('S3 lake locations', () => {
  it('rejects what is not s3://bucket/prefix with the expected form', () => {
    expect(() => openLake('s3://B!/x')).toThrow('lake "s3://B!/x" is not an S3 location; expected s3://bucket/prefix (bucket: 3–63 lower-case letters, digits, dots, hyphens)');
    expect(() => openLake('s3://bucket/../x')).toThrow('lake path segment ".." is not allowed');
  });

  it('commands that build files in place refuse an s3:// lake with what to do instead', () => {
    expect(() => requireLocalLake(openLake('s3://my-bucket/x'), 'coinlake import cdd')).toThrow('coinlake import cdd needs a local lake for now, not s3://my-bucket/x');
    expect(requireLocalLake(openLake(path.join(tmp, 'local')), 'coinlake import cdd').root).toBe(path.join(tmp, 'local'));
  });
});

describe('a run with an s3:// lake', () => {
  it('lands raw pages, curated Parquet and the run log in the bucket; the run row names lake-relative paths', async () => {
    const { spawn } = await import('node:child_process');
    const { openWarehouse } = await import('../src/destinations/registry.ts');
    const dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-s3-run-'));
    try {
      const env = {
        ...process.env,
        COINLAKE_WAREHOUSE: path.join(dir, 'w.duckdb'),
        COINLAKE_LAKE: `s3://${s3.bucket}/runs`,
        COINLAKE_S3_ENDPOINT: s3.endpoint,
        AWS_ACCESS_KEY_ID: s3.accessKeyId,
        AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
        COINLAKE_REPLAY: '',
      };
      const r = await new Promise<{ code: number; out: string; err: string }>((resolve) => {
        const c = spawn(process.execPath, [path.resolve('bin/coinlake.mjs'), '--replay', 'run', 'coincap.rates'], { cwd: dir, env });
        let out = '';
        let err = '';
        c.stdout.on('data', (d) => (out += d));
        c.stderr.on('data', (d) => (err += d));
        c.on('close', (code) => resolve({ code: code ?? -1, out, err }));
      });
      expect([r.code, r.err]).toEqual([0, '']);
      expect(r.out).toMatch(/^coincap\.rates: 192 rows into coinlake\.coincap_rates /);
      const lake = openLake(`s3://${s3.bucket}/runs`, { endpoint: s3.endpoint, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey });
      const files = await lake.list();
      const s = await openWarehouse(path.join(dir, 'w.duckdb'));
      try {
        const [run] = await s.query<{ run_id: string; lake_paths: string }>('SELECT run_id, lake_paths FROM coinlake_meta.workflow_action_history');
        expect(files.filter((f) => !f.startsWith('logs/')).sort()).toEqual(
          (JSON.parse(run.lake_paths) as string[]).sort(),
        );
        expect(files.filter((f) => f.startsWith('raw/coincap/rates/'))).toHaveLength(1);
        expect(files.filter((f) => /^curated\/coincap_rates\/dt=\d{4}-\d\d-\d\d\/.+\.parquet$/.test(f))).toHaveLength(1);
        expect(files).toContain(`logs/${run.run_id}.log`);
        expect(await lake.readText(lake.resolve(['logs', `${run.run_id}.log`]))).toMatch(/run complete/);
      } finally {
        await s.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('S3 errors name the bucket and the endpoint', () => {
  const lakeAt = (url: string, endpoint = s3.endpoint) =>
    openLake(url, { endpoint, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, workDir: path.join(tmp, 'work-errors') });

  it('a missing bucket: terminal, naming the operation, the object, the bucket and the endpoint, with a hint', async () => {
    const lake = lakeAt('s3://no-such-bucket/lake');
    const err = await lake.writeRawPage('coincap', 'rates', DAY, 'run-1', 1, Buffer.from('{}')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TerminalError);
    expect((err as TerminalError).message).toBe(
      `S3 PutObject of ${lake.rawPagePath('coincap', 'rates', DAY, 'run-1', 1)} at ${s3.endpoint} failed: NoSuchBucket: The specified bucket does not exist`,
    );
    expect((err as TerminalError).hint).toBe(`check that bucket no-such-bucket exists at ${s3.endpoint} and the credentials may use it (endpoint: COINLAKE_S3_ENDPOINT)`);
    await expect(lake.list()).rejects.toThrow(`S3 ListObjectsV2 of s3://no-such-bucket/lake/ at ${s3.endpoint} failed: NoSuchBucket: The specified bucket does not exist`);
    await (lake as S3Lake).close();
  });

  it('an endpoint nothing listens on: transient, naming the bucket and the endpoint', async () => {
    const { createServer } = await import('node:net');
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const lake = lakeAt(`s3://${s3.bucket}/lake`, `http://127.0.0.1:${port}`);
    const err = await lake.list().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransientError);
    expect((err as TransientError).message).toMatch(
      new RegExp(`^S3 ListObjectsV2 of s3://${s3.bucket}/lake/ at http://127\\.0\\.0\\.1:${port} failed: .*ECONNREFUSED`),
    );
    await (lake as S3Lake).close();
  }, 30_000);

  it('a run into a missing bucket says which bucket at which endpoint', async () => {
    const { spawn } = await import('node:child_process');
    const dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-s3-missing-'));
    try {
      const env = {
        ...process.env,
        COINLAKE_WAREHOUSE: path.join(dir, 'w.duckdb'),
        COINLAKE_LAKE: 's3://missing-bucket/runs',
        COINLAKE_S3_ENDPOINT: s3.endpoint,
        AWS_ACCESS_KEY_ID: s3.accessKeyId,
        AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
        COINLAKE_REPLAY: '',
      };
      const r = await new Promise<{ code: number; out: string; err: string }>((resolve) => {
        const c = spawn(process.execPath, [path.resolve('bin/coinlake.mjs'), '--replay', 'run', 'coincap.rates'], { cwd: dir, env });
        let out = '';
        let err = '';
        c.stdout.on('data', (d) => (out += d));
        c.stderr.on('data', (d) => (err += d));
        c.on('close', (code) => resolve({ code: code ?? -1, out, err }));
      });
      expect(r.code).toBe(1);
      const lines = r.err.split('\n');
      expect(lines[0]).toMatch(new RegExp(`^error: S3 PutObject of s3://missing-bucket/runs/raw/coincap/rates/\\S+ at ${s3.endpoint.replace(/\./g, '\\.')} failed: NoSuchBucket: The specified bucket does not exist$`));
      expect(lines[1]).toBe(`hint: check that bucket missing-bucket exists at ${s3.endpoint} and the credentials may use it (endpoint: COINLAKE_S3_ENDPOINT)`);
      expect(lines[2]).toMatch(/^run \S+ \(process 1\) failed; log: /);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
