// `coinlake changes TABLE [--key K] [--since T]`: the change events merge and scd2 wrote for a table, oldest first.
import type { Command } from 'commander';
import type { Session } from '../core/destination.ts';
import { ConfigError } from '../core/errors.ts';
import { assertIdentifier } from '../core/table.ts';
import { parseInstant } from '../core/time.ts';
import { DATA_SCHEMA, ensureMetaTables } from '../catalog/meta-tables.ts';
import { CHANGE_EVENT_TABLE, type ChangeOperation } from '../load/change-events.ts';
import { withWarehouse, type GlobalOptions } from './cli-context.ts';
import { formatTable } from './format-table.ts';
import { EXAMPLES } from '../sources/registry.ts';

/** A change event as read back, its JSON parsed. */
export interface ChangeEvent {
  eventId: number;
  processId: number;
  table: string;
  key: Record<string, unknown>;
  operation: ChangeOperation;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  changedColumns: string[];
  eventTime: Date;
}

/** What to show. */
export interface ChangeQuery {
  /** `value` (any key column equal to it) or `col=value[,col=value]`. */
  key?: string;
  since?: Date;
  /** The newest this many events (default 50). */
  limit?: number;
}

/** `table` → `coinlake.table`; `schema.table` as given. Validates both parts. */
export function qualifyTable(name: string): string {
  const [schema, table] = name.includes('.') ? name.split('.', 2) : [DATA_SCHEMA, name];
  return `${assertIdentifier(schema, 'schema name')}.${assertIdentifier(table, 'table name')}`;
}

/** Key filter → a predicate on a parsed primary key. */
function keyFilter(text: string): { needles: string[]; matches: (key: Record<string, unknown>) => boolean } {
  const pairs = text.includes('=')
    ? text.split(',').map((p) => {
        const i = p.indexOf('=');
        if (i <= 0) throw new ConfigError(`--key "${text}": expected VALUE or COLUMN=VALUE[,COLUMN=VALUE]`);
        return [p.slice(0, i).trim(), p.slice(i + 1)] as const;
      })
    : undefined;
  const same = (v: unknown, want: string) => v !== null && v !== undefined && String(v) === want;
  // The JSON-escaped text of each value must occur in the stored key: a cheap filter the warehouse applies first.
  const needles = (pairs ? pairs.map(([, v]) => v) : [text]).map((v) => JSON.stringify(v).slice(1, -1));
  return {
    needles,
    matches: pairs ? (key) => pairs.every(([k, v]) => same(key[k], v)) : (key) => Object.values(key).some((v) => same(v, text)),
  };
}

/** The events of `table` (qualified) matching the query, oldest first among the newest `limit`. */
export async function listChanges(s: Session, table: string, q: ChangeQuery = {}): Promise<ChangeEvent[]> {
  const limit = Math.max(1, Math.floor(q.limit ?? 50));
  const filter = q.key === undefined ? undefined : keyFilter(q.key);
  const params: unknown[] = [table];
  const where = ['table_name = $1'];
  if (q.since) {
    params.push(q.since);
    where.push(`event_time >= $${params.length}`);
  }
  for (const needle of filter?.needles ?? []) {
    params.push(needle);
    where.push(`strpos(primary_key, $${params.length}) > 0`);
  }
  const rows = await s.query<{
    event_id: number;
    process_id: number;
    primary_key: string;
    operation: ChangeOperation;
    before: string | null;
    after: string | null;
    changed_columns: string | null;
    event_time: Date;
  }>(
    `SELECT event_id, process_id, primary_key, operation, "before", "after", changed_columns, event_time FROM ${CHANGE_EVENT_TABLE}
      WHERE ${where.join(' AND ')} ORDER BY event_id DESC${filter ? '' : ` LIMIT ${limit}`}`,
    params,
  );
  const events: ChangeEvent[] = [];
  for (const r of rows) {
    const key = JSON.parse(r.primary_key) as Record<string, unknown>;
    if (filter && !filter.matches(key)) continue;
    events.push({
      eventId: r.event_id,
      processId: r.process_id,
      table,
      key,
      operation: r.operation,
      before: r.before === null ? null : JSON.parse(r.before),
      after: r.after === null ? null : JSON.parse(r.after),
      changedColumns: r.changed_columns === null ? [] : JSON.parse(r.changed_columns),
      eventTime: r.event_time,
    });
    if (events.length === limit) break;
  }
  return events.reverse();
}

