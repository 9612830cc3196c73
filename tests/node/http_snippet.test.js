'use strict'
// The guide's hand-written JavaScript HTTP snippet (v1 HMAC token), run against the
// real server. It is unchanged except for the URL and keys (the media_bot credentials,
// since its SOURCE is media_bot) and `fetch` standing in for axios.

const test = require('node:test')
const assert = require('node:assert/strict')
const { startServer, loadPackage, MEDIA_BOT } = require('./server.js')

let server
test.before(async () => {
  server = await startServer()
})
test.after(async () => server?.stop())

// `fetch` standing in for axios: `post(url, data, { headers })` resolves `{ data }` on 2xx
// and rejects with `error.response.data` otherwise, as axios does.
const axios = {
  async post(url, data, config) {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...config.headers },
      body: JSON.stringify(data),
    })
    const body = await response.json()
    if (!response.ok) {
      const error = new Error(`Request failed with status code ${response.status}`)
      error.response = { status: response.status, data: body }
      throw error
    }
    return { data: body }
  },
}

function guideSnippet(baseUrl, log) {
  const crypto = require('crypto')

  const API_URL = `${baseUrl}/api/credits/sync`
  const API_KEY = 'media-bot-api-key-2024'
  const SECRET = 'your-secret-key-here'
  const SOURCE = 'media_bot'

  function generateToken(telegramId, amount, timestamp) {
    const message = `${telegramId}:${amount}:${SOURCE}:${timestamp}`
    return crypto.createHmac('sha256', SECRET).update(message).digest('hex')
  }

  async function syncCredits(telegramId, amount, reason) {
    const timestamp = Math.floor(Date.now() / 1000)
    const token = generateToken(telegramId, amount, timestamp)
    try {
      const response = await axios.post(
        API_URL,
        { telegram_id: telegramId, amount: amount, source: SOURCE,
          reason: reason, timestamp: timestamp, token: token },
        { headers: { 'X-Api-Key': API_KEY } }
      )
      return response.data
    } catch (error) {
      log('Error:', error.response?.data || error.message)
      return null
    }
  }

  return (async () => {
    const result = await syncCredits(123456789, 100, '测试奖励')
    log(result)
    return { result, generateToken, syncCredits }
  })()
}

test("the guide's JS snippet syncs credits with a v1 token", async () => {
  const logged = []
  const { result, generateToken, syncCredits } = await guideSnippet(server.baseUrl, (...a) => logged.push(a))
  assert.equal(result.success, true, JSON.stringify(logged))
  assert.equal(result.code, 'ok')
  assert.equal(result.balance, 100)
  assert.equal(result.data.change, 100)

  // The SDK sees the change the snippet made.
  const { CreditSyncClient, generateToken: sdkToken } = loadPackage()
  const client = new CreditSyncClient({ baseUrl: server.baseUrl, ...MEDIA_BOT })
  assert.equal((await client.getBalance(123456789)).credits, 100)
  client.close()

  // The snippet's token and the core's `generateToken` are the same function.
  assert.equal(
    generateToken(123456789, 100, 1700000000),
    sdkToken(MEDIA_BOT.secretKey, 123456789, 100, MEDIA_BOT.source, 1700000000),
  )
  assert.equal(
    sdkToken('your-secret-key-here', 123456789, 100, 'media_bot', 1700000000),
    '1b8cb0674014a1e29c6de19db999e22bf85dfce59f8ce639fb1a8f5630d855c7',
  )

  // A wrong amount in the token is rejected; the snippet logs the server's answer and returns null.
  logged.length = 0
  const bad = await syncCredits(123456789, -999999, 'overdraw')
  assert.equal(bad, null)
  assert.equal(logged[0][0], 'Error:')
  assert.equal(logged[0][1].success, false)
  assert.equal(logged[0][1].code, 'insufficient_credits')
})
