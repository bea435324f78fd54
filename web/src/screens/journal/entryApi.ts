import type { Api, Entry, Problem } from '../../lib/api'

export type Fetched = { kind: 'found'; entry: Entry; etag: string } | { kind: 'gone' } | { kind: 'failed'; problem?: Problem }

/** The current version of an entry and its entity tag, for a conditional write. */
export async function fetchEntry(api: Api, id: number): Promise<Fetched> {
  try {
    const { data, error, response } = await api.GET('/entries/{id}', { params: { path: { id: String(id) } } })
    const etag = response.headers.get('etag')
    if (data && etag) return { kind: 'found', entry: data, etag }
    return response.status === 404 ? { kind: 'gone' } : { kind: 'failed', problem: error }
  } catch {
    return { kind: 'failed' }
  }
}
