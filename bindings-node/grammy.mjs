// ES module entry of credit-sync-client/grammy: the same functions as grammy.js.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const mod = require('./grammy.js')

export const { DEFAULT_REFUND_REASON, credits, starsPayments, refundStars } = mod
export default mod
