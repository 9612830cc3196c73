'use strict'
// Telegraf integration (`credit-sync-client/telegraf`): `credits(client)` adds `ctx.credits`,
// `starsPayments(options)` handles the Stars updates of docs/stars.md, `refundStars` starts a
// refund. Plain middleware functions, so this module does not load Telegraf itself.

const { DEFAULT_REFUND_REASON, creditsMiddleware, starsMiddleware, refundStarsWith } = require('./bot-stars.js')

// Telegraf 4.16 predates refundStarPayment (Bot API 7.4): call it by name.
const refundStarPayment = (ctx, userId, chargeId) =>
  ctx.telegram.callApi('refundStarPayment', { user_id: userId, telegram_payment_charge_id: chargeId })

module.exports = {
  DEFAULT_REFUND_REASON,
  credits: creditsMiddleware,
  starsPayments: starsMiddleware,
  refundStars: (ctx, chargeId, options) => refundStarsWith(refundStarPayment, ctx, chargeId, options),
}
