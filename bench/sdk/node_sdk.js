#!/usr/bin/env node
'use strict'
// Node SDK benchmark: the SDK's `addCredits` against the guide's hand-written snippet,
// with `fetch` standing in for axios, sequential and with Promise.all concurrency.
//
// Each variant adds 1 credit to users spread over --users and runs for --duration seconds
// in all (or --count calls per round), after --warmup calls; the variants take turns in
// --rounds rounds (default 5) so that a change in machine load hits each alike. It prints
// calls/s, p50, p99 and the failed calls of each, and the ratios of the competing ones. Without --base-url it starts its own release server on a free
// loopback port with a temp SQLite database.
//
//   bash bench/sdk/setup.sh rust node      # release server + release addon in target/bench-sdk/
//   node bench/sdk/node_sdk.js --duration 10
//
// The addon is loaded from target/bench-sdk/credit-sync.linux-x64-gnu.node (the release
// build) through NAPI_RS_NATIVE_LIBRARY_PATH unless that variable is already set, so the
// debug build the Node tests leave in bindings-node/ is never measured by mistake.
//
// Variants (--variants, comma separated; default: all):
//   guide-fetch      the guide's `syncCredits`, `axios.post` replaced by `fetch`, one call after the other
//   sdk              `client.addCredits`, one call after the other
//   guide-fetch-all  --concurrency loops of the snippet under Promise.all
//   sdk-all          --concurrency loops of `addCredits` on one client under Promise.all

const crypto = require('crypto')
const fs = require('fs')
const os = require('os')
const path = require('path')
const { spawn } = require('child_process')
const readline = require('readline')

const ROOT = path.resolve(__dirname, '..', '..')
const ADDON = path.join(ROOT, 'target', 'bench-sdk', 'credit-sync.linux-x64-gnu.node')
if (!process.env.NAPI_RS_NATIVE_LIBRARY_PATH) {
  if (!fs.existsSync(ADDON)) {
    console.error(`no release addon at ${ADDON}: run \`bash bench/sdk/setup.sh node\``)
    process.exit(2)
  }
  process.env.NAPI_RS_NATIVE_LIBRARY_PATH = ADDON
}
const { CreditSyncClient } = require(path.join(ROOT, 'bindings-node'))

// The guide's credentials for source `media_bot`.
const API_KEY = 'media-bot-api-key-2024'
const SECRET = 'your-secret-key-here'
const SOURCE = 'media_bot'
const ALL = ['guide-fetch', 'sdk', 'guide-fetch-all', 'sdk-all']

function parseArgs(argv) {
  const args = { duration: 10, rounds: 5, count: 100000, warmup: 50, concurrency: 16, users: 10000, variants: ALL.join(','), json: false }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const key = a.replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase())
    if (a === '--json') args.json = true
    else if (a === '--help' || a === '-h') {
      console.log(fs.readFileSync(__filename, 'utf8').split('\n').filter((l) => l.startsWith('//')).join('\n'))
      process.exit(0)
    } else if (a.startsWith('--') && i + 1 < argv.length && key in { ...args, baseUrl: 1, serverBin: 1 }) {
      const v = argv[++i]
      args[key] = typeof args[key] === 'number' ? Number(v) : v
    } else {
      console.error(`unknown argument ${a}`)
      process.exit(2)
    }
  }
  return args
}

// Starts `credit-sync-server serve` on a free port with a temp DB; resolves { baseUrl, stop }.
async function startServer(serverBin) {
  const bin = serverBin || process.env.CREDIT_SYNC_SERVER_BIN || path.join(ROOT, 'target', 'release', 'credit-sync-server')
  if (!fs.existsSync(bin)) throw new Error(`no server binary at ${bin}: run \`bash bench/sdk/setup.sh rust\``)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'credit-sync-node-bench-'))
  const config = path.join(dir, 'bench.toml')
  fs.writeFileSync(config, [
    'listen = "127.0.0.1:0"',
    `database = "sqlite://${dir}/bench.db"`,
    '',
    '[[sources]]',
    `name = "${SOURCE}"`, `api_key = "${API_KEY}"`, `secret = "${SECRET}"`,
    'permissions = ["read", "write", "admin"]', '',
  ].join('\n'))
  const child = spawn(bin, ['serve', '--config', config], { stdio: ['ignore', 'pipe', 'ignore'] })
  const lines = readline.createInterface({ input: child.stdout })
  const line = await new Promise((resolve, reject) => {
    lines.once('line', resolve)
    child.once('exit', (code) => reject(new Error(`server exited with ${code} before listening`)))
  })
  const baseUrl = line.trim().split(' ').pop()
  if (!baseUrl.startsWith('http')) throw new Error(`server did not report its address (got ${line})`)
  const stop = () => {
    child.kill('SIGKILL')
    fs.rmSync(dir, { recursive: true, force: true })
  }
  return { baseUrl, stop }
}

// --- the guide's snippet ("Way 2: direct HTTP requests", JavaScript), `axios.post` replaced
// by `fetch` (Node 20's built-in, which keeps connections alive); API_URL and the
// credentials point at the bench server's `media_bot` source.
let API_URL = ''

