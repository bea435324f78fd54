import { useEffect, useState } from 'preact/hooks'
import { Dialog } from '../../components/Dialog'
import { FormError } from '../../components/Field'
import { MoodBadge } from '../../components/MoodBadge'
import type { Entry } from '../../lib/api'
import { useSession } from '../../lib/context'
import { problemMessage } from '../../lib/problems'
import { formatDate, formatTime } from '../../lib/time'
import { fetchEntry } from './entryApi'

interface DeleteDialogProps {
  entry: Entry
  onClose: () => void
  onDeleted: (id: number) => void
  onChanged: (entry: Entry) => void
}

/** Asks first, then deletes the version the user saw (`If-Match`); a newer version elsewhere is shown before anything is lost. */
export function DeleteDialog({ entry, onClose, onDeleted, onChanged }: DeleteDialogProps) {
  const { api } = useSession()
  const [shown, setShown] = useState<{ entry: Entry; etag: string } | null>(null)
  const [changed, setChanged] = useState(false)
  const [error, setError] = useState<string>()
  const [busy, setBusy] = useState(false)

  const load = async (): Promise<{ entry: Entry; etag: string } | null> => {
    const fetched = await fetchEntry(api, entry.id)
    if (fetched.kind === 'found') return fetched
    if (fetched.kind === 'gone') {
      onDeleted(entry.id)
      onClose()
    } else setError(problemMessage(fetched.problem, 'This entry cannot be loaded right now.'))
    return null
  }

  useEffect(() => {
    void load().then((found) => {
      if (!found) return
      setShown(found)
      if (found.entry.version !== entry.version) {
        setChanged(true)
        onChanged(found.entry)
      }
    })
  }, [entry.id])

  const confirm = async () => {
    if (!shown || busy) return
    setBusy(true)
    setError(undefined)
    try {
      const { error: problem, response } = await api.DELETE('/entries/{id}', {
        params: { path: { id: String(entry.id) }, header: { 'if-match': shown.etag } },
      })
      if (response.ok || response.status === 404) {
        onDeleted(entry.id)
        onClose()
      } else if (response.status === 412) {
        const found = await load()
        if (found) {
          setShown(found)
          setChanged(true)
          onChanged(found.entry)
        }
      } else setError(problemMessage(problem))
    } catch {
      setError('moodlog cannot be reached, so nothing was deleted. Try again in a moment.')
    } finally {
      setBusy(false)
    }
  }

  const current = shown?.entry ?? entry
  return (
    <Dialog id="delete-entry" title="Delete this entry?" onClose={onClose}>
      <FormError message={error} />
      {changed && (
        <p class="notice" role="alert">
          Changed elsewhere: this is the current version, not the one you saw. Delete it anyway?
        </p>
      )}
      <figure class="conflict-current" aria-label="Entry to delete">
        <div class="entry-head">
          <MoodBadge mood={current.mood} />
          <span class="chip">{current.category}</span>
          <span class="muted">
            {formatDate(current.occurredAt)} {formatTime(current.occurredAt)}
          </span>
        </div>
        <blockquote class="entry-text">{current.text}</blockquote>
      </figure>
      <p>It cannot be brought back.</p>
      <div class="form-actions">
        <button
          type="button"
          class="button button-danger-solid"
          onClick={() => void confirm()}
          aria-busy={busy || undefined}
          disabled={!shown}
        >
          Delete entry
        </button>
        <button type="button" class="button button-quiet" onClick={onClose}>
          Keep it
        </button>
      </div>
    </Dialog>
  )
}
