// The quick-start guide in Node.js as an ES module: the same steps as quickstart.js.
//   credit-sync-server demo             # 127.0.0.1:8080, the guide's credentials
//   node examples/node/quickstart.mjs   # CREDIT_SYNC_BASE_URL overrides the address
import { CreditSyncClient, makeReference } from 'credit-sync-client'

const client = new CreditSyncClient({
  baseUrl: process.env.CREDIT_SYNC_BASE_URL || 'http://127.0.0.1:8080', // API address
  apiKey: 'media-bot-api-key-2024', // your API key
  secretKey: 'your-secret-key-here', // sync secret
  source: 'media_bot', // your project's identifier
})
const run = Date.now().toString(36)
const check = (ok, what) => {
  if (!ok) throw new Error(`unexpected: ${what}`)
}

try {
  const result = await client.addCredits(123456789, 100, '观看视频奖励', `video_12345_${run}`)
  console.log(result.success ? `✅ OK! balance: ${result.balance}` : `❌ failed: ${result.message}`)
  check(result.success, result.message)
  const balance = await client.getBalance(123456789)
  console.log(`current credits: ${balance.credits}`)

  const telegramId = 123456789
  const earned = await client.addCredits(telegramId, 50, '观看视频《修仙之路》', `video_${run}`)
  const replay = await client.addCredits(telegramId, 50, '观看视频《修仙之路》', `video_${run}`)
  console.log(`1. earned 50 (balance ${earned.balance}); again is a duplicate: ${replay.duplicate}`)
  check(earned.success && replay.duplicate, 'video reward')

  const spent = await client.deductCredits(telegramId, 500, '购买VIP会员', `order_vip_${run}`)
  console.log(spent.success ? `2. VIP granted, balance ${spent.balance}` : `2. 积分不足，请先赚取积分 (${spent.code})`)
  check(spent.success || spent.code === 'insufficient_credits', spent.message)

  const batch = await client.batchSync([
    { telegramId: 123456, amount: 1000, reason: '活动第1名', reference: makeReference('campaign', run, 1) },
    { telegramId: 789012, amount: 500, reason: '活动第2名', reference: makeReference('campaign', run, 2) },
    { telegramId: 345678, amount: 200, reason: '活动第3名', reference: makeReference('campaign', run, 3) },
  ])
  console.log(`3. succeeded: ${batch.data.success}, failed: ${batch.data.failed}`)
  check(batch.data.success === 3, batch.message)

  const info = await client.getBalance(telegramId)
  console.log(info ? `4. user ${info.nickname ?? telegramId} has ${info.credits} credits` : '4. user is not registered')
  check(info !== null, 'balance')
  console.log('quick start (ESM): ok')
} catch (error) {
  console.error('quick start failed:', error.code ?? '', error.message)
  process.exitCode = 1
} finally {
  client.close()
}
