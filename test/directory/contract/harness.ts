/**
 * What the directory contract suite runs against: a factory for a fresh, empty directory
 * per test (its own SQLite file, or its own PostgreSQL schema).
 */
import { afterEach } from 'vitest';
import type { LinkState } from '../../../src/core/link.js';
import type { NewUser } from '../../../src/core/user.js';
import type { DirectoryStore } from '../../../src/directory/store.js';

export interface StoreUnderTest {
  readonly store: DirectoryStore;
  /** Opens the same directory again (as a restarted process would). */
  reopen(): Promise<DirectoryStore>;
}

export type MakeStore = () => Promise<StoreUnderTest>;

/** Gives each test a fresh directory and closes every store it opened afterwards. */
export function useDirectory(makeStore: MakeStore): () => Promise<StoreUnderTest> {
  const opened: DirectoryStore[] = [];
  afterEach(async () => {
    for (const store of opened.splice(0)) await store.close();
  });
  return async () => {
    const made = await makeStore();
    opened.push(made.store);
    return {
      store: made.store,
      reopen: async () => {
        const store = await made.reopen();
        opened.push(store);
        return store;
      },
    };
  };
}

export function newUser(id: string, email: string, fields: Partial<NewUser> = {}): NewUser {
  return {
    id,
    email,
    name: null,
    avatar: null,
    createdAt: '2025-01-01T00:00:00.000Z',
    lastSeenAt: null,
    status: 'active',
    custom: {},
    ...fields,
  };
}

export function link(userId: string, key: string, fields: Partial<LinkState> = {}): LinkState {
  return {
    userId,
    key,
    sourceEmail: `${userId}@example.com`,
    baseline: { name: null },
    suspended: false,
    ...fields,
  };
}

export async function collect<T>(pages: AsyncIterable<T[]>): Promise<T[][]> {
  const all: T[][] = [];
  for await (const page of pages) all.push(page);
  return all;
}
