// Types of `credit-sync-client`. The result and option shapes are generated from the
// Rust binding (native.d.ts, by `napi build --dts`) and re-exported here; this file only
// adds the `CreditSyncClient` facade and the error classes of index.js.

import type { BatchOptions, ClientOptions, RecordsOptions } from './native'

export type { BatchOptions, ClientOptions, RecordsOptions } from './native'

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
  credits: I
  nickname: string | null
}

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
}

/** One page of records, newest first. */
export interface RecordsPage<I = number> {
  records: Record<I>[]
  /** Pass as `cursor` for the next (older) page; `null` on the last page. */
  nextCursor: string | null
}

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
  | 'rate_limited'
  | 'internal_error'
  | 'service_unavailable'
  | 'timeout'
  | 'connection_error'
  | 'invalid_argument'
  | 'client_closed'
  | 'invalid_response'
  | 'unsafe_integer'
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

/**
 * Credit Sync client. One instance serves many concurrent calls over a pooled
 * keep-alive connection. Wrong argument types reject with a `TypeError` naming the argument.
 */
export declare class CreditSyncClient<B extends boolean = false> {
  /** `bigint: true` returns every integer field as a `BigInt` (the type follows). */
  constructor(options: ClientOptions & { bigint?: B })
  /** A client from CREDIT_SYNC_BASE_URL, CREDIT_SYNC_API_KEY, CREDIT_SYNC_SECRET_KEY, CREDIT_SYNC_SOURCE. */
  static fromEnv(): CreditSyncClient<false>
  /** Adds `amount` (> 0) credits. Every failure with a code resolves with `success: false`. */
  addCredits(telegramId: TelegramId, amount: Amount, reason: string, reference?: string | null): Promise<SyncResult<Int<B>>>
  /** Deducts `amount` (> 0) credits, never below zero. Every failure with a code resolves with `success: false`. */
  deductCredits(telegramId: TelegramId, amount: Amount, reason: string, reference?: string | null): Promise<SyncResult<Int<B>>>
  /** Applies up to 1,000 changes; `result.data.success` / `.failed` are counts. */
  batchSync(items: BatchItem[], options?: BatchOptions | null): Promise<BatchResult<Int<B>>>
  /** `null` for an unregistered user. Reads reject on failure. */
  getBalance(telegramId: TelegramId): Promise<Balance<Int<B>> | null>
  /** One page of records, newest first. */
  getRecords(telegramId: TelegramId, options?: RecordsOptions | null): Promise<RecordsPage<Int<B>>>
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
export declare function throwIfFailed<R extends SyncResult<number | bigint> | BatchResult<number | bigint>>(result: R): R

/** A deterministic de-duplication reference from parts: `makeReference('task', 42, '2024-01-05')`. */
export declare function makeReference(...parts: Array<string | number | bigint>): string
