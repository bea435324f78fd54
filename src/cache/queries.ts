import type { Queryable } from '../db/index.js'

/** Whether the account exists (committed): what a cache miss checks before keeping its keys. */
export async function userExists(db: Queryable, userId: number): Promise<boolean> {
  const rows = await db.query<{ found: boolean }>('select exists (select from users where id = $1) as found', [userId])
  return rows[0]?.found === true
}
