export function Logo() {
  return (
    <svg class="logo" viewBox="0 0 64 64" aria-hidden="true" focusable="false">
      <rect width="64" height="64" rx="16" class="logo-bg" />
      <circle cx="32" cy="32" r="16" class="logo-sun" />
      <path d="M24 36c2.5 3.5 13.5 3.5 16 0" class="logo-smile" />
    </svg>
  )
}
