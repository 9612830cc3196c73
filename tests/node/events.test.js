'use strict'
// The event feed from Node against the real server: getEvents paging and long polls,
// `events()` resumed from a stored cursor (each event once, `break` ends it and lets the
// process exit), and verifyWebhook against signatures made by the official
// `standardwebhooks` package.

const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const fs = require('node:fs')
const os = require('node:os')
const { execFile, spawn } = require('node:child_process')
const { startServer, loadPackage, MEDIA_BOT, TEST, repoRoot } = require('./server.js')
const { startStandIn, TOKEN } = require('./telegram_standin.js')

const { Webhook } = require('node:module').createRequire(path.join(repoRoot, 'bindings-node', 'package.json'))('standardwebhooks')

let server
let nextId = (Date.now() % 1e9) * 1000 + (process.pid % 1000)
test.before(async () => {
  server = await startServer()
})
test.after(async () => {
  await server?.stop()
})

/** The cursor after everything already in the feed. */
async function tail(client) {
  let after
  for (;;) {
    const page = await client.getEvents({ after, limit: 500 })
    if (page.events.length === 0) return page.nextCursor
    after = page.nextCursor
  }
}

test('getEvents pages oldest first, each event with its cursor', { timeout: 30_000 }, async () => {
  const { CreditSyncClient } = loadPackage()
  const client = new CreditSyncClient({ baseUrl: server.baseUrl, ...MEDIA_BOT })
  const other = new CreditSyncClient({ baseUrl: server.baseUrl, ...TEST })
  try {
    const start = await tail(client)
    const uid = nextId++
    for (let i = 1; i <= 5; i++) assert.ok((await other.addCredits(uid, i, 'paging', `paging-${uid}-${i}`)).success)
    const first = await client.getEvents({ after: start, limit: 3 })
    assert.equal(first.events.length, 3)
    const second = await client.getEvents({ after: first.nextCursor, limit: 3 })
    const events = [...first.events, ...second.events].filter((e) => e.telegramId === uid && e.type === 'credits.added')
    assert.deepEqual(events.map((e) => e.data.change), [1, 2, 3, 4, 5])
    for (const e of events) {
      assert.match(e.id, /^evt_/)
      assert.equal(typeof e.seq, 'number')
      assert.equal(e.source, TEST.source)
      assert.equal(e.cursor, String(e.seq))
      assert.match(e.createdAt, /Z$/)
    }
    assert.equal(first.nextCursor, first.events[2].cursor)
    const empty = await client.getEvents({ after: second.nextCursor })
    assert.deepEqual(empty.events, [])
    assert.equal(empty.nextCursor, second.nextCursor)
    await assert.rejects(client.getEvents({ after: 'nope' }), (e) => e.code === 'invalid_argument')
    await assert.rejects(client.getEvents({ limit: 0 }), (e) => e.code === 'invalid_argument')
    const big = new CreditSyncClient({ baseUrl: server.baseUrl, ...MEDIA_BOT, bigint: true })
    try {
      const page = await big.getEvents({ after: start, limit: 1 })
      assert.equal(typeof page.events[0].seq, 'bigint')
      assert.equal(typeof page.events[0].telegramId, 'bigint')
    } finally {
      big.close()
    }
  } finally {
    client.close()
    other.close()
  }
})

test('a long poll wakes on a new event', { timeout: 30_000 }, async () => {
  const { CreditSyncClient } = loadPackage()
  const client = new CreditSyncClient({ baseUrl: server.baseUrl, ...MEDIA_BOT })
  const other = new CreditSyncClient({ baseUrl: server.baseUrl, ...TEST })
  try {
    const after = await tail(client)
    const uid = nextId++
    const started = Date.now()
    const poll = client.getEvents({ after, wait: 20 })
    // The event loop stays free while the poll waits.
    let ticks = 0
    const ticker = setInterval(() => ticks++, 20)
    await new Promise((resolve) => setTimeout(resolve, 500))
    assert.ok((await other.addCredits(uid, 7, 'wake', `wake-${uid}`)).success)
    const page = await poll
    clearInterval(ticker)
    const waited = Date.now() - started
    assert.ok(waited >= 400 && waited < 10_000, `waited ${waited} ms`)
    assert.ok(ticks >= 10, `only ${ticks} timer ticks during the poll`)
    assert.ok(page.events.some((e) => e.telegramId === uid && e.type === 'credits.added'))
  } finally {
    client.close()
    other.close()
  }
})

