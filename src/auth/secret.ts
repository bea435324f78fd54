import { randomBytes } from 'node:crypto'
import { chmod, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { Config } from '../config.js'

/** A config whose JWT secret is known: what `app.config` holds. */
export type ResolvedConfig = Config & { jwtSecret: string }

/**
 * The config with its HS256 secret filled in: `JWT_SECRET` when set; in embedded mode otherwise a
 * random one generated on first start and kept in `DATA_DIR/jwt-secret` (mode 0600), so tokens
 * survive restarts. Done once, when the app starts; everything after reads `app.config.jwtSecret`.
 */
export async function withJwtSecret(config: Config): Promise<ResolvedConfig> {
  if (config.jwtSecret !== undefined) return config as ResolvedConfig
  const file = path.join(config.dataDir, 'jwt-secret')
  try {
    const existing = (await readFile(file, 'utf8')).trim()
    if (existing.length >= 43) return { ...config, jwtSecret: existing }
  } catch (error) {
    if ((error as { code?: string }).code !== 'ENOENT') throw error
  }
  const secret = randomBytes(48).toString('base64url')
  await writeFile(file, `${secret}\n`, { mode: 0o600, flag: 'w' })
  await chmod(file, 0o600)
  return { ...config, jwtSecret: secret }
}

/** The HS256 key (access tokens, list cursors) of a resolved config. */
export function jwtKey(config: ResolvedConfig): Uint8Array {
  return new TextEncoder().encode(config.jwtSecret)
}

/** The key of any config; on `app.config` (already resolved) it touches no file. Prefer `jwtKey(app.config)`. */
export async function resolveJwtSecret(config: Config): Promise<Uint8Array> {
  return jwtKey(await withJwtSecret(config))
}
