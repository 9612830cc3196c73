'use strict'
// A grammY bot that tells its users when another bot credits them: it follows the credit
// feed (`client.events`), and for each `credits.added` made by a source other than its own,
// sends the user a message. The cursor of each handled event is stored in a file, so a
// restart resumes right after it: no notice lost, none sent twice for a handled event.
//
//   BOT_TOKEN=123:abc CREDIT_SYNC_BASE_URL=... CREDIT_SYNC_API_KEY=... \
//   CREDIT_SYNC_SECRET_KEY=... CREDIT_SYNC_SOURCE=... node examples/node/grammy_credit_notices.js
//
// CURSOR_FILE is where the cursor lives (default ./credit-notices.cursor; without one the
// feed starts at the oldest event the server keeps). TELEGRAM_API_ROOT points the bot at
// another Bot API server (a local one, or the tests' stand-in). SIGINT/SIGTERM stop it.

const fs = require('node:fs')
const { Bot, GrammyError } = require('grammy')
const { CreditSyncClient, ClientClosedError } = require('credit-sync-client')

const cursorFile = process.env.CURSOR_FILE || 'credit-notices.cursor'

function storedCursor() {
  try {
    return fs.readFileSync(cursorFile, 'utf8').trim() || undefined
  } catch (e) {
    if (e.code === 'ENOENT') return undefined
    throw e
  }
}

function storeCursor(cursor) {
  // Write then rename: a crash mid-write never leaves a torn cursor.
  fs.writeFileSync(`${cursorFile}.tmp`, cursor)
  fs.renameSync(`${cursorFile}.tmp`, cursorFile)
}

async function main() {
  const client = CreditSyncClient.fromEnv()
  const apiRoot = process.env.TELEGRAM_API_ROOT
  const bot = new Bot(process.env.BOT_TOKEN, apiRoot ? { client: { apiRoot } } : {})
  const ownSource = process.env.CREDIT_SYNC_SOURCE
  // close() ends the pending long poll with client_closed, which ends the loop below.
  const stop = () => client.close()
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  try {
    for await (const e of client.events({ after: storedCursor() })) {
      if (e.type === 'credits.added' && e.source && e.source !== ownSource) {
        try {
          await bot.api.sendMessage(e.telegramId, `You got ${e.data.change} credits from ${e.source}.`)
        } catch (err) {
          // A user who blocked the bot (or never started it) cannot be told; anything else
          // stops the bot before the cursor moves, so the notice is retried on restart.
          if (!(err instanceof GrammyError && err.error_code === 403)) throw err
        }
      }
      storeCursor(e.cursor)
    }
  } catch (err) {
    if (!(err instanceof ClientClosedError)) throw err
  } finally {
    client.close()
  }
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
