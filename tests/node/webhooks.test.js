// The official `standardwebhooks` package (npm) verifies every delivery the real server
// sends, including during a rotation with two secrets: a loopback receiver (node:http)
// fails each event's first attempt, so the re-signed retries are checked too.
const test = require('node:test')
const assert = require('node:assert/strict')
const http = require('node:http')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn, execFileSync } = require('node:child_process')
const readline = require('node:readline')
const { repoRoot } = require('./server.js')

const { Webhook } = require('node:module').createRequire(path.join(repoRoot, 'bindings-node', 'package.json'))('standardwebhooks')

const OLD = 'whsec_' + Buffer.from('the-old-secret-of-the-rotation!!').toString('base64')
const NEW = 'whsec_' + Buffer.from('the-new-secret-of-the-rotation!!').toString('base64')

function serverBinary () {
  const bin = process.env.CREDIT_SYNC_SERVER_BIN || 'target/debug/credit-sync-server'
  return path.isAbsolute(bin) ? bin : path.join(repoRoot, bin)
}

test('standardwebhooks verifies every attempt with either rotated secret', { timeout: 60_000 }, async () => {
  const received = []
  const seen = new Set()
  const hook = http.createServer((req, res) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      const id = req.headers['webhook-id']
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') })
      res.writeHead(seen.has(id) ? 200 : 500, { 'content-length': '0' })
      seen.add(id)
      res.end()
    })
  })
  await new Promise((resolve) => hook.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${hook.address().port}/hook`
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'credit-sync-node-hooks-'))
  const cfg = path.join(dir, 'server.toml')
  fs.writeFileSync(cfg, [
    'listen = "127.0.0.1:0"',
    `database = "sqlite://${path.join(dir, 'credit-sync.db')}"`,
    '',
    '[webhook_delivery]',
    'first_retry_ms = 10', 'max_retry_ms = 50', 'attempt_timeout_ms = 1000', 'poll_ms = 100', 'lease_ms = 3000',
    '',
    '[[webhooks]]', `url = "${url}"`, `secrets = ["${OLD}", "${NEW}"]`, ''
  ].join('\n'))
  const server = spawn(serverBinary(), ['serve', '--config', cfg], { stdio: ['ignore', 'pipe', 'ignore'] })
  const lines = readline.createInterface({ input: server.stdout })
  try {
    let timer
    const [line] = await Promise.race([
      new Promise((resolve) => lines.once('line', (l) => resolve([l]))),
      new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('no listening line')), 15_000) })
    ]).finally(() => clearTimeout(timer))
    assert.match(line, /listening on http:\/\//)
    // Users registered by the admin command: `user.registered` events.
    for (const id of ['1', '2', '3']) {
      execFileSync(serverBinary(), ['users', 'add', id, '--config', cfg], { timeout: 30_000 })
    }
    const deadline = Date.now() + 20_000
    while (received.length < 6 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  } finally {
    server.kill('SIGTERM')
    await new Promise((resolve) => server.once('exit', resolve))
    lines.close()
    hook.closeAllConnections()
    hook.close()
  }
  assert.equal(received.length, 6)
  for (const { headers, body } of received) {
    for (const secret of [OLD, NEW]) {
      const event = new Webhook(secret).verify(body, headers)
      assert.equal(event.id, headers['webhook-id'])
      assert.equal(event.type, 'user.registered')
    }
  }
  const ids = received.map((r) => r.headers['webhook-id'])
  // Each event twice (the 500, then the re-signed retry), in order.
  assert.deepEqual(ids.filter((_, i) => i % 2 === 0), ids.filter((_, i) => i % 2 === 1))
  assert.deepEqual(received.filter((_, i) => i % 2 === 0).map((r) => JSON.parse(r.body).telegram_id), [1, 2, 3])
})
