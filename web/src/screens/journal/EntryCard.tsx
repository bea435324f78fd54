import { MoodBadge } from '../../components/MoodBadge'
import type { Entry } from '../../lib/api'
import { moodClass } from '../../lib/mood'
import { formatTime } from '../../lib/time'

export function EntryCard({ entry, onEdit, onDelete }: { entry: Entry; onEdit: (e: Entry) => void; onDelete: (e: Entry) => void }) {
  const titleId = `entry-${entry.id}-title`
  return (
    <article class={`entry ${moodClass(entry.mood)}`} aria-labelledby={titleId}>
      <header class="entry-head">
        <h4 class="entry-title" id={titleId}>
          <time dateTime={entry.occurredAt}>{formatTime(entry.occurredAt)}</time>
          <span class="visually-hidden">, {entry.category}</span>
        </h4>
        <MoodBadge mood={entry.mood} />
        <span class="chip">{entry.category}</span>
      </header>
      <p class="entry-text">{entry.text}</p>
      <div class="entry-actions">
        <button type="button" class="button button-small button-quiet" onClick={() => onEdit(entry)}>
          Edit
        </button>
        <button type="button" class="button button-small button-quiet button-danger" onClick={() => onDelete(entry)}>
          Delete
        </button>
      </div>
    </article>
  )
}
