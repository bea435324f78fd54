/** Export and import of the journal live here. */
export function DataSection() {
  return (
    <section class="card" aria-labelledby="data-title">
      <h2 id="data-title">Your data</h2>
      <p>Your journal belongs to you. Downloading it and bringing entries in from other apps will be offered here.</p>
      <p class="muted">
        Until then, everything is reachable through the API, documented at <a href="/docs">/docs</a>.
      </p>
    </section>
  )
}
