import { stat } from 'node:fs/promises'
import path from 'node:path'
import { migrate, migrationStatus } from './migrate.js'
import type { Database, Queryable, TransactionOptions } from './types.js'

/** Postgrator's bookkeeping: written by `migrate` on the target, never copied. */
const VERSION_TABLE = 'schemaversion'
const BATCH_ROWS = 1000

export interface TableCopy {
  table: string
  rows: number
  /** Order-independent digest of every row's stored columns, equal on both sides. */
  checksum: string
}

export interface CopyReport {
  schemaVersion: number
  tables: TableCopy[]
}

/** A copy that cannot or must not be made; `exitCode` is the command's (sysexits: 66 = no input). */
export class CopyRefusedError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message)
  }
}

/**
 * A `--from` DATA_DIR must already hold an embedded database: opening any other path would create
 * an empty one there (a mistyped path would copy "nothing"). Checked before anything is opened.
 */
export async function assertSourceDataDir(dataDir: string): Promise<void> {
  const info = await stat(dataDir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined
    throw error
  })
  if (!info) throw new CopyRefusedError(`--from ${dataDir} does not exist; give the DATA_DIR of the installation to copy`, 66)
  if (!info.isDirectory()) throw new CopyRefusedError(`--from ${dataDir} is not a directory; give a DATA_DIR or a postgres:// URL`, 66)
  const version = await stat(path.join(dataDir, 'pgdata', 'PG_VERSION')).catch(() => undefined)
  if (!version?.isFile()) {
    throw new CopyRefusedError(`--from ${dataDir} is not a moodlog data directory (it has no pgdata/ database); nothing was copied`, 66)
  }
}

