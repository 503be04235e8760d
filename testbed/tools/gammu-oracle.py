#!/usr/bin/python3
"""An independent SMS codec for the tests: libGammu through Debian's python3-gammu.

Reads a JSON list of requests on stdin, writes a JSON list of answers:
  {"op": "decode", "hex": "..."}                 -> {"type", "number", "text", "coding", "parts", "part", "ref", "status"?}
  {"op": "encode", "text": "...", "number": "+..."} -> {"coding", "pdus": [hex of SMS-DELIVER with SMSC]}
  {"op": "count", "text": "...", "unicode": bool}   -> {"parts"}
"""
import datetime
import json
import sys

import gammu


def text_of(sms):
    t = sms.get('Text')
    if isinstance(t, bytes):
        return t.decode('latin-1')
    # libGammu counts an escape sequence as two characters, so its text ends in a NUL
    # (also for PDUs it wrote itself), and what follows it is left over from its buffer; GSM-7 has no NUL character
    if sms.get('Coding') == 'Default_No_Compression':
        return (t or '').split('\x00')[0]
    return t or ''


def answer(req):
    op = req['op']
    if op == 'decode':
        sms = gammu.DecodePDU(bytes.fromhex(req['hex']), True)
        udh = sms.get('UDH') or {}
        return {
            'type': sms['Type'], 'number': sms['Number'], 'text': text_of(sms), 'coding': sms['Coding'],
            'parts': udh.get('AllParts', -1), 'part': udh.get('PartNumber', -1), 'ref': udh.get('ID8bit', -1),
            'status': sms.get('DeliveryStatus'), 'reference': sms.get('MessageReference'),
        }
    if op == 'encode':
        messages = gammu.EncodeSMS({'Class': -1, 'Entries': [{'ID': 'ConcatenatedAutoTextLong', 'Buffer': req['text']}]})
        pdus = []
        for m in messages:
            m['Number'] = req['number']
            m['Type'] = 'Deliver'
            m['SMSC'] = {'Location': 0, 'Number': '+15550000000'}
            m['DateTime'] = datetime.datetime(2026, 11, 23, 10, 0, 0)
            pdus.append(gammu.EncodePDU(m, 'Deliver').hex())
        return {'coding': messages[0]['Coding'], 'pdus': pdus}
    if op == 'count':
        # one SMS without a header if it fits, else concatenated parts (each with a header)
        coding = 'Unicode_No_Compression' if req['unicode'] else 'Default'
        single, _ = gammu.SMSCounter(req['text'], 'NoUDH', coding)
        parts, _ = gammu.SMSCounter(req['text'], 'ConcatenatedMessages', coding)
        return {'parts': 1 if single == 1 else parts}
    raise ValueError('unknown op ' + op)


out = []
for req in json.load(sys.stdin):
    try:
        out.append(answer(req))
    except Exception as err:  # noqa: BLE001 - every failure is an answer the test looks at
        out.append({'error': repr(err)})
json.dump(out, sys.stdout)
