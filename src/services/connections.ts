/**
 * Every connection a process knows: the config file's (read-only here) and those made
 * through the API, which live in the directory (SPEC §9) so that every API process and
 * worker sees them. A connection is stored in its config-file form, validated by the
 * same code as the file, with its `source` encrypted.
 */
import { parseConnection, type ConnectionConfig, type LoadedConfig } from '../config.js';
import { isPlainObject } from '../config/messages.js';
import { UsersyncError } from '../core/errors.js';
import { isStandardField } from '../core/fields.js';
import { findConnection } from '../sync/sync-all.js';
import type { DirectoryStore, StoredConnection } from '../directory/store.js';
import { redactSource, type Secrets } from './secrets.js';

export type ConnectionOrigin = 'file' | 'api';

/** A connection as the API shows it: config-file form, password redacted. */
export interface ConnectionView {
  readonly name: string;
  readonly origin: ConnectionOrigin;
  /** For API connections: pass it back to update, so a concurrent change is not overwritten. */
  readonly version: number | null;
  readonly definition: Record<string, unknown>;
  /** The connection as parsed, for what the API derives from it (not sent as such). */
  readonly connection: ConnectionConfig;
}

export class ConnectionCatalog {
  private cached: Loaded | null = null;

  constructor(
    private readonly store: DirectoryStore,
    private readonly file: LoadedConfig,
    private readonly secrets: Secrets,
  ) {}

  /**
   * The config with every connection, file first. Read again unless the last read is at
   * most `maxAgeMs` old: another process may have changed a connection. Hot paths (each
   * login) accept a second-old list; runs read it afresh.
   */
  async config(maxAgeMs = 0): Promise<LoadedConfig> {
    return (await this.load(maxAgeMs)).config;
  }

  async list(): Promise<ConnectionView[]> {
    const { config, stored } = await this.load(0);
    return config.connections.map((c) => this.view(c, stored.get(c.name)));
  }

  async get(name: string): Promise<ConnectionView> {
    const { config, stored } = await this.load(0);
    return this.view(findConnection(config.connections, name), stored.get(name));
  }

  private async load(maxAgeMs: number): Promise<Loaded> {
    if (this.cached && Date.now() - this.cached.at <= maxAgeMs) return this.cached;
    const at = Date.now();
    const entries = await this.store.listStoredConnections();
    const connections = [...this.file.connections];
    for (const entry of entries) connections.push(this.parseStored(entry, connections));
    const config = entries.length === 0 ? this.file : { ...this.file, connections };
    this.cached = { at, config, stored: new Map(entries.map((e) => [e.name, e])) };
    return this.cached;
  }

  async create(raw: unknown): Promise<ConnectionView> {
    const { connections } = await this.config();
    const connection = parseConnection(raw, connections, 'The connection');
    this.cached = null;
    const saved = await this.store.saveStoredConnection(connection.name, this.seal(raw), 0);
    if (!saved)
      throw new UsersyncError(
        'directory.conflict',
        `A connection named "${connection.name}" was just created by someone else. Choose another name.`,
      );
    return this.view(connection, saved);
  }

  /** Replaces an API connection's definition; its name cannot change. */
  async update(name: string, raw: unknown, expectedVersion?: number): Promise<ConnectionView> {
    const current = await this.requireStored(name);
    if (isPlainObject(raw) && raw.name !== undefined && raw.name !== name)
      throw new UsersyncError(
        'usage.invalid',
        `A connection cannot be renamed ("${name}" → "${String(raw.name)}"): create a new one and delete this one.`,
        {
          problems: [{ path: 'name', message: `must be "${name}" (connections cannot be renamed).` }],
        },
      );
    const definition = isPlainObject(raw) ? { ...raw, name } : raw;
    const { connections } = await this.config();
    const others = connections.filter((c) => c.name !== name);
    const connection = parseConnection(definition, others, `The connection "${name}"`);
    const version = expectedVersion ?? current.version;
    this.cached = null;
    const saved = await this.store.saveStoredConnection(name, this.seal(definition), version);
    if (!saved)
      throw new UsersyncError(
        'directory.conflict',
        `The connection "${name}" was changed by someone else (version ${version} is not the current one). Load it again and redo your change.`,
      );
    return this.view(connection, saved);
  }

  async remove(name: string): Promise<void> {
    await this.requireStored(name);
    this.cached = null;
    await this.store.deleteStoredConnection(name);
  }

  private async requireStored(name: string): Promise<StoredConnection> {
    const stored = await this.store.getStoredConnection(name);
    if (stored) return stored;
    if (this.file.connections.some((c) => c.name === name))
      throw new UsersyncError(
        'usage.invalid',
        `The connection "${name}" is declared in ${this.file.file}; change it there (the API changes only connections made through it).`,
      );
    findConnection((await this.config()).connections, name); // throws: there is none, with the names
    throw new UsersyncError('not_found', `The connection "${name}" was deleted meanwhile.`);
  }

  /** The source URL and the webhook secret are the credentials: both are encrypted. */
  private seal(raw: unknown): string {
    const record = raw as Record<string, unknown>;
    const sealed: Record<string, unknown> = {
      ...record,
      source: this.secrets.encrypt(String(record.source)),
    };
    if (typeof record.webhookSecret === 'string')
      sealed.webhookSecret = this.secrets.encrypt(record.webhookSecret);
    return JSON.stringify(sealed);
  }

  private parseStored(entry: StoredConnection, before: readonly ConnectionConfig[]): ConnectionConfig {
    const raw = JSON.parse(entry.definition) as Record<string, unknown>;
    const definition: Record<string, unknown> = { ...raw, source: this.secrets.decrypt(String(raw.source)) };
    if (typeof raw.webhookSecret === 'string')
      definition.webhookSecret = this.secrets.decrypt(raw.webhookSecret);
    return {
      ...parseConnection(definition, before, `The stored connection "${entry.name}"`),
      configPath: `connection "${entry.name}"`,
    };
  }

  private view(connection: ConnectionConfig, stored: StoredConnection | undefined): ConnectionView {
    return {
      name: connection.name,
      origin: stored ? 'api' : 'file',
      version: stored?.version ?? null,
      definition: definitionOf(connection),
      connection,
    };
  }
}

interface Loaded {
  readonly at: number;
  readonly config: LoadedConfig;
  readonly stored: ReadonlyMap<string, StoredConnection>;
}

/** Back to the config-file form (appendix A), with the source's password redacted. */
export function definitionOf(c: ConnectionConfig): Record<string, unknown> {
  const fields: Record<string, unknown> = { email: c.emailColumn };
  const custom: Record<string, unknown> = {};
  for (const field of c.fields) {
    const ref = { column: field.column, owner: field.owner };
    if (isStandardField(field.id)) fields[field.id] = ref;
    else custom[field.id.slice('custom.'.length)] = ref;
  }
  return {
    name: c.name,
    source: redactSource(c.source),
    ...(c.table === undefined ? {} : { table: c.table }),
    ...(c.key === undefined ? {} : { key: c.key }),
    mode: c.mode,
    conflict: c.conflict,
    fields,
    custom,
    ...(c.filter ? { filter: c.filter.text } : {}),
    createInSource: c.createInSource,
    acceptEmailChanges: c.acceptEmailChanges,
    ...(c.cursor === undefined ? {} : { cursor: c.cursor }),
    ...(c.schedule === undefined ? {} : { schedule: c.schedule }),
    ...(c.webhookSecret === undefined ? {} : { webhookSecret: '***' }),
    maxChange: c.maxChange,
  };
}
