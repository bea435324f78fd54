import { useEffect, useState } from 'preact/hooks'
import { Field, FormError } from '../../components/Field'
import { useSession } from '../../lib/context'
import { fieldErrors, problemMessage, type FieldErrors } from '../../lib/problems'
import { formatDate } from '../../lib/time'
import { DataSection } from './DataSection'

const UNREACHABLE = 'moodlog cannot be reached. Check your connection and try again.'

function ChangePassword() {
  const { api } = useSession()
  const [current, setCurrent] = useState('')
  const [next, setNext] = useState('')
  const [errors, setErrors] = useState<FieldErrors>({})
  const [formError, setFormError] = useState<string>()
  const [status, setStatus] = useState('')

  const onSubmit = async (event: Event) => {
    event.preventDefault()
    const local: FieldErrors = {}
    if (!current) local.currentPassword = 'Enter your current password.'
    if (next.length < 8) local.newPassword = 'Use at least 8 characters.'
    setErrors(local)
    setFormError(undefined)
    setStatus('')
    if (Object.keys(local).length > 0) return
    try {
      const { error, response } = await api.PATCH('/me/password', { body: { currentPassword: current, newPassword: next } })
      if (response.ok) {
        setCurrent('')
        setNext('')
        setStatus('Password changed. Your other sessions were signed out.')
      } else if (response.status === 401 || response.status === 403) setErrors({ currentPassword: 'This is not your current password.' })
      else if (response.status === 429) setFormError('Too many attempts. Wait a few minutes and try again.')
      else {
        const byField = fieldErrors(error)
        if (Object.keys(byField).length > 0) setErrors(byField)
        else setFormError(problemMessage(error))
      }
    } catch {
      setFormError(UNREACHABLE)
    }
  }

  return (
    <section class="card" aria-labelledby="password-title">
      <h2 id="password-title">Change password</h2>
      <form onSubmit={onSubmit} noValidate>
        <FormError message={formError} />
        <input type="text" name="username" autoComplete="username" hidden />
        <Field id="current-password" label="Current password" error={errors.currentPassword}>
          {(describedBy, invalid) => (
            <input
              id="current-password"
              type="password"
              autoComplete="current-password"
              value={current}
              onInput={(e) => setCurrent(e.currentTarget.value)}
              aria-describedby={describedBy}
              aria-invalid={invalid || undefined}
            />
          )}
        </Field>
        <Field id="new-password" label="New password" error={errors.newPassword} hint="At least 8 characters.">
          {(describedBy, invalid) => (
            <input
              id="new-password"
              type="password"
              autoComplete="new-password"
              value={next}
              onInput={(e) => setNext(e.currentTarget.value)}
              aria-describedby={describedBy}
              aria-invalid={invalid || undefined}
            />
          )}
        </Field>
        <div class="form-actions">
          <button type="submit" class="button button-primary">
            Change password
          </button>
          <p class="status" role="status">
            {status}
          </p>
        </div>
      </form>
    </section>
  )
}

function Sessions() {
  const session = useSession()
  const [error, setError] = useState<string>()
  const signOutEverywhere = async () => {
    setError(undefined)
    try {
      const { error: problem, response } = await session.api.POST('/logout/all')
      if (!response.ok) return setError(problemMessage(problem))
      await session.signOut()
    } catch {
      setError(UNREACHABLE)
    }
  }
  return (
    <section class="card" aria-labelledby="sessions-title">
      <h2 id="sessions-title">Sessions</h2>
      <p>Signed in on a shared or lost device? End every session, here and everywhere else.</p>
      <FormError message={error} />
      <button type="button" class="button" onClick={() => void signOutEverywhere()}>
        Sign out everywhere
      </button>
    </section>
  )
}

function DeleteAccount() {
  const session = useSession()
  const [password, setPassword] = useState('')
  const [error, setError] = useState<string>()
  const [formError, setFormError] = useState<string>()

  const onSubmit = async (event: Event) => {
    event.preventDefault()
    setError(undefined)
    setFormError(undefined)
    if (!password) return setError('Enter your password to confirm.')
    try {
      const { error: problem, response } = await session.api.DELETE('/me', { body: { password } })
      if (response.ok) return await session.signOut()
      if (response.status === 401 || response.status === 403) setError('This is not your password.')
      else setFormError(problemMessage(problem))
    } catch {
      setFormError(UNREACHABLE)
    }
  }

  return (
    <section class="card danger-zone" aria-labelledby="delete-title">
      <h2 id="delete-title">Delete account</h2>
      <p>This deletes your account and every entry in it, at once and for good.</p>
      <form onSubmit={onSubmit} noValidate>
        <FormError message={formError} />
        <Field id="delete-password" label="Password" error={error} hint="Your password, to confirm it is you.">
          {(describedBy, invalid) => (
            <input
              id="delete-password"
              type="password"
              autoComplete="current-password"
              value={password}
              onInput={(e) => setPassword(e.currentTarget.value)}
              aria-describedby={describedBy}
              aria-invalid={invalid || undefined}
            />
          )}
        </Field>
        <div class="form-actions">
          <button type="submit" class="button button-danger-solid">
            Delete account
          </button>
        </div>
      </form>
    </section>
  )
}

export function SettingsScreen() {
  const { api } = useSession()
  const [me, setMe] = useState<{ email: string; createdAt: string } | null>(null)
  useEffect(() => {
    api
      .GET('/me')
      .then(({ data }) => data && setMe(data))
      .catch(() => undefined)
  }, [api])

  return (
    <div class="settings">
      <div class="page-head">
        <h1>Settings</h1>
        <p class="muted">{me ? `Signed in as ${me.email}, keeping a journal since ${formatDate(me.createdAt)}.` : '\u00a0'}</p>
      </div>
      <ChangePassword />
      <Sessions />
      <DataSection />
      <DeleteAccount />
    </div>
  )
}
