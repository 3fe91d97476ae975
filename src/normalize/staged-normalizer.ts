// Types a batch straight into a warehouse staging table while its pages are still being read. Pages that say where
// their records sit in the raw JSON (Page.json) are typed by the warehouse itself, a group of pages per statement,
// while the next pages download; the records it defers (any value cast.ts would treat otherwise than plainly, a missing
// field, a non-object) and pages without a layout are typed here by normalizeRecords — the same casts, quarantine
// entries, strict failures and drift report as the plain path, one record at a time.
import type { JsonFieldKind, JsonPageFile, JsonStaging, LoadContext } from '../core/destination.ts';
import { InternalError } from '../core/errors.ts';
import type { JsonRecordsLayout, Page } from '../core/source.ts';
import type { Row, TableSpec } from '../core/table.ts';
import type { QuarantineEntry } from '../lake/local-lake.ts';
import { addQuarantined, normalizeRecords, type NormalizeOptions } from './normalizer.ts';

export interface StagedNormalizerOptions extends Omit<NormalizeOptions, 'origin'> {
  /** The stream's derive(), for rows typed here. */
  derive?: (row: Row) => void;
  /** Pages the warehouse types in one statement. Default 25 (50,000 CoinCap history points). */
  groupSize?: number;
  /** Groups that may wait to be typed before add() waits for them. Default 2. */
  maxPending?: number;
}

/**
 * A page waiting to be typed. Pages with a layout keep their raw bytes only: holding thousands of parsed records per
 * queued page would keep them alive past the young generation and cost more in garbage collection than re-reading
 * the few pages whose records are deferred (recordsOf).
 */
interface QueuedPage {
  origin: string;
  file: string;
  firstOrdinal: number;
  count: number;
  layout?: JsonRecordsLayout;
  /** The type of each field the table reads, when the page's records are all of one shape (JsonPageFile.kinds). */
  kinds?: Record<string, JsonFieldKind>;
  raw?: Uint8Array;
  records?: Record<string, unknown>[];
}

