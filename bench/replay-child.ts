// Runs the replay server in its own process for benchmarks, so serving does not count as coinlake's time.
// Prints the server URL as one JSON line on stdout; exits when stdin closes.
import { startReplayServer } from '../src/replay/index.ts';

const server = await startReplayServer(JSON.parse(process.argv[2] ?? '{}'));
process.stdout.write(JSON.stringify({ url: server.url, coincapV2Url: server.coincapV2Url }) + '\n');
process.stdin.resume();
process.stdin.on('end', () => void server.close().then(() => process.exit(0)));
