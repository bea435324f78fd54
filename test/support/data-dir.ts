import { cp } from 'node:fs/promises'
import { openEmbeddedDatabase } from '../../src/db/embedded.js'
import { migrate } from '../../src/db/index.js'

/** Where `npm test` left this run's prepared data directories (see scripts/test.ts). */
export const DATA_DIR_TEMPLATE_ENV = { migrated: 'MOODLOG_TEST_DATA_DIR_TEMPLATE', blank: 'MOODLOG_TEST_BLANK_DATA_DIR_TEMPLATE' } as const

/**
 * Makes `dataDir` (absent or empty) a DATA_DIR as a first start leaves it: `pgdata` initialised and,
 * unless `migrated` is false, migrated. It is a copy of the directory `npm test` prepared once for
 * the run, because a first initialisation (initdb in WebAssembly) costs about 10 s of CPU each time.
 * Tests of the first initialisation itself open an empty directory instead.
 */
export async function preparedDataDir(dataDir: string, { migrated = true }: { migrated?: boolean } = {}): Promise<string> {
  const template = process.env[DATA_DIR_TEMPLATE_ENV[migrated ? 'migrated' : 'blank']]
  if (template) {
    await cp(template, dataDir, { recursive: true })
    return dataDir
  }
  // A file run on its own, without the runner: prepared the slow way.
  const db = await openEmbeddedDatabase(dataDir)
  try {
    if (migrated) await migrate(db)
  } finally {
    await db.close()
  }
  return dataDir
}
