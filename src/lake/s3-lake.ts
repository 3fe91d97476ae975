// The lake in S3-compatible object storage (AWS S3, GCS's S3-interoperable API, MinIO): `lake: s3://bucket/prefix`.
// Same layout as the local lake. Files that are built up locally (curated Parquet from DuckDB, the run log) are
// written under a local work directory first and uploaded when published; large files go up as multipart uploads.
// Object stores have no rename and no append: publishing is an upload (a retry overwrites the same key), and the
// quarantine file of a run is kept locally and uploaded whole after every append.
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { constants as zlibConstants, gzip } from 'node:zlib';
import { ConfigError, TerminalError, TransientError, errorMessage } from '../core/errors.ts';
import { redactUrl } from '../http/redact.ts';
import { confined, curatedPath, logPath, quarantinePath, rawPagePath } from './lake-paths.ts';
import { appendJsonLines, type QuarantineEntry } from './local-lake.ts';

import type { S3Client } from '@aws-sdk/client-s3';

/** The SDK, loaded on first use (it is large, and most runs use a local lake). */
async function sdk() {
  // The SDK warns on every Node 20 process that its releases after January 2027 need Node 22; coinlake pins a
  // release that supports Node 20, so the warning would only be noise on stderr.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const [s3, storage] = await Promise.all([import('@aws-sdk/client-s3'), import('@aws-sdk/lib-storage')]);
  return { ...s3, Upload: storage.Upload };
}

const gzipAsync = promisify(gzip);
/** Object keys are checked like paths under this pseudo root. */
const KEY_ROOT = '/lake';

/** Files above this go up in 8 MiB parts, four at a time. */
export const MULTIPART_THRESHOLD = 16 * 1024 * 1024;
const PART_SIZE = 8 * 1024 * 1024;

/** Where an S3 lake is and how to reach it. Credentials: given here, else the SDK's chain (AWS_ACCESS_KEY_ID …). */
export interface S3LakeOptions {
  /** `s3://bucket/prefix` */
  url: string;
  endpoint?: string;
  region?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Path-style addressing (MinIO, s3rver); default true when an endpoint is given. */
  forcePathStyle?: boolean;
  /** Local directory for files being built (default: the OS temp dir). */
  workDir?: string;
}

/** Bucket and key prefix of an `s3://bucket/prefix` URL. */
export function parseS3Url(url: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(url);
  if (!m) throw new ConfigError(`lake "${url}" is not an S3 location; expected s3://bucket/prefix (bucket: 3–63 lower-case letters, digits, dots, hyphens)`);
  const prefix = (m[2] ?? '').replace(/\/+$/, '');
  // The prefix obeys the same segment rules as every lake path.
  if (prefix) confined(KEY_ROOT, ...prefix.split('/'));
  return { bucket: m[1], prefix };
}

/** Options of an S3 lake from the environment (COINLAKE_S3_ENDPOINT, COINLAKE_S3_REGION; keys via the SDK chain). */
export function s3OptionsFromEnv(url: string, env: NodeJS.ProcessEnv = process.env): S3LakeOptions {
  return { url, endpoint: env.COINLAKE_S3_ENDPOINT || undefined, region: env.COINLAKE_S3_REGION || env.AWS_REGION || undefined };
}

export class S3Lake {
  readonly root: string;
  readonly bucket: string;
  readonly prefix: string;
  private readonly clientConfig: NonNullable<ConstructorParameters<typeof S3Client>[0]>;
  private clientP?: Promise<{ client: S3Client; api: Awaited<ReturnType<typeof sdk>> }>;
  private readonly work: string;
  /** The endpoint requests go to, for error messages: the one configured, else the region's AWS endpoint. */
  private readonly endpointText: string;

  constructor(opts: S3LakeOptions) {
    const { bucket, prefix } = parseS3Url(opts.url);
    this.bucket = bucket;
    this.prefix = prefix;
    this.root = `s3://${bucket}${prefix ? `/${prefix}` : ''}`;
    this.work = path.resolve(opts.workDir ?? path.join(os.tmpdir(), 'coinlake-s3-work'), bucket, prefix || '_');
    this.clientConfig = {
      endpoint: opts.endpoint,
      region: opts.region ?? 'us-east-1',
      forcePathStyle: opts.forcePathStyle ?? Boolean(opts.endpoint),
      credentials: opts.accessKeyId && opts.secretAccessKey ? { accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey } : undefined,
    };
    this.endpointText = opts.endpoint ? (opts.endpoint.includes('@') ? redactUrl(opts.endpoint) : opts.endpoint) : `https://s3.${this.clientConfig.region}.amazonaws.com`;
  }

