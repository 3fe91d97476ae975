// Every file-import plug-in (`coinlake import <format> <files…>`), one line each. Adding a format does not touch the
// runner or the command.
import { ConfigError } from '../core/errors.ts';
import type { FileFormat } from '../core/file-format.ts';
import { cddFileFormat } from './cryptodatadownload/cdd-file-format.ts';

export const FILE_FORMATS: FileFormat[] = [cddFileFormat];

/** `name (title)` of every format, for help and errors. */
export function fileFormatNames(): string {
  return FILE_FORMATS.map((f) => `${f.name} (${f.title})`).join(', ');
}

/** The format named `name`; the error lists the formats. */
export function findFileFormat(name: string): FileFormat {
  const format = FILE_FORMATS.find((f) => f.name === name);
  if (!format) {
    throw new ConfigError(`unknown import format "${name}"`, {
      hint: `known formats: ${fileFormatNames()}; e.g. coinlake import ${FILE_FORMATS[0].name} <files>`,
    });
  }
  return format;
}
