import { moodClass, moodWord } from '../lib/mood'

export function MoodBadge({ mood }: { mood: number }) {
  return (
    <span class={`mood-badge ${moodClass(mood)}`}>
      <span class="mood-dot" aria-hidden="true" />
      <span>
        {mood} · {moodWord(mood)}
      </span>
    </span>
  )
}
