// Types of `credit-sync-client`. The result and option shapes are generated from the
// Rust binding (native.d.ts, by `napi build --dts`) and re-exported here; this file only
// adds the `CreditSyncClient` facade and the error classes of index.js.

import type { BatchOptions, ClientOptions, EventsOptions, FeedOptions, RecordWalkOptions, RecordsOptions } from './native'

export type { BatchOptions, ClientOptions, EventsOptions, FeedOptions, RecordWalkOptions, RecordsOptions } from './native'

/** Options of `CreditSyncClient.fromEnv`: the constructor's, without the credentials (read from the environment). */
export type EnvOptions = Omit<ClientOptions, 'baseUrl' | 'apiKey' | 'secretKey' | 'source'>

/**
 * An integer field of a result: a `number` by default (a value beyond 2^53−1 fails the
 * call with `unsafe_integer` instead of being rounded), a `bigint` for a client made with
 * `bigint: true`.
 */
export type Int<B extends boolean = false> = B extends true ? bigint : number

/** `data` of a successful credit change. */
export interface SyncData<I = number> {
  recordId: I
  telegramId: I
  /** Signed change: negative for a deduct. */
  change: I
  balance: I
  duplicate: boolean
}

/** The outcome of one credit change, in the guide's style: check `success`. */
export interface SyncResult<I = number> {
  success: boolean
  /** `"ok"`, or the stable error code (`insufficient_credits`, ...). */
  code: string
  message: string
  /** Balance after the change; on `insufficient_credits`, the current balance when known. */
  balance: I | null
  /** `true` when the server had already applied this reference (a safe replay). */
  duplicate: boolean
  recordId: I | null
  telegramId: I
  change: I
  /**
   * The reference the change was sent with (yours, or the SDK's `auto-<uuid v7>`). After a
   * failure with an unknown outcome, call again with `result.reference`: it applies once.
   */
  reference: string | null
  /** HTTP attempts the call made (0 when it was refused before sending). */
  attempts: number
  /** On failure: `true` when the same call may succeed later (never twice with the same reference). */
  retryable: boolean
  /** The server's `X-Request-Id` of the last answer, when one arrived. */
  requestId: string | null
  /** On failure, the core's error kind (picks `throwIfFailed`'s class). */
  kind: string | null
  field: string | null
  fields: string[] | null
  serverTime: I | null
  retryAfterMs: number | null
  status: number | null
  /** `null` when the change failed. */
  data: SyncData<I> | null
}

/** `data` of a batch: `success` and `failed` are counts, as in the guide. */
export interface BatchData<I = number> {
  success: number
  failed: number
  /** One result per item, in order (empty when the batch was refused as a whole). */
  results: SyncResult<I>[]
}

/** The outcome of a batch. `success` is true when every item succeeded. */
export interface BatchResult<I = number> {
  success: boolean
  /** `"ok"`, `"partial_failure"`, or the error code of a batch refused as a whole. */
  code: string
  message: string
  attempts: number
  retryable: boolean
  requestId: string | null
  kind: string | null
  field: string | null
  serverTime: I | null
  retryAfterMs: number | null
  status: number | null
  data: BatchData<I>
}

/** A user's balance. */
export interface Balance<I = number> {
  telegramId: I
  /** The sum of the user's records. */
  credits: I
  /** The sum of the open holds. */
  held: I
  /** `credits - held`: what deducts, holds and transfers may take. */
  available: I
  nickname: string | null
}

/** Where a hold is in its life; only `open` counts in `held`. */
export type HoldState = 'open' | 'captured' | 'voided' | 'expired'

/** One hold. */
export interface Hold<I = number> {
  holdId: string
  telegramId: I
  /** The source that placed it (it, or an admin source, may capture or void it). */
  source: string
  /** What was reserved. */
  amount: I
  /** What a capture charged (0 unless `captured`). */
  captured: I
  state: HoldState
  reason: string
  externalReference: string | null
  /** RFC 3339, UTC. */
  createdAt: string
  /** RFC 3339, UTC: from then on the hold no longer counts and cannot be captured. */
  expiresAt: string
  resolvedAt: string | null
  /** The deduction a capture wrote. */
  recordId: I | null
}