test('events() resumed from a stored cursor sees every event exactly once; break ends it', { timeout: 60_000 }, async () => {
  const { CreditSyncClient } = loadPackage()
  const client = new CreditSyncClient({ baseUrl: server.baseUrl, ...MEDIA_BOT })
  const other = new CreditSyncClient({ baseUrl: server.baseUrl, ...TEST })
  try {
    const uid = nextId++
    const stored = await tail(client)
    for (let i = 1; i <= 3; i++) await other.addCredits(uid, i, 'feed', `feed-${uid}-${i}`)
    const all = []
    const seen = []
    let cursor = stored
    for await (const e of client.events({ after: stored })) {
      assert.equal(e.telegramId, uid)
      all.push(e)
      cursor = e.cursor
      // The first credit registers the user too (`user.registered`).
      if (e.type !== 'credits.added') continue
      seen.push(e)
      // Two more while the feed is open: the long poll picks them up.
      if (seen.length === 3) setTimeout(() => { other.addCredits(uid, 4, 'feed', `feed-${uid}-4`).then(() => other.addCredits(uid, 5, 'feed', `feed-${uid}-5`)) }, 300)
      if (seen.length === 5) break
    }
    assert.deepEqual(seen.map((e) => e.data.change), [1, 2, 3, 4, 5])
    assert.equal(new Set(seen.map((e) => e.id)).size, 5)
    // Resuming from the stored cursor again: the same events, then nothing new.
    const again = await client.getEvents({ after: stored })
    assert.deepEqual(again.events.map((e) => e.id), all.map((e) => e.id))
    assert.equal(again.nextCursor, cursor)
    await assert.rejects(async () => {
      for await (const e of client.events({ after: 'nope' })) void e
    }, (e) => e.code === 'invalid_argument')
  } finally {
    client.close()
    other.close()
  }
  // A closed client's feed rejects with client_closed instead of hanging.
  await assert.rejects(async () => {
    for await (const e of client.events()) void e
  }, (e) => e.code === 'client_closed')
})

test('a script that breaks out of events() exits by itself', { timeout: 60_000 }, async () => {
  const script = `
    const { CreditSyncClient } = require(${JSON.stringify(path.join(repoRoot, 'bindings-node'))})
    const client = new CreditSyncClient({ baseUrl: ${JSON.stringify(server.baseUrl)}, ...${JSON.stringify(MEDIA_BOT)} })
    ;(async () => {
      let n = 0
      for await (const e of client.events()) { if (++n === 1) break }
      console.log('broke after', n)
    })()
  `
  const started = Date.now()
  const out = await new Promise((resolve, reject) => {
    execFile(process.execPath, ['-e', script], { timeout: 20_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)))
  })
  assert.match(out, /broke after 1/)
  assert.ok(Date.now() - started < 15_000)
})

const SECRET = 'whsec_' + Buffer.from('a-webhook-secret-of-32-bytes!!!!').toString('base64')

