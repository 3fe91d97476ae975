// `coinlake serve --host`: on loopback the banner is the one line it always was and nothing goes to stderr; on
// 0.0.0.0 the banner lists the real addresses it answers at (this machine's interface addresses, never 0.0.0.0),
// each of which answers, and stderr warns that the page is reachable from the network.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BIN = path.resolve('bin/coinlake.mjs');

/** Starts `coinlake serve` with `args`; resolves once the banner's first line is out. */
async function serve(dir: string, args: string[]): Promise<{ child: ChildProcess; first: string; err: () => string }> {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', ...args], {
    cwd: dir,
    env: { ...process.env, COINLAKE_WAREHOUSE: path.join(dir, 'warehouse.duckdb'), COINLAKE_LAKE: path.join(dir, 'lake'), COINLAKE_REPLAY: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const first = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      // The line after the banner is written right after it (the warning goes to stderr between the two).
      if (out.split('\n').length > 2) resolve(out.split('\n')[0]);
    });
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${out}${err}`)));
  });
  return { child, first, err: () => err };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

describe('coinlake serve --host', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-serve-host-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('on 127.0.0.1 (the default) the banner is unchanged and there is no warning', async () => {
    const s = await serve(dir, []);
    try {
      expect(s.first).toMatch(/^coinlake serve — dashboard on http:\/\/127\.0\.0\.1:\d+$/);
      expect(s.err()).toBe('');
    } finally {
      await stop(s.child);
    }
  });

  it('on 0.0.0.0 it prints every address it answers at and warns that the page is reachable from the network', async () => {
    const s = await serve(dir, ['--host', '0.0.0.0']);
    try {
      const port = /:(\d+)[, ]/.exec(s.first)![1];
      // This machine's IPv4 addresses, loopback first: what a browser here or on the network would open.
      const v4 = Object.values(os.networkInterfaces())
        .flatMap((l) => l ?? [])
        .filter((i) => i.family === 'IPv4');
      const local = v4.filter((i) => i.internal).map((i) => `http://${i.address}:${port}`);
      const remote = v4.filter((i) => !i.internal).map((i) => `http://${i.address}:${port}`);
      expect(local).toContain(`http://127.0.0.1:${port}`);
      expect(s.first).toBe(`coinlake serve — dashboard on ${[...local, ...remote].join(', ')} (listening on 0.0.0.0: every IPv4 interface)`);
      expect(s.first).not.toContain('http://0.0.0.0');
      // The warning goes to stderr, a pipe of its own: its line may reach us after stdout's banner.
      for (const until = Date.now() + 10_000; !s.err().endsWith('\n') && Date.now() < until; ) await new Promise((r) => setTimeout(r, 20));
      expect(s.err()).toBe(
        `warning: --host 0.0.0.0: the dashboard and its read-only API are reachable from the network${remote.length ? ` at ${remote.join(', ')}` : ''}; ` +
          `anyone who can connect sees the warehouse's data (there is no login). --host 127.0.0.1 (the default) keeps it on this machine\n`,
      );
      // Every printed address is real: the server answers there, with its own pid.
      for (const url of [...local, ...remote]) {
        const res = await fetch(`${url}/api/health`);
        expect(res.status, url).toBe(200);
        expect(((await res.json()) as { pid: number }).pid, url).toBe(s.child.pid);
      }
      console.log(`serve --host 0.0.0.0 answered at ${local.length + remote.length} address(es): ${[...local, ...remote].join(', ')}`);
    } finally {
      await stop(s.child);
    }
  });
});
