'use strict'
// credit-sync-client/grammy and credit-sync-client/telegraf against the real frameworks: real
// Bot API `Update` objects fed to `bot.handleUpdate` of a grammY and a Telegraf bot whose API
// root is a loopback stand-in (telegram_standin.js), with handlers that reach the real server.

const test = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const execFile = require('node:util').promisify(require('node:child_process').execFile)
const path = require('node:path')
const { startServer, loadPackage, MEDIA_BOT, repoRoot } = require('./server.js')
const { startStandIn, updates, TOKEN } = require('./telegram_standin.js')

const exampleDir = path.join(repoRoot, 'examples', 'node')
// What a bot's own code would require: the frameworks and the subpaths, by name.
const pkgRequire = require('node:module').createRequire(path.join(exampleDir, 'package.json'))

let server
let standin
let nextId = (Date.now() % 1e9) * 1000 + (process.pid % 1000)
test.before(async () => {
  ;[server, standin] = await Promise.all([startServer(), startStandIn()])
})
test.after(async () => {
  await standin?.stop()
  await server?.stop()
})

const frameworks = {
  grammy: async () => {
    const { Bot } = pkgRequire('grammy')
    const bot = new Bot(TOKEN, { client: { apiRoot: standin.apiRoot } })
    await bot.init()
    return bot
  },
  telegraf: async () => {
    const { Telegraf } = pkgRequire('telegraf')
    const bot = new Telegraf(TOKEN, { telegram: { apiRoot: standin.apiRoot } })
    bot.botInfo = await bot.telegram.getMe()
    return bot
  },
}

for (const [name, makeBot] of Object.entries(frameworks)) {
  test(`${name}: ctx.credits, a handler that adds credits, and the Stars payments`, async () => {
    const { CreditSyncClient } = loadPackage()
    const integration = pkgRequire(`credit-sync-client/${name}`)
    const client = new CreditSyncClient({ baseUrl: server.baseUrl, ...MEDIA_BOT })
    const bot = await makeBot()
    const uid = nextId++
    const charge = `${name}-charge-${uid}`
    const charge2 = `${name}-charge2-${uid}`
    const results = []
    const seen = []
    bot.use(integration.credits(client))
    bot.use(integration.starsPayments({
      creditsPerStar: 2,
      onCredit: (ctx, r) => results.push(['credit', r]),
      onRefund: (ctx, r) => results.push(['refund', r]),
    }))
    bot.command('bonus', async (ctx) => {
      seen.push(ctx.credits)
      results.push(['bonus', await ctx.credits.addCredits(ctx.from.id, 5, 'bonus', `${name}-bonus-${uid}`)])
    })
    bot.command('refund', async (ctx) => {
      results.push(['started', await integration.refundStars(ctx, ctx.message.text.split(' ')[1])])
    })
    try {
      await bot.handleUpdate(updates.text(uid, '/bonus'))
      await bot.handleUpdate(updates.preCheckout(uid, `q-${name}`, 50, 'pack-100'))
      await bot.handleUpdate(updates.preCheckout(uid, `q-${name}-usd`, 50, 'pack-100', 'USD'))
      await bot.handleUpdate(updates.successfulPayment(uid, 50, charge, 'pack-100'))
      await bot.handleUpdate(updates.successfulPayment(uid, 50, charge, 'pack-100'))
      await bot.handleUpdate(updates.refundedPayment(uid, 50, charge, 'pack-100'))
      await bot.handleUpdate(updates.refundedPayment(uid, 50, charge, 'pack-100'))
      await bot.handleUpdate(updates.successfulPayment(uid, 10, charge2, 'pack-20'))
      await bot.handleUpdate(updates.text(uid, `/refund ${charge2}`))
      await bot.handleUpdate(updates.refundedPayment(uid, 10, charge2, 'pack-20'))
      assert.deepEqual(seen, [client])
      assert.deepEqual(results.map(([what, r]) => [what, r.success, r.duplicate, r.balance]), [
        ['bonus', true, false, 5],
        ['credit', true, false, 105], // +50 Stars * 2
        ['credit', true, true, 105], // its redelivery
        ['refund', true, false, 5],
        ['refund', true, true, 5], // its redelivery
        ['credit', true, false, 25],
        ['started', true, false, 5], // the refund the bot starts
        ['refund', true, true, 5], // Telegram's refunded_payment for it
      ])
      assert.equal((await client.getBalance(uid)).credits, 5)
    } finally {
      client.close()
    }
    const answers = standin.called('answerPreCheckoutQuery')
    assert.ok(answers.some((p) => p.pre_checkout_query_id === `q-${name}` && p.ok === true), JSON.stringify(answers))
    const usd = answers.find((p) => p.pre_checkout_query_id === `q-${name}-usd`)
    assert.equal(usd.ok, false)
    // The core's texts (credit_sync::stars), the same in every SDK's handlers.
    assert.equal(usd.error_message, 'This bot takes Telegram Stars only.')
    assert.ok(standin.called('refundStarPayment').some((p) => p.user_id === uid && p.telegram_payment_charge_id === charge2))
  })

  test(`${name}: the default replies, and a payload no longer on sale`, async () => {
    const { CreditSyncClient } = loadPackage()
    const integration = pkgRequire(`credit-sync-client/${name}`)
    const client = new CreditSyncClient({ baseUrl: server.baseUrl, ...MEDIA_BOT })
    const bot = await makeBot()
    const uid = nextId++
    bot.use(integration.starsPayments({ client, acceptPayload: async (payload) => payload === 'pack-100' }))
    try {
      await bot.handleUpdate(updates.preCheckout(uid, `q-${name}-old`, 50, 'pack-old'))
      await bot.handleUpdate(updates.successfulPayment(uid, 7, `${name}-reply-${uid}`, 'pack-100'))
      await bot.handleUpdate(updates.refundedPayment(uid, 7, `${name}-reply-${uid}`, 'pack-100'))
    } finally {
      client.close()
    }
    const old = standin.called('answerPreCheckoutQuery').find((p) => p.pre_checkout_query_id === `q-${name}-old`)
    assert.equal(old.ok, false)
    assert.equal(old.error_message, 'This offer is no longer available.')
    const replies = standin.called('sendMessage').filter((p) => p.chat_id === uid).map((p) => p.text)
    assert.deepEqual(replies, ['+7 credits, balance 7', 'Refund: 7 credits taken back, balance 0'])
  })
}

