import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import type { Database } from '../src/db/index.js'
import { openApiPath } from '../src/http/openapi-contract.js'
import { openApiDocument } from './api-client.js'

interface Recorded {
  method: string
  route: string
  status: number
}

async function documentedStatuses(db?: Database): Promise<Map<string, Set<string>>> {
  const doc = (await openApiDocument(db)) as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> }
  const statuses = new Map<string, Set<string>>()
  for (const [route, item] of Object.entries(doc.paths))
    for (const [method, operation] of Object.entries(item))
      statuses.set(`${method.toUpperCase()} ${route}`, new Set(Object.keys(operation.responses)))
  return statuses
}

/**
 * Every status the suite saw a documented operation send must be listed for that operation.
 * Returns the offenders as `METHOD /path STATUS` lines. `db`: see `openApiDocument`.
 */
export async function undocumentedStatuses(dir: string, db?: Database): Promise<string[]> {
  const recorded = new Set<string>()
  for (const file of await readdir(dir)) {
    for (const line of (await readFile(path.join(dir, file), 'utf8')).split('\n')) if (line) recorded.add(line)
  }
  const documented = await documentedStatuses(db)
  const offenders: string[] = []
  for (const line of recorded) {
    const { method, route, status } = JSON.parse(line) as Recorded
    const operation = `${method} ${openApiPath(route)}`
    const listed = documented.get(operation)
    if (listed && !listed.has(String(status))) offenders.push(`${operation} ${status}`)
  }
  return offenders.sort()
}
