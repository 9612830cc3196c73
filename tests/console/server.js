'use strict'
// The console's browser tests' fixtures: the real credit-sync-server on a free port with
// a temporary SQLite database and two console operators (their hashes made by
// `credit-sync-server operators hash-password`), a v2-signed API client to set up data,
// and Debian's chromium driven by playwright-core.

const { spawn, execFileSync } = require('node:child_process')
const crypto = require('node:crypto')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const readline = require('node:readline')

const repoRoot = path.resolve(__dirname, '..', '..')
const shotsDir = path.join(process.env.CARGO_TARGET_DIR || path.join(repoRoot, 'target'), 'console-shots')

const BOT = { source: 'media_bot', apiKey: 'media-bot-api-key-2024', secret: 'your-secret-key-here' }
const OPERATOR = { name: 'ops', password: 'ops-password-1' }
const VIEWER = { name: 'view', password: 'view-password-1' }

function serverBinary() {
  return path.resolve(repoRoot, process.env.CREDIT_SYNC_SERVER_BIN || 'target/debug/credit-sync-server')
}

let hashes
function operatorHashes() {
  if (!hashes) {
    const hash = (password) =>
      execFileSync(serverBinary(), ['operators', 'hash-password'], { input: `${password}\n` }).toString().trim()
    hashes = { ops: hash(OPERATOR.password), view: hash(VIEWER.password) }
  }
  return hashes
}

/** Starts a server; resolves `{ baseUrl, api, stop }` once it prints its listening line. */
async function startServer() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'credit-sync-console-'))
  const config = path.join(dir, 'server.toml')
  const { ops, view } = operatorHashes()
  fs.writeFileSync(
    config,
    `listen = "127.0.0.1:0"
database = "sqlite://${path.join(dir, 'credit-sync.db')}"

[[sources]]
name = "${BOT.source}"
api_key = "${BOT.apiKey}"
secret = "${BOT.secret}"
permissions = ["read", "write", "admin"]

[console]
enabled = true

[[console.operators]]
name = "${OPERATOR.name}"
password_hash = "${ops}"
role = "operator"

[[console.operators]]
name = "${VIEWER.name}"
password_hash = "${view}"
role = "viewer"
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
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
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
  return { baseUrl, api: apiClient(baseUrl), stop }
}

/** v2-signed API calls as media_bot (docs/protocol.md, "v2 signature"). */
function apiClient(baseUrl) {
  let last = 0
  const call = async (method, target, body) => {
    const text = body === undefined ? '' : JSON.stringify(body)
    // Each signature once: a fresh second per call (the server refuses a reused one).
    let t = Math.floor(Date.now() / 1000)
    if (t <= last) t = last + 1
    last = t
    const bodyHash = crypto.createHash('sha256').update(text).digest('hex')
    const v2 = crypto.createHmac('sha256', BOT.secret).update(`${t}\n${method}\n${target}\n${bodyHash}`).digest('hex')
    const response = await fetch(baseUrl + target, {
      method,
      headers: { 'X-Api-Key': BOT.apiKey, 'X-Signature': `t=${t},v2=${v2}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : text,
    })
    const json = await response.json()
    if (!json.success) throw new Error(`${method} ${target}: ${JSON.stringify(json)}`)
    return json
  }
  return {
    register: (telegramId, nickname) => call('POST', '/api/users', { telegram_id: telegramId, nickname }),
    add: (telegramId, amount, reason) => call('POST', '/api/credits/sync', { telegram_id: telegramId, amount, source: BOT.source, reason }),
    hold: (telegramId, amount, reason) => call('POST', '/api/credits/holds', { telegram_id: telegramId, amount, reason }),
    balance: async (telegramId) => (await call('GET', `/api/credits/balance/${telegramId}`)).credits,
  }
}

/** Debian's chromium, headless. */
async function launchBrowser() {
  const { chromium } = require('playwright-core')
  return chromium.launch({
    executablePath: process.env.CHROMIUM_BIN || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  })
}

/** A new page that records console errors and uncaught exceptions into `errors`. */
async function newPage(browser, errors, options = {}) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 760 }, ...options })
  const page = await context.newPage()
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text())
  })
  page.on('pageerror', (err) => errors.push(String(err)))
  page.on('dialog', async (dialog) => {
    errors.push(`a dialog opened: ${dialog.message()}`)
    await dialog.dismiss()
  })
  return page
}

async function signIn(page, baseUrl, who) {
  await page.goto(`${baseUrl}/console/login`)
  await page.fill('input[name=username]', who.name)
  await page.fill('input[name=password]', who.password)
  await Promise.all([page.waitForURL(`${baseUrl}/console`), page.click('button[type=submit]')])
}

async function shot(page, name, options = {}) {
  fs.mkdirSync(shotsDir, { recursive: true })
  await page.screenshot({ path: path.join(shotsDir, `${name}.png`), ...options })
}

module.exports = { startServer, launchBrowser, newPage, signIn, shot, OPERATOR, VIEWER, repoRoot }
