/**
 * The case lists are fixed in the tests, so a fixture case nobody listed would never run and
 * nothing would say so: every case folder under ../shared/fixtures/{parity,preprocess,seg,vda,da3,train}
 * must be in a suite's list (and every listed case must be there), and every kind of fixture has
 * suites (a new kind is noticed too).
 */
import { readdirSync, statSync } from 'fs';
import * as path from 'path';
import { FIXTURES } from './helpers';
import { DA3_CASES, PARITY_CASES, PREPROCESS_CASES, TRAIN_CASES, V1_METRIC_CASES, VDA_CASES } from './fixture_cases';
import { SEG_CASES } from './semseg/parity_suite';

/** Each kind of fixture with suites, and the cases they run. */
const SUITES: Record<string, readonly string[]> = {
  parity: [...PARITY_CASES, ...V1_METRIC_CASES],
  preprocess: PREPROCESS_CASES,
  seg: SEG_CASES,
  vda: VDA_CASES,
  da3: DA3_CASES,
  train: TRAIN_CASES,
};

const folders = (dir: string) => readdirSync(dir).filter((name) => statSync(path.join(dir, name)).isDirectory()).sort();

describe('fixture cases', () => {
  test.each(Object.keys(SUITES))('every case folder under %s/ is in a suite\'s list, and every listed case is there', (kind) => {
    const here = folders(path.join(FIXTURES, kind));
    const listed = SUITES[kind];
    expect({ kind, inNoList: here.filter((c) => !listed.includes(c)) }).toEqual({ kind, inNoList: [] });
    expect({ kind, listedButAbsent: listed.filter((c) => !here.includes(c)) }).toEqual({ kind, listedButAbsent: [] });
  });

  test('every kind of fixture is one with suites', () => {
    const kinds = folders(FIXTURES);
    expect(kinds.filter((k) => !(k in SUITES))).toEqual([]);
    for (const k of Object.keys(SUITES)) expect(kinds).toContain(k);
  });
});
