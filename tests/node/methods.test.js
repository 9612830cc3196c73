'use strict'
// Every method of CreditSyncClient and every error code a client can meet, against
// the real server (plus tiny local servers for the transport-level failures).

const test = require('node:test')
const assert = require('node:assert/strict')
const http = require('node:http')
const net = require('node:net')
const { startServer, loadPackage, MEDIA_BOT, TEST } = require('./server.js')

const pkg = loadPackage()
const {
  CreditSyncClient,
  CreditSyncError,
  AuthenticationError,
  InsufficientCreditsError,
  ValidationError,
  RateLimitError,
  TransportError,
  TimeoutError,
  ServerError,
  ClientClosedError,
} = pkg

let server
let client
test.before(async () => {
  server = await startServer({
    extraConfig: `
[[sources]]
name = "limited"
api_key = "limited-key"
secret = "limited-secret"
rate_limit_per_sec = 1
`,
  })
  client = new CreditSyncClient({ baseUrl: server.baseUrl, ...MEDIA_BOT })
})
test.after(async () => {
  client?.close()
  await server?.stop()
})

/** Asserts that `promise` rejects with an error of `cls` whose `.code` is `code`. */
async function rejectsWith(promise, cls, code) {
  const err = await promise.then(
    (v) => assert.fail(`expected ${code}, resolved ${JSON.stringify(v)}`),
    (e) => e,
  )
  assert.ok(err instanceof Error, 'an Error')
  assert.ok(err instanceof cls, `${err.name} is a ${cls.name}: ${err.message}`)
  assert.equal(err.code, code, err.message)
  assert.ok(err.message.length > 0)
  return err
}

/**
 * Asserts that a write resolves with `success: false` and `code` (the core's one failure
 * rule), and that `throwIfFailed` throws an error of `cls` carrying the result's details.
 */
async function writeFailsWith(promise, cls, code) {
  const result = await promise
  assert.equal(result.success, false, JSON.stringify(result))
  assert.equal(result.code, code, result.message)
  let err
  try {
    pkg.throwIfFailed(result)
  } catch (e) {
    err = e
  }
  assert.ok(err instanceof cls, `${err && err.name} is a ${cls.name}`)
  assert.equal(err.code, code)
  assert.equal(err.result, result)
  assert.equal(err.reference, result.reference ?? undefined)
  return err
}

/** A local HTTP server answering every request with `handler`. */
async function fakeServer(handler) {
  const srv = http.createServer(handler)
  await new Promise((r) => srv.listen(0, '127.0.0.1', r))
  return { url: `http://127.0.0.1:${srv.address().port}`, close: () => new Promise((r) => srv.close(r)) }
}

/** A TCP server that accepts connections and never answers. */
async function silentServer() {
  const sockets = new Set()
  const srv = net.createServer((s) => sockets.add(s))
  await new Promise((r) => srv.listen(0, '127.0.0.1', r))
  return {
    url: `http://127.0.0.1:${srv.address().port}`,
    close: () => {
      for (const s of sockets) s.destroy()
      return new Promise((r) => srv.close(r))
    },
  }
}

test('addCredits / deductCredits: results in camelCase', async () => {
  const added = await client.addCredits(2001, 100, 'reward', 'm_add_1')
  assert.deepEqual(
    { ...added, data: undefined },
    {
      success: true,
      code: 'ok',
      message: added.message,
      balance: 100,
      duplicate: false,
      recordId: added.recordId,
      telegramId: 2001,
      change: 100,
      reference: 'm_add_1',
      attempts: 1,
      retryable: false,
      requestId: added.requestId,
      kind: null,
      field: null,
      fields: null,
      serverTime: null,
      retryAfterMs: null,
      status: null,
      data: undefined,
    },
  )
  assert.equal(typeof added.requestId, 'string', "the server's X-Request-Id")
  const spent = await client.deductCredits('2001', 30n, 'spend', 'm_deduct_1')
  assert.equal(spent.success, true)
  assert.equal(spent.change, -30)
  assert.equal(spent.balance, 70)
  assert.equal(spent.data.change, -30)
  // Replaying a deduct that succeeded still succeeds, once.
  const replay = await client.deductCredits(2001n, 30, 'spend', 'm_deduct_1')
  assert.equal(replay.success, true)
  assert.equal(replay.duplicate, true)
  assert.equal((await client.getBalance(2001)).credits, 70)
})

