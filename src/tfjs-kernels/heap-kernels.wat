;; Kernels we register into tfjs-wasm, in WebAssembly with 128-bit SIMD,
;; run directly on tfjs-wasm's own heap: this module imports the backend's
;; WebAssembly.Memory (src/tfjs-kernels/heap.ts), so its pointers are the byte
;; offsets of tfjs tensors and nothing is copied. Beside them, src/simd/
;; holds our optimizer kernels, which work in our own shared memory.
;;
;; Why not JavaScript: MaxPoolGrad as a JS loop over heap views took 2.2 ms for
;; the convnet's first pooling layer (64x24x24x8), where tfjs's forward pooling
;; takes 0.12 ms: a data-dependent branch per element. Here the comparisons
;; are lane masks.
;; Build: `npm run build:wasm` regenerates heap-kernels-wasm.ts from this file.
(module
  (import "env" "memory" (memory 1 65536))

  ;; dx[b, argmax of window (i, j) of channel c] += dy[b, i, j, c]
  ;; x and dx are (B, H, W, C), dy is (B, Ho, Wo, C); dx must hold zeros.
  ;; The argmax is the cpu backend's: the first strict maximum in row-major order
  ;; over the window's pixels inside x; none when no pixel exceeds -Infinity.
  ;; Channels run 4 to a lane group (x's pixels are C contiguous floats), the
  ;; 0-3 left over one at a time with the same comparisons.
  (func (export "max_pool_grad")
    (param $x i32) (param $dy i32) (param $dx i32)
    (param $B i32) (param $H i32) (param $W i32) (param $C i32) (param $Ho i32) (param $Wo i32)
    (param $kh i32) (param $kw i32) (param $sh i32) (param $sw i32) (param $top i32) (param $left i32)
    (local $b i32) (local $i i32) (local $j i32) (local $c i32) (local $r i32) (local $q i32)
    (local $r0 i32) (local $r1 i32) (local $q0 i32) (local $q1 i32) (local $o i32) (local $p i32) (local $c4 i32)
    (local $best v128) (local $at v128) (local $m v128) (local $v v128)
    (local $sbest f32) (local $sat i32) (local $sv f32)
    (local.set $c4 (i32.and (local.get $C) (i32.const -4)))
    (local.set $o (local.get $dy))
    (local.set $b (i32.const 0))
    (block $bdone (loop $bl
      (br_if $bdone (i32.ge_u (local.get $b) (local.get $B)))
      (local.set $i (i32.const 0))
      (block $idone (loop $il
        (br_if $idone (i32.ge_u (local.get $i) (local.get $Ho)))
        ;; rows [r0, r1) of the window, clipped to x
        (local.set $r0 (i32.sub (i32.mul (local.get $i) (local.get $sh)) (local.get $top)))
        (local.set $r1 (i32.add (local.get $r0) (local.get $kh)))
        (if (i32.lt_s (local.get $r0) (i32.const 0)) (then (local.set $r0 (i32.const 0))))
        (if (i32.gt_s (local.get $r1) (local.get $H)) (then (local.set $r1 (local.get $H))))
        (local.set $j (i32.const 0))
        (block $jdone (loop $jl
          (br_if $jdone (i32.ge_u (local.get $j) (local.get $Wo)))
          (local.set $q0 (i32.sub (i32.mul (local.get $j) (local.get $sw)) (local.get $left)))
          (local.set $q1 (i32.add (local.get $q0) (local.get $kw)))
          (if (i32.lt_s (local.get $q0) (i32.const 0)) (then (local.set $q0 (i32.const 0))))
          (if (i32.gt_s (local.get $q1) (local.get $W)) (then (local.set $q1 (local.get $W))))
          ;; four channels at a time; $at holds element indices into x (-1: none)
          (local.set $c (i32.const 0))
          (block $vdone (loop $vl
            (br_if $vdone (i32.ge_u (local.get $c) (local.get $c4)))
            (local.set $best (f32x4.splat (f32.const -inf)))
            (local.set $at (i32x4.splat (i32.const -1)))
            (local.set $r (local.get $r0))
            (block $rdone (loop $rl
              (br_if $rdone (i32.ge_s (local.get $r) (local.get $r1)))
              (local.set $q (local.get $q0))
              (block $qdone (loop $ql
                (br_if $qdone (i32.ge_s (local.get $q) (local.get $q1)))
                ;; p = ((b*H + r)*W + q)*C + c
                (local.set $p (i32.add (i32.mul (i32.add (i32.mul (i32.add (i32.mul (local.get $b) (local.get $H)) (local.get $r)) (local.get $W)) (local.get $q)) (local.get $C)) (local.get $c)))
                (local.set $v (v128.load (i32.add (local.get $x) (i32.shl (local.get $p) (i32.const 2)))))
                (local.set $m (f32x4.gt (local.get $v) (local.get $best)))
                (local.set $best (v128.bitselect (local.get $v) (local.get $best) (local.get $m)))
                (local.set $at (v128.bitselect (i32x4.add (i32x4.splat (local.get $p)) (v128.const i32x4 0 1 2 3)) (local.get $at) (local.get $m)))
                (local.set $q (i32.add (local.get $q) (i32.const 1)))
                (br $ql)))
              (local.set $r (i32.add (local.get $r) (i32.const 1)))
              (br $rl)))
            (call $scatter (local.get $dx) (i32x4.extract_lane 0 (local.get $at)) (f32.load offset=0 (local.get $o)))
            (call $scatter (local.get $dx) (i32x4.extract_lane 1 (local.get $at)) (f32.load offset=4 (local.get $o)))
            (call $scatter (local.get $dx) (i32x4.extract_lane 2 (local.get $at)) (f32.load offset=8 (local.get $o)))
            (call $scatter (local.get $dx) (i32x4.extract_lane 3 (local.get $at)) (f32.load offset=12 (local.get $o)))
            (local.set $o (i32.add (local.get $o) (i32.const 16)))
            (local.set $c (i32.add (local.get $c) (i32.const 4)))
            (br $vl)))
          ;; the 0-3 channels left over, one at a time
          (block $sdone (loop $sl
            (br_if $sdone (i32.ge_u (local.get $c) (local.get $C)))
            (local.set $sbest (f32.const -inf))
            (local.set $sat (i32.const -1))
            (local.set $r (local.get $r0))
            (block $srdone (loop $srl
              (br_if $srdone (i32.ge_s (local.get $r) (local.get $r1)))
              (local.set $q (local.get $q0))
              (block $sqdone (loop $sql
                (br_if $sqdone (i32.ge_s (local.get $q) (local.get $q1)))
                (local.set $p (i32.add (i32.mul (i32.add (i32.mul (i32.add (i32.mul (local.get $b) (local.get $H)) (local.get $r)) (local.get $W)) (local.get $q)) (local.get $C)) (local.get $c)))
                (local.set $sv (f32.load (i32.add (local.get $x) (i32.shl (local.get $p) (i32.const 2)))))
                (if (f32.gt (local.get $sv) (local.get $sbest))
                  (then (local.set $sbest (local.get $sv)) (local.set $sat (local.get $p))))
                (local.set $q (i32.add (local.get $q) (i32.const 1)))
                (br $sql)))
              (local.set $r (i32.add (local.get $r) (i32.const 1)))
              (br $srl)))
            (call $scatter (local.get $dx) (local.get $sat) (f32.load (local.get $o)))
            (local.set $o (i32.add (local.get $o) (i32.const 4)))
            (local.set $c (i32.add (local.get $c) (i32.const 1)))
            (br $sl)))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br $jl)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $il)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $bl))))

  ;; max_pool_grad where the windows tile x: stride = window (sh = kh, sw = kw),
  ;; no padding, C a multiple of 4. Each element of x is in at most one window,
  ;; so dx is written, not scattered: for each window and 4 channels, the
  ;; argmax found as in max_pool_grad (its ordinal r*kw + q in the window,
  ;; -1 for none), then every pixel of the window stored as dy + 0 where it is
  ;; the argmax and 0 elsewhere (+ 0, as max_pool_grad's scatter onto zeros
  ;; does: -0 becomes +0). The rows and columns no window covers are left as
  ;; they are: dx must hold zeros there.
  ;; Why: the scatter (a call per channel) took 0.34-0.38 ms for the convnet's
  ;; first pooling layer (64x24x24x8, 2x2), this 0.18 ms: the same bits, a store per vector.
  (func (export "max_pool_grad_tiles")
    (param $x i32) (param $dy i32) (param $dx i32)
    (param $B i32) (param $H i32) (param $W i32) (param $C i32) (param $Ho i32) (param $Wo i32)
    (param $kh i32) (param $kw i32)
    (local $bi i32) (local $j i32) (local $c i32) (local $r i32) (local $q i32) (local $n i32)
    (local $win i32) (local $p i32) (local $rowBytes i32) (local $pixBytes i32)
    (local $best v128) (local $at v128) (local $m v128) (local $v v128) (local $g v128)
    (local.set $rowBytes (i32.shl (i32.mul (local.get $W) (local.get $C)) (i32.const 2)))
    (local.set $pixBytes (i32.shl (local.get $C) (i32.const 2)))
    ;; bi runs over the B*Ho window rows; window row (b, i) starts at x row b*H + i*kh
    (local.set $bi (i32.const 0))
    (block $bdone (loop $bl
      (br_if $bdone (i32.ge_u (local.get $bi) (i32.mul (local.get $B) (local.get $Ho))))
      (local.set $j (i32.const 0))
      (block $jdone (loop $jl
        (br_if $jdone (i32.ge_u (local.get $j) (local.get $Wo)))
        ;; win -> x[b, i*kh, j*kw, 0] (a byte offset from x or dx)
        (local.set $win (i32.add
          (i32.mul (i32.add (i32.mul (i32.div_u (local.get $bi) (local.get $Ho)) (local.get $H))
                            (i32.mul (i32.rem_u (local.get $bi) (local.get $Ho)) (local.get $kh)))
                   (local.get $rowBytes))
          (i32.mul (i32.mul (local.get $j) (local.get $kw)) (local.get $pixBytes))))
        (local.set $c (i32.const 0))
        (block $cdone (loop $cl
          (br_if $cdone (i32.ge_u (local.get $c) (local.get $pixBytes)))
          (local.set $best (f32x4.splat (f32.const -inf)))
          (local.set $at (i32x4.splat (i32.const -1)))
          (local.set $n (i32.const 0))
          (local.set $r (i32.const 0))
          (block $rdone (loop $rl
            (br_if $rdone (i32.ge_u (local.get $r) (local.get $kh)))
            (local.set $p (i32.add (i32.add (local.get $win) (local.get $c)) (i32.mul (local.get $r) (local.get $rowBytes))))
            (local.set $q (i32.const 0))
            (block $qdone (loop $ql
              (br_if $qdone (i32.ge_u (local.get $q) (local.get $kw)))
              (local.set $v (v128.load (i32.add (local.get $x) (local.get $p))))
              (local.set $m (f32x4.gt (local.get $v) (local.get $best)))
              (local.set $best (v128.bitselect (local.get $v) (local.get $best) (local.get $m)))
              (local.set $at (v128.bitselect (i32x4.splat (local.get $n)) (local.get $at) (local.get $m)))
              (local.set $n (i32.add (local.get $n) (i32.const 1)))
              (local.set $p (i32.add (local.get $p) (local.get $pixBytes)))
              (local.set $q (i32.add (local.get $q) (i32.const 1)))
              (br $ql)))
            (local.set $r (i32.add (local.get $r) (i32.const 1)))
            (br $rl)))
          (local.set $g (f32x4.add (v128.load (local.get $dy)) (v128.const f32x4 0 0 0 0)))
          (local.set $dy (i32.add (local.get $dy) (i32.const 16)))
          (local.set $n (i32.const 0))
          (local.set $r (i32.const 0))
          (block $wrdone (loop $wrl
            (br_if $wrdone (i32.ge_u (local.get $r) (local.get $kh)))
            (local.set $p (i32.add (i32.add (local.get $win) (local.get $c)) (i32.mul (local.get $r) (local.get $rowBytes))))
            (local.set $q (i32.const 0))
            (block $wqdone (loop $wql
              (br_if $wqdone (i32.ge_u (local.get $q) (local.get $kw)))
              (v128.store (i32.add (local.get $dx) (local.get $p))
                (v128.and (local.get $g) (i32x4.eq (local.get $at) (i32x4.splat (local.get $n)))))
              (local.set $n (i32.add (local.get $n) (i32.const 1)))
              (local.set $p (i32.add (local.get $p) (local.get $pixBytes)))
              (local.set $q (i32.add (local.get $q) (i32.const 1)))
              (br $wql)))
            (local.set $r (i32.add (local.get $r) (i32.const 1)))
            (br $wrl)))
          (local.set $c (i32.add (local.get $c) (i32.const 16)))
          (br $cl)))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $jl)))
      (local.set $bi (i32.add (local.get $bi) (i32.const 1)))
      (br $bl))))

  ;; max_pool_grad_tiles for 2x2 windows at stride 2, the usual pooling, with
  ;; the window's four pixels unrolled: the same comparisons in the same order,
  ;; so the same bits. Why: the general loops spent ~100 instructions on each
  ;; window's 4 channels, most of them loop control; this takes half the time
  ;; (Note [2x2] in max-pool-grad.ts).
  (func (export "max_pool_grad_2x2")
    (param $x i32) (param $dy i32) (param $dx i32)
    (param $B i32) (param $H i32) (param $W i32) (param $C i32) (param $Ho i32) (param $Wo i32)
    (local $bi i32) (local $j i32) (local $c i32) (local $p i32) (local $rowBytes i32) (local $pixBytes i32) (local $rows i32)
    (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128)
    (local $best v128) (local $at v128) (local $m v128) (local $g v128)
    (local.set $rowBytes (i32.shl (i32.mul (local.get $W) (local.get $C)) (i32.const 2)))
    (local.set $pixBytes (i32.shl (local.get $C) (i32.const 2)))
    (local.set $rows (i32.mul (local.get $B) (local.get $Ho)))
    (local.set $bi (i32.const 0))
    (block $bdone (loop $bl
      (br_if $bdone (i32.ge_u (local.get $bi) (local.get $rows)))
      (local.set $j (i32.const 0))
      (block $jdone (loop $jl
        (br_if $jdone (i32.ge_u (local.get $j) (local.get $Wo)))
        ;; p -> x[b, 2i, 2j, 0] (a byte offset from x or dx)
        (local.set $p (i32.add
          (i32.mul (i32.add (i32.mul (i32.div_u (local.get $bi) (local.get $Ho)) (local.get $H))
                            (i32.shl (i32.rem_u (local.get $bi) (local.get $Ho)) (i32.const 1)))
                   (local.get $rowBytes))
          (i32.mul (i32.shl (local.get $j) (i32.const 1)) (local.get $pixBytes))))
        (local.set $c (i32.const 0))
        (block $cdone (loop $cl
          (br_if $cdone (i32.ge_u (local.get $c) (local.get $pixBytes)))
          (local.set $v0 (v128.load (i32.add (local.get $x) (local.get $p))))
          (local.set $v1 (v128.load (i32.add (local.get $x) (i32.add (local.get $p) (local.get $pixBytes)))))
          (local.set $v2 (v128.load (i32.add (local.get $x) (i32.add (local.get $p) (local.get $rowBytes)))))
          (local.set $v3 (v128.load (i32.add (local.get $x) (i32.add (i32.add (local.get $p) (local.get $rowBytes)) (local.get $pixBytes)))))
          (local.set $m (f32x4.gt (local.get $v0) (f32x4.splat (f32.const -inf))))
          (local.set $best (v128.bitselect (local.get $v0) (f32x4.splat (f32.const -inf)) (local.get $m)))
          (local.set $at (v128.bitselect (i32x4.splat (i32.const 0)) (i32x4.splat (i32.const -1)) (local.get $m)))
          (local.set $m (f32x4.gt (local.get $v1) (local.get $best)))
          (local.set $best (v128.bitselect (local.get $v1) (local.get $best) (local.get $m)))
          (local.set $at (v128.bitselect (i32x4.splat (i32.const 1)) (local.get $at) (local.get $m)))
          (local.set $m (f32x4.gt (local.get $v2) (local.get $best)))
          (local.set $best (v128.bitselect (local.get $v2) (local.get $best) (local.get $m)))
          (local.set $at (v128.bitselect (i32x4.splat (i32.const 2)) (local.get $at) (local.get $m)))
          (local.set $m (f32x4.gt (local.get $v3) (local.get $best)))
          (local.set $at (v128.bitselect (i32x4.splat (i32.const 3)) (local.get $at) (local.get $m)))
          (local.set $g (f32x4.add (v128.load (local.get $dy)) (v128.const f32x4 0 0 0 0)))
          (local.set $dy (i32.add (local.get $dy) (i32.const 16)))
          (v128.store (i32.add (local.get $dx) (local.get $p))
            (v128.and (local.get $g) (i32x4.eq (local.get $at) (i32x4.splat (i32.const 0)))))
          (v128.store (i32.add (local.get $dx) (i32.add (local.get $p) (local.get $pixBytes)))
            (v128.and (local.get $g) (i32x4.eq (local.get $at) (i32x4.splat (i32.const 1)))))
          (v128.store (i32.add (local.get $dx) (i32.add (local.get $p) (local.get $rowBytes)))
            (v128.and (local.get $g) (i32x4.eq (local.get $at) (i32x4.splat (i32.const 2)))))
          (v128.store (i32.add (local.get $dx) (i32.add (i32.add (local.get $p) (local.get $rowBytes)) (local.get $pixBytes)))
            (v128.and (local.get $g) (i32x4.eq (local.get $at) (i32x4.splat (i32.const 3)))))
          (local.set $p (i32.add (local.get $p) (i32.const 16)))
          (local.set $c (i32.add (local.get $c) (i32.const 16)))
          (br $cl)))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $jl)))
      (local.set $bi (i32.add (local.get $bi) (i32.const 1)))
      (br $bl))))

  ;; out (B, top + H + bottom, left + W + right, C) = x (B, H, W, C) with zeros
  ;; around each image: the padding of a convolution's input (conv2d.ts). Rows
  ;; of x are copied whole and the zeros filled between them, where tfjs-wasm's
  ;; PadV2 took 0.29 ms for (64, 8, 8, 16) padded by 4 on each side.
  (func (export "pad_hw")
    (param $x i32) (param $out i32) (param $B i32) (param $H i32) (param $W i32) (param $C i32)
    (param $top i32) (param $bottom i32) (param $left i32) (param $right i32)
    (local $b i32) (local $r i32) (local $rowIn i32) (local $rowOut i32) (local $lb i32) (local $rb i32)
    (local.set $rowIn (i32.shl (i32.mul (local.get $W) (local.get $C)) (i32.const 2)))
    (local.set $lb (i32.shl (i32.mul (local.get $left) (local.get $C)) (i32.const 2)))
    (local.set $rb (i32.shl (i32.mul (local.get $right) (local.get $C)) (i32.const 2)))
    (local.set $rowOut (i32.add (local.get $rowIn) (i32.add (local.get $lb) (local.get $rb))))
    (local.set $b (i32.const 0))
    (block $bdone (loop $bl
      (br_if $bdone (i32.ge_u (local.get $b) (local.get $B)))
      (memory.fill (local.get $out) (i32.const 0) (i32.mul (local.get $top) (local.get $rowOut)))
      (local.set $out (i32.add (local.get $out) (i32.mul (local.get $top) (local.get $rowOut))))
      (local.set $r (i32.const 0))
      (block $rdone (loop $rl
        (br_if $rdone (i32.ge_u (local.get $r) (local.get $H)))
        (memory.fill (local.get $out) (i32.const 0) (local.get $lb))
        (memory.copy (i32.add (local.get $out) (local.get $lb)) (local.get $x) (local.get $rowIn))
        (memory.fill (i32.add (local.get $out) (i32.add (local.get $lb) (local.get $rowIn))) (i32.const 0) (local.get $rb))
        (local.set $out (i32.add (local.get $out) (local.get $rowOut)))
        (local.set $x (i32.add (local.get $x) (local.get $rowIn)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rl)))
      (memory.fill (local.get $out) (i32.const 0) (i32.mul (local.get $bottom) (local.get $rowOut)))
      (local.set $out (i32.add (local.get $out) (i32.mul (local.get $bottom) (local.get $rowOut))))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $bl))))

  ;; out[r, c] = a[r, c] + v[c], its bits raised to floor as an int32,
  ;; for r in [0, rows), c in [0, C)
  ;; Add with a row vector broadcast over a matrix: a layer's bias. tfjs-wasm's
  ;; Add takes its general broadcasting path here: 0.5-0.8 ms for the convnet's
  ;; (64x24x24, 8) + (8). One f32 add per element, as stock: the same bits.
  ;; floor = INT32_MIN: the Add (every bit pattern is at least that); floor =
  ;; 0: the Add then the ReLU in one pass (bias-relu.ts), as the stock Relu
  ;; (XNNPACK's vrelu) computes it, an integer max with 0: negative values,
  ;; -0 and NaNs with the sign bit set become 0, the rest stay as they are.
  (func (export "add_rows")
    (param $a i32) (param $v i32) (param $out i32) (param $rows i32) (param $C i32) (param $floor i32)
    (local $r i32) (local $c i32) (local $c4 i32) (local $rowBytes i32) (local $fv v128) (local $s i32)
    (local.set $fv (i32x4.splat (local.get $floor)))
    (local.set $rowBytes (i32.shl (local.get $C) (i32.const 2)))
    (local.set $c4 (i32.shl (i32.and (local.get $C) (i32.const -4)) (i32.const 2)))
    (local.set $r (i32.const 0))
    (block $rdone (loop $rl
      (br_if $rdone (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $c (i32.const 0))
      (block $vdone (loop $vl
        (br_if $vdone (i32.ge_u (local.get $c) (local.get $c4)))
        (v128.store (i32.add (local.get $out) (local.get $c))
          (i32x4.max_s (f32x4.add (v128.load (i32.add (local.get $a) (local.get $c))) (v128.load (i32.add (local.get $v) (local.get $c)))) (local.get $fv)))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (br $vl)))
      (block $sdone (loop $sl
        (br_if $sdone (i32.ge_u (local.get $c) (local.get $rowBytes)))
        (local.set $s (i32.reinterpret_f32 (f32.add (f32.load (i32.add (local.get $a) (local.get $c))) (f32.load (i32.add (local.get $v) (local.get $c))))))
        (i32.store (i32.add (local.get $out) (local.get $c))
          (select (local.get $s) (local.get $floor) (i32.gt_s (local.get $s) (local.get $floor))))
        (local.set $c (i32.add (local.get $c) (i32.const 4)))
        (br $sl)))
      (local.set $a (i32.add (local.get $a) (local.get $rowBytes)))
      (local.set $out (i32.add (local.get $out) (local.get $rowBytes)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rl))))

  ;; out[i] = dy[i] * step(x[i])   for i in [0, n), step(v) = 1 if v > 0, NaN if v is
  ;; NaN, else 0: tfjs's ReLU gradient, mul(dy, step(x)), in one pass where tfjs
  ;; runs Step, Cast and Multiply (relu-grad.ts). One f32 multiply per element, as
  ;; stock: the same bits (a NaN's payload aside).
  (func (export "relu_grad")
    (param $dy i32) (param $x i32) (param $out i32) (param $n i32)
    (local $i i32) (local $n4 i32) (local $end i32) (local $xv v128) (local $v f32)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $n4 (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2)))
    (local.set $i (i32.const 0))
    (block $vdone (loop $vl
      (br_if $vdone (i32.ge_u (local.get $i) (local.get $n4)))
      (local.set $xv (v128.load (i32.add (local.get $x) (local.get $i))))
      (v128.store (i32.add (local.get $out) (local.get $i))
        (f32x4.mul
          (v128.load (i32.add (local.get $dy) (local.get $i)))
          (v128.or
            (v128.and (f32x4.gt (local.get $xv) (v128.const f32x4 0 0 0 0)) (v128.const f32x4 1 1 1 1))
            (v128.and (f32x4.ne (local.get $xv) (local.get $xv)) (local.get $xv)))))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br $vl)))
    (block $sdone (loop $sl
      (br_if $sdone (i32.ge_u (local.get $i) (local.get $end)))
      (local.set $v (f32.load (i32.add (local.get $x) (local.get $i))))
      (f32.store (i32.add (local.get $out) (local.get $i))
        (f32.mul
          (f32.load (i32.add (local.get $dy) (local.get $i)))
          (select (f32.const 1) (select (local.get $v) (f32.const 0) (f32.ne (local.get $v) (local.get $v))) (f32.gt (local.get $v) (f32.const 0)))))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $sl))))

  ;; out[c] = x[0, c] + x[1, c] + ... + x[rows-1, c], added from 0 in that order;
  ;; writes every element of out.
  ;; Sum over leading axes: a bias's gradient. tfjs-wasm's Sum first transposes
  ;; x so the summed axes come last (0.4-0.5 ms for (64x24x24, 8) -> (8)), then
  ;; adds each output's inputs one after another from 0: so does this, per lane,
  ;; and gives the same bits. The sums are held in registers down the rows,
  ;; 16 columns at a time (a cache line of x per row), then 8, then 4, then one:
  ;; adding into out in memory instead puts a store-to-load round trip on every
  ;; row's critical path (about 4-5x slower on the convnet's (36864, 8) -> (8);
  ;; re-measure: npm run bench -- --convnet).
  (func (export "sum_rows")
    (param $x i32) (param $out i32) (param $rows i32) (param $C i32)
    (local $r i32) (local $c i32) (local $p i32) (local $rowBytes i32)
    (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128) (local $t f32)
    (local.set $rowBytes (i32.shl (local.get $C) (i32.const 2)))
    (local.set $c (i32.const 0))
    ;; 16 columns at a time
    (block $v16done (loop $v16l
      (br_if $v16done (i32.gt_u (i32.add (local.get $c) (i32.const 64)) (local.get $rowBytes)))
      (local.set $s0 (v128.const i32x4 0 0 0 0))
      (local.set $s1 (v128.const i32x4 0 0 0 0))
      (local.set $s2 (v128.const i32x4 0 0 0 0))
      (local.set $s3 (v128.const i32x4 0 0 0 0))
      (local.set $p (i32.add (local.get $x) (local.get $c)))
      (local.set $r (i32.const 0))
      (block $v16rdone (loop $v16rl
        (br_if $v16rdone (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $s0 (f32x4.add (local.get $s0) (v128.load (local.get $p))))
        (local.set $s1 (f32x4.add (local.get $s1) (v128.load offset=16 (local.get $p))))
        (local.set $s2 (f32x4.add (local.get $s2) (v128.load offset=32 (local.get $p))))
        (local.set $s3 (f32x4.add (local.get $s3) (v128.load offset=48 (local.get $p))))
        (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $v16rl)))
      (v128.store (i32.add (local.get $out) (local.get $c)) (local.get $s0))
      (v128.store offset=16 (i32.add (local.get $out) (local.get $c)) (local.get $s1))
      (v128.store offset=32 (i32.add (local.get $out) (local.get $c)) (local.get $s2))
      (v128.store offset=48 (i32.add (local.get $out) (local.get $c)) (local.get $s3))
      (local.set $c (i32.add (local.get $c) (i32.const 64)))
      (br $v16l)))
    ;; 8 columns at a time
    (block $v8done (loop $v8l
      (br_if $v8done (i32.gt_u (i32.add (local.get $c) (i32.const 32)) (local.get $rowBytes)))
      (local.set $s0 (v128.const i32x4 0 0 0 0))
      (local.set $s1 (v128.const i32x4 0 0 0 0))
      (local.set $p (i32.add (local.get $x) (local.get $c)))
      (local.set $r (i32.const 0))
      (block $v8rdone (loop $v8rl
        (br_if $v8rdone (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $s0 (f32x4.add (local.get $s0) (v128.load (local.get $p))))
        (local.set $s1 (f32x4.add (local.get $s1) (v128.load offset=16 (local.get $p))))
        (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $v8rl)))
      (v128.store (i32.add (local.get $out) (local.get $c)) (local.get $s0))
      (v128.store offset=16 (i32.add (local.get $out) (local.get $c)) (local.get $s1))
      (local.set $c (i32.add (local.get $c) (i32.const 32)))
      (br $v8l)))
    ;; 4 columns at a time
    (block $v4done (loop $v4l
      (br_if $v4done (i32.gt_u (i32.add (local.get $c) (i32.const 16)) (local.get $rowBytes)))
      (local.set $s0 (v128.const i32x4 0 0 0 0))
      (local.set $p (i32.add (local.get $x) (local.get $c)))
      (local.set $r (i32.const 0))
      (block $v4rdone (loop $v4rl
        (br_if $v4rdone (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $s0 (f32x4.add (local.get $s0) (v128.load (local.get $p))))
        (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $v4rl)))
      (v128.store (i32.add (local.get $out) (local.get $c)) (local.get $s0))
      (local.set $c (i32.add (local.get $c) (i32.const 16)))
      (br $v4l)))
    ;; the 0-3 columns left over, one at a time
    (block $sdone (loop $sl
      (br_if $sdone (i32.ge_u (local.get $c) (local.get $rowBytes)))
      (local.set $t (f32.const 0))
      (local.set $p (i32.add (local.get $x) (local.get $c)))
      (local.set $r (i32.const 0))
      (block $srdone (loop $srl
        (br_if $srdone (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $t (f32.add (local.get $t) (f32.load (local.get $p))))
        (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $srl)))
      (f32.store (i32.add (local.get $out) (local.get $c)) (local.get $t))
      (local.set $c (i32.add (local.get $c) (i32.const 4)))
      (br $sl))))

  ;; dx[b, i*sh + p - top, j*sw + q - left, c] += cols[b, i, j, p, q, c]   (taps inside dx)
  ;; cols is (B*Ho*Wo, kh*kw*C), dx (B, H, W, C) and must hold zeros: col2im, the
  ;; scatter half of Conv2DBackpropInput (conv2d-backprop-input.ts), NHWC.
  ;; Channels 4 to a vector, the 0-3 left over one at a time.
  (func (export "col2im")
    (param $cols i32) (param $dx i32)
    (param $B i32) (param $H i32) (param $W i32) (param $C i32) (param $Ho i32) (param $Wo i32)
    (param $kh i32) (param $kw i32) (param $sh i32) (param $sw i32) (param $top i32) (param $left i32)
    (local $b i32) (local $i i32) (local $j i32) (local $p i32) (local $q i32) (local $c i32)
    (local $r i32) (local $col i32) (local $src i32) (local $dst i32) (local $pix i32) (local $c4 i32) (local $cb i32)
    (local.set $cb (i32.shl (local.get $C) (i32.const 2)))
    (local.set $c4 (i32.shl (i32.and (local.get $C) (i32.const -4)) (i32.const 2)))
    (local.set $src (local.get $cols))
    (local.set $b (i32.const 0))
    (block $bdone (loop $bl
      (br_if $bdone (i32.ge_u (local.get $b) (local.get $B)))
      (local.set $i (i32.const 0))
      (block $idone (loop $il
        (br_if $idone (i32.ge_u (local.get $i) (local.get $Ho)))
        (local.set $j (i32.const 0))
        (block $jdone (loop $jl
          (br_if $jdone (i32.ge_u (local.get $j) (local.get $Wo)))
          (local.set $p (i32.const 0))
          (block $pdone (loop $pl
            (br_if $pdone (i32.ge_u (local.get $p) (local.get $kh)))
            (local.set $r (i32.sub (i32.add (i32.mul (local.get $i) (local.get $sh)) (local.get $p)) (local.get $top)))
            (local.set $q (i32.const 0))
            (block $qdone (loop $ql
              (br_if $qdone (i32.ge_u (local.get $q) (local.get $kw)))
              (local.set $col (i32.sub (i32.add (i32.mul (local.get $j) (local.get $sw)) (local.get $q)) (local.get $left)))
              ;; unsigned compares: a negative row or column fails too
              (if (i32.and (i32.lt_u (local.get $r) (local.get $H)) (i32.lt_u (local.get $col) (local.get $W))) (then
                (local.set $dst (i32.add (local.get $dx) (i32.mul (i32.add (i32.mul (i32.add (i32.mul (local.get $b) (local.get $H)) (local.get $r)) (local.get $W)) (local.get $col)) (local.get $cb))))
                (local.set $c (i32.const 0))
                (block $vdone (loop $vl
                  (br_if $vdone (i32.ge_u (local.get $c) (local.get $c4)))
                  (local.set $pix (i32.add (local.get $dst) (local.get $c)))
                  (v128.store (local.get $pix) (f32x4.add (v128.load (local.get $pix)) (v128.load (i32.add (local.get $src) (local.get $c)))))
                  (local.set $c (i32.add (local.get $c) (i32.const 16)))
                  (br $vl)))
                (block $sdone (loop $sl
                  (br_if $sdone (i32.ge_u (local.get $c) (local.get $cb)))
                  (local.set $pix (i32.add (local.get $dst) (local.get $c)))
                  (f32.store (local.get $pix) (f32.add (f32.load (local.get $pix)) (f32.load (i32.add (local.get $src) (local.get $c)))))
                  (local.set $c (i32.add (local.get $c) (i32.const 4)))
                  (br $sl)))))
              (local.set $src (i32.add (local.get $src) (local.get $cb)))
              (local.set $q (i32.add (local.get $q) (i32.const 1)))
              (br $ql)))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (br $pl)))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br $jl)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $il)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $bl))))

  ;; c (M, N) = clamp(bias + a (M, K) . b (K, N), lo, hi), row-major and contiguous;
  ;; bias is (N) or 0 for none; clamp(v, lo, hi) = min(max(v, lo), hi), with lo
  ;; -inf and hi +inf for none, 0 and +inf for a ReLU. Writes every element of c.
  ;; A GEMM that reads b as it lies (Note [no pack] in batch-mat-mul.ts): tiles
  ;; of 4 rows x 8 columns in 8 vector accumulators, b's 8 columns broadcast
  ;; against 4 of a's elements; k in chunks of 256, so that the chunk of b's
  ;; column panel (8 KB) stays in L1 while every row tile passes over it. Rows
  ;; beyond the last 4 one at a time, columns beyond the last 8 as scalars.
  ;; Each output starts from its bias and adds the products in k order, and the
  ;; clamp comes last: XNNPACK's order, so the same bits.
  (func (export "gemm")
    (param $a i32) (param $b i32) (param $c i32) (param $M i32) (param $K i32) (param $N i32)
    (param $bias i32) (param $lo f32) (param $hi f32)
    (local $k0 i32) (local $k1 i32) (local $i i32) (local $j i32) (local $k i32)
    (local $lda i32) (local $ldc i32) (local $M4 i32) (local $N8 i32) (local $last i32)
    (local $a0 i32) (local $a1 i32) (local $a2 i32) (local $a3 i32) (local $bp i32) (local $cp i32)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local $b0 v128) (local $b1 v128) (local $x v128) (local $s f32)
    (local $z0 v128) (local $z1 v128) (local $vlo v128) (local $vhi v128)
    (local.set $lda (i32.shl (local.get $K) (i32.const 2)))
    (local.set $ldc (i32.shl (local.get $N) (i32.const 2)))
    (local.set $M4 (i32.and (local.get $M) (i32.const -4)))
    (local.set $N8 (i32.and (local.get $N) (i32.const -8)))
    (local.set $vlo (f32x4.splat (local.get $lo)))
    (local.set $vhi (f32x4.splat (local.get $hi)))
    (local.set $k0 (i32.const 0))
    (block $kcdone (loop $kcl
      (local.set $k1 (i32.add (local.get $k0) (i32.const 256)))
      (if (i32.gt_u (local.get $k1) (local.get $K)) (then (local.set $k1 (local.get $K))))
      (local.set $last (i32.eq (local.get $k1) (local.get $K)))
      (local.set $j (i32.const 0))
      (block $jdone (loop $jl
        (br_if $jdone (i32.ge_u (local.get $j) (local.get $N8)))
        ;; z0, z1: where this panel's outputs start, bias[j, j+8) or zeros
        (local.set $z0 (v128.const i32x4 0 0 0 0))
        (local.set $z1 (v128.const i32x4 0 0 0 0))
        (if (local.get $bias) (then
          (local.set $z0 (v128.load (i32.add (local.get $bias) (i32.shl (local.get $j) (i32.const 2)))))
          (local.set $z1 (v128.load offset=16 (i32.add (local.get $bias) (i32.shl (local.get $j) (i32.const 2)))))))
        (local.set $i (i32.const 0))
        (block $idone (loop $il
          (br_if $idone (i32.ge_u (local.get $i) (local.get $M4)))
          ;; cp -> c[i, j], a0 -> a[i, k0], bp -> b[k0, j]
          (local.set $cp (i32.add (local.get $c) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $N)) (local.get $j)) (i32.const 2))))
          (local.set $a0 (i32.add (local.get $a) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $K)) (local.get $k0)) (i32.const 2))))
          (local.set $a1 (i32.add (local.get $a0) (local.get $lda)))
          (local.set $a2 (i32.add (local.get $a1) (local.get $lda)))
          (local.set $a3 (i32.add (local.get $a2) (local.get $lda)))
          (local.set $bp (i32.add (local.get $b) (i32.shl (i32.add (i32.mul (local.get $k0) (local.get $N)) (local.get $j)) (i32.const 2))))
          (if (local.get $k0) (then
            (local.set $c00 (v128.load (local.get $cp)))
            (local.set $c01 (v128.load offset=16 (local.get $cp)))
            (local.set $c10 (v128.load (i32.add (local.get $cp) (i32.mul (local.get $ldc) (i32.const 1)))))
            (local.set $c11 (v128.load offset=16 (i32.add (local.get $cp) (i32.mul (local.get $ldc) (i32.const 1)))))
            (local.set $c20 (v128.load (i32.add (local.get $cp) (i32.mul (local.get $ldc) (i32.const 2)))))
            (local.set $c21 (v128.load offset=16 (i32.add (local.get $cp) (i32.mul (local.get $ldc) (i32.const 2)))))
            (local.set $c30 (v128.load (i32.add (local.get $cp) (i32.mul (local.get $ldc) (i32.const 3)))))
            (local.set $c31 (v128.load offset=16 (i32.add (local.get $cp) (i32.mul (local.get $ldc) (i32.const 3))))))
          (else
            (local.set $c00 (local.get $z0))
            (local.set $c01 (local.get $z1))
            (local.set $c10 (local.get $z0))
            (local.set $c11 (local.get $z1))
            (local.set $c20 (local.get $z0))
            (local.set $c21 (local.get $z1))
            (local.set $c30 (local.get $z0))
            (local.set $c31 (local.get $z1))))
          (local.set $k (local.get $k0))
          (block $kdone (loop $kl
            (br_if $kdone (i32.ge_u (local.get $k) (local.get $k1)))
            (local.set $b0 (v128.load (local.get $bp)))
            (local.set $b1 (v128.load offset=16 (local.get $bp)))
            (local.set $x (v128.load32_splat (local.get $a0)))
            (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $x) (local.get $b0))))
            (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $x) (local.get $b1))))
            (local.set $a0 (i32.add (local.get $a0) (i32.const 4)))
            (local.set $x (v128.load32_splat (local.get $a1)))
            (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $x) (local.get $b0))))
            (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $x) (local.get $b1))))
            (local.set $a1 (i32.add (local.get $a1) (i32.const 4)))
            (local.set $x (v128.load32_splat (local.get $a2)))
            (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $x) (local.get $b0))))
            (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $x) (local.get $b1))))
            (local.set $a2 (i32.add (local.get $a2) (i32.const 4)))
            (local.set $x (v128.load32_splat (local.get $a3)))
            (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $x) (local.get $b0))))
            (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $x) (local.get $b1))))
            (local.set $a3 (i32.add (local.get $a3) (i32.const 4)))
            (local.set $bp (i32.add (local.get $bp) (local.get $ldc)))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $kl)))
          (if (local.get $last) (then
            (local.set $c00 (f32x4.min (f32x4.max (local.get $c00) (local.get $vlo)) (local.get $vhi)))
            (local.set $c01 (f32x4.min (f32x4.max (local.get $c01) (local.get $vlo)) (local.get $vhi)))
            (local.set $c10 (f32x4.min (f32x4.max (local.get $c10) (local.get $vlo)) (local.get $vhi)))
            (local.set $c11 (f32x4.min (f32x4.max (local.get $c11) (local.get $vlo)) (local.get $vhi)))
            (local.set $c20 (f32x4.min (f32x4.max (local.get $c20) (local.get $vlo)) (local.get $vhi)))
            (local.set $c21 (f32x4.min (f32x4.max (local.get $c21) (local.get $vlo)) (local.get $vhi)))
            (local.set $c30 (f32x4.min (f32x4.max (local.get $c30) (local.get $vlo)) (local.get $vhi)))
            (local.set $c31 (f32x4.min (f32x4.max (local.get $c31) (local.get $vlo)) (local.get $vhi)))))
          (v128.store (local.get $cp) (local.get $c00))
          (v128.store offset=16 (local.get $cp) (local.get $c01))
          (v128.store (i32.add (local.get $cp) (i32.mul (local.get $ldc) (i32.const 1))) (local.get $c10))
          (v128.store offset=16 (i32.add (local.get $cp) (i32.mul (local.get $ldc) (i32.const 1))) (local.get $c11))
          (v128.store (i32.add (local.get $cp) (i32.mul (local.get $ldc) (i32.const 2))) (local.get $c20))
          (v128.store offset=16 (i32.add (local.get $cp) (i32.mul (local.get $ldc) (i32.const 2))) (local.get $c21))
          (v128.store (i32.add (local.get $cp) (i32.mul (local.get $ldc) (i32.const 3))) (local.get $c30))
          (v128.store offset=16 (i32.add (local.get $cp) (i32.mul (local.get $ldc) (i32.const 3))) (local.get $c31))
          (local.set $i (i32.add (local.get $i) (i32.const 4)))
          (br $il)))
        ;; the rows beyond the last 4, one at a time
        (block $rdone (loop $rl
          (br_if $rdone (i32.ge_u (local.get $i) (local.get $M)))
          (local.set $cp (i32.add (local.get $c) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $N)) (local.get $j)) (i32.const 2))))
          (local.set $a0 (i32.add (local.get $a) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $K)) (local.get $k0)) (i32.const 2))))
          (local.set $bp (i32.add (local.get $b) (i32.shl (i32.add (i32.mul (local.get $k0) (local.get $N)) (local.get $j)) (i32.const 2))))
          (if (local.get $k0) (then
            (local.set $c00 (v128.load (local.get $cp)))
            (local.set $c01 (v128.load offset=16 (local.get $cp))))
          (else
            (local.set $c00 (local.get $z0))
            (local.set $c01 (local.get $z1))))
          (local.set $k (local.get $k0))
          (block $k1done (loop $k1l
            (br_if $k1done (i32.ge_u (local.get $k) (local.get $k1)))
            (local.set $x (v128.load32_splat (local.get $a0)))
            (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $x) (v128.load (local.get $bp)))))
            (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $x) (v128.load offset=16 (local.get $bp)))))
            (local.set $a0 (i32.add (local.get $a0) (i32.const 4)))
            (local.set $bp (i32.add (local.get $bp) (local.get $ldc)))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $k1l)))
          (if (local.get $last) (then
            (local.set $c00 (f32x4.min (f32x4.max (local.get $c00) (local.get $vlo)) (local.get $vhi)))
            (local.set $c01 (f32x4.min (f32x4.max (local.get $c01) (local.get $vlo)) (local.get $vhi)))))
          (v128.store (local.get $cp) (local.get $c00))
          (v128.store offset=16 (local.get $cp) (local.get $c01))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $rl)))
        (local.set $j (i32.add (local.get $j) (i32.const 8)))
        (br $jl)))
      ;; the columns beyond the last 8, one dot product each
      (block $sjdone (loop $sjl
        (br_if $sjdone (i32.ge_u (local.get $j) (local.get $N)))
        (local.set $i (i32.const 0))
        (block $sidone (loop $sil
          (br_if $sidone (i32.ge_u (local.get $i) (local.get $M)))
          (local.set $cp (i32.add (local.get $c) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $N)) (local.get $j)) (i32.const 2))))
          (local.set $a0 (i32.add (local.get $a) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $K)) (local.get $k0)) (i32.const 2))))
          (local.set $bp (i32.add (local.get $b) (i32.shl (i32.add (i32.mul (local.get $k0) (local.get $N)) (local.get $j)) (i32.const 2))))
          (local.set $s
            (if (result f32) (local.get $k0) (then (f32.load (local.get $cp)))
              (else (if (result f32) (local.get $bias) (then (f32.load (i32.add (local.get $bias) (i32.shl (local.get $j) (i32.const 2))))) (else (f32.const 0))))))
          (local.set $k (local.get $k0))
          (block $skdone (loop $skl
            (br_if $skdone (i32.ge_u (local.get $k) (local.get $k1)))
            (local.set $s (f32.add (local.get $s) (f32.mul (f32.load (local.get $a0)) (f32.load (local.get $bp)))))
            (local.set $a0 (i32.add (local.get $a0) (i32.const 4)))
            (local.set $bp (i32.add (local.get $bp) (local.get $ldc)))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $skl)))
          (if (local.get $last) (then (local.set $s (f32.min (f32.max (local.get $s) (local.get $lo)) (local.get $hi)))))
          (f32.store (local.get $cp) (local.get $s))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $sil)))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $sjl)))
      (local.set $k0 (local.get $k1))
      (br_if $kcl (i32.lt_u (local.get $k0) (local.get $K))))))

  ;; out[b, i, j, n] = sum over p, q, c of x[b, i*sh + p, j*sw + q, c] * w[p, q, c, n]
  ;; x (B, H, W, C) already padded (the convolution is 'valid'), w (kh, kw, C, N)
  ;; with N a multiple of 4, out (B, Ho, Wo, N); writes every element of out.
  ;; Conv2D as our gemm's tiles with the patches read in place (conv2d.ts): a
  ;; tile is 4 neighbouring output pixels x 8 channels, and for each filter row
  ;; p the kw*C inputs under it are one contiguous run of x per pixel, met by the
  ;; run of w's rows w[p, .., .., n..n+8] in order. Pixels beyond the last 4 of
  ;; a row one at a time. Sums in w's order: p, then q, then c.
  ;; Rows of x outside [r0, r1) and columns outside [c0, c1) are the padding's
  ;; zeros: the filter rows that meet only padding rows are skipped, and so are
  ;; the filter columns that meet only padding for every pixel of a tile (a
  ;; transposed convolution's padded dy is mostly padding: conv2d-backprop-input.ts).
  (func (export "conv2d")
    (param $x i32) (param $w i32) (param $out i32)
    (param $B i32) (param $H i32) (param $W i32) (param $C i32) (param $Ho i32) (param $Wo i32)
    (param $kh i32) (param $kw i32) (param $sh i32) (param $sw i32) (param $N i32)
    (param $r0 i32) (param $r1 i32) (param $c0 i32) (param $c1 i32)
    (local $q0 i32) (local $q1 i32) (local $runT i32) (local $p0 i32) (local $p1 i32) (local $b i32) (local $i i32) (local $j i32) (local $n i32) (local $p i32) (local $k i32)
    (local $run i32) (local $px i32) (local $ldw i32) (local $Wo4 i32) (local $N8 i32) (local $op i32)
    (local $a0 i32) (local $a1 i32) (local $a2 i32) (local $a3 i32) (local $bp i32)
    (local $ab i32) (local $bb i32) (local $xRow i32) (local $wRow i32)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local $b0 v128) (local $b1 v128) (local $xv v128)
    (local.set $run (i32.mul (local.get $kw) (local.get $C)))
    (local.set $px (i32.shl (i32.mul (local.get $sw) (local.get $C)) (i32.const 2)))
    (local.set $ldw (i32.shl (local.get $N) (i32.const 2)))
    (local.set $Wo4 (i32.and (local.get $Wo) (i32.const -4)))
    (local.set $N8 (i32.and (local.get $N) (i32.const -8)))
    (local.set $xRow (i32.shl (i32.mul (local.get $W) (local.get $C)) (i32.const 2)))
    (local.set $wRow (i32.shl (i32.mul (local.get $run) (local.get $N)) (i32.const 2)))
    (local.set $op (local.get $out))
    (local.set $b (i32.const 0))
    (block $bdone (loop $bl
      (br_if $bdone (i32.ge_u (local.get $b) (local.get $B)))
      (local.set $i (i32.const 0))
      (block $idone (loop $il
        (br_if $idone (i32.ge_u (local.get $i) (local.get $Ho)))
        ;; filter rows [p0, p1): those that meet rows [r0, r1) of x
        (local.set $p0 (i32.sub (local.get $r0) (i32.mul (local.get $i) (local.get $sh))))
        (if (i32.lt_s (local.get $p0) (i32.const 0)) (then (local.set $p0 (i32.const 0))))
        (local.set $p1 (i32.sub (local.get $r1) (i32.mul (local.get $i) (local.get $sh))))
        (if (i32.gt_s (local.get $p1) (local.get $kh)) (then (local.set $p1 (local.get $kh))))
        (local.set $j (i32.const 0))
        (block $jdone (loop $jl
          (br_if $jdone (i32.ge_u (local.get $j) (local.get $Wo4)))
          ;; filter columns [q0, q1): those that meet columns [c0, c1) of x for some pixel j..j+3
          (local.set $q0 (i32.sub (local.get $c0) (i32.mul (i32.add (local.get $j) (i32.const 3)) (local.get $sw))))
          (local.set $q1 (i32.sub (local.get $c1) (i32.mul (local.get $j) (local.get $sw))))
          (if (i32.lt_s (local.get $q0) (i32.const 0)) (then (local.set $q0 (i32.const 0))))
          (if (i32.gt_s (local.get $q1) (local.get $kw)) (then (local.set $q1 (local.get $kw))))
          (if (i32.lt_s (local.get $q1) (local.get $q0)) (then (local.set $q1 (local.get $q0))))
          (local.set $runT (i32.mul (i32.sub (local.get $q1) (local.get $q0)) (local.get $C)))
          (local.set $n (i32.const 0))
          (block $ndone (loop $nl
            (br_if $ndone (i32.ge_u (local.get $n) (local.get $N8)))
            (local.set $c00 (v128.const i32x4 0 0 0 0))
            (local.set $c01 (v128.const i32x4 0 0 0 0))
            (local.set $c10 (v128.const i32x4 0 0 0 0))
            (local.set $c11 (v128.const i32x4 0 0 0 0))
            (local.set $c20 (v128.const i32x4 0 0 0 0))
            (local.set $c21 (v128.const i32x4 0 0 0 0))
            (local.set $c30 (v128.const i32x4 0 0 0 0))
            (local.set $c31 (v128.const i32x4 0 0 0 0))
            (local.set $ab (i32.add (local.get $x) (i32.shl (i32.mul (i32.add (i32.mul (i32.add (i32.mul (local.get $b) (local.get $H)) (i32.add (i32.mul (local.get $i) (local.get $sh)) (local.get $p0))) (local.get $W)) (i32.add (i32.mul (local.get $j) (local.get $sw)) (local.get $q0))) (local.get $C)) (i32.const 2))))
            (local.set $bb (i32.add (local.get $w) (i32.shl (i32.add (i32.mul (i32.add (i32.mul (local.get $p0) (local.get $run)) (i32.mul (local.get $q0) (local.get $C))) (local.get $N)) (local.get $n)) (i32.const 2))))
            (local.set $p (local.get $p0))
            (block $pdone4 (loop $pl4
              (br_if $pdone4 (i32.ge_s (local.get $p) (local.get $p1)))
              ;; a0 -> x[b, i*sh + p, j*sw + q0, 0], bp -> w[p, q0, 0, n]: ab and bb, a row further each p
              (local.set $a0 (local.get $ab))
              (local.set $a1 (i32.add (local.get $a0) (local.get $px)))
              (local.set $a2 (i32.add (local.get $a1) (local.get $px)))
              (local.set $a3 (i32.add (local.get $a2) (local.get $px)))
              (local.set $bp (local.get $bb))
              (local.set $k (i32.const 0))
              (block $kdone4 (loop $kl4
                (br_if $kdone4 (i32.ge_u (local.get $k) (local.get $runT)))
                (local.set $b0 (v128.load (local.get $bp)))
                (local.set $b1 (v128.load offset=16 (local.get $bp)))
                (local.set $xv (v128.load32_splat (local.get $a0)))
                (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $xv) (local.get $b0))))
                (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $xv) (local.get $b1))))
                (local.set $a0 (i32.add (local.get $a0) (i32.const 4)))
                (local.set $xv (v128.load32_splat (local.get $a1)))
                (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $xv) (local.get $b0))))
                (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $xv) (local.get $b1))))
                (local.set $a1 (i32.add (local.get $a1) (i32.const 4)))
                (local.set $xv (v128.load32_splat (local.get $a2)))
                (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $xv) (local.get $b0))))
                (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $xv) (local.get $b1))))
                (local.set $a2 (i32.add (local.get $a2) (i32.const 4)))
                (local.set $xv (v128.load32_splat (local.get $a3)))
                (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $xv) (local.get $b0))))
                (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $xv) (local.get $b1))))
                (local.set $a3 (i32.add (local.get $a3) (i32.const 4)))
                (local.set $bp (i32.add (local.get $bp) (local.get $ldw)))
                (local.set $k (i32.add (local.get $k) (i32.const 1)))
                (br $kl4)))
              (local.set $ab (i32.add (local.get $ab) (local.get $xRow)))
              (local.set $bb (i32.add (local.get $bb) (local.get $wRow)))
              (local.set $p (i32.add (local.get $p) (i32.const 1)))
              (br $pl4)))
            ;; out[b, i, j + r, n..n+8] for r = 0..3: op -> out[b, i, j, 0]
            (v128.store (i32.add (local.get $op) (i32.shl (i32.add (i32.mul (local.get $N) (i32.const 0)) (local.get $n)) (i32.const 2))) (local.get $c00))
            (v128.store offset=16 (i32.add (local.get $op) (i32.shl (i32.add (i32.mul (local.get $N) (i32.const 0)) (local.get $n)) (i32.const 2))) (local.get $c01))
            (v128.store (i32.add (local.get $op) (i32.shl (i32.add (i32.mul (local.get $N) (i32.const 1)) (local.get $n)) (i32.const 2))) (local.get $c10))
            (v128.store offset=16 (i32.add (local.get $op) (i32.shl (i32.add (i32.mul (local.get $N) (i32.const 1)) (local.get $n)) (i32.const 2))) (local.get $c11))
            (v128.store (i32.add (local.get $op) (i32.shl (i32.add (i32.mul (local.get $N) (i32.const 2)) (local.get $n)) (i32.const 2))) (local.get $c20))
            (v128.store offset=16 (i32.add (local.get $op) (i32.shl (i32.add (i32.mul (local.get $N) (i32.const 2)) (local.get $n)) (i32.const 2))) (local.get $c21))
            (v128.store (i32.add (local.get $op) (i32.shl (i32.add (i32.mul (local.get $N) (i32.const 3)) (local.get $n)) (i32.const 2))) (local.get $c30))
            (v128.store offset=16 (i32.add (local.get $op) (i32.shl (i32.add (i32.mul (local.get $N) (i32.const 3)) (local.get $n)) (i32.const 2))) (local.get $c31))
            (local.set $n (i32.add (local.get $n) (i32.const 8)))
            (br $nl)))
          ;; the last 4 channels (N % 8 = 4): the same tile, one vector a pixel
          (if (i32.lt_u (local.get $n) (local.get $N))
            (then
              (local.set $c00 (v128.const i32x4 0 0 0 0))
              (local.set $c10 (v128.const i32x4 0 0 0 0))
              (local.set $c20 (v128.const i32x4 0 0 0 0))
              (local.set $c30 (v128.const i32x4 0 0 0 0))
              (local.set $ab (i32.add (local.get $x) (i32.shl (i32.mul (i32.add (i32.mul (i32.add (i32.mul (local.get $b) (local.get $H)) (i32.add (i32.mul (local.get $i) (local.get $sh)) (local.get $p0))) (local.get $W)) (i32.add (i32.mul (local.get $j) (local.get $sw)) (local.get $q0))) (local.get $C)) (i32.const 2))))
              (local.set $bb (i32.add (local.get $w) (i32.shl (i32.add (i32.mul (i32.add (i32.mul (local.get $p0) (local.get $run)) (i32.mul (local.get $q0) (local.get $C))) (local.get $N)) (local.get $n)) (i32.const 2))))
              (local.set $p (local.get $p0))
              (block $pdone4h (loop $pl4h
                (br_if $pdone4h (i32.ge_s (local.get $p) (local.get $p1)))
                ;; a0 -> x[b, i*sh + p, j*sw + q0, 0], bp -> w[p, q0, 0, n]: ab and bb, a row further each p
                (local.set $a0 (local.get $ab))
                (local.set $a1 (i32.add (local.get $a0) (local.get $px)))
                (local.set $a2 (i32.add (local.get $a1) (local.get $px)))
                (local.set $a3 (i32.add (local.get $a2) (local.get $px)))
                (local.set $bp (local.get $bb))
                (local.set $k (i32.const 0))
                (block $kdone4h (loop $kl4h
                  (br_if $kdone4h (i32.ge_u (local.get $k) (local.get $runT)))
                  (local.set $b0 (v128.load (local.get $bp)))
                  (local.set $xv (v128.load32_splat (local.get $a0)))
                  (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $xv) (local.get $b0))))
                  (local.set $a0 (i32.add (local.get $a0) (i32.const 4)))
                  (local.set $xv (v128.load32_splat (local.get $a1)))
                  (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $xv) (local.get $b0))))
                  (local.set $a1 (i32.add (local.get $a1) (i32.const 4)))
                  (local.set $xv (v128.load32_splat (local.get $a2)))
                  (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $xv) (local.get $b0))))
                  (local.set $a2 (i32.add (local.get $a2) (i32.const 4)))
                  (local.set $xv (v128.load32_splat (local.get $a3)))
                  (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $xv) (local.get $b0))))
                  (local.set $a3 (i32.add (local.get $a3) (i32.const 4)))
                  (local.set $bp (i32.add (local.get $bp) (local.get $ldw)))
                  (local.set $k (i32.add (local.get $k) (i32.const 1)))
                  (br $kl4h)))
                (local.set $ab (i32.add (local.get $ab) (local.get $xRow)))
                (local.set $bb (i32.add (local.get $bb) (local.get $wRow)))
                (local.set $p (i32.add (local.get $p) (i32.const 1)))
                (br $pl4h)))
              ;; out[b, i, j + r, n..n+4] for r = 0..3: op -> out[b, i, j, 0]
              (v128.store (i32.add (local.get $op) (i32.shl (i32.add (i32.mul (local.get $N) (i32.const 0)) (local.get $n)) (i32.const 2))) (local.get $c00))
              (v128.store (i32.add (local.get $op) (i32.shl (i32.add (i32.mul (local.get $N) (i32.const 1)) (local.get $n)) (i32.const 2))) (local.get $c10))
              (v128.store (i32.add (local.get $op) (i32.shl (i32.add (i32.mul (local.get $N) (i32.const 2)) (local.get $n)) (i32.const 2))) (local.get $c20))
              (v128.store (i32.add (local.get $op) (i32.shl (i32.add (i32.mul (local.get $N) (i32.const 3)) (local.get $n)) (i32.const 2))) (local.get $c30))))
          (local.set $op (i32.add (local.get $op) (i32.shl (local.get $ldw) (i32.const 2))))
          (local.set $j (i32.add (local.get $j) (i32.const 4)))
          (br $jl)))
        ;; the pixels beyond the last 4 of the row, one at a time
        (block $tdone (loop $tl
          (br_if $tdone (i32.ge_u (local.get $j) (local.get $Wo)))
          (local.set $q0 (i32.sub (local.get $c0) (i32.mul (local.get $j) (local.get $sw))))
          (local.set $q1 (i32.sub (local.get $c1) (i32.mul (local.get $j) (local.get $sw))))
          (if (i32.lt_s (local.get $q0) (i32.const 0)) (then (local.set $q0 (i32.const 0))))
          (if (i32.gt_s (local.get $q1) (local.get $kw)) (then (local.set $q1 (local.get $kw))))
          (if (i32.lt_s (local.get $q1) (local.get $q0)) (then (local.set $q1 (local.get $q0))))
          (local.set $runT (i32.mul (i32.sub (local.get $q1) (local.get $q0)) (local.get $C)))
          (local.set $n (i32.const 0))
          (block $tndone (loop $tnl
            (br_if $tndone (i32.ge_u (local.get $n) (local.get $N8)))
            (local.set $c00 (v128.const i32x4 0 0 0 0))
            (local.set $c01 (v128.const i32x4 0 0 0 0))
            (local.set $ab (i32.add (local.get $x) (i32.shl (i32.mul (i32.add (i32.mul (i32.add (i32.mul (local.get $b) (local.get $H)) (i32.add (i32.mul (local.get $i) (local.get $sh)) (local.get $p0))) (local.get $W)) (i32.add (i32.mul (local.get $j) (local.get $sw)) (local.get $q0))) (local.get $C)) (i32.const 2))))
            (local.set $bb (i32.add (local.get $w) (i32.shl (i32.add (i32.mul (i32.add (i32.mul (local.get $p0) (local.get $run)) (i32.mul (local.get $q0) (local.get $C))) (local.get $N)) (local.get $n)) (i32.const 2))))
            (local.set $p (local.get $p0))
            (block $pdone1 (loop $pl1
              (br_if $pdone1 (i32.ge_s (local.get $p) (local.get $p1)))
              ;; a0 -> x[b, i*sh + p, j*sw + q0, 0], bp -> w[p, q0, 0, n]: ab and bb, a row further each p
              (local.set $a0 (local.get $ab))
              (local.set $bp (local.get $bb))
              (local.set $k (i32.const 0))
              (block $kdone1 (loop $kl1
                (br_if $kdone1 (i32.ge_u (local.get $k) (local.get $runT)))
                (local.set $b0 (v128.load (local.get $bp)))
                (local.set $b1 (v128.load offset=16 (local.get $bp)))
                (local.set $xv (v128.load32_splat (local.get $a0)))
                (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $xv) (local.get $b0))))
                (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $xv) (local.get $b1))))
                (local.set $a0 (i32.add (local.get $a0) (i32.const 4)))
                (local.set $bp (i32.add (local.get $bp) (local.get $ldw)))
                (local.set $k (i32.add (local.get $k) (i32.const 1)))
                (br $kl1)))
              (local.set $ab (i32.add (local.get $ab) (local.get $xRow)))
              (local.set $bb (i32.add (local.get $bb) (local.get $wRow)))
              (local.set $p (i32.add (local.get $p) (i32.const 1)))
              (br $pl1)))
            (v128.store (i32.add (local.get $op) (i32.shl (local.get $n) (i32.const 2))) (local.get $c00))
            (v128.store offset=16 (i32.add (local.get $op) (i32.shl (local.get $n) (i32.const 2))) (local.get $c01))
            (local.set $n (i32.add (local.get $n) (i32.const 8)))
            (br $tnl)))
          (if (i32.lt_u (local.get $n) (local.get $N))
            (then
              (local.set $c00 (v128.const i32x4 0 0 0 0))
              (local.set $ab (i32.add (local.get $x) (i32.shl (i32.mul (i32.add (i32.mul (i32.add (i32.mul (local.get $b) (local.get $H)) (i32.add (i32.mul (local.get $i) (local.get $sh)) (local.get $p0))) (local.get $W)) (i32.add (i32.mul (local.get $j) (local.get $sw)) (local.get $q0))) (local.get $C)) (i32.const 2))))
              (local.set $bb (i32.add (local.get $w) (i32.shl (i32.add (i32.mul (i32.add (i32.mul (local.get $p0) (local.get $run)) (i32.mul (local.get $q0) (local.get $C))) (local.get $N)) (local.get $n)) (i32.const 2))))
              (local.set $p (local.get $p0))
              (block $pdone1h (loop $pl1h
                (br_if $pdone1h (i32.ge_s (local.get $p) (local.get $p1)))
                ;; a0 -> x[b, i*sh + p, j*sw + q0, 0], bp -> w[p, q0, 0, n]: ab and bb, a row further each p
                (local.set $a0 (local.get $ab))
                (local.set $bp (local.get $bb))
                (local.set $k (i32.const 0))
                (block $kdone1h (loop $kl1h
                  (br_if $kdone1h (i32.ge_u (local.get $k) (local.get $runT)))
                  (local.set $b0 (v128.load (local.get $bp)))
                  (local.set $xv (v128.load32_splat (local.get $a0)))
                  (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $xv) (local.get $b0))))
                  (local.set $a0 (i32.add (local.get $a0) (i32.const 4)))
                  (local.set $bp (i32.add (local.get $bp) (local.get $ldw)))
                  (local.set $k (i32.add (local.get $k) (i32.const 1)))
                  (br $kl1h)))
                (local.set $ab (i32.add (local.get $ab) (local.get $xRow)))
                (local.set $bb (i32.add (local.get $bb) (local.get $wRow)))
                (local.set $p (i32.add (local.get $p) (i32.const 1)))
                (br $pl1h)))
              (v128.store (i32.add (local.get $op) (i32.shl (local.get $n) (i32.const 2))) (local.get $c00))))
          (local.set $op (i32.add (local.get $op) (local.get $ldw)))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br $tl)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $il)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $bl))))

  ;; dx[b, h, w, c] = sum over i, j, p, q, o with i*sh + p - pt = h, j*sw + q - pl = w
  ;;                  of dy[b, i, j, o] * wt[p, q, o, c]
  ;; dy (B, Ho, Wo, N), wt (kh, kw, N, C) (the filter with its channel axes
  ;; swapped), dx (B, H, W, C) zeroed, C a multiple of 8; dilation 1.
  ;; Conv2DBackpropInput (conv2d-backprop-input.ts) as a scatter:
  ;; a tile of 4 neighbouring dy pixels meets, through tap (p, q), 4 dx
  ;; pixels sw apart, whose 8 channels at a time are loaded, get the
  ;; tile's N products added, and are stored. Only products that land in dx
  ;; are made, where the forward convolution of the padded dy multiplies the
  ;; padding's zeros (and a strided dy's spread zeros). Taps outside, tiles
  ;; inside (for one tap a row's tiles meet disjoint dx pixels, so no load
  ;; waits on the store before it). Each dx element adds its products in
  ;; (i, p, q, o) order, by tile or by pixel: the bits do not depend on where
  ;; a row's tiles end.
  (func (export "conv2d_input_grad")
    (param $dy i32) (param $wt i32) (param $dx i32)
    (param $B i32) (param $H i32) (param $W i32) (param $C i32) (param $Ho i32) (param $Wo i32)
    (param $kh i32) (param $kw i32) (param $sh i32) (param $sw i32) (param $N i32) (param $pt i32) (param $pl i32)
    (local $sx i32) (local $b i32) (local $i i32) (local $p i32) (local $p1 i32) (local $q i32) (local $j i32) (local $jhi i32) (local $c i32) (local $o i32)
    (local $nb i32) (local $cb i32) (local $dyRow i32) (local $dxRow i32) (local $wq i32) (local $d i32) (local $e i32) (local $wo i32)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local $w0 v128) (local $w1 v128) (local $xv v128)
    (local.set $nb (i32.shl (local.get $N) (i32.const 2)))
    (local.set $cb (i32.shl (local.get $C) (i32.const 2)))
    (local.set $sx (i32.mul (local.get $sw) (local.get $cb)))
    (local.set $b (i32.const 0))
    (block $bdone (loop $bl
      (br_if $bdone (i32.ge_u (local.get $b) (local.get $B)))
      (local.set $i (i32.const 0))
      (block $idone (loop $il
        (br_if $idone (i32.ge_u (local.get $i) (local.get $Ho)))
        ;; dyRow -> dy[b, i, 0, 0]
        (local.set $dyRow (i32.add (local.get $dy) (i32.mul (i32.mul (i32.add (i32.mul (local.get $b) (local.get $Ho)) (local.get $i)) (local.get $Wo)) (local.get $nb))))
        ;; taps [p, p1): those whose row h = i*sh + p - pt lies in [0, H)
        (local.set $p (i32.sub (local.get $pt) (i32.mul (local.get $i) (local.get $sh))))
        (if (i32.lt_s (local.get $p) (i32.const 0)) (then (local.set $p (i32.const 0))))
        (local.set $p1 (i32.sub (i32.add (local.get $H) (local.get $pt)) (i32.mul (local.get $i) (local.get $sh))))
        (if (i32.gt_s (local.get $p1) (local.get $kh)) (then (local.set $p1 (local.get $kh))))
        (block $pdone (loop $pl
          (br_if $pdone (i32.ge_s (local.get $p) (local.get $p1)))
          ;; dxRow -> dx[b, i*sh + p - pt, 0, 0]
          (local.set $dxRow (i32.add (local.get $dx) (i32.mul (i32.mul (i32.add (i32.mul (local.get $b) (local.get $H)) (i32.sub (i32.add (i32.mul (local.get $i) (local.get $sh)) (local.get $p)) (local.get $pt))) (local.get $W)) (local.get $cb))))
          (local.set $q (i32.const 0))
          (block $qdone (loop $ql
            (br_if $qdone (i32.ge_u (local.get $q) (local.get $kw)))
            ;; wq -> wt[p, q, 0, 0]
            (local.set $wq (i32.add (local.get $wt) (i32.mul (i32.mul (i32.add (i32.mul (local.get $p) (local.get $kw)) (local.get $q)) (local.get $N)) (local.get $cb))))
            ;; dy columns [j, jhi): those whose dx column j*sw + q - pl lies in [0, W):
            ;; j from ceil((pl - q) / sw), below ceil((W + pl - q) / sw)
            (local.set $jhi (i32.sub (i32.add (local.get $W) (local.get $pl)) (local.get $q)))
            (local.set $jhi (if (result i32) (i32.gt_s (local.get $jhi) (i32.const 0))
              (then (i32.div_u (i32.add (local.get $jhi) (i32.sub (local.get $sw) (i32.const 1))) (local.get $sw))) (else (i32.const 0))))
            (if (i32.gt_s (local.get $jhi) (local.get $Wo)) (then (local.set $jhi (local.get $Wo))))
            (local.set $c (i32.const 0))
            (block $cdone (loop $cl
              (br_if $cdone (i32.ge_u (local.get $c) (local.get $C)))
              (local.set $j (i32.sub (local.get $pl) (local.get $q)))
              (local.set $j (if (result i32) (i32.gt_s (local.get $j) (i32.const 0))
                (then (i32.div_u (i32.add (local.get $j) (i32.sub (local.get $sw) (i32.const 1))) (local.get $sw))) (else (i32.const 0))))
              ;; tiles of 4 pixels
              (block $tdone (loop $tl
                (br_if $tdone (i32.gt_s (i32.add (local.get $j) (i32.const 4)) (local.get $jhi)))
                ;; d -> dy[b, i, j, 0]; e -> dx[b, h, j + q - pl, c]; wo -> wt[p, q, 0, c]
                (local.set $d (i32.add (local.get $dyRow) (i32.mul (local.get $j) (local.get $nb))))
                (local.set $e (i32.add (local.get $dxRow) (i32.add (i32.mul (i32.sub (i32.add (i32.mul (local.get $j) (local.get $sw)) (local.get $q)) (local.get $pl)) (local.get $cb)) (i32.shl (local.get $c) (i32.const 2)))))
                (local.set $wo (i32.add (local.get $wq) (i32.shl (local.get $c) (i32.const 2))))
                  (local.set $c00 (v128.load offset=0 (i32.add (local.get $e) (i32.mul (local.get $sx) (i32.const 0)))))
                  (local.set $c01 (v128.load offset=16 (i32.add (local.get $e) (i32.mul (local.get $sx) (i32.const 0)))))
                  (local.set $c10 (v128.load offset=0 (i32.add (local.get $e) (i32.mul (local.get $sx) (i32.const 1)))))
                  (local.set $c11 (v128.load offset=16 (i32.add (local.get $e) (i32.mul (local.get $sx) (i32.const 1)))))
                  (local.set $c20 (v128.load offset=0 (i32.add (local.get $e) (i32.mul (local.get $sx) (i32.const 2)))))
                  (local.set $c21 (v128.load offset=16 (i32.add (local.get $e) (i32.mul (local.get $sx) (i32.const 2)))))
                  (local.set $c30 (v128.load offset=0 (i32.add (local.get $e) (i32.mul (local.get $sx) (i32.const 3)))))
                  (local.set $c31 (v128.load offset=16 (i32.add (local.get $e) (i32.mul (local.get $sx) (i32.const 3)))))
                (local.set $o (i32.const 0))
                (block $odone (loop $ol
                  (br_if $odone (i32.ge_u (local.get $o) (local.get $N)))
                  (local.set $w0 (v128.load (local.get $wo)))
                  (local.set $w1 (v128.load offset=16 (local.get $wo)))
                    (local.set $xv (v128.load32_splat (i32.add (local.get $d) (i32.mul (local.get $nb) (i32.const 0)))))
                    (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $xv) (local.get $w0))))
                    (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $xv) (local.get $w1))))
                    (local.set $xv (v128.load32_splat (i32.add (local.get $d) (i32.mul (local.get $nb) (i32.const 1)))))
                    (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $xv) (local.get $w0))))
                    (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $xv) (local.get $w1))))
                    (local.set $xv (v128.load32_splat (i32.add (local.get $d) (i32.mul (local.get $nb) (i32.const 2)))))
                    (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $xv) (local.get $w0))))
                    (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $xv) (local.get $w1))))
                    (local.set $xv (v128.load32_splat (i32.add (local.get $d) (i32.mul (local.get $nb) (i32.const 3)))))
                    (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $xv) (local.get $w0))))
                    (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $xv) (local.get $w1))))
                  (local.set $d (i32.add (local.get $d) (i32.const 4)))
                  (local.set $wo (i32.add (local.get $wo) (local.get $cb)))
                  (local.set $o (i32.add (local.get $o) (i32.const 1)))
                  (br $ol)))
                (v128.store offset=0 (i32.add (local.get $e) (i32.mul (local.get $sx) (i32.const 0))) (local.get $c00))
                (v128.store offset=16 (i32.add (local.get $e) (i32.mul (local.get $sx) (i32.const 0))) (local.get $c01))
                (v128.store offset=0 (i32.add (local.get $e) (i32.mul (local.get $sx) (i32.const 1))) (local.get $c10))
                (v128.store offset=16 (i32.add (local.get $e) (i32.mul (local.get $sx) (i32.const 1))) (local.get $c11))
                (v128.store offset=0 (i32.add (local.get $e) (i32.mul (local.get $sx) (i32.const 2))) (local.get $c20))
                (v128.store offset=16 (i32.add (local.get $e) (i32.mul (local.get $sx) (i32.const 2))) (local.get $c21))
                (v128.store offset=0 (i32.add (local.get $e) (i32.mul (local.get $sx) (i32.const 3))) (local.get $c30))
                (v128.store offset=16 (i32.add (local.get $e) (i32.mul (local.get $sx) (i32.const 3))) (local.get $c31))
                (local.set $j (i32.add (local.get $j) (i32.const 4)))
                (br $tl)))
              ;; the pixels after the last tile, one at a time
              (block $sdone (loop $sl
                (br_if $sdone (i32.ge_s (local.get $j) (local.get $jhi)))
                (local.set $d (i32.add (local.get $dyRow) (i32.mul (local.get $j) (local.get $nb))))
                (local.set $e (i32.add (local.get $dxRow) (i32.add (i32.mul (i32.sub (i32.add (i32.mul (local.get $j) (local.get $sw)) (local.get $q)) (local.get $pl)) (local.get $cb)) (i32.shl (local.get $c) (i32.const 2)))))
                (local.set $wo (i32.add (local.get $wq) (i32.shl (local.get $c) (i32.const 2))))
                (local.set $c00 (v128.load (local.get $e)))
                (local.set $c01 (v128.load offset=16 (local.get $e)))
                (local.set $o (i32.const 0))
                (block $osdone (loop $osl
                  (br_if $osdone (i32.ge_u (local.get $o) (local.get $N)))
                  (local.set $xv (v128.load32_splat (local.get $d)))
                  (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $xv) (v128.load (local.get $wo)))))
                  (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $xv) (v128.load offset=16 (local.get $wo)))))
                  (local.set $d (i32.add (local.get $d) (i32.const 4)))
                  (local.set $wo (i32.add (local.get $wo) (local.get $cb)))
                  (local.set $o (i32.add (local.get $o) (i32.const 1)))
                  (br $osl)))
                (v128.store (local.get $e) (local.get $c00))
                (v128.store offset=16 (local.get $e) (local.get $c01))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $sl)))
              (local.set $c (i32.add (local.get $c) (i32.const 8)))
              (br $cl)))
            (local.set $q (i32.add (local.get $q) (i32.const 1)))
            (br $ql)))
          (local.set $p (i32.add (local.get $p) (i32.const 1)))
          (br $pl)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $il)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $bl))))

  ;; dw[p, q, c, n] = sum over b, i, j of x[b, i*sh + p, j*sw + q, c] * dy[b, i, j, n]
  ;; x (B, H, W, C) already padded, dy (B, Ho, Wo, N), dw (kh, kw, C, N); writes
  ;; every element of dw. Conv2DBackpropFilter (conv2d-backprop-filter.ts) as our
  ;; gemm with a = the patches, transposed, read in place: row r = (p, q, c) of a
  ;; is x at offset (p*W + q)*C + c from each output pixel's corner, so a tile's
  ;; 4 rows are 4 pointers that step sw*C floats per pixel, and b is dy. Each
  ;; output adds its products from 0 in (b, i, j) order, as the gemm over
  ;; im2col'd patches does: the same bits, without writing the patches.
  (func (export "conv2d_filter_grad")
    (param $x i32) (param $dy i32) (param $dw i32)
    (param $B i32) (param $H i32) (param $W i32) (param $C i32) (param $Ho i32) (param $Wo i32)
    (param $kh i32) (param $kw i32) (param $sh i32) (param $sw i32) (param $N i32)
    (local $run i32) (local $M i32) (local $M4 i32) (local $N8 i32) (local $r i32) (local $n i32)
    (local $b i32) (local $i i32) (local $j i32) (local $base i32) (local $step i32) (local $ldb i32)
    (local $o0 i32) (local $o1 i32) (local $o2 i32) (local $o3 i32)
    (local $a0 i32) (local $a1 i32) (local $a2 i32) (local $a3 i32) (local $bp i32) (local $dp i32)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local $b0 v128) (local $b1 v128) (local $xv v128) (local $s f32)
    (local.set $run (i32.mul (local.get $kw) (local.get $C)))
    (local.set $M (i32.mul (local.get $kh) (local.get $run)))
    (local.set $M4 (i32.and (local.get $M) (i32.const -4)))
    (local.set $N8 (i32.and (local.get $N) (i32.const -8)))
    (local.set $step (i32.shl (i32.mul (local.get $sw) (local.get $C)) (i32.const 2)))
    (local.set $ldb (i32.shl (local.get $N) (i32.const 2)))
    (local.set $r (i32.const 0))
    (block $rdone (loop $rl
      (br_if $rdone (i32.ge_u (local.get $r) (local.get $M)))
      ;; o0..o3: rows r..r+3 of a as byte offsets from a pixel's corner (o1..o3
      ;; only used in tiles of 4)
      (local.set $o0 (call $patch_offset (local.get $r) (local.get $run) (local.get $W) (local.get $C)))
      (local.set $o1 (call $patch_offset (i32.add (local.get $r) (i32.const 1)) (local.get $run) (local.get $W) (local.get $C)))
      (local.set $o2 (call $patch_offset (i32.add (local.get $r) (i32.const 2)) (local.get $run) (local.get $W) (local.get $C)))
      (local.set $o3 (call $patch_offset (i32.add (local.get $r) (i32.const 3)) (local.get $run) (local.get $W) (local.get $C)))
      (local.set $n (i32.const 0))
      (block $ndone (loop $nl
        (br_if $ndone (i32.ge_u (local.get $n) (local.get $N8)))
        (local.set $c00 (v128.const i32x4 0 0 0 0))
        (local.set $c01 (v128.const i32x4 0 0 0 0))
        (local.set $c10 (v128.const i32x4 0 0 0 0))
        (local.set $c11 (v128.const i32x4 0 0 0 0))
        (local.set $c20 (v128.const i32x4 0 0 0 0))
        (local.set $c21 (v128.const i32x4 0 0 0 0))
        (local.set $c30 (v128.const i32x4 0 0 0 0))
        (local.set $c31 (v128.const i32x4 0 0 0 0))
        (local.set $dp (i32.add (local.get $dy) (i32.shl (local.get $n) (i32.const 2))))
        (local.set $b (i32.const 0))
        (block $bdone (loop $bl
          (br_if $bdone (i32.ge_u (local.get $b) (local.get $B)))
          (local.set $i (i32.const 0))
          (block $idone (loop $il
            (br_if $idone (i32.ge_u (local.get $i) (local.get $Ho)))
            ;; base -> x[b, i*sh, 0, 0]
            (local.set $base (i32.add (local.get $x) (i32.shl (i32.mul (i32.mul (i32.add (i32.mul (local.get $b) (local.get $H)) (i32.mul (local.get $i) (local.get $sh))) (local.get $W)) (local.get $C)) (i32.const 2))))
            (if (i32.lt_u (local.get $r) (local.get $M4))
              (then
                (local.set $a0 (i32.add (local.get $base) (local.get $o0)))
                (local.set $a1 (i32.add (local.get $base) (local.get $o1)))
                (local.set $a2 (i32.add (local.get $base) (local.get $o2)))
                (local.set $a3 (i32.add (local.get $base) (local.get $o3)))
                (local.set $j (i32.const 0))
                (block $jdone (loop $jl
                  (br_if $jdone (i32.ge_u (local.get $j) (local.get $Wo)))
                  (local.set $b0 (v128.load (local.get $dp)))
                  (local.set $b1 (v128.load offset=16 (local.get $dp)))
                  (local.set $xv (v128.load32_splat (local.get $a0)))
                  (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $xv) (local.get $b0))))
                  (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $xv) (local.get $b1))))
                  (local.set $a0 (i32.add (local.get $a0) (local.get $step)))
                  (local.set $xv (v128.load32_splat (local.get $a1)))
                  (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $xv) (local.get $b0))))
                  (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $xv) (local.get $b1))))
                  (local.set $a1 (i32.add (local.get $a1) (local.get $step)))
                  (local.set $xv (v128.load32_splat (local.get $a2)))
                  (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $xv) (local.get $b0))))
                  (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $xv) (local.get $b1))))
                  (local.set $a2 (i32.add (local.get $a2) (local.get $step)))
                  (local.set $xv (v128.load32_splat (local.get $a3)))
                  (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $xv) (local.get $b0))))
                  (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $xv) (local.get $b1))))
                  (local.set $a3 (i32.add (local.get $a3) (local.get $step)))
                  (local.set $dp (i32.add (local.get $dp) (local.get $ldb)))
                  (local.set $j (i32.add (local.get $j) (i32.const 1)))
                  (br $jl))))
              (else
                ;; a row beyond the last 4: one at a time
                (local.set $a0 (i32.add (local.get $base) (local.get $o0)))
                (local.set $j (i32.const 0))
                (block $j1done (loop $j1l
                  (br_if $j1done (i32.ge_u (local.get $j) (local.get $Wo)))
                  (local.set $xv (v128.load32_splat (local.get $a0)))
                  (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $xv) (v128.load (local.get $dp)))))
                  (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $xv) (v128.load offset=16 (local.get $dp)))))
                  (local.set $a0 (i32.add (local.get $a0) (local.get $step)))
                  (local.set $dp (i32.add (local.get $dp) (local.get $ldb)))
                  (local.set $j (i32.add (local.get $j) (i32.const 1)))
                  (br $j1l)))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $il)))
          (local.set $b (i32.add (local.get $b) (i32.const 1)))
          (br $bl)))
        ;; dw[r + t, n..n+8] for the tile's rows
        (local.set $bp (i32.add (local.get $dw) (i32.shl (i32.add (i32.mul (local.get $r) (local.get $N)) (local.get $n)) (i32.const 2))))
        (v128.store (local.get $bp) (local.get $c00))
        (v128.store offset=16 (local.get $bp) (local.get $c01))
        (if (i32.lt_u (local.get $r) (local.get $M4)) (then
          (v128.store (i32.add (local.get $bp) (local.get $ldb)) (local.get $c10))
          (v128.store offset=16 (i32.add (local.get $bp) (local.get $ldb)) (local.get $c11))
          (v128.store (i32.add (local.get $bp) (i32.mul (local.get $ldb) (i32.const 2))) (local.get $c20))
          (v128.store offset=16 (i32.add (local.get $bp) (i32.mul (local.get $ldb) (i32.const 2))) (local.get $c21))
          (v128.store (i32.add (local.get $bp) (i32.mul (local.get $ldb) (i32.const 3))) (local.get $c30))
          (v128.store offset=16 (i32.add (local.get $bp) (i32.mul (local.get $ldb) (i32.const 3))) (local.get $c31))))
        (local.set $n (i32.add (local.get $n) (i32.const 8)))
        (br $nl)))
      ;; the columns beyond the last 8, one dot product per row of the tile
      (local.set $a1 (local.get $r))
      (block $trdone (loop $trl
        (br_if $trdone (i32.ge_u (local.get $a1) (select (i32.add (local.get $r) (i32.const 4)) (i32.add (local.get $r) (i32.const 1)) (i32.lt_u (local.get $r) (local.get $M4)))))
        (local.set $o1 (call $patch_offset (local.get $a1) (local.get $run) (local.get $W) (local.get $C)))
        (local.set $n (local.get $N8))
        (block $sndone (loop $snl
          (br_if $sndone (i32.ge_u (local.get $n) (local.get $N)))
          (local.set $s (f32.const 0))
          (local.set $dp (i32.add (local.get $dy) (i32.shl (local.get $n) (i32.const 2))))
          (local.set $b (i32.const 0))
          (block $sbdone (loop $sbl
            (br_if $sbdone (i32.ge_u (local.get $b) (local.get $B)))
            (local.set $i (i32.const 0))
            (block $sidone (loop $sil
              (br_if $sidone (i32.ge_u (local.get $i) (local.get $Ho)))
              (local.set $a0 (i32.add (i32.add (local.get $x) (i32.shl (i32.mul (i32.mul (i32.add (i32.mul (local.get $b) (local.get $H)) (i32.mul (local.get $i) (local.get $sh))) (local.get $W)) (local.get $C)) (i32.const 2))) (local.get $o1)))
              (local.set $j (i32.const 0))
              (block $sjdone (loop $sjl
                (br_if $sjdone (i32.ge_u (local.get $j) (local.get $Wo)))
                (local.set $s (f32.add (local.get $s) (f32.mul (f32.load (local.get $a0)) (f32.load (local.get $dp)))))
                (local.set $a0 (i32.add (local.get $a0) (local.get $step)))
                (local.set $dp (i32.add (local.get $dp) (local.get $ldb)))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $sjl)))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br $sil)))
            (local.set $b (i32.add (local.get $b) (i32.const 1)))
            (br $sbl)))
          (f32.store (i32.add (local.get $dw) (i32.shl (i32.add (i32.mul (local.get $a1) (local.get $N)) (local.get $n)) (i32.const 2))) (local.get $s))
          (local.set $n (i32.add (local.get $n) (i32.const 1)))
          (br $snl)))
        (local.set $a1 (i32.add (local.get $a1) (i32.const 1)))
        (br $trl)))
      (local.set $r (i32.add (local.get $r) (select (i32.const 4) (i32.const 1) (i32.lt_u (local.get $r) (local.get $M4)))))
      (br $rl))))

  ;; row r = (p, t) of the patches, t = q*C + c: its byte offset from a pixel's corner in x, (p*W*C + t)*4
  (func $patch_offset (param $r i32) (param $run i32) (param $W i32) (param $C i32) (result i32)
    (i32.shl (i32.add (i32.mul (i32.mul (i32.div_u (local.get $r) (local.get $run)) (local.get $W)) (local.get $C)) (i32.rem_u (local.get $r) (local.get $run))) (i32.const 2)))

  ;; dx[at] += g, unless at is -1 (a window with no pixel above -Infinity)
  (func $scatter (param $dx i32) (param $at i32) (param $g f32)
    (local $a i32)
    (if (i32.ge_s (local.get $at) (i32.const 0))
      (then
        (local.set $a (i32.add (local.get $dx) (i32.shl (local.get $at) (i32.const 2))))
        (f32.store (local.get $a) (f32.add (f32.load (local.get $a)) (local.get $g))))))
)
