// The debug lines of a file's landing: how long each step took (bench/cdd-import-bench.ts reads them from the run log).
import type { Logger } from 'pino';

/** Logs (debug) how long each step of a file took since the previous one (wall and this process's CPU time), the peak RSS so far, and the RSS and JavaScript heap now. */
export function stepTimer(log: Logger, file: string): (what: string) => void {
  let last = Date.now();
  let lastCpu = process.cpuUsage();
  return (what) => {
    const now = Date.now();
    const cpu = process.cpuUsage(lastCpu);
    log.debug({ file, step: what, ms: now - last, cpuMs: Math.round((cpu.user + cpu.system) / 1000), peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024), rssMb: Math.round(process.memoryUsage.rss() / 2 ** 20), heapMb: Math.round(process.memoryUsage().heapUsed / 2 ** 20) }, 'import step');
    last = now;
    lastCpu = process.cpuUsage();
  };
}
