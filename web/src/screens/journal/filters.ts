import type { EntryQuery } from '../../lib/api'
import { addDays, startOfDay, toInstant } from '../../lib/time'

export interface Filters {
  q: string
  category: string
  moodMin: number | null
  moodMax: number | null
  /** Local dates `YYYY-MM-DD`, both inclusive. */
  from: string
  to: string
}

export const NO_FILTERS: Filters = { q: '', category: '', moodMin: null, moodMax: null, from: '', to: '' }

export const PAGE_SIZE = 20

export function isFiltered(filters: Filters): boolean {
  return Object.entries(filters).some(([name, value]) => value !== NO_FILTERS[name as keyof Filters])
}

/** The API query for a set of filters; `to` is a whole local day, so the bound is the next local midnight. */
export function toQuery(filters: Filters, cursor?: string): EntryQuery {
  const query: EntryQuery = { limit: PAGE_SIZE }
  if (cursor) query.cursor = cursor
  if (filters.q.trim()) query.q = filters.q.trim()
  if (filters.category) query.category = filters.category
  if (filters.moodMin !== null) query.moodMin = filters.moodMin
  if (filters.moodMax !== null) query.moodMax = filters.moodMax
  if (filters.from) query.from = toInstant(startOfDay(filters.from))
  if (filters.to) query.to = toInstant(addDays(startOfDay(filters.to), 1))
  return query
}
