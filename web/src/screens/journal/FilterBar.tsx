import { useEffect, useState } from 'preact/hooks'
import { MOODS } from '../../lib/mood'
import { isFiltered, NO_FILTERS, type Filters } from './filters'

interface FilterBarProps {
  filters: Filters
  onChange: (filters: Filters) => void
  categories: string[]
}

const moodOption = (value: number | null) => (value === null ? '' : String(value))
const parseMood = (value: string) => (value ? Number(value) : null)

/** Search (on Enter) and filters (as soon as they change). */
export function FilterBar({ filters, onChange, categories }: FilterBarProps) {
  const [q, setQ] = useState(filters.q)
  useEffect(() => setQ(filters.q), [filters.q])
  const set = (patch: Partial<Filters>) => onChange({ ...filters, ...patch })
  const activeFilters = isFiltered({ ...filters, q: '' })

  return (
    <div class="filter-bar">
      <form
        role="search"
        class="search"
        aria-label="Entries"
        onSubmit={(event) => {
          event.preventDefault()
          set({ q })
        }}
      >
        <label for="search-q" class="visually-hidden">
          Search entries
        </label>
        <input
          id="search-q"
          type="search"
          placeholder="Search entries"
          value={q}
          onInput={(event) => {
            const value = event.currentTarget.value
            setQ(value)
            // Clearing the box (or its × button) shows everything again at once.
            if (value === '' && filters.q !== '') set({ q: '' })
          }}
          maxLength={500}
          aria-describedby="search-hint"
        />
        <button type="submit" class="button">
          Search
        </button>
        <p id="search-hint" class="visually-hidden">
          Finds words in your entries. Use quotes for a phrase and a minus sign to leave a word out.
        </p>
      </form>
      <details class="filters" open={activeFilters || undefined}>
        <summary>Filters{activeFilters ? <span class="filter-count"> (on)</span> : null}</summary>
        <div class="filters-grid">
          <div class="field">
            <label for="filter-category">Filter by category</label>
            <select id="filter-category" value={filters.category} onChange={(event) => set({ category: event.currentTarget.value })}>
              <option value="">All categories</option>
              {categories.map((name) => (
                <option key={name} value={name}>
                  {name}
                </option>
              ))}
            </select>
          </div>
          <div class="field">
            <label for="filter-mood-min">Lowest mood</label>
            <select
              id="filter-mood-min"
              value={moodOption(filters.moodMin)}
              onChange={(event) => set({ moodMin: parseMood(event.currentTarget.value) })}
            >
              <option value="">Any</option>
              {MOODS.map((mood) => (
                <option key={mood.value} value={mood.value} disabled={filters.moodMax !== null && mood.value > filters.moodMax}>
                  {mood.value} {mood.word}
                </option>
              ))}
            </select>
          </div>
          <div class="field">
            <label for="filter-mood-max">Highest mood</label>
            <select
              id="filter-mood-max"
              value={moodOption(filters.moodMax)}
              onChange={(event) => set({ moodMax: parseMood(event.currentTarget.value) })}
            >
              <option value="">Any</option>
              {MOODS.map((mood) => (
                <option key={mood.value} value={mood.value} disabled={filters.moodMin !== null && mood.value < filters.moodMin}>
                  {mood.value} {mood.word}
                </option>
              ))}
            </select>
          </div>
          <div class="field">
            <label for="filter-from">From</label>
            <input
              id="filter-from"
              type="date"
              value={filters.from}
              max={filters.to || undefined}
              onChange={(event) => set({ from: event.currentTarget.value })}
            />
          </div>
          <div class="field">
            <label for="filter-to">Until</label>
            <input
              id="filter-to"
              type="date"
              value={filters.to}
              min={filters.from || undefined}
              onChange={(event) => set({ to: event.currentTarget.value })}
            />
          </div>
          <div class="filters-actions">
            <button type="button" class="button button-quiet" onClick={() => onChange(NO_FILTERS)} disabled={!isFiltered(filters)}>
              Clear filters
            </button>
          </div>
        </div>
      </details>
    </div>
  )
}
