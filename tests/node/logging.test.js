'use strict'
// The `logger` option: the SDK's log of a client's calls (each attempt, retry and
// backoff, with the request id) reaches the callback, and never a credential.

const test = require('node:test')
const assert = require('node:assert/strict')
const http = require('node:http')
const { startServer, loadPackage, MEDIA_BOT } = require('./server.js')

const { CreditSyncClient } = loadPackage()

let server
test.before(async () => {
  server = await startServer()
})
test.after(async () => {
  await server?.stop()
})

test('attempts, retries and backoff are logged, credentials never', async () => {
  // Two 503s, then the real server: a run with retries that ends with a request id.
  let seen = 0
  const body = JSON.stringify({ success: false, code: 'service_unavailable', message: 'down', balance: null, data: null })
  const upstream = new URL(server.baseUrl)
  const flaky = http.createServer((req, res) => {
    seen += 1
    if (seen <= 2) {
      req.resume()
      req.on('end', () => res.writeHead(503, { 'content-type': 'application/json' }).end(body))
      return
    }
    const up = http.request(
      { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode, answer.headers)
        answer.pipe(res)
      },
    )
    req.pipe(up)
  })
  await new Promise((r) => flaky.listen(0, '127.0.0.1', r))
  const records = []
  try {
    const c = new CreditSyncClient({
      baseUrl: `http://127.0.0.1:${flaky.address().port}`,
      ...MEDIA_BOT,
      maxRetries: 3,
      logger: (level, message) => records.push([level, message]),
    })
    const r = await c.addCredits(7_900_000 + (process.pid % 10_000), 5, 'logged')
    assert.equal(r.success, true)
    assert.equal(r.attempts, 3)
    await new Promise((r) => setImmediate(r))
    c.close()
  } finally {
    flaky.closeAllConnections()
    flaky.close()
  }
  const text = records.map(([l, m]) => `${l} ${m}`).join('\n')
  assert.match(text, /debug credit-sync attempt .*attempt=1/)
  assert.match(text, /info credit-sync retry after backoff .*code=service_unavailable .*backoff_ms=/)
  assert.match(text, /request_id=/)
  for (const secret of [MEDIA_BOT.apiKey, MEDIA_BOT.secretKey]) assert.ok(!text.includes(secret), secret)
  for (const word of ['x-signature', 'x-api-key', 'token=', 'signature=']) assert.ok(!text.toLowerCase().includes(word), word)
})

test('a client without a logger logs nothing and a throwing logger breaks nothing', async () => {
  const c = new CreditSyncClient({ baseUrl: server.baseUrl, ...MEDIA_BOT, logger: () => { throw new Error('boom') } })
  assert.equal(await c.getBalance(7_999_999), null)
  c.close()
})
