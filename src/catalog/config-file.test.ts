// Config files: which one applies, the INI [COMMON] merge rules, and error messages that name file, key and form.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../core/errors.ts';
import { loadBuiltinCatalog, loadConfig, mergeCommon, parseCatalogText, parseIniSettings } from './config-file.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'coinlake-config-'));
});
afterEach(async () => rm(dir, { recursive: true, force: true }));

const thrown = (fn: () => unknown): ConfigError => {
  try {
    fn();
  } catch (err) {
    return err as ConfigError;
  }
  throw new Error('expected an error');
};

describe('INI: [COMMON] merged into the selected section', () => {
  it('a section value wins unless it is empty; keys only in [COMMON] come through', () => {
    expect(mergeCommon({ warehouse: 'common.duckdb', lake: 'common-lake', log_level: 'info' }, { warehouse: '', lake: 'own-lake', connection_url: 'http://x' })).toEqual({
      warehouse: 'common.duckdb',
      lake: 'own-lake',
      log_level: 'info',
      connection_url: 'http://x',
    });
  });

  it('reads the merged section, [COMMON] alone without a section', () => {
    const text = `; classic config
[COMMON]
warehouse = ./wh/common.duckdb
lake = ./lake
log_level = warning

[COINCAP_RATES]
warehouse =
log_level = debug
connection_url = http://127.0.0.1:9/v2
`;
    expect(parseIniSettings(text, 'config.ini', 'COINCAP_RATES')).toEqual({
      warehouse: './wh/common.duckdb',
      lake: './lake',
      logLevel: 'debug',
      connectionUrl: 'http://127.0.0.1:9/v2',
    });
    expect(parseIniSettings(text, 'config.ini')).toEqual({ warehouse: './wh/common.duckdb', lake: './lake', logLevel: 'warning', connectionUrl: undefined });
  });

  it('missing required keys give one error listing all of them', () => {
    const err = thrown(() => parseIniSettings('[COMMON]\nlog_level = info\n[COINCAP_ASSET]\nwarehouse =\n', 'config.ini', 'COINCAP_ASSET'));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toBe('config.ini: [COINCAP_ASSET] is missing required keys: warehouse, lake');
    expect(err.hint).toBe('set them in [COINCAP_ASSET] or in [COMMON] (an empty value in [COINCAP_ASSET] falls back to [COMMON])');
    expect(thrown(() => parseIniSettings('[COMMON]\nlake = ./lake\n', 'config.ini')).message).toBe('config.ini: [COMMON] is missing required keys: warehouse');
  });

  it('names the file, section and key of every other problem', () => {
    const base = '[COMMON]\nwarehouse = a.duckdb\nlake = l\n';
    expect(thrown(() => parseIniSettings(base + 'wharehouse = x\n', 'my.ini')).message).toBe(
      'my.ini: [COMMON] wharehouse: unknown key; expected one of warehouse, lake, log_level, connection_url',
    );
    expect(thrown(() => parseIniSettings(base + 'log_level = verbose\n', 'my.ini')).message).toBe(
      'my.ini: [COMMON] log_level: expected one of debug, info, warning, error, got "verbose"',
    );
    expect(thrown(() => parseIniSettings(base + '[X]\nconnection_url = ftp://nope\n', 'my.ini', 'X')).message).toBe(
      'my.ini: [X] connection_url: expected an http(s) URL, got "ftp://nope"',
    );
    const noSection = thrown(() => parseIniSettings(base, 'my.ini', 'COINCAP_RATES'));
    expect(noSection.message).toBe('my.ini: no section [COINCAP_RATES]');
    expect(noSection.hint).toBe('sections: [COMMON]; add [COINCAP_RATES] (it may be empty: [COMMON] is merged into it)');
    expect(thrown(() => parseIniSettings('warehouse = a\n' + base, 'my.ini')).message).toBe(
      'my.ini: key "warehouse" is outside any section; expected it under [COMMON] or a connection\'s section',
    );
  });
});