interface Table {
  name: string
  /** Columns a row is written with: stored ones, not generated ones. */
  columns: string[]
  primaryKey: string[]
  /** Columns filled from a sequence (serial or identity), which must move past the copied ids. */
  sequenced: string[]
}

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`

/**
 * Every table of the schema, parents before children (by foreign key), so rows can be inserted in
 * order with every constraint checked as usual: no superuser switch, works on any Postgres.
 */
async function tablesOf(db: Queryable): Promise<Table[]> {
  const columns = await db.query<{ table: string; column: string; sequenced: boolean }>(
    `select c.table_name as "table", c.column_name as "column",
            (c.is_identity = 'YES' or pg_get_serial_sequence(quote_ident(c.table_name), c.column_name) is not null) as sequenced
       from information_schema.columns c
       join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name
      where c.table_schema = 'public' and t.table_type = 'BASE TABLE' and c.is_generated = 'NEVER' and c.table_name <> $1
      order by c.table_name, c.ordinal_position`,
    [VERSION_TABLE],
  )
  const keys = await db.query<{ table: string; column: string }>(
    `select tc.table_name as "table", k.column_name as "column"
       from information_schema.table_constraints tc
       join information_schema.key_column_usage k on k.constraint_schema = tc.constraint_schema and k.constraint_name = tc.constraint_name
      where tc.table_schema = 'public' and tc.constraint_type = 'PRIMARY KEY'
      order by tc.table_name, k.ordinal_position`,
  )
  const references = await db.query<{ child: string; parent: string }>(
    `select distinct child.relname as child, parent.relname as parent
       from pg_constraint con
       join pg_class child on child.oid = con.conrelid
       join pg_class parent on parent.oid = con.confrelid
       join pg_namespace n on n.oid = child.relnamespace
      where con.contype = 'f' and n.nspname = 'public' and child.relname <> parent.relname`,
  )
  const byName = new Map<string, Table>()
  for (const { table, column, sequenced } of columns) {
    let entry = byName.get(table)
    if (!entry) byName.set(table, (entry = { name: table, columns: [], primaryKey: [], sequenced: [] }))
    entry.columns.push(column)
    if (sequenced) entry.sequenced.push(column)
  }
  for (const { table, column } of keys) byName.get(table)?.primaryKey.push(column)
  for (const table of byName.values()) {
    if (table.primaryKey.length === 0) throw new CopyRefusedError(`table ${table.name} has no primary key to copy it by`)
  }

  const ordered: Table[] = []
  const placed = new Set<string>()
  const visit = (name: string, path: string[]) => {
    if (placed.has(name)) return
    if (path.includes(name)) throw new CopyRefusedError(`foreign keys form a cycle: ${[...path, name].join(' → ')}`)
    for (const { parent } of references.filter((r) => r.child === name)) visit(parent, [...path, name])
    placed.add(name)
    ordered.push(byName.get(name)!)
  }
  for (const name of [...byName.keys()].sort()) visit(name, [])
  return ordered
}

/** Rows of `table`, in primary-key order, a batch at a time, as JSON text (exact for every type). */
async function* rowsOf(tx: Queryable, table: Table): AsyncGenerator<string> {
  const key = table.primaryKey.map(ident)
  const inPage = key.map((column) => `page.${column}`)
  const list = table.columns.map(ident).join(', ')
  let after: unknown[] | undefined
  for (;;) {
    const where = after ? `where (${key.join(', ')}) > (${after.map((_, i) => `$${i + 1}`).join(', ')})` : ''
    const rows = await tx.query<{ batch: string | null; last: unknown[] | string | null }>(
      `select json_agg(row_to_json(page) order by ${inPage.join(', ')})::text as batch,
              (array_agg(json_build_array(${inPage.join(', ')}) order by ${inPage.map((c) => `${c} desc`).join(', ')}))[1] as last
         from (select ${list} from ${ident(table.name)} ${where} order by ${key.join(', ')} limit ${BATCH_ROWS}) page`,
      after ?? [],
    )
    const { batch, last } = rows[0] ?? { batch: null, last: null }
    if (batch === null || last === null) return
    yield batch
    after = typeof last === 'string' ? (JSON.parse(last) as unknown[]) : last
  }
}

/** Row count and an order-independent digest of the stored columns, rendered the same on any Postgres. */
async function digest(tx: Queryable, table: Table): Promise<TableCopy> {
  const list = table.columns.map(ident).join(', ')
  const rows = await tx.query<{ rows: number; checksum: string }>(
    `select count(*)::int as rows,
            coalesce(sum(('x' || substr(md5(row_to_json(r)::text), 1, 15))::bit(60)::bigint::numeric), 0)::text as checksum
       from (select ${list} from ${ident(table.name)}) r`,
  )
  return { table: table.name, rows: rows[0]!.rows, checksum: rows[0]!.checksum }
}

/** UTC and the same float rendering on both ends, so a row's JSON text (and its digest) is identical. */
const SETTLED: TransactionOptions = { isolation: 'repeatable read', settings: { timezone: 'UTC', extra_float_digits: '1' } }

/**
 * Copies every table from `source` to `target` in one target transaction: all of it lands or
 * none does. The source is read in one repeatable-read snapshot, so a live server copies
 * consistently. The target is migrated to the source's schema first and must hold no rows unless
 * `force` (then its rows are replaced). Afterwards each table's row count and digest are compared.
 */
export async function copyDatabase(
  source: Database,
  target: Database,
  options: { force?: boolean; progress?: (table: string, rows: number) => void } = {},
): Promise<CopyReport> {
  const from = await migrationStatus(source)
  if (from.pending.length > 0) {
    throw new CopyRefusedError(`the source is at schema version ${from.current} of ${from.latest}: run \`moodlog migrate up\` on it first`)
  }
  const to = await migrationStatus(target)
  if (to.current > from.current)
    throw new CopyRefusedError(`the target's schema (${to.current}) is newer than the source's (${from.current})`)
  await migrate(target)

  return source.transaction(
    async (read) => {
      const tables = await tablesOf(read)
      const expected: TableCopy[] = []
      for (const table of tables) expected.push(await digest(read, table))

      const copied = await target.transaction(async (write) => {
        const occupied = []
        for (const table of tables) {
          const rows = await write.query<{ any: boolean }>(`select exists (select from ${ident(table.name)}) as any`)
          if (rows[0]!.any) occupied.push(table.name)
        }
        if (occupied.length > 0) {
          if (!options.force) throw new CopyRefusedError(`the target is not empty (${occupied.join(', ')}); --force replaces its rows`)
          await write.query(`truncate ${tables.map((t) => ident(t.name)).join(', ')} restart identity cascade`)
        }
        for (const table of tables) await copyTable(read, write, table, options.progress)

        const got: TableCopy[] = []
        for (const table of tables) got.push(await digest(write, table))
        const mismatched = got.flatMap((copy, i) => {
          const source = expected[i]!
          if (copy.rows === source.rows && copy.checksum === source.checksum) return []
          return [
            `${copy.table} (source ${source.rows} rows, checksum ${source.checksum}; copy ${copy.rows} rows, checksum ${copy.checksum})`,
          ]
        })
        // Thrown inside the transaction: a copy that does not match is rolled back, never left behind.
        if (mismatched.length > 0) {
          throw new CopyRefusedError(`the copy does not match the source in ${mismatched.join(', ')}; nothing was written to the target`)
        }
        return got
      }, SETTLED)
      return { schemaVersion: from.current, tables: copied }
    },
    { ...SETTLED, readOnly: true },
  )
}

