'use strict'
// A complete grammY bot that sells credits for Telegram Stars (docs/stars.md): /balance,
// /bonus (a daily reward), /buy (an invoice), /refund <charge id>, and the ready-made Stars
// middleware of credit-sync-client/grammy.
//
//   BOT_TOKEN=123:abc CREDIT_SYNC_BASE_URL=... CREDIT_SYNC_API_KEY=... \
//   CREDIT_SYNC_SECRET_KEY=... CREDIT_SYNC_SOURCE=... node examples/node/grammy_bot.js
//
// TELEGRAM_API_ROOT points it at another Bot API server (a local one, or the tests' stand-in);
// `--smoke` feeds it a few updates instead of polling and exits.

const { Bot } = require('grammy')
const { CreditSyncClient, makeReference } = require('credit-sync-client')
const { credits, starsPayments, refundStars } = require('credit-sync-client/grammy')

const PACKS = { 'pack-100': 50 } // payload -> price in Stars; 2 credits per Star

function build(client) {
  const apiRoot = process.env.TELEGRAM_API_ROOT
  const bot = new Bot(process.env.BOT_TOKEN, apiRoot ? { client: { apiRoot } } : {})
  bot.use(credits(client))
  bot.use(starsPayments({ creditsPerStar: 2, acceptPayload: (payload) => payload in PACKS }))

  bot.command('balance', async (ctx) => {
    const balance = await ctx.credits.getBalance(ctx.from.id)
    await ctx.reply(`You have ${balance ? balance.credits : 0} credits.`)
  })
  bot.command('bonus', async (ctx) => {
    const today = new Date().toISOString().slice(0, 10)
    const r = await ctx.credits.addCredits(ctx.from.id, 10, 'daily bonus', makeReference('bonus', ctx.from.id, today))
    if (r.duplicate) await ctx.reply("Today's bonus is already yours.")
    else if (r.success) await ctx.reply(`+10 credits, balance ${r.balance}`)
    else await ctx.reply(`No bonus now: ${r.message}`)
  })
  bot.command('buy', (ctx) =>
    ctx.replyWithInvoice('100 credits', 'A pack of 100 credits', 'pack-100', 'XTR', [{ label: '100 credits', amount: PACKS['pack-100'] }]))
  bot.command('refund', async (ctx) => {
    if (!ctx.match) return ctx.reply('Usage: /refund <telegram_payment_charge_id>')
    const r = await refundStars(ctx, ctx.match.trim())
    if (!r.success) await ctx.reply(`Cannot refund: ${r.message}`)
  })
  return bot
}

async function smoke(bot, client) {
  const uid = Number(process.env.EXAMPLE_SMOKE_USER || 424242)
  const from = { id: uid, is_bot: false, first_name: 'Smoke' }
  const chat = { id: uid, type: 'private' }
  const paid = { currency: 'XTR', total_amount: 50, invoice_payload: 'pack-100', telegram_payment_charge_id: `smoke-${uid}`, provider_payment_charge_id: '' }
  const msg = (n, fields) => ({ update_id: n, message: { message_id: n, date: 0, from, chat, ...fields } })
  await bot.init()
  for (const update of [
    msg(1, { text: '/bonus', entities: [{ type: 'bot_command', offset: 0, length: 6 }] }),
    { update_id: 2, pre_checkout_query: { id: 'smoke-q', from, currency: 'XTR', total_amount: 50, invoice_payload: 'pack-100' } },
    msg(3, { successful_payment: paid }),
    msg(4, { successful_payment: paid }),
  ]) await bot.handleUpdate(update)
  const balance = await client.getBalance(uid)
  if (!balance || balance.credits !== 110) throw new Error(`unexpected balance ${JSON.stringify(balance)}`)
  console.log('smoke: ok')
}

async function main() {
  const client = CreditSyncClient.fromEnv()
  const bot = build(client)
  if (process.argv.includes('--smoke')) {
    try {
      await smoke(bot, client)
    } finally {
      client.close()
    }
    return
  }
  const stop = () => bot.stop().finally(() => client.close())
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  await bot.start({ allowed_updates: ['message', 'pre_checkout_query'] })
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})
