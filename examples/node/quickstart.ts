// The quick start in TypeScript, type-checked by tests/node/run.sh with
// `tsc --noEmit --strict` against the package's index.d.ts.
import {
  CreditSyncClient,
  CreditSyncError,
  InsufficientCreditsError,
  makeReference,
  throwIfFailed,
  generateToken,
  type Balance,
  type BatchItem,
  type SyncResult,
} from 'credit-sync-client'

async function main(): Promise<void> {
  const client = new CreditSyncClient({
    baseUrl: process.env.CREDIT_SYNC_BASE_URL ?? 'http://127.0.0.1:8080',
    apiKey: 'media-bot-api-key-2024',
    secretKey: 'your-secret-key-here',
    source: 'media_bot',
    timeoutMs: 5_000,
    maxRetries: 3,
  })
  const result: SyncResult = await client.addCredits(123456789, 100, 'reward', makeReference('video', 12345))
  if (result.success && result.data) {
    const balance: number = result.data.balance
    console.log(`✅ OK! balance: ${balance}, record ${result.recordId ?? '-'}`)
  } else {
    console.log(`❌ failed (${result.code}): ${result.message}`)
  }
  const spent: SyncResult = throwIfFailed(await client.deductCredits(123456789n, '50', 'spend'))
  console.log(spent.balance)

  const winners: BatchItem[] = [{ telegramId: 123456, amount: 1000, reason: '1st place' }]
  const batch = await client.batchSync(winners, { atomic: true })
  const counts: [number, number] = [batch.data.success, batch.data.failed]
  console.log(counts, batch.data.results.map((r) => r.code))

  const balance: Balance | null = await client.getBalance('123456789')
  console.log(balance ? `${balance.nickname ?? 'user'} has ${balance.credits}` : 'not registered')

  const page = await client.getRecords(123456789, { limit: 5 })
  for (const r of page.records) console.log(r.change, r.reason, r.createdAt, r.externalReference ?? '')
  if (page.nextCursor !== null) await client.getRecords(123456789, { limit: 5, cursor: page.nextCursor })

  try {
    await client.registerUser(123456789, 'alice')
  } catch (e) {
    if (e instanceof InsufficientCreditsError) console.log(e.balance)
    else if (e instanceof CreditSyncError) console.log(e.code)
    else throw e
  }
  console.log(generateToken('secret', 1, 100, 'media_bot', 1700000000))
  client.close()
}

void main()
