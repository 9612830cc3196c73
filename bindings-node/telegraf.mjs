// ES module entry of credit-sync-client/telegraf: the same functions as telegraf.js.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const mod = require('./telegraf.js')

export const { DEFAULT_REFUND_REASON, credits, starsPayments, refundStars } = mod
export default mod
