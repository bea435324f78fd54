import assert from 'node:assert/strict'
import type { Harness } from './harness.js'
import type { SignedIn } from './users.js'

export interface EntryBody {
  text: string
  mood: number
  category: string
  occurredAt?: string
}

/** Creates an entry through the API and returns its JSON. */
export async function createEntry(h: Harness, user: SignedIn, body: EntryBody): Promise<any> {
  const res = await h.request({ method: 'POST', url: '/entries', headers: user.auth, payload: body })
  assert.equal(res.statusCode, 201, res.body)
  return res.json()
}

/** GET /entries with these parameters (URL-encoded here). */
export function listEntries(h: Harness, user: SignedIn, params: Record<string, string | number | undefined>) {
  const query = new URLSearchParams()
  for (const [name, value] of Object.entries(params)) if (value !== undefined) query.append(name, String(value))
  return h.request({ method: 'GET', url: `/entries?${query}`, headers: user.auth })
}

/** Follows `nextCursor` from the first page to the last; `between` runs after each page (e.g. to insert). */
export async function walkByCursor(
  h: Harness,
  user: SignedIn,
  params: Record<string, string | number | undefined>,
  between: (pageIndex: number) => Promise<void> = async () => {},
): Promise<{ pages: any[][]; totals: number[] }> {
  const pages: any[][] = []
  const totals: number[] = []
  let cursor: string | undefined
  for (let guard = 0; guard < 1000; guard++) {
    const res = await listEntries(h, user, { ...params, cursor })
    assert.equal(res.statusCode, 200, res.body)
    const body = res.json()
    pages.push(body.items)
    totals.push(body.total)
    if (body.nextCursor === null) return { pages, totals }
    cursor = body.nextCursor
    await between(pages.length - 1)
  }
  throw new Error('the cursor walk did not end')
}

/** Newest first by occurredAt, then id: the order the API promises. */
export function newestFirst<T extends { id: number; occurredAt: string }>(entries: T[]): T[] {
  return [...entries].sort((a, b) => Date.parse(b.occurredAt) - Date.parse(a.occurredAt) || b.id - a.id)
}
