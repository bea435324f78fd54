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
  { value: 'ndjson', label: 'moodlog (NDJSON): every field, to import again' },
  { value: 'csv', label: 'CSV: for spreadsheets' },
  { value: 'markdown', label: 'Markdown: to read, one section per day' },
]

const IMPORTS: Array<{ value: ImportFormat; label: string; type: string }> = [
  { value: 'moodlog', label: 'moodlog export (NDJSON)', type: 'application/x-ndjson' },
  { value: 'csv', label: 'moodlog export (CSV)', type: 'text/csv' },
  { value: 'daylio', label: 'Daylio (CSV export)', type: 'text/csv' },
  { value: 'jrnl', label: 'jrnl (JSON export)', type: 'application/json' },
]

/** The format a file most likely is, from its name; people can still choose another. */
function guessFormat(name: string): ImportFormat {
  if (/\.json$/i.test(name)) return 'jrnl'
  if (/\.csv$/i.test(name)) return 'csv'
  return 'moodlog'
}

const plural = (n: number, one: string, many = `${one}s`) => `${n.toLocaleString()} ${n === 1 ? one : many}`

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
      const { data, error: problem, response } = await api.GET('/export', { params: { query: { format, tz: timeZone } }, parseAs: 'blob' })
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
      <Field id="export-format" label="Format">
        {() => (
          <select id="export-format" value={format} onChange={(event) => setFormat(event.currentTarget.value as ExportFormat)}>
            {EXPORTS.map((option) => (
              <option key={option.value} value={option.value}>
                {option.label}
              </option>
            ))}
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
  const [report, setReport] = useState<{ report: ImportReport; dryRun: boolean } | null>(null)
  const [fileError, setFileError] = useState<string>()
  const [error, setError] = useState<string>()
  const [busy, setBusy] = useState(false)

  const run = async (dryRun: boolean, skipInvalid = false) => {
    setError(undefined)
    setFileError(undefined)
    if (!file) return setFileError('Choose a file to import.')
    setBusy(true)
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
            skipInvalid,
            ...(format === 'daylio' ? { tz: timeZone } : {}),
            ...(format === 'jrnl' ? { defaultMood } : {}),
          },
        },
        body: file as never,
        bodySerializer: (body: unknown) => body as BodyInit,
        headers: { 'Content-Type': type },
      })
      if (data) return setReport({ report: data, dryRun })
      // 422: some rows are invalid and nothing was written; the problem carries the report.
      if (response.status === 422 && problem && 'invalid' in (problem as object))
        return setReport({ report: problem as unknown as ImportReport, dryRun })
      setReport(null)
      if (response.status === 413) setFileError('This file is too large to import.')
      else setFileError(problemMessage(problem as never))
    } catch {
      setError(UNREACHABLE)
    } finally {
      setBusy(false)
    }
  }

  const counts = report?.report
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
            onChange={(event) => {
              const chosen = event.currentTarget.files?.[0] ?? null
              setFile(chosen)
              setReport(null)
              setFileError(undefined)
              if (chosen) setFormat(guessFormat(chosen.name))
            }}
          />
        )}
      </Field>
      <Field id="import-format" label="It is">
        {() => (
          <select
            id="import-format"
            value={format}
            onChange={(event) => {
              setFormat(event.currentTarget.value as ImportFormat)
              setReport(null)
            }}
          >
            {IMPORTS.map((option) => (
              <option key={option.value} value={option.value}>
                {option.label}
              </option>
            ))}
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
              onChange={(event) => setDefaultMood(Number(event.currentTarget.value))}
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
      {format === 'daylio' && <p class="field-hint">Daylio’s times are read in your time zone, {timeZone}.</p>}
      <div class="form-actions">
        <button type="button" class="button" onClick={() => void run(true)} disabled={busy}>
          Check file
        </button>
      </div>
      <div role="status" class="import-report">
        {counts && (
          <>
            <p>
              {report.dryRun ? 'This file would add ' : 'Imported: '}
              <strong>{plural(counts.created, 'new entry', 'new entries')}</strong>
              {counts.skipped > 0 && `, ${plural(counts.skipped, 'entry', 'entries')} already in your journal`}
              {counts.invalidCount > 0 && `, ${plural(counts.invalidCount, 'row')} with problems`}.
            </p>
            {counts.invalid.length > 0 && (
              <ul class="import-problems">
                {counts.invalid.slice(0, 10).map((problem) => (
                  <li key={`${problem.line}-${problem.field}`}>
                    Line {problem.line}, {problem.field}: {problem.message}
                  </li>
                ))}
                {counts.invalidCount > 10 && <li>…and {plural(counts.invalidCount - 10, 'more row')}.</li>}
              </ul>
            )}
          </>
        )}
      </div>
      {counts && report.dryRun && counts.created > 0 && (
        <div class="form-actions">
          <button type="button" class="button button-primary" onClick={() => void run(false, counts.invalidCount > 0)} disabled={busy}>
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
