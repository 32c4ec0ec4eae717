;; The per-step vector kernels of worker-ddp, in WebAssembly with 128-bit SIMD.
;;
;; Why not JavaScript: on our 2-core VMs a plain JS loop over a Float32Array
;; costs 3-18 ns per element (the reduce + SGD of 109,386 floats took ~1.2 ms,
;; a fifth of a step); these loops run at memory speed. Why not tfjs kernels:
;; the data would have to be copied into and out of tfjs's own wasm heap.
;;
;; All pointers are byte offsets into the one shared memory that holds the
;; parameters, gradients and optimizer state (src/simd/arena.ts); lengths
;; count f32 elements.
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
  ;; Returns the sum of the outputs, like reduce: NaN or +-Inf iff an updated
  ;; parameter is not finite (or the sum overflows). So do the optimizers below.
  (func (export "sgd")
    (param $params i32) (param $grad i32) (param $next i32) (param $lo i32) (param $hi i32) (param $lr f32) (result f32)
    (local $i i32) (local $end4 i32) (local $off i32) (local $vlr v128)
    (local $p v128) (local $probe v128) (local $sp f32) (local $sprobe f32)
    (local.set $vlr (f32x4.splat (local.get $lr)))
    (local.set $i (local.get $lo))
    (local.set $end4 (i32.add (local.get $lo) (i32.and (i32.sub (local.get $hi) (local.get $lo)) (i32.const -4))))
    (block $vdone
      (loop $v
        (br_if $vdone (i32.ge_u (local.get $i) (local.get $end4)))
        (local.set $off (i32.shl (local.get $i) (i32.const 2)))
        (local.set $p (f32x4.sub (v128.load (i32.add (local.get $params) (local.get $off)))
          (f32x4.mul (local.get $vlr) (v128.load (i32.add (local.get $grad) (local.get $off))))))
        (v128.store (i32.add (local.get $next) (local.get $off)) (local.get $p))
        (local.set $probe (f32x4.add (local.get $probe) (local.get $p)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $v)))
    (block $sdone
      (loop $s
        (br_if $sdone (i32.ge_u (local.get $i) (local.get $hi)))
        (local.set $off (i32.shl (local.get $i) (i32.const 2)))
        (local.set $sp (f32.sub (f32.load (i32.add (local.get $params) (local.get $off)))
          (f32.mul (local.get $lr) (f32.load (i32.add (local.get $grad) (local.get $off))))))
        (f32.store (i32.add (local.get $next) (local.get $off)) (local.get $sp))
        (local.set $sprobe (f32.add (local.get $sprobe) (local.get $sp)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $s)))
    (f32.add (local.get $sprobe) (call $sum4 (local.get $probe))))

  ;; (l0 + l1) + (l2 + l3)
  (func $sum4 (param $v v128) (result f32)
    (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $v)) (f32x4.extract_lane 1 (local.get $v)))
      (f32.add (f32x4.extract_lane 2 (local.get $v)) (f32x4.extract_lane 3 (local.get $v)))))