/**
 * Throws a ConfigError naming `table` (qualified) unless coinlake knows it (a catalog or stream table), the warehouse
 * holds it, or change events were written for it; the hint lists the known tables.
 */
export async function assertKnownTable(s: Session, table: string): Promise<void> {
  const { checkTargets } = await import('./check-command.ts');
  const known = (await checkTargets(s)).map((t) => `${t.schema}.${t.name}`);
  if (known.includes(table)) return;
  const [schema, name] = table.split('.', 2);
  const held = await s.query<{ name: string }>(`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name`, [schema]);
  if (held.some((r) => r.name === name)) return;
  const [{ n }] = await s.query<{ n: number }>(`SELECT count(*) AS n FROM ${CHANGE_EVENT_TABLE} WHERE table_name = $1`, [table]);
  if (Number(n) > 0) return;
  const inWarehouse = held.map((r) => `${schema}.${r.name}`).filter((t) => !known.includes(t));
  throw new ConfigError(`unknown table "${table}"`, { hint: `known tables: ${[...known, ...inWarehouse].join(', ')}` });
}

function text(v: unknown): string {
  return v === null || v === undefined ? 'null' : typeof v === 'object' ? JSON.stringify(v) : String(v);
}

/** What changed, for people: `price_usd 96146.87 → 1.5; rank 1 → 2`, `(new)`, `(deleted)`. */
export function describeChange(e: ChangeEvent): string {
  if (e.operation === 'insert') return '(new)';
  if (e.operation === 'delete') return '(deleted)';
  return e.changedColumns.map((c) => `${c} ${text(e.before?.[c])} → ${text(e.after?.[c])}`).join('; ');
}

/** The events as the aligned table the command prints. */
export function formatChanges(events: ChangeEvent[]): string {
  return formatTable(
    events.map((e) => ({
      event: e.eventId,
      time: e.eventTime,
      process: e.processId,
      operation: e.operation,
      key: Object.entries(e.key)
        .map(([k, v]) => `${k}=${text(v)}`)
        .join(', '),
      changes: describeChange(e),
    })),
    ['event', 'time', 'process', 'operation', 'key', 'changes'],
  );
}

export function registerChangesCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command('changes')
    .description('show the change events (insert / update / delete, before → after) merge and scd2 wrote for a table')
    .argument('<table>', `data table, e.g. ${EXAMPLES.table} or coinlake.${EXAMPLES.table}`)
    .option('--key <key>', 'only this key: VALUE, or COLUMN=VALUE[,COLUMN=VALUE] for composite keys')
    .option('--since <time>', 'only events at or after this time (YYYY-MM-DD, ISO-8601 or epoch)')
    .option('-n, --limit <n>', 'the newest n events', '50')
    .option('--json', 'one JSON object per event, with the full before and after images', false)
    .action(async (table: string, o: { key?: string; since?: string; limit: string; json: boolean }) => {
      const name = qualifyTable(table);
      const since = o.since === undefined ? undefined : parseInstant(o.since);
      await withWarehouse(globals(), async (session) => {
        await ensureMetaTables(session);
        const events = await listChanges(session, name, { key: o.key, since, limit: Number(o.limit) });
        if (events.length === 0) await assertKnownTable(session, name);
        if (o.json) {
          for (const e of events) process.stdout.write(JSON.stringify(e) + '\n');
        } else {
          process.stdout.write(events.length ? formatChanges(events) + '\n' : `no change events for ${name}${o.key ? ` with key ${o.key}` : ''}\n`);
        }
      });
    });
}
