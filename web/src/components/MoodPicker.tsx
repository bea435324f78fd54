import { MOODS, moodClass } from '../lib/mood'

interface MoodPickerProps {
  name: string
  value: number | null
  onChange: (mood: number) => void
  error?: string | undefined
  legend?: string
}

/** Mood 1–10 as a native radio group: each choice shows its number, its word and its colour. */
export function MoodPicker({ name, value, onChange, error, legend = 'Mood' }: MoodPickerProps) {
  const errorId = error ? `${name}-error` : undefined
  return (
    <fieldset role="radiogroup" class={`mood-picker${error ? ' field-invalid' : ''}`} aria-describedby={errorId}>
      <legend>{legend}</legend>
      <div class="mood-options">
        {MOODS.map((mood) => (
          <label class={`mood-option ${moodClass(mood.value)}`} key={mood.value}>
            <input
              type="radio"
              name={name}
              value={mood.value}
              checked={value === mood.value}
              onChange={() => onChange(mood.value)}
              aria-invalid={error ? true : undefined}
            />
            <span class="mood-number">{mood.value}</span>
            <span class="mood-word">{mood.word}</span>
          </label>
        ))}
      </div>
      {error && (
        <p class="field-error" id={errorId}>
          {error}
        </p>
      )}
    </fieldset>
  )
}
