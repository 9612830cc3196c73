'use strict'
// One client, many calls at once: `Promise.all` of 100 calls over the pooled connection,
// the addon inside worker_threads (napi-rs #3443), and clean process exits.

const test = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync, spawn } = require('node:child_process')
const net = require('node:net')
const path = require('node:path')
const { startServer, loadPackage, MEDIA_BOT, repoRoot } = require('./server.js')

let server
test.before(async () => {
  server = await startServer()
})
test.after(async () => server?.stop())

test('Promise.all of 100 calls from one client', async () => {
  const { CreditSyncClient } = loadPackage()
  const client = new CreditSyncClient({ baseUrl: server.baseUrl, ...MEDIA_BOT })
  const adds = Array.from({ length: 100 }, (_, i) => client.addCredits(4001 + (i % 10), i + 1, 'concurrent', `conc_${i}`))
  const results = await Promise.all(adds)
  assert.equal(results.filter((r) => r.success).length, 100)
  // Every user got the amounts of its ten calls, exactly once.
  const balances = await Promise.all(Array.from({ length: 10 }, (_, u) => client.getBalance(4001 + u)))
  for (let u = 0; u < 10; u++) {
    let expected = 0
    for (let i = u; i < 100; i += 10) expected += i + 1
    assert.equal(balances[u].credits, expected, `user ${4001 + u}`)
  }
  // Mixed reads and writes, 100 at once, including racing deducts that must never overdraw.
  const mixed = await Promise.all(
    Array.from({ length: 100 }, (_, i) =>
      i % 2 ? client.getBalance(4001) : client.deductCredits(4001, 100, 'race', `race_${i}`),
    ),
  )
  const deducted = mixed.filter((r, i) => i % 2 === 0 && r.success).length
  const start = balances[0].credits
  assert.equal(deducted, Math.floor(start / 100))
  assert.equal((await client.getBalance(4001)).credits, start - deducted * 100)
  client.close()
})

/** A TCP proxy in front of the server that counts the connections it accepts. */
async function countingProxy(target) {
  const { hostname, port } = new URL(target)
  const sockets = new Set()
  const proxy = net.createServer((client) => {
    proxy.accepted++
    const upstream = net.connect(Number(port), hostname)
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on('error', () => {})
      s.on('close', () => sockets.delete(s))
    }
    client.pipe(upstream).pipe(client)
  })
  proxy.accepted = 0
  await new Promise((r) => proxy.listen(0, '127.0.0.1', r))
  proxy.url = `http://127.0.0.1:${proxy.address().port}`
  proxy.stop = () => {
    for (const s of sockets) s.destroy()
    return new Promise((r) => proxy.close(r))
  }
  return proxy
}

test('calls share pooled keep-alive connections', async () => {
  const { CreditSyncClient } = loadPackage()
  const proxy = await countingProxy(server.baseUrl)
  try {
    const client = new CreditSyncClient({ baseUrl: proxy.url, ...MEDIA_BOT })
    for (let i = 0; i < 20; i++) assert.equal((await client.addCredits(4101, 1, 'sequential')).success, true)
    assert.equal(proxy.accepted, 1, 'twenty calls in a row over one connection')
    await Promise.all(Array.from({ length: 100 }, () => client.getBalance(4101)))
    const afterFirstBurst = proxy.accepted
    assert.ok(afterFirstBurst <= 101, `${afterFirstBurst} connections`)
    await Promise.all(Array.from({ length: 100 }, () => client.getBalance(4101)))
    assert.ok(proxy.accepted - afterFirstBurst <= 5, `a second burst reuses the pool (${proxy.accepted - afterFirstBurst} new)`)
    client.close()
  } finally {
    await proxy.stop()
  }
})

/** Runs a short script in a fresh node process; resolves `{ status, stdout, stderr, ms }`. */
function runScript(source, timeoutMs = 30_000) {
  const started = Date.now()
  const r = spawnSync(process.execPath, ['-e', source], {
    cwd: repoRoot,
    env: { ...process.env, BASE_URL: server.baseUrl, PKG: path.join(repoRoot, 'bindings-node') },
    encoding: 'utf8',
    timeout: timeoutMs,
  })
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - started }
}

test('the addon loaded only inside a Worker: call, terminate, clean exit', () => {
  const r = runScript(`
    const { Worker } = require('node:worker_threads')
    const code = \`
      const { parentPort } = require('node:worker_threads')
      const { CreditSyncClient } = require(process.env.PKG)
      const c = new CreditSyncClient({ baseUrl: process.env.BASE_URL, apiKey: 'media-bot-api-key-2024',
        secretKey: 'your-secret-key-here', source: 'media_bot' })
      c.addCredits(5001, 10, 'from a worker').then((r) => parentPort.postMessage(r.balance))
    \`
    async function once() {
      const w = new Worker(code, { eval: true })
      const balance = await new Promise((res, rej) => { w.once('message', res); w.once('error', rej) })
      await w.terminate()
      return balance
    }
    ;(async () => {
      const seen = []
      for (let i = 0; i < 3; i++) seen.push(await once())
      console.log(JSON.stringify(seen))
    })()
  `)
  assert.equal(r.signal, null, r.stderr)
  assert.equal(r.status, 0, r.stderr)
  assert.equal(r.stdout.trim(), '[10,20,30]')
})

test('terminating a Worker with a call in flight: the process exits cleanly', async () => {
  const sockets = new Set()
  const silent = net.createServer((s) => sockets.add(s))
  await new Promise((r) => silent.listen(0, '127.0.0.1', r))
  try {
    const url = `http://127.0.0.1:${silent.address().port}`
    const child = spawn(
      process.execPath,
      [
        '-e',
        `
        const { Worker } = require('node:worker_threads')
        const w = new Worker(\`
          const { parentPort } = require('node:worker_threads')
          const { CreditSyncClient } = require(process.env.PKG)
          const c = new CreditSyncClient({ baseUrl: process.env.URL, apiKey: 'k', secretKey: 's', source: 'x' })
          c.getBalance(1).catch(() => {})
          parentPort.postMessage('started')
        \`, { eval: true })
        w.once('message', () => setTimeout(() => w.terminate().then(() => console.log('terminated')), 100))
        `,
      ],
      { env: { ...process.env, URL: url, PKG: path.join(repoRoot, 'bindings-node') }, stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err += d))
    const started = Date.now()
    const [code, signal] = await new Promise((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
      child.on('exit', (c, s) => {
        clearTimeout(timer)
        resolve([c, s])
      })
    })
    assert.equal(signal, null, `killed: the process hung\n${err}`)
    assert.equal(code, 0, err)
    assert.equal(out.trim(), 'terminated')
    assert.ok(Date.now() - started < 10_000)
  } finally {
    for (const s of sockets) s.destroy()
    await new Promise((r) => silent.close(r))
  }
})

test('a short script that drops its Promise and closes the client exits at once with 0', () => {
  const r = runScript(`
    const { CreditSyncClient } = require(process.env.PKG)
    const c = new CreditSyncClient({ baseUrl: process.env.BASE_URL, apiKey: 'media-bot-api-key-2024',
      secretKey: 'your-secret-key-here', source: 'media_bot' })
    c.addCredits(5002, 1, 'fire and forget').then((r) => console.log(r.code), (e) => console.log('rejected', e.code))
    c.close()
  `)
  assert.equal(r.status, 0, r.stderr)
  assert.equal(r.stdout.trim(), 'client_closed')
  assert.ok(r.ms < 5000, `took ${r.ms} ms`)
})
