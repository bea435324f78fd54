/**
 * Size budgets of the web UI, read from a real production build (not a timing): what a first
 * visit must download before the page works, gzip-compressed as it travels.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { gzipSync } from 'node:zlib'
import { after, before, describe, test } from 'node:test'

const root = path.resolve(import.meta.dirname, '../..')
const KB = 1024
const BUDGET = { js: 50 * KB, css: 15 * KB }

/** The files index.html makes the browser load at once: entry scripts, preloaded chunks, stylesheets. */
function initialAssets(html: string): { js: string[]; css: string[] } {
  const js: string[] = []
  const css: string[] = []
  for (const tag of html.match(/<(script|link)\b[^>]*>/g) ?? []) {
    const url = /\b(?:src|href)="([^"]+)"/.exec(tag)?.[1]
    if (!url) continue
    if (tag.startsWith('<script') || /rel="modulepreload"/.test(tag)) js.push(url)
    else if (/rel="stylesheet"/.test(tag)) css.push(url)
  }
  return { js, css }
}

const gzipSize = (content: Buffer) => gzipSync(content, { level: 9 }).length
const kb = (bytes: number) => `${(bytes / KB).toFixed(1)} KB`

describe('web UI build budgets', () => {
  let outDir: string
  let html: string
  const sizes = { js: 0, css: 0 }

  before(async () => {
    // A build of the current sources of its own, so that a stale dist/ cannot pass for them.
    outDir = await mkdtemp(path.join(os.tmpdir(), 'moodlog-web-build-'))
    await promisify(execFile)(
      process.execPath,
      [path.join(root, 'node_modules/vite/bin/vite.js'), 'build', 'web', '--outDir', outDir, '--emptyOutDir', '--logLevel', 'warn'],
      { cwd: root },
    )
    html = await readFile(path.join(outDir, 'index.html'), 'utf8')
  })
  after(async () => {
    await rm(outDir, { recursive: true, force: true })
  })

  test(`when the UI is built, then its initial JavaScript is at most ${kb(BUDGET.js)} and its CSS at most ${kb(BUDGET.css)} gzip`, async () => {
    const assets = initialAssets(html)
    assert.ok(assets.js.length > 0, 'index.html loads a script')
    assert.ok(assets.css.length > 0, 'index.html loads a stylesheet')
    for (const kind of ['js', 'css'] as const) {
      for (const url of assets[kind]) {
        assert.match(url, /^\/assets\/[\w.-]+-[\w-]{8,}\.(js|css)$/, `${url}: a hashed asset of this origin`)
        sizes[kind] += gzipSize(await readFile(path.join(outDir, url)))
      }
    }
    console.log(`initial JS ${kb(sizes.js)} gzip (${assets.js.length} files), CSS ${kb(sizes.css)} gzip (${assets.css.length} files)`)
    assert.ok(sizes.js <= BUDGET.js, `initial JS is ${kb(sizes.js)} gzip, over its ${kb(BUDGET.js)} budget`)
    assert.ok(sizes.css <= BUDGET.css, `CSS is ${kb(sizes.css)} gzip, over its ${kb(BUDGET.css)} budget`)
  })

  test('when index.html is built, then it has no inline script or style and loads nothing from another origin (CSP)', () => {
    for (const tag of html.match(/<script\b[^>]*>[\s\S]*?<\/script>/g) ?? []) {
      assert.match(tag, /^<script\b[^>]*\bsrc="\/[^"]*"[^>]*>\s*<\/script>$/, `inline script: ${tag}`)
    }
    assert.doesNotMatch(html, /<style\b/i, 'inline <style>')
    assert.doesNotMatch(html, /\sstyle="/i, 'inline style attribute')
    assert.doesNotMatch(html, /\son[a-z]+="/i, 'inline event handler')
    assert.doesNotMatch(html, /(?:src|href)="(?:https?:)?\/\//i, 'an external script, stylesheet, font or image')
  })
})
