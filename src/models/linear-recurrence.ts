// Set-based evaluation of first-order linear recurrences y_t = β·y_{t−1} + u_t (EMA, MACD signal, Wilder's smoothing)
// with window functions instead of a row-by-row recursive CTE. Each series is cut into blocks of B rows from the row
// where the recurrence starts (the anchor). Inside a block the closed form is a running sum:
//   p_t = β^pos_t · Σ_{block start ≤ i ≤ t} u_i·β^(−pos_i)        (pos = position in the block, 0 … B−1)
// and across blocks y_t = p_t + β^(pos_t+1)·Y_(b−1), where Y_(b−1) = E_(b−1) + β^B·Y_(b−2) and E is a block's last p.
// We carry E_(b−1) only: the part left out, β^(B+pos+1)·Y_(b−2), is at most 2^−DROP_BITS times a value of the
// recurrence two blocks back, far below the 2^−53 rounding of any double evaluation (the sequential loop's included),
// so the result is the recurrence to double precision (and a series no longer than one block leaves nothing out). The weights β^±pos stay within 2^±RANGE_BITS (no overflow, no underflow), and
// the sum adds scaled copies of u only, so it is as well conditioned as the sequential loop (when u changes sign, as
// the MACD line does, both lose the same digits near zero). Plain SQL, the same on DuckDB and PostgreSQL: one window
// partition per block, and the block ends by GROUP BY, joined, in the same select.
import { InternalError } from '../core/errors.ts';

/** Dropped weight bound: terms older than one block weigh less than 2^−DROP_BITS (≈ 7.9e−31). */
export const DROP_BITS = 100;
/** Largest weight inside a block: β^−(B−1) ≤ 2^RANGE_BITS (|u| up to ~1e120 stays finite). */
export const RANGE_BITS = 600;

/** One recurrence y_t = β·y_{t−1} + u_t, named for the SQL columns it produces. */
export interface Recurrence {
  name: string;
  /** Decay factor in [0, 1): 1 − α of an EMA. */
  beta: number;
}

/**
 * Recurrences evaluated with one block size (one window partition). Size 1 holds those with β ≤ 2^−DROP_BITS (β = 0
 * for a span of 1): y = u, no window, the part left out (β·y_(t−1)) again below 2^−DROP_BITS.
 */
export interface BlockGroup {
  size: number;
  members: Recurrence[];
}

/**
 * Groups recurrences so each group shares one block size B with β^B ≤ 2^−DROP_BITS (truncation) and
 * β^−(B−1) ≤ 2^RANGE_BITS (range) for every member; recurrences whose β differ too much get separate groups.
 */
export function planBlocks(recurrences: Recurrence[]): BlockGroup[] {
  for (const r of recurrences) {
    if (!/^[a-z][a-z0-9_]*$/.test(r.name)) throw new InternalError(`recurrence name must be a lower-case SQL identifier, got "${r.name}"`);
    if (!(r.beta >= 0 && r.beta < 1)) throw new InternalError(`recurrence ${r.name}: decay factor must be in [0, 1), got ${r.beta}`);
  }
  const drop = DROP_BITS * Math.LN2;
  const range = RANGE_BITS * Math.LN2;
  const groups: BlockGroup[] = [];
  const tiny = 2 ** -DROP_BITS;
  const zero = recurrences.filter((r) => r.beta <= tiny);
  if (zero.length > 0) groups.push({ size: 1, members: zero });
  // Decay rate c = −ln β, slowest first: the first member of a group fixes B = ⌈drop / c⌉, later (faster) members
  // join while (B − 1)·c ≤ range.
  const rest = recurrences.filter((r) => r.beta > tiny).map((r) => ({ r, c: -Math.log(r.beta) })).sort((x, y) => x.c - y.c);
  let current: BlockGroup | undefined;
  for (const { r, c } of rest) {
    if (current && (current.size - 1) * c <= range) {
      current.members.push(r);
      continue;
    }
    current = { size: Math.max(2, Math.ceil(drop / c)), members: [r] };
    groups.push(current);
  }
  return groups;
}

/** A double constant as SQL: JS's shortest round-trip text, cast, so both engines hold the identical double. */
export const f8 = (x: number): string => `CAST(${String(x)} AS DOUBLE PRECISION)`;

/** Where a group's recurrences read their rows: the FROM clause (with joins) and the SQL of a row's parts. */
export interface RecurrenceSource {
  /** FROM clause body the inputs can be evaluated over, e.g. `base b JOIN series s ON …`. */
  from: string;
  /** Row number in the series. */
  seq: string;
  /** Row where the recurrences start (their inputs are 0 before it). */
  anchor: string;
  /** Series id (one integer column). */
  series: string;
  /** SQL of u_t for a member. */
  input: (r: Recurrence) => string;
}

/**
 * SQL for one block group, evaluated in ONE select over `RecurrenceSource.from`: each member's value is its window
 * partial p plus the carry β^(pos+1)·E of the previous block, E taken from a GROUP BY of the same inputs per block
 * (a block's last partial value is β^(B−1) times the sum of its u_i·β^(−pos_i)), joined by `join()`. The weights
 * β^±pos are computed inline with power() (measured faster on DuckDB than joining a table of them).
 */
export class BlockSql {
  constructor(
    readonly group: BlockGroup,
    /** Alias of the joined block ends. */
    readonly alias: string,
  ) {}

  /** Whether the group needs windows at all (size 1: y = u). */
  get windowed(): boolean {
    return this.group.size > 1;
  }

  /** Position in the block; rows before the anchor fall into earlier blocks (with u = 0 there, their values are 0). */
  private pos(src: RecurrenceSource): string {
    const b = this.group.size;
    return `(((${src.seq} - ${src.anchor}) % ${b} + ${b}) % ${b})`;
  }

  /** The LEFT JOIN of the previous block's end values (empty for size 1). */
  join(src: RecurrenceSource): string {
    if (!this.windowed) return '';
    const pos = this.pos(src);
    const ends = this.group.members.map(
      (r) => `power(${f8(r.beta)}, ${this.group.size - 1}) * sum((${src.input(r)}) * power(${f8(r.beta)}, -${pos})) AS ${endName(r)}`,
    );
    return (
      `LEFT JOIN (SELECT ${src.series} AS series_id, ${src.seq} - ${pos} AS block_start, ${ends.join(', ')} FROM ${src.from}` +
      ` GROUP BY ${src.series}, ${src.seq} - ${pos}) ${this.alias}` +
      ` ON ${this.alias}.series_id = ${src.series} AND ${this.alias}.block_start = ${src.seq} - ${pos} - ${this.group.size}`
    );
  }

  /** Select expression of a member's value y_t = β^pos·Σ_block u_i·β^(−pos_i) + β^(pos+1)·E. */
  value(r: Recurrence, src: RecurrenceSource): string {
    if (!this.windowed) return `(${src.input(r)})`;
    const pos = this.pos(src);
    const b = f8(r.beta);
    return (
      `(power(${b}, ${pos}) * sum((${src.input(r)}) * power(${b}, -${pos})) OVER (PARTITION BY ${src.series}, ${src.seq} - ${pos} ORDER BY ${src.seq})` +
      ` + power(${b}, ${pos} + 1) * coalesce(${this.alias}.${endName(r)}, ${f8(0)}))`
    );
  }
}

const endName = (r: Recurrence) => `e_${r.name}`;
