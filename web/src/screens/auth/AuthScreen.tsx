import { useEffect, useRef, useState } from 'preact/hooks'
import { Field, FormError } from '../../components/Field'
import { Logo } from '../../components/Logo'
import { useSession } from '../../lib/context'
import { fieldErrors, problemMessage, type FieldErrors } from '../../lib/problems'
import { Link } from '../../lib/router'

type Mode = 'signin' | 'signup'

const timeOfDay = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' })

function throttledMessage(seconds: number): string {
  const at = timeOfDay.format(new Date(Date.now() + seconds * 1000))
  const wait = seconds < 90 ? `${seconds} second${seconds === 1 ? '' : 's'}` : `${Math.ceil(seconds / 60)} minutes`
  return `Too many sign-in attempts. Try again in ${wait} (at ${at}).`
}

export function AuthScreen({ mode, sessionEnded }: { mode: Mode; sessionEnded: boolean }) {
  const session = useSession()
  const [email, setEmail] = useState('')
  const [password, setPassword] = useState('')
  const [errors, setErrors] = useState<FieldErrors>({})
  const [formError, setFormError] = useState<string>()
  const [busy, setBusy] = useState(false)
  const heading = useRef<HTMLHeadingElement>(null)
  const signup = mode === 'signup'

  useEffect(() => {
    setErrors({})
    setFormError(undefined)
    heading.current?.focus()
  }, [mode])

  const onSubmit = async (event: Event) => {
    event.preventDefault()
    if (busy) return
    const local: FieldErrors = {}
    if (!email.trim()) local.email = 'Enter your email address.'
    if (!password) local.password = 'Enter your password.'
    else if (signup && password.length < 8) local.password = 'Use at least 8 characters.'
    setErrors(local)
    setFormError(undefined)
    if (Object.keys(local).length > 0) return
    setBusy(true)
    try {
      const result = signup ? await session.signUp(email.trim(), password) : await session.signIn(email.trim(), password)
      if (result.ok) return
      const byField = fieldErrors(result.problem)
      const status = result.problem?.status
      if (result.retryAfterSeconds !== undefined && status === 429) {
        setFormError(throttledMessage(result.retryAfterSeconds))
      } else if (status === 409) {
        setErrors({ email: 'An account with this email already exists. Sign in instead?' })
      } else if (byField.email || byField.password) {
        setErrors({ ...(byField.email ? { email: byField.email } : {}), ...(byField.password ? { password: byField.password } : {}) })
      } else if (status === 401) {
        setFormError('That email and password do not match an account.')
      } else {
        setFormError(problemMessage(result.problem))
      }
    } catch {
      setFormError('moodlog cannot be reached. Check your connection and try again.')
    } finally {
      setBusy(false)
    }
  }

  return (
    <main id="main" class="auth">
      <div class="auth-card">
        <div class="auth-brand">
          <Logo />
          <span>moodlog</span>
        </div>
        <h1 ref={heading} tabIndex={-1}>
          {signup ? 'Create your journal' : 'Welcome back'}
        </h1>
        <p class="auth-lede">
          {signup
            ? 'A private place for a line or two each day, and a look at how your days have felt.'
            : 'Sign in to write today’s entry.'}
        </p>
        {sessionEnded && !signup && <p class="notice">Your session has ended. Please sign in again.</p>}
        <form onSubmit={onSubmit} noValidate aria-describedby={formError ? 'auth-error' : undefined}>
          <FormError message={formError} id="auth-error" />
          <Field id="auth-email" label="Email" error={errors.email}>
            {(describedBy, invalid) => (
              <input
                id="auth-email"
                type="email"
                name="email"
                autoComplete={signup ? 'email' : 'username'}
                value={email}
                onInput={(event) => setEmail(event.currentTarget.value)}
                aria-describedby={describedBy}
                aria-invalid={invalid || undefined}
                required
              />
            )}
          </Field>
          <Field
            id="auth-password"
            label="Password"
            error={errors.password}
            hint={signup ? 'At least 8 characters. A long phrase is easier to remember than symbols.' : undefined}
          >
            {(describedBy, invalid) => (
              <input
                id="auth-password"
                type="password"
                name="password"
                autoComplete={signup ? 'new-password' : 'current-password'}
                value={password}
                onInput={(event) => setPassword(event.currentTarget.value)}
                aria-describedby={describedBy}
                aria-invalid={invalid || undefined}
                required
              />
            )}
          </Field>
          <button type="submit" class="button button-primary button-wide" aria-busy={busy || undefined}>
            {signup ? 'Create account' : 'Sign in'}
          </button>
        </form>
        <p class="auth-switch">
          {signup ? (
            <>
              Already have an account? <Link href="/signin">Sign in instead</Link>
            </>
          ) : (
            <>
              New here? <Link href="/signup">Create an account</Link>
            </>
          )}
        </p>
      </div>
    </main>
  )
}
