;; The per-step vector kernels of worker-ddp, in WebAssembly with 128-bit SIMD.
;;
;; Why not JavaScript: on our 2-core VMs a plain JS loop over a Float32Array
;; costs 3-18 ns per element (the reduce + SGD of 109,386 floats took ~1.2 ms,
;; a fifth of a step); these loops run at memory speed. Why not tfjs kernels:
;; the data would have to be copied into and out of tfjs's own wasm heap.
;;
;; All pointers are byte offsets into the one shared memory that holds the
;; parameters and gradients (src/kernels/arena.ts); lengths count f32 elements.
;; Unaligned v128 loads are legal in wasm, so slices may start anywhere.
;; Build: `npm run build:wasm` regenerates kernels-wasm.ts from this file.
(module
  (import "env" "memory" (memory 1 65536 shared))

  ;; out[i] = scale * (rows[0][i] + rows[1][i] + ... + rows[parties-1][i])   for i in [lo, hi)
  ;; Row r starts at rows + 4*r*length. Summed in f32, in rank order: the same
  ;; additions in the same order whichever thread runs a slice.
  ;; Returns the sum of the outputs: NaN or +-Inf iff any output is not finite
  ;; (or the sum overflows), a finiteness check at the cost of one add per lane.
  (func (export "reduce")
    (param $rows i32) (param $parties i32) (param $length i32)
    (param $lo i32) (param $hi i32) (param $scale f32) (param $out i32) (result f32)
    (local $i i32) (local $r i32) (local $p i32) (local $stride i32) (local $end4 i32)
    (local $acc v128) (local $sacc f32) (local $probe v128) (local $sprobe f32)
    (local.set $stride (i32.shl (local.get $length) (i32.const 2)))
    (local.set $i (local.get $lo))
    (local.set $end4 (i32.add (local.get $lo) (i32.and (i32.sub (local.get $hi) (local.get $lo)) (i32.const -4))))
    (block $vdone
      (loop $v
        (br_if $vdone (i32.ge_u (local.get $i) (local.get $end4)))
        (local.set $p (i32.add (local.get $rows) (i32.shl (local.get $i) (i32.const 2))))
        (local.set $acc (v128.load (local.get $p)))
        (local.set $r (i32.const 1))
        (block $rdone
          (loop $rl
            (br_if $rdone (i32.ge_u (local.get $r) (local.get $parties)))
            (local.set $p (i32.add (local.get $p) (local.get $stride)))
            (local.set $acc (f32x4.add (local.get $acc) (v128.load (local.get $p))))
            (local.set $r (i32.add (local.get $r) (i32.const 1)))
            (br $rl)))
        (local.set $acc (f32x4.mul (local.get $acc) (f32x4.splat (local.get $scale))))
        (local.set $probe (f32x4.add (local.get $probe) (local.get $acc)))
        (v128.store (i32.add (local.get $out) (i32.shl (local.get $i) (i32.const 2))) (local.get $acc))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $v)))
    ;; the 0-3 elements left over, one at a time, same arithmetic
    (block $sdone
      (loop $s
        (br_if $sdone (i32.ge_u (local.get $i) (local.get $hi)))
        (local.set $p (i32.add (local.get $rows) (i32.shl (local.get $i) (i32.const 2))))
        (local.set $sacc (f32.load (local.get $p)))
        (local.set $r (i32.const 1))
        (block $rdone2
          (loop $rl2
            (br_if $rdone2 (i32.ge_u (local.get $r) (local.get $parties)))
            (local.set $p (i32.add (local.get $p) (local.get $stride)))
            (local.set $sacc (f32.add (local.get $sacc) (f32.load (local.get $p))))
            (local.set $r (i32.add (local.get $r) (i32.const 1)))
            (br $rl2)))
        (local.set $sacc (f32.mul (local.get $sacc) (local.get $scale)))
        (local.set $sprobe (f32.add (local.get $sprobe) (local.get $sacc)))
        (f32.store (i32.add (local.get $out) (i32.shl (local.get $i) (i32.const 2))) (local.get $sacc))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $s)))
    (f32.add (local.get $sprobe)
      (f32.add
        (f32.add (f32x4.extract_lane 0 (local.get $probe)) (f32x4.extract_lane 1 (local.get $probe)))
        (f32.add (f32x4.extract_lane 2 (local.get $probe)) (f32x4.extract_lane 3 (local.get $probe))))))

  ;; next[i] = params[i] - lr * grad[i]   for i in [lo, hi)
  ;; Out of place: the step's input parameters stay intact until the next step,
  ;; so a failed step can be re-run from them (Note [double-buffered params]).
  (func (export "sgd")
    (param $params i32) (param $grad i32) (param $next i32) (param $lo i32) (param $hi i32) (param $lr f32)
    (local $i i32) (local $end4 i32) (local $off i32) (local $vlr v128)
    (local.set $vlr (f32x4.splat (local.get $lr)))
    (local.set $i (local.get $lo))
    (local.set $end4 (i32.add (local.get $lo) (i32.and (i32.sub (local.get $hi) (local.get $lo)) (i32.const -4))))
    (block $vdone
      (loop $v
        (br_if $vdone (i32.ge_u (local.get $i) (local.get $end4)))
        (local.set $off (i32.shl (local.get $i) (i32.const 2)))
        (v128.store (i32.add (local.get $next) (local.get $off))
          (f32x4.sub (v128.load (i32.add (local.get $params) (local.get $off)))
            (f32x4.mul (local.get $vlr) (v128.load (i32.add (local.get $grad) (local.get $off))))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $v)))
    (block $sdone
      (loop $s
        (br_if $sdone (i32.ge_u (local.get $i) (local.get $hi)))
        (local.set $off (i32.shl (local.get $i) (i32.const 2)))
        (f32.store (i32.add (local.get $next) (local.get $off))
          (f32.sub (f32.load (i32.add (local.get $params) (local.get $off)))
            (f32.mul (local.get $lr) (f32.load (i32.add (local.get $grad) (local.get $off))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $s))))
)
