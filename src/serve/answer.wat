;; The scores of a `/v1/score` answer, written as bytes: ScoreAnswers (answer.ts) copies a request's
;; id bytes, their spans and its probabilities into the memory, calls `scores`, and copies the bytes
;; out. Built into dist/src/serve/answer.wasm by `npm run build` (wabt's wat2wasm).
(module
  (memory (export "memory") 1)
  ;; Set once by `layout`: f64[6], 10^9 to 10^14; i32[1000], "000" to "999" in their low 3 bytes.
  (global $pow10 (mut i32) (i32.const 0))
  (global $triples (mut i32) (i32.const 0))

  (func (export "layout") (param i32 i32)
    (global.set $pow10 (local.get 0)) (global.set $triples (local.get 1)))

  ;; `{"item":"<id>","probability":<p>}` for each of `n` candidates, comma-separated, then `]}`, from
  ;; `out`; returns the end. Id i is the bytes from bytes + spans[2i] to bytes + spans[2i + 1]. Each p
  ;; is printed as toPrecision(9) prints it, for p in [1e-6, 1): "0.", the zeros after the point,
  ;; and the 9 digits of p·10^(9+zeros) rounded. -1, with nothing to use,
  ;; where a probability is outside that rule (under 1e-6, 1 or more, not a number, or its product
  ;; within 1e-6 of a half).
  (func (export "scores") (param $n i32) (param $bytes i32) (param $spans i32) (param $probabilities i32) (param $out i32) (result i32)
    (local $i i32) (local $at i32) (local $b i32) (local $end i32) (local $p f64) (local $zeros i32)
    (local $scaled f64) (local $rounded f64) (local $digits i32) (local $rest i32)
    (local.set $at (local.get $out))
    (block $done (loop $candidate
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $p (f64.promote_f32 (f32.load (i32.add (local.get $probabilities) (i32.shl (local.get $i) (i32.const 2))))))
      ;; NaN fails both comparisons.
      (if (i32.eqz (i32.and (f64.ge (local.get $p) (f64.const 1e-6)) (f64.lt (local.get $p) (f64.const 1))))
        (then (return (i32.const -1))))
      ;; The zeros after the point: how many of 0.1 ... 1e-5 p is under (they decrease).
      (local.set $zeros (i32.add
        (i32.add (i32.add (f64.lt (local.get $p) (f64.const 0.1)) (f64.lt (local.get $p) (f64.const 0.01)))
                 (i32.add (f64.lt (local.get $p) (f64.const 0.001)) (f64.lt (local.get $p) (f64.const 1e-4))))
        (f64.lt (local.get $p) (f64.const 1e-5))))
      (local.set $scaled (f64.mul (local.get $p) (f64.load (i32.add (global.get $pow10) (i32.shl (local.get $zeros) (i32.const 3))))))
      ;; Away from a half, rounding to nearest (even) and Math.round agree.
      (local.set $rounded (f64.nearest (local.get $scaled)))
      (if (i32.eqz (i32.and
            (f64.gt (f64.abs (f64.sub (f64.sub (local.get $scaled) (f64.floor (local.get $scaled))) (f64.const 0.5))) (f64.const 1e-6))
            (i32.and (f64.ge (local.get $rounded) (f64.const 1e8)) (f64.lt (local.get $rounded) (f64.const 1e9)))))
        (then (return (i32.const -1))))
      (if (local.get $i) (then
        (i32.store8 (local.get $at) (i32.const 0x2c))
        (local.set $at (i32.add (local.get $at) (i32.const 1)))))
      ;; {"item":"
      (i64.store (local.get $at) (i64.const 0x3a226d657469227b))
      (i32.store8 offset=8 (local.get $at) (i32.const 0x22))
      (local.set $at (i32.add (local.get $at) (i32.const 9)))
      (local.set $b (i32.add (local.get $bytes) (i32.load (i32.add (local.get $spans) (i32.shl (local.get $i) (i32.const 3))))))
      (local.set $end (i32.add (local.get $bytes) (i32.load offset=4 (i32.add (local.get $spans) (i32.shl (local.get $i) (i32.const 3))))))
      (block $copied (loop $copy
        (br_if $copied (i32.ge_u (local.get $b) (local.get $end)))
        (i32.store8 (local.get $at) (i32.load8_u (local.get $b)))
        (local.set $at (i32.add (local.get $at) (i32.const 1)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $copy)))
      ;; ","probability":0.
      (i64.store (local.get $at) (i64.const 0x61626f7270222c22))
      (i64.store offset=8 (local.get $at) (i64.const 0x3a227974696c6962))
      (i32.store16 offset=16 (local.get $at) (i32.const 0x2e30))
      (local.set $at (i32.add (local.get $at) (i32.const 18)))
      (block $zerosWritten (loop $zero
        (br_if $zerosWritten (i32.eqz (local.get $zeros)))
        (i32.store8 (local.get $at) (i32.const 0x30))
        (local.set $at (i32.add (local.get $at) (i32.const 1)))
        (local.set $zeros (i32.sub (local.get $zeros) (i32.const 1)))
        (br $zero)))
      ;; The 9 digits 3 at a time, each 4 bytes from the table: the 4th is covered by what follows.
      ;; (Written out: V8 does not inline calls between WebAssembly functions.)
      (local.set $digits (i32.trunc_f64_u (local.get $rounded)))
      (local.set $rest (i32.rem_u (local.get $digits) (i32.const 1000000)))
      (i32.store (local.get $at) (i32.load (i32.add (global.get $triples) (i32.shl (i32.div_u (local.get $digits) (i32.const 1000000)) (i32.const 2)))))
      (i32.store offset=3 (local.get $at) (i32.load (i32.add (global.get $triples) (i32.shl (i32.div_u (local.get $rest) (i32.const 1000)) (i32.const 2)))))
      (i32.store offset=6 (local.get $at) (i32.load (i32.add (global.get $triples) (i32.shl (i32.rem_u (local.get $rest) (i32.const 1000)) (i32.const 2)))))
      (i32.store8 offset=9 (local.get $at) (i32.const 0x7d))
      (local.set $at (i32.add (local.get $at) (i32.const 10)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $candidate)))
    ;; ]}
    (i32.store16 (local.get $at) (i32.const 0x7d5d))
    (i32.add (local.get $at) (i32.const 2)))
)