/**
 * One table, batch by batch. Its own triggers are off meanwhile (ALTER TABLE needs only ownership,
 * not a superuser): rows they derive elsewhere, such as `entry_counts` from `entries`, are copied
 * from the source like any other, and the digests prove they agree. Foreign keys are checked as usual.
 */
async function copyTable(read: Queryable, write: Queryable, table: Table, progress?: (table: string, rows: number) => void): Promise<void> {
  const name = ident(table.name)
  const list = table.columns.map(ident).join(', ')
  const overriding = table.sequenced.length > 0 ? 'overriding system value' : ''
  await write.query(`alter table ${name} disable trigger user`)
  let rows = 0
  for await (const batch of rowsOf(read, table)) {
    const inserted = await write.query<{ n: number }>(
      `with added as (
         insert into ${name} (${list}) ${overriding}
         select ${list} from json_populate_recordset(null::${name}, $1::text::json)
         returning 1)
       select count(*)::int as n from added`,
      [batch],
    )
    rows += inserted[0]!.n
    progress?.(table.name, rows)
  }
  await write.query(`alter table ${name} enable trigger user`)
  for (const column of table.sequenced) {
    // Where the source's sequence stands, not just past the highest copied id: the ids of rows
    // deleted before the copy (a deleted account, the newest entry removed) were handed out, and
    // webhook receivers or other systems may know them; the target never gives one of them again.
    // Sequences are outside the snapshot, so this may be further on than the rows: never behind.
    const issued = await lastIssued(read, name, column)
    await write.query(
      `select setval(pg_get_serial_sequence($1, $2), greatest(coalesce(max(${ident(column)}), 0), $3::int8) + 1, false) from ${name}`,
      [name, column, issued],
    )
  }
}

/** The last value a column's sequence handed out (0 when none), read from the sequence itself. */
async function lastIssued(read: Queryable, table: string, column: string): Promise<string> {
  const found = await read.query<{ sequence: string }>('select pg_get_serial_sequence($1, $2) as sequence', [table, column])
  // The name comes from the catalog, quoted by Postgres. A sequence that has not handed out its
  // `last_value` yet (`is_called` false, as after setval(…, false)) has handed out the one before.
  const rows = await read.query<{ issued: string }>(
    `select (case when is_called then last_value else last_value - 1 end)::text as issued from ${found[0]!.sequence}`,
  )
  return rows[0]!.issued
}
