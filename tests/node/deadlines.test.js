'use strict'
// Deadlines, the retry budget, proxies and CA bundles through the addon: `timeoutMs`
// bounds the whole call, a storm of 503s empties the budget so calls fail fast,
// HTTP_PROXY / NO_PROXY / `proxy` choose the route. Time bounds are generous.

const test = require('node:test')
const assert = require('node:assert/strict')
const http = require('node:http')
const net = require('node:net')
const path = require('node:path')
const { startServer, loadPackage, MEDIA_BOT, repoRoot } = require('./server.js')

const { CreditSyncClient, CreditSyncError, TimeoutError } = loadPackage()
const TEST_CA = path.join(repoRoot, 'core', 'tests', 'data', 'test-ca.pem')

let server
test.before(async () => {
  server = await startServer()
})
test.after(async () => {
  await server?.stop()
})

/** Accepts connections and never answers. */
async function silentServer() {
  const sockets = new Set()
  const s = net.createServer((c) => {
    sockets.add(c)
    c.on('error', () => {})
  })
  await new Promise((r) => s.listen(0, '127.0.0.1', r))
  return {
    url: `http://127.0.0.1:${s.address().port}`,
    close: () => {
      for (const c of sockets) c.destroy()
      s.close()
    },
  }
}

async function listen(handler) {
  const s = http.createServer(handler)
  await new Promise((r) => s.listen(0, '127.0.0.1', r))
  return { server: s, url: `http://127.0.0.1:${s.address().port}`, close: () => s.closeAllConnections() || s.close() }
}

/** A forward proxy for plain http (absolute-form requests) that counts what it forwards. */
async function forwardProxy() {
  const p = {
    requests: 0,
  }
  const l = await listen((req, res) => {
    if (!req.url.startsWith('http://')) {
      res.writeHead(400).end()
      return
    }
    p.requests += 1
    const target = new URL(req.url)
    const headers = { ...req.headers }
    delete headers['proxy-connection']
    const up = http.request(
      { host: target.hostname, port: target.port, path: target.pathname + target.search, method: req.method, headers },
      (answer) => {
        res.writeHead(answer.statusCode, answer.headers)
        answer.pipe(res)
      },
    )
    up.on('error', () => res.destroy())
    req.pipe(up)
  })
  return Object.assign(p, l)
}

test('a silent server costs the deadline, not the retries', async () => {
  const silent = await silentServer()
  try {
    const c = new CreditSyncClient({ baseUrl: silent.url, apiKey: 'k', secretKey: 's', source: 'src', timeoutMs: 2000, maxRetries: 3 })
    const start = Date.now()
    const r = await c.addCredits(1, 1, 'x', 'deadline-js-1')
    const took = Date.now() - start
    assert.equal(r.success, false)
    assert.equal(r.code, 'timeout')
    assert.equal(r.reference, 'deadline-js-1')
    assert.ok(took >= 1900 && took < 5000, `${took} ms`)
    await assert.rejects(c.getBalance(1), TimeoutError)
    c.close()
  } finally {
    silent.close()
  }
})

test('short attempts are retried inside the deadline', async () => {
  const silent = await silentServer()
  try {
    const c = new CreditSyncClient({
      baseUrl: silent.url, apiKey: 'k', secretKey: 's', source: 'src',
      timeoutMs: 1500, attemptTimeoutMs: 300, maxRetries: 20,
    })
    const start = Date.now()
    const r = await c.addCredits(1, 1, 'x')
    assert.equal(r.code, 'timeout')
    assert.ok(r.reference.startsWith('auto-'))
    assert.ok(r.attempts >= 2, `${r.attempts} attempts`)
    assert.ok(Date.now() - start < 4000)
    c.close()
  } finally {
    silent.close()
  }
})

test('a retry storm empties the budget and calls fail fast', async () => {
  const body = JSON.stringify({ success: false, code: 'service_unavailable', message: 'down', balance: null, data: null })
  let requests = 0
  const down = await listen((req, res) => {
    requests += 1
    req.resume()
    req.on('end', () => res.writeHead(503, { 'content-type': 'application/json' }).end(body))
  })
  try {
    const storm = async (retryBudget, calls) => {
      const c = new CreditSyncClient({ baseUrl: down.url, apiKey: 'k', secretKey: 's', source: 'src', maxRetries: 3, retryBudget })
      const results = await Promise.all(Array.from({ length: calls }, (_, i) => c.addCredits(i + 1, 1, 'storm')))
      c.close()
      return results
    }
    // 50 tokens: ten retries for the whole client.
    let results = await storm(50, 40)
    assert.deepEqual(new Set(results.map((r) => r.code)), new Set(['service_unavailable']))
    assert.ok(results.every((r) => r.reference))
    const fast = results.filter((r) => r.attempts === 1).length
    assert.ok(fast >= 20, `${fast} failed fast`)
    assert.ok(requests <= 50, `${requests} requests`)

    // No budget: every call takes its retries.
    requests = 0
    results = await storm(false, 5)
    assert.ok(results.every((r) => r.code === 'service_unavailable' && r.attempts === 4))
    assert.equal(requests, 20)
  } finally {
    down.close()
  }
})

test('proxies from the environment and explicit ones', async () => {
  const proxy = await forwardProxy()
  const saved = { ...process.env }
  try {
    for (const n of ['HTTPS_PROXY', 'ALL_PROXY', 'NO_PROXY', 'https_proxy', 'all_proxy', 'no_proxy']) delete process.env[n]
    process.env.HTTP_PROXY = process.env.http_proxy = proxy.url
    const options = { baseUrl: server.baseUrl, ...MEDIA_BOT }
    let c = new CreditSyncClient(options)
    const u = 7_700_000 + (process.pid % 100_000)
    assert.equal((await c.addCredits(u, 5, 'via proxy')).success, true)
    assert.equal((await c.getBalance(u)).credits, 5)
    assert.equal(proxy.requests, 2)

    process.env.NO_PROXY = process.env.no_proxy = '127.0.0.1'
    await new CreditSyncClient(options).getBalance(u)
    assert.equal(proxy.requests, 2, 'NO_PROXY bypasses the proxy')

    // `proxy` overrides the environment; `proxy: ""` means direct.
    await new CreditSyncClient({ ...options, proxy: proxy.url }).getBalance(u)
    assert.equal(proxy.requests, 3)
    delete process.env.NO_PROXY
    delete process.env.no_proxy
    await new CreditSyncClient({ ...options, proxy: '' }).getBalance(u)
    assert.equal(proxy.requests, 3, 'direct ignores HTTP_PROXY')
  } finally {
    for (const n of ['HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy']) {
      if (saved[n] === undefined) delete process.env[n]
      else process.env[n] = saved[n]
    }
    proxy.close()
  }
})

test('caFile: a PEM bundle loads, a bad one is a clear invalid_argument', async () => {
  const options = { baseUrl: server.baseUrl, ...MEDIA_BOT }
  const c = new CreditSyncClient({ ...options, caFile: TEST_CA })
  assert.equal(await c.getBalance(7_800_001), null)
  c.close()
  assert.throws(
    () => new CreditSyncClient({ ...options, caFile: '/nonexistent/ca.pem' }),
    (e) => e instanceof CreditSyncError && e.code === 'invalid_argument' && e.message.includes('/nonexistent/ca.pem'),
  )
  assert.throws(
    () => new CreditSyncClient({ ...options, caFile: path.join(repoRoot, 'Cargo.toml') }),
    (e) => e.code === 'invalid_argument' && e.message.includes('ca_file'),
  )
})
