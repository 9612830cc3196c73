'use strict'
// The operator console in a real browser (Debian's chromium, headless, driven by
// playwright-core): each test starts its own server on a free port with a temporary
// database. Screenshots of each view go to target/console-shots/.

const test = require('node:test')
const assert = require('node:assert/strict')
const http = require('node:http')
const { startServer, launchBrowser, newPage, signIn, shot, OPERATOR, VIEWER } = require('./server')

let browser
test.before(async () => {
  browser = await launchBrowser()
})
test.after(async () => {
  await browser?.close()
})

/** Runs `body` with a fresh server and a page; the page must log no error. */
async function withConsole(body, { allow = [], pageOptions } = {}) {
  const server = await startServer()
  const errors = []
  const page = await newPage(browser, errors, pageOptions)
  try {
    await body({ page, server, base: server.baseUrl })
    const unexpected = errors.filter((e) => !allow.some((re) => re.test(e)))
    assert.deepEqual(unexpected, [], 'the pages logged errors')
  } finally {
    await page.context().close()
    await server.stop()
  }
}

test('an operator signs in, finds a user, adjusts, reverses, voids a hold, sees the audit entry and signs out', async () => {
  await withConsole(async ({ page, server, base }) => {
    await server.api.register(1001, 'alice')
    await server.api.add(1001, 120, 'welcome bonus')
    await server.api.add(1001, 80, 'daily reward')
    await server.api.hold(1001, 25, 'image job')

    await page.goto(`${base}/console/login`)
    await shot(page, 'login')
    await signIn(page, base, OPERATOR)
    assert.equal(await page.textContent('#users'), '1')
    assert.equal(await page.textContent('#outstanding'), '200')
    assert.equal(await page.textContent('#held'), '25')
    assert.ok(await page.isVisible('.chart svg rect'), 'the chart has bars')
    await shot(page, 'overview', { fullPage: true })

    // Find by nickname prefix, then open the user.
    await page.click('nav >> text=Users')
    await page.fill('input[name=q]', 'ali')
    await Promise.all([page.waitForURL(/users\?q=ali/), page.click('form[role=search] button')])
    await shot(page, 'find')
    await Promise.all([page.waitForURL(`${base}/console/users/1001`), page.click('#matches a')])
    assert.equal(await page.textContent('#credits'), '200')
    assert.equal(await page.textContent('#available'), '175')

    // Adjust: -50, with a reason.
    await page.fill('#adjust input[name=amount]', '-50')
    await page.fill('#adjust input[name=reason]', 'refund of order 17')
    await Promise.all([page.waitForURL(`${base}/console/users/1001/adjust`), page.click('#adjust button')])
    assert.match(await page.textContent('.notice.ok'), /Adjusted by -50/)
    assert.equal(await page.textContent('#credits'), '150')
    assert.equal(await server.api.balance(1001), 150)

    // Reverse 30 of the welcome bonus (the oldest record).
    const oldest = page.locator('#records tbody tr').last()
    await oldest.locator('summary').click()
    await oldest.locator('input[name=amount]').fill('30')
    await oldest.locator('input[name=reason]').fill('bonus given twice')
    await Promise.all([page.waitForURL(`${base}/console/users/1001/reverse`), oldest.locator('button').click()])
    assert.match(await page.textContent('.notice.ok'), /Reversed 30 of record #1/)
    assert.match(await page.textContent('#records'), /reverses #1/)
    assert.match(await page.textContent('#records'), /reversed by #\d+ \(-30\)/)
    assert.equal(await page.textContent('#credits'), '120')

    // Void the hold.
    await page.click('#holds summary')
    await page.fill('#holds input[name=reason]', 'job failed')
    await Promise.all([page.waitForURL(`${base}/console/users/1001/void`), page.click('#holds button')])
    assert.match(await page.textContent('.notice.ok'), /Voided hold/)
    assert.equal(await page.textContent('#held'), '0')
    await shot(page, 'user', { fullPage: true })
    await page.setViewportSize({ width: 390, height: 844 })
    await shot(page, 'user-phone', { fullPage: true })
    await page.setViewportSize({ width: 1100, height: 760 })

    // The audit log has each action with its reason.
    await page.click('nav >> text=Audit log')
    const audit = await page.textContent('#audit')
    for (const expected of ['refund of order 17', 'bonus given twice', 'job failed', 'adjust', 'reverse', 'void_hold', 'sign_in']) {
      assert.ok(audit.includes(expected), `${expected} in the audit log`)
    }
    await shot(page, 'audit', { fullPage: true })

    await page.click('nav >> text=Sources')
    const sources = await page.textContent('#sources')
    assert.ok(sources.includes('••••••••2024'), 'the key, masked')
    assert.ok(!sources.includes('media-bot-api-key-2024'), 'never the key itself')
    await shot(page, 'sources', { fullPage: true })

    await Promise.all([page.waitForURL(`${base}/console/login`), page.click('.signout button')])
    await page.goto(`${base}/console/users/1001`)
    assert.equal(page.url(), `${base}/console/login`, 'signed out')
  })
})

for (const javaScriptEnabled of [true, false]) {
  test(`a double click writes once (JavaScript ${javaScriptEnabled ? 'on' : 'off'})`, async () => {
    await withConsole(
      async ({ page, server, base }) => {
        await server.api.add(1002, 10, 'start')
        await signIn(page, base, OPERATOR)
        await page.goto(`${base}/console/users/1002`)
        await page.fill('#adjust input[name=amount]', '5')
        await page.fill('#adjust input[name=reason]', 'goodwill')
        // Without the script both clicks reach the server, which writes once. The second
        // submission can abort the first one's navigation (ERR_ABORTED), so wait for an
        // answer's notice (which waits across navigations) and for both to settle.
        await page.dblclick('#adjust button')
        await page.waitForSelector('.notice')
        await page.waitForLoadState('networkidle')
        assert.equal(page.url(), `${base}/console/users/1002/adjust`)
        assert.match(await page.textContent('.notice'), /Adjusted by \+5|Already done/)
        assert.equal(await server.api.balance(1002), 15)
        await page.goto(`${base}/console/audit`)
        assert.equal((await page.textContent('#audit')).match(/goodwill/g).length, 1, 'one audit entry')
      },
      { pageOptions: { javaScriptEnabled } },
    )
  })
}

test('a viewer reads but is refused a write', async () => {
  await withConsole(
    async ({ page, server, base }) => {
      await server.api.add(1003, 40, 'start')
      await signIn(page, base, VIEWER)
      await page.goto(`${base}/console/users/1003`)
      assert.equal(await page.locator('#adjust').count(), 0, 'no write forms for a viewer')
      // The viewer builds the form by hand, with the session's own token.
      const csrf = await page.inputValue('.signout input[name=csrf]')
      await page.evaluate((csrf) => {
        const form = document.createElement('form')
        form.method = 'post'
        form.action = '/console/users/1003/adjust'
        for (const [name, value] of Object.entries({ csrf, reference: 'console-viewer-1', amount: '500', reason: 'please' })) {
          const input = document.createElement('input')
          input.type = 'hidden'
          input.name = name
          input.value = value
          form.append(input)
        }
        document.body.append(form)
        form.submit()
      }, csrf)
      await page.waitForURL(`${base}/console/users/1003/adjust`)
      assert.match(await page.textContent('main'), /Viewers can read the console but not change the ledger/)
      await shot(page, 'refused')
      assert.equal(await server.api.balance(1003), 40)
    },
    { allow: [/status of 403/] },
  )
})

test('a cross-site form post writes nothing', async () => {
  await withConsole(
    async ({ page, server, base }) => {
      await server.api.add(1004, 40, 'start')
      await signIn(page, base, OPERATOR)
      await page.goto(`${base}/console/users/1004`)
      // The attacker even knows this session's token and the form's reference.
      const csrf = await page.inputValue('#adjust input[name=csrf]')
      const reference = await page.inputValue('#adjust input[name=reference]')
      const attack = (target) => `<!doctype html><form id=f method=post action="${target}">
        <input name=csrf value="${csrf}"><input name=reference value="${reference}">
        <input name=amount value="-40"><input name=reason value="gotcha"></form>
        <script>document.getElementById('f').submit()</script>`
      const evil = http.createServer((req, res) => {
        res.setHeader('Content-Type', 'text/html')
        res.end(attack(`${base}/console/users/1004/adjust`))
      })
      await new Promise((r) => evil.listen(0, '127.0.0.1', r))
      const port = evil.address().port
      try {
        // Another origin on the same site (the cookie goes along): the Origin check stops it.
        await page.goto(`http://127.0.0.1:${port}/`)
        await page.waitForURL(`${base}/console/users/1004/adjust`)
        assert.match(await page.textContent('main'), /came from another site/)
        // Another site (the cookie stays home): the console sees no session at all.
        await page.goto(`http://localhost:${port}/`)
        await page.waitForURL(`${base}/console/users/1004/adjust`)
        assert.match(await page.textContent('main'), /Sign in first/)
      } finally {
        evil.close()
      }
      assert.equal(await server.api.balance(1004), 40)
      await page.goto(`${base}/console/audit`)
      assert.ok(!(await page.textContent('main')).includes('gotcha'))
    },
    { allow: [/status of 403/] },
  )
})

test('a nickname of <script>alert(1)</script> renders as text', async () => {
  await withConsole(async ({ page, server, base }) => {
    const script = '<script>alert(1)</script>'
    await server.api.register(1005, script)
    await server.api.add(1005, 5, '<img src=x onerror=alert(2)>')
    await signIn(page, base, OPERATOR)
    await page.goto(`${base}/console/users/1005`)
    assert.equal(await page.textContent('.nickname'), script)
    assert.match(await page.textContent('#records'), /<img src=x onerror=alert\(2\)>/)
    await page.goto(`${base}/console/users?q=${encodeURIComponent('<scr')}`)
    assert.equal(await page.textContent('#matches tbody td:nth-child(2)'), script)
    // A dialog would have been recorded as an error by newPage.
  })
})