function signed(body, { secret = SECRET, at = new Date(), id = 'msg_' + nextId++ } = {}) {
  const signature = new Webhook(secret).sign(id, at, body)
  return { 'webhook-id': id, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': signature }
}

test('verifyWebhook accepts standardwebhooks signatures and rejects each failure with its code', () => {
  const { verifyWebhook, WebhookVerificationError, CreditSyncError } = loadPackage()
  const body = JSON.stringify({ id: 'evt_1', seq: 42, type: 'credits.added', created_at: '2026-01-01T00:00:00Z', source: 'other_bot', telegram_id: 5, data: { change: 3 } })
  const headers = signed(body)
  const event = verifyWebhook(headers, body, SECRET)
  assert.deepEqual({ ...event }, { id: 'evt_1', seq: 42, type: 'credits.added', createdAt: '2026-01-01T00:00:00Z', source: 'other_bot', telegramId: 5, data: { change: 3 }, cursor: '42' })
  // Every headers shape and body type, and a rotation's two secrets.
  const other = 'whsec_' + Buffer.from('another-secret-of-the-rotation!!').toString('base64')
  assert.equal(verifyWebhook(new Headers(headers), Buffer.from(body), [other, SECRET]).seq, 42)
  assert.equal(verifyWebhook(Object.entries(headers), new TextEncoder().encode(body), SECRET).id, 'evt_1')
  assert.equal(typeof verifyWebhook(headers, body, SECRET, { bigint: true }).seq, 'bigint')
  const fails = (code, h, b, s) => assert.throws(() => verifyWebhook(h, b, s), (e) => {
    assert.ok(e instanceof WebhookVerificationError && e instanceof CreditSyncError, String(e))
    assert.equal(e.code, code)
    return true
  })
  fails('webhook_signature_invalid', headers, body.replace('"change":3', '"change":300'), SECRET)
  fails('webhook_signature_invalid', headers, body, other)
  fails('webhook_timestamp_out_of_tolerance', signed(body, { at: new Date(Date.now() - 10 * 60_000) }), body, SECRET)
  fails('webhook_header_malformed', { ...headers, 'webhook-timestamp': 'yesterday' }, body, SECRET)
  fails('webhook_header_malformed', { 'webhook-id': headers['webhook-id'] }, body, SECRET)
  fails('webhook_secret_malformed', headers, body, 'not-a-secret')
  assert.throws(() => verifyWebhook(null, body, SECRET), TypeError)
})

test('the grammY notices bot tells a user about another bot\'s credit, not its own', { timeout: 60_000 }, async () => {
  const { CreditSyncClient } = loadPackage()
  const standin = await startStandIn()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'credit-sync-notices-'))
  const cursorFile = path.join(dir, 'cursor')
  const own = new CreditSyncClient({ baseUrl: server.baseUrl, ...MEDIA_BOT })
  const other = new CreditSyncClient({ baseUrl: server.baseUrl, ...TEST })
  let bot
  try {
    // Resume from a stored cursor: earlier tests' credits are not announced again.
    fs.writeFileSync(cursorFile, await tail(own))
    const mine = nextId++
    const theirs = nextId++
    assert.ok((await own.addCredits(mine, 4, 'own bonus', `notice-own-${mine}`)).success)
    assert.ok((await other.addCredits(theirs, 9, 'gift', `notice-other-${theirs}`)).success)
    bot = spawn(process.execPath, [path.join(repoRoot, 'examples', 'node', 'grammy_credit_notices.js')], {
      env: {
        ...process.env, BOT_TOKEN: TOKEN, TELEGRAM_API_ROOT: standin.apiRoot, CURSOR_FILE: cursorFile,
        CREDIT_SYNC_BASE_URL: server.baseUrl, CREDIT_SYNC_API_KEY: MEDIA_BOT.apiKey,
        CREDIT_SYNC_SECRET_KEY: MEDIA_BOT.secretKey, CREDIT_SYNC_SOURCE: MEDIA_BOT.source,
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    })
    const exited = new Promise((resolve) => bot.once('exit', (code, signal) => resolve({ code, signal })))
    const sent = () => standin.called('sendMessage').filter((p) => p.chat_id === theirs)
    const deadline = Date.now() + 20_000
    while (sent().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
    assert.deepEqual(sent().map((p) => p.text), [`You got 9 credits from ${TEST.source}.`])
    // A credit while the bot long-polls arrives too.
    assert.ok((await other.addCredits(theirs, 2, 'gift', `notice-other2-${theirs}`)).success)
    while (sent().length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
    assert.equal(sent().length, 2)
    bot.kill('SIGTERM')
    assert.deepEqual(await exited, { code: 0, signal: null })
    bot = null
    assert.equal(standin.called('sendMessage').filter((p) => p.chat_id === mine).length, 0)
    assert.equal(fs.readFileSync(cursorFile, 'utf8'), await tail(own))
  } finally {
    bot?.kill('SIGKILL')
    own.close()
    other.close()
    await standin.stop()
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
