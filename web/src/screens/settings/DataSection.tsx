import { useState } from 'preact/hooks'
import { Field, FormError } from '../../components/Field'
import type { paths } from '../../api/client'
import { useSession } from '../../lib/context'
import { problemMessage } from '../../lib/problems'
import { timeZone } from '../../lib/time'

const UNREACHABLE = 'moodlog cannot be reached. Check your connection and try again.'

type ExportFormat = 'ndjson' | 'csv' | 'markdown'
type ImportFormat = 'moodlog' | 'csv' | 'daylio' | 'jrnl'
type ImportReport = paths['/import']['post']['responses'][200]['content']['application/json']

const EXPORTS: Array<{ value: ExportFormat; label: string }> = [
  { value: 'ndjson', label: 'moodlog NDJSON (every field)' },
  { value: 'csv', label: 'CSV (spreadsheets)' },
  { value: 'markdown', label: 'Markdown (to read)' },
]

function Options({ of }: { of: Array<{ value: string; label: string }> }) {
  return (
    <>
      {of.map((option) => (
        <option key={option.value} value={option.value}>
          {option.label}
        </option>
      ))}
    </>
  )
}

const IMPORTS: Array<{ value: ImportFormat; label: string; type: string }> = [
  { value: 'moodlog', label: 'moodlog export (NDJSON)', type: 'application/x-ndjson' },
  { value: 'csv', label: 'moodlog export (CSV)', type: 'text/csv' },
  { value: 'daylio', label: 'Daylio (CSV export)', type: 'text/csv' },
  { value: 'jrnl', label: 'jrnl (JSON export)', type: 'application/json' },
]

/** The format a file most likely is, from its name and first line; people can still choose another. */
async function guessFormat(file: File): Promise<ImportFormat> {
  if (/\.json$/i.test(file.name)) return 'jrnl'
  if (!/\.csv$/i.test(file.name)) return 'moodlog'
  const head = await file
    .slice(0, 512)
    .text()
    .catch(() => '')
  return /^\uFEFF?"?(full_date|year)"?,"?date"?,"?weekday/.test(head) ? 'daylio' : 'csv'
}

/** `great=9, fine=6` → `{"great":9,"fine":6}`; nothing when empty, an error message when unreadable. */
function moodMapOf(text: string): { value?: string; error?: string } {
  const pairs = text
    .split(',')
    .map((pair) => pair.trim())
    .filter(Boolean)
  if (pairs.length === 0) return {}
  const map: Record<string, number> = {}
  for (const pair of pairs) {
    const match = /^(.+?)\s*=\s*(10|[1-9])$/.exec(pair)
    if (!match) return { error: `“${pair}” is not a mood name and a number from 1 to 10, like great=9.` }
    map[match[1]!] = Number(match[2])
  }
  return { value: JSON.stringify(map) }
}

const plural = (n: number, one: string, many = `${one}s`) => `${n.toLocaleString()} ${n === 1 ? one : many}`

/** Rows listed in the summary; the others are counted. */
const LISTED_ROWS = 10

interface InvalidRow {
  line: number
  problems: Array<{ field: string; message: string }>
}

/**
 * The report lists problems (a row may have several) and counts invalid rows: grouped by line, so
 * rows and problems are never counted as one another. The server lists at most 1,000 problems;
 * when rows are missing from the list, the problem count is a lower bound.
 */
function invalidRowsOf(report: ImportReport): { rows: InvalidRow[]; problems: string } {
  const rows: InvalidRow[] = []
  for (const { line, field, message } of report.invalid) {
    const last = rows.at(-1)
    if (last?.line === line) last.problems.push({ field, message })
    else rows.push({ line, problems: [{ field, message }] })
  }
  const complete = rows.length >= report.invalidCount
  const problems = complete ? plural(report.invalid.length, 'problem') : `${report.invalid.length.toLocaleString()} or more problems`
  return { rows, problems }
}