/** A user's open holds (oldest first) and balance view. */
export interface Holds<I = number> {
  telegramId: I
  credits: I
  held: I
  available: I
  holds: Hold<I>[]
}

/** What every money-flow result carries, in the guide's style: check `success`. */
export interface FlowResult<I = number> {
  success: boolean
  /** `"ok"`, or the stable error code (`insufficient_credits`, `hold_resolved`, ...). */
  code: string
  message: string
  /** `true` when the server had already done this call (a safe replay). */
  duplicate: boolean
  /** On `insufficient_credits`, the current balance when known (a reversal: after it). */
  balance: I | null
  /** The reference the call was sent with (yours, or the SDK's `auto-<uuid v7>`). */
  reference: string | null
  attempts: number
  retryable: boolean
  requestId: string | null
  /** On failure, the core's error kind (picks `throwIfFailed`'s class). */
  kind: string | null
  field: string | null
  fields: string[] | null
  serverTime: I | null
  retryAfterMs: number | null
  status: number | null
}

/** The outcome of `holdCredits`, `captureHold` and `voidHold`. */
export interface HoldResult<I = number> extends FlowResult<I> {
  /** The hold's id (pass it to `captureHold` / `voidHold`). */
  holdId: string | null
  /** The hold as the call left it, or on `hold_resolved` its final state. */
  hold: Hold<I> | null
  /** The balance view after the call. */
  credits: I | null
  held: I | null
  available: I | null
}

/** The outcome of `reverseRecord` and `refundStarsPayment`. */
export interface ReverseResult<I = number> extends FlowResult<I> {
  /** The reversal's own record. */
  recordId: I | null
  /** The record it reverses. */
  reverses: I | null
  telegramId: I | null
  /** The reversal's signed change (the opposite sign of the original's). */
  change: I | null
  /** How much of the original is reversed now, this reversal included. */
  reversed: I | null
  /** How much of the original is left to reverse. */
  remaining: I | null
}

/** One side of a transfer. */
export interface TransferLeg<I = number> {
  telegramId: I
  recordId: I
  /** Negative for the sender, positive for the receiver. */
  change: I
  balance: I
}

/** The outcome of `transferCredits`. */
export interface TransferResult<I = number> extends FlowResult<I> {
  /** The id both records of the transfer share. */
  transferId: string | null
  amount: I | null
  from: TransferLeg<I> | null
  to: TransferLeg<I> | null
}

/** Which record `reverseRecord` reverses (`recordId` or the `reference` it was made with), and how. */
export interface ReverseOptions {
  recordId?: TelegramId | null
  reference?: string | null
  /** Default: all that is left of the record. */
  amount?: Amount | null
  /** Default `"reversal"`. */
  reason?: string | null
  /** De-duplicates the reversal itself; the SDK makes one when absent. */
  reversalReference?: string | null
}

/**
 * A Telegram Stars payment: the Bot API's `successful_payment` (grammY's, Telegraf's
 * `ctx.message.successful_payment`), or the same fields in camelCase.
 */
export type StarsPayment =
  | { currency: string; total_amount: Amount; telegram_payment_charge_id: string }
  | { currency: string; totalAmount: Amount; telegramPaymentChargeId: string }

/** One ledger record. */
export interface Record<I = number> {
  id: I
  change: I
  balanceAfter: I
  reason: string
  source: string
  externalReference: string | null
  /** RFC 3339, UTC. */
  createdAt: string
  /** For a capture: the hold it charged. */
  holdId: string | null
  /** For a reversal: the record it reverses. */
  reverses: I | null
  /** For either leg of a transfer: the id both legs share. */
  transferId: string | null
}

/** One page of records, newest first. */
export interface RecordsPage<I = number> {
  records: Record<I>[]
  /** Pass as `cursor` for the next (older) page; `null` on the last page. */
  nextCursor: string | null
}

