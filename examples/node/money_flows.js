// The money flows in Node.js, the way a bot uses them, in the guide's style (check
// `success`): an AI bot holds credits while a job runs and charges only what it used, a
// shop refunds an order, a user gifts credits to a friend, and a Telegram Stars purchase
// is credited (and refunded) exactly once, however often Telegram tells us.
//   credit-sync-server demo              # 127.0.0.1:8080, the guide's credentials
//   node examples/node/money_flows.js    # CREDIT_SYNC_BASE_URL overrides the address
// Exits 0 when everything behaves as described.
'use strict'

const { CreditSyncClient } = require('credit-sync-client')

const client = new CreditSyncClient({
  baseUrl: process.env.CREDIT_SYNC_BASE_URL || 'http://127.0.0.1:8080',
  apiKey: 'media-bot-api-key-2024',
  secretKey: 'your-secret-key-here',
  source: 'media_bot',
})

const failures = []
function check(ok, what) {
  console.log(`  ${ok ? 'ok' : 'FAILED'}: ${what}`)
  if (!ok) failures.push(what)
}

// Stands in for the bot's real work: what it cost, or null when it failed.
const generateImage = (succeeds) => (succeeds ? 12 : null)

async function main() {
  const runId = Date.now()
  const user = 400_000_000 + (runId % 100_000_000) * 10
  const friend = user + 1
  await client.addCredits(user, 100, 'welcome bonus')

  console.log('1. an AI job: hold the most it may cost, charge what it used')
  const hold = await client.holdCredits(user, 20, 'image generation', null, 300)
  if (!hold.success) throw new Error(`cannot start the job: ${hold.message}`)
  console.log(`  held ${hold.held}, available ${hold.available}`)
  check(hold.available === 80, 'the hold is out of reach')
  const cost = generateImage(true)
  if (cost !== null) {
    const captured = await client.captureHold(hold.holdId, cost)
    console.log(`  charged ${cost}, balance ${captured.credits}`)
    check(captured.success && captured.credits === 88 && captured.held === 0, 'charged 12, the other 8 released')
  } else {
    await client.voidHold(hold.holdId)
  }
  const failedJob = await client.holdCredits(user, 20, 'image generation')
  if (generateImage(false) === null) {
    const voided = await client.voidHold(failedJob.holdId)
    check(voided.success && voided.hold.state === 'voided', 'a failed job costs nothing')
  }
  const late = await client.captureHold(failedJob.holdId)
  console.log(`  a late capture: ${late.code} (${late.message})`)
  check(!late.success && late.hold.state === 'voided', 'a hold resolves once')

  console.log('2. the shop refunds an order')
  const order = `order_${runId}-poster`
  await client.deductCredits(user, 40, 'poster', order)
  const refund = await client.reverseRecord({ reference: order, amount: 15, reason: 'poster arrived damaged' })
  console.log(`  gave back ${refund.change}, ${refund.remaining} left to refund, balance ${refund.balance}`)
  check(refund.success && refund.balance === 63 && refund.remaining === 25, 'partial refund')
  const tooMuch = await client.reverseRecord({ reference: order, amount: 26, reason: 'again' })
  check(tooMuch.code === 'reversal_exceeds_record', 'never more than the order')

  console.log('3. a gift to a friend')
  const gift = await client.transferCredits(user, friend, 30, 'birthday gift')
  console.log(`  ${user} now has ${gift.from?.balance}, ${friend} has ${gift.to?.balance}`)
  check(gift.success && gift.from.balance === 33 && gift.to.balance === 30, 'both balances moved together')

  console.log('4. a Telegram Stars purchase (successful_payment), delivered twice')
  // grammY's / Telegraf's `ctx.message.successful_payment`, as the Bot API sends it.
  const payment = {
    currency: 'XTR',
    total_amount: 25,
    telegram_payment_charge_id: `stxDemo${runId}`,
    invoice_payload: 'pack-100', // never the key: an old invoice can be paid again
  }
  const paid = await client.creditStarsPayment(user, payment, 4)
  const again = await client.creditStarsPayment(user, payment, 4)
  console.log(`  credited ${paid.change}, balance ${paid.balance}; again: duplicate ${again.duplicate}`)
  check(paid.balance === 133 && again.duplicate && again.balance === 133, 'one credit per charge id')
  const dollars = await client.creditStarsPayment(user, { ...payment, currency: 'USD' })
  check(!dollars.success, 'only XTR payments buy credits')
  console.log('  refundStarPayment, then the refunded_payment update')
  const refunded = await client.refundStarsPayment(payment.telegram_payment_charge_id, 'Stars refunded')
  const toldAgain = await client.refundStarsPayment(payment.telegram_payment_charge_id, 'Stars refunded')
  check(refunded.balance === 33 && toldAgain.duplicate, 'one refund, however often it is told')

  const balance = await client.getBalance(user)
  console.log(`balance: ${balance.credits} credits, ${balance.held} held, ${balance.available} available`)
  check(balance.credits === 33 && balance.held === 0, 'the ledger adds up')
}

main()
  .then(() => {
    if (failures.length) {
      console.log(`money flows: ${failures.length} check(s) failed`)
      process.exitCode = 1
    } else {
      console.log('money flows: every scenario behaved as described')
    }
  })
  .catch((e) => {
    console.error(`money flows failed: [${e.code}] ${e.message}`)
    process.exitCode = 1
  })
  .finally(() => client.close())
