import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { test } from 'node:test'
import { loadEnvFile } from '../src/config.js'

test('when a .env file exists, then server and CLI start with its variables, and the real environment wins', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'moodlog-env-'))
  const file = path.join(dir, '.env')
  const fromFile = `MOODLOG_TEST_FROM_FILE_${process.pid}`
  const preset = `MOODLOG_TEST_PRESET_${process.pid}`
  try {
    await writeFile(file, `${fromFile}=loaded\n${preset}=from-file\n`)
    process.env[preset] = 'from-environment'
    assert.equal(loadEnvFile(file), true)
    assert.equal(process.env[fromFile], 'loaded')
    assert.equal(process.env[preset], 'from-environment')
    assert.equal(loadEnvFile(path.join(dir, 'missing.env')), false, 'no file is no error')
  } finally {
    delete process.env[fromFile]
    delete process.env[preset]
    await rm(dir, { recursive: true, force: true })
  }
})
