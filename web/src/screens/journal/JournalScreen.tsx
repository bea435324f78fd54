import { useCallback, useEffect, useState } from 'preact/hooks'
import { useSession } from '../../lib/context'
import type { Entry } from '../../lib/api'
import { Composer } from './Composer'
import { DeleteDialog } from './DeleteDialog'
import { EditDialog } from './EditDialog'
import { FilterBar } from './FilterBar'
import { isFiltered, NO_FILTERS, type Filters } from './filters'
import { Timeline } from './Timeline'
import { useTimeline } from './useTimeline'

const CATEGORIES_LIST = 'category-suggestions'

/** The user's own categories, most recently used first, for the suggestions and the filter. */
function useCategories(): [string[], () => void] {
  const { api } = useSession()
  const [names, setNames] = useState<string[]>([])
  const load = useCallback(() => {
    api
      .GET('/categories')
      .then(({ data }) => data && setNames(data.items.map((item) => item.name)))
      // Suggestions are a convenience: without them the field still takes any category.
      .catch(() => undefined)
  }, [api])
  useEffect(load, [load])
  return [names, load]
}

export function JournalScreen() {
  const [filters, setFilters] = useState<Filters>(NO_FILTERS)
  const timeline = useTimeline(filters)
  const [categories, reloadCategories] = useCategories()
  const [editing, setEditing] = useState<Entry | null>(null)
  const [deleting, setDeleting] = useState<Entry | null>(null)

  return (
    <div class="journal">
      <h1 class="visually-hidden">Journal</h1>
      <datalist id={CATEGORIES_LIST}>
        {categories.map((name) => (
          <option key={name} value={name} />
        ))}
      </datalist>
      <div class="journal-side">
        <Composer
          categoriesListId={CATEGORIES_LIST}
          onSaved={() => {
            timeline.reload()
            reloadCategories()
          }}
        />
      </div>
      <div class="journal-main">
        <FilterBar filters={filters} onChange={setFilters} categories={[...categories].sort((a, b) => a.localeCompare(b))} />
        <Timeline
          timeline={timeline}
          filtered={isFiltered(filters)}
          onClearFilters={() => setFilters(NO_FILTERS)}
          onEdit={setEditing}
          onDelete={setDeleting}
        />
      </div>
      {editing && (
        <EditDialog
          entry={editing}
          categoriesListId={CATEGORIES_LIST}
          onClose={() => setEditing(null)}
          onSaved={(entry) => {
            timeline.replace(entry)
            reloadCategories()
          }}
          onGone={timeline.remove}
        />
      )}
      {deleting && (
        <DeleteDialog
          entry={deleting}
          onClose={() => setDeleting(null)}
          onDeleted={(id) => {
            timeline.remove(id)
            reloadCategories()
          }}
          onChanged={timeline.replace}
        />
      )}
    </div>
  )
}
