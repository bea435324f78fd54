import { createContext } from 'preact'
import { useContext } from 'preact/hooks'
import type { Session } from './api'

export const SessionContext = createContext<Session | null>(null)

export function useSession(): Session {
  const session = useContext(SessionContext)
  if (!session) throw new Error('useSession outside <SessionContext.Provider>')
  return session
}
