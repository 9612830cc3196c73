// ES module entry: the same objects as the CommonJS entry (index.js).
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const pkg = require('./index.js')

export const {
  CreditSyncClient,
  CreditSyncError,
  AuthenticationError,
  TimestampError,
  InsufficientCreditsError,
  ReferenceConflictError,
  UserNotFoundError,
  NotFoundError,
  ConflictError,
  HoldResolvedError,
  ValidationError,
  RateLimitError,
  TransportError,
  TimeoutError,
  ServerError,
  ClientClosedError,
  CursorExpiredError,
  WebhookVerificationError,
  throwIfFailed,
  verifyWebhook,
  generateToken,
  makeReference,
  videoWatchedReference,
  orderPaidReference,
  dailyTaskReference,
  version,
} = pkg

export default pkg