;; ---------------------------------------------------------------------------
  ;; The optimizers with state (src/optim/). Like sgd, out of place, for i in
  ;; [lo, hi): they read params, grad and the state before the step, and write
  ;; next and the state after it, never their inputs (Note [double-buffered
  ;; params], Note [sharded optimizer state] in arena.ts).
  ;;
  ;; Each is one loop over 4-lane vectors whose last vector may be partial: the
  ;; 0-3 elements of the tail are loaded into lanes (the others 0, computed on
  ;; and discarded) and stored lane by lane. So the update's math is written
  ;; once, for body and tail alike. (Not as a function called per vector: V8
  ;; does not inline wasm calls by default, and the calls cost more than the math.)
  ;; Each math line is one float32 operation in the order of tfjs's optimizer
  ;; (tfjs-core 4.22 src/optimizers/*.ts; its cpu backend rounds every op to
  ;; float32), so the results are tfjs's own to the bit; the tfjs expression is
  ;; quoted on the right. Scalars are splat to 4 lanes once. Each returns the
  ;; sum of the updated parameters, as sgd does (the tail's lanes re-loaded, so
  ;; the discarded lanes never count).

  ;; n (1-3) floats from ptr into lanes [0, n), 0 in the others
  (func $load_tail (param $ptr i32) (param $n i32) (result v128)
    (local $v v128)
    (local.set $v (f32x4.replace_lane 0 (local.get $v) (f32.load (local.get $ptr))))
    (if (i32.gt_u (local.get $n) (i32.const 1))
      (then (local.set $v (f32x4.replace_lane 1 (local.get $v) (f32.load offset=4 (local.get $ptr))))))
    (if (i32.gt_u (local.get $n) (i32.const 2))
      (then (local.set $v (f32x4.replace_lane 2 (local.get $v) (f32.load offset=8 (local.get $ptr))))))
    (local.get $v))

  ;; lanes [0, n) of v to n (1-3) floats at ptr
  (func $store_tail (param $ptr i32) (param $n i32) (param $v v128)
    (f32.store (local.get $ptr) (f32x4.extract_lane 0 (local.get $v)))
    (if (i32.gt_u (local.get $n) (i32.const 1))
      (then (f32.store offset=4 (local.get $ptr) (f32x4.extract_lane 1 (local.get $v)))))
    (if (i32.gt_u (local.get $n) (i32.const 2))
      (then (f32.store offset=8 (local.get $ptr) (f32x4.extract_lane 2 (local.get $v))))))

  ;; Momentum (tfjs MomentumOptimizer, c = -lr; p + (-lr)*x is p - lr*x to the bit):
  ;;   a' = m*a + g                         add(mul(m, accumulation), gradient)
  ;;   p' = p - lr*a'                       add(mul(c, newAccumulation), value)
  ;;   nesterov: p' = p - lr*(g + a'*m)     add(mul(c, add(gradient, mul(newAccumulation, m))), value)
  (func (export "momentum")
    (param $params i32) (param $grad i32) (param $next i32) (param $acc i32) (param $accNext i32)
    (param $lo i32) (param $hi i32) (param $lr f32) (param $m f32) (param $nesterov i32) (result f32)
    (local $i i32) (local $off i32) (local $n i32) (local $full i32) (local $probe v128)
    (local $vlr v128) (local $vm v128) (local $p v128) (local $g v128) (local $a v128)
    (local.set $vlr (f32x4.splat (local.get $lr)))
    (local.set $vm (f32x4.splat (local.get $m)))
    (local.set $i (local.get $lo))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $hi)))
        (local.set $off (i32.shl (local.get $i) (i32.const 2)))
        (local.set $n (i32.sub (local.get $hi) (local.get $i)))
        (local.set $full (i32.ge_u (local.get $n) (i32.const 4)))
        (local.set $p (if (result v128) (local.get $full)
          (then (v128.load (i32.add (local.get $params) (local.get $off))))
          (else (call $load_tail (i32.add (local.get $params) (local.get $off)) (local.get $n)))))
        (local.set $g (if (result v128) (local.get $full)
          (then (v128.load (i32.add (local.get $grad) (local.get $off))))
          (else (call $load_tail (i32.add (local.get $grad) (local.get $off)) (local.get $n)))))
        (local.set $a (if (result v128) (local.get $full)
          (then (v128.load (i32.add (local.get $acc) (local.get $off))))
          (else (call $load_tail (i32.add (local.get $acc) (local.get $off)) (local.get $n)))))
        (local.set $a (f32x4.add (f32x4.mul (local.get $vm) (local.get $a)) (local.get $g)))
        (local.set $p (f32x4.sub (local.get $p)
          (f32x4.mul (local.get $vlr)
            (if (result v128) (local.get $nesterov)
              (then (f32x4.add (local.get $g) (f32x4.mul (local.get $a) (local.get $vm))))
              (else (local.get $a))))))
        (if (local.get $full)
          (then (v128.store (i32.add (local.get $next) (local.get $off)) (local.get $p)))
          (else
            (call $store_tail (i32.add (local.get $next) (local.get $off)) (local.get $n) (local.get $p))
            (local.set $p (call $load_tail (i32.add (local.get $next) (local.get $off)) (local.get $n)))))
        (local.set $probe (f32x4.add (local.get $probe) (local.get $p)))
        (if (local.get $full)
          (then (v128.store (i32.add (local.get $accNext) (local.get $off)) (local.get $a)))
          (else (call $store_tail (i32.add (local.get $accNext) (local.get $off)) (local.get $n) (local.get $a))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $l)))
    (call $sum4 (local.get $probe)))

  ;; Adam (tfjs AdamOptimizer; c1 = 1-b1 and c2 = 1-b2 rounded from float64 as tfjs
  ;; does, bc1 = 1-b1^t and bc2 = 1-b2^t from tfjs's float32 powers: src/optim/adam.ts):
  ;;   m' = m*b1 + g*c1                     add(mul(firstMoment, beta1), mul(gradient, 1 - beta1))
  ;;   v' = v*b2 + (g*g)*c2                 add(mul(secondMoment, beta2), mul(square(gradient), 1 - beta2))
  ;;   p' = p - ((m'/bc1) / (sqrt(v'/bc2) + eps)) * lr
  ;;        add(mul(div(div(m', 1 - accBeta1), add(sqrt(div(v', 1 - accBeta2)), epsilon)), -lr), value)
  (func (export "adam")
    (param $params i32) (param $grad i32) (param $next i32)
    (param $m i32) (param $v i32) (param $mNext i32) (param $vNext i32) (param $lo i32) (param $hi i32)
    (param $lr f32) (param $b1 f32) (param $c1 f32) (param $b2 f32) (param $c2 f32) (param $bc1 f32) (param $bc2 f32) (param $eps f32)
    (result f32)
    (local $i i32) (local $off i32) (local $n i32) (local $full i32) (local $probe v128)
    (local $vlr v128) (local $vb1 v128) (local $vc1 v128) (local $vb2 v128) (local $vc2 v128)
    (local $vbc1 v128) (local $vbc2 v128) (local $veps v128)
    (local $p v128) (local $g v128) (local $mm v128) (local $vv v128)
    (local.set $vlr (f32x4.splat (local.get $lr)))
    (local.set $vb1 (f32x4.splat (local.get $b1)))
    (local.set $vc1 (f32x4.splat (local.get $c1)))
    (local.set $vb2 (f32x4.splat (local.get $b2)))
    (local.set $vc2 (f32x4.splat (local.get $c2)))
    (local.set $vbc1 (f32x4.splat (local.get $bc1)))
    (local.set $vbc2 (f32x4.splat (local.get $bc2)))
    (local.set $veps (f32x4.splat (local.get $eps)))
    (local.set $i (local.get $lo))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $hi)))
        (local.set $off (i32.shl (local.get $i) (i32.const 2)))
        (local.set $n (i32.sub (local.get $hi) (local.get $i)))
        (local.set $full (i32.ge_u (local.get $n) (i32.const 4)))
        (local.set $p (if (result v128) (local.get $full)
          (then (v128.load (i32.add (local.get $params) (local.get $off))))
          (else (call $load_tail (i32.add (local.get $params) (local.get $off)) (local.get $n)))))
        (local.set $g (if (result v128) (local.get $full)
          (then (v128.load (i32.add (local.get $grad) (local.get $off))))
          (else (call $load_tail (i32.add (local.get $grad) (local.get $off)) (local.get $n)))))
        (local.set $mm (if (result v128) (local.get $full)
          (then (v128.load (i32.add (local.get $m) (local.get $off))))
          (else (call $load_tail (i32.add (local.get $m) (local.get $off)) (local.get $n)))))
        (local.set $vv (if (result v128) (local.get $full)
          (then (v128.load (i32.add (local.get $v) (local.get $off))))
          (else (call $load_tail (i32.add (local.get $v) (local.get $off)) (local.get $n)))))
        (local.set $mm (f32x4.add (f32x4.mul (local.get $mm) (local.get $vb1)) (f32x4.mul (local.get $g) (local.get $vc1))))
        (local.set $vv (f32x4.add (f32x4.mul (local.get $vv) (local.get $vb2))
          (f32x4.mul (f32x4.mul (local.get $g) (local.get $g)) (local.get $vc2))))
        (local.set $p (f32x4.sub (local.get $p)
          (f32x4.mul
            (f32x4.div
              (f32x4.div (local.get $mm) (local.get $vbc1))
              (f32x4.add (f32x4.sqrt (f32x4.div (local.get $vv) (local.get $vbc2))) (local.get $veps)))
            (local.get $vlr))))
        (if (local.get $full)
          (then (v128.store (i32.add (local.get $next) (local.get $off)) (local.get $p)))
          (else
            (call $store_tail (i32.add (local.get $next) (local.get $off)) (local.get $n) (local.get $p))
            (local.set $p (call $load_tail (i32.add (local.get $next) (local.get $off)) (local.get $n)))))
        (local.set $probe (f32x4.add (local.get $probe) (local.get $p)))
        (if (local.get $full)
          (then (v128.store (i32.add (local.get $mNext) (local.get $off)) (local.get $mm)))
          (else (call $store_tail (i32.add (local.get $mNext) (local.get $off)) (local.get $n) (local.get $mm))))
        (if (local.get $full)
          (then (v128.store (i32.add (local.get $vNext) (local.get $off)) (local.get $vv)))
          (else (call $store_tail (i32.add (local.get $vNext) (local.get $off)) (local.get $n) (local.get $vv))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $l)))
    (call $sum4 (local.get $probe)))

  ;; RMSProp (tfjs RMSPropOptimizer; c = 1-decay rounded from float64 as tfjs does):
  ;;   s' = s*decay + (g*g)*c               add(mul(meanSquare, decay), mul(square(gradient), 1 - decay))
  ;;   plain:    d = s' + eps               add(newMeanSquare, epsilon)
  ;;   centered: a' = a*decay + g*c         add(mul(meanGrad, decay), mul(gradient, 1 - decay))
  ;;             d = s' - (a'*a' + eps)     sub(newMeanSquare, add(square(newMeanGrad), epsilon))
  ;;   o' = o*momentum + (g*lr) / sqrt(d)   add(mul(moments, momentum), div(mul(gradient, lr), sqrt(d)))
  ;;   p' = p - o'                          sub(value, newMoments)
  ;; State: s (mean square), o (moment) and, when centered, a (mean gradient);
  ;; a and aNext are not touched when not centered. Centered, d is negative and
  ;; p' NaN wherever the variance estimate s' - a'*a' is below eps, as in tfjs
  ;; (Note [tfjs centered RMSProp] in src/optim/rmsprop.ts).
  (func (export "rmsprop")
    (param $params i32) (param $grad i32) (param $next i32)
    (param $s i32) (param $o i32) (param $a i32) (param $sNext i32) (param $oNext i32) (param $aNext i32)
    (param $lo i32) (param $hi i32)
    (param $lr f32) (param $decay f32) (param $c f32) (param $mom f32) (param $eps f32) (param $centered i32)
    (result f32)
    (local $i i32) (local $off i32) (local $n i32) (local $full i32) (local $probe v128)
    (local $vlr v128) (local $vdecay v128) (local $vc v128) (local $vmom v128) (local $veps v128)
    (local $p v128) (local $g v128) (local $ss v128) (local $oo v128) (local $aa v128) (local $d v128)
    (local.set $vlr (f32x4.splat (local.get $lr)))
    (local.set $vdecay (f32x4.splat (local.get $decay)))
    (local.set $vc (f32x4.splat (local.get $c)))
    (local.set $vmom (f32x4.splat (local.get $mom)))
    (local.set $veps (f32x4.splat (local.get $eps)))
    (local.set $i (local.get $lo))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $hi)))
        (local.set $off (i32.shl (local.get $i) (i32.const 2)))
        (local.set $n (i32.sub (local.get $hi) (local.get $i)))
        (local.set $full (i32.ge_u (local.get $n) (i32.const 4)))
        (local.set $p (if (result v128) (local.get $full)
          (then (v128.load (i32.add (local.get $params) (local.get $off))))
          (else (call $load_tail (i32.add (local.get $params) (local.get $off)) (local.get $n)))))
        (local.set $g (if (result v128) (local.get $full)
          (then (v128.load (i32.add (local.get $grad) (local.get $off))))
          (else (call $load_tail (i32.add (local.get $grad) (local.get $off)) (local.get $n)))))
        (local.set $ss (if (result v128) (local.get $full)
          (then (v128.load (i32.add (local.get $s) (local.get $off))))
          (else (call $load_tail (i32.add (local.get $s) (local.get $off)) (local.get $n)))))
        (local.set $oo (if (result v128) (local.get $full)
          (then (v128.load (i32.add (local.get $o) (local.get $off))))
          (else (call $load_tail (i32.add (local.get $o) (local.get $off)) (local.get $n)))))
        (local.set $ss (f32x4.add (f32x4.mul (local.get $ss) (local.get $vdecay))
          (f32x4.mul (f32x4.mul (local.get $g) (local.get $g)) (local.get $vc))))
        (if (local.get $centered)
          (then
            (local.set $aa (if (result v128) (local.get $full)
              (then (v128.load (i32.add (local.get $a) (local.get $off))))
              (else (call $load_tail (i32.add (local.get $a) (local.get $off)) (local.get $n)))))
            (local.set $aa (f32x4.add (f32x4.mul (local.get $aa) (local.get $vdecay)) (f32x4.mul (local.get $g) (local.get $vc))))
            (local.set $d (f32x4.sub (local.get $ss) (f32x4.add (f32x4.mul (local.get $aa) (local.get $aa)) (local.get $veps))))
            (if (local.get $full)
              (then (v128.store (i32.add (local.get $aNext) (local.get $off)) (local.get $aa)))
              (else (call $store_tail (i32.add (local.get $aNext) (local.get $off)) (local.get $n) (local.get $aa)))))
          (else
            (local.set $d (f32x4.add (local.get $ss) (local.get $veps)))))
        (local.set $oo (f32x4.add (f32x4.mul (local.get $oo) (local.get $vmom))
          (f32x4.div (f32x4.mul (local.get $g) (local.get $vlr)) (f32x4.sqrt (local.get $d)))))
        (local.set $p (f32x4.sub (local.get $p) (local.get $oo)))
        (if (local.get $full)
          (then (v128.store (i32.add (local.get $next) (local.get $off)) (local.get $p)))
          (else
            (call $store_tail (i32.add (local.get $next) (local.get $off)) (local.get $n) (local.get $p))
            (local.set $p (call $load_tail (i32.add (local.get $next) (local.get $off)) (local.get $n)))))
        (local.set $probe (f32x4.add (local.get $probe) (local.get $p)))
        (if (local.get $full)
          (then (v128.store (i32.add (local.get $sNext) (local.get $off)) (local.get $ss)))
          (else (call $store_tail (i32.add (local.get $sNext) (local.get $off)) (local.get $n) (local.get $ss))))
        (if (local.get $full)
          (then (v128.store (i32.add (local.get $oNext) (local.get $off)) (local.get $oo)))
          (else (call $store_tail (i32.add (local.get $oNext) (local.get $off)) (local.get $n) (local.get $oo))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $l)))
    (call $sum4 (local.get $probe)))

  ;; Adagrad (tfjs AdagradOptimizer; eps is the backend's, 1e-7 in float32):
  ;;   a' = a + g*g                         add(accumulatedGrad, square(gradient))
  ;;   p' = p - (g / sqrt(a' + eps)) * lr   add(mul(div(gradient, sqrt(add(a', epsilon))), -lr), value)
  (func (export "adagrad")
    (param $params i32) (param $grad i32) (param $next i32) (param $acc i32) (param $accNext i32)
    (param $lo i32) (param $hi i32) (param $lr f32) (param $eps f32) (result f32)
    (local $i i32) (local $off i32) (local $n i32) (local $full i32) (local $probe v128)
    (local $vlr v128) (local $veps v128) (local $p v128) (local $g v128) (local $a v128)
    (local.set $vlr (f32x4.splat (local.get $lr)))
    (local.set $veps (f32x4.splat (local.get $eps)))
    (local.set $i (local.get $lo))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $hi)))
        (local.set $off (i32.shl (local.get $i) (i32.const 2)))
        (local.set $n (i32.sub (local.get $hi) (local.get $i)))
        (local.set $full (i32.ge_u (local.get $n) (i32.const 4)))
        (local.set $p (if (result v128) (local.get $full)
          (then (v128.load (i32.add (local.get $params) (local.get $off))))
          (else (call $load_tail (i32.add (local.get $params) (local.get $off)) (local.get $n)))))
        (local.set $g (if (result v128) (local.get $full)
          (then (v128.load (i32.add (local.get $grad) (local.get $off))))
          (else (call $load_tail (i32.add (local.get $grad) (local.get $off)) (local.get $n)))))
        (local.set $a (if (result v128) (local.get $full)
          (then (v128.load (i32.add (local.get $acc) (local.get $off))))
          (else (call $load_tail (i32.add (local.get $acc) (local.get $off)) (local.get $n)))))
        (local.set $a (f32x4.add (local.get $a) (f32x4.mul (local.get $g) (local.get $g))))
        (local.set $p (f32x4.sub (local.get $p)
          (f32x4.mul (f32x4.div (local.get $g) (f32x4.sqrt (f32x4.add (local.get $a) (local.get $veps)))) (local.get $vlr))))
        (if (local.get $full)
          (then (v128.store (i32.add (local.get $next) (local.get $off)) (local.get $p)))
          (else
            (call $store_tail (i32.add (local.get $next) (local.get $off)) (local.get $n) (local.get $p))
            (local.set $p (call $load_tail (i32.add (local.get $next) (local.get $off)) (local.get $n)))))
        (local.set $probe (f32x4.add (local.get $probe) (local.get $p)))
        (if (local.get $full)
          (then (v128.store (i32.add (local.get $accNext) (local.get $off)) (local.get $a)))
          (else (call $store_tail (i32.add (local.get $accNext) (local.get $off)) (local.get $n) (local.get $a))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $l)))
    (call $sum4 (local.get $probe)))

  ;; The index of the first element in [lo, hi) of the f32 array at p that is NaN or
  ;; +-Inf (its exponent bits all ones), or hi where there is none: a data check at
  ;; memory speed, 8 lanes a turn, then one at a time from the 8 that hold the first.
  (func (export "firstNonFinite")
    (param $p i32) (param $lo i32) (param $hi i32) (result i32)
    (local $i i32) (local $end8 i32) (local $at i32) (local $mask v128)
    (local.set $mask (i32x4.splat (i32.const 0x7f800000)))
    (local.set $i (local.get $lo))
    (local.set $end8 (i32.add (local.get $lo) (i32.and (i32.sub (local.get $hi) (local.get $lo)) (i32.const -8))))
    (block $vdone
      (loop $v
        (br_if $vdone (i32.ge_u (local.get $i) (local.get $end8)))
        (local.set $at (i32.add (local.get $p) (i32.shl (local.get $i) (i32.const 2))))
        (br_if $vdone (v128.any_true (v128.or
          (i32x4.eq (v128.and (v128.load (local.get $at)) (local.get $mask)) (local.get $mask))
          (i32x4.eq (v128.and (v128.load offset=16 (local.get $at)) (local.get $mask)) (local.get $mask)))))
        (local.set $i (i32.add (local.get $i) (i32.const 8)))
        (br $v)))
    (block $sdone
      (loop $s
        (br_if $sdone (i32.ge_u (local.get $i) (local.get $hi)))
        (br_if $sdone (i32.eq
          (i32.and (i32.load (i32.add (local.get $p) (i32.shl (local.get $i) (i32.const 2)))) (i32.const 0x7f800000))
          (i32.const 0x7f800000)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $s)))
    (local.get $i))
)
