/**
 * The web journal beyond the first evening, in a real browser against a real server process:
 * a long history pages in as you scroll (and with the "Load more" button where scrolling cannot
 * tell), the journal downloads and a Daylio file comes in from Settings, and a guessed password
 * is throttled with a message that says when to try again.
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { after, describe, test } from 'node:test'
import type { BrowserContext, Page } from 'playwright-core'
import { newContext, screenshot, serverAndBrowser } from './browser.js'

const rig = serverAndBrowser()

const PASSWORD = 'a long evening of rain'

/** An account made through the API; returns its bearer header for seeding entries. */
async function account(email: string): Promise<{ authorization: string }> {
  const post = (path: string) =>
    fetch(`${rig.server.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: PASSWORD }),
    })
  assert.equal((await post('/register')).status, 201)
  const login = await post('/login')
  assert.equal(login.status, 200)
  return { authorization: `Bearer ${((await login.json()) as { accessToken: string }).accessToken}` }
}

/** `count` entries, one per hour going back from now, numbered so the oldest is "Entry 1". */
async function seed(auth: { authorization: string }, count: number): Promise<void> {
  const now = Date.now()
  for (let i = 1; i <= count; i++) {
    const response = await fetch(`${rig.server.url}/entries`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({
        text: `Entry ${i} of the long history`,
        mood: (i % 10) + 1,
        category: 'history',
        occurredAt: new Date(now - (count - i) * 3_600_000).toISOString(),
      }),
    })
    assert.equal(response.status, 201)
  }
}

async function signIn(page: Page, email: string): Promise<void> {
  await page.goto('/signin')
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password').fill(PASSWORD)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByRole('button', { name: 'Save entry' }).waitFor()
}

const entryCards = (page: Page) => page.getByRole('article')

describe('a long history, your data and a throttled sign-in', () => {
  let context: BrowserContext | undefined
  after(() => context?.close())

  test('when a journal has 45 entries, then 20 show first and scrolling to the end brings in the rest, newest first', async () => {
    const email = `scroll-${Date.now()}@example.com`
    await seed(await account(email), 45)
    context = await newContext(rig.browser, rig.server.url)
    const page = await context.newPage()
    await signIn(page, email)
    await page.getByRole('status').filter({ hasText: '45 entries' }).waitFor()
    assert.equal(await entryCards(page).count(), 20)
    assert.match((await entryCards(page).first().textContent()) ?? '', /Entry 45 of/)

    // Scrolling to the end fetches the next page without a click, until everything is there.
    for (let shown = 20; shown < 45;) {
      await entryCards(page).last().scrollIntoViewIfNeeded()
      await entryCards(page).nth(shown).waitFor()
      shown = await entryCards(page).count()
    }
    await page.getByText('That is everything.').waitFor()
    assert.equal(await entryCards(page).count(), 45)
    assert.match((await entryCards(page).last().textContent()) ?? '', /Entry 1 of/)
    assert.equal(await page.getByRole('button', { name: 'Load more' }).count(), 0)
    await context.close()
    context = undefined
  })

  test('when the browser cannot observe scrolling, then the "Load more" button pages through the history', async () => {
    const email = `button-${Date.now()}@example.com`
    await seed(await account(email), 25)
    context = await newContext(rig.browser, rig.server.url)
    await context.addInitScript('delete window.IntersectionObserver')
    const page = await context.newPage()
    await signIn(page, email)
    await page.getByRole('status').filter({ hasText: '25 entries' }).waitFor()
    assert.equal(await entryCards(page).count(), 20)
    await page.getByRole('button', { name: 'Load more' }).click()
    await page.getByText('That is everything.').waitFor()
    assert.equal(await entryCards(page).count(), 25)
    await context.close()
    context = undefined
  })

  test('when the journal is downloaded from Settings and a Daylio file is brought in, then both work and a second import adds nothing', async () => {
    const email = `data-${Date.now()}@example.com`
    await seed(await account(email), 3)
    context = await newContext(rig.browser, rig.server.url, { acceptDownloads: true })
    const page = await context.newPage()
    await signIn(page, email)
    await page.getByRole('link', { name: 'Settings' }).click()

    await page.getByLabel('Download format').selectOption('ndjson')
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download' }).click()])
    assert.match(download.suggestedFilename(), /^moodlog-\d{4}-\d{2}-\d{2}\.ndjson$/)
    const lines = (await readFile((await download.path())!, 'utf8')).trim().split('\n')
    assert.equal(JSON.parse(lines[0]!).format, 'moodlog')
    assert.deepEqual(
      lines
        .slice(1)
        .map((line) => JSON.parse(line).text)
        .sort(),
      ['Entry 1 of the long history', 'Entry 2 of the long history', 'Entry 3 of the long history'],
    )
    await page.getByText(/^Downloaded moodlog-/).waitFor()

    const daylio = [
      'full_date,date,weekday,time,mood,activities,note_title,note',
      '2026-03-01,March 1,Sunday,9:15 pm,good,reading | tea,Quiet Sunday,Finished the novel by the window.',
      '2026-03-02,March 2,Monday,7:40 am,meh,work,,Long meeting about the budget.',
      '2026-03-03,March 3,Tuesday,8:00 pm,great,friends,,Dinner with old friends.',
      '2026-02-30,February 30,Monday,8:00 pm,good,,,A day that never was.',
      // Eleven rows with two problems each: the summary counts rows and problems apart.
      ...Array.from({ length: 11 }, (_, i) => `03/${10 + i}/2026,March ${10 + i},Tuesday,noonish,good,,,Written on paper.`),
    ].join('\n')
    await page
      .getByLabel('File', { exact: true })
      .setInputFiles({ name: 'daylio_export.csv', mimeType: 'text/csv', buffer: Buffer.from(daylio) })
    await page.waitForFunction(
      () =>
        (globalThis as unknown as { document: { querySelector(s: string): { value: string } } }).document.querySelector('#import-format')
          .value === 'daylio',
    )

    // A renamed Daylio mood needs a number before anything can be counted.
    await page.getByRole('button', { name: 'Check file' }).click()
    await page.getByText('Unknown Daylio mood labels: great. Give each a number below.').first().waitFor()
    await page.getByLabel('Your own mood names (optional)').fill('great=9')
    await page.getByRole('button', { name: 'Check file' }).click()
    await page.getByText('This file would add 3 new entries, 12 invalid rows (23 problems) that will be left out.').waitFor()
    // Ten rows listed, each with all of its problems; the rows not listed are counted as rows.
    const problems = page.getByRole('list', { name: 'Invalid rows' }).getByRole('listitem')
    assert.equal(await problems.count(), 11)
    assert.equal(await problems.first().textContent(), 'Line 5: full_date is not a real date from 1900-01-02 to 9999-12-30')
    assert.equal(
      await problems.nth(1).textContent(),
      'Line 6: full_date must be a date like 2024-05-01; time must be a time like 11:54 pm or 13:48',
    )
    assert.match((await problems.nth(9).textContent()) ?? '', /^Line 14: /)
    assert.equal(await problems.last().textContent(), '…and 2 more invalid rows.')
    await screenshot(page, 'settings-import-check')
    await page.getByRole('button', { name: 'Import 3 entries, leave out the rest' }).click()
    await page.getByText('Imported: 3 new entries, 12 invalid rows (23 problems) left out.').waitFor()

    await page.getByRole('button', { name: 'Check file' }).click()
    await page
      .getByText(
        'This file would add 0 new entries, 3 entries already in your journal, 12 invalid rows (23 problems) that will be left out.',
      )
      .waitFor()
    assert.equal(await page.getByRole('button', { name: /^Import / }).count(), 0, 'nothing left to import')

    await page.getByRole('link', { name: 'Journal' }).click()
    await page.getByRole('status').filter({ hasText: '6 entries' }).waitFor()
    const note = entryCards(page).filter({ hasText: 'Finished the novel by the window.' })
    await note.waitFor()
    assert.match((await note.textContent()) ?? '', /reading/)
  })

  test('when a password is guessed too often, then sign-in says when to try again, and the right password waits too', async () => {
    const email = `throttle-${Date.now()}@example.com`
    await account(email)
    const guesses = await newContext(rig.browser, rig.server.url)
    try {
      const page = await guesses.newPage()
      await page.goto('/signin')
      await page.getByLabel('Email').fill(email)
      for (let guess = 1; guess <= 10; guess++) {
        await page.getByLabel('Password').fill(`wrong guess number ${guess}`)
        const [answer] = await Promise.all([
          page.waitForResponse((r) => new URL(r.url()).pathname === '/login'),
          page.getByRole('button', { name: 'Sign in' }).click(),
        ])
        assert.equal(answer.status(), 401, `guess ${guess}`)
      }
      await page.getByLabel('Password').fill('one more wrong guess')
      await page.getByRole('button', { name: 'Sign in' }).click()
      const alert = page.getByRole('alert').filter({ hasText: 'Too many sign-in attempts.' })
      await alert.waitFor()
      assert.match((await alert.textContent()) ?? '', /Try again in \d+ minutes \(at \d{2}:\d{2}:\d{2}\)\./)
      await screenshot(page, 'signin-throttled')
      // The guesser's address is locked out for this account, whatever it types next.
      await page.getByLabel('Password').fill(PASSWORD)
      const [refused] = await Promise.all([
        page.waitForResponse((r) => new URL(r.url()).pathname === '/login'),
        page.getByRole('button', { name: 'Sign in' }).click(),
      ])
      assert.equal(refused.status(), 429)
      assert.equal(await page.getByRole('button', { name: 'Save entry' }).count(), 0)
    } finally {
      await guesses.close()
    }
  })
})
