#!/usr/bin/env node
// Writes src/backends/wasm_gemm.generated.ts: the matrix-product kernel of src/backends/wasm_gemm.ts
// as WebAssembly text generated below, assembled by wabt into two binaries (one importing a shared
// memory, for tfjs-backend-wasm's threaded build, one a plain memory), base64-encoded.
// Written by hand because no library offers a wasm GEMM with relaxed-SIMD FMA that can work inside
// tfjs-backend-wasm's heap; the text is generated so that the unrolled register tile stays readable.
//   node tools/gen-wasm-gemm.mjs            (after editing this file)
//   node tools/gen-wasm-gemm.mjs --check    (exit 1 if the committed file differs)
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import wabtInit from 'wabt';

/** Rows and columns of C held in registers: MR x NR accumulators of f32x4 (8 of the 16 xmm registers). */
export const MR = 4;
export const NR = 8;

/**
 * The module's text. Layout (all pointers byte offsets into the imported memory; a thread takes a
 * range of row blocks, the last two arguments of `gemm` and `conv`):
 * - `pack(b, ldb, bp, K, N, trans)`: B [K, N] (row stride ldb bytes; trans: B given as [N, K]) into
 *   panels of NR columns, each K x NR floats, the last panel padded with zeros.
 * - `gemm(a, lda, bp, bias, c, ldc, M, N, K, relu, mb0, mb1)`: C[m, :] = A[m, :] B (+ bias) (relu)
 *   for the rows of blocks [mb0, mb1) (MR rows each); A and C with row strides lda, ldc bytes; bias
 *   0 for none.
 * - `conv(x, H, W, Cin, k, stride, pad, zero, bp, bias, c, OH, OW, N, P, relu, pb0, pb1)`: an NHWC
 *   convolution as an indirect product: output pixel q (of P = batch x OH x OW) is row q of C, its
 *   K = k k Cin inputs are, per kernel tap, the Cin channels of one input pixel, or `zero` (Cin
 *   zeros) where the tap falls in the padding. B is the HWIO filter as [k k Cin, N], packed.
 */
