// The naive baseline the issue measures against: for each row, look the user up in the
// directory by email, create it if missing, write its id back to the source row; one
// statement at a time, each its own transaction, no batching. Runs on a sample table
// (bench/sources.js `sample`) with its own fresh directory.
// Usage: node bench/baseline.js JSON  → prints {"rows","ms"} as JSON, where JSON is
// {"directory","baseDir","source":{"kind":"sqlite","path","table"}|{"kind":"postgres"|"mysql","url","table"}}.
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { openDirectory } from '../dist/directory/open.js';

const { directory, baseDir, source } = JSON.parse(process.argv[2]);
const store = await openDirectory(directory, { baseDir });
const table = openTable(source);
const started = performance.now();
const rows = await table.read();
for (const row of rows) {
  const user =
    (await store.findUserByEmail(row.email)) ??
    (await store.createUser({
      email: row.email,
      name: row.full_name,
      avatar: row.photo_url,
      custom: { plan: row.plan, company: row.company },
    }));
  await table.writeUserId(row.id, user.id);
}
const ms = performance.now() - started;
await table.close();
await store.close();
process.stdout.write(JSON.stringify({ rows: rows.length, ms }));

function openTable(source) {
  const read = `select id, email, full_name, photo_url, plan, company from ${source.table} order by id`;
  const write = `update ${source.table} set app_user_id = $1 where id = $2`;
  if (source.kind === 'sqlite') {
    const db = new Database(source.path);
    const update = db.prepare(write.replace('$1', '?').replace('$2', '?'));
    return {
      read: async () => db.prepare(read).all(),
      writeUserId: async (id, userId) => void update.run(userId, id),
      close: async () => db.close(),
    };
  }
  if (source.kind === 'mysql') {
    const connected = mysql.createConnection(source.url);
    return {
      read: async () => (await (await connected).query(read))[0],
      writeUserId: async (id, userId) =>
        void (await (await connected).query(write.replace('$1', '?').replace('$2', '?'), [userId, id])),
      close: async () => (await connected).end(),
    };
  }
  const client = new pg.Client({ connectionString: source.url });
  const connected = client.connect();
  return {
    read: async () => (await connected, (await client.query(read)).rows),
    writeUserId: async (id, userId) => void (await client.query(write, [userId, id])),
    close: () => client.end(),
  };
}
