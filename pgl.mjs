import { PGlite } from '@electric-sql/pglite';
let t=Date.now();
const db = new PGlite('/tmp/pgltest');
await db.waitReady; console.log('ready', Date.now()-t);
const r = await db.query("select 1::int8 as a, now() as b, 1.5::numeric as c, version() v");
console.log(r.rows, typeof r.rows[0].a);
t=Date.now(); const dump = await db.dumpDataDir('gzip'); console.log('dump', dump.size, Date.now()-t);
await db.close();
t=Date.now(); const db2 = new PGlite({loadDataDir: dump}); await db2.waitReady; console.log('load', Date.now()-t);
