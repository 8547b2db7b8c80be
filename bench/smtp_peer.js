// smtp_peer.js: the peer of bench_smtp.py, Node's nodemailer with a pooled
// SMTP transport (https://nodemailer.com/smtp/pooled/), sending N messages
// like pregond's (same From with a display name, a non-ASCII subject, a
// UTF-8 text body) to the same sink, over at most CONNS connections.
// All N are handed over at once, as pregond finds them all in its backlog;
// latency is from that hand-over to each message's 250. Prints one JSON
// line: n, seconds, rate, p50/p95/p99 (ms), failed.
const nodemailer = require('nodemailer');

const N = parseInt(process.env.N || '20000', 10);
const PORT = parseInt(process.env.SMTP_PORT, 10);
const CONNS = parseInt(process.env.CONNS || '4', 10);

const transport = nodemailer.createTransport({
  host: '127.0.0.1', port: PORT, secure: false, ignoreTLS: true,
  pool: true, maxConnections: CONNS, maxMessages: Infinity,
});

function pct(sorted, p) {
  const k = Math.max(0, Math.min(sorted.length - 1, Math.ceil(p * sorted.length / 100) - 1));
  return sorted[k];
}

async function main() {
  const t0 = process.hrtime.bigint();
  const lat = [];
  let failed = 0;
  const sends = [];
  for (let i = 0; i < N; i++) {
    sends.push(transport.sendMail({
      from: '"La Defensa" <alerts@defensa.example.org>',
      to: `c${i}@example.org`,
      subject: `Recordatorio: su audiencia, señora Núñez (#${i})`,
      text: `Court reminder #${i}: your hearing is on 2024-07-01 at 09:00, Dept 12. ` +
            'Reply STOP to opt out.\n',
    }).then(() => { lat.push(Number(process.hrtime.bigint() - t0) / 1e6); },
            () => { failed++; }));
  }
  await Promise.all(sends);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  transport.close();
  lat.sort((a, b) => a - b);
  console.log(JSON.stringify({ n: N, seconds: secs, rate: N / secs, p50: pct(lat, 50),
                               p95: pct(lat, 95), p99: pct(lat, 99), failed }));
}

main();
