import { readdirSync, statSync } from 'node:fs'
import path from 'node:path'
import { PGlite } from '@electric-sql/pglite'

/**
 * PGlite sets aside shared_buffers inside its WebAssembly memory and zeroes it at every start.
 * Postgres's default, 128 MB, made every start of a small journal about 0.35 s slower and hold about
 * 100 MB it never used (docs/PERFORMANCE.md). So the buffers follow the size of the database's
 * relations when it opens: all of it and a quarter more, within these bounds. From about 90 MB of
 * relations on it gets Postgres's default; what does not fit is read from the operating system's
 * file cache. The size is fixed for as long as the database stays open.
 */
export const SHARED_BUFFERS_MB = { min: 32, max: 128 } as const

const MB = 2 ** 20
/** Relations beyond this size get the most buffers whatever their size: counting can stop there. */
const ENOUGH_BYTES = (SHARED_BUFFERS_MB.max * MB) / 1.25

/** The shared_buffers (MB) for relations of `bytes`: all of them and a quarter more, in 16 MB steps, within the bounds. */
export function sharedBuffersFor(bytes: number): number {
  const wanted = Math.ceil((bytes * 1.25) / (16 * MB)) * 16
  return Math.min(SHARED_BUFFERS_MB.max, Math.max(SHARED_BUFFERS_MB.min, wanted))
}

/**
 * How many bytes the relations of a PGlite data directory (`pgdata`) hold: the files under `base/`,
 * without the write-ahead log. Synchronous: it runs on the database's worker thread before PGlite
 * starts, where nothing else waits, and a thousand awaited stats took longer than the listing.
 */
export function relationBytes(pgdata: string): number {
  let total = 0
  let entries
  try {
    entries = readdirSync(path.join(pgdata, 'base'), { recursive: true, withFileTypes: true })
  } catch {
    return 0
  }
  for (const entry of entries) {
    if (!entry.isFile()) continue
    try {
      total += statSync(path.join(entry.parentPath, entry.name)).size
    } catch {
      // Removed since the listing (a temporary file): nothing to count.
    }
    if (total >= ENOUGH_BYTES) break
  }
  return total
}

const decoder = new TextDecoder()
const field = (header: Uint8Array, start: number, end: number) => decoder.decode(header.subarray(start, end)).replace(/\0.*$/s, '')

/**
 * The same for a data-dir dump: the sizes its tar headers give to regular files under `base/`. A
 * dump also holds the write-ahead log (16 MB) and the shared catalogs (`global/`), which do not
 * count, as for a directory. A compressed dump cannot be read without unpacking it: it counts as large.
 */
export function dumpRelationBytes(dump: Uint8Array): number {
  if (dump[0] === 0x1f && dump[1] === 0x8b) return Infinity
  let total = 0
  for (let offset = 0; offset + 512 <= dump.length;) {
    const header = dump.subarray(offset, offset + 512)
    const name = field(header, 0, 100)
    if (name === '') break
    const size = parseInt(field(header, 124, 136).trim() || '0', 8) || 0
    const type = header[156]
    // A ustar header may keep the start of a long path apart (a GNU one has other fields there).
    const prefix = field(header, 257, 263) === 'ustar' ? field(header, 345, 500) : ''
    const fullName = prefix ? `${prefix}/${name}` : name
    if ((type === 0x30 || type === 0) && /^(\.?\/)?base\//.test(fullName)) total += size
    offset += 512 + Math.ceil(size / 512) * 512
  }
  return total
}

/** PGlite's own start parameters, with shared_buffers set. */
export function startParams(sharedBuffersMb: number): string[] {
  return [...PGlite.defaultStartParams, '-c', `shared_buffers=${sharedBuffersMb}MB`]
}
