'use strict'
// The Stars payment flow of docs/stars.md for the ctx-style Node bot frameworks (grammY and
// Telegraf share `ctx.update`, `ctx.answerPreCheckoutQuery(ok, errorMessage)` and
// `ctx.reply`); grammy.js and telegraf.js differ only in how they call refundStarPayment.
// The money rules (one credit per charge id, refunds as reversals, which pre-checkout
// queries go on) and the defaults and texts are the core's.

const native = require('./native.js')

const STARS = native.starsDefaults()
const DEFAULT_REFUND_REASON = STARS.refundReason

/** Middleware that sets `ctx.credits` to the client. */
function creditsMiddleware(client) {
  if (!client || typeof client.creditStarsPayment !== 'function') {
    throw new TypeError('credits(client) needs a CreditSyncClient')
  }
  return (ctx, next) => {
    ctx.credits = client
    return next()
  }
}

function clientFor(ctx, client) {
  const found = client || ctx.credits
  if (!found) throw new Error('no credit-sync client: pass { client } or use the credits(client) middleware first')
  return found
}

async function replyCredited(ctx, result) {
  if (result.success && !result.duplicate) await ctx.reply(`+${result.change} credits, balance ${result.balance}`)
  else if (!result.success) await ctx.reply(`Payment received; crediting failed (${result.code}). Support will fix it.`)
}

async function replyRefunded(ctx, result) {
  if (result.success && !result.duplicate) {
    const taken = typeof result.change === 'bigint' ? -result.change : -(result.change || 0)
    await ctx.reply(`Refund: ${taken} credits taken back, balance ${result.balance}`)
  }
}

/** Middleware for pre_checkout_query, successful_payment and refunded_payment; others go to `next`. */
function starsMiddleware(options = {}) {
  const {
    client,
    creditsPerStar = STARS.creditsPerStar,
    refundReason = DEFAULT_REFUND_REASON,
    acceptPayload,
    onCredit = replyCredited,
    onRefund = replyRefunded,
  } = options
  return async (ctx, next) => {
    const update = ctx.update
    const query = update.pre_checkout_query
    if (query) {
      const refusal = native.starsPreCheckoutRefusal(query.currency, query.total_amount)
      if (refusal) {
        await ctx.answerPreCheckoutQuery(false, refusal)
      } else if (acceptPayload && !(await acceptPayload(query.invoice_payload, ctx))) {
        await ctx.answerPreCheckoutQuery(false, STARS.offerRefusedMessage)
      } else {
        await ctx.answerPreCheckoutQuery(true)
      }
      return
    }
    const message = update.message
    if (message && message.successful_payment) {
      const payment = message.successful_payment
      const perStar = typeof creditsPerStar === 'function' ? creditsPerStar(payment) : creditsPerStar
      const result = await clientFor(ctx, client).creditStarsPayment(message.from.id, payment, perStar)
      if (onCredit) await onCredit(ctx, result)
      return
    }
    if (message && message.refunded_payment) {
      const chargeId = message.refunded_payment.telegram_payment_charge_id
      const result = await clientFor(ctx, client).refundStarsPayment(chargeId, refundReason)
      if (onRefund) await onRefund(ctx, result)
      return
    }
    return next()
  }
}

/**
 * A refund the bot starts (docs/stars.md step 4): the credits come back first, and only when
 * that succeeded does Telegram return the Stars, through `refundStarPayment(ctx, userId, chargeId)`.
 */
async function refundStarsWith(refundStarPayment, ctx, chargeId, options = {}) {
  const userId = options.userId ?? ctx.from?.id
  if (userId === undefined) throw new TypeError('refundStars: no user id (pass { userId })')
  const result = await clientFor(ctx, options.client).refundStarsPayment(chargeId, options.reason ?? DEFAULT_REFUND_REASON)
  if (result.success) await refundStarPayment(ctx, userId, chargeId)
  return result
}

module.exports = { DEFAULT_REFUND_REASON, creditsMiddleware, starsMiddleware, refundStarsWith }
