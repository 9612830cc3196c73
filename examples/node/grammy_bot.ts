// The grammY bot of grammy_bot.js with types: `Context & CreditsFlavor` gives `ctx.credits`
// its client type. Checked with `tsc --noEmit --strict` in tests/node/run.sh.
//
//   BOT_TOKEN=123:abc CREDIT_SYNC_BASE_URL=... npx tsx examples/node/grammy_bot.ts   (or Node 22.6+ --experimental-strip-types)

import { Bot, type Context } from 'grammy'
import { CreditSyncClient, makeReference, type SyncResult } from 'credit-sync-client'
import { credits, refundStars, starsPayments, type CreditsFlavor } from 'credit-sync-client/grammy'

type BotContext = Context & CreditsFlavor

const PACKS: Record<string, number> = { 'pack-100': 50 } // payload -> price in Stars

export function build(client: CreditSyncClient, token: string, apiRoot?: string): Bot<BotContext> {
  const bot = new Bot<BotContext>(token, apiRoot ? { client: { apiRoot } } : {})
  bot.use(credits(client))
  bot.use(
    starsPayments<BotContext>({
      creditsPerStar: (payment) => (payment.invoice_payload === 'pack-100' ? 2 : 1),
      acceptPayload: (payload) => payload in PACKS,
      onCredit: async (ctx, result: SyncResult) => {
        if (result.success && !result.duplicate) await ctx.reply(`+${result.change} credits, balance ${result.balance}`)
      },
    }),
  )
  bot.command('balance', async (ctx) => {
    if (!ctx.from) return
    const balance = await ctx.credits.getBalance(ctx.from.id)
    await ctx.reply(`You have ${balance ? balance.credits : 0} credits.`)
  })
  bot.command('bonus', async (ctx) => {
    if (!ctx.from) return
    const today = new Date().toISOString().slice(0, 10)
    const r = await ctx.credits.addCredits(ctx.from.id, 10, 'daily bonus', makeReference('bonus', ctx.from.id, today))
    await ctx.reply(r.success ? `balance ${r.balance}` : `No bonus now: ${r.message}`)
  })
  bot.command('buy', (ctx) =>
    ctx.replyWithInvoice('100 credits', 'A pack of 100 credits', 'pack-100', 'XTR', [
      { label: '100 credits', amount: PACKS['pack-100'] ?? 50 },
    ]),
  )
  bot.command('refund', async (ctx) => {
    const r = await refundStars(ctx, ctx.match.trim())
    if (!r.success) await ctx.reply(`Cannot refund: ${r.message}`)
  })
  return bot
}

if (process.env.BOT_TOKEN && !process.argv.includes('--no-start')) {
  const client = CreditSyncClient.fromEnv()
  const bot = build(client, process.env.BOT_TOKEN, process.env.TELEGRAM_API_ROOT)
  process.once('SIGINT', () => void bot.stop().finally(() => client.close()))
  void bot.start()
}
