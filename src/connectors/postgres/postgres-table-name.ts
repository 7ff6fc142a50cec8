/** One way to read the `table:` setting: a table name, and the schema it is in when given. */
export interface TableName {
  readonly schema?: string | undefined;
  readonly name: string;
}

/**
 * The readings of `table:` to try, best first. SQL's quoted form (`"CRM"."Team Members"`,
 * `""` for a quote inside) means what it means in SQL. Otherwise the text is taken as
 * written, `crm.members` or `members`; a dot there is ambiguous (a table may be named
 * `crm.members`), so both readings are tried. Names are matched exactly, else
 * case-insensitively (see postgres-schema.ts).
 */
export function parseTableName(table: string): TableName[] {
  const text = table.trim();
  const parts = text.startsWith('"') || text.endsWith('"') ? quotedParts(text) : undefined;
  const [first, second] = parts ?? [];
  if (parts?.length === 1 && first !== undefined) return [{ name: first }];
  if (parts?.length === 2 && first !== undefined && second !== undefined)
    return [{ schema: first, name: second }];
  const dot = text.indexOf('.');
  const whole = { name: text };
  if (dot <= 0 || dot === text.length - 1) return [whole];
  return [{ schema: text.slice(0, dot), name: text.slice(dot + 1) }, whole];
}

/** `"a".b` split at dots outside quotes; undefined when the text is not in that form. */
function quotedParts(text: string): string[] | undefined {
  const parts: string[] = [];
  let i = 0;
  for (;;) {
    let part = '';
    if (text[i] === '"') {
      for (i++; ; i++) {
        if (i >= text.length) return undefined;
        if (text[i] === '"') {
          if (text[i + 1] !== '"') break;
          i++;
        }
        part += text[i];
      }
      i++;
    } else {
      while (i < text.length && text[i] !== '.' && text[i] !== '"') part += text[i++];
      part = part.trim();
    }
    if (part === '') return undefined;
    parts.push(part);
    if (i >= text.length) return parts;
    if (text[i] !== '.') return undefined;
    i++;
  }
}