/** A page's records as its layout describes them in its raw JSON (the contract of Page.json). */
export function recordsFromLayout(raw: Uint8Array, layout: JsonRecordsLayout): Record<string, unknown>[] {
  const top = JSON.parse(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8')) as Record<string, unknown>;
  const elements = top[layout.recordsKey];
  if (!Array.isArray(elements)) throw new InternalError(`the page has no array at "${layout.recordsKey}"`, { field: layout.recordsKey });
  const skipped = new Set(layout.skipped ?? []);
  const envelope = Object.entries(layout.envelopeFields ?? {}).map(([field, key]) => [field, top[key] ?? null] as const);
  const out: Record<string, unknown>[] = [];
  elements.forEach((r: unknown, i) => {
    if (skipped.has(i)) return;
    if (typeof r === 'object' && r !== null && !Array.isArray(r)) for (const [field, value] of envelope) (r as Record<string, unknown>)[field] = value;
    out.push(r as Record<string, unknown>);
  });
  return out;
}

/** Rows typed here given to the staging table at a time. */
const ROWS_PER_ADD = 10_000;

/** What a staged batch holds once every page is typed. */
export interface StagedBatch {
  staging: JsonStaging;
  /** The first MAX_QUARANTINE_ENTRIES values set aside (quarantinedCount counts them all). */
  quarantined: QuarantineEntry[];
  quarantinedCount: number;
  unknownFields: Set<string>;
  missingFields: Set<string>;
}

/**
 * Fills `staging` with the typed rows of pages given to add() in order; finish() waits for the last ones. A failure
 * (a strict cast, on_missing: fail) surfaces from the next add() or from finish(). Ordinals follow the pages' records
 * in order, so write modes keep the last row per key as on the plain path.
 */
export class StagedNormalizer {
  readonly quarantined: QuarantineEntry[] = [];
  /** Values set aside, all of them (`quarantined` keeps the first MAX_QUARANTINE_ENTRIES). */
  quarantinedCount = 0;
  readonly unknownFields = new Set<string>();
  readonly missingFields = new Set<string>();
  /** Records typed here rather than by the warehouse (deferred ones, pages without a layout). */
  recordsTypedHere = 0;
  /** Pages whose records were all of one shape (JsonPageFile.kinds), so the warehouse could read them as a fixed structure. */
  pagesOfOneShape = 0;
  private nextOrdinal = 0;
  private group: QueuedPage[] = [];
  private work: Promise<void> = Promise.resolve();
  private pending = 0;
  private failure: { error: unknown } | undefined;
  private readonly groupSize: number;
  /** Source fields the table's columns read. */
  private readonly fields: string[];
  private readonly maxPending: number;

  constructor(
    readonly staging: JsonStaging,
    private readonly t: TableSpec,
    private readonly opts: StagedNormalizerOptions = {},
  ) {
    this.fields = [...new Set(t.columns.filter((c) => !c.derived).map((c) => c.source ?? c.name))];
    this.groupSize = opts.groupSize ?? 25;
    this.maxPending = opts.maxPending ?? 2;
  }

  /** Queues a landed page (`file`: its raw copy in the lake). Waits while too many groups are still being typed. */
  async add(page: Page, file: string): Promise<void> {
    this.rethrow();
    const base = { origin: page.origin, file, firstOrdinal: this.nextOrdinal, count: page.records.length };
    this.nextOrdinal += page.records.length;
    if (page.json) {
      const queued: QueuedPage = { ...base, layout: page.json, kinds: this.fieldKinds(page, page.json), raw: page.raw };
      if (queued.kinds) this.pagesOfOneShape++;
      if (this.differsFromGroup(page.json)) this.flush();
      this.group.push(queued);
      if (this.group.length >= this.groupSize) this.flush();
    } else {
      this.flush();
      const queued: QueuedPage = { ...base, records: page.records };
      this.schedule(() => this.typeHere([queued]));
    }
    if (this.pending > this.maxPending) await this.work;
    this.rethrow();
  }

  /**
   * Queues records typed here (a slice of a page read in slices, Page.slices), after everything queued before: typed
   * with one normalizeRecords call and staged ROWS_PER_ADD at a time. Waits while too many groups are still being typed.
   */
  async addRecords(records: Record<string, unknown>[], origin: string): Promise<void> {
    this.rethrow();
    this.flush();
    const first = this.nextOrdinal;
    this.nextOrdinal += records.length;
    this.schedule(async () => {
      const n = normalizeRecords(this.t, records, { onMissing: this.opts.onMissing, onInvalid: this.opts.onInvalid, origin });
      this.recordsTypedHere += records.length;
      addQuarantined(this, n);
      n.unknownFields.forEach((f) => this.unknownFields.add(f));
      n.missingFields.forEach((f) => this.missingFields.add(f));
      if (this.opts.derive) for (const row of n.rows) this.opts.derive(row);
      // Rows keep record order; a record that gave no row leaves its ordinal unused.
      await this.stageRows(n.rows, first);
    });
    if (this.pending > this.maxPending) await this.work;
    this.rethrow();
  }

  /**
   * Takes over a batch typed in JavaScript so far (its rows, what it set aside, its drift), before anything else is
   * added: the rows are staged in order, ahead of every record added later.
   */
  async adopt(typed: { rows: Row[]; quarantined: QuarantineEntry[]; quarantinedCount: number; unknownFields: Set<string>; missingFields: Set<string> }): Promise<void> {
    if (this.nextOrdinal !== 0) throw new InternalError('adopt() must come before any page or record is added');
    addQuarantined(this, typed);
    typed.unknownFields.forEach((f) => this.unknownFields.add(f));
    typed.missingFields.forEach((f) => this.missingFields.add(f));
    this.nextOrdinal = typed.rows.length;
    await this.stageRows(typed.rows, 0);
  }

  /** Stages typed rows ROWS_PER_ADD at a time, with ordinals first, first + 1, … */
  private async stageRows(rows: Row[], first: number): Promise<void> {
    for (let i = 0; i < rows.length; i += ROWS_PER_ADD) {
      const part = rows.slice(i, i + ROWS_PER_ADD);
      await this.staging.addRows(part, part.map((_, k) => first + i + k));
    }
  }

  /** Types what is still queued; returns once every page is staged. */
  async finish(): Promise<StagedBatch> {
    this.flush();
    await this.work;
    this.rethrow();
    return { staging: this.staging, quarantined: this.quarantined, quarantinedCount: this.quarantinedCount, unknownFields: this.unknownFields, missingFields: this.missingFields };
  }

  /** Drops the staging table (the batch is not loaded). */
  async discard(): Promise<void> {
    await this.work.catch(() => undefined);
    await this.staging.discard();
  }

  /** Finishes the staging table inside the load's transaction (see JsonStaging.finish). */
  complete(ctx: LoadContext): Promise<string> {
    return this.staging.finish(ctx);
  }

  /**
   * The JSON type of each field the table reads, when the page qualifies for JsonPageFile.kinds: its raw bytes hold no
   * backslash (no escapes: every string reads the same in the warehouse as here), and every record is an object with
   * exactly the fields the table reads plus the envelope's, each field's values all strings, all numbers, or null.
   * Otherwise undefined: the warehouse checks each record's shape itself.
   */
  private fieldKinds(page: Page, layout: JsonRecordsLayout): Record<string, JsonFieldKind> | undefined {
    const raw = page.raw;
    if (Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).indexOf(0x5c) !== -1) return undefined;
    const fields = this.fields;
    const keyCount = new Set([...fields, ...Object.keys(layout.envelopeFields ?? {})]).size;
    const kinds: Record<string, JsonFieldKind> = {};
    for (const f of fields) kinds[f] = 'null';
    for (const r of page.records as unknown[]) {
      if (typeof r !== 'object' || r === null || Array.isArray(r)) return undefined;
      let keys = 0;
      for (const k in r) if (Object.hasOwn(r, k)) keys++;
      if (keys !== keyCount) return undefined;
      for (const f of fields) {
        if (!Object.hasOwn(r, f)) return undefined;
        const v = (r as Record<string, unknown>)[f];
        if (v === null) continue;
        const kind = typeof v === 'string' ? 'string' : typeof v === 'number' ? 'number' : undefined;
        if (kind === undefined) return undefined;
        if (kinds[f] === 'null') kinds[f] = kind;
        else if (kinds[f] !== kind) return undefined;
      }
    }
    return kinds;
  }

  private differsFromGroup(layout: JsonRecordsLayout): boolean {
    const first = this.group[0]?.layout;
    if (!first) return false;
    return first.recordsKey !== layout.recordsKey || JSON.stringify(first.envelopeFields ?? {}) !== JSON.stringify(layout.envelopeFields ?? {});
  }

  private flush(): void {
    if (this.group.length === 0) return;
    const group = this.group;
    this.group = [];
    this.schedule(() => this.typeInWarehouse(group));
  }

  private schedule(task: () => Promise<void>): void {
    this.pending++;
    this.work = this.work.then(async () => {
      try {
        if (!this.failure) await task();
      } catch (error) {
        this.failure ??= { error };
      } finally {
        this.pending--;
      }
    });
  }

  private rethrow(): void {
    if (this.failure) throw this.failure.error;
  }

  /** The warehouse types the group; what it defers is typed here. A group it cannot read at all is typed here whole. */
  private async typeInWarehouse(group: QueuedPage[]): Promise<void> {
    const files: JsonPageFile[] = group.map((q) => ({ file: q.file, layout: q.layout!, firstOrdinal: q.firstOrdinal, records: q.count, kinds: q.kinds }));
    let result: Awaited<ReturnType<JsonStaging['addPages']>>;
    try {
      result = await this.staging.addPages(files);
    } catch {
      // JSON the warehouse's reader refuses (a record that is not an object, a number beyond its range, a layout
      // that does not match) is still JSON JavaScript reads: type the whole group here instead.
      return this.typeHere(group);
    }
    result.unknownFields.forEach((f) => this.unknownFields.add(f));
    await this.typeRecords(result.deferred.map((d) => ({ q: group[d.page], index: d.index })));
  }

  private typeHere(pages: QueuedPage[]): Promise<void> {
    return this.typeRecords(pages.flatMap((q) => Array.from({ length: q.count }, (_, index) => ({ q, index }))));
  }

  /** The records of a queued page: kept (pages without a layout) or read again from its raw JSON. */
  private recordsOf(q: QueuedPage, cache: Map<QueuedPage, Record<string, unknown>[]>): Record<string, unknown>[] {
    if (q.records) return q.records;
    let records = cache.get(q);
    if (!records) {
      records = recordsFromLayout(q.raw!, q.layout!);
      if (records.length !== q.count) throw new InternalError(`${q.origin}: the page holds ${records.length} records where the stream gave ${q.count}`);
      cache.set(q, records);
    }
    return records;
  }

  /**
   * Types records one by one with normalizeRecords (in page and record order) and stages the rows, ROWS_PER_ADD at a
   * time (a page whose every record has a bad value is typed here whole: its rows are not all held at once).
   */
  private async typeRecords(records: { q: QueuedPage; index: number }[]): Promise<void> {
    let rows: Row[] = [];
    let ordinals: number[] = [];
    const parsed = new Map<QueuedPage, Record<string, unknown>[]>();
    this.recordsTypedHere += records.length;
    for (const { q, index } of records) {
      const n = normalizeRecords(this.t, [this.recordsOf(q, parsed)[index]], { onMissing: this.opts.onMissing, onInvalid: this.opts.onInvalid, origin: q.origin });
      addQuarantined(this, n);
      n.unknownFields.forEach((f) => this.unknownFields.add(f));
      n.missingFields.forEach((f) => this.missingFields.add(f));
      for (const row of n.rows) {
        this.opts.derive?.(row);
        rows.push(row);
        ordinals.push(q.firstOrdinal + index);
      }
      if (rows.length >= ROWS_PER_ADD) {
        await this.staging.addRows(rows, ordinals);
        rows = [];
        ordinals = [];
      }
    }
    if (rows.length > 0 || records.length === 0) await this.staging.addRows(rows, ordinals);
  }
}
