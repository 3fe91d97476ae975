// Per-run logging with pino: always to the run's log file, to the console too with --print-log.
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import { redactText } from '../http/redact.ts';

/** CLI level names (the original framework's) → pino levels. */
export type LogLevel = 'debug' | 'info' | 'warning' | 'error';
const PINO_LEVEL: Record<LogLevel, pino.Level> = { debug: 'debug', info: 'info', warning: 'warn', error: 'error' };

export function toPinoLevel(level: string | undefined): pino.Level {
  return PINO_LEVEL[(level ?? 'info') as LogLevel] ?? 'info';
}

/** Human-readable console lines: `HH:MM:SS level message key=value…`, secrets masked. */
function consoleStream(out: NodeJS.WritableStream): Writable {
  return new Writable({
    write(chunk, _enc, cb) {
      try {
        const o = JSON.parse(chunk.toString()) as Record<string, unknown>;
        const { level, time, msg, pid: _p, hostname: _h, ...rest } = o;
        const name = pino.levels.labels[Number(level)] ?? String(level);
        const extra = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
        const t = new Date(Number(time)).toISOString().slice(11, 19);
        out.write(redactText(`${t} ${name.padEnd(5)} ${msg ?? ''}${extra ? ' ' + extra : ''}`) + '\n');
      } catch {
        out.write(redactText(chunk.toString()));
      }
      cb();
    },
  });
}

/** A file stream that masks registered secrets before writing. */
function redactingFile(file: string): Writable {
  const dest = pino.destination({ dest: file, sync: true, mkdir: true });
  return new Writable({
    write(chunk, _enc, cb) {
      dest.write(redactText(chunk.toString()));
      cb();
    },
  });
}

export interface RunLoggerOptions {
  level?: string;
  file?: string;
  printLog?: boolean;
  console?: NodeJS.WritableStream;
}

/** A logger writing JSON lines to `file` and, with printLog, readable lines to the console (stderr). */
export function createRunLogger(opts: RunLoggerOptions): Logger {
  const level = toPinoLevel(opts.level);
  const streams: pino.StreamEntry[] = [];
  if (opts.file) streams.push({ level, stream: redactingFile(opts.file) });
  if (opts.printLog) streams.push({ level, stream: consoleStream(opts.console ?? process.stderr) });
  if (streams.length === 0) return pino({ level: 'silent' });
  return pino(
    {
      level,
      base: undefined,
      redact: { paths: ['headers.authorization', 'headers.Authorization', '*.secret', 'secret', 'apiKey'], censor: '***' },
    },
    pino.multistream(streams),
  );
}
