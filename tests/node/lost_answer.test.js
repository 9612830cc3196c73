'use strict'
// Issue 11 item 4: a write whose answer is lost says which reference it carried, and
// calling again with `result.reference` applies it exactly once.

const test = require('node:test')
const assert = require('node:assert/strict')
const { startServer, loadPackage, MEDIA_BOT } = require('./server.js')
const { startDropProxy } = require('./drop_proxy.js')

const { CreditSyncClient, TransportError, throwIfFailed } = loadPackage()

let server
let proxy
test.before(async () => {
  server = await startServer()
  proxy = await startDropProxy(server.baseUrl)
})
test.after(async () => {
  await proxy?.close()
  await server?.stop()
})

test('an unknown outcome carries its auto reference; the retry with it applies once', async () => {
  const direct = new CreditSyncClient({ baseUrl: server.baseUrl, ...MEDIA_BOT })
  const lossy = new CreditSyncClient({ ...MEDIA_BOT, baseUrl: proxy.baseUrl, maxRetries: 1 })
  const user = 7_100_000 + (process.pid % 1000)
  assert.equal((await direct.addCredits(user, 100, 'seed')).success, true)

  const r = await lossy.addCredits(user, 7, 'reward')
  assert.equal(r.success, false)
  assert.equal(r.code, 'connection_error')
  assert.match(r.reference, /^auto-/)
  assert.deepEqual([r.attempts, r.retryable, r.telegramId, r.change], [2, true, user, 7])
  assert.equal(proxy.forwarded(), 2, 'both attempts reached the server')
  assert.throws(() => throwIfFailed(r), (e) => e instanceof TransportError && e.reference === r.reference && e.attempts === 2 && e.retryable === true)

  const again = await direct.addCredits(user, 7, 'reward', r.reference)
  assert.equal(again.duplicate, true, 'the lost change had been applied')
  assert.equal((await direct.getBalance(user)).credits, 107, 'applied exactly once')
  assert.equal((await direct.getRecords(user, { limit: 10 })).records.length, 2)

  const d = await lossy.deductCredits(user, 5, 'spend')
  assert.equal(d.change, -5)
  assert.equal((await direct.deductCredits(user, 5, 'spend', d.reference)).duplicate, true)
  assert.equal((await direct.getBalance(user)).credits, 102)
  direct.close()
  lossy.close()
})