describe('which config file applies', () => {
  it('config.ini, then coinlake.yaml, else the built-in catalog; -p picks a file', async () => {
    expect(await loadConfig({ cwd: dir })).toMatchObject({ format: 'builtin', settings: {}, catalogOrigin: 'the built-in catalog' });
    await writeFile(path.join(dir, 'coinlake.yaml'), 'warehouse: ./from-yaml.duckdb\n');
    expect(await loadConfig({ cwd: dir })).toMatchObject({ format: 'yaml', settings: { warehouse: path.join(dir, 'from-yaml.duckdb') }, catalogOrigin: 'the built-in catalog' });
    await writeFile(path.join(dir, 'config.ini'), '[COMMON]\nwarehouse = ./from-ini.duckdb\nlake = ./lake\n');
    const ini = await loadConfig({ cwd: dir });
    expect(ini).toMatchObject({ format: 'ini', settings: { warehouse: path.join(dir, 'from-ini.duckdb'), lake: path.join(dir, 'lake') } });
    expect(ini.catalog.ingestions).toHaveLength(5);
    expect(await loadConfig({ cwd: dir, file: 'coinlake.yaml' })).toMatchObject({ format: 'yaml' });
    await expect(loadConfig({ cwd: dir, file: 'nope.yaml' })).rejects.toThrow('config file nope.yaml not found');
  });

  it('a YAML file with connections and ingestions is the catalog; URLs stay as written', async () => {
    await writeFile(
      path.join(dir, 'coinlake.yaml'),
      `warehouse: postgres://u@127.0.0.1/db
connections: [{ name: C1, url: "http://127.0.0.1:1/v2" }]
ingestions:
  - { connection: C1, asset: A1, target_table: t1, source: coincap.rates }
`,
    );
    const cfg = await loadConfig({ cwd: dir });
    expect(cfg.settings.warehouse).toBe('postgres://u@127.0.0.1/db');
    expect(cfg.catalogOrigin).toBe('coinlake.yaml');
    expect(cfg.catalog.ingestions[0]).toMatchObject({ asset: 'A1', load_type: 'FULL', on_missing: 'null', enabled: true, params: {} });
  });
});

describe('YAML validation', () => {
  it('every issue names the file, the key (with its entry) and the expected form', () => {
    const text = `connections:
  - { name: C1, auth_type: token }
ingestions:
  - connection: C1
    asset: A1
    target_table: t1
    source: coincap
    load_type: FOOL
    columns:
      - { column_name: id, mapping_column: id, datatype: VARCHAR(10) }
  - { connection: C2, asset: A2, target_table: 2t, source: coincap.rates, colour: red }
`;
    expect(thrown(() => parseCatalogText(text, 'coinlake.yaml')).message).toBe(
      [
        'coinlake.yaml: connections[0] (C1).auth_type: expected one of none, bearer, basic, got "token"',
        'coinlake.yaml: ingestions[0] (A1).source: expected source.stream, e.g. coincap.assets',
        'coinlake.yaml: ingestions[0] (A1).load_type: expected one of FULL, INCR, got "FOOL"',
        'coinlake.yaml: ingestions[0] (A1).columns[0].datatype: expected VARCHAR, DOUBLE, BIGINT, INTEGER, BOOLEAN, TIMESTAMPTZ, DATE, JSON or DECIMAL(p,s), got "VARCHAR(10)"',
        'coinlake.yaml: ingestions[1] (A2).target_table: expected a table name (letters, digits and _, not starting with a digit)',
        'coinlake.yaml: ingestions[1] (A2): unknown key "colour"',
      ].join('\n'),
    );
  });

  it('cross checks: unknown connection, duplicates, one set of column details per asset', () => {
    const text = `connections: [{ name: C1 }, { name: C1 }]
ingestions:
  - { connection: C9, asset: A1, target_table: t1, source: coincap.rates }
  - { connection: C1, asset: A2, target_table: t2, source: coincap.rates, columns: [{ column_name: id, mapping_column: id, datatype: VARCHAR }, { column_name: id, mapping_column: id2, datatype: VARCHAR }] }
  - { connection: C1, asset: A2, target_table: t2, source: coincap.rates }
`;
    expect(thrown(() => parseCatalogText(text, 'c.yaml')).message.split('\n')).toEqual([
      'c.yaml: connections[1] (C1).name: connection C1 is listed twice',
      'c.yaml: ingestions[0] (A1).connection: expected one of the connections listed (C1), got "C9"',
      'c.yaml: ingestions[1] (A2).columns[1].column_name: expected a column_name unique within A2, got "id" twice',
      'c.yaml: ingestions[2] (A2).asset: asset A2 of connection C1 is listed twice',
    ]);
  });

  it('not YAML at all', () => {
    expect(thrown(() => parseCatalogText('connections: [', 'bad.yaml')).message).toMatch(/^bad\.yaml: not valid YAML: /);
  });

  it('the built-in catalog holds the five classic jobs', async () => {
    const c = await loadBuiltinCatalog();
    expect(c.ingestions.map((i) => `${i.connection} ${i.asset}`)).toEqual([
      'COINCAP_ASSET EXTERNAL_COINCAP_ASSETS',
      'COINCAP_BITCOIN_HISTORY EXTERNAL_COINCAP_BITCOIN_HISTORY',
      'COINCAP_EXCHANGES EXTERNAL_COINCAP_EXCHANGES',
      'COINCAP_RATES EXTERNAL_COINCAP_RATES',
      'COINCAP_MARKETS EXTERNAL_COINCAP_MARKETS',
    ]);
    expect(c.ingestions[1]).toMatchObject({ ingestion_type: 'REQUEST_PAYLOAD', load_type: 'INCR', incremental_date_column: 'time', params: { interval: 'h1' } });
    expect(c.connections.every((x) => x.url === 'https://api.coincap.io/v2' && x.auth_type === 'bearer')).toBe(true);
  });
});
