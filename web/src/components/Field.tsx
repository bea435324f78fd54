import type { ComponentChildren } from 'preact'

interface FieldProps {
  id: string
  label: string
  error?: string | undefined
  hint?: string | undefined
  class?: string
  /** Renders the control; gets the ids it must reference. */
  children: (describedBy: string | undefined, invalid: boolean) => ComponentChildren
}

/** A label, a control, an optional hint and the error that belongs to this field, next to it. */
export function Field({ id, label, error, hint, children, ...rest }: FieldProps) {
  const hintId = hint ? `${id}-hint` : undefined
  const errorId = error ? `${id}-error` : undefined
  const describedBy = [errorId, hintId].filter(Boolean).join(' ') || undefined
  return (
    <div class={`field${error ? ' field-invalid' : ''}${rest.class ? ` ${rest.class}` : ''}`}>
      <label for={id}>{label}</label>
      {children(describedBy, Boolean(error))}
      {hint && (
        <p class="field-hint" id={hintId}>
          {hint}
        </p>
      )}
      {error && (
        <p class="field-error" id={errorId}>
          {error}
        </p>
      )}
    </div>
  )
}

export function FormError({ message, id }: { message: string | undefined; id?: string }) {
  return message ? (
    <p class="form-error" role="alert" id={id}>
      {message}
    </p>
  ) : null
}
