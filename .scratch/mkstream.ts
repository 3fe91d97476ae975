import { jetstreamManager } from '@nats-io/jetstream';
import { connectNats, ensureFeedStream } from '/work/main/src/streaming/jetstream-streams.ts';
const nc = await connectNats();
const jsm = await jetstreamManager(nc);
const [cmd, name] = process.argv.slice(2);
if (cmd === 'add') await ensureFeedStream(jsm, { subject: `prof.${name}`, stream: `PROF_${name.toUpperCase()}` });
else await jsm.streams.delete(`PROF_${name.toUpperCase()}`).catch(()=>{});
await nc.close();