test('both subpaths resolve by name with require and import, without loading the frameworks', () => {
  const script = `
    const g = require('credit-sync-client/grammy'), t = require('credit-sync-client/telegraf')
    const loaded = Object.keys(require.cache).filter((f) => /node_modules[\\\\/](grammy|telegraf)[\\\\/]/.test(f))
    console.log(typeof g.credits, typeof g.starsPayments, typeof t.credits, typeof t.refundStars, loaded.length)`
  const cjs = spawnSync(process.execPath, ['-e', script], { cwd: exampleDir, encoding: 'utf8' })
  assert.equal(cjs.status, 0, cjs.stderr)
  assert.equal(cjs.stdout.trim(), 'function function function function 0')
  const esm = spawnSync(process.execPath, ['--input-type=module', '-e',
    "import { credits } from 'credit-sync-client/grammy'; import t from 'credit-sync-client/telegraf'; console.log(typeof credits, typeof t.starsPayments)"],
  { cwd: exampleDir, encoding: 'utf8' })
  assert.equal(esm.status, 0, esm.stderr)
  assert.equal(esm.stdout.trim(), 'function function')
})

for (const file of ['grammy_bot.js', 'telegraf_bot.js']) {
  // Not spawnSync: the stand-in answers from this process's event loop.
  test(`examples/node/${file} runs against the stand-in (--smoke)`, async () => {
    const { stdout } = await execFile(process.execPath, [path.join(exampleDir, file), '--smoke'], {
      env: {
        ...process.env,
        BOT_TOKEN: TOKEN,
        TELEGRAM_API_ROOT: standin.apiRoot,
        CREDIT_SYNC_BASE_URL: server.baseUrl,
        CREDIT_SYNC_API_KEY: MEDIA_BOT.apiKey,
        CREDIT_SYNC_SECRET_KEY: MEDIA_BOT.secretKey,
        CREDIT_SYNC_SOURCE: MEDIA_BOT.source,
        EXAMPLE_SMOKE_USER: String(nextId++),
      },
      timeout: 30_000,
    })
    assert.match(stdout, /smoke: ok/)
  })
}
