'use strict'
// The money flows through the Node client against the real server: holds (capture, void,
// replays, `hold_resolved`), reversals, transfers and Telegram Stars purchases.

const test = require('node:test')
const assert = require('node:assert/strict')
const { startServer, loadPackage, MEDIA_BOT } = require('./server.js')

const pkg = loadPackage()
const { CreditSyncClient, CreditSyncError, ConflictError, HoldResolvedError, NotFoundError, throwIfFailed } = pkg

let server
let client
test.before(async () => {
  server = await startServer()
  client = new CreditSyncClient({ baseUrl: server.baseUrl, ...MEDIA_BOT })
})
test.after(async () => {
  client?.close()
  await server?.stop()
})

let nextId = 7_000_000 + (process.pid % 1000) * 1000
const newId = () => nextId++

async function funded(credits = 100) {
  const user = newId()
  assert.ok((await client.addCredits(user, credits, 'top up')).success)
  return user
}

async function view(user) {
  const b = await client.getBalance(user)
  return [b.credits, b.held, b.available]
}

test('the new error classes are CreditSyncErrors', () => {
  for (const cls of [NotFoundError, ConflictError, HoldResolvedError]) assert.ok(cls.prototype instanceof CreditSyncError)
  assert.ok(HoldResolvedError.prototype instanceof ConflictError)
})

test('hold, then a partial capture: charged once, the rest released', async () => {
  const user = await funded()
  const hold = await client.holdCredits(user, 60, 'generation job', null, 120)
  assert.equal(hold.success, true, hold.message)
  assert.deepEqual([hold.credits, hold.held, hold.available, hold.duplicate], [100, 60, 40, false])
  assert.match(hold.holdId, /^hold_/)
  assert.equal(hold.hold.state, 'open')
  assert.match(hold.reference, /^auto-/)
  assert.deepEqual(await view(user), [100, 60, 40])
  const open = await client.getHolds(user)
  assert.deepEqual(open.holds.map((h) => h.holdId), [hold.holdId])

  assert.equal((await client.deductCredits(user, 50, 'spend')).code, 'insufficient_credits')

  const captured = await client.captureHold(hold.holdId, 25, `cap-${user}`)
  assert.equal(captured.success, true, captured.message)
  assert.deepEqual([captured.credits, captured.held, captured.available], [75, 0, 75])
  assert.deepEqual([captured.hold.state, captured.hold.captured], ['captured', 25])
  assert.deepEqual(await view(user), [75, 0, 75])

  const again = await client.captureHold(hold.holdId, 25, `cap-${user}`)
  assert.equal(again.duplicate, true)
  assert.equal(again.hold.recordId, captured.hold.recordId)

  const other = await client.captureHold(hold.holdId)
  assert.deepEqual([other.success, other.code, other.hold.state], [false, 'hold_resolved', 'captured'])
  assert.throws(() => throwIfFailed(other), (e) => e instanceof HoldResolvedError && e.code === 'hold_resolved' && e.hold.captured === 25)
  assert.deepEqual(await view(user), [75, 0, 75])
})

test('hold, then void', async () => {
  const user = await funded(50)
  const hold = await client.holdCredits(user, 50, 'job')
  assert.deepEqual(await view(user), [50, 50, 0])
  assert.equal((await client.holdCredits(user, 1, 'job')).code, 'insufficient_credits')
  const voided = await client.voidHold(hold.holdId)
  assert.deepEqual([voided.success, voided.hold.state], [true, 'voided'])
  assert.deepEqual(await view(user), [50, 0, 50])
  assert.equal((await client.voidHold(hold.holdId)).code, 'hold_resolved')

  const small = await client.holdCredits(user, 10, 'job')
  assert.equal((await client.captureHold(small.holdId, 11)).code, 'invalid_amount')
  const missing = await client.captureHold('hold_000000000000000000000000')
  assert.equal(missing.code, 'hold_not_found')
  assert.throws(() => throwIfFailed(missing), NotFoundError)
  const bad = await client.voidHold('not-a-hold')
  assert.deepEqual([bad.code, bad.attempts, bad.field], ['invalid_argument', 0, 'hold_id'])
  assert.equal(await client.getHolds(newId()), null)
})

