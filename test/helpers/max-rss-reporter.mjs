// Loaded with `node --import` into a child process under test: at exit, writes the process's peak resident set size
// (kB, process.resourceUsage().maxRSS) to the file named by COINLAKE_TEST_MAX_RSS_FILE.
import { writeFileSync } from 'node:fs';

const out = process.env.COINLAKE_TEST_MAX_RSS_FILE;
if (out) process.on('exit', () => writeFileSync(out, String(process.resourceUsage().maxRSS)));
