// Preloaded (`node --require`) into a coinlake process a fault test kills at an exact point: when the process itself
// writes a stderr line containing COINLAKE_TEST_KILL_ON, it writes the line and SIGKILLs itself in the same call. A
// kill sent by the test on reading the line arrives whenever the pipe and the scheduler let it, by which time a busy
// machine may have run the process on past the point (a batch "in flight" already committed).
'use strict';
const marker = process.env.COINLAKE_TEST_KILL_ON;
if (marker) {
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = (chunk, ...rest) => {
    const ok = write(chunk, ...rest);
    if (String(chunk).includes(marker)) process.kill(process.pid, 'SIGKILL');
    return ok;
  };
}
