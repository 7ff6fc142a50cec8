/** A row as read from a source: its key (as text) and the raw values of the columns asked for. */
export interface SourceRow {
  readonly key: string;
  readonly values: Readonly<Record<string, unknown>>;
  /** The source's digest of the values read, when asked for (see `SourceConnector.scanFingerprints`). */
  readonly fingerprint?: string;
}
