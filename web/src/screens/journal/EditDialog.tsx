import { useEffect, useState } from 'preact/hooks'
import { Dialog } from '../../components/Dialog'
import { FormError } from '../../components/Field'
import { MoodBadge } from '../../components/MoodBadge'
import type { Entry } from '../../lib/api'
import { useSession } from '../../lib/context'
import { fieldErrors, problemMessage, type FieldErrors } from '../../lib/problems'
import { formatDate, formatTime, fromDateTimeLocal, toDateTimeLocal } from '../../lib/time'
import { checkDraft, EntryFields, type Draft } from './EntryFields'
import { fetchEntry } from './entryApi'

const draftOf = (entry: Entry): Draft => ({
  text: entry.text,
  mood: entry.mood,
  category: entry.category,
  when: toDateTimeLocal(new Date(entry.occurredAt)),
})

type Phase =
  | { kind: 'loading' }
  | { kind: 'editing'; base: Entry; etag: string }
  | { kind: 'conflict'; base: Entry; current: Entry; etag: string }
  | { kind: 'gone' }
  | { kind: 'failed'; message: string }

interface EditDialogProps {
  entry: Entry
  categoriesListId: string
  onClose: () => void
  /** A newer version of the entry: the one just saved, or the one found saved elsewhere. */
  onSaved: (entry: Entry) => void
  onGone: (id: number) => void
}

/** Edits one entry with `If-Match`; when it changed elsewhere meanwhile, shows the current version and lets the user choose. */
export function EditDialog({ entry, categoriesListId, onClose, onSaved, onGone }: EditDialogProps) {
  const { api } = useSession()
  const [phase, setPhase] = useState<Phase>({ kind: 'loading' })
  const [draft, setDraft] = useState<Draft>(() => draftOf(entry))
  const [errors, setErrors] = useState<FieldErrors>({})
  const [formError, setFormError] = useState<string>()
  const [busy, setBusy] = useState(false)

  const load = async (then: (found: { entry: Entry; etag: string }) => void) => {
    const fetched = await fetchEntry(api, entry.id)
    if (fetched.kind === 'found') then(fetched)
    else if (fetched.kind === 'gone') {
      setPhase({ kind: 'gone' })
      onGone(entry.id)
    } else setPhase({ kind: 'failed', message: problemMessage(fetched.problem, 'This entry cannot be loaded right now.') })
  }

  useEffect(() => {
    void load(({ entry: current, etag }) => {
      setDraft(draftOf(current))
      setPhase({ kind: 'editing', base: current, etag })
    })
  }, [entry.id])

  /** Only what changed, unless overwriting: then the whole draft replaces the other version. */
  const changes = (base: Entry, all: boolean) => {
    const body: { text?: string; mood?: number; category?: string; occurredAt?: string } = {}
    if (all || draft.text !== base.text) body.text = draft.text
    if (all || draft.mood !== base.mood) body.mood = draft.mood!
    if (all || draft.category.trim() !== base.category) body.category = draft.category.trim()
    if (all || draft.when !== toDateTimeLocal(new Date(base.occurredAt))) body.occurredAt = fromDateTimeLocal(draft.when)!
    return body
  }

  const save = async (base: Entry, etag: string, overwrite: boolean) => {
    if (busy) return
    const local = checkDraft(draft)
    setErrors(local)
    setFormError(undefined)
    if (Object.keys(local).length > 0) return
    const body = changes(base, overwrite)
    if (Object.keys(body).length === 0) return onClose()
    setBusy(true)
    try {
      const { data, error, response } = await api.PATCH('/entries/{id}', {
        params: { path: { id: String(entry.id) }, header: { 'if-match': etag } },
        body,
      })
      if (data) {
        onSaved(data)
        onClose()
      } else if (response.status === 412) {
        await load(({ entry: current, etag: currentTag }) => {
          setPhase({ kind: 'conflict', base, current, etag: currentTag })
          onSaved(current)
        })
      } else if (response.status === 404) {
        setPhase({ kind: 'gone' })
        onGone(entry.id)
      } else {
        const byField = fieldErrors(error)
        if (Object.keys(byField).length > 0) setErrors(byField)
        else setFormError(problemMessage(error))
      }
    } catch {
      setFormError('moodlog cannot be reached, so your changes are not saved yet. Try again in a moment.')
    } finally {
      setBusy(false)
    }
  }

  return (
    <Dialog id="edit-entry" title="Edit entry" onClose={onClose}>
      {phase.kind === 'loading' && <p class="muted">Loading the latest version…</p>}
      {phase.kind === 'failed' && <FormError message={phase.message} />}
      {phase.kind === 'gone' && (
        <div class="notice notice-error" role="alert">
          <p>This entry was deleted elsewhere, so there is nothing left to edit.</p>
          <button type="button" class="button" onClick={onClose}>
            Close
          </button>
        </div>
      )}
      {phase.kind === 'conflict' && (
        <div class="conflict" role="alert" aria-labelledby="conflict-title">
          <h3 id="conflict-title">Changed elsewhere</h3>
          <p>
            While you were editing, this entry was changed on another device or in another tab. This is the current version, saved{' '}
            {formatDate(phase.current.updatedAt)} at {formatTime(phase.current.updatedAt)}:
          </p>
          <figure class="conflict-current" aria-label="Current version">
            <div class="entry-head">
              <MoodBadge mood={phase.current.mood} />
              <span class="chip">{phase.current.category}</span>
              <span class="muted">
                {formatDate(phase.current.occurredAt)} {formatTime(phase.current.occurredAt)}
              </span>
            </div>
            <blockquote class="entry-text">{phase.current.text}</blockquote>
          </figure>
          <p>Reload to continue from the current version, or overwrite it with what you wrote.</p>
          <div class="form-actions">
            <button
              type="button"
              class="button"
              onClick={() => {
                setDraft(draftOf(phase.current))
                setPhase({ kind: 'editing', base: phase.current, etag: phase.etag })
              }}
            >
              Reload
            </button>
            <button type="button" class="button button-danger" onClick={() => void save(phase.current, phase.etag, true)}>
              Overwrite
            </button>
          </div>
        </div>
      )}
      {(phase.kind === 'editing' || phase.kind === 'conflict') && (
        <form
          class="edit-form"
          onSubmit={(event) => {
            event.preventDefault()
            if (phase.kind === 'editing') void save(phase.base, phase.etag, false)
          }}
          noValidate
          aria-label="Your version"
        >
          <FormError message={formError} />
          <EntryFields idPrefix="edit" draft={draft} onChange={setDraft} errors={errors} categoriesListId={categoriesListId} />
          {phase.kind === 'editing' && (
            <div class="form-actions">
              <button type="submit" class="button button-primary" aria-busy={busy || undefined}>
                Save changes
              </button>
              <button type="button" class="button button-quiet" onClick={onClose}>
                Cancel
              </button>
            </div>
          )}
        </form>
      )}
    </Dialog>
  )
}
