/**
 * How a CSV file is written, detected when it is read so a rewrite keeps it: people
 * diff these files and open them in spreadsheets that care about the BOM and `;`.
 */
export interface CsvFormat {
  /** The file starts with a UTF-8 byte-order mark (Excel's "CSV UTF-8"). */
  readonly bom: boolean;
  readonly delimiter: ',' | ';';
  readonly lineEnding: '\r\n' | '\n';
  /** Every header cell was quoted: write every value quoted too. */
  readonly quoteAll: boolean;
  /** The last line ends with a line break. */
  readonly finalNewline: boolean;
}

export const BOM = '\uFEFF';

/** Detects the format from the header line (`text` without its BOM). */
export function detectCsvFormat(text: string, bom: boolean): CsvFormat {
  const header = scanHeaderLine(text);
  return {
    bom,
    // Whichever occurs more outside quotes; a one-column file has neither and gets `,`.
    delimiter: header.semicolons > header.commas ? ';' : ',',
    lineEnding: header.crlf ? '\r\n' : '\n',
    quoteAll: header.cells > 0 && header.quotedCells === header.cells,
    finalNewline: text.endsWith('\n'),
  };
}

interface HeaderScan {
  commas: number;
  semicolons: number;
  crlf: boolean;
  cells: number;
  quotedCells: number;
}

/** Walks the first record, honouring quotes, up to its line break. */
function scanHeaderLine(text: string): HeaderScan {
  const scan: HeaderScan = { commas: 0, semicolons: 0, crlf: false, cells: 1, quotedCells: 0 };
  let inQuotes = false;
  let cellStart = true;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (char === '"') {
      if (cellStart) scan.quotedCells++;
      inQuotes = !inQuotes;
    } else if (!inQuotes && (char === ',' || char === ';')) {
      if (char === ',') scan.commas++;
      else scan.semicolons++;
    } else if (!inQuotes && char === '\n') {
      scan.crlf = text[i - 1] === '\r';
      break;
    }
    cellStart = !inQuotes && (char === ',' || char === ';');
  }
  // Cells are counted by the delimiter that wins.
  scan.cells += Math.max(scan.commas, scan.semicolons);
  return scan;
}
