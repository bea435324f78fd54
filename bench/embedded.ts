/**
 * An embedded (PGlite) data directory for the embedded-vs-server scenario: migrated with the
 * project's own `migrate()` and seeded with one user of 1,000 entries, like a server-mode user.
 */
import { mkdtemp } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { migrate } from '../src/db/index.js'
import { openEmbeddedDatabase } from '../src/db/embedded.js'
import { removeOnExit } from './processes.js'
import { ENTRIES_PER_USER } from './seed.js'

export const EMBEDDED_EMAIL = 'bench-embedded@bench.moodlog.test'

/** Returns the new data directory (under the OS temp dir; removed when the run ends, however it ends). */
export async function prepareEmbeddedDataDir(passwordHash: string): Promise<string> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'moodlog-bench-embedded-'))
  removeOnExit(dataDir)
  const db = await openEmbeddedDatabase(dataDir)
  try {
    await migrate(db)
    const [user] = await db.query<{ id: number }>(
      `insert into users (email, password_hash, created_at, updated_at)
       values ($1, $2, now() - interval '3 years', now() - interval '3 years') returning id`,
      [EMBEDDED_EMAIL, passwordHash],
    )
    await db.query(
      `insert into entries (user_id, text, mood, category, occurred_at, created_at, updated_at)
       select $1::int8, 'Embedded entry number ' || i || ': a walk, some work, an early night.', 1 + (i * 3) % 10,
              (array['work','health','family','friends','sleep','hobby'])[1 + i % 6], t.at, t.at, t.at
         from generate_series(1, $2::int) i
        cross join lateral (select now() - make_interval(hours => i) as at) t
        order by i desc`,
      [user!.id, ENTRIES_PER_USER],
    )
    await db.query('analyze')
  } finally {
    await db.close()
  }
  return dataDir
}
