/** The OpenAPI document describes every route the server answers, and nothing else. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { buildServer } from '../../src/server/app.js';
import { Runtime } from '../../src/services/runtime.js';
import { useTempDir } from '../support/temp.js';

const tempDir = useTempDir('usersync-openapi-');
const quiet = { info: () => {}, warn: () => {}, error: () => {} };
const open: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const close of open.splice(0)) await close();
});

it('describes every route, each with its request and response schemas', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'usersync.yaml'), 'directory: sqlite:./dir.db\n');
  const runtime = await Runtime.open(await loadConfig({ path: join(dir, 'usersync.yaml') }), {
    logger: quiet,
    runJobs: true,
  });
  const { app, routes } = await buildServer(runtime);
  open.push(
    () => runtime.close(),
    () => app.close(),
  );
  const document = (await app.inject({ method: 'GET', url: '/api/v1/openapi.json' })).json() as {
    paths: Record<
      string,
      Record<string, { responses?: object; requestBody?: object; parameters?: object[] }>
    >;
    components: { schemas: Record<string, unknown> };
  };

  // The document itself is the one route it leaves out.
  const served = routes
    .filter((r) => r.url !== '/api/v1/openapi.json')
    .map((r) => `${r.method} ${r.url.replace(/:([A-Za-z]+)/g, '{$1}')}`)
    .sort();
  const documented = Object.entries(document.paths)
    .flatMap(([path, operations]) =>
      Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
    )
    .sort();
  expect(documented).toEqual(served);
  expect(served.length).toBeGreaterThan(25);

  // Generated from the same zod schemas as validation: bodies and named components are there.
  expect(document.paths['/api/v1/users']!.post!.requestBody).toBeDefined();
  expect(document.paths['/api/v1/users/{id}']!.patch!.parameters).toEqual(
    expect.arrayContaining([expect.objectContaining({ name: 'id', in: 'path' })]),
  );
  expect(Object.keys(document.components.schemas)).toEqual(
    expect.arrayContaining(['User', 'SyncRun', 'SyncIssue', 'Error', 'Connection']),
  );
});
