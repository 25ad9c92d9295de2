// The till benchmark's baseline: the least a web server can do for a purchase. Fastify in a
// process of its own, one pg pool of the app's size, and per POST one INSERT into a table of
// its own in the same database, answered with the new row's id. No auth, no validation, no
// domain: what is left of a request once every rule is taken away.
//
// Started by bench/till-api.ts with DATABASE_URL, PORT and HOST; prints "ready" when listening.

import Fastify from 'fastify';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
await pool.query(`CREATE TABLE IF NOT EXISTS bench_till_purchase (
  id serial PRIMARY KEY, member_code text NOT NULL, receipt_no text NOT NULL, amount_minor bigint NOT NULL,
  created_at timestamp(3) NOT NULL DEFAULT now())`);

const app = Fastify({ logger: false });
app.post('/v1/purchases', async (request, reply) => {
  const body = request.body as { memberCode: string; receiptNo: string; amountMinor: number };
  const { rows } = await pool.query<{ id: number }>(
    'INSERT INTO bench_till_purchase (member_code, receipt_no, amount_minor) VALUES ($1, $2, $3) RETURNING id',
    [body.memberCode, body.receiptNo, body.amountMinor],
  );
  return reply.code(201).send({ purchaseId: rows[0]?.id });
});

const close = async () => {
  await app.close();
  await pool.end();
  process.exit(0);
};
process.once('SIGTERM', close);
process.once('SIGINT', close);

await app.listen({ port: Number(process.env.PORT), host: process.env.HOST ?? '127.0.0.1' });
console.log('ready');
