/** Every database a test run creates starts with this; the rest is `<unix seconds>_<pid>_…`. */
export const TEST_DB_PREFIX = 'moodlog_test_'

/** The same server URL pointing at another database. */
export function databaseUrlFor(serverUrl: string, database: string): string {
  const url = new URL(serverUrl)
  url.pathname = `/${database}`
  return url.toString()
}
