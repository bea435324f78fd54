import { Field } from '../../components/Field'
import { MoodPicker } from '../../components/MoodPicker'
import type { FieldErrors } from '../../lib/problems'

export interface Draft {
  text: string
  mood: number | null
  category: string
  /** `<input type="datetime-local">` value, local time. */
  when: string
}

interface EntryFieldsProps {
  /** Prefix for element ids, so that two forms can be on one page. */
  idPrefix: string
  draft: Draft
  onChange: (draft: Draft) => void
  errors: FieldErrors
  categoriesListId: string
}

/** The fields of an entry, shared by the composer and the editor; errors sit next to their field. */
export function EntryFields({ idPrefix, draft, onChange, errors, categoriesListId }: EntryFieldsProps) {
  const set = (patch: Partial<Draft>) => onChange({ ...draft, ...patch })
  return (
    <>
      <MoodPicker name={`${idPrefix}-mood`} value={draft.mood} onChange={(mood) => set({ mood })} error={errors.mood} />
      <Field id={`${idPrefix}-text`} label="Entry" error={errors.text}>
        {(describedBy, invalid) => (
          <textarea
            id={`${idPrefix}-text`}
            name="text"
            rows={4}
            maxLength={10000}
            placeholder="What happened? What is on your mind?"
            value={draft.text}
            onInput={(event) => set({ text: event.currentTarget.value })}
            aria-describedby={describedBy}
            aria-invalid={invalid || undefined}
          />
        )}
      </Field>
      <div class="field-row">
        <Field id={`${idPrefix}-category`} label="Category" error={errors.category}>
          {(describedBy, invalid) => (
            <input
              id={`${idPrefix}-category`}
              name="category"
              list={categoriesListId}
              maxLength={50}
              autoComplete="off"
              placeholder="e.g. work, family"
              value={draft.category}
              onInput={(event) => set({ category: event.currentTarget.value })}
              aria-describedby={describedBy}
              aria-invalid={invalid || undefined}
            />
          )}
        </Field>
        <Field id={`${idPrefix}-when`} label="Date and time" error={errors.occurredAt}>
          {(describedBy, invalid) => (
            <input
              id={`${idPrefix}-when`}
              name="when"
              type="datetime-local"
              value={draft.when}
              onInput={(event) => set({ when: event.currentTarget.value })}
              aria-describedby={describedBy}
              aria-invalid={invalid || undefined}
            />
          )}
        </Field>
      </div>
    </>
  )
}

/** Checks in the browser what would otherwise come back as a 400, with the same words on every form. */
export function checkDraft(draft: Draft): FieldErrors {
  const errors: FieldErrors = {}
  if (draft.mood === null) errors.mood = 'Choose how you feel, from 1 to 10.'
  if (!draft.text.trim()) errors.text = 'Write a few words about it.'
  if (!draft.category.trim()) errors.category = 'Give it a category, such as “work” or “family”.'
  else if (draft.category.trim().length > 50) errors.category = 'Keep the category to 50 characters.'
  if (!draft.when || Number.isNaN(new Date(draft.when).getTime())) errors.occurredAt = 'Enter a date and time.'
  return errors
}
