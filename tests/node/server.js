'use strict'
// Starts the real credit-sync-server on a free port with a temporary SQLite
// database (the contract in docs/server.md) and stops it after the tests.

const { spawn } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const readline = require('node:readline')

const repoRoot = path.resolve(__dirname, '..', '..')

/** The guide's credentials: media_bot (admin) and the test script's `test` source. */
const MEDIA_BOT = { apiKey: 'media-bot-api-key-2024', secretKey: 'your-secret-key-here', source: 'media_bot' }
const TEST = { apiKey: 'your-api-key', secretKey: 'your-secret-key', source: 'test' }

function serverBinary() {
  const bin = process.env.CREDIT_SYNC_SERVER_BIN || 'target/debug/credit-sync-server'
  return path.resolve(repoRoot, bin)
}

/**
 * Starts a server; resolves `{ baseUrl, stop }` once it prints its listening line.
 * @param {{ extraConfig?: string, maxAmount?: string }} [opts]
 */
async function startServer(opts = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'credit-sync-node-'))
  const config = path.join(dir, 'server.toml')
  fs.writeFileSync(
    config,
    `listen = "127.0.0.1:0"
database = "sqlite://${path.join(dir, 'credit-sync.db')}"
timestamp_tolerance_secs = 300
max_amount = ${opts.maxAmount || '1000000000000'}

[[sources]]
name = "${MEDIA_BOT.source}"
api_key = "${MEDIA_BOT.apiKey}"
secret = "${MEDIA_BOT.secretKey}"
permissions = ["read", "write", "admin"]

[[sources]]
name = "${TEST.source}"
api_key = "${TEST.apiKey}"
secret = "${TEST.secretKey}"
permissions = ["read", "write"]
${opts.extraConfig || ''}
`,
  )
  const child = spawn(serverBinary(), ['serve', '--config', config], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'warn' },
  })
  let stderr = ''
  child.stderr.on('data', (d) => {
    stderr += d
  })
  const baseUrl = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in 30 s:\n${stderr}`)), 30_000)
    const lines = readline.createInterface({ input: child.stdout })
    lines.on('line', (line) => {
      const m = /^credit-sync-server listening on (http:\/\/\S+)$/.exec(line.trim())
      if (m) {
        clearTimeout(timer)
        resolve(m[1])
      }
    })
    child.on('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`server exited with ${code} before listening:\n${stderr}`))
    })
  })
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r))
      child.kill('SIGTERM')
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))])
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    }
    fs.rmSync(dir, { recursive: true, force: true })
  }
  return { baseUrl, stop }
}

/** The package under test, built into bindings-node/. */
function loadPackage() {
  return require(path.join(repoRoot, 'bindings-node'))
}

module.exports = { startServer, loadPackage, MEDIA_BOT, TEST, repoRoot }