/** One event of the feed, with the `cursor` that resumes the feed right after it. */
export interface Event<I = number> {
  /** Stable `evt_…` id: the same event always has the same id. */
  id: string
  seq: I
  /** `credits.added`, `credits.deducted`, `hold.created`, `hold.captured`, `hold.voided`, `hold.expired`, `credits.reversed`, `credits.transferred`, `user.registered`. */
  type: string
  /** RFC 3339, UTC. */
  createdAt: string
  /** The source whose request made the change (`null` for an operator's command). */
  source: string | null
  telegramId: I
  /** The record, hold, transfer or user (snake_case fields, as on the wire). */
  data: { [key: string]: unknown }
  /** Store it once the event is handled; pass it as `after` to resume. */
  cursor: string
}

/** One page of the feed, oldest first. */
export interface EventsPage<I = number> {
  events: Event<I>[]
  /** Pass as `after` for the next page; store it to resume. Always set. */
  nextCursor: string
}

/** The headers of a received webhook: `req.headers`, a `Headers`, or name/value pairs. */
export type WebhookHeaders =
  | { [name: string]: string | string[] | undefined }
  | { get(name: string): string | null; entries(): Iterable<[string, string]> }
  | Array<[string, string]>

/** A registered (or updated) user. */
export interface UserData<I = number> {
  telegramId: I
  credits: I
  nickname: string | null
  /** `true` when the user did not exist before. */
  created: boolean
}
export {
  generateToken,
  dailyTaskReference,
  orderPaidReference,
  videoWatchedReference,
  version,
} from './native'

/** A 64-bit id: a safe integer number, a BigInt or a decimal string. */
export type TelegramId = number | bigint | string

/** An amount of credits: a safe integer number, a BigInt or a decimal string. */
export type Amount = number | bigint | string

/** One change of a batch; a negative amount deducts. */
export interface BatchItem {
  telegramId: TelegramId
  amount: Amount
  reason: string
  /** De-duplication reference; the SDK assigns an `auto-<uuid v7>` one when absent. */
  reference?: string | null
}

/** Every code an error's `.code` can hold (the protocol's stable strings). */
export type ErrorCode =
  | 'unauthorized'
  | 'invalid_signature'
  | 'signature_reused'
  | 'signature_scheme_refused'
  | 'timestamp_out_of_window'
  | 'source_mismatch'
  | 'forbidden'
  | 'invalid_json'
  | 'missing_field'
  | 'invalid_field'
  | 'invalid_amount'
  | 'amount_too_large'
  | 'invalid_telegram_id'
  | 'invalid_reason'
  | 'invalid_nickname'
  | 'invalid_reference'
  | 'batch_too_large'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'not_found'
  | 'method_not_allowed'
  | 'user_not_found'
  | 'insufficient_credits'
  | 'reference_conflict'
  | 'balance_overflow'
  | 'batch_aborted'
  | 'hold_not_found'
  | 'hold_resolved'
  | 'too_many_holds'
  | 'record_not_found'
  | 'record_not_reversible'
  | 'reversal_exceeds_record'
  | 'rate_limited'
  | 'internal_error'
  | 'service_unavailable'
  | 'timeout'
  | 'connection_error'
  | 'invalid_argument'
  | 'client_closed'
  | 'invalid_response'
  | 'unsafe_integer'
  | 'cursor_expired'
  | 'webhook_signature_invalid'
  | 'webhook_timestamp_out_of_tolerance'
  | 'webhook_header_malformed'
  | 'webhook_secret_malformed'
  | 'unknown'

