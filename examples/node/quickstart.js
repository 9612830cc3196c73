// The quick-start guide in Node.js (CommonJS): create a client, add credits, query
// the balance, then the guide's four common scenarios. Runs against the demo server:
//   credit-sync-server demo            # 127.0.0.1:8080, the guide's credentials
//   node examples/node/quickstart.js   # CREDIT_SYNC_BASE_URL overrides the address
// Exits 0 when everything behaves as the guide says.
'use strict'

const { CreditSyncClient, makeReference } = require('credit-sync-client')

const client = new CreditSyncClient({
  baseUrl: process.env.CREDIT_SYNC_BASE_URL || 'http://127.0.0.1:8080', // API address
  apiKey: 'media-bot-api-key-2024', // your API key
  secretKey: 'your-secret-key-here', // sync secret
  source: 'media_bot', // your project's identifier
})

// One run id keeps the references of this run apart from earlier runs on the same database.
const run = Date.now().toString(36)

function check(ok, what) {
  if (!ok) throw new Error(`unexpected: ${what}`)
}

async function main() {
  // Quick start: add credits (the reference prevents rewarding twice), then query the balance.
  const result = await client.addCredits(123456789, 100, '观看视频奖励', `video_12345_${run}`)
  if (result.success) {
    console.log(`✅ OK! balance: ${result.balance}`)
  } else {
    console.log(`❌ failed: ${result.message}`)
  }
  check(result.success, result.message)
  const balance = await client.getBalance(123456789)
  console.log(`current credits: ${balance.credits}`)

  // 1. A user finishes a task and earns credits (watched a video in the media bot).
  const telegramId = 123456789
  const videoId = `cultivation_${run}`
  const earned = await client.addCredits(telegramId, 50, '观看视频《修仙之路》', `video_${videoId}`)
  const replay = await client.addCredits(telegramId, 50, '观看视频《修仙之路》', `video_${videoId}`)
  console.log(`1. earned 50 (balance ${earned.balance}); the same video again is a duplicate: ${replay.duplicate}`)
  check(earned.success && replay.success && replay.duplicate && replay.balance === earned.balance, `video reward: ${earned.message}`)

  // 2. A user spends credits in the shop (bought VIP in the media bot).
  const orderId = `vip_${run}`
  const spent = await client.deductCredits(telegramId, 500, '购买VIP会员', `order_${orderId}`)
  if (spent.success) {
    console.log(`2. VIP granted, balance ${spent.balance}`)
  } else {
    console.log(`2. 积分不足，请先赚取积分 (${spent.code}: ${spent.message})`) // not enough credits
    check(spent.code === 'insufficient_credits', spent.message)
  }

  // 3. Batch rewards at the end of a campaign.
  const winners = [
    { telegramId: 123456, amount: 1000, reason: '活动第1名', reference: makeReference('campaign', run, 1) },
    { telegramId: 789012, amount: 500, reason: '活动第2名', reference: makeReference('campaign', run, 2) },
    { telegramId: 345678, amount: 200, reason: '活动第3名', reference: makeReference('campaign', run, 3) },
  ]
  const batch = await client.batchSync(winners)
  console.log(`3. succeeded: ${batch.data.success}, failed: ${batch.data.failed}`)
  check(batch.data.success === 3 && batch.data.failed === 0, batch.message)

  // 4. Query a user's credits before opening the shop.
  const info = await client.getBalance(telegramId)
  if (info) {
    console.log(`4. user ${info.nickname ?? telegramId} has ${info.credits} credits`)
  } else {
    console.log('4. user is not registered')
  }
  check(info && info.credits >= 0, 'balance')
  check((await client.getBalance(987654321987)) === null, 'an unknown user has no balance')

  const records = await client.getRecords(telegramId, { limit: 5 })
  for (const r of records.records) console.log(`  ${r.change > 0 ? '+' : ''}${r.change} - ${r.reason}`)
}

main()
  .then(() => console.log('quick start: ok'))
  .catch((error) => {
    console.error('quick start failed:', error.code ?? '', error.message)
    process.exitCode = 1
  })
  .finally(() => client.close())
