import fs from 'node:fs';
const p = JSON.parse(fs.readFileSync(process.argv[2]));
const self = new Map(); const byId = new Map(p.nodes.map(n => [n.id, n]));
const dt = new Map(); for (let i=0;i<p.samples.length;i++){ dt.set(p.samples[i], (dt.get(p.samples[i])||0) + (p.timeDeltas[i]||0)); }
let total=0; const key = n => `${n.callFrame.functionName||'(anon)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber}`;
for (const n of p.nodes){ const t=dt.get(n.id)||0; total+=t; self.set(key(n),(self.get(key(n))||0)+t); }
// inclusive
const parent = new Map(); for (const n of p.nodes) for (const c of n.children||[]) parent.set(c, n.id);
const incl = new Map();
for (const n of p.nodes){ const t=dt.get(n.id)||0; if(!t) continue; const seen=new Set(); let id=n.id; while(id!==undefined){ const k=key(byId.get(id)); if(!seen.has(k)){seen.add(k); incl.set(k,(incl.get(k)||0)+t);} id=parent.get(id);} }
console.log('total ms', (total/1000).toFixed(0));
console.log('--- self'); for (const [k,v] of [...self].sort((a,b)=>b[1]-a[1]).slice(0,+process.argv[3]||30)) console.log((v/total*100).toFixed(1).padStart(5), k);
console.log('--- inclusive'); for (const [k,v] of [...incl].sort((a,b)=>b[1]-a[1]).slice(0,+process.argv[4]||40)) console.log((v/total*100).toFixed(1).padStart(5), k);