export function gemmWat(shared) {
  const NV = NR / 4;
  const acc = [];
  for (let r = 0; r < MR; r++) for (let v = 0; v < NV; v++) acc.push(`$c${r}_${v}`);
  const rowsOf = (f) => Array.from({ length: MR }, (_, r) => f(r));
  const L = [];
  const p = (s) => L.push(s);
  const tileLocals = () => `(local $n i32) (local $s v128) (local $cp i32) ${acc.map((x) => `(local ${x} v128)`).join(' ')} ${Array.from({ length: NV }, (_, v) => `(local $b${v} v128)`).join(' ')}`;
  // Accumulators start at the bias (or zero).
  const prologue = () => {
    p('    (if (local.get $bias) (then');
    for (let v = 0; v < NV; v++) p(`      (local.set $b${v} (v128.load offset=${16 * v} (local.get $bias)))`);
    p('    ))');
    for (let r = 0; r < MR; r++) for (let v = 0; v < NV; v++) p(`    (local.set $c${r}_${v} (local.get $b${v}))`);
  };
  // `count` steps of k: a0..a(MR-1) walk along their rows, bp along the packed panel.
  const kLoop = (count, indent) => {
    const i = ' '.repeat(indent);
    p(`${i}(local.set $n (local.get ${count}))`);
    p(`${i}(loop $L`);
    for (let v = 0; v < NV; v++) p(`${i}  (local.set $b${v} (v128.load offset=${16 * v} (local.get $bp)))`);
    for (let r = 0; r < MR; r++) {
      p(`${i}  (local.set $s (v128.load32_splat (local.get $a${r})))`);
      for (let v = 0; v < NV; v++) p(`${i}  (local.set $c${r}_${v} (f32x4.relaxed_madd (local.get $s) (local.get $b${v}) (local.get $c${r}_${v})))`);
    }
    for (let r = 0; r < MR; r++) p(`${i}  (local.set $a${r} (i32.add (local.get $a${r}) (i32.const 4)))`);
    p(`${i}  (local.set $bp (i32.add (local.get $bp) (i32.const ${4 * NR})))`);
    p(`${i}  (br_if $L (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))`);
  };
  // ReLU, then the tile into C: whole as vectors, an edge tile lane by lane within rows x cols.
  const epilogue = () => {
    p('    (if (i32.eq (local.get $act) (i32.const 1)) (then');
    for (const x of acc) p(`      (local.set ${x} (f32x4.max (local.get ${x}) (v128.const i32x4 0 0 0 0)))`);
    p('    ))');
    p('    (if (i32.eq (local.get $act) (i32.const 2)) (then');
    for (const x of acc) p(`      (local.set ${x} (call $gelu4 (local.get ${x})))`);
    p('    ))');
    p(`    (if (i32.and (i32.eq (local.get $rows) (i32.const ${MR})) (i32.eq (local.get $cols) (i32.const ${NR}))) (then`);
    for (let r = 0; r < MR; r++) {
      p(`      (local.set $cp (i32.add (local.get $c) (i32.mul (i32.const ${r}) (local.get $ldc))))`);
      for (let v = 0; v < NV; v++) p(`      (v128.store offset=${16 * v} (local.get $cp) (local.get $c${r}_${v}))`);
    }
    p('      (return)))');
    for (let r = 0; r < MR; r++) {
      p(`    (if (i32.gt_u (local.get $rows) (i32.const ${r})) (then`);
      p(`      (local.set $cp (i32.add (local.get $c) (i32.mul (i32.const ${r}) (local.get $ldc))))`);
      for (let v = 0; v < NV; v++) for (let l = 0; l < 4; l++) {
        p(`      (if (i32.gt_u (local.get $cols) (i32.const ${4 * v + l})) (then (f32.store offset=${4 * (4 * v + l)} (local.get $cp) (f32x4.extract_lane ${l} (local.get $c${r}_${v})))))`);
      }
      p('    ))');
    }
  };
  const out = '(param $c i32) (param $ldc i32) (param $bias i32) (param $rows i32) (param $cols i32) (param $act i32)';

  p('(module');
  p(shared ? '  (import "env" "memory" (memory 1 65536 shared))' : '  (import "env" "memory" (memory 1))');
  gelu(p);
  rowKernels(p);
  // One MR x NR tile of C over all of K: a0..a3 are A's rows (the last valid one repeated past M).
  p(`  (func $tile ${rowsOf((r) => `(param $a${r} i32)`).join(' ')} (param $bp i32) (param $K i32) ${out}`);
  p(`    ${tileLocals()}`);
  prologue();
  kLoop('$K', 4);
  epilogue();
  p('  )');
  // One tile of a convolution: per pixel r its image's base xr and the input position (iyr, ixr) of
  // its kernel's top-left tap; the k x k taps in HWIO order, each a run of Cin steps.
  p(`  (func $ctile ${rowsOf((r) => `(param $x${r} i32) (param $iy${r} i32) (param $ix${r} i32)`).join(' ')} (param $H i32) (param $W i32) (param $Cin i32) (param $k i32) (param $zero i32) (param $bp i32) ${out}`);
  p(`    ${tileLocals()} (local $ty i32) (local $tx i32) (local $y i32) (local $x i32) ${rowsOf((r) => `(local $a${r} i32)`).join(' ')}`);
  prologue();
  p('    (block $TYD (loop $TYL');
  p('      (br_if $TYD (i32.ge_u (local.get $ty) (local.get $k)))');
  p('      (local.set $tx (i32.const 0))');
  p('      (block $TXD (loop $TXL');
  p('        (br_if $TXD (i32.ge_u (local.get $tx) (local.get $k)))');
  for (let r = 0; r < MR; r++) {
    p(`        (local.set $y (i32.add (local.get $iy${r}) (local.get $ty)))`);
    p(`        (local.set $x (i32.add (local.get $ix${r}) (local.get $tx)))`);
    // Unsigned comparisons: a tap left of or above the image has a negative position.
    p(`        (local.set $a${r} (select (i32.add (local.get $x${r}) (i32.shl (i32.mul (i32.add (i32.mul (local.get $y) (local.get $W)) (local.get $x)) (local.get $Cin)) (i32.const 2)))`);
    p(`          (local.get $zero) (i32.and (i32.lt_u (local.get $y) (local.get $H)) (i32.lt_u (local.get $x) (local.get $W)))))`);
  }
  kLoop('$Cin', 8);
  p('        (local.set $tx (i32.add (local.get $tx) (i32.const 1)))');
  p('        (br $TXL)))');
  p('      (local.set $ty (i32.add (local.get $ty) (i32.const 1)))');
  p('      (br $TYL)))');
  epilogue();
  p('  )');
  // Panels outer (one K x NR panel stays in cache), row blocks inner.
  p('  (func (export "gemm") (param $a i32) (param $lda i32) (param $bp i32) (param $bias i32) (param $c i32) (param $ldc i32) (param $M i32) (param $N i32) (param $K i32) (param $act i32) (param $mb0 i32) (param $mb1 i32)');
  p('    (local $p i32) (local $np i32) (local $mb i32) (local $m i32) (local $rows i32) (local $cols i32) (local $ar i32) (local $last i32) (local $r1 i32) (local $r2 i32) (local $r3 i32)');
  p(`    (local.set $np (i32.div_u (i32.add (local.get $N) (i32.const ${NR - 1})) (i32.const ${NR})))`);
  p('    (block $PD (loop $PL');
  p('      (br_if $PD (i32.ge_u (local.get $p) (local.get $np)))');
  p(`      (local.set $cols (i32.sub (local.get $N) (i32.mul (local.get $p) (i32.const ${NR}))))`);
  p(`      (if (i32.gt_u (local.get $cols) (i32.const ${NR})) (then (local.set $cols (i32.const ${NR}))))`);
  p('      (local.set $mb (local.get $mb0))');
  p('      (block $MD (loop $ML');
  p('        (br_if $MD (i32.ge_u (local.get $mb) (local.get $mb1)))');
  p(`        (local.set $m (i32.mul (local.get $mb) (i32.const ${MR})))`);
  p('        (local.set $rows (i32.sub (local.get $M) (local.get $m)))');
  p(`        (if (i32.gt_u (local.get $rows) (i32.const ${MR})) (then (local.set $rows (i32.const ${MR}))))`);
  p('        (local.set $ar (i32.add (local.get $a) (i32.mul (local.get $m) (local.get $lda))))');
  p('        (local.set $last (i32.add (local.get $ar) (i32.mul (i32.sub (local.get $rows) (i32.const 1)) (local.get $lda))))');
  for (let r = 1; r < MR; r++) {
    p(`        (local.set $r${r} (select (i32.add (local.get $ar) (i32.mul (i32.const ${r}) (local.get $lda))) (local.get $last) (i32.gt_u (local.get $rows) (i32.const ${r}))))`);
  }
  p(`        (call $tile (local.get $ar) ${rowsOf((r) => (r ? `(local.get $r${r})` : '')).join(' ')}`);
  p(`          (i32.add (local.get $bp) (i32.mul (local.get $p) (i32.mul (local.get $K) (i32.const ${4 * NR}))))`);
  p(`          (local.get $K) (i32.add (i32.add (local.get $c) (i32.mul (local.get $m) (local.get $ldc))) (i32.mul (local.get $p) (i32.const ${4 * NR})))`);
  p(`          (local.get $ldc) (select (i32.add (local.get $bias) (i32.mul (local.get $p) (i32.const ${4 * NR}))) (i32.const 0) (local.get $bias))`);
  p('          (local.get $rows) (local.get $cols) (local.get $act))');
  p('        (local.set $mb (i32.add (local.get $mb) (i32.const 1)))');
  p('        (br $ML)))');
  p('      (local.set $p (i32.add (local.get $p) (i32.const 1)))');
  p('      (br $PL)))');
  p('  )');
  // The convolution: panels outer, blocks of MR output pixels inner (the last valid pixel repeated past P).
  p('  (func (export "conv") (param $x i32) (param $H i32) (param $W i32) (param $Cin i32) (param $k i32) (param $stride i32) (param $pad i32) (param $zero i32) (param $bp i32) (param $bias i32) (param $c i32) (param $OH i32) (param $OW i32) (param $N i32) (param $P i32) (param $act i32) (param $pb0 i32) (param $pb1 i32)');
  p(`    (local $p i32) (local $np i32) (local $pb i32) (local $q i32) (local $rows i32) (local $cols i32) (local $img i32) (local $rem i32) (local $ldc i32) (local $panel i32) ${rowsOf((r) => `(local $x${r} i32) (local $iy${r} i32) (local $ix${r} i32)`).join(' ')}`);
  p(`    (local.set $np (i32.div_u (i32.add (local.get $N) (i32.const ${NR - 1})) (i32.const ${NR})))`);
  p('    (local.set $ldc (i32.shl (local.get $N) (i32.const 2)))');
  p(`    (local.set $panel (i32.mul (i32.mul (i32.mul (local.get $k) (local.get $k)) (local.get $Cin)) (i32.const ${4 * NR})))`);
  p('    (block $PD (loop $PL');
  p('      (br_if $PD (i32.ge_u (local.get $p) (local.get $np)))');
  p(`      (local.set $cols (i32.sub (local.get $N) (i32.mul (local.get $p) (i32.const ${NR}))))`);
  p(`      (if (i32.gt_u (local.get $cols) (i32.const ${NR})) (then (local.set $cols (i32.const ${NR}))))`);
  p('      (local.set $pb (local.get $pb0))');
  p('      (block $MD (loop $ML');
  p('        (br_if $MD (i32.ge_u (local.get $pb) (local.get $pb1)))');
  p(`        (local.set $rows (i32.sub (local.get $P) (i32.mul (local.get $pb) (i32.const ${MR}))))`);
  p(`        (if (i32.gt_u (local.get $rows) (i32.const ${MR})) (then (local.set $rows (i32.const ${MR}))))`);
  for (let r = 0; r < MR; r++) {
    p(`        (local.set $q (i32.add (i32.mul (local.get $pb) (i32.const ${MR})) (i32.const ${r})))`);
    p('        (if (i32.ge_u (local.get $q) (local.get $P)) (then (local.set $q (i32.sub (local.get $P) (i32.const 1)))))');
    p('        (local.set $img (i32.div_u (local.get $q) (i32.mul (local.get $OH) (local.get $OW))))');
    p('        (local.set $rem (i32.sub (local.get $q) (i32.mul (local.get $img) (i32.mul (local.get $OH) (local.get $OW)))))');
    p(`        (local.set $x${r} (i32.add (local.get $x) (i32.shl (i32.mul (local.get $img) (i32.mul (i32.mul (local.get $H) (local.get $W)) (local.get $Cin))) (i32.const 2))))`);
    p(`        (local.set $iy${r} (i32.sub (i32.mul (i32.div_u (local.get $rem) (local.get $OW)) (local.get $stride)) (local.get $pad)))`);
    p(`        (local.set $ix${r} (i32.sub (i32.mul (i32.rem_u (local.get $rem) (local.get $OW)) (local.get $stride)) (local.get $pad)))`);
  }
  p(`        (call $ctile ${rowsOf((r) => `(local.get $x${r}) (local.get $iy${r}) (local.get $ix${r})`).join(' ')}`);
  p('          (local.get $H) (local.get $W) (local.get $Cin) (local.get $k) (local.get $zero)');
  p('          (i32.add (local.get $bp) (i32.mul (local.get $p) (local.get $panel)))');
  p(`          (i32.add (i32.add (local.get $c) (i32.mul (i32.mul (local.get $pb) (i32.const ${MR})) (local.get $ldc))) (i32.mul (local.get $p) (i32.const ${4 * NR})))`);
  p(`          (local.get $ldc) (select (i32.add (local.get $bias) (i32.mul (local.get $p) (i32.const ${4 * NR}))) (i32.const 0) (local.get $bias))`);
  p('          (local.get $rows) (local.get $cols) (local.get $act))');
  p('        (local.set $pb (i32.add (local.get $pb) (i32.const 1)))');
  p('        (br $ML)))');
  p('      (local.set $p (i32.add (local.get $p) (i32.const 1)))');
  p('      (br $PL)))');
  p('  )');
  // pack: panel p, row k, lane j <- B[k, p NR + j] (or B[p NR + j, k] when trans), zero past N.
  p('  (func (export "pack") (param $b i32) (param $ldb i32) (param $bp i32) (param $K i32) (param $N i32) (param $trans i32)');
  p('    (local $p i32) (local $np i32) (local $k i32) (local $j i32) (local $n i32) (local $src i32)');
  p(`    (local.set $np (i32.div_u (i32.add (local.get $N) (i32.const ${NR - 1})) (i32.const ${NR})))`);
  p('    (block $PD (loop $PL');
  p('      (br_if $PD (i32.ge_u (local.get $p) (local.get $np)))');
  p('      (local.set $k (i32.const 0))');
  p('      (block $KD (loop $KL');
  p('        (br_if $KD (i32.ge_u (local.get $k) (local.get $K)))');
  p(`        (if (i32.and (i32.eqz (local.get $trans)) (i32.le_u (i32.mul (i32.add (local.get $p) (i32.const 1)) (i32.const ${NR})) (local.get $N))) (then`);
  p(`          (local.set $src (i32.add (i32.add (local.get $b) (i32.mul (local.get $k) (local.get $ldb))) (i32.mul (local.get $p) (i32.const ${4 * NR}))))`);
  for (let v = 0; v < NV; v++) p(`          (v128.store offset=${16 * v} (local.get $bp) (v128.load offset=${16 * v} (local.get $src)))`);
  p('        ) (else');
  p('          (local.set $j (i32.const 0))');
  p('          (block $JD (loop $JL');
  p(`            (br_if $JD (i32.ge_u (local.get $j) (i32.const ${NR})))`);
  p(`            (local.set $n (i32.add (i32.mul (local.get $p) (i32.const ${NR})) (local.get $j)))`);
  p('            (f32.store (i32.add (local.get $bp) (i32.shl (local.get $j) (i32.const 2)))');
  p('              (if (result f32) (i32.lt_u (local.get $n) (local.get $N))');
  p('                (then (f32.load (select');
  p('                  (i32.add (i32.mul (local.get $n) (local.get $ldb)) (i32.add (local.get $b) (i32.shl (local.get $k) (i32.const 2))))');
  p('                  (i32.add (i32.mul (local.get $k) (local.get $ldb)) (i32.add (local.get $b) (i32.shl (local.get $n) (i32.const 2))))');
  p('                  (local.get $trans))))');
  p('                (else (f32.const 0))))');
  p('            (local.set $j (i32.add (local.get $j) (i32.const 1)))');
  p('            (br $JL)))');
  p('        ))');
  p(`        (local.set $bp (i32.add (local.get $bp) (i32.const ${4 * NR})))`);
  p('        (local.set $k (i32.add (local.get $k) (i32.const 1)))');
  p('        (br $KL)))');
  p('      (local.set $p (i32.add (local.get $p) (i32.const 1)))');
  p('      (br $PL)))');
  p('  )');
  p(')');
  return L.join('\n') + '\n';
}

