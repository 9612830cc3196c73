'use strict'
// The Node half of the five-way method parity test (tests/parity/methods.py): prints
// `CreditSyncClient`'s surface as JSON. Which methods exist comes from the loaded package
// (the prototype at run time); their parameters, optional flags, option-object fields and
// documented defaults come from index.d.ts (and native.d.ts for the generated option
// types), read with the TypeScript compiler the package already builds with.
// Usage: node tests/parity/node_surface.js [BINDINGS_NODE_DIR]

const path = require('node:path')
const fs = require('node:fs')

const dir = path.resolve(process.argv[2] || path.join(__dirname, '..', '..', 'bindings-node'))
const ts = require(path.join(dir, 'node_modules', 'typescript'))
const pkg = require(dir)

function parse(file) {
  const text = fs.readFileSync(path.join(dir, file), 'utf8')
  return ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true)
}
const files = [parse('index.d.ts'), parse('native.d.ts')]

function jsdoc(node) {
  return (node.jsDoc || []).map((d) => (typeof d.comment === 'string' ? d.comment : ts.getTextOfJSDocComment(d.comment) || '')).join(' ').replace(/\s+/g, ' ').trim()
}

// Interfaces and type aliases by name across both files: the option objects a method takes.
const interfaces = new Map()
const aliases = new Map()
for (const sf of files) {
  for (const st of sf.statements) {
    if (ts.isInterfaceDeclaration(st) && !interfaces.has(st.name.text)) interfaces.set(st.name.text, st)
    if (ts.isTypeAliasDeclaration(st) && !aliases.has(st.name.text)) aliases.set(st.name.text, st)
  }
}

// The string literals of `'a' | 'b'`.
function literals(type) {
  const parts = ts.isUnionTypeNode(type) ? type.types : [type]
  return parts.filter((t) => ts.isLiteralTypeNode(t) && ts.isStringLiteral(t.literal)).map((t) => t.literal.text)
}

// The fields of an options type (`RecordsOptions | null`, `ClientOptions & { bigint?: B }`),
// or null when the type is not an object of options.
function optionFields(type) {
  if (!type) return null
  if (ts.isParenthesizedTypeNode(type)) return optionFields(type.type)
  if (ts.isUnionTypeNode(type)) {
    const parts = type.types.filter((t) => !(t.kind === ts.SyntaxKind.LiteralType && t.literal.kind === ts.SyntaxKind.NullKeyword) && t.kind !== ts.SyntaxKind.UndefinedKeyword)
    return parts.length === 1 ? optionFields(parts[0]) : null
  }
  if (ts.isIntersectionTypeNode(type)) {
    const all = type.types.map(optionFields)
    return all.every(Boolean) ? all.flat() : null
  }
  if (ts.isTypeLiteralNode(type)) return members(type.members)
  if (ts.isTypeReferenceNode(type)) {
    const name = type.typeName.getText()
    // `Omit<ClientOptions, 'baseUrl' | ...>`: the options without the named fields.
    if (name === 'Omit' && type.typeArguments && type.typeArguments.length === 2) {
      const fields = optionFields(type.typeArguments[0])
      const dropped = new Set(literals(type.typeArguments[1]))
      return fields && fields.filter((f) => !dropped.has(f.name))
    }
    const alias = aliases.get(name)
    if (alias && /Options$/.test(name)) return optionFields(alias.type)
    const decl = interfaces.get(name)
    return decl && /Options$/.test(decl.name.text) ? members(decl.members) : null
  }
  return null
}

function members(list) {
  return list.filter(ts.isPropertySignature).map((m) => ({
    name: m.name.getText(),
    optional: Boolean(m.questionToken),
    type: m.type ? m.type.getText() : '',
    doc: jsdoc(m),
  }))
}

function params(node) {
  return node.parameters.map((p) => ({
    name: p.name.getText(),
    optional: Boolean(p.questionToken),
    rest: Boolean(p.dotDotDotToken),
    type: p.type ? p.type.getText() : '',
    options: optionFields(p.type),
  }))
}

// The declared class, by member name.
const declared = {}
for (const st of files[0].statements) {
  if (!ts.isClassDeclaration(st) || st.name.text !== 'CreditSyncClient') continue
  for (const m of st.members) {
    const name = ts.isConstructorDeclaration(m) ? 'constructor' : m.name && m.name.getText()
    const isStatic = (ts.getCombinedModifierFlags(m) & ts.ModifierFlags.Static) !== 0
    const kind = ts.isMethodDeclaration(m) || ts.isConstructorDeclaration(m) ? 'method' : 'property'
    declared[name] = { kind, static: isStatic, doc: jsdoc(m), params: kind === 'method' ? params(m) : [] }
  }
}

// What the loaded class really has.
const cls = pkg.CreditSyncClient
const runtime = {}
for (const [owner, isStatic] of [[cls.prototype, false], [cls, true]]) {
  for (const name of Object.getOwnPropertyNames(owner)) {
    if (['length', 'name', 'prototype', 'caller', 'arguments'].includes(name)) continue
    const d = Object.getOwnPropertyDescriptor(owner, name)
    const kind = typeof d.value === 'function' ? 'method' : 'property'
    runtime[name] = { kind, static: isStatic, arity: typeof d.value === 'function' ? d.value.length : null }
  }
}

process.stdout.write(JSON.stringify({ node: { runtime, declared } }, null, 2) + '\n')
