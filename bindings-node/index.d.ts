// Types of `credit-sync-client`. The result and option shapes are generated from the
// Rust binding (native.d.ts, by `napi build --dts`) and re-exported here; this file only
// adds the `CreditSyncClient` facade and the error classes of index.js.

import type {
  Balance,
  BatchOptions,
  BatchResult,
  ClientOptions,
  RecordsOptions,
  RecordsPage,
  SyncResult,
  UserData,
} from './native'

export type {
  Balance,
  BatchData,
  BatchOptions,
  BatchResult,
  ClientOptions,
  Record,
  RecordsOptions,
  RecordsPage,
  SyncData,
  SyncResult,
  UserData,
} from './native'
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
  | 'unknown'

/** Base class of every error the client raises; `.code` is the protocol's stable string. */
export declare class CreditSyncError extends Error {
  code: ErrorCode
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
export declare class CreditSyncClient {
  constructor(options: ClientOptions)
  /** A client from CREDIT_SYNC_BASE_URL, CREDIT_SYNC_API_KEY, CREDIT_SYNC_SECRET_KEY, CREDIT_SYNC_SOURCE. */
  static fromEnv(): CreditSyncClient
  /** Adds `amount` (> 0) credits. Business failures resolve with `success: false`. */
  addCredits(telegramId: TelegramId, amount: Amount, reason: string, reference?: string | null): Promise<SyncResult>
  /** Deducts `amount` (> 0) credits, never below zero. Business failures resolve with `success: false`. */
  deductCredits(telegramId: TelegramId, amount: Amount, reason: string, reference?: string | null): Promise<SyncResult>
  /** Applies up to 1,000 changes; `result.data.success` / `.failed` are counts. */
  batchSync(items: BatchItem[], options?: BatchOptions | null): Promise<BatchResult>
  /** `null` for an unregistered user. */
  getBalance(telegramId: TelegramId): Promise<Balance | null>
  /** One page of records, newest first. */
  getRecords(telegramId: TelegramId, options?: RecordsOptions | null): Promise<RecordsPage>
  /** Registers a user or updates their nickname (admin sources only). */
  registerUser(telegramId: TelegramId, nickname?: string | null): Promise<UserData>
  /** Ends calls in flight with `client_closed` and releases the connection pool. Idempotent. */
  close(): void
  readonly closed: boolean
}

/**
 * For code that prefers exceptions: returns a successful result, and throws the error of a
 * failed one (`success: false`), of the class its `code` maps to, with `.result` set.
 */
export declare function throwIfFailed(result: SyncResult): SyncResult

/** A deterministic de-duplication reference from parts: `makeReference('task', 42, '2024-01-05')`. */
export declare function makeReference(...parts: Array<string | number | bigint>): string
