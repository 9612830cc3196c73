'use strict'
// Issue 11 item 5: every failure kind of the shared table tests/parity/failures.json,
// provoked against the real server. A write resolves with `success: false`, the kind's
// code and its carried reference; `throwIfFailed` throws the table's class; a read in
// the same situation rejects with it. tests/python/test_parity.py checks the same table.

const test = require('node:test')
const assert = require('node:assert/strict')
const net = require('node:net')
const path = require('node:path')
const fs = require('node:fs')
const { startServer, loadPackage, MEDIA_BOT } = require('./server.js')

const pkg = loadPackage()
const { CreditSyncClient, throwIfFailed } = pkg
const table = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'parity', 'failures.json'), 'utf8'))

const READER = { apiKey: 'reader-api-key', secretKey: 'reader-secret', source: 'reader_bot' }
const LIMITED = { apiKey: 'limited-api-key', secretKey: 'limited-secret', source: 'limited_bot' }

let server
let closedPort
test.before(async () => {
  server = await startServer({
    extraConfig: `
[[sources]]
name = "reader_bot"
api_key = "reader-api-key"
secret = "reader-secret"
permissions = ["read", "write"]
auto_register = false

[[sources]]
name = "limited_bot"
api_key = "limited-api-key"
secret = "limited-secret"
permissions = ["read", "write"]
rate_limit_per_sec = 1
`,
  })
  closedPort = await new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = s.address().port
      s.close(() => resolve(port))
    })
  })
})
test.after(async () => server?.stop())

let nextUser = 7_300_000 + (process.pid % 1000) * 100

/** Resolves `[client, failed write result]` for a scenario of the table. */
async function provoke(scenario, user) {
  const ref = `parity_${scenario}_${user}`
  const at = (creds, extra = {}) => new CreditSyncClient({ baseUrl: server.baseUrl, ...creds, ...extra })
  switch (scenario) {
    case 'deduct_more_than_balance': {
      const c = at(MEDIA_BOT)
      assert.equal((await c.addCredits(user, 10, 'seed')).success, true)
      return [c, await c.deductCredits(user, 500, 'too much', ref)]
    }
    case 'reuse_reference': {
      const c = at(MEDIA_BOT)
      assert.equal((await c.addCredits(user, 5, 'first', ref)).success, true)
      return [c, await c.addCredits(user, 6, 'first', ref)]
    }
    case 'unknown_user_without_auto_register': {
      const c = at(READER)
      return [c, await c.addCredits(user, 5, 'x', ref)]
    }
    case 'wrong_api_key': {
      const c = at(MEDIA_BOT, { apiKey: 'wrong-key' })
      return [c, await c.addCredits(user, 5, 'x', ref)]
    }
    case 'zero_amount': {
      const c = at(MEDIA_BOT)
      return [c, await c.addCredits(user, 0, 'x', ref)]
    }
    case 'over_the_rate_limit': {
      const c = at(LIMITED, { maxRetries: 0 })
      for (let i = 0; i < 20; i++) {
        const r = await c.addCredits(user, 1, 'x', `${ref}_${i}`)
        if (!r.success) return [c, r]
      }
      throw new Error('never rate limited')
    }
    case 'closed_port': {
      const c = new CreditSyncClient({ ...MEDIA_BOT, baseUrl: `http://127.0.0.1:${closedPort}`, maxRetries: 0 })
      return [c, await c.addCredits(user, 5, 'x', ref)]
    }
    case 'closed_client': {
      const c = at(MEDIA_BOT)
      c.close()
      return [c, await c.addCredits(user, 5, 'x', ref)]
    }
    case 'capture_an_unknown_hold': {
      const c = at(MEDIA_BOT)
      return [c, await c.captureHold('hold_000000000000000000000000', null, ref)]
    }
    case 'capture_a_voided_hold': {
      const c = at(MEDIA_BOT)
      assert.equal((await c.addCredits(user, 10, 'seed')).success, true)
      const hold = await c.holdCredits(user, 5, 'job')
      assert.equal((await c.voidHold(hold.holdId)).success, true)
      return [c, await c.captureHold(hold.holdId, null, ref)]
    }
    case 'reverse_more_than_the_record': {
      const c = at(MEDIA_BOT)
      const order = await c.addCredits(user, 10, 'order')
      return [c, await c.reverseRecord({ recordId: order.recordId, amount: 11, reason: 'refund', reversalReference: ref })]
    }
    default:
      throw new Error(`unknown scenario ${scenario}`)
  }
}

for (const kase of table.cases) {
  test(`parity: ${kase.kind} (${kase.code})`, async () => {
    const user = nextUser++
    const [c, r] = await provoke(kase.scenario, user)
    assert.equal(r.success, false, JSON.stringify(r))
    assert.equal(r.code, kase.code, r.message)
    assert.equal(r.kind, kase.kind)
    assert.equal(r.retryable, kase.retryable)
    assert.match(r.reference, /^parity_/)
    if (!kase.flow) assert.equal(r.telegramId, user)
    const cls = pkg[kase.node]
    let err
    try {
      throwIfFailed(r)
    } catch (e) {
      err = e
    }
    assert.ok(err instanceof cls && Object.getPrototypeOf(err) === cls.prototype, `${err && err.name} is exactly ${kase.node}`)
    assert.equal(err.code, kase.code)
    assert.equal(err.reference, r.reference)
    if (kase.read) {
      await assert.rejects(c.getRecords(user), (e) => Object.getPrototypeOf(e) === cls.prototype && e.code === kase.code)
    }
    c.close()
  })
}

test('throwIfFailed keeps field, fields and serverTime', async () => {
  const c = new CreditSyncClient({ baseUrl: server.baseUrl, ...MEDIA_BOT })
  const user = nextUser++
  const zero = await c.addCredits(user, 0, 'x')
  assert.throws(() => throwIfFailed(zero), (e) => e instanceof pkg.ValidationError && e.field === 'amount')
  await c.addCredits(user, 5, 'first', `f_${user}`)
  const conflict = await c.addCredits(user, 6, 'first', `f_${user}`)
  assert.throws(() => throwIfFailed(conflict), (e) => e instanceof pkg.ReferenceConflictError && e.fields.includes('amount'))
  const batch = await c.batchSync([{ telegramId: user, amount: 0, reason: 'x' }])
  assert.equal(batch.success, false)
  assert.equal(batch.code, 'invalid_amount')
  assert.deepEqual([batch.data.success, batch.data.failed], [0, 1])
  assert.throws(() => throwIfFailed(batch), (e) => e instanceof pkg.ValidationError && e.field === 'items[0].amount')
  c.close()
})
