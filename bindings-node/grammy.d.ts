// Types of credit-sync-client/grammy: use `Context & CreditsFlavor` as the bot's context type.
import type { Context, MiddlewareFn } from 'grammy'
import type { SuccessfulPayment } from 'grammy/types'
import type { CreditSyncClient, Int, ReverseResult, SyncResult } from './index.js'

/** What `credits(client)` adds to the context: `ctx.credits`. */
export type CreditsFlavor<B extends boolean = false> = { credits: CreditSyncClient<B> }

export declare const DEFAULT_REFUND_REASON: string

/** Middleware that sets `ctx.credits = client` for every later middleware and handler. */
export declare function credits<B extends boolean = false>(client: CreditSyncClient<B>): MiddlewareFn<Context & CreditsFlavor<B>>

export interface StarsPaymentsOptions<C extends Context = Context, B extends boolean = false> {
  /** The client; default `ctx.credits` (from `credits(client)`). */
  client?: CreditSyncClient<B>
  /** Credits per Star, or a function of the payment (say, by `invoice_payload`). Default 1. */
  creditsPerStar?: number | ((payment: SuccessfulPayment) => number)
  /** The reason of every Stars refund (one reason for every refund of a payment). */
  refundReason?: string
  /** Whether a pre-checkout query's `invoice_payload` is still on sale; default: any. */
  acceptPayload?: (payload: string, ctx: C) => boolean | Promise<boolean>
  /** Called with each credit's result; default: a short reply. `null`: none. */
  onCredit?: ((ctx: C, result: SyncResult<Int<B>>) => unknown) | null
  /** Called with each refund's result; default: a short reply. `null`: none. */
  onRefund?: ((ctx: C, result: ReverseResult<Int<B>>) => unknown) | null
}

/**
 * Handles `pre_checkout_query` (answers ok for an `XTR` query with an accepted payload),
 * `message:successful_payment` (credits once per charge id; a redelivery is a `duplicate`) and
 * `message:refunded_payment` (takes the credits back once). Other updates go to `next()`.
 */
export declare function starsPayments<C extends Context = Context, B extends boolean = false>(
  options?: StarsPaymentsOptions<C, B>,
): MiddlewareFn<C>

export interface RefundStarsOptions<B extends boolean = false> {
  client?: CreditSyncClient<B>
  /** Default `ctx.from.id`. */
  userId?: number
  reason?: string
}

/** A refund the bot starts: the credits come back first, then `refundStarPayment` returns the Stars. */
export declare function refundStars<B extends boolean = false>(
  ctx: Context,
  chargeId: string,
  options?: RefundStarsOptions<B>,
): Promise<ReverseResult<Int<B>>>
