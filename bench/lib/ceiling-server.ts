// The ceiling for P1: a bare node:http server answering the same list query on the same database
// (the SQLite file with better-sqlite3, or PostgreSQL through a pg pool of the master's size), no
// framework, no auth. Prints its port, serves until killed.
import http from 'node:http';
import Database from 'better-sqlite3';
import pg from 'pg';

const { dbPath, pgUrl, ownerId } = JSON.parse(process.argv[2]!) as { dbPath?: string; pgUrl?: string; ownerId: number };
const SQL = `select tasks.*, users.username as owner from tasks inner join users on users.id = tasks.owner_id
   where tasks.owner_id = ? order by tasks.id desc limit ?`;
let list: () => Promise<Array<Record<string, unknown>>>;
if (pgUrl) {
  const pool = new pg.Pool({ connectionString: pgUrl, max: 10 });
  const text = SQL.replace('?', '$1').replace('?', '$2');
  list = async () => (await pool.query(text, [ownerId, 51])).rows;
} else {
  const db = new Database(dbPath!, { readonly: true });
  db.pragma('journal_mode = WAL');
  const statement = db.prepare(SQL);
  list = async () => statement.all(ownerId, 51) as Array<Record<string, unknown>>;
}
const server = http.createServer((_req, res) => {
  void list().then((rows) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ items: rows.slice(0, 50), next: rows.length > 50 ? 'x' : null }));
  });
});
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: (server.address() as { port: number }).port })));
