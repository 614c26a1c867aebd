/** FUZZ_N, FUZZ_SEED, LONG_RUN_N: a value that would make a test check nothing is refused. */
import { wholeNumberFromEnv } from './env';

const NAME = 'DEPTH_ANYTHING_TEST_COUNT';
afterEach(() => { delete process.env[NAME]; });
const read = (value: string | undefined) => {
  if (value === undefined) delete process.env[NAME];
  else process.env[NAME] = value;
  return () => wholeNumberFromEnv(NAME, 70, 1, 'the number of mutants');
};

describe('wholeNumberFromEnv', () => {
  test('unset: the default; a whole number in range: that number', () => {
    expect(read(undefined)()).toBe(70);
    expect(read('1')()).toBe(1);
    expect(read('1000')()).toBe(1000);
    delete process.env[NAME];
    expect(wholeNumberFromEnv(NAME, 1, 0, 'the first seed')).toBe(1);
    process.env[NAME] = '0';
    expect(wholeNumberFromEnv(NAME, 1, 0, 'the first seed')).toBe(0);
  });

  test.each(['0', '', ' ', '1.5', '-1', '1e3', '0x10', 'abc', ' 5', '99999999999999999999'])('%j is refused in one line naming the variable and what it counts', (value) => {
    expect(read(value)).toThrow(`${NAME}=${JSON.stringify(value)}: must be a whole number >= 1 (the number of mutants); unset, it is 70`);
  });
});
