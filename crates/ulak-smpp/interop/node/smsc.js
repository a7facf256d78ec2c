// A small SMSC built on the third-party node-smpp package, for Ulak's client interop test.
// Usage: node smsc.js PORT SYSTEM_ID PASSWORD   (PORT 0 picks a free one)
// Prints one JSON object per line on stdout: listening, bind, submit, deliver_resp.
// A submit to 900000000000 makes it send three inbound messages: plain, UDH-concatenated
// (UCS-2) and SAR-concatenated (GSM 7-bit), so the client's inbound path is exercised.
'use strict';
const smpp = require('smpp');

const [port, systemId, password] = [Number(process.argv[2] || 0), process.argv[3], process.argv[4]];
let nextId = 1000;
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const hex = (b) => (Buffer.isBuffer(b) ? b.toString('hex') : null);

function text(m) {
  if (m === undefined || m === null) return null;
  if (typeof m === 'string') return m;
  if (Buffer.isBuffer(m)) return m.toString('latin1');
  return typeof m.message === 'string' ? m.message : hex(m.message);
}

function ucs2(s) {
  const b = Buffer.alloc(s.length * 2);
  for (let i = 0; i < s.length; i++) b.writeUInt16BE(s.charCodeAt(i), i * 2);
  return b;
}

function sendInbound(session) {
  const from = '905321234567';
  const to = '4545';
  session.deliver_sm({ source_addr: from, destination_addr: to, short_message: 'Merhaba Ulak' });
  const long = 'Uzun gelen mesaj: ' + 'çok parçalı '.repeat(8);
  const cut = 60;
  const parts = [long.slice(0, cut), long.slice(cut)];
  parts.forEach((p, i) => {
    const udh = Buffer.from([0x05, 0x00, 0x03, 0x42, parts.length, i + 1]);
    session.deliver_sm({
      source_addr: from, destination_addr: to, esm_class: 0x40, data_coding: 8,
      short_message: Buffer.concat([udh, ucs2(p)]),
    });
  });
  const sar = ['SAR part one, ', 'SAR part two.'];
  sar.forEach((p, i) => {
    session.deliver_sm({
      source_addr: from, destination_addr: to, data_coding: 0,
      short_message: Buffer.from(p, 'latin1'),
      sar_msg_ref_num: 77, sar_total_segments: sar.length, sar_segment_seqnum: i + 1,
    });
  });
}

const server = smpp.createServer({ debug: false }, (session) => {
  const onBind = (name) => (pdu) => {
    const ok = pdu.system_id === systemId && pdu.password === password;
    out({ event: 'bind', kind: name, system_id: pdu.system_id, interface_version: pdu.interface_version, ok });
    session.send(pdu.response({ command_status: ok ? 0 : smpp.ESME_RBINDFAIL, system_id: 'nodesmsc' }));
  };
  session.on('bind_transceiver', onBind('transceiver'));
  session.on('bind_transmitter', onBind('transmitter'));
  session.on('bind_receiver', onBind('receiver'));
  session.on('enquire_link', (pdu) => session.send(pdu.response()));
  session.on('unbind', (pdu) => { out({ event: 'unbind' }); session.send(pdu.response()); session.close(); });
  session.on('deliver_sm_resp', (pdu) => out({ event: 'deliver_resp', status: pdu.command_status }));
  session.on('submit_sm', (pdu) => {
    const id = String(nextId++);
    const m = pdu.short_message;
    out({
      event: 'submit', message_id: id, dest: pdu.destination_addr, source: pdu.source_addr,
      esm_class: pdu.esm_class, data_coding: pdu.data_coding,
      registered_delivery: pdu.registered_delivery,
      udh: m && m.udh ? m.udh.map(hex) : [],
      message: text(m),
      payload: text(pdu.message_payload),
      sar: pdu.sar_msg_ref_num === undefined ? null
        : { ref: pdu.sar_msg_ref_num, total: pdu.sar_total_segments, seq: pdu.sar_segment_seqnum },
    });
    session.send(pdu.response({ message_id: id }));
    if (pdu.destination_addr === '900000000000') sendInbound(session);
    if (pdu.registered_delivery & 0x01) {
      setTimeout(() => {
        session.deliver_sm({
          source_addr: pdu.destination_addr, destination_addr: pdu.source_addr, esm_class: 0x04,
          short_message: Buffer.from(`id:${id} sub:001 dlvrd:001 submit date:2511251230 done date:2511251231 stat:DELIVRD err:000 text:x`),
          receipted_message_id: id, message_state: 2,
        });
      }, 50);
    }
  });
  session.on('error', (e) => out({ event: 'error', error: String(e) }));
});
server.listen(port, '127.0.0.1', () => out({ event: 'listening', port: server.address().port }));
