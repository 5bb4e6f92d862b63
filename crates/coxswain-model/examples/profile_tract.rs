//! How the way a model is handed to tract changes its speed: symbolic vs concrete batch, and
//! the thread count. The evidence behind the speed section of models/README.md.
//!
//! `cargo run --release -p coxswain-model --example profile_tract -- MODEL.onnx INPUT 3,48,192 1,8`
//! runs `INPUT` with zeros of shape `[B, 3, 48, 192]` for each batch size B, in each mode, and
//! prints load time and p50/mean call time (3 warm-up calls, then calls for about 1 s), then the
//! time per operator of the optimised plan at the largest batch (where tract spends it).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tract_onnx::prelude::*;

fn load(
    path: &str,
    input: &str,
    row: &[usize],
    batch: Option<usize>,
) -> TractResult<Arc<TypedSimplePlan>> {
    let mut model = tract_onnx::onnx().model_for_path(path)?;
    let index = model
        .input_outlets()?
        .iter()
        .position(|o| model.node(o.node).name == input)
        .ok_or_else(|| TractError::msg(format!("no input {input}")))?;
    let mut shape: TVec<TDim> = tvec![match batch {
        Some(n) => TDim::Val(i64::try_from(n)?),
        None => model.sym("N").to_dim(),
    }];
    for d in row {
        shape.push(TDim::Val(i64::try_from(*d)?));
    }
    model.set_input_fact(index, InferenceFact::dt_shape(f32::datum_type(), shape))?;
    model.into_optimized()?.into_runnable()
}

fn time(
    plan: &Arc<TypedSimplePlan>,
    row: &[usize],
    batch: usize,
) -> TractResult<(f64, f64, usize)> {
    let mut shape = vec![batch];
    shape.extend(row);
    let input: TValue = Tensor::zero::<f32>(&shape)?.into_tvalue();
    let mut state = plan.spawn()?;
    for _ in 0..3 {
        state.run(tvec!(input.clone()))?;
    }
    let mut samples = Vec::new();
    let start = Instant::now();
    while samples.len() < 20 || (start.elapsed().as_secs_f64() < 1.0 && samples.len() < 1000) {
        let t = Instant::now();
        state.run(tvec!(input.clone()))?;
        samples.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let mean = samples.iter().sum::<f64>() / samples.len() as f64;
    samples.sort_by(f64::total_cmp);
    Ok((samples[samples.len() / 2], mean, samples.len()))
}

/// Total time per operator type over `runs` calls, largest first.
fn per_op(
    plan: &Arc<TypedSimplePlan>,
    row: &[usize],
    batch: usize,
    runs: usize,
) -> TractResult<()> {
    let mut shape = vec![batch];
    shape.extend(row);
    let input: TValue = Tensor::zero::<f32>(&shape)?.into_tvalue();
    let mut state = plan.spawn()?;
    let mut spent: BTreeMap<String, (Duration, usize)> = BTreeMap::new();
    for _ in 0..runs {
        state.run_plan_with_eval(tvec!(input.clone()), |ctx, op_state, node, inputs| {
            let t = Instant::now();
            let out = tract_onnx::tract_core::plan::eval(ctx, op_state, node, inputs);
            let e = spent.entry(node.op().name().to_string()).or_default();
            e.0 += t.elapsed();
            e.1 += 1;
            out
        })?;
    }
    let total: Duration = spent.values().map(|v| v.0).sum();
    let mut rows: Vec<_> = spent.into_iter().collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.1.0));
    println!("\n| op (batch {batch}) | nodes | ms per call | share |");
    println!("|---|---|---|---|");
    for (op, (t, n)) in rows {
        println!(
            "| {op} | {} | {:.4} | {:.1} % |",
            n / runs,
            t.as_secs_f64() * 1e3 / runs as f64,
            100.0 * t.as_secs_f64() / total.as_secs_f64()
        );
    }
    Ok(())
}

fn main() -> TractResult<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, path, input, row, batches] = args.as_slice() else {
        eprintln!("usage: profile_tract MODEL.onnx INPUT_NAME ROW_DIMS(3,48,192) BATCHES(1,8)");
        std::process::exit(2);
    };
    let row: Vec<usize> = row.split(',').map(|d| d.parse().unwrap_or(1)).collect();
    let batches: Vec<usize> = batches.split(',').map(|d| d.parse().unwrap_or(1)).collect();
    println!("| mode | threads | batch | load ms | p50 ms | mean ms | calls |");
    println!("|---|---|---|---|---|---|---|");
    // tract runs single-threaded unless built with tract-linalg's `multithread-mm` feature and
    // given an executor; the gate and this profile use its default.
    for threads in [1usize] {
        let t = Instant::now();
        let symbolic = load(path, input, &row, None)?;
        let symbolic_ms = t.elapsed().as_secs_f64() * 1e3;
        for &b in &batches {
            let (p50, mean, calls) = time(&symbolic, &row, b)?;
            println!(
                "| symbolic N | {threads} | {b} | {symbolic_ms:.1} | {p50:.4} | {mean:.4} | {calls} |"
            );
            let t = Instant::now();
            let concrete = load(path, input, &row, Some(b))?;
            let load_ms = t.elapsed().as_secs_f64() * 1e3;
            let (p50, mean, calls) = time(&concrete, &row, b)?;
            println!(
                "| concrete N | {threads} | {b} | {load_ms:.1} | {p50:.4} | {mean:.4} | {calls} |"
            );
        }
    }
    let largest = batches.iter().copied().max().unwrap_or(1);
    per_op(&load(path, input, &row, Some(largest))?, &row, largest, 50)?;
    Ok(())
}