function ExportData() {
  const { api } = useSession()
  const [format, setFormat] = useState<ExportFormat>('ndjson')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string>()
  const [status, setStatus] = useState('')

  const download = async () => {
    setBusy(true)
    setError(undefined)
    setStatus('Preparing your download…')
    try {
      const {
        data,
        error: problem,
        response,
      } = await api.GET('/export', { params: { query: format === 'markdown' ? { format, tz: timeZone } : { format } }, parseAs: 'blob' })
      if (!response.ok || !data) {
        setStatus('')
        return setError(problemMessage(problem as never))
      }
      const name = /filename=([^;]+)/.exec(response.headers.get('content-disposition') ?? '')?.[1] ?? `moodlog.${format}`
      const link = document.createElement('a')
      link.href = URL.createObjectURL(data as Blob)
      link.download = name
      document.body.append(link)
      link.click()
      link.remove()
      setTimeout(() => URL.revokeObjectURL(link.href), 60_000)
      setStatus(`Downloaded ${name}.`)
    } catch {
      setStatus('')
      setError(UNREACHABLE)
    } finally {
      setBusy(false)
    }
  }

  return (
    <div class="data-part">
      <h3>Download your journal</h3>
      <FormError message={error} />
      <Field id="export-format" label="Download format">
        {() => (
          <select id="export-format" value={format} onChange={(event) => setFormat(event.currentTarget.value as ExportFormat)}>
            <Options of={EXPORTS} />
          </select>
        )}
      </Field>
      <div class="form-actions">
        <button type="button" class="button" onClick={() => void download()} disabled={busy}>
          Download
        </button>
        <p class="status" role="status">
          {status}
        </p>
      </div>
    </div>
  )
}

