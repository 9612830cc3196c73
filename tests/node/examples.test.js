'use strict'
// The repo's Node examples run against the real server: `require('credit-sync-client')`
// (CommonJS) and `import ... from 'credit-sync-client'` (ESM) both resolve and work.

const test = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { startServer, repoRoot } = require('./server.js')

let server
test.before(async () => {
  server = await startServer()
})
test.after(async () => server?.stop())

for (const file of ['quickstart.js', 'quickstart.mjs']) {
  test(`examples/node/${file} runs the guide's quick start`, () => {
    const r = spawnSync(process.execPath, [path.join(repoRoot, 'examples', 'node', file)], {
      env: { ...process.env, CREDIT_SYNC_BASE_URL: server.baseUrl },
      encoding: 'utf8',
      timeout: 60_000,
    })
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`)
    assert.match(r.stdout, /✅ OK! balance: \d+/)
    assert.match(r.stdout, /3\. succeeded: 3, failed: 0/)
    assert.match(r.stdout, /quick start( \(ESM\))?: ok/)
  })
}

test('examples/node/money_flows.js runs every money flow', () => {
  const r = spawnSync(process.execPath, [path.join(repoRoot, 'examples', 'node', 'money_flows.js')], {
    env: { ...process.env, CREDIT_SYNC_BASE_URL: server.baseUrl },
    encoding: 'utf8',
    timeout: 60_000,
  })
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`)
  assert.match(r.stdout, /money flows: every scenario behaved as described/)
  assert.doesNotMatch(r.stdout, /FAILED/)
})

test('the package loads by name with require and import', () => {
  const cwd = path.join(repoRoot, 'examples', 'node')
  const cjs = spawnSync(process.execPath, ['-e', "const p = require('credit-sync-client'); console.log(typeof p.CreditSyncClient, p.version())"], { cwd, encoding: 'utf8' })
  assert.equal(cjs.status, 0, cjs.stderr)
  const esm = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', "import { CreditSyncClient, version } from 'credit-sync-client'; import pkg from 'credit-sync-client'; console.log(typeof CreditSyncClient, version(), pkg.CreditSyncClient === CreditSyncClient)"],
    { cwd, encoding: 'utf8' },
  )
  assert.equal(esm.status, 0, esm.stderr)
  const version = require('../../bindings-node/package.json').version
  assert.equal(cjs.stdout.trim(), `function ${version}`)
  assert.equal(esm.stdout.trim(), `function ${version} true`)
})

test('the built package works from a fresh folder (its `files` plus the addon)', () => {
  const pkgDir = path.join(repoRoot, 'bindings-node')
  const manifest = require(path.join(pkgDir, 'package.json'))
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'credit-sync-fresh-'))
  try {
    const target = path.join(dir, 'node_modules', manifest.name)
    fs.mkdirSync(target, { recursive: true })
    const addons = fs.readdirSync(pkgDir).filter((f) => f.endsWith('.node'))
    assert.ok(addons.length > 0, 'the addon is built')
    for (const f of [...manifest.files, ...addons, 'package.json']) fs.copyFileSync(path.join(pkgDir, f), path.join(target, f))
    const script = `
      const { CreditSyncClient } = require('credit-sync-client')
      const c = new CreditSyncClient({ baseUrl: process.env.CREDIT_SYNC_BASE_URL, apiKey: 'media-bot-api-key-2024',
        secretKey: 'your-secret-key-here', source: 'media_bot' })
      c.addCredits(6001, 7, 'fresh folder').then((r) => { console.log(r.balance); c.close() })
    `
    const r = spawnSync(process.execPath, ['-e', script], {
      cwd: dir,
      env: { ...process.env, CREDIT_SYNC_BASE_URL: server.baseUrl },
      encoding: 'utf8',
      timeout: 30_000,
    })
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout.trim(), '7')
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
