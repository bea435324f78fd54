import assert from 'node:assert/strict'
import { test } from 'node:test'
import { describeEachBackend } from '../../test/support/harness.js'
import { signUp } from '../../test/support/users.js'

/** Spellings JavaScript reads as numbers, yet no client means as one: each must be a 400, never coerced. */
const NOT_PLAIN = ['0x10', '1e1', ' 10', '10 ', '+10', '010', '0b11', '0o7', '10.0', '.5', '-0', 'Infinity', '1_0']

describeEachBackend('numbers in query strings', (h) => {
  test('when an integer query parameter is not in plain decimal digits, then the answer is 400 problem+json naming it', async () => {
    const user = await signUp(h)
    const urls = [
      ...NOT_PLAIN.map((value) => ['/entries', 'limit', value]),
      ['/entries', 'page', '0x1'],
      ['/entries', 'moodMin', '5e0'],
      ['/entries', 'moodMax', ' 7'],
      ['/webhooks/1/deliveries', 'limit', '1e1'],
    ]
    for (const [path, name, value] of urls) {
      const res = await h.request({ method: 'GET', url: `${path}?${name}=${encodeURIComponent(value!)}`, headers: user.auth })
      assert.equal(res.statusCode, 400, `${path}?${name}=${JSON.stringify(value)}`)
      assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
      assert.deepEqual(
        res.json().errors.map((error: { field: string }) => error.field),
        [`query.${name}`],
        `${path}?${name}=${JSON.stringify(value)}`,
      )
    }
  })

  test('when integer query parameters are plain decimal digits, then they are read as numbers', async () => {
    const user = await signUp(h)
    for (let i = 0; i < 3; i++) {
      const res = await h.request({
        method: 'POST',
        url: '/entries',
        headers: user.auth,
        payload: { text: `day ${i}`, mood: 5, category: 'x' },
      })
      assert.equal(res.statusCode, 201)
    }
    const page = await h.request({ method: 'GET', url: '/entries?limit=2&page=1&moodMin=5&moodMax=10', headers: user.auth })
    assert.equal(page.statusCode, 200)
    assert.equal(page.json().items.length, 2)
    assert.equal(page.json().totalPages, 2)
    const repeated = await h.request({ method: 'GET', url: '/entries?limit=0x10&limit=2', headers: user.auth })
    assert.equal(repeated.statusCode, 400, 'a repeated parameter is checked in each of its values')
  })
})
