// `npm install` / `npm ci` in bindings-node (the `prepare` script) links this package
// into examples/node/node_modules, as `npm install` there would from its `file:`
// dependency, so `require('credit-sync-client')` works in the repo's examples.
// Outside the repository (a published package) there is nothing to link.
'use strict'
const fs = require('node:fs')
const path = require('node:path')

const examples = path.join(__dirname, '..', 'examples', 'node')
if (fs.existsSync(path.join(examples, 'package.json'))) {
  const modules = path.join(examples, 'node_modules')
  const link = path.join(modules, 'credit-sync-client')
  fs.mkdirSync(modules, { recursive: true })
  fs.rmSync(link, { recursive: true, force: true })
  fs.symlinkSync(path.relative(modules, __dirname), link, 'junction')
  // The bot frameworks the example bots use (examples/node/package.json), from this package's devDependencies.
  for (const framework of ['grammy', 'telegraf']) {
    const from = path.join(__dirname, 'node_modules', framework)
    const to = path.join(modules, framework)
    fs.rmSync(to, { recursive: true, force: true })
    if (fs.existsSync(from)) fs.symlinkSync(path.relative(modules, from), to, 'junction')
  }
}