function ImportData() {
  const { api } = useSession()
  const [file, setFile] = useState<File | null>(null)
  const [format, setFormat] = useState<ImportFormat>('moodlog')
  const [defaultMood, setDefaultMood] = useState(5)
  const [moodNames, setMoodNames] = useState('')
  const [moodNamesError, setMoodNamesError] = useState<string>()
  const [report, setReport] = useState<{ report: ImportReport; written: boolean } | null>(null)
  const [fileError, setFileError] = useState<string>()
  const [error, setError] = useState<string>()
  const [busy, setBusy] = useState(false)
  const [progress, setProgress] = useState('')
  // Any change to what would be imported makes the last check stale.
  const changed = () => {
    setReport(null)
    setFileError(undefined)
    setMoodNamesError(undefined)
  }

  /**
   * Both the check and the import skip invalid rows, so the check's counts are exactly what the
   * import writes; the check lists the rows that will be left out.
   */
  const run = async (dryRun: boolean) => {
    setError(undefined)
    changed()
    if (!file) return setFileError('Choose a file to import.')
    const moodMap = format === 'daylio' ? moodMapOf(moodNames) : {}
    if (moodMap.error) return setMoodNamesError(moodMap.error)
    setBusy(true)
    setProgress(dryRun ? 'Checking the file…' : 'Importing…')
    try {
      const type = IMPORTS.find((option) => option.value === format)!.type
      const {
        data,
        error: problem,
        response,
      } = await api.POST('/import', {
        params: {
          query: {
            format,
            dryRun,
            skipInvalid: true,
            ...(format === 'daylio' ? { tz: timeZone, ...(moodMap.value ? { moodMap: moodMap.value } : {}) } : {}),
            ...(format === 'jrnl' ? { defaultMood } : {}),
          },
        },
        body: file as never,
        bodySerializer: (body: unknown) => body as BodyInit,
        headers: { 'Content-Type': type },
      })
      if (data) return setReport({ report: data, written: !dryRun })
      const detail = problemMessage(problem as never)
      if (response.status === 413) setFileError('This file is too large to import (at most 50 MB).')
      else if (format === 'daylio' && /mood labels/i.test(detail)) setMoodNamesError(`${detail.split('.')[0]}. Give each a number below.`)
      else setFileError(detail)
    } catch {
      setError(`${UNREACHABLE} A very large file may also have been cut off.`)
    } finally {
      setBusy(false)
      setProgress('')
    }
  }

  const counts = report?.report
  const invalid = counts ? invalidRowsOf(counts) : undefined
  return (
    <div class="data-part">
      <h3>Bring entries in</h3>
      <p class="muted">
        From a moodlog export, Daylio or jrnl. Entries your journal already has are skipped, so importing the same file twice adds nothing.
      </p>
      <FormError message={error} />
      <Field id="import-file" label="File" error={fileError}>
        {(describedBy, invalid) => (
          <input
            id="import-file"
            type="file"
            accept=".ndjson,.jsonl,.csv,.json,text/csv,application/json,application/x-ndjson"
            aria-describedby={describedBy}
            aria-invalid={invalid || undefined}
            disabled={busy}
            onChange={(event) => {
              const chosen = event.currentTarget.files?.[0] ?? null
              setFile(chosen)
              changed()
              if (chosen) void guessFormat(chosen).then(setFormat)
            }}
          />
        )}
      </Field>
      <Field id="import-format" label="File format">
        {() => (
          <select
            id="import-format"
            value={format}
            disabled={busy}
            onChange={(event) => {
              setFormat(event.currentTarget.value as ImportFormat)
              changed()
            }}
          >
            <Options of={IMPORTS} />
          </select>
        )}
      </Field>
      {format === 'jrnl' && (
        <Field id="import-mood" label="Mood for every entry" hint="jrnl keeps no mood; this one is given to each imported entry.">
          {(describedBy) => (
            <select
              id="import-mood"
              value={defaultMood}
              aria-describedby={describedBy}
              disabled={busy}
              onChange={(event) => {
                setDefaultMood(Number(event.currentTarget.value))
                changed()
              }}
            >
              {Array.from({ length: 10 }, (_, i) => i + 1).map((mood) => (
                <option key={mood} value={mood}>
                  {mood}
                </option>
              ))}
            </select>
          )}
        </Field>
      )}
      {format === 'daylio' && (
        <Field
          id="import-mood-names"
          label="Your own mood names (optional)"
          error={moodNamesError}
          hint={`rad, good, meh, bad and awful become 10, 8, 5, 3 and 1; renamed moods need a number, like great=9, fine=6. Times are read in your time zone, ${timeZone}.`}
        >
          {(describedBy, invalid) => (
            <input
              id="import-mood-names"
              type="text"
              value={moodNames}
              aria-describedby={describedBy}
              aria-invalid={invalid || undefined}
              disabled={busy}
              onInput={(event) => {
                setMoodNames(event.currentTarget.value)
                changed()
              }}
            />
          )}
        </Field>
      )}
      <div class="form-actions">
        <button type="button" class="button" onClick={() => void run(true)} disabled={busy}>
          Check file
        </button>
        <p class="status">{progress}</p>
      </div>
      <div role="status" class="import-report">
        {(fileError || moodNamesError) && <p class="visually-hidden">{fileError ?? moodNamesError}</p>}
        {counts && (
          <>
            <p>
              {report.written ? 'Imported: ' : 'This file would add '}
              <strong>{plural(counts.created, 'new entry', 'new entries')}</strong>
              {counts.skipped > 0 && `, ${plural(counts.skipped, 'entry', 'entries')} already in your journal`}
              {counts.invalidCount > 0 &&
                `, ${plural(counts.invalidCount, 'invalid row')} (${invalid!.problems})${report.written ? ' left out' : ' that will be left out'}`}
              .
            </p>
            {invalid!.rows.length > 0 && (
              <ul class="import-problems" aria-label="Invalid rows">
                {invalid!.rows.slice(0, LISTED_ROWS).map((row) => (
                  <li key={row.line}>
                    Line {row.line}: {row.problems.map((problem) => `${problem.field} ${problem.message}`).join('; ')}
                  </li>
                ))}
                {counts.invalidCount > Math.min(invalid!.rows.length, LISTED_ROWS) && (
                  <li>…and {plural(counts.invalidCount - Math.min(invalid!.rows.length, LISTED_ROWS), 'more invalid row')}.</li>
                )}
              </ul>
            )}
          </>
        )}
      </div>
      {counts && !report.written && counts.created > 0 && (
        <div class="form-actions">
          <button type="button" class="button button-primary" onClick={() => void run(false)} disabled={busy}>
            {counts.invalidCount > 0
              ? `Import ${plural(counts.created, 'entry', 'entries')}, leave out the rest`
              : `Import ${plural(counts.created, 'entry', 'entries')}`}
          </button>
        </div>
      )}
    </div>
  )
}

/** Export and import of the journal: the way out and the way in. */
export function DataSection() {
  return (
    <section class="card" aria-labelledby="data-title">
      <h2 id="data-title">Your data</h2>
      <p>Your journal belongs to you: take it with you, or bring in what you wrote elsewhere.</p>
      <ExportData />
      <ImportData />
    </section>
  )
}