  /**
   * Runs one S3 request (`op`, e.g. PutObject, on `key`); a failure becomes a CoinlakeError naming the operation,
   * the object (so the bucket) and the endpoint: transient for 5xx, 429 and network errors, else terminal.
   */
  private async request<T>(op: string, key: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      const status = e.$metadata?.httpStatusCode;
      const what = `${e.name && e.name !== 'Error' && !errorMessage(err).startsWith(e.name) ? `${e.name}: ` : ''}${errorMessage(err)}`;
      const message = `S3 ${op} of s3://${this.bucket}/${key} at ${this.endpointText} failed: ${what}`;
      if (status === undefined || status >= 500 || status === 429) {
        throw new TransientError(message, { url: this.endpointText, status, hint: `check that ${this.endpointText} is reachable (endpoint: COINLAKE_S3_ENDPOINT)` }, { cause: err });
      }
      throw new TerminalError(
        message,
        { url: this.endpointText, hint: `check that bucket ${this.bucket} exists at ${this.endpointText} and the credentials may use it (endpoint: COINLAKE_S3_ENDPOINT)` },
        { cause: err },
      );
    }
  }

  private s3() {
    this.clientP ??= sdk().then((api) => ({ api, client: new api.S3Client(this.clientConfig) }));
    return this.clientP;
  }

  /** The object key of lake-relative segments (validated like local paths). */
  key(segments: string[]): string {
    const rel = path.posix.relative(KEY_ROOT, confined(KEY_ROOT, ...segments));
    return this.prefix ? `${this.prefix}/${rel}` : rel;
  }

  /** `s3://bucket/key` of lake-relative segments. */
  resolve(segments: string[]): string {
    return `s3://${this.bucket}/${this.key(segments)}`;
  }

  /** Lake-relative path of a location this lake returned. */
  relative(location: string): string {
    const local = path.relative(this.work, location);
    if (!local.startsWith('..') && !path.isAbsolute(local)) return local;
    return location.slice(this.root.length + 1);
  }

  private keyOf(location: string): string {
    const base = `s3://${this.bucket}/`;
    if (!location.startsWith(base)) throw new TerminalError(`${location} is not in the lake ${this.root}`);
    const key = location.slice(base.length);
    if (this.prefix && !key.startsWith(this.prefix + '/')) throw new TerminalError(`${location} is outside the lake root ${this.root}`);
    return key;
  }

  /** Local path of lake-relative segments in the work directory (for files built before upload). */
  private local(segments: string[]): string {
    return confined(this.work, ...segments);
  }

  private async put(key: string, body: Uint8Array | string, contentType?: string): Promise<void> {
    const { client, api } = await this.s3();
    await this.request('PutObject', key, () => client.send(new api.PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: contentType })));
  }

  /** Uploads a local file to `key`: one PUT when small, a multipart upload when large. */
  async uploadFile(file: string, key: string, size?: number): Promise<void> {
    if ((size ?? (await stat(file)).size) < MULTIPART_THRESHOLD) {
      await this.put(key, await readFile(file));
      return;
    }
    const { client, api } = await this.s3();
    await this.request('multipart upload', key, () =>
      new api.Upload({ client, params: { Bucket: this.bucket, Key: key, Body: createReadStream(file) }, partSize: PART_SIZE, queueSize: 4 }).done(),
    );
  }

  /** Writes a raw page gzipped (a retry overwrites the same key); returns its s3:// location. */
  async writeRawPage(source: string, stream: string, day: Date, runId: string, page: number, bytes: Uint8Array, gzipped?: Uint8Array): Promise<string> {
    const segments = rawPagePath(source, stream, day, runId, page);
    await this.put(this.key(segments), gzipped ?? (await gzipAsync(bytes, { level: zlibConstants.Z_BEST_SPEED })), 'application/gzip');
    return this.resolve(segments);
  }

  rawPagePath(source: string, stream: string, day: Date, runId: string, page: number): string {
    return this.resolve(rawPagePath(source, stream, day, runId, page));
  }

  /** Where a curated file is built (locally) and where it is published (s3://…). */
  curatedTarget(table: string, day: string, runId: string): { final: string; temp: string } {
    const segments = curatedPath(table, day, runId);
    const local = this.local(segments);
    return { final: this.resolve(segments), temp: path.join(path.dirname(local), `.${path.basename(local)}.tmp`) };
  }

  /** Local directory a table's curated files of one batch are built in. */
  curatedWorkDir(table: string, stem: string): string {
    return this.local(['curated', table, `.tmp-${stem}`]);
  }

  /** Location of a curated file once published. */
  curatedFinal(table: string, partition: string, file: string): string {
    return this.resolve(['curated', table, partition, file]);
  }

  async ensureDir(file: string): Promise<void> {
    await mkdir(path.dirname(file), { recursive: true });
  }

  /** Uploads a built file to its final key (overwriting a retry's copy) and removes the local copy. */
  async publish(temp: string, final: string): Promise<void> {
    await this.uploadFile(temp, this.keyOf(final));
    await rm(temp, { force: true });
  }

  async discardTempDirs(files: { tempDir: string }[]): Promise<void> {
    for (const d of new Set(files.map((f) => f.tempDir))) await rm(d, { recursive: true, force: true });
  }

  async discard(file: string): Promise<void> {
    if (!file.startsWith('s3://')) return rm(file, { force: true });
    const { client, api } = await this.s3();
    const key = this.keyOf(file);
    await this.request('DeleteObject', key, () => client.send(new api.DeleteObjectCommand({ Bucket: this.bucket, Key: key })));
  }

  /** Appends quarantine entries (kept locally, uploaded whole); returns the s3:// location. */
  async quarantine(table: string, runId: string, entries: QuarantineEntry[]): Promise<string | undefined> {
    if (entries.length === 0) return undefined;
    const segments = quarantinePath(table, runId);
    const local = this.local(segments);
    await mkdir(path.dirname(local), { recursive: true });
    await appendJsonLines(local, entries);
    await this.put(this.key(segments), await readFile(local), 'application/x-ndjson');
    return this.resolve(segments);
  }

  /** Local path the run's log is written to; finishLog uploads it. */
  async logFile(runId: string): Promise<string> {
    const file = this.local(logPath(runId));
    await mkdir(path.dirname(file), { recursive: true });
    return file;
  }

  /** Uploads a run's log (called when the run ends; again later overwrites it). */
  async finishLog(runId: string): Promise<string> {
    const file = this.local(logPath(runId));
    const key = this.key(logPath(runId));
    await this.put(key, await readFile(file).catch(() => Buffer.alloc(0)), 'text/plain');
    return this.resolve(logPath(runId));
  }

  /** Text of a lake location (s3:// or a local work file). */
  async readText(location: string): Promise<string> {
    return (await this.readBytes(location)).toString('utf8');
  }

  async readBytes(location: string): Promise<Buffer> {
    if (!location.startsWith('s3://')) return readFile(location);
    const { client, api } = await this.s3();
    const key = this.keyOf(location);
    return this.request('GetObject', key, async () => {
      const out = await client.send(new api.GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return Buffer.from(await out.Body!.transformToByteArray());
    });
  }

  /** Lake-relative paths of every object under lake-relative `segments`, sorted. */
  async list(segments: string[] = []): Promise<string[]> {
    const base = segments.length ? this.key(segments) + '/' : this.prefix ? this.prefix + '/' : '';
    const out: string[] = [];
    const { client, api } = await this.s3();
    let token: string | undefined;
    do {
      const page = await this.request('ListObjectsV2', base, () => client.send(new api.ListObjectsV2Command({ Bucket: this.bucket, Prefix: base, ContinuationToken: token })));
      for (const o of page.Contents ?? []) out.push(this.prefix ? o.Key!.slice(this.prefix.length + 1) : o.Key!);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out.sort();
  }

  /** Writes bytes at lake-relative segments (tests, tools). */
  async writeBytes(segments: string[], bytes: Uint8Array | string): Promise<string> {
    await this.put(this.key(segments), bytes);
    return this.resolve(segments);
  }

  async close(): Promise<void> {
    if (this.clientP) (await this.clientP).client.destroy();
  }
}
