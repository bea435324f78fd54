import { badRequest } from '../http/errors.js'

/** Strong ETag of one version of an entry; the representation is a pure function of (id, version). */
export function etagOf(entry: { id: number; version: number }): string {
  return `"${entry.id}-${entry.version}"`
}

const ENTITY_TAG = /^(W\/)?"([\x21\x23-\x7E\x80-\xFF]*)"$/

interface EntityTag {
  weak: boolean
  opaque: string
}

/** `*` → 'any'; a list of entity tags → the tags; anything else → undefined (malformed). */
function parseTagList(header: string): 'any' | EntityTag[] | undefined {
  if (header.trim() === '*') return 'any'
  const tags: EntityTag[] = []
  // Our tags never contain commas, so splitting on them is safe for every tag we could match.
  for (const part of header.split(',')) {
    const trimmed = part.trim()
    if (trimmed === '') continue
    const match = ENTITY_TAG.exec(trimmed)
    if (!match) return undefined
    tags.push({ weak: match[1] !== undefined, opaque: match[2]! })
  }
  return tags.length > 0 ? tags : undefined
}

/**
 * The versions of entry `id` an `If-Match` header accepts: null when any will do (absent or `*`).
 * Strong comparison (RFC 9110 §13.1.1): a weak tag never matches, so it yields no version and the
 * write is refused with 412. A malformed header is a 400, not an unconditional write.
 */
export function acceptedVersions(header: string | undefined, id: number): number[] | null {
  if (header === undefined) return null
  const tags = parseTagList(header)
  if (tags === 'any') return null
  if (tags === undefined) {
    throw badRequest('If-Match must be * or a list of entity tags such as "12-3".', [
      { field: 'headers.if-match', message: 'must be * or a list of entity tags' },
    ])
  }
  const versions: number[] = []
  for (const tag of tags) {
    const match = /^(\d{1,15})-(\d{1,9})$/.exec(tag.opaque)
    if (!tag.weak && match && Number(match[1]) === id) versions.push(Number(match[2]))
  }
  return versions
}

/** If-None-Match on a read, weak comparison (RFC 9110 §13.1.2): true when the client's copy is current (→ 304). */
export function noneMatchFails(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false
  const tags = parseTagList(header)
  if (tags === 'any') return true
  // A malformed If-None-Match is ignored: the full response is always a safe answer to a read.
  return tags !== undefined && tags.some((tag) => `"${tag.opaque}"` === etag)
}

/** Which versions a conditional write may change: `accepted` null = any; `refused` never (If-None-Match). */
export interface VersionCondition {
  accepted: number[] | null
  refused: number[]
}

/**
 * If-Match and If-None-Match of a PATCH or DELETE as one condition on the version, checked by the
 * write itself. If-None-Match uses weak comparison (RFC 9110 §13.1.2): a listed tag of the current
 * version, weak or not, refuses the write (412); `*` refuses it whenever the entry exists, which
 * `refusesAny` reports. Null when there is no condition at all. A malformed header is a 400.
 */
export function writeCondition(ifMatch: string | undefined, ifNoneMatch: string | undefined, id: number): WriteCondition {
  const accepted = acceptedVersions(ifMatch, id)
  if (ifNoneMatch === undefined) return accepted === null ? null : { accepted, refused: [], refusesAny: false }
  const tags = parseTagList(ifNoneMatch)
  if (tags === undefined) {
    throw badRequest('If-None-Match must be * or a list of entity tags such as "12-3".', [
      { field: 'headers.if-none-match', message: 'must be * or a list of entity tags' },
    ])
  }
  if (tags === 'any') return { accepted, refused: [], refusesAny: true }
  const refused = tags.flatMap((tag) => {
    const match = /^(\d{1,15})-(\d{1,9})$/.exec(tag.opaque)
    return match && Number(match[1]) === id ? [Number(match[2])] : []
  })
  return { accepted, refused, refusesAny: false }
}

export type WriteCondition = (VersionCondition & { refusesAny: boolean }) | null
