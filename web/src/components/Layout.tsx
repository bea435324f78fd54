import type { ComponentChildren } from 'preact'
import { useEffect, useRef } from 'preact/hooks'
import { useSession } from '../lib/context'
import { Link, type Route } from '../lib/router'
import { Logo } from './Logo'

const NAV: Array<{ href: Route; label: string }> = [
  { href: '/', label: 'Journal' },
  { href: '/insights', label: 'Insights' },
  { href: '/settings', label: 'Settings' },
]

export function Layout({ route, children }: { route: Route; children: ComponentChildren }) {
  const session = useSession()
  const main = useRef<HTMLElement>(null)
  const first = useRef(true)

  // After navigating, move focus to the new screen so keyboard and screen reader users land on it.
  useEffect(() => {
    if (first.current) {
      first.current = false
      return
    }
    main.current?.focus()
  }, [route])

  return (
    <div class="shell">
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <div class="topbar-inner">
          <Link href="/" class="brand">
            <Logo />
            <span>moodlog</span>
          </Link>
          <nav aria-label="Main">
            <ul class="nav-list">
              {NAV.map((item) => (
                <li key={item.href}>
                  <Link href={item.href} class="nav-link" current={route === item.href}>
                    {item.label}
                  </Link>
                </li>
              ))}
            </ul>
          </nav>
          <button type="button" class="button button-quiet signout" onClick={() => void session.signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" ref={main} tabIndex={-1} class="main">
        {children}
      </main>
    </div>
  )
}
