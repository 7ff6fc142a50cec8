/** A row as read from a source: its key (as text) and the raw values of the columns asked for. */
export interface SourceRow {
  readonly key: string;
  readonly values: Readonly<Record<string, unknown>>;
}