const f4 = (v) => `(v128.const f32x4 ${v} ${v} ${v} ${v})`;

/**
 * Exact GELU (torch.nn.GELU()) on four lanes: x/2 (1 + erf(x / sqrt 2)), erf as Eigen's and XLA's
 * float32 rational fit on [-4, 4] (clamped past it, where erf is 1 in float32), the same
 * coefficients as the JavaScript kernel of src/backends/wasm_kernels.ts, here in float32.
 */
function gelu(p) {
  const alpha = ['-2.72614225801306e-10', '2.77068142495902e-08', '-2.10102402082508e-06', '-5.69250639462346e-05', '-7.34990630326855e-04', '-2.95459980854025e-03', '-1.60960333262415e-02'];
  const beta = ['-1.45660718464996e-05', '-2.13374055278905e-04', '-1.68282697438203e-03', '-7.37332916720468e-03', '-1.42647390514189e-02'];
  p('  (func $gelu4 (param $x v128) (result v128) (local $z v128) (local $z2 v128) (local $p v128) (local $q v128)');
  p(`    (local.set $z (f32x4.max (f32x4.min (f32x4.mul (local.get $x) ${f4('0.7071067811865476')}) ${f4('4')}) ${f4('-4')}))`);
  p('    (local.set $z2 (f32x4.mul (local.get $z) (local.get $z)))');
  p(`    (local.set $p ${f4(alpha[0])})`);
  for (const a of alpha.slice(1)) p(`    (local.set $p (f32x4.relaxed_madd (local.get $p) (local.get $z2) ${f4(a)}))`);
  p(`    (local.set $q ${f4(beta[0])})`);
  for (const b of beta.slice(1)) p(`    (local.set $q (f32x4.relaxed_madd (local.get $q) (local.get $z2) ${f4(b)}))`);
  // 0.5 x (1 + z p / q)
  p(`    (f32x4.mul (f32x4.mul (local.get $x) ${f4('0.5')}) (f32x4.add ${f4('1')} (f32x4.div (f32x4.mul (local.get $z) (local.get $p)) (local.get $q)))))`);
}

