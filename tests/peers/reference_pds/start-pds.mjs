// Starts the AT Protocol reference PDS (@atproto/dev-env, no AppView) with an in-memory PLC
// directory, creates one account, prints one JSON line for the tests, and runs until SIGTERM.
import { TestNetworkNoAppView } from '@atproto/dev-env'

const port = parseInt(process.argv[2], 10)
const network = await TestNetworkNoAppView.create({ pds: { port, hostname: 'localhost' } })
const agent = network.pds.getAgent()
const account = { email: 'status@acme.test', handle: 'failover-status.test', password: 'acme-test-password-1' }
await agent.createAccount(account)
console.log(JSON.stringify({ url: network.pds.url, handle: account.handle, password: account.password }))

const stop = async () => { await network.close(); process.exit(0) }
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
