/**
 * Accessibility of every screen, checked by axe-core in a real browser: no serious or critical
 * violation in light and dark, at 360 px and 1280 px wide. Every rule runs in light at both widths;
 * in dark, the rules that look at colour. The dark scheme changes the stylesheet's colour tokens and
 * nothing else (a test below holds it to that), so no other rule can see a difference, and axe's
 * full run is the slowest step of the browser tests.
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { after, before, describe, test } from 'node:test'
import { AxeBuilder } from '@axe-core/playwright'
import type { BrowserContext, Page } from 'playwright-core'
import { newContext, screenshot, serverAndBrowser } from './browser.js'

const rig = serverAndBrowser()

const MODES = [
  { width: 360, scheme: 'light' },
  { width: 360, scheme: 'dark' },
  { width: 1280, scheme: 'light' },
  { width: 1280, scheme: 'dark' },
] as const

/** The axe rules whose result depends on colours. */
const COLOUR_RULES = ['color-contrast', 'link-in-text-block']

async function seriousViolations(page: Page, scheme: 'light' | 'dark'): Promise<string[]> {
  const axe = new AxeBuilder({ page })
  const results = await (
    scheme === 'dark' ? axe.withRules(COLOUR_RULES) : axe.withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'])
  ).analyze()
  return results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)
}

async function check(page: Page, screen: string, mode: (typeof MODES)[number]): Promise<void> {
  const found = await seriousViolations(page, mode.scheme)
  await screenshot(page, `${screen}-${mode.width}-${mode.scheme}`)
  assert.deepEqual(found, [], `${screen} at ${mode.width} px, ${mode.scheme}`)
}

/** An account with a few entries, made through the API as any client would. */
async function seedAccount(email: string, password: string): Promise<void> {
  const post = (path: string, body: unknown, token?: string) =>
    fetch(new URL(path, rig.server.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    })
  assert.equal((await post('/register', { email, password })).status, 201)
  const { accessToken } = (await (await post('/login', { email, password })).json()) as { accessToken: string }
  const now = Date.now()
  const entries = [
    {
      mood: 9,
      category: 'friends',
      text: 'Dinner with old friends, laughed until late.',
      occurredAt: new Date(now - 3600_000).toISOString(),
    },
    { mood: 5, category: 'work', text: 'A long meeting day; nothing moved much.', occurredAt: new Date(now - 26 * 3600_000).toISOString() },
    { mood: 2, category: 'health', text: 'Migraine most of the afternoon.', occurredAt: new Date(now - 50 * 3600_000).toISOString() },
  ]
  for (const entry of entries) assert.equal((await post('/entries', entry, accessToken)).status, 201)
}

/** A `:root { … }` block's custom properties, comments left out: name → value. */
function customProperties(body: string): Map<string, string> {
  const properties = new Map<string, string>()
  for (const declaration of body.replace(/\/\*[\s\S]*?\*\//g, '').split(';')) {
    if (declaration.trim() === '') continue
    const match = /^\s*(--[a-z0-9-]+)\s*:([\s\S]*)$/.exec(declaration)
    assert.ok(match, `not a custom property: ${declaration.trim()}`)
    properties.set(match[1]!, match[2]!.trim())
  }
  return properties
}

/** A value with each colour in it replaced: what is left is what a colour change cannot alter. */
const withoutColours = (value: string) => value.replace(/#[0-9a-f]{3,8}\b|(?:rgb|hsl)a?\([^)]*\)/gi, 'COLOUR')

test('when the dark scheme applies, then it changes colours only (so colour rules are all axe needs to run in dark)', async () => {
  const css = await readFile(new URL('../../web/src/styles.css', import.meta.url), 'utf8')
  const light = /^:root\s*\{([^}]*)\}/m.exec(css)
  assert.ok(light, 'the stylesheet defines its tokens on :root')
  const tokens = customProperties(light[1]!.replace(/^\s*color-scheme:[^;]*;/m, ''))
  const blocks = [...css.matchAll(/@media[^{]*prefers-color-scheme[^{]*\{\s*:root\s*\{([^}]*)\}\s*\}/g)]
  const all = [...css.matchAll(/@media[^{]*prefers-color-scheme/g)]
  assert.ok(blocks.length > 0, 'the stylesheet has a dark scheme')
  assert.equal(blocks.length, all.length, 'every prefers-color-scheme block sets :root custom properties and nothing else')
  for (const [, body] of blocks) {
    for (const [name, value] of customProperties(body!)) {
      assert.ok(tokens.has(name), `${name} is a light token too`)
      assert.equal(withoutColours(value), withoutColours(tokens.get(name)!), `${name} differs in more than its colours`)
    }
  }
})

describe('accessibility (axe: no serious or critical violations)', () => {
  let context: BrowserContext
  let page: Page
  const email = `a11y-${Date.now()}@example.com`
  const password = 'lanterns by the lake'

  before(async () => {
    await seedAccount(email, password)
    context = await newContext(rig.browser, rig.server.url)
    page = await context.newPage()
  })
  after(() => context?.close())

  test('the sign-in and sign-up screens', async () => {
    for (const mode of MODES) {
      await page.setViewportSize({ width: mode.width, height: 800 })
      await page.emulateMedia({ colorScheme: mode.scheme })
      await page.goto('/signin')
      await page.getByRole('button', { name: 'Sign in' }).click()
      // With the errors showing next to the fields, too.
      await page.getByText('Enter your email address.').waitFor()
      await check(page, 'signin', mode)
      await page.goto('/signup')
      await page.getByRole('button', { name: 'Create account' }).waitFor()
      await check(page, 'signup', mode)
    }
  })

  test('the journal, the editor, insights and settings', async () => {
    await page.goto('/signin')
    await page.getByLabel('Email').fill(email)
    await page.getByLabel('Password').fill(password)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('button', { name: 'Save entry' }).waitFor()

    for (const mode of MODES) {
      await page.setViewportSize({ width: mode.width, height: 800 })
      await page.emulateMedia({ colorScheme: mode.scheme })

      await page.getByRole('link', { name: 'Journal' }).click()
      await page.getByRole('article').nth(2).waitFor()
      await check(page, 'journal', mode)

      await page.getByRole('article').first().getByRole('button', { name: 'Edit' }).click()
      const dialog = page.getByRole('dialog', { name: 'Edit entry' })
      await dialog.getByRole('button', { name: 'Save changes' }).waitFor()
      await check(page, 'edit', mode)
      await dialog.getByRole('button', { name: 'Cancel' }).click()
      await dialog.waitFor({ state: 'detached' })

      await page.getByRole('link', { name: 'Insights' }).click()
      await page.getByRole('img', { name: 'Mood over time' }).waitFor()
      await page.getByRole('region', { name: 'On this day' }).waitFor()
      await check(page, 'insights', mode)

      await page.getByRole('link', { name: 'Settings' }).click()
      await page.getByText(`Signed in as ${email}`, { exact: false }).waitFor()
      await check(page, 'settings', mode)
    }
  })
})