/**
 * Row kernels (threads take ranges of rows, the last two arguments), float32 throughout:
 * - `layernorm(x, g, b, out, C, epsBits, r0, r1)`: each row of C over its mean and biased variance
 *   (two passes), times g plus b; eps as its float32 bits.
 * - `gelu(x, out, n, r0, r1)`: exact GELU of n values, rows of 1024.
 * - `scaleadd(x, y, g, out, C, r0, r1)`: out = x + y g (g per channel: LayerScale and the residual).
 */
function rowKernels(p) {
  // A loop over [i, end) in steps of 4 then 1; body4/body1 see $i.
  const vecThenScalar = (end, body4, body1) => {
    p(`      (block $VD (loop $VL (br_if $VD (i32.gt_u (i32.add (local.get $i) (i32.const 4)) ${end}))`);
    body4();
    p('        (local.set $i (i32.add (local.get $i) (i32.const 4))) (br $VL)))');
    p(`      (block $SD (loop $SL (br_if $SD (i32.ge_u (local.get $i) ${end}))`);
    body1();
    p('        (local.set $i (i32.add (local.get $i) (i32.const 1))) (br $SL)))');
  };
  const at = (base, scale = 2) => `(i32.add (local.get ${base}) (i32.shl (local.get $i) (i32.const ${scale})))`;
  p('  (func (export "layernorm") (param $x i32) (param $g i32) (param $b i32) (param $out i32) (param $C i32) (param $epsBits i32) (param $r0 i32) (param $r1 i32)');
  p('    (local $r i32) (local $i i32) (local $row i32) (local $orow i32) (local $s v128) (local $d v128) (local $mean f32) (local $var f32) (local $inv f32) (local $t f32) (local $m v128) (local $iv v128)');
  p('    (local.set $r (local.get $r0))');
  p('    (block $RD (loop $RL (br_if $RD (i32.ge_u (local.get $r) (local.get $r1)))');
  p('      (local.set $row (i32.add (local.get $x) (i32.shl (i32.mul (local.get $r) (local.get $C)) (i32.const 2))))');
  p('      (local.set $orow (i32.add (local.get $out) (i32.shl (i32.mul (local.get $r) (local.get $C)) (i32.const 2))))');
  p('      (local.set $s (v128.const i32x4 0 0 0 0)) (local.set $t (f32.const 0)) (local.set $i (i32.const 0))');
  vecThenScalar('(local.get $C)', () => p(`        (local.set $s (f32x4.add (local.get $s) (v128.load ${at('$row')})))`),
    () => p(`        (local.set $t (f32.add (local.get $t) (f32.load ${at('$row')})))`));
  p('      (local.set $mean (f32.div (f32.add (local.get $t) (f32.add (f32.add (f32x4.extract_lane 0 (local.get $s)) (f32x4.extract_lane 1 (local.get $s))) (f32.add (f32x4.extract_lane 2 (local.get $s)) (f32x4.extract_lane 3 (local.get $s))))) (f32.convert_i32_u (local.get $C))))');
  p('      (local.set $m (f32x4.splat (local.get $mean)))');
  p('      (local.set $s (v128.const i32x4 0 0 0 0)) (local.set $t (f32.const 0)) (local.set $i (i32.const 0))');
  vecThenScalar('(local.get $C)', () => {
    p(`        (local.set $d (f32x4.sub (v128.load ${at('$row')}) (local.get $m)))`);
    p('        (local.set $s (f32x4.relaxed_madd (local.get $d) (local.get $d) (local.get $s)))');
  }, () => {
    p(`        (local.set $inv (f32.sub (f32.load ${at('$row')}) (local.get $mean)))`);
    p('        (local.set $t (f32.add (local.get $t) (f32.mul (local.get $inv) (local.get $inv))))');
  });
  p('      (local.set $var (f32.div (f32.add (local.get $t) (f32.add (f32.add (f32x4.extract_lane 0 (local.get $s)) (f32x4.extract_lane 1 (local.get $s))) (f32.add (f32x4.extract_lane 2 (local.get $s)) (f32x4.extract_lane 3 (local.get $s))))) (f32.convert_i32_u (local.get $C))))');
  p('      (local.set $inv (f32.div (f32.const 1) (f32.sqrt (f32.add (local.get $var) (f32.reinterpret_i32 (local.get $epsBits))))))');
  p('      (local.set $iv (f32x4.splat (local.get $inv))) (local.set $i (i32.const 0))');
  vecThenScalar('(local.get $C)', () => {
    p(`        (v128.store ${at('$orow')} (f32x4.relaxed_madd (f32x4.mul (f32x4.sub (v128.load ${at('$row')}) (local.get $m)) (local.get $iv)) (v128.load ${at('$g')}) (v128.load ${at('$b')})))`);
  }, () => {
    p(`        (f32.store ${at('$orow')} (f32.add (f32.mul (f32.mul (f32.sub (f32.load ${at('$row')}) (local.get $mean)) (local.get $inv)) (f32.load ${at('$g')})) (f32.load ${at('$b')})))`);
  });
  p('      (local.set $r (i32.add (local.get $r) (i32.const 1))) (br $RL)))');
  p('  )');
  p('  (func (export "gelu") (param $x i32) (param $out i32) (param $n i32) (param $r0 i32) (param $r1 i32) (local $i i32) (local $end i32)');
  p('    (local.set $i (i32.shl (local.get $r0) (i32.const 10)))');
  p('    (local.set $end (select (local.get $n) (i32.shl (local.get $r1) (i32.const 10)) (i32.lt_u (local.get $n) (i32.shl (local.get $r1) (i32.const 10)))))');
  vecThenScalar('(local.get $end)', () => p(`        (v128.store ${at('$out')} (call $gelu4 (v128.load ${at('$x')})))`),
    () => p(`        (f32.store ${at('$out')} (f32x4.extract_lane 0 (call $gelu4 (f32x4.splat (f32.load ${at('$x')})))))`));
  p('  )');
  p('  (func (export "scaleadd") (param $x i32) (param $y i32) (param $g i32) (param $out i32) (param $C i32) (param $r0 i32) (param $r1 i32) (local $r i32) (local $i i32) (local $o i32)');
  p('    (local.set $r (local.get $r0))');
  p('    (block $RD (loop $RL (br_if $RD (i32.ge_u (local.get $r) (local.get $r1)))');
  p('      (local.set $o (i32.shl (i32.mul (local.get $r) (local.get $C)) (i32.const 2))) (local.set $i (i32.const 0))');
  const rowAt = (base) => `(i32.add (i32.add (local.get ${base}) (local.get $o)) (i32.shl (local.get $i) (i32.const 2)))`;
  vecThenScalar('(local.get $C)', () => p(`        (v128.store ${rowAt('$out')} (f32x4.relaxed_madd (v128.load ${rowAt('$y')}) (v128.load ${at('$g')}) (v128.load ${rowAt('$x')})))`),
    () => p(`        (f32.store ${rowAt('$out')} (f32.add (f32.load ${rowAt('$x')}) (f32.mul (f32.load ${rowAt('$y')}) (f32.load ${at('$g')}))))`));
  p('      (local.set $r (i32.add (local.get $r) (i32.const 1))) (br $RL)))');
  p('  )');
}

