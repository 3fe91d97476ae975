// The lake contract: a local directory (LocalLake) or S3-compatible object storage (S3Lake), same layout.
// `openLake` picks by location: `s3://bucket/prefix` is object storage, anything else a local directory.
import { ConfigError } from '../core/errors.ts';
import { LocalLake } from './local-lake.ts';
import { S3Lake, s3OptionsFromEnv, type S3LakeOptions } from './s3-lake.ts';

/** What every lake does; locations it returns are absolute paths (local) or s3:// URLs. */
export type Lake = Pick<
  LocalLake,
  | 'root'
  | 'resolve'
  | 'relative'
  | 'writeRawPage'
  | 'rawPagePath'
  | 'curatedTarget'
  | 'curatedWorkDir'
  | 'curatedFinal'
  | 'ensureDir'
  | 'publish'
  | 'discardTempDirs'
  | 'discard'
  | 'quarantine'
  | 'logFile'
  | 'finishLog'
  | 'readText'
  | 'readBytes'
  | 'list'
>;

/** Opens the lake at `location`; S3 options default from the environment (COINLAKE_S3_ENDPOINT, …). */
export function openLake(location: string, s3?: Omit<S3LakeOptions, 'url'>): Lake {
  if (location.startsWith('s3://')) return new S3Lake({ ...s3OptionsFromEnv(location), ...s3, url: location });
  return new LocalLake(location);
}

/** For commands that build files in place in the lake: a local lake, or a ConfigError saying which commands take s3://. */
export function requireLocalLake(lake: Lake, command: string): LocalLake {
  if (lake instanceof LocalLake) return lake;
  throw new ConfigError(`${command} needs a local lake for now, not ${lake.root}`, { hint: 'an s3:// lake works with run, daily, schedule and setup; give --lake DIR here' });
}
