'use strict'
// A loopback stand-in for the Telegram Bot API, so the framework tests send nothing off the
// machine: answers `/bot<token>/<method>` (JSON or form bodies) with plausible results and
// records every call for the test to inspect.

const http = require('node:http')

const BOT_ID = 7000002
const TOKEN = `${BOT_ID}:standin-token`

function parse(contentType, body) {
  if (!body) return {}
  if (contentType.startsWith('application/json')) return JSON.parse(body)
  const value = (raw) => {
    try {
      return JSON.parse(raw)
    } catch {
      return raw
    }
  }
  if (contentType.startsWith('multipart/form-data')) {
    const boundary = /boundary=(?:"([^"]+)"|([^;]+))/.exec(contentType)
    const out = {}
    for (const part of body.split(`--${boundary[1] || boundary[2]}`)) {
      const m = /name="([^"]+)"[^]*?\r\n\r\n([^]*)\r\n$/.exec(part)
      if (m) out[m[1]] = value(m[2])
    }
    return out
  }
  return Object.fromEntries([...new URLSearchParams(body)].map(([k, v]) => [k, value(v)]))
}

/** Starts the stand-in; resolves `{ apiRoot, calls, called(method), stop() }`. */
async function startStandIn() {
  const calls = []
  let messageId = 1000
  const result = (method, params) => {
    if (method === 'getMe') {
      return { id: BOT_ID, is_bot: true, first_name: 'Stand-in', username: 'standin_bot', can_join_groups: true,
        can_read_all_group_messages: false, supports_inline_queries: false }
    }
    if (method === 'sendMessage' || method === 'sendInvoice') {
      return { message_id: ++messageId, date: Math.floor(Date.now() / 1000), chat: { id: params.chat_id, type: 'private' }, text: params.text || '' }
    }
    if (method === 'getUpdates') return []
    return true
  }
  const server = http.createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (d) => (body += d))
    req.on('end', () => {
      const method = new URL(req.url, 'http://x').pathname.split('/').pop()
      const params = parse(req.headers['content-type'] || '', body)
      calls.push({ method, params })
      const out = JSON.stringify({ ok: true, result: result(method, params) })
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) })
      res.end(out)
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const apiRoot = `http://127.0.0.1:${server.address().port}`
  return {
    apiRoot,
    calls,
    called: (method) => calls.filter((c) => c.method === method).map((c) => c.params),
    stop: () => new Promise((resolve) => {
      server.closeAllConnections?.()
      server.close(resolve)
    }),
  }
}

let nextUpdate = 1
const now = () => Math.floor(Date.now() / 1000)
const user = (id) => ({ id, is_bot: false, first_name: 'Buyer' })
const message = (userId, fields) => ({
  update_id: nextUpdate++,
  message: { message_id: nextUpdate, date: now(), from: user(userId), chat: { id: userId, type: 'private', first_name: 'Buyer' }, ...fields },
})

/** Bot API `Update` objects as JSON. */
const updates = {
  text: (userId, text) => message(userId, {
    text,
    entities: text.startsWith('/') ? [{ type: 'bot_command', offset: 0, length: text.split(' ')[0].length }] : [],
  }),
  preCheckout: (userId, id, stars, payload, currency = 'XTR') => ({
    update_id: nextUpdate++,
    pre_checkout_query: { id, from: user(userId), currency, total_amount: stars, invoice_payload: payload },
  }),
  successfulPayment: (userId, stars, chargeId, payload) => message(userId, {
    successful_payment: { currency: 'XTR', total_amount: stars, invoice_payload: payload, telegram_payment_charge_id: chargeId, provider_payment_charge_id: '' },
  }),
  refundedPayment: (userId, stars, chargeId, payload) => message(userId, {
    refunded_payment: { currency: 'XTR', total_amount: stars, invoice_payload: payload, telegram_payment_charge_id: chargeId },
  }),
}

module.exports = { startStandIn, updates, TOKEN, BOT_ID }
