/**
 * A stand-in for ModemManager on a private D-Bus (run it under dbus-run-session): the parts of
 * org.freedesktop.ModemManager1 the daemon uses, with one modem. It prints `bus <address>` once
 * it owns the name, `sent <json>` for every message sent; a line `incoming <json>` on stdin
 * ({ number, text }) makes a received SMS appear, `sent-elsewhere <json>` a text another
 * program (mmcli) sent on the modem and left there. Not part of the product.
 */
import dbus from 'dbus-next'
import { createInterface } from 'node:readline'

const { Interface } = dbus.interface
const { Variant } = dbus
const MM = 'org.freedesktop.ModemManager1'
const MODEM = '/org/freedesktop/ModemManager1/Modem/0'
const bus = dbus.sessionBus()
let nextSms = 1
let nextRef = 1

class Sms extends Interface {
  state: number
  pduType: number
  number: string
  text: string
  reference = 0
  deliveryState = 0x100
  constructor (init: { state: number, pduType: number, number: string, text: string, reference?: number, deliveryState?: number }) {
    super(`${MM}.Sms`)
    this.state = init.state
    this.pduType = init.pduType
    this.number = init.number
    this.text = init.text
    if (init.reference != null) this.reference = init.reference
    if (init.deliveryState != null) this.deliveryState = init.deliveryState
  }

  get State (): number { return this.state }
  get PduType (): number { return this.pduType }
  get Number (): string { return this.number }
  get Text (): string { return this.text }
  get MessageReference (): number { return this.reference }
  get DeliveryState (): number { return this.deliveryState }
  get Timestamp (): string { return '2026-11-23T10:00:00+00:00' }

  Send (): void {
    if (this.number.endsWith('6666')) throw new dbus.DBusError(`${MM}.Error.MessageError.NetworkFailure`, 'Network failure')
    this.reference = nextRef++
    this.state = 5 // sent
    process.stdout.write(`sent ${JSON.stringify({ number: this.number, text: this.text })}\n`)
    // the network's delivery report, a status-report SMS object
    setTimeout(() => { add(new Sms({ state: 3, pduType: 3, number: this.number, text: '', reference: this.reference, deliveryState: 0 }), true) }, 100)
  }
}
Sms.configureMembers({
  properties: Object.fromEntries([['State', 'u'], ['PduType', 'u'], ['Number', 's'], ['Text', 's'], ['MessageReference', 'u'], ['DeliveryState', 'u'], ['Timestamp', 's']].map(([n, sig]) => [n, { signature: sig, access: 'read' }])),
  methods: { Send: { inSignature: '', outSignature: '' } }
})

const messages = new Map<string, Sms>()

class Messaging extends Interface {
  constructor () { super(`${MM}.Modem.Messaging`) }
  List (): string[] { return [...messages.keys()] }
  Create (props: Record<string, { value: unknown }>): string {
    const sms = new Sms({ state: 1, pduType: 2, number: String(props.number?.value ?? ''), text: String(props.text?.value ?? '') })
    return add(sms, false)
  }

  Delete (path: string): void {
    const sms = messages.get(path)
    if (sms == null) return
    messages.delete(path)
    bus.unexport(path, sms)
  }

  Added (path: string, received: boolean): [string, boolean] { return [path, received] }
}
Messaging.configureMembers({
  methods: { List: { outSignature: 'ao' }, Create: { inSignature: 'a{sv}', outSignature: 'o' }, Delete: { inSignature: 'o' } },
  signals: { Added: { signature: 'ob' } }
})

class Modem extends Interface {
  constructor () { super(`${MM}.Modem`) }
  get OwnNumbers (): string[] { return ['+15550100002'] }
  get SignalQuality (): [number, boolean] { return [70, true] }
}
Modem.configureMembers({ properties: { OwnNumbers: { signature: 'as', access: 'read' }, SignalQuality: { signature: '(ub)', access: 'read' } } })

class Modem3gpp extends Interface {
  constructor () { super(`${MM}.Modem.Modem3gpp`) }
  get OperatorName (): string { return 'Stand-in Mobile' }
  get RegistrationState (): number { return 1 }
}
Modem3gpp.configureMembers({ properties: { OperatorName: { signature: 's', access: 'read' }, RegistrationState: { signature: 'u', access: 'read' } } })

class ObjectManager extends Interface {
  constructor () { super('org.freedesktop.DBus.ObjectManager') }
  GetManagedObjects (): Record<string, Record<string, Record<string, unknown>>> {
    return { [MODEM]: { [`${MM}.Modem`]: { OwnNumbers: new Variant('as', ['+15550100002']) }, [`${MM}.Modem.Messaging`]: {} } }
  }
}
ObjectManager.configureMembers({ methods: { GetManagedObjects: { outSignature: 'a{oa{sa{sv}}}' } } })

const messaging = new Messaging()

function add (sms: Sms, received: boolean): string {
  const path = `/org/freedesktop/ModemManager1/SMS/${nextSms++}`
  messages.set(path, sms)
  bus.export(path, sms)
  if (received) messaging.Added(path, true)
  return path
}

bus.export('/org/freedesktop/ModemManager1', new ObjectManager())
bus.export(MODEM, new Modem())
bus.export(MODEM, new Modem3gpp())
bus.export(MODEM, messaging)
await bus.requestName(MM, 0)
process.stdout.write(`bus ${process.env.DBUS_SESSION_BUS_ADDRESS ?? ''}\n`)

for await (const line of createInterface({ input: process.stdin })) {
  const m = /^(incoming|sent-elsewhere) (.*)$/.exec(line)
  if (m?.[2] == null) continue
  const { number, text } = JSON.parse(m[2]) as { number: string, text: string }
  if (m[1] === 'incoming') add(new Sms({ state: 3, pduType: 1, number, text }), true)
  else add(new Sms({ state: 5, pduType: 2, number, text }), true)
}
// stdin closed: the test is done with us
process.exit(0)