export async function gemmBinaries() {
  const wabt = await wabtInit();
  const build = (shared) => {
    const mod = wabt.parseWat(shared ? 'gemm_shared.wat' : 'gemm.wat', gemmWat(shared), { simd: true, threads: true, relaxed_simd: true });
    const { buffer } = mod.toBinary({});
    mod.destroy();
    return Buffer.from(buffer).toString('base64');
  };
  return { shared: build(true), plain: build(false) };
}

export async function generatedSource() {
  const { shared, plain } = await gemmBinaries();
  return `// Generated by tools/gen-wasm-gemm.mjs (the kernel's source is its text there). Do not edit.\n` +
    `/** Row and column tile of the kernel (A's rows per block, B's columns per packed panel). */\nexport const GEMM_MR = ${MR};\nexport const GEMM_NR = ${NR};\n` +
    `/** Importing a shared memory (tfjs-backend-wasm's threaded build). */\nexport const GEMM_WASM_SHARED = '${shared}';\n` +
    `/** Importing a plain memory (its single-threaded builds). */\nexport const GEMM_WASM_PLAIN = '${plain}';\n`;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const file = join(root, 'src/backends/wasm_gemm.generated.ts');
  const src = await generatedSource();
  if (process.argv.includes('--check')) {
    if (readFileSync(file, 'utf8') !== src) { console.error(`${file} is stale: run node tools/gen-wasm-gemm.mjs`); process.exit(1); }
    console.log(`${file} is up to date`);
  } else {
    writeFileSync(file, src);
    console.log(`wrote ${file} (${src.length} bytes)`);
  }
}
