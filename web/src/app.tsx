import { useEffect, useState } from 'preact/hooks'
import type { Session, SessionState } from './lib/api'
import { SessionContext } from './lib/context'
import { navigate, useRoute, type Route } from './lib/router'
import { Layout } from './components/Layout'
import { AuthScreen } from './screens/auth/AuthScreen'
import { JournalScreen } from './screens/journal/JournalScreen'
import { InsightsScreen } from './screens/insights/InsightsScreen'
import { SettingsScreen } from './screens/settings/SettingsScreen'

const TITLES: Record<Route, string> = {
  '/': 'Journal',
  '/insights': 'Insights',
  '/settings': 'Settings',
  '/signin': 'Sign in',
  '/signup': 'Create account',
}

export function App({ session }: { session: Session }) {
  const route = useRoute()
  const [state, setState] = useState<SessionState>(session.state)
  // Where to go after signing in: the screen that was asked for.
  const [wanted, setWanted] = useState<Route>(route === '/signin' || route === '/signup' ? '/' : route)

  useEffect(() => {
    const unsubscribe = session.subscribe(setState)
    void session.restore()
    return unsubscribe
  }, [session])

  const isAuthRoute = route === '/signin' || route === '/signup'
  useEffect(() => {
    if (state === 'signed-out' && !isAuthRoute) {
      setWanted(route)
      navigate('/signin', { replace: true })
    } else if (state === 'signed-in' && isAuthRoute) {
      navigate(wanted, { replace: true })
    }
  }, [state, route])

  useEffect(() => {
    document.title = `${TITLES[route]} · moodlog`
  }, [route])

  if (state === 'restoring' || (state === 'signed-in' && isAuthRoute) || (state === 'signed-out' && !isAuthRoute)) {
    return (
      <main class="splash" aria-busy="true">
        <p>Opening your journal…</p>
      </main>
    )
  }

  return (
    <SessionContext.Provider value={session}>
      {state === 'signed-out' ? (
        <AuthScreen mode={route === '/signup' ? 'signup' : 'signin'} sessionEnded={session.ended} />
      ) : (
        <Layout route={route}>
          {route === '/insights' ? <InsightsScreen /> : route === '/settings' ? <SettingsScreen /> : <JournalScreen />}
        </Layout>
      )}
    </SessionContext.Provider>
  )
}
