import { PickleError, isTuple, unpickle } from '../../src/io/pickle';
import { PickleWriter } from './torch_writer';

const refuseAll = {
  source: 'test.pkl',
  findClass: (m: string, n: string) => { throw new Error(`refused ${m}.${n}`); },
  persistentLoad: () => { throw new Error('no persistent ids'); },
};

describe('restricted unpickler', () => {
  it('reads dicts, tuples, strings and integers of every width', () => {
    const w = new PickleWriter().proto(2).emptyDict().mark()
      .str('a').int(7).str('b').int(300).str('c').int(-5).str('d').int(70000)
      .str('t').intTuple([1, 2, 3]).str('u').str('é✓')
      .setitems();
    // LONG1 of 8 bytes: 2**40; NONE; NEWTRUE
    w.str('big').op(0x8a, 6, 0, 0, 0, 0, 0, 1).op(0x73);
    w.str('none').op(0x4e).op(0x73);
    const v = unpickle(w.stop().bytes(), refuseAll) as Map<string, unknown>;
    expect(v.get('a')).toBe(7);
    expect(v.get('b')).toBe(300);
    expect(v.get('c')).toBe(-5);
    expect(v.get('d')).toBe(70000);
    expect(v.get('t')).toEqual([1, 2, 3]);
    expect(isTuple(v.get('t'))).toBe(true);
    expect(v.get('u')).toBe('é✓');
    expect(v.get('big')).toBe(2 ** 40);
    expect(v.get('none')).toBeNull();
  });

  it('resolves memo references (BINPUT / BINGET)', () => {
    const w = new PickleWriter().proto(2).mark().str('x').put().op(0x68, 0).tuple().stop();
    expect(unpickle(w.bytes(), refuseAll)).toEqual(['x', 'x']);
  });

  it('hands every GLOBAL and STACK_GLOBAL to findClass, which can refuse it', () => {
    const viaGlobal = new PickleWriter().proto(2).global('os', 'system').stop().bytes();
    expect(() => unpickle(viaGlobal, refuseAll)).toThrow('refused os.system');
    const viaStack = new PickleWriter().proto(4).stackGlobal('builtins', 'eval').stop().bytes();
    expect(() => unpickle(viaStack, refuseAll)).toThrow('refused builtins.eval');
  });

  it('refuses opcodes that build arbitrary objects', () => {
    const w = new PickleWriter().proto(2).emptyTuple().emptyTuple().op(0x81).stop().bytes();
    expect(() => unpickle(w, refuseAll)).toThrow(/test\.pkl: pickle byte 4: unsupported pickle opcode 0x81 \(NEWOBJ\)/);
  });

  it('reports a truncated pickle with its byte position', () => {
    const full = new PickleWriter().proto(2).str('hello world').stop().bytes();
    const cut = full.subarray(0, 8);
    expect(() => unpickle(cut, refuseAll)).toThrow(PickleError);
    expect(() => unpickle(cut, refuseAll)).toThrow(/pickle byte 2: needs 11 more bytes .*truncated/);
  });

  it('refuses REDUCE on something that is not callable', () => {
    const w = new PickleWriter().proto(2).str('f').emptyTuple().reduce().stop().bytes();
    expect(() => unpickle(w, refuseAll)).toThrow(/REDUCE on a string, which is not callable/);
  });
});
