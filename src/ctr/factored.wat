;; The factored DCN's row loop, in f32x4 SIMD: FactoredDcn (factored.ts) fills the memory and
;; calls `logits` per request. Sums run in float32, as ORT's do; the cross network's few scalars
;; in float64. Built into dist/src/ctr/factored.wasm by `npm run build` (wabt's wat2wasm).
(module
  (memory (export "memory") 1)
  ;; Layout, set once by `layout`: byte addresses, and sizes in numbers.
  (global $stride (mut i32) (i32.const 0))   ;; floats per table row: [first MLP layer (width1, padded to 16) | cross layers | head | pad to 4]
  (global $width1 (mut i32) (i32.const 0))   ;; the first MLP layer's width padded to 16 (0 without an MLP)
  (global $cross (mut i32) (i32.const 0))    ;; cross layers
  (global $shared (mut i32) (i32.const 0))   ;; f32[stride]: the sums of the fields every row shares, and the first layer's bias
  (global $crossConstants (mut i32) (i32.const 0)) ;; f64[cross]
  (global $layers (mut i32) (i32.const 0))   ;; MLP layers after the first
  (global $layerTable (mut i32) (i32.const 0)) ;; per layer: i32 inputs (real), i32 outputs (padded to 16), i32 weights ([inputs][outputs] f32), i32 bias (f32[outputs])
  (global $head (mut i32) (i32.const 0))     ;; f32[last width, padded to 4]: the head's weights on the MLP's output
  (global $sums (mut i32) (i32.const 0))     ;; scratch f32[stride]
  (global $act0 (mut i32) (i32.const 0))     ;; scratch f32[widest padded layer], twice
  (global $act1 (mut i32) (i32.const 0))

  (func (export "layout") (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32)
    (global.set $stride (local.get 0)) (global.set $width1 (local.get 1)) (global.set $cross (local.get 2))
    (global.set $shared (local.get 3)) (global.set $crossConstants (local.get 4)) (global.set $layers (local.get 5))
    (global.set $layerTable (local.get 6)) (global.set $head (local.get 7)) (global.set $sums (local.get 8))
    (global.set $act0 (local.get 9)) (global.set $act1 (local.get 10)))

  ;; out = relu(in · W + b) for `inputs` inputs, `outputs` (a multiple of 16) outputs, 16 at a time.
  ;; relu(x) is written out as x where x > 0, else 0 (NaN too): as a function of its own it was a
  ;; call per block of outputs, which V8 does not inline (1.5% of a server's CPU, perf).
  (func $dense (param $in i32) (param $inputs i32) (param $outputs i32) (param $w i32) (param $b i32) (param $out i32)
    (local $o i32) (local $j i32) (local $x v128) (local $row i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (block $blocks (loop $block
      (br_if $blocks (i32.ge_u (local.get $o) (local.get $outputs)))
      (local.set $row (i32.add (local.get $b) (i32.shl (local.get $o) (i32.const 2))))
      (local.set $a0 (v128.load offset=0 (local.get $row)))
      (local.set $a1 (v128.load offset=16 (local.get $row)))
      (local.set $a2 (v128.load offset=32 (local.get $row)))
      (local.set $a3 (v128.load offset=48 (local.get $row)))
      (local.set $row (i32.add (local.get $w) (i32.shl (local.get $o) (i32.const 2))))
      (local.set $j (i32.const 0))
      (block $inputs (loop $input
        (br_if $inputs (i32.ge_u (local.get $j) (local.get $inputs)))
        (local.set $x (f32x4.splat (f32.load (i32.add (local.get $in) (i32.shl (local.get $j) (i32.const 2))))))
        (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $x) (v128.load offset=0 (local.get $row)))))
        (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $x) (v128.load offset=16 (local.get $row)))))
        (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $x) (v128.load offset=32 (local.get $row)))))
        (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $x) (v128.load offset=48 (local.get $row)))))
        ;; the next input's row of weights
        (local.set $row (i32.add (local.get $row) (i32.shl (local.get $outputs) (i32.const 2))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $input)))
      (local.set $row (i32.add (local.get $out) (i32.shl (local.get $o) (i32.const 2))))
      (v128.store offset=0 (local.get $row) (v128.and (local.get $a0) (f32x4.gt (local.get $a0) (v128.const f32x4 0 0 0 0))))
      (v128.store offset=16 (local.get $row) (v128.and (local.get $a1) (f32x4.gt (local.get $a1) (v128.const f32x4 0 0 0 0))))
      (v128.store offset=32 (local.get $row) (v128.and (local.get $a2) (f32x4.gt (local.get $a2) (v128.const f32x4 0 0 0 0))))
      (v128.store offset=48 (local.get $row) (v128.and (local.get $a3) (f32x4.gt (local.get $a3) (v128.const f32x4 0 0 0 0))))
      (local.set $o (i32.add (local.get $o) (i32.const 16)))
      (br $block))))

  ;; One f32 logit per row at $out, for `n` rows of `varying` varying fields: $offsets holds, per
  ;; row, the byte addresses of their table rows. `last` is the MLP output's width, padded to 4.
  (func (export "logits") (param $n i32) (param $varying i32) (param $offsets i32) (param $out i32) (param $last i32) (param $logitConstant f64)
    (local $r i32) (local $c i32) (local $v i32) (local $rowOffsets i32) (local $sum v128)
    (local $alpha f64) (local $logit f64) (local $l i32) (local $x v128) (local $in i32) (local $outAct i32) (local $t i32)
    (local $touched f32)
    ;; First every row's table rows are touched, at their first and last number: those loads do not
    ;; wait on each other, so their cache misses overlap, and the row loop then finds the rows in
    ;; cache. Left to the row loop, each row's misses waited on the rows before.
    (block $allTouched (loop $touch
      (br_if $allTouched (i32.ge_u (local.get $r) (i32.mul (local.get $n) (local.get $varying))))
      (local.set $t (i32.load (i32.add (local.get $offsets) (i32.shl (local.get $r) (i32.const 2)))))
      (local.set $touched (f32.add (local.get $touched)
        (f32.add (f32.load (local.get $t)) (f32.load (i32.sub (i32.add (local.get $t) (i32.shl (global.get $stride) (i32.const 2))) (i32.const 4))))))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $touch)))
    ;; Kept, so that no compiler drops the loads.
    (f32.store (global.get $sums) (local.get $touched))
    (local.set $r (i32.const 0))
    (block $rows (loop $row
      (br_if $rows (i32.ge_u (local.get $r) (local.get $n)))
      (local.set $rowOffsets (i32.add (local.get $offsets) (i32.shl (i32.mul (local.get $r) (local.get $varying)) (i32.const 2))))
      ;; sums = shared + the varying fields' table rows, 4 columns at a time
      (local.set $c (i32.const 0))
      (block $columns (loop $column
        (br_if $columns (i32.ge_u (local.get $c) (global.get $stride)))
        (local.set $sum (v128.load (i32.add (global.get $shared) (i32.shl (local.get $c) (i32.const 2)))))
        (local.set $v (i32.const 0))
        (block $fields (loop $field
          (br_if $fields (i32.ge_u (local.get $v) (local.get $varying)))
          (local.set $sum (f32x4.add (local.get $sum)
            (v128.load (i32.add (i32.load (i32.add (local.get $rowOffsets) (i32.shl (local.get $v) (i32.const 2)))) (i32.shl (local.get $c) (i32.const 2))))))
          (local.set $v (i32.add (local.get $v) (i32.const 1)))
          (br $field)))
        (v128.store (i32.add (global.get $sums) (i32.shl (local.get $c) (i32.const 2))) (local.get $sum))
        (local.set $c (i32.add (local.get $c) (i32.const 4)))
        (br $column)))
      ;; the cross network: alpha_{l+1} = alpha_l (1 + x0·w_l) + beta_l·w_l; logit = constant + alpha_L (x0·h)
      (local.set $alpha (f64.const 1))
      (local.set $l (i32.const 0))
      (block $crossDone (loop $crossLayer
        (br_if $crossDone (i32.ge_u (local.get $l) (global.get $cross)))
        (local.set $alpha (f64.add
          (f64.mul (local.get $alpha) (f64.add (f64.const 1) (f64.promote_f32 (f32.load (i32.add (global.get $sums) (i32.shl (i32.add (global.get $width1) (local.get $l)) (i32.const 2)))))))
          (f64.load (i32.add (global.get $crossConstants) (i32.shl (local.get $l) (i32.const 3))))))
        (local.set $l (i32.add (local.get $l) (i32.const 1)))
        (br $crossLayer)))
      (local.set $logit (f64.add (local.get $logitConstant)
        (f64.mul (local.get $alpha) (f64.promote_f32 (f32.load (i32.add (global.get $sums) (i32.shl (i32.add (global.get $width1) (global.get $cross)) (i32.const 2))))))))
      ;; the MLP: relu of the first layer, then each later layer
      (local.set $c (i32.const 0))
      (block $reluDone (loop $reluColumn
        (br_if $reluDone (i32.ge_u (local.get $c) (global.get $width1)))
        (local.set $x (v128.load (i32.add (global.get $sums) (i32.shl (local.get $c) (i32.const 2)))))
        (v128.store (i32.add (global.get $act0) (i32.shl (local.get $c) (i32.const 2)))
          (v128.and (local.get $x) (f32x4.gt (local.get $x) (v128.const f32x4 0 0 0 0))))
        (local.set $c (i32.add (local.get $c) (i32.const 4)))
        (br $reluColumn)))
      (local.set $in (global.get $act0))
      (local.set $outAct (global.get $act1))
      (local.set $l (i32.const 0))
      (block $layersDone (loop $layer
        (br_if $layersDone (i32.ge_u (local.get $l) (global.get $layers)))
        (local.set $t (i32.add (global.get $layerTable) (i32.shl (local.get $l) (i32.const 4))))
        (call $dense (local.get $in) (i32.load offset=0 (local.get $t)) (i32.load offset=4 (local.get $t))
          (i32.load offset=8 (local.get $t)) (i32.load offset=12 (local.get $t)) (local.get $outAct))
        (local.set $c (local.get $in)) (local.set $in (local.get $outAct)) (local.set $outAct (local.get $c))
        (local.set $l (i32.add (local.get $l) (i32.const 1)))
        (br $layer)))
      ;; the head on the MLP's output
      (local.set $x (v128.const f32x4 0 0 0 0))
      (local.set $c (i32.const 0))
      (block $headDone (loop $headColumn
        (br_if $headDone (i32.ge_u (local.get $c) (local.get $last)))
        (local.set $x (f32x4.add (local.get $x) (f32x4.mul
          (v128.load (i32.add (local.get $in) (i32.shl (local.get $c) (i32.const 2))))
          (v128.load (i32.add (global.get $head) (i32.shl (local.get $c) (i32.const 2)))))))
        (local.set $c (i32.add (local.get $c) (i32.const 4)))
        (br $headColumn)))
      (local.set $logit (f64.add (local.get $logit) (f64.promote_f32
        (f32.add (f32.add (f32x4.extract_lane 0 (local.get $x)) (f32x4.extract_lane 1 (local.get $x)))
                 (f32.add (f32x4.extract_lane 2 (local.get $x)) (f32x4.extract_lane 3 (local.get $x)))))))
      (f32.store (i32.add (local.get $out) (i32.shl (local.get $r) (i32.const 2))) (f32.demote_f64 (local.get $logit)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $row))))
)
