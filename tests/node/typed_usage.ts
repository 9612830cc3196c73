// Type-checked by tests/node/run.sh (`tsc --noEmit --strict`): the integer fields follow
// the client's `bigint` option, so TypeScript knows a number from a BigInt.
import { CreditSyncClient, throwIfFailed, type SyncResult } from '../../bindings-node/index.js'

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
void typed