test('reverse partially, then the rest; more is refused', async () => {
  const user = newId()
  const order = await client.addCredits(user, 100, 'order paid', `order-${user}`)
  const part = await client.reverseRecord({ reference: `order-${user}`, amount: 30, reason: 'partial refund', reversalReference: `refund-${user}` })
  assert.equal(part.success, true, part.message)
  assert.deepEqual([part.change, part.balance, part.reversed, part.remaining, part.reverses], [-30, 70, 30, 70, order.recordId])
  const replay = await client.reverseRecord({ reference: `order-${user}`, amount: 30, reason: 'partial refund', reversalReference: `refund-${user}` })
  assert.deepEqual([replay.duplicate, replay.recordId], [true, part.recordId])
  const rest = await client.reverseRecord({ recordId: order.recordId, reason: 'refund' })
  assert.deepEqual([rest.balance, rest.reversed, rest.remaining], [0, 100, 0])
  const beyond = await client.reverseRecord({ recordId: order.recordId, amount: 1 })
  assert.equal(beyond.code, 'reversal_exceeds_record')
  assert.throws(() => throwIfFailed(beyond), ConflictError)
  assert.equal((await client.reverseRecord({ reference: 'no-such-order' })).code, 'record_not_found')
  assert.equal((await client.reverseRecord({})).code, 'invalid_argument')
  await assert.rejects(client.reverseRecord({ recordID: 1 }), (e) => e instanceof TypeError && e.code === 'invalid_argument')
})

test('transfer moves both balances once', async () => {
  const from = await funded()
  const to = newId()
  const moved = await client.transferCredits(from, to, 40, 'gift', `gift-${from}`)
  assert.equal(moved.success, true, moved.message)
  assert.match(moved.transferId, /^tr_/)
  assert.deepEqual([moved.from.change, moved.from.balance, moved.to.change, moved.to.balance], [-40, 60, 40, 40])
  const again = await client.transferCredits(from, to, 40, 'gift', `gift-${from}`)
  assert.deepEqual([again.duplicate, again.transferId], [true, moved.transferId])
  assert.equal((await view(from))[0], 60)
  assert.equal((await view(to))[0], 40)
  assert.equal((await client.transferCredits(from, to, 61, 'gift')).code, 'insufficient_credits')
})

test('a Stars payment credited twice is one credit; refunded twice is one refund', async () => {
  for (const [kind, payment] of [
    ['Bot API (snake_case)', (u) => ({ currency: 'XTR', total_amount: 50, telegram_payment_charge_id: `s${u}`, invoice_payload: 'x' })],
    ['camelCase', (u) => ({ currency: 'XTR', totalAmount: 50, telegramPaymentChargeId: `c${u}` })],
  ]) {
    const user = newId()
    const p = payment(user)
    const paid = await client.creditStarsPayment(user, p, 10)
    assert.deepEqual([paid.success, paid.duplicate, paid.balance], [true, false, 500], `${kind}: ${paid.message}`)
    assert.match(paid.reference, /^stars:/)
    assert.equal((await client.creditStarsPayment(user, p, 10)).duplicate, true, kind)
    assert.equal((await view(user))[0], 500)
    const chargeId = paid.reference.slice('stars:'.length)
    const refund = await client.refundStarsPayment(chargeId, 'refunded')
    assert.deepEqual([refund.success, refund.duplicate, refund.balance], [true, false, 0], `${kind}: ${refund.message}`)
    const toldAgain = await client.refundStarsPayment(chargeId, 'refunded')
    assert.deepEqual([toldAgain.success, toldAgain.duplicate], [true, true], kind)
    assert.equal((await view(user))[0], 0)
  }
  const user = newId()
  const usd = await client.creditStarsPayment(user, { currency: 'USD', total_amount: 5, telegram_payment_charge_id: 'u1' })
  assert.deepEqual([usd.success, usd.code, usd.attempts], [false, 'invalid_argument', 0])
  await assert.rejects(client.creditStarsPayment(user, { currency: 'XTR', total_amount: 5 }), TypeError)
})

test('a closed client reports the reference a flow would have sent', async () => {
  const c = new CreditSyncClient({ baseUrl: server.baseUrl, ...MEDIA_BOT })
  c.close()
  const r = await c.captureHold('hold_000000000000000000000000', null, 'cap-closed')
  assert.deepEqual([r.success, r.code, r.reference], [false, 'client_closed', 'cap-closed'])
  assert.equal((await c.refundStarsPayment('ch1')).reference, 'stars-refund:ch1')
})

test('a bigint client returns every flow integer as a BigInt', async () => {
  const c = new CreditSyncClient({ baseUrl: server.baseUrl, ...MEDIA_BOT, bigint: true })
  try {
    const user = await funded(10)
    const hold = await c.holdCredits(user, 4, 'job')
    assert.deepEqual([hold.held, hold.available, hold.hold.amount], [4n, 6n, 4n])
    const b = await c.getBalance(user)
    assert.deepEqual([b.held, b.available], [4n, 6n])
  } finally {
    c.close()
  }
})
