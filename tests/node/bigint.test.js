'use strict'
// Issue 11 item 7: Node never rounds an integer silently. A balance above 2^53-1 fails a
// default client's call with `unsafe_integer`; a `bigint: true` client returns it exactly.

const test = require('node:test')
const assert = require('node:assert/strict')
const { startServer, loadPackage, MEDIA_BOT } = require('./server.js')

const { CreditSyncClient, ServerError } = loadPackage()

const ABOVE_SAFE = 9_007_199_254_740_993n // 2^53 + 1: a JS number would read 2^53

let server
test.before(async () => {
  server = await startServer({ maxAmount: '10000000000000000' })
})
test.after(async () => server?.stop())

test('a balance above 2^53-1: unsafe_integer by default, exact with bigint: true', async () => {
  const exact = new CreditSyncClient({ baseUrl: server.baseUrl, ...MEDIA_BOT, bigint: true })
  const plain = new CreditSyncClient({ baseUrl: server.baseUrl, ...MEDIA_BOT })
  const user = 7_200_000 + (process.pid % 1000)

  const added = await exact.addCredits(user, ABOVE_SAFE, 'huge', `huge_${user}`)
  assert.equal(added.success, true)
  assert.equal(added.balance, ABOVE_SAFE)
  assert.equal(typeof added.telegramId, 'bigint')
  assert.equal(typeof added.recordId, 'bigint')
  assert.equal(added.data.balance, ABOVE_SAFE)
  const b = await exact.getBalance(user)
  assert.equal(b.credits, ABOVE_SAFE)
  assert.equal(b.telegramId, BigInt(user))
  const page = await exact.getRecords(user)
  assert.equal(page.records[0].balanceAfter, ABOVE_SAFE)
  assert.equal(typeof page.records[0].id, 'bigint')

  for (const call of [() => plain.getBalance(user), () => plain.getRecords(user), () => plain.addCredits(user, 1, 'more', `more_${user}`)]) {
    await assert.rejects(call(), (e) => e instanceof ServerError && e.code === 'unsafe_integer' && /bigint: true/.test(e.message))
  }
  // The replay of the write above says it was applied, without rounding.
  const replay = await exact.addCredits(user, 1, 'more', `more_${user}`)
  assert.equal(replay.duplicate, true)
  assert.equal(replay.balance, ABOVE_SAFE + 1n)

  // Safe values stay plain numbers by default.
  const small = await plain.addCredits(user + 1, 5, 'small')
  assert.equal(small.balance, 5)
  assert.equal(typeof small.telegramId, 'number')
  exact.close()
  plain.close()
})
