import { readFileSync } from 'node:fs'
import os from 'node:os'
import { hash, verify } from '@node-rs/argon2'
import pLimit from 'p-limit'

/** Every hasher slot and queue place is taken: the caller should retry shortly (the HTTP layer answers 503). */
export class HasherBusyError extends Error {
  override name = 'HasherBusyError'
  readonly retryAfterSeconds = 2
  constructor() {
    super('Too many sign-ins in progress; retry shortly.')
  }
}

/** The caller gave up (its client disconnected) while its verification waited: it was dropped, not computed. */
export class VerificationAbandonedError extends Error {
  override name = 'VerificationAbandonedError'
  constructor() {
    super('The client disconnected before its sign-in was processed.')
  }
}

/** `Algorithm.Argon2id` of @node-rs/argon2 (a const enum, which isolated modules cannot import). */
const ARGON2ID = 2

/** OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1. */
const ARGON2_OPTIONS = { algorithm: ARGON2ID, memoryCost: 19_456, timeCost: 2, parallelism: 1 }

const COMMON_PASSWORDS_FILE = new URL('../../assets/common-passwords.txt', import.meta.url)

function loadCommonPasswords(): Set<string> {
  const lines = readFileSync(COMMON_PASSWORDS_FILE, 'utf8').split('\n')
  return new Set(lines.filter((line) => line && !line.startsWith('#')).map((line) => line.toLowerCase()))
}

/**
 * Hashing and verifying passwords with bounded concurrency: at most one argon2 computation per
 * core (each holds 19 MiB), and a bounded queue, so a login flood cannot exhaust memory or starve
 * the event loop's other work; beyond the queue, callers get `HasherBusyError`. A verification whose client
 * disconnected while it was queued is dropped instead of computed: in a flood, clients time out
 * and retry, and hashing for them would only lengthen the queue for everyone else.
 */
export class PasswordHasher {
  private readonly limit: ReturnType<typeof pLimit>
  private readonly maxQueued: number
  private readonly common = loadCommonPasswords()
  /** Verified against when the email is unknown, so both failures cost the same time. */
  private dummyHash: Promise<string> | undefined
  /** Verifications dropped because their client had gone (see `moodlog_password_checks_dropped_total`). */
  dropped = 0

  constructor(concurrency = os.availableParallelism()) {
    this.limit = pLimit(concurrency)
    this.maxQueued = 64 * concurrency
  }

  /** Hashes and verifications running or waiting for their turn. */
  get inProgress(): number {
    return this.limit.activeCount + this.limit.pendingCount
  }

  isCommon(password: string): boolean {
    return this.common.has(password.toLowerCase())
  }

  hash(password: string): Promise<string> {
    return this.run(() => hash(password, ARGON2_OPTIONS))
  }

  /** `signal`: the request's; once aborted, a verification still waiting is dropped (rejects with `VerificationAbandonedError`). */
  verify(passwordHash: string, password: string, signal?: AbortSignal): Promise<boolean> {
    return this.run(() => verify(passwordHash, password).catch(() => false), signal)
  }

  async verifyDummy(password: string, signal?: AbortSignal): Promise<false> {
    this.dummyHash ??= hash('moodlog-dummy-password-for-timing', ARGON2_OPTIONS)
    await this.verify(await this.dummyHash, password, signal)
    return false
  }

  private run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (this.limit.pendingCount >= this.maxQueued) {
      return Promise.reject(new HasherBusyError())
    }
    return this.limit(() => {
      if (signal?.aborted) {
        this.dropped += 1
        throw new VerificationAbandonedError()
      }
      return fn()
    })
  }
}