/** Base class of every error the client raises; `.code` is the protocol's stable string. */
export declare class CreditSyncError extends Error {
  code: ErrorCode
  /** The core's error kind (`insufficient_credits`, `authentication`, `transport`, ...). */
  kind?: string
  /** From a failed write: the reference it carried, its attempts, whether a retry may help, and the server's request id. */
  reference?: string
  attempts?: number
  retryable?: boolean
  requestId?: string
}
/** `unauthorized`, `invalid_signature`, `signature_reused`, `signature_scheme_refused`, `source_mismatch`, `forbidden`. */
export declare class AuthenticationError extends CreditSyncError {}
/** `timestamp_out_of_window`. */
export declare class TimestampError extends AuthenticationError {
  serverTime?: number
}
/** `insufficient_credits`. */
export declare class InsufficientCreditsError extends CreditSyncError {
  balance?: number
}
/** `reference_conflict`. */
export declare class ReferenceConflictError extends CreditSyncError {
  fields: string[]
}
/** `user_not_found`. */
export declare class UserNotFoundError extends CreditSyncError {}
/** `hold_not_found`, `record_not_found`. */
export declare class NotFoundError extends CreditSyncError {}
/** `too_many_holds`, `record_not_reversible`, `reversal_exceeds_record` (and `hold_resolved`). */
export declare class ConflictError extends CreditSyncError {}
/** `hold_resolved`: the hold was already captured, voided or has expired. */
export declare class HoldResolvedError extends ConflictError {
  /** Its final state, when the server sent it. */
  hold?: Hold<number | bigint>
}
/** Bad input found by the SDK or the server (`invalid_*`, `missing_field`, ...). */
export declare class ValidationError extends CreditSyncError {
  field?: string
}
/** `rate_limited`, after the retries ran out. */
export declare class RateLimitError extends CreditSyncError {
  retryAfterMs?: number
}
/** `connection_error`, after the retries ran out. */
export declare class TransportError extends CreditSyncError {}
/** `timeout`, after the retries ran out. */
export declare class TimeoutError extends TransportError {}
/** `internal_error`, `service_unavailable`, `invalid_response`, or an unknown code. */
export declare class ServerError extends CreditSyncError {
  status?: number
}
/** `client_closed`: the client was closed before or during the call. */
export declare class ClientClosedError extends CreditSyncError {}
/** `cursor_expired`: the feed no longer holds events after this cursor; resynchronise and restart. */
export declare class CursorExpiredError extends CreditSyncError {}
/** `webhook_*`: `verifyWebhook` refused a received webhook (see `.code`). */
export declare class WebhookVerificationError extends CreditSyncError {}

/**
 * Credit Sync client. One instance serves many concurrent calls over a pooled
 * keep-alive connection. Wrong argument types reject with a `TypeError` naming the argument.
 */
