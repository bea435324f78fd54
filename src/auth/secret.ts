import { randomBytes } from 'node:crypto'
import { chmod, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { Config } from '../config.js'

/**
 * The HS256 key: `JWT_SECRET` when set; in embedded mode otherwise a random one generated on first
 * start and kept in `DATA_DIR/jwt-secret` (mode 0600), so tokens survive restarts.
 */
export async function resolveJwtSecret(config: Config): Promise<Uint8Array> {
  if (config.jwtSecret !== undefined) return new TextEncoder().encode(config.jwtSecret)
  const file = path.join(config.dataDir, 'jwt-secret')
  try {
    const existing = (await readFile(file, 'utf8')).trim()
    if (existing.length >= 43) return new TextEncoder().encode(existing)
  } catch (error) {
    if ((error as { code?: string }).code !== 'ENOENT') throw error
  }
  const secret = randomBytes(48).toString('base64url')
  await writeFile(file, `${secret}\n`, { mode: 0o600, flag: 'w' })
  await chmod(file, 0o600)
  return new TextEncoder().encode(secret)
}