test('telegramId accepts a safe integer, a BigInt or a decimal string', async () => {
  for (const id of [2002, 2002n, '2002']) {
    const r = await client.addCredits(id, 1, 'id forms')
    assert.equal(r.success, true)
    assert.equal(r.telegramId, 2002)
  }
  assert.equal((await client.getBalance('2002')).credits, 3)
})

test('a wrong telegramId or amount rejects with a TypeError naming the argument', async () => {
  for (const bad of [1.5, NaN, -1, 0, Infinity, '12abc', '', '1e3', null, undefined, {}, true, 2 ** 53]) {
    const err = await client.addCredits(bad, 1, 'x').then(
      () => assert.fail(`accepted ${String(bad)}`),
      (e) => e,
    )
    assert.ok(err instanceof TypeError, `${String(bad)}: ${err}`)
    assert.match(err.message, /telegramId/)
    assert.equal(err.code, 'invalid_argument')
  }
  for (const method of ['getBalance', 'getRecords', 'registerUser']) {
    const err = await client[method](1.5).catch((e) => e)
    assert.ok(err instanceof TypeError, method)
    assert.match(err.message, /telegramId/)
  }
  const amountErr = await client.deductCredits(1, 2.5, 'x').catch((e) => e)
  assert.ok(amountErr instanceof TypeError)
  assert.match(amountErr.message, /amount/)
  const reasonErr = await client.addCredits(1, 1, 42).catch((e) => e)
  assert.ok(reasonErr instanceof TypeError)
  assert.match(reasonErr.message, /reason/)
  const itemErr = await client.batchSync([{ telegramId: 1, amount: 1, reason: 'ok' }, { telegramId: 'x', amount: 1, reason: 'r' }]).catch((e) => e)
  assert.ok(itemErr instanceof TypeError)
  assert.match(itemErr.message, /items\[1\]\.telegramId/)
  for (const [call, name] of [
    [() => client.getRecords(1, 5), /options must be an object/],
    [() => client.getRecords(1, { limit: -1 }), /options\.limit/],
    [() => client.getRecords(1, { limit: 'x' }), /limit/],
    [() => client.batchSync([], { atomic: 'yes' }), /atomic/],
    [() => client.registerUser(1, 42), /nickname/],
    [() => client.addCredits(1, 1, 'x', 42), /reference/],
  ]) {
    const err = await call().catch((e) => e)
    assert.ok(err instanceof TypeError, `${name}: ${err}`)
    assert.equal(err.code, 'invalid_argument')
    assert.match(err.message, name)
  }
  const snake = await client.batchSync([{ telegram_id: 1, amount: 1, reason: 'r' }]).catch((e) => e)
  assert.ok(snake instanceof TypeError)
  assert.match(snake.message, /items\[0\] has an unexpected key "telegram_id"/)
  const notArray = await client.batchSync('nope').catch((e) => e)
  assert.ok(notArray instanceof TypeError)
  assert.match(notArray.message, /items/)
})

