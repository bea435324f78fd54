/** Words for the ten moods: a mood is never told by its colour alone. */
export const MOOD_WORDS = ['Awful', 'Rough', 'Bad', 'Low', 'Meh', 'Okay', 'Good', 'Happy', 'Great', 'Elated'] as const

export const MOODS = MOOD_WORDS.map((word, index) => ({ value: index + 1, word }))

export function moodWord(mood: number): string {
  return MOOD_WORDS[Math.min(10, Math.max(1, Math.round(mood))) - 1]!
}

/** CSS class carrying the mood's colour (`--mood-N` in styles.css); averages round to the nearest mood. */
export function moodClass(mood: number): string {
  return `mood-${Math.min(10, Math.max(1, Math.round(mood)))}`
}

export function moodLabel(mood: number): string {
  return `${mood} ${moodWord(mood)}`
}

/** An average as people read it: one decimal, then the word of the nearest mood. */
export function averageLabel(average: number): string {
  return `${average.toFixed(1)} ${moodWord(average)}`
}