function generateToken(telegramId, amount, timestamp) {
  const message = `${telegramId}:${amount}:${SOURCE}:${timestamp}`
  return crypto.createHmac('sha256', SECRET).update(message).digest('hex')
}

async function syncCredits(telegramId, amount, reason) {
  const timestamp = Math.floor(Date.now() / 1000)
  const token = generateToken(telegramId, amount, timestamp)
  try {
    const response = await fetch(API_URL, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Api-Key': API_KEY },
      body: JSON.stringify({ telegram_id: telegramId, amount: amount, source: SOURCE,
        reason: reason, timestamp: timestamp, token: token }),
    })
    if (!response.ok) throw Object.assign(new Error(`HTTP ${response.status}`), { response: { data: await response.json() } })
    return await response.json()
  } catch (error) {
    console.error('Error:', error.response?.data || error.message)
    return null
  }
}
// --- end of the guide's snippet

function percentile(sorted, q) {
  if (sorted.length === 0) return 0
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(sorted.length * q)))
  return sorted[rank - 1]
}

// Runs `loops` concurrent loops of `call(user) -> Promise<boolean>` (1 = sequential) for
// `seconds`; returns the raw sample.
async function measure(name, call, loops, seconds, warmup, args, nextUser) {
  for (let i = 0; i < warmup; i++) await call(nextUser())
  const latencies = []
  let errors = 0
  let issued = 0
  const started = performance.now()
  const deadline = started + seconds * 1000
  const loop = async () => {
    while (issued++ < args.count) {
      const t0 = performance.now()
      let ok
      try {
        ok = await call(nextUser())
      } catch (e) {
        ok = false
      }
      const t1 = performance.now()
      latencies.push(t1 - t0)
      if (!ok) errors++
      if (t1 >= deadline) break
    }
  }
  await Promise.all(Array.from({ length: loops }, loop))
  return { name, loops, latencies, errors, elapsed: (performance.now() - started) / 1000 }
}

function summarize(samples) {
  const latencies = samples.flatMap((s) => s.latencies).sort((a, b) => a - b)
  const elapsed = samples.reduce((t, s) => t + s.elapsed, 0)
  return { variant: samples[0].name, concurrency: samples[0].loops, calls: latencies.length,
    calls_per_sec: latencies.length / elapsed, p50_ms: percentile(latencies, 0.5),
    p99_ms: percentile(latencies, 0.99), errors: samples.reduce((t, s) => t + s.errors, 0) }
}

async function main() {
  const args = parseArgs(process.argv.slice(2))
  const variants = args.variants.split(',').map((v) => v.trim()).filter(Boolean)
  for (const v of variants) if (!ALL.includes(v)) throw new Error(`unknown variant ${v}`)
  const server = args.baseUrl ? { baseUrl: args.baseUrl.replace(/\/$/, ''), stop: () => {} } : await startServer(args.serverBin)
  try {
    API_URL = `${server.baseUrl}/api/credits/sync`
    console.log(`node_sdk: ${server.baseUrl} duration=${args.duration}s rounds=${args.rounds} count=${args.count} concurrency=${args.concurrency} ` +
      `node=${process.version} addon=${process.env.NAPI_RS_NATIVE_LIBRARY_PATH}`)
    const client = new CreditSyncClient({ baseUrl: server.baseUrl, apiKey: API_KEY, secretKey: SECRET, source: SOURCE })
    let n = 0
    const nextUser = () => 1 + (n++ % args.users)
    const guide = async (u) => (await syncCredits(u, 1, 'bench'))?.success === true
    const sdk = async (u) => (await client.addCredits(u, 1, 'bench')).success === true
    const samples = Object.fromEntries(variants.map((v) => [v, []]))
    const rounds = Math.max(1, args.rounds)
    for (let round = 0; round < rounds; round++) {
      for (const v of variants) {
        const call = v.startsWith('sdk') ? sdk : guide
        samples[v].push(await measure(v, call, v.endsWith('-all') ? args.concurrency : 1, args.duration / rounds,
          round === 0 ? args.warmup : 0, args, nextUser))
      }
    }
    const results = {}
    for (const v of variants) {
      const r = summarize(samples[v])
      results[v] = r
      if (args.json) console.log(JSON.stringify(r))
      else {
        console.log(`${v.padEnd(16)} c=${String(r.concurrency).padEnd(3)} calls=${String(r.calls).padEnd(7)} ` +
          `${r.calls_per_sec.toFixed(0).padStart(8)} calls/s  p50=${r.p50_ms.toFixed(2)}ms p99=${r.p99_ms.toFixed(2)}ms errors=${r.errors}`)
      }
    }
    const ratio = (a, b) => {
      if (results[a] && results[b]) console.log(`ratio ${a} / ${b} = ${(results[a].calls_per_sec / results[b].calls_per_sec).toFixed(2)}x`)
    }
    ratio('sdk', 'guide-fetch')
    ratio('sdk-all', 'guide-fetch-all')
    ratio('sdk-all', 'sdk')
    client.close?.()
    process.exitCode = Object.values(results).some((r) => r.errors) ? 1 : 0
  } finally {
    server.stop()
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