test('batchSync: per-item results, partial failure, atomic abort', async () => {
  const partial = await client.batchSync([
    { telegramId: 2003, amount: 10, reason: 'a', reference: 'm_batch_1' },
    { telegramId: 2003, amount: -1000, reason: 'too much' },
  ])
  assert.equal(partial.success, false)
  assert.equal(partial.code, 'partial_failure')
  assert.equal(partial.data.success, 1)
  assert.equal(partial.data.failed, 1)
  assert.equal(partial.data.results[0].reference, 'm_batch_1')
  assert.equal(partial.data.results[1].code, 'insufficient_credits')

  const atomic = await client.batchSync(
    [
      { telegramId: 2004, amount: 10, reason: 'a' },
      { telegramId: 2004, amount: -1000, reason: 'b' },
    ],
    { atomic: true },
  )
  assert.equal(atomic.success, false)
  assert.deepEqual(
    atomic.data.results.map((r) => r.code).sort(),
    ['batch_aborted', 'insufficient_credits'],
  )
  const untouched = await client.getBalance(2004)
  assert.ok(untouched === null || untouched.credits === 0, 'an aborted batch writes nothing')

  const empty = await client.batchSync([])
  assert.equal(empty.success, false)
  assert.equal(empty.code, 'batch_too_large')
  const tooMany = Array.from({ length: 1001 }, (_, i) => ({ telegramId: 1 + i, amount: 1, reason: 'x' }))
  assert.equal((await client.batchSync(tooMany)).code, 'batch_too_large')
})

test('getRecords pages with limit and cursor', async () => {
  for (let i = 0; i < 5; i++) await client.addCredits(2005, i + 1, `r${i}`, `m_rec_${i}`)
  const first = await client.getRecords(2005, { limit: 2 })
  assert.deepEqual(
    first.records.map((r) => r.change),
    [5, 4],
  )
  assert.equal(typeof first.nextCursor, 'string')
  const r = first.records[0]
  assert.equal(r.balanceAfter, 15)
  assert.equal(r.reason, 'r4')
  assert.equal(r.source, 'media_bot')
  assert.equal(r.externalReference, 'm_rec_4')
  assert.ok(!Number.isNaN(Date.parse(r.createdAt)))
  const second = await client.getRecords(2005n, { limit: 2, cursor: first.nextCursor })
  assert.deepEqual(
    second.records.map((r) => r.change),
    [3, 2],
  )
  const last = await client.getRecords('2005', { limit: 2, cursor: second.nextCursor })
  assert.deepEqual(
    last.records.map((r) => r.change),
    [1],
  )
  assert.equal(last.nextCursor, null)
  assert.equal((await client.getRecords(2005)).records.length, 5)
})

test('registerUser creates and renames; getBalance is null for an unknown user', async () => {
  const created = await client.registerUser(2006, 'bob')
  assert.deepEqual(created, { telegramId: 2006, credits: 0, nickname: 'bob', created: true })
  const renamed = await client.registerUser(2006, 'robert')
  assert.equal(renamed.created, false)
  assert.equal(renamed.nickname, 'robert')
  assert.deepEqual(await client.getBalance(2006), { telegramId: 2006, credits: 0, held: 0, available: 0, nickname: 'robert' })
  for (const bad of ['a\nb', 'n'.repeat(129)]) {
    await assert.rejects(
      () => client.registerUser(2006, bad),
      (e) => e instanceof ValidationError && e.code === 'invalid_nickname' && e.field === 'nickname',
    )
  }
  assert.equal(await client.getBalance(2999), null)
})

test('business failures resolve with success: false and a stable code', async () => {
  const cases = [
    [() => client.deductCredits(2998, 5, 'nobody'), 'user_not_found'],
    [() => client.deductCredits(2001, 10 ** 9, 'too much'), 'insufficient_credits'],
    [() => client.addCredits(2001, 5, 'changed', 'm_add_1'), 'reference_conflict'],
    [() => client.addCredits(2001, 0, 'zero'), 'invalid_amount'],
    [() => client.addCredits(2001, 10 ** 13, 'huge'), 'amount_too_large'],
    [() => client.addCredits(2001, 1, 'x'.repeat(300)), 'invalid_reason'],
    [() => client.addCredits(2001, 1, 'bad ref', 'has spaces!'), 'invalid_reference'],
  ]
  for (const [call, code] of cases) {
    const r = await call()
    assert.equal(r.success, false, code)
    assert.equal(r.code, code, r.message)
    assert.ok(r.message.length > 0)
    assert.equal(r.data, null)
  }
})

