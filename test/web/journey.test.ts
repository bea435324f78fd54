/**
 * The journey of the web journal in a real browser against a real server process:
 * sign up → write three entries → they appear under today → filter by category → search → edit,
 * with the conflict screen when a second page changed the entry first → delete one → insights →
 * reload keeps you signed in → sign out → reload shows the sign-in screen.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { BrowserContext, Page } from 'playwright-core'
import { apiRequestsDuring, newContext, screenshot, serverAndBrowser } from './browser.js'

const ENTRIES = [
  { mood: 8, category: 'work', text: 'Shipped the release with the team and celebrated with cake.' },
  { mood: 3, category: 'family', text: 'A tense phone call about the holidays left me drained.' },
  { mood: 6, category: 'health', text: 'Went for a slow run along the river in the drizzle.' },
] as const

const rig = serverAndBrowser()

const isApi = (method: string, path: string) => (response: { url(): string; request(): { method(): string } }) =>
  response.request().method() === method && new URL(response.url()).pathname === path

async function write(page: Page, entry: { mood: number; category: string; text: string }): Promise<void> {
  await page
    .getByRole('radiogroup', { name: 'Mood' })
    .getByRole('radio', { name: new RegExp(`^${entry.mood} `) })
    .check()
  await page.getByLabel('Entry', { exact: true }).fill(entry.text)
  await page.getByLabel('Category', { exact: true }).fill(entry.category)
  const [created] = await Promise.all([
    page.waitForResponse(isApi('POST', '/entries')),
    page.getByRole('button', { name: 'Save entry' }).click(),
  ])
  assert.equal(created.status(), 201)
  await page.getByRole('article').filter({ hasText: entry.text }).waitFor()
}

function article(page: Page, text: string) {
  return page.getByRole('article').filter({ hasText: text })
}

describe('the web journal', () => {
  let context: BrowserContext
  let page: Page
  const email = `journey-${Date.now()}@example.com`
  const password = 'a quiet evening walk'

  before(async () => {
    context = await newContext(rig.browser, rig.server.url)
    page = await context.newPage()
  })
  after(() => context?.close())

  test('when a visitor opens moodlog, then the sign-in screen is shown and they can create an account', async () => {
    await page.goto('/')
    await page.getByRole('button', { name: 'Sign in' }).waitFor()
    assert.equal(new URL(page.url()).pathname, '/signin')
    await screenshot(page, 'signin')

    await page.getByRole('link', { name: 'Create an account' }).click()
    await page.getByRole('button', { name: 'Create account' }).waitFor()
    await page.getByLabel('Email').fill(email)
    await page.getByLabel('Password').fill(password)
    await page.getByRole('button', { name: 'Create account' }).click()

    await page.getByRole('button', { name: 'Save entry' }).waitFor()
    assert.equal(new URL(page.url()).pathname, '/')
    await page.getByText('Your journal is empty.').waitFor()
    await screenshot(page, 'journal-empty')
    // The refresh token is an HttpOnly cookie: page scripts cannot read it.
    assert.doesNotMatch(
      await page.evaluate(() => (globalThis as unknown as { document: { cookie: string } }).document.cookie),
      /moodlog_refresh/,
    )
  })

  test('when three entries are written, then they appear under today, newest first', async () => {
    for (const entry of ENTRIES) await write(page, entry)
    const today = page.getByRole('region', { name: 'Today' })
    const texts = await today.getByRole('article').allTextContents()
    assert.equal(texts.length, 3)
    assert.deepEqual(
      texts.map((text) => ENTRIES.findIndex((entry) => text.includes(entry.text))),
      [2, 1, 0],
    )
    await article(page, ENTRIES[0].text).getByText('8 · Happy').waitFor()
    await screenshot(page, 'journal')
  })

  test('when filtering by category, then only that category is listed, and clearing shows all again', async () => {
    await page.getByText('Filters', { exact: true }).click()
    await Promise.all([
      page.waitForResponse((r) => isApi('GET', '/entries')(r) && new URL(r.url()).searchParams.get('category') === 'work'),
      page.getByLabel('Filter by category').selectOption('work'),
    ])
    await page.getByRole('article').filter({ hasText: ENTRIES[1].text }).waitFor({ state: 'detached' })
    assert.equal(await page.getByRole('article').count(), 1)
    await article(page, ENTRIES[0].text).waitFor()
    await screenshot(page, 'journal-filtered')

    await page.getByRole('button', { name: 'Clear filters' }).click()
    await page.getByRole('article').nth(2).waitFor()
  })

  test('when searching, then the matching entry is found, and a search without matches says so', async () => {
    const search = page.getByRole('searchbox', { name: 'Search entries' })
    await search.fill('river')
    await Promise.all([
      page.waitForResponse((r) => isApi('GET', '/entries')(r) && new URL(r.url()).searchParams.get('q') === 'river'),
      search.press('Enter'),
    ])
    await page.getByRole('article').nth(1).waitFor({ state: 'detached' })
    await article(page, ENTRIES[2].text).waitFor()

    await search.fill('submarine')
    await search.press('Enter')
    await page.getByText('No entries match.').waitFor()

    await search.fill('')
    await page.getByRole('article').nth(2).waitFor()
  })

  test('when a second page changed the entry first, then saving shows "changed elsewhere" with the current version; reload and overwrite both work', async () => {
    const original = ENTRIES[2].text
    const elsewhere = 'Edited in the other tab: the run was longer than planned.'
    const mine = 'Edited here: a slow run, then tea and a long stretch.'

    // Page A opens the editor on the current version.
    await article(page, original).getByRole('button', { name: 'Edit' }).click()
    const dialog = page.getByRole('dialog', { name: 'Edit entry' })
    await dialog.getByRole('button', { name: 'Save changes' }).waitFor()
    assert.equal(await dialog.getByLabel('Entry', { exact: true }).inputValue(), original)

    // Page B (another tab of the same person) changes it first.
    const other = await context.newPage()
    await other.goto('/')
    await article(other, original).getByRole('button', { name: 'Edit' }).click()
    const otherDialog = other.getByRole('dialog', { name: 'Edit entry' })
    await otherDialog.getByRole('button', { name: 'Save changes' }).waitFor()
    await otherDialog.getByLabel('Entry', { exact: true }).fill(elsewhere)
    const [patched] = await Promise.all([
      other.waitForResponse((r) => r.request().method() === 'PATCH'),
      otherDialog.getByRole('button', { name: 'Save changes' }).click(),
    ])
    assert.equal(patched.status(), 200)
    await article(other, elsewhere).waitFor()

    // Page A saves its stale version: 412, and the conflict screen shows what is current.
    await dialog.getByLabel('Entry', { exact: true }).fill(mine)
    const [refused] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'PATCH'),
      dialog.getByRole('button', { name: 'Save changes' }).click(),
    ])
    assert.equal(refused.status(), 412)
    const conflict = dialog.getByRole('alert').filter({ hasText: 'Changed elsewhere' })
    await conflict.waitFor()
    await conflict.getByText(elsewhere).waitFor()
    await screenshot(page, 'conflict')

    // Reload: the editor continues from the current version.
    await conflict.getByRole('button', { name: 'Reload' }).click()
    assert.equal(await dialog.getByLabel('Entry', { exact: true }).inputValue(), elsewhere)
    await dialog.getByRole('button', { name: 'Cancel' }).click()
    await dialog.waitFor({ state: 'detached' })

    // Once more, and this time overwrite the other version.
    await article(page, elsewhere).getByRole('button', { name: 'Edit' }).click()
    await dialog.getByRole('button', { name: 'Save changes' }).waitFor()
    await article(other, elsewhere).getByRole('button', { name: 'Edit' }).click()
    await otherDialog.getByLabel('Entry', { exact: true }).fill(`${elsewhere} Twice.`)
    await Promise.all([
      other.waitForResponse((r) => r.request().method() === 'PATCH'),
      otherDialog.getByRole('button', { name: 'Save changes' }).click(),
    ])
    await dialog.getByLabel('Entry', { exact: true }).fill(mine)
    await dialog.getByRole('button', { name: 'Save changes' }).click()
    await conflict.getByText(`${elsewhere} Twice.`).waitFor()
    const [overwritten] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'PATCH'),
      conflict.getByRole('button', { name: 'Overwrite' }).click(),
    ])
    assert.equal(overwritten.status(), 200)
    await dialog.waitFor({ state: 'detached' })
    await article(page, mine).waitFor()

    await other.reload()
    await article(other, mine).waitFor()
    await other.close()
  })

  test('when an entry is deleted, then it is gone from the timeline', async () => {
    await article(page, ENTRIES[1].text).getByRole('button', { name: 'Delete' }).click()
    const dialog = page.getByRole('dialog', { name: 'Delete this entry?' })
    await dialog.getByText(ENTRIES[1].text).waitFor()
    const [deleted] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'DELETE'),
      dialog.getByRole('button', { name: 'Delete entry' }).click(),
    ])
    assert.equal(deleted.status(), 204)
    await article(page, ENTRIES[1].text).waitFor({ state: 'detached' })
    assert.equal(await page.getByRole('region', { name: 'Today' }).getByRole('article').count(), 2)
  })

  test("when insights open, then the chart, the streak and today's pixel show the remaining entries", async () => {
    await page.getByRole('link', { name: 'Insights' }).click()
    assert.equal(new URL(page.url()).pathname, '/insights')
    const chart = page.getByRole('img', { name: 'Mood over time' })
    await chart.waitFor()
    // Two entries are left today, moods 8 and 6: the day's average is 7.0.
    assert.match((await chart.getAttribute('aria-labelledby')) ?? '', /mood-chart-desc/)
    await page.getByText('Average mood 7.0 Good.').first().waitFor({ state: 'attached' })
    const streaks = page.getByRole('region', { name: 'Streaks' })
    assert.equal(await streaks.getByText('Current streak').locator('..').getByRole('definition').textContent(), '1 day')
    await page.getByRole('cell', { name: /^Today, .*: 7\.0 Good, 2 entries$/ }).waitFor()
    await page.getByRole('region', { name: 'Average mood per category' }).getByText('work').waitFor()
    await screenshot(page, 'insights')
    await page.getByRole('link', { name: 'Settings' }).click()
    await page.getByRole('button', { name: 'Delete account' }).waitFor()
    await page.getByText(`Signed in as ${email}`, { exact: false }).waitFor()
    await screenshot(page, 'settings')
    await page.getByRole('link', { name: 'Journal' }).click()
    await page.getByRole('button', { name: 'Save entry' }).waitFor()
  })

  test('when the journal is reloaded, then the session survives and the first screen needs at most 3 API requests', async () => {
    const requests = await apiRequestsDuring(page, async () => {
      await page.reload()
      await page.getByRole('article').nth(1).waitFor()
    })
    assert.ok(requests.length <= 3, `first screen made ${requests.length} API requests: ${requests.join(', ')}`)
    assert.ok(requests.includes('POST /token/refresh'), requests.join(', '))
    await page.getByRole('button', { name: 'Sign out' }).waitFor()
  })

  test('when signing out, then the sign-in screen shows, and after a reload still does', async () => {
    await Promise.all([page.waitForResponse(isApi('POST', '/logout')), page.getByRole('button', { name: 'Sign out' }).click()])
    await page.getByRole('button', { name: 'Sign in' }).waitFor()
    await page.reload()
    await page.getByRole('button', { name: 'Sign in' }).waitFor()
    assert.equal(new URL(page.url()).pathname, '/signin')
    assert.equal(await page.getByRole('button', { name: 'Save entry' }).count(), 0)
  })
})
