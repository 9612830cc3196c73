// Type-checked by tests/node/run.sh (`tsc --noEmit --strict`): the integer fields follow
// the client's `bigint` option, so TypeScript knows a number from a BigInt.
import {
  CreditSyncClient,
  HoldResolvedError,
  throwIfFailed,
  verifyWebhook,
  WebhookVerificationError,
  type Event,
  type EventsPage,
  type HoldResult,
  type ReverseResult,
  type SyncResult,
  type TransferResult,
} from '../../bindings-node/index.js'

async function typed(): Promise<void> {
  const plain = new CreditSyncClient({ baseUrl: 'http://127.0.0.1:1', apiKey: 'k', secretKey: 's', source: 'x' })
  const exact = new CreditSyncClient({ baseUrl: 'http://127.0.0.1:1', apiKey: 'k', secretKey: 's', source: 'x', bigint: true })
  const n: SyncResult<number> = await plain.addCredits(1, 1, 'x')
  const b: SyncResult<bigint> = await exact.addCredits(1, 1, 'x')
  const credits: number | undefined = (await plain.getBalance(1))?.credits
  const big: bigint | undefined = (await exact.getBalance(1))?.credits
  const sum: bigint = (b.balance ?? 0n) + 1n
  const retry: string | null = throwIfFailed(n).reference
  // @ts-expect-error a bigint client's balance is not a number
  const wrong: number | null = b.balance
  void [credits, big, sum, retry, wrong]
}

async function flows(): Promise<void> {
  const c = new CreditSyncClient({ baseUrl: 'http://127.0.0.1:1', apiKey: 'k', secretKey: 's', source: 'x' })
  const hold: HoldResult<number> = await c.holdCredits(1, 30, 'job', null, 120)
  const available: number | null = hold.available
  if (hold.holdId) {
    const captured = await c.captureHold(hold.holdId, 20)
    const state: 'open' | 'captured' | 'voided' | 'expired' | undefined = captured.hold?.state
    try {
      throwIfFailed(await c.voidHold(hold.holdId))
    } catch (e) {
      if (e instanceof HoldResolvedError) void e.hold?.state
    }
    void state
  }
  const holds = await c.getHolds(1)
  const held: number | undefined = holds?.held
  const reversal: ReverseResult<number> = await c.reverseRecord({ reference: 'order_1', amount: 5, reason: 'refund' })
  const moved: TransferResult<number> = await c.transferCredits(1, 2, 10, 'gift')
  const senderBalance: number | undefined = moved.from?.balance
  const paid: SyncResult<number> = await c.creditStarsPayment(1, { currency: 'XTR', total_amount: 50, telegram_payment_charge_id: 'stx_1' }, 10)
  const refund = await c.refundStarsPayment('stx_1', 'refunded')
  const balance = await c.getBalance(1)
  void [available, held, reversal.remaining, senderBalance, paid.duplicate, refund.duplicate, balance?.available]
}
void flows
void typed

async function feed(): Promise<void> {
  const c = new CreditSyncClient({ baseUrl: 'http://127.0.0.1:1', apiKey: 'k', secretKey: 's', source: 'x' })
  const exact = new CreditSyncClient({ baseUrl: 'http://127.0.0.1:1', apiKey: 'k', secretKey: 's', source: 'x', bigint: true })
  const page: EventsPage<number> = await c.getEvents({ after: '0', limit: 50, wait: 25 })
  const next: string = page.nextCursor
  for await (const e of c.events({ after: next })) {
    const seq: number = e.seq
    const who: number = e.telegramId
    const from: string | null = e.source
    const stored: string = e.cursor
    void [seq, who, from, stored, e.type, e.createdAt, e.data['change']]
    break
  }
  for await (const e of exact.events()) {
    const seq: bigint = e.seq
    void seq
    break
  }
  for await (const r of c.records(1, { pageSize: 50 })) {
    const change: number = r.change
    const reverses: number | null = r.reverses
    void [change, reverses, r.reason, r.createdAt]
  }
  for await (const r of exact.records(1n)) {
    const id: bigint = r.id
    void id
    break
  }
  const fromEnv: CreditSyncClient<true> = CreditSyncClient.fromEnv({ timeoutMs: 5_000, maxRetries: 1, bigint: true })
  const plainEnv: CreditSyncClient<false> = CreditSyncClient.fromEnv()
  void [fromEnv, plainEnv]
  try {
    const hook: Event<number> = verifyWebhook({ 'webhook-id': 'msg_1' }, Buffer.from('{}'), ['whsec_x', 'whsec_y'])
    const fromHeaders: Event<bigint> = verifyWebhook(new Headers(), '{}', 'whsec_x', { bigint: true })
    const fromPairs = verifyWebhook([['webhook-id', 'msg_1']], '{}', 'whsec_x')
    void [hook.cursor, fromHeaders.seq, fromPairs.telegramId]
  } catch (e) {
    if (e instanceof WebhookVerificationError) void e.code
  }
}

void feed
