import { readdir, stat } from 'node:fs/promises'
import path from 'node:path'
import { PGlite } from '@electric-sql/pglite'

/**
 * PGlite sets aside shared_buffers inside its WebAssembly memory and zeroes it at every start:
 * about 5 ms of CPU and 1 MB of resident memory per MB. Postgres's default, 128 MB, made every start
 * of a small journal take 0.6 s longer and hold 100 MB it never used. So the buffers follow the
 * database's size on disk: between these bounds, enough to hold all of it. A bigger database gets
 * Postgres's default; what does not fit is read from the operating system's file cache.
 */
export const SHARED_BUFFERS_MB = { min: 32, max: 128 } as const

/** The shared_buffers (MB) for a database of `bytes`: all of it and a quarter more, in 16 MB steps, within the bounds. */
export function sharedBuffersFor(bytes: number): number {
  const wanted = Math.ceil((bytes * 1.25) / (16 * 2 ** 20)) * 16
  return Math.min(SHARED_BUFFERS_MB.max, Math.max(SHARED_BUFFERS_MB.min, wanted))
}

/** How many bytes the relations of a PGlite data directory (`pgdata`) hold: `base/`, without the write-ahead log. */
export async function relationBytes(pgdata: string): Promise<number> {
  let total = 0
  const entries = await readdir(path.join(pgdata, 'base'), { recursive: true, withFileTypes: true }).catch(() => [])
  for (const entry of entries) {
    if (entry.isFile()) total += (await stat(path.join(entry.parentPath, entry.name)).catch(() => ({ size: 0 }))).size
  }
  return total
}

/** PGlite's own start parameters, with shared_buffers set. */
export function startParams(sharedBuffersMb: number): string[] {
  return [...PGlite.defaultStartParams, '-c', `shared_buffers=${sharedBuffersMb}MB`]
}