export declare class CreditSyncClient<B extends boolean = false> {
  /** `bigint: true` returns every integer field as a `BigInt` (the type follows). */
  constructor(options: ClientOptions & { bigint?: B })
  /**
   * A client from CREDIT_SYNC_BASE_URL, CREDIT_SYNC_API_KEY, CREDIT_SYNC_SECRET_KEY, CREDIT_SYNC_SOURCE,
   * with the constructor's other options (`timeoutMs`, `maxRetries`, ...); giving a credential here is a `TypeError`.
   */
  static fromEnv<E extends boolean = false>(options?: (EnvOptions & { bigint?: E }) | null): CreditSyncClient<E>
  /** Adds `amount` (> 0) credits. Every failure with a code resolves with `success: false`. */
  addCredits(telegramId: TelegramId, amount: Amount, reason: string, reference?: string | null): Promise<SyncResult<Int<B>>>
  /** Deducts `amount` (> 0) credits, never below zero. Every failure with a code resolves with `success: false`. */
  deductCredits(telegramId: TelegramId, amount: Amount, reason: string, reference?: string | null): Promise<SyncResult<Int<B>>>
  /** Applies up to 1,000 changes; `result.data.success` / `.failed` are counts. */
  batchSync(items: BatchItem[], options?: BatchOptions | null): Promise<BatchResult<Int<B>>>
  /**
   * Reserves `amount` (> 0) of the user's available credits for `ttlSeconds` (default 600,
   * at most 7 days), until `captureHold` charges it or `voidHold` releases it.
   */
  holdCredits(telegramId: TelegramId, amount: Amount, reason: string, reference?: string | null, ttlSeconds?: number | null): Promise<HoldResult<Int<B>>>
  /** Charges a hold (`amount` default: all of it; the rest is released). The same capture again (same reference) is a replay. */
  captureHold(holdId: string, amount?: Amount | null, reference?: string | null): Promise<HoldResult<Int<B>>>
  /** Releases a hold without charging it. */
  voidHold(holdId: string, reference?: string | null): Promise<HoldResult<Int<B>>>
  /** The open holds and balance view; `null` for an unregistered user. */
  getHolds(telegramId: TelegramId): Promise<Holds<Int<B>> | null>
  /** Reverses a record, wholly or `amount` of it, with a new linked record. */
  reverseRecord(options: ReverseOptions): Promise<ReverseResult<Int<B>>>
  /** Moves `amount` of `fromId`'s available credits to `toId`: both records or neither. */
  transferCredits(fromId: TelegramId, toId: TelegramId, amount: Amount, reason: string, reference?: string | null): Promise<TransferResult<Int<B>>>
  /** Credits a Stars `successful_payment` once per `telegram_payment_charge_id` (`creditsPerStar` default 1). */
  creditStarsPayment(telegramId: TelegramId, payment: StarsPayment, creditsPerStar?: Amount | null): Promise<SyncResult<Int<B>>>
  /** Reverses a Stars payment's credit once; repeating it (same `reason`, default `"Telegram Stars refund"`) is a `duplicate` success. */
  refundStarsPayment(chargeId: string, reason?: string | null): Promise<ReverseResult<Int<B>>>
  /** `null` for an unregistered user. Reads reject on failure. */
  getBalance(telegramId: TelegramId): Promise<Balance<Int<B>> | null>
  /** One page of records, newest first. */
  getRecords(telegramId: TelegramId, options?: RecordsOptions | null): Promise<RecordsPage<Int<B>>>
  /**
   * Every record of the user, newest first: `for await (const r of client.records(id, { pageSize }))`,
   * fetching pages as needed; `break` ends it. An error rejects once and the walk ends.
   */
  records(telegramId: TelegramId, options?: RecordWalkOptions | null): AsyncGenerator<Record<Int<B>>, void, undefined>
  /** One page of the event feed, oldest first; `wait` (seconds) long-polls until an event is committed. */
  getEvents(options?: EventsOptions | null): Promise<EventsPage<Int<B>>>
  /**
   * The feed from `after`, forever: `for await (const e of client.events({ after }))`,
   * long-polling when caught up; `break` ends it. Store `e.cursor` to resume.
   */
  events(options?: FeedOptions | null): AsyncGenerator<Event<Int<B>>, void, undefined>
  /** Registers a user or updates their nickname (admin sources only). */
  registerUser(telegramId: TelegramId, nickname?: string | null): Promise<UserData<Int<B>>>
  /** Ends calls in flight with `client_closed` and releases the connection pool. Idempotent. */
  close(): void
  readonly closed: boolean
}

/**
 * For code that prefers exceptions: returns a successful result, and throws the error of a
 * failed one (`success: false`), of the class its `code` maps to, with `.result` set.
 */
export declare function throwIfFailed<R extends SyncResult<number | bigint> | BatchResult<number | bigint> | FlowResult<number | bigint>>(result: R): R

/**
 * Checks a received webhook (Standard Webhooks headers, 5 minutes' tolerance) against a
 * `whsec_` secret, or several during a rotation, and returns its event. Pass the raw body.
 * Throws `WebhookVerificationError` with `.code` `webhook_signature_invalid`,
 * `webhook_timestamp_out_of_tolerance`, `webhook_header_malformed` or `webhook_secret_malformed`.
 */
export declare function verifyWebhook<B extends boolean = false>(headers: WebhookHeaders, body: Buffer | Uint8Array | string, secret: string | string[], options?: { bigint?: B } | null): Event<Int<B>>

/** A deterministic de-duplication reference from parts: `makeReference('task', 42, '2024-01-05')`. */
export declare function makeReference(...parts: Array<string | number | bigint>): string
