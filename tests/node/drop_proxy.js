'use strict'
// A loopback proxy that forwards every request to the real server, reads the whole
// answer (so the change is committed) and then resets the client's connection without
// it: the lost answer of issue 11 item 4, the testkit proxy's `Fault::DropResponse`.

const net = require('node:net')

/** Starts the proxy in front of `upstreamUrl`; resolves `{ baseUrl, forwarded(), close() }`. */
async function startDropProxy(upstreamUrl) {
  const { hostname, port } = new URL(upstreamUrl)
  let forwarded = 0
  const server = net.createServer((client) => {
    let buf = Buffer.alloc(0)
    let sent = false
    client.on('error', () => {})
    client.on('data', (chunk) => {
      if (sent) return
      buf = Buffer.concat([buf, chunk])
      const end = buf.indexOf('\r\n\r\n')
      if (end < 0) return
      const lines = buf.subarray(0, end).toString('latin1').split('\r\n')
      const length = Number((lines.find((l) => /^content-length:/i.test(l)) || ':0').split(':')[1])
      if (buf.length < end + 4 + length) return
      sent = true
      const head = lines.filter((l) => !/^connection:/i.test(l)).concat('Connection: close').join('\r\n')
      const up = net.connect(Number(port), hostname, () => {
        up.write(Buffer.concat([Buffer.from(head + '\r\n\r\n', 'latin1'), buf.subarray(end + 4, end + 4 + length)]))
      })
      up.on('data', () => {})
      up.on('error', () => client.resetAndDestroy())
      // The whole answer arrived: the server has committed. Reset instead of answering.
      up.on('end', () => {
        forwarded++
        client.resetAndDestroy()
      })
    })
  })
  await new Promise((r) => server.listen(0, '127.0.0.1', r))
  return {
    baseUrl: `http://127.0.0.1:${server.address().port}`,
    forwarded: () => forwarded,
    close: () => new Promise((r) => server.close(r)),
  }
}

module.exports = { startDropProxy }
