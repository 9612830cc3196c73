'use strict'
// grammY integration (`credit-sync-client/grammy`): `credits(client)` adds `ctx.credits`,
// `starsPayments(options)` handles the Stars updates of docs/stars.md, `refundStars` starts a
// refund. Plain middleware functions, so this module does not load grammY itself.

const { DEFAULT_REFUND_REASON, creditsMiddleware, starsMiddleware, refundStarsWith } = require('./bot-stars.js')

const refundStarPayment = (ctx, userId, chargeId) => ctx.api.refundStarPayment(userId, chargeId)

module.exports = {
  DEFAULT_REFUND_REASON,
  credits: creditsMiddleware,
  starsPayments: starsMiddleware,
  refundStars: (ctx, chargeId, options) => refundStarsWith(refundStarPayment, ctx, chargeId, options),
}
