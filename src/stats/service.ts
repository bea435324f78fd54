import type { Database, Queryable } from '../db/index.js'
import { badRequest } from '../http/errors.js'
import { checkInstant, instantMillis } from '../entries/rules.js'
import * as q from './queries.js'
import type { Bucket, Stats } from './schemas.js'

export interface StatsDeps {
  db: Database
  zones: TimeZoneCatalog
}

export interface StatsRequest {
  from?: string
  to?: string
  bucket?: Bucket
  tz?: string
}

export interface TimeZoneCatalog {
  /** The canonical name of a zone Postgres knows, matched case-insensitively; undefined when unknown. */
  resolve(name: string): Promise<string | undefined>
}

/**
 * The zones this database accepts, read once per app: Postgres (not Node's ICU) does the time
 * arithmetic, so its list is the one that decides, and an unknown zone can never reach SQL.
 */
export function timeZoneCatalog(db: Queryable): TimeZoneCatalog {
  let names: Promise<Map<string, string>> | undefined
  return {
    async resolve(name) {
      if (!names) {
        const loading = q.timeZoneNames(db).then((list) => new Map(list.map((zone) => [zone.toLowerCase(), zone])))
        // A failed load (database down) is retried by the next request, not cached.
        loading.catch(() => {
          if (names === loading) names = undefined
        })
        names = loading
      }
      return (await names).get(name.toLowerCase())
    },
  }
}

/** The bounds follow the entries' instant rule (range, precision, offsets Postgres accepts). */
function instant(field: 'from' | 'to', value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const checked = checkInstant(value, `query.${field}`)
  if (checked.errors) throw badRequest(`\`${field}\` ${checked.errors[0]!.message}.`, checked.errors)
  return instantMillis(checked.value)
}

export async function getStats(deps: StatsDeps, userId: number, request: StatsRequest): Promise<Stats> {
  const bucket = request.bucket ?? 'day'
  const asked = request.tz ?? 'UTC'
  const tz = await deps.zones.resolve(asked)
  if (tz === undefined) {
    throw badRequest(`Unknown time zone \`${asked}\`; use an IANA name such as Europe/Berlin.`, [
      { field: 'query.tz', message: 'is not a known IANA time zone' },
    ])
  }
  const from = instant('from', request.from)
  const to = instant('to', request.to)
  if (from !== undefined && to !== undefined && from > to) {
    throw badRequest('`from` is after `to`.', [{ field: 'query.from', message: 'must not be after `to`' }])
  }

  const window: q.StatsWindow = { userId, bucket, tz, from: request.from ?? null, to: request.to ?? null }
  // One snapshot (and one now()) for both statements: a write in between cannot make them disagree.
  // On the main pool: a transaction reserves its connection, so nothing is queued behind it there,
  // while on the scan lane it would wait for one of its few connections to be idle.
  const [rows, streaks] = await deps.db.transaction(
    async (tx) => [await q.windowStats(tx, window), await q.dayStreaks(tx, userId, tz)] as const,
    { isolation: 'repeatable read', readOnly: true },
  )

  const overall = rows.find((row) => row.set === 3)
  return {
    tz,
    bucket,
    from: window.from,
    to: window.to,
    overall: {
      count: overall?.count ?? 0,
      average: overall?.average ?? null,
      min: overall?.min ?? null,
      max: overall?.max ?? null,
    },
    buckets: rows
      .filter((row) => row.set === 1)
      .map((row) => ({ start: row.start!, count: row.count, average: row.average!, min: row.min!, max: row.max! })),
    categories: rows.filter((row) => row.set === 2).map((row) => ({ category: row.category!, count: row.count, average: row.average! })),
    streaks,
  }
}
