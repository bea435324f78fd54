import type { ComponentChildren } from 'preact'
import { useEffect, useState } from 'preact/hooks'

/** The UI's routes; the server falls back to index.html for exactly these. */
export type Route = '/' | '/insights' | '/settings' | '/signin' | '/signup'
const ROUTES: readonly Route[] = ['/', '/insights', '/settings', '/signin', '/signup']

const listeners = new Set<() => void>()

export function currentRoute(): Route {
  const path = window.location.pathname.replace(/\/+$/, '') || '/'
  return (ROUTES as readonly string[]).includes(path) ? (path as Route) : '/'
}

export function navigate(to: Route, { replace = false } = {}): void {
  if (window.location.pathname !== to) {
    if (replace) window.history.replaceState(null, '', to)
    else window.history.pushState(null, '', to)
  }
  for (const listener of listeners) listener()
}

export function useRoute(): Route {
  const [route, setRoute] = useState(currentRoute)
  useEffect(() => {
    const update = () => setRoute(currentRoute())
    listeners.add(update)
    window.addEventListener('popstate', update)
    return () => {
      listeners.delete(update)
      window.removeEventListener('popstate', update)
    }
  }, [])
  return route
}

interface LinkProps {
  href: Route
  children: ComponentChildren
  class?: string
  current?: boolean
}

/** A real link (works with middle-click and without scripts' help) that navigates in place. */
export function Link({ href, children, current, ...rest }: LinkProps) {
  const onClick = (event: MouseEvent) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return
    event.preventDefault()
    navigate(href)
  }
  return (
    <a href={href} onClick={onClick} aria-current={current ? 'page' : undefined} {...rest}>
      {children}
    </a>
  )
}
