// The ceiling for P1: a bare node:http server answering the same list query on the same SQLite file
// with better-sqlite3, no framework, no auth. Prints its port, serves until killed.
import http from 'node:http';
import Database from 'better-sqlite3';

const { dbPath, ownerId } = JSON.parse(process.argv[2]!) as { dbPath: string; ownerId: number };
const db = new Database(dbPath, { readonly: true });
db.pragma('journal_mode = WAL');
const list = db.prepare(
  `select tasks.*, users.username as owner from tasks inner join users on users.id = tasks.owner_id
   where tasks.owner_id = ? order by tasks.id desc limit ?`,
);
const server = http.createServer((_req, res) => {
  const rows = list.all(ownerId, 51) as Array<Record<string, unknown>>;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ items: rows.slice(0, 50), next: rows.length > 50 ? 'x' : null }));
});
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: (server.address() as { port: number }).port })));
