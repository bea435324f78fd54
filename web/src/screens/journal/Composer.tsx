import { useState } from 'preact/hooks'
import { FormError } from '../../components/Field'
import type { Entry } from '../../lib/api'
import { useSession } from '../../lib/context'
import { randomKey } from '../../lib/ids'
import { fieldErrors, problemMessage, type FieldErrors } from '../../lib/problems'
import { fromDateTimeLocal, toDateTimeLocal } from '../../lib/time'
import { checkDraft, EntryFields, type Draft } from './EntryFields'

const freshDraft = (category = ''): Draft => ({ text: '', mood: null, category, when: toDateTimeLocal(new Date()) })

export function Composer({ categoriesListId, onSaved }: { categoriesListId: string; onSaved: (entry: Entry) => void }) {
  const { api } = useSession()
  const [draft, setDraft] = useState<Draft>(freshDraft)
  const [errors, setErrors] = useState<FieldErrors>({})
  const [formError, setFormError] = useState<string>()
  const [status, setStatus] = useState('')
  const [busy, setBusy] = useState(false)
  // One key per draft: a retry of the same save cannot create the entry twice.
  const [key, setKey] = useState(randomKey)

  const onSubmit = async (event: Event) => {
    event.preventDefault()
    if (busy) return
    const local = checkDraft(draft)
    setErrors(local)
    setFormError(undefined)
    setStatus('')
    if (Object.keys(local).length > 0) return
    setBusy(true)
    try {
      const { data, error } = await api.POST('/entries', {
        body: { text: draft.text, mood: draft.mood!, category: draft.category.trim(), occurredAt: fromDateTimeLocal(draft.when)! },
        headers: { 'Idempotency-Key': key },
      })
      if (data) {
        setDraft(freshDraft())
        setKey(randomKey())
        setStatus('Entry saved.')
        onSaved(data)
        return
      }
      const byField = fieldErrors(error)
      if (Object.keys(byField).length > 0) setErrors(byField)
      else setFormError(problemMessage(error))
    } catch {
      setFormError('moodlog cannot be reached, so the entry is not saved yet. Try again in a moment.')
    } finally {
      setBusy(false)
    }
  }

  return (
    <section class="card composer" aria-labelledby="composer-title">
      <h2 id="composer-title">How are you feeling?</h2>
      <form onSubmit={onSubmit} noValidate>
        <FormError message={formError} />
        <EntryFields idPrefix="compose" draft={draft} onChange={setDraft} errors={errors} categoriesListId={categoriesListId} />
        <div class="form-actions">
          <button type="submit" class="button button-primary" aria-busy={busy || undefined}>
            Save entry
          </button>
          <p class="status" role="status">
            {status}
          </p>
        </div>
      </form>
    </section>
  )
}
