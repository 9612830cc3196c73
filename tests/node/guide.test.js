'use strict'
// The quick-start guide in JavaScript: the quick start, the four common scenarios
// and the guide's test script, against the real server.

const test = require('node:test')
const assert = require('node:assert/strict')
const { startServer, loadPackage, MEDIA_BOT, TEST } = require('./server.js')

const { CreditSyncClient, makeReference } = loadPackage()

let server
let client
test.before(async () => {
  server = await startServer()
  // The guide's constructor, with the test server's address.
  client = new CreditSyncClient({
    baseUrl: server.baseUrl, // API address
    apiKey: MEDIA_BOT.apiKey, // your API key
    secretKey: MEDIA_BOT.secretKey, // sync secret
    source: MEDIA_BOT.source, // your project's identifier
  })
})
test.after(async () => {
  client?.close()
  await server?.stop()
})

test('quick start: add credits with a reference, then query the balance', async () => {
  const result = await client.addCredits(123456789, 100, '观看视频奖励', 'video_12345')
  assert.equal(result.success, true, result.message)
  assert.equal(result.code, 'ok')
  assert.equal(result.balance, 100)
  assert.equal(result.duplicate, false)
  assert.equal(typeof result.recordId, 'number')
  assert.deepEqual(result.data, {
    recordId: result.recordId,
    telegramId: 123456789,
    change: 100,
    balance: 100,
    duplicate: false,
  })

  const balance = await client.getBalance(123456789)
  assert.equal(balance.credits, 100)
  assert.equal(balance.telegramId, 123456789)
})

test('scenario 1: a watched video earns credits once', async () => {
  const telegramId = 1001
  const videoId = 'cultivation-1'
  const first = await client.addCredits(telegramId, 50, '观看视频《修仙之路》', `video_${videoId}`)
  assert.equal(first.success, true, first.message)
  assert.equal(first.balance, 50)
  // The same reference again is a harmless replay: no second reward.
  const again = await client.addCredits(telegramId, 50, '观看视频《修仙之路》', `video_${videoId}`)
  assert.equal(again.success, true)
  assert.equal(again.duplicate, true)
  assert.equal(again.balance, 50)
  assert.equal(again.recordId, first.recordId)
  assert.equal((await client.getBalance(telegramId)).credits, 50)
})

test('scenario 2: spending in the shop succeeds or reports insufficient credits', async () => {
  const telegramId = 1002
  await client.addCredits(telegramId, 600, 'seed', 'seed_1002')
  const granted = []
  const notified = []
  for (const orderId of ['A1', 'A2']) {
    const result = await client.deductCredits(telegramId, 500, '购买VIP会员', `order_${orderId}`)
    if (result.success) {
      granted.push(telegramId)
    } else {
      notified.push(result.message)
      assert.equal(result.code, 'insufficient_credits')
      assert.equal(result.balance, 100)
    }
  }
  assert.deepEqual(granted, [telegramId])
  assert.equal(notified.length, 1)
  assert.ok(notified[0].length > 0)
  assert.equal((await client.getBalance(telegramId)).credits, 100)
})

test('scenario 3: batch rewards at the end of a campaign', async () => {
  const winners = [
    { telegramId: 123456, amount: 1000, reason: '活动第1名' },
    { telegramId: 789012, amount: 500, reason: '活动第2名' },
    { telegramId: 345678, amount: 200, reason: '活动第3名' },
  ]
  const result = await client.batchSync(winners)
  assert.equal(result.success, true, result.message)
  assert.equal(result.data.success, 3)
  assert.equal(result.data.failed, 0)
  assert.deepEqual(
    result.data.results.map((r) => [r.telegramId, r.balance]),
    [
      [123456, 1000],
      [789012, 500],
      [345678, 200],
    ],
  )
})

test('scenario 4: check the balance before opening the shop', async () => {
  await client.registerUser(1004, 'alice')
  await client.addCredits(1004, 300, 'welcome', makeReference('welcome', 1004))
  const balance = await client.getBalance(1004)
  assert.ok(balance)
  assert.equal(balance.credits, 300)
  assert.equal(balance.nickname, 'alice')

  const unknown = await client.getBalance(999999001)
  assert.equal(unknown, null) // "user is not registered"
})

test("the guide's test script, with the test source", async () => {
  const testClient = new CreditSyncClient({ baseUrl: server.baseUrl, ...TEST })
  const testUser = 123456780
  const result = await testClient.addCredits(testUser, 100, '测试')
  assert.equal(result.success, true, result.message)
  assert.match(result.reference, /^auto-/)
  const balance = await testClient.getBalance(testUser)
  assert.equal(balance.credits, 100)
  const records = await testClient.getRecords(testUser, { limit: 5 })
  assert.equal(records.records.length, 1)
  assert.equal(records.records[0].change, 100)
  assert.equal(records.records[0].reason, '测试')
  const spent = await testClient.deductCredits(testUser, 50, '测试消费')
  assert.equal(spent.success, true)
  assert.equal(spent.balance, 50)
  testClient.close()
})