test('payload_too_large: a batch over 1 MiB resolves with success: false', async () => {
  const reason = '🎁'.repeat(256) // 1 KiB of UTF-8 per item
  const items = Array.from({ length: 1000 }, (_, i) => ({ telegramId: 5000 + i, amount: 1, reason }))
  const r = await client.batchSync(items)
  assert.equal(r.success, false)
  assert.equal(r.code, 'payload_too_large')
})

test('not_found: a base URL with a wrong path prefix rejects with ServerError', async () => {
  const c = new CreditSyncClient({ ...MEDIA_BOT, baseUrl: `${server.baseUrl}/wrong-prefix`, maxRetries: 0 })
  await rejectsWith(c.getBalance(1), ServerError, 'not_found')
  c.close()
})

test('the server-only codes, by raw requests (the SDK never sends such requests)', async () => {
  const post = (path, body, headers = {}) =>
    fetch(`${server.baseUrl}${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Api-Key': MEDIA_BOT.apiKey, ...headers },
      body,
    })
  // The guide's v1 token, computed here: the SDK's generateToken refuses a non-positive id.
  const signedV1 = (body) => {
    const timestamp = Math.floor(Date.now() / 1000)
    const message = `${body.telegram_id}:${body.amount}:${body.source}:${timestamp}`
    const token = require('node:crypto').createHmac('sha256', MEDIA_BOT.secretKey).update(message).digest('hex')
    return { ...body, timestamp, token }
  }
  const cases = [
    [() => post('/api/credits/sync', '{not json'), 400, 'invalid_json'],
    [() => post('/api/credits/sync', JSON.stringify({ amount: 1 })), 400, 'missing_field'],
    [() => post('/api/credits/sync', JSON.stringify({ telegram_id: 'x', amount: 1, source: 'media_bot', reason: 'r' })), 400, 'invalid_field'],
    [() => post('/api/credits/sync', JSON.stringify(signedV1({ telegram_id: -1, amount: 1, source: 'media_bot', reason: 'r' }))), 400, 'invalid_telegram_id'],
    [() => post('/api/credits/sync', 'telegram_id=1', { 'Content-Type': 'text/plain' }), 415, 'unsupported_media_type'],
    [() => fetch(`${server.baseUrl}/api/credits/sync`, { method: 'DELETE', headers: { 'X-Api-Key': MEDIA_BOT.apiKey } }), 405, 'method_not_allowed'],
    [() => fetch(`${server.baseUrl}/api/nothing-here`), 404, 'not_found'],
  ]
  for (const [request, status, code] of cases) {
    const response = await request()
    const body = await response.json()
    assert.equal(body.code, code, JSON.stringify(body))
    assert.equal(response.status, status, code)
    assert.equal(body.success, false)
  }
})

test('throwIfFailed turns a failed result into its error class', async () => {
  const ok = await client.addCredits(2010, 5, 'ok')
  assert.equal(pkg.throwIfFailed(ok), ok)
  const failed = await client.deductCredits(2010, 500, 'too much')
  const err = (() => {
    try {
      pkg.throwIfFailed(failed)
    } catch (e) {
      return e
    }
  })()
  assert.ok(err instanceof InsufficientCreditsError)
  assert.ok(err instanceof CreditSyncError)
  assert.equal(err.name, 'InsufficientCreditsError')
  assert.equal(err.code, 'insufficient_credits')
  assert.equal(err.balance, 5)
  assert.equal(err.result, failed)
  assert.equal(err.message, failed.message)
})

test('balance_overflow on a server that allows huge amounts', async () => {
  // max_amount is a server-wide setting: a second server with the largest one.
  const srv = await startServer({ maxAmount: '9223372036854775807' })
  try {
    // Balances beyond 2^53 - 1 need BigInt results (tests/node/bigint.test.js).
    const c = new CreditSyncClient({ baseUrl: srv.baseUrl, ...MEDIA_BOT, bigint: true })
    const half = 2n ** 62n
    assert.equal((await c.addCredits(7, half, 'big', 'of_1')).success, true)
    const r = await c.addCredits(7, half, 'big', 'of_2')
    assert.equal(r.success, false)
    assert.equal(r.code, 'balance_overflow')
    c.close()
  } finally {
    await srv.stop()
  }
})

test('authentication errors: writes resolve success: false (AuthenticationError via throwIfFailed), reads reject', async () => {
  const wrongKey = new CreditSyncClient({ ...MEDIA_BOT, baseUrl: server.baseUrl, apiKey: 'nope' })
  await writeFailsWith(wrongKey.addCredits(1, 1, 'x'), AuthenticationError, 'unauthorized')
  await rejectsWith(wrongKey.getBalance(1), AuthenticationError, 'unauthorized')
  const wrongSecret = new CreditSyncClient({ ...MEDIA_BOT, baseUrl: server.baseUrl, secretKey: 'nope' })
  await writeFailsWith(wrongSecret.addCredits(1, 1, 'x'), AuthenticationError, 'invalid_signature')
  const mismatch = new CreditSyncClient({ ...MEDIA_BOT, baseUrl: server.baseUrl, source: 'test' })
  await writeFailsWith(mismatch.addCredits(1, 1, 'x'), AuthenticationError, 'source_mismatch')
  const notAdmin = new CreditSyncClient({ baseUrl: server.baseUrl, ...TEST })
  await rejectsWith(notAdmin.registerUser(1, 'x'), AuthenticationError, 'forbidden')
  for (const c of [wrongKey, wrongSecret, mismatch, notAdmin]) c.close()
})

test('timestamp_out_of_window from the server (raw request with an old v1 timestamp)', async () => {
  const { generateToken } = pkg
  const timestamp = Math.floor(Date.now() / 1000) - 3600
  const response = await fetch(`${server.baseUrl}/api/credits/sync`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Api-Key': MEDIA_BOT.apiKey },
    body: JSON.stringify({
      telegram_id: 1,
      amount: 1,
      source: 'media_bot',
      reason: 'old',
      timestamp,
      token: generateToken(MEDIA_BOT.secretKey, 1, 1, 'media_bot', timestamp),
    }),
  })
  const body = await response.json()
  assert.equal(response.status, 401)
  assert.equal(body.code, 'timestamp_out_of_window')
  assert.equal(typeof body.server_time, 'number')
})

test('timestamp_out_of_window rejects with TimestampError when the server keeps refusing the clock', async () => {
  let calls = 0
  const serverTime = Math.floor(Date.now() / 1000) - 7200
  const fake = await fakeServer((req, res) => {
    calls++
    res.writeHead(401, { 'Content-Type': 'application/json' })
    res.end(JSON.stringify({ success: false, code: 'timestamp_out_of_window', message: 'clock', balance: null, data: null, server_time: serverTime }))
  })
  try {
    const c = new CreditSyncClient({ ...MEDIA_BOT, baseUrl: fake.url })
    const err = await writeFailsWith(c.addCredits(1, 1, 'x'), pkg.TimestampError, 'timestamp_out_of_window')
    assert.ok(err instanceof AuthenticationError)
    assert.equal(err.serverTime, serverTime)
    assert.equal(calls, 2, 'one retry with the corrected clock')
    c.close()
  } finally {
    await fake.close()
  }
})

test('rate_limited carries Retry-After as retryAfterMs', async () => {
  const fake = await fakeServer((req, res) => {
    res.writeHead(429, { 'Content-Type': 'application/json', 'Retry-After': '7' })
    res.end(JSON.stringify({ success: false, code: 'rate_limited', message: 'slow down', balance: null, data: null }))
  })
  try {
    const c = new CreditSyncClient({ ...MEDIA_BOT, baseUrl: fake.url, maxRetries: 0 })
    const err = await rejectsWith(c.getBalance(1), RateLimitError, 'rate_limited')
    assert.equal(err.retryAfterMs, 7000)
    c.close()
  } finally {
    await fake.close()
  }
})

test('rate_limited resolves success: false once retries are off; throwIfFailed throws RateLimitError', async () => {
  const limited = new CreditSyncClient({
    baseUrl: server.baseUrl,
    apiKey: 'limited-key',
    secretKey: 'limited-secret',
    source: 'limited',
    maxRetries: 0,
  })
  const results = await Promise.all(Array.from({ length: 10 }, (_, i) => limited.addCredits(3000 + i, 1, 'burst')))
  const failed = results.filter((r) => !r.success)
  assert.ok(failed.length > 0, 'some calls were limited')
  for (const r of failed) {
    assert.equal(r.code, 'rate_limited')
    assert.equal(r.retryable, true)
    assert.throws(() => pkg.throwIfFailed(r), RateLimitError)
  }
  limited.close()
})

test('transport errors: connection_error and timeout', async () => {
  const closedPort = await new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = s.address().port
      s.close(() => resolve(port))
    })
  })
  const refused = new CreditSyncClient({ ...MEDIA_BOT, baseUrl: `http://127.0.0.1:${closedPort}`, maxRetries: 0 })
  await rejectsWith(refused.getBalance(1), TransportError, 'connection_error')
  refused.close()

  const silent = await silentServer()
  try {
    const slow = new CreditSyncClient({ ...MEDIA_BOT, baseUrl: silent.url, timeoutMs: 300, maxRetries: 0 })
    const err = await writeFailsWith(slow.addCredits(1, 1, 'x'), TimeoutError, 'timeout')
    assert.ok(err instanceof TransportError)
    slow.close()
  } finally {
    await silent.close()
  }
})

test('server errors: service_unavailable, internal_error and invalid_response', async () => {
  const envelope = (code, message) => JSON.stringify({ success: false, code, message, balance: null, data: null })
  const cases = [
    [503, 'application/json', envelope('service_unavailable', 'overloaded'), 'service_unavailable'],
    [500, 'application/json', envelope('internal_error', 'boom'), 'internal_error'],
    [200, 'text/html', '<html>not the protocol</html>', 'invalid_response'],
    [400, 'application/json', envelope('a_code_from_the_future', 'new'), 'unknown'],
  ]
  for (const [status, type, body, code] of cases) {
    let userAgent
    const fake = await fakeServer((req, res) => {
      userAgent = req.headers['user-agent']
      res.writeHead(status, { 'Content-Type': type })
      res.end(body)
    })
    try {
      const c = new CreditSyncClient({ ...MEDIA_BOT, baseUrl: fake.url, maxRetries: 0 })
      const err = await rejectsWith(c.getBalance(1), ServerError, code)
      assert.ok(err instanceof CreditSyncError)
      assert.equal(err.status, status)
      assert.match(userAgent, /^credit-sync-node\/\d+\.\d+\.\d+/)
      c.close()
    } finally {
      await fake.close()
    }
  }
})

test('invalid_argument: a bad configuration throws at construction', () => {
  assert.throws(
    () => new CreditSyncClient({ apiKey: 'k', secretKey: 's', source: 'x' }),
    (e) => e instanceof ValidationError && e.code === 'invalid_argument' && /base_url/.test(e.message),
  )
  assert.throws(
    () => new CreditSyncClient({ ...MEDIA_BOT, baseUrl: 'ftp://nope' }),
    (e) => e instanceof ValidationError && e.code === 'invalid_argument',
  )
  for (const [options, name] of [
    [{ ...MEDIA_BOT, baseUrl: server.baseUrl, timeoutMs: -5 }, /timeoutMs/],
    [{ ...MEDIA_BOT, baseUrl: server.baseUrl, timeoutMs: '5' }, /timeoutMs/],
    [{ ...MEDIA_BOT, baseUrl: server.baseUrl, maxRetries: -1 }, /maxRetries/],
    [{ ...MEDIA_BOT, baseUrl: server.baseUrl, maxRetries: 1.5 }, /maxRetries/],
    [{ ...MEDIA_BOT, baseUrl: 5 }, /baseUrl/],
    ['http://nope', /options must be an object/],
  ]) {
    assert.throws(
      () => new CreditSyncClient(options),
      (e) => e instanceof TypeError && e.code === 'invalid_argument' && name.test(e.message),
      String(name),
    )
  }
})

test('records() walks every page newest first, as an async iterable', async () => {
  const user = 2011
  for (let i = 0; i < 5; i++) await client.addCredits(user, i + 1, `w${i}`, `m_walk_${i}`)
  const seen = []
  for await (const r of client.records(user, { pageSize: 2 })) seen.push(r)
  assert.deepEqual(
    seen.map((r) => r.reason),
    ['w4', 'w3', 'w2', 'w1', 'w0'],
  )
  assert.deepEqual(seen, (await client.getRecords(user, { limit: 5 })).records)
  // The default page size is the core's; `break` stops the walk.
  const firsts = []
  for await (const r of client.records(`${user}`)) {
    firsts.push(r.change)
    break
  }
  assert.deepEqual(firsts, [5])
  const none = []
  for await (const r of client.records(2012)) none.push(r)
  assert.deepEqual(none, [])
  // A page size the server refuses rejects the first step, once.
  const bad = client.records(user, { pageSize: 0 })
  await assert.rejects(bad.next(), (e) => e instanceof ValidationError && e.code === 'invalid_argument' && e.field === 'limit')
  assert.deepEqual(await bad.next(), { value: undefined, done: true })
  await assert.rejects(client.records(user, { pageSize: -1 }).next(), (e) => e instanceof TypeError && /pageSize/.test(e.message))
  await assert.rejects(client.records(0).next(), (e) => e instanceof TypeError && /telegramId/.test(e.message))
  const closed = new CreditSyncClient({ baseUrl: server.baseUrl, ...MEDIA_BOT })
  closed.close()
  await assert.rejects(closed.records(user).next(), (e) => e instanceof ClientClosedError)
})

// Sets the CREDIT_SYNC_* variables for `fn` and restores them one by one: a replaced
// `process.env` object no longer reaches the process environment the core reads.
async function withEnv(fn) {
  const names = ['CREDIT_SYNC_BASE_URL', 'CREDIT_SYNC_API_KEY', 'CREDIT_SYNC_SECRET_KEY', 'CREDIT_SYNC_SOURCE']
  const saved = names.map((n) => [n, process.env[n]])
  try {
    process.env.CREDIT_SYNC_BASE_URL = server.baseUrl
    process.env.CREDIT_SYNC_API_KEY = MEDIA_BOT.apiKey
    process.env.CREDIT_SYNC_SECRET_KEY = MEDIA_BOT.secretKey
    process.env.CREDIT_SYNC_SOURCE = MEDIA_BOT.source
    await fn()
  } finally {
    for (const [n, v] of saved) {
      if (v === undefined) delete process.env[n]
      else process.env[n] = v
    }
  }
}

test('fromEnv takes the constructor options', () =>
  withEnv(async () => {
    const exact = CreditSyncClient.fromEnv({ bigint: true, timeoutMs: 5_000, maxRetries: 1, retryBudget: false, proxy: '' })
    assert.equal(await exact.getBalance(2013), null)
    assert.equal((await exact.addCredits(2013, 4, 'env options')).balance, 4n)
    exact.close()
    const lines = []
    const logged = CreditSyncClient.fromEnv({ logger: (level, message) => lines.push(`${level} ${message}`) })
    await logged.getBalance(2013)
    await new Promise((r) => setImmediate(r))
    logged.close()
    assert.ok(lines.length > 0, 'the logger option is applied')
    assert.equal(CreditSyncClient.fromEnv(null).closed, false)
    assert.throws(() => CreditSyncClient.fromEnv({ timeoutMs: -1 }), (e) => e instanceof TypeError && /timeoutMs/.test(e.message))
    assert.throws(() => CreditSyncClient.fromEnv({ source: 'other' }), (e) => e instanceof TypeError && /source/.test(e.message))
    assert.throws(() => CreditSyncClient.fromEnv(5), (e) => e instanceof TypeError && /options/.test(e.message))
    // Through a closed port with no retries, a 300 ms deadline fails fast.
    process.env.CREDIT_SYNC_BASE_URL = 'http://127.0.0.1:9'
    const quick = CreditSyncClient.fromEnv({ maxRetries: 0, timeoutMs: 300 })
    const started = Date.now()
    await assert.rejects(quick.getBalance(1), (e) => e instanceof TransportError)
    assert.ok(Date.now() - started < 3000)
    quick.close()
  }))

test('fromEnv reads the CREDIT_SYNC_* variables', () =>
  withEnv(async () => {
    const c = CreditSyncClient.fromEnv()
    assert.ok(c instanceof CreditSyncClient)
    assert.equal((await c.addCredits(2007, 9, 'env')).balance, 9)
    c.close()
    delete process.env.CREDIT_SYNC_SOURCE
    assert.throws(
      () => CreditSyncClient.fromEnv(),
      (e) => e instanceof ValidationError && /CREDIT_SYNC_SOURCE/.test(e.message),
    )
  }))

test('client_closed: calls after close() and a call in flight when close() runs', async () => {
  const c = new CreditSyncClient({ baseUrl: server.baseUrl, ...MEDIA_BOT })
  assert.equal(c.closed, false)
  c.close()
  c.close() // idempotent
  assert.equal(c.closed, true)
  await rejectsWith(c.getBalance(1), ClientClosedError, 'client_closed')
  await writeFailsWith(c.addCredits(1, 1, 'x'), ClientClosedError, 'client_closed')

  const silent = await silentServer()
  try {
    const hanging = new CreditSyncClient({ ...MEDIA_BOT, baseUrl: silent.url, timeoutMs: 60_000 })
    const inFlight = hanging.addCredits(1, 1, 'never answered')
    await new Promise((r) => setTimeout(r, 200))
    const started = Date.now()
    hanging.close()
    const cut = await writeFailsWith(inFlight, ClientClosedError, 'client_closed')
    assert.ok(cut.reference.startsWith('auto-'), 'a change cut short reports the reference it was sent with')
    assert.ok(Date.now() - started < 2000, 'settled promptly')
  } finally {
    await silent.close()
  }
})

test('helpers: makeReference, the reference shortcuts and version', () => {
  assert.equal(pkg.makeReference('task', 42, '2024-01-05'), 'task_42_2024-01-05')
  assert.notEqual(pkg.makeReference('a_b', 'c'), pkg.makeReference('a', 'b_c'))
  const long = pkg.makeReference('x'.repeat(300))
  assert.ok(long.length <= 128)
  assert.equal(typeof pkg.videoWatchedReference(7, 'v1'), 'string')
  assert.equal(typeof pkg.orderPaidReference('o1'), 'string')
  assert.equal(typeof pkg.dailyTaskReference(7, 't1', '2024-01-05'), 'string')
  assert.equal(pkg.version(), require('../../bindings-node/package.json').version)
})
