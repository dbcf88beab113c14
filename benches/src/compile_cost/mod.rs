//! `es-bench compile-cost`: what the derives add to a crate's build time, next to what
//! serde's derives add.
//!
//! It writes a workspace of three crates under `<target dir>/compile-cost/` that declare the
//! same domain ([`generate`]: 200 events, 50 commands, 10 aggregates, 3 projections) and
//! differ only in their derives: none (P), serde's (S), serde's and ours (E). Their
//! dependencies are built once, into the workspace's own target dir; then each run touches
//! one crate's `lib.rs` and times `cargo build` of that crate alone, without incremental
//! compilation, in the order P, S, E, P, S, E, ... so that load from elsewhere on the machine
//! falls on the three alike. It prints the median of each, the added costs S - P (serde) and
//! E - S (ours) and their ratio, each the median of the per-run differences with their range:
//! in CPU time (user and system, of cargo and the compiler it runs; Linux only), which load
//! from other processes barely moves, and in wall time.

mod generate;

use std::path::{Path, PathBuf};
use std::process::{Command as Process, Stdio};
use std::time::{Duration, Instant, SystemTime};

use generate::Variant;

use crate::BoxResult;

const USAGE: &str = "usage: es-bench compile-cost [--runs N]";

/// Runs the measurement with the arguments after `compile-cost`.
pub(crate) fn run(args: &[String]) -> BoxResult<()> {
    let runs = parse_runs(args)?;
    let root = target_dir().join("compile-cost");
    write_workspace(&root)?;
    crate::progress(&format!(
        "compile-cost: building the dependencies once, in {}",
        root.display()
    ));
    cargo(&root, &["build", "--workspace"], true)?;
    let (mut wall, mut cpu) = (Vec::with_capacity(runs), Vec::with_capacity(runs));
    for run in 1..=runs {
        crate::progress(&format!("compile-cost: run {run} of {runs}"));
        let (mut wall_row, mut cpu_row) = ([0.0; 3], [0.0; 3]);
        for (i, variant) in Variant::ALL.into_iter().enumerate() {
            let (wall_time, cpu_time) = timed_build(&root, variant)?;
            wall_row[i] = wall_time.as_secs_f64();
            cpu_row[i] = cpu_time.map_or(f64::NAN, |time| time.as_secs_f64());
        }
        wall.push(wall_row);
        cpu.push(cpu_row);
    }
    print_header(runs);
    if cpu.iter().flatten().all(|secs| secs.is_finite()) {
        print_table("CPU time", &cpu);
    }
    print_table("wall time", &wall);
    print_footer(&root);
    Ok(())
}

fn parse_runs(args: &[String]) -> BoxResult<usize> {
    match args {
        [] => Ok(5),
        [flag, n] if flag == "--runs" => match n.parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!("--runs {n:?}: expected a positive number; {USAGE}").into()),
        },
        _ => Err(format!("unexpected arguments {args:?}; {USAGE}").into()),
    }
}

/// The workspace's target dir: `CARGO_TARGET_DIR`, or `target/` at its root.
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => workspace_root().join("target"),
    }
}

fn workspace_root() -> &'static Path {
    let bench = Path::new(env!("CARGO_MANIFEST_DIR"));
    bench.parent().unwrap_or(bench)
}

/// Writes the generated workspace; files whose content is unchanged are left alone, so that
/// cargo does not rebuild what it need not. Starts from the lock file of this repository, so
/// that the dependencies resolve to the versions it builds with.
fn write_workspace(root: &Path) -> BoxResult<()> {
    let es_core = workspace_root().join("es-core");
    let es_core = es_core.to_str().ok_or("the path of es-core is not UTF-8")?;
    write_if_changed(&root.join("Cargo.toml"), &generate::workspace_manifest())?;
    for variant in Variant::ALL {
        let dir = root.join(variant.package());
        write_if_changed(
            &dir.join("Cargo.toml"),
            &generate::crate_manifest(variant, es_core),
        )?;
        write_if_changed(&dir.join("src/lib.rs"), &generate::lib_rs(variant))?;
    }
    let lock = root.join("Cargo.lock");
    if !lock.exists() {
        std::fs::copy(workspace_root().join("Cargo.lock"), lock)?;
    }
    Ok(())
}

fn write_if_changed(path: &Path, content: &str) -> BoxResult<()> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == content) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, content)?;
    Ok(())
}

/// Runs cargo in `root`, with the workspace's own target dir and without incremental
/// compilation (so that a touched crate is compiled from scratch). `show` passes cargo's
/// output through; otherwise it is shown only when cargo fails.
fn cargo(root: &Path, args: &[&str], show: bool) -> BoxResult<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Process::new(cargo);
    command
        .args(args)
        .current_dir(root)
        .env("CARGO_TARGET_DIR", root.join("target"))
        .env("CARGO_INCREMENTAL", "0");
    let output = if show {
        command.stdout(Stdio::inherit()).stderr(Stdio::inherit());
        command.output()?
    } else {
        command.output()?
    };
    if !output.status.success() {
        return Err(format!(
            "cargo {} in {} failed ({}):\n{}",
            args.join(" "),
            root.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    Ok(())
}

/// Marks `variant`'s `lib.rs` as changed and times the build of its crate alone: wall time,
/// and CPU time where [`children_cpu`] knows it.
fn timed_build(root: &Path, variant: Variant) -> BoxResult<(Duration, Option<Duration>)> {
    let lib = root.join(variant.package()).join("src/lib.rs");
    std::fs::File::options()
        .append(true)
        .open(&lib)?
        .set_modified(SystemTime::now())?;
    let (start, cpu_before) = (Instant::now(), children_cpu());
    cargo(root, &["build", "-q", "-p", variant.package()], false)?;
    let wall = start.elapsed();
    let cpu = children_cpu()
        .zip(cpu_before)
        .map(|(after, before)| after.saturating_sub(before));
    Ok((wall, cpu))
}

/// The CPU time, user and system, of this process's children that have ended and been
/// waited for (they count their own children the same way, so a cargo child counts the
/// compilers it ran): `cutime` and `cstime` of `/proc/self/stat`, in ticks of 1/100 s (Linux's
/// `USER_HZ`). `None` where that file does not exist (not Linux).
fn children_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields from the third on follow the command name, which ends with the last `)`.
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |field: usize| fields.get(field - 3)?.parse::<u64>().ok();
    let (user, system) = (ticks(16)?, ticks(17)?);
    Some(Duration::from_millis((user + system) * 10))
}

/// The median, the smallest and the largest of `values` (not empty).
fn spread(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    let median = if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    };
    (median, values[0], values[n - 1])
}

fn print_header(runs: usize) {
    println!(
        "Debug build of one generated crate ({} events, {} commands, {} aggregates, {} \
         projections), {runs} paired runs, P S E in turn.",
        generate::AGGREGATES * generate::EVENTS_PER_AGGREGATE,
        generate::AGGREGATES * generate::COMMANDS_PER_AGGREGATE,
        generate::AGGREGATES,
        generate::PROJECTIONS,
    );
}

/// One table: the seconds of each run, P S E, measured as `what`.
fn print_table(what: &str, runs: &[[f64; 3]]) {
    println!("\n| {what} | median | min | max |\n|---|---|---|---|");
    for (i, variant) in Variant::ALL.iter().enumerate() {
        let (median, min, max) = spread(runs.iter().map(|run| run[i]).collect());
        println!(
            "| {} | {median:.2} s | {min:.2} s | {max:.2} s |",
            variant.label()
        );
    }
    let serde: Vec<f64> = runs.iter().map(|run| run[1] - run[0]).collect();
    let ours: Vec<f64> = runs.iter().map(|run| run[2] - run[1]).collect();
    let ratio: Vec<f64> = serde.iter().zip(&ours).map(|(s, e)| e / s).collect();
    for (what, values) in [
        ("serde's derives, S - P", serde),
        ("our derives, E - S", ours),
    ] {
        let (median, min, max) = spread(values);
        println!("| {what} | {median:.2} s | {min:.2} s | {max:.2} s |");
    }
    let (median, min, max) = spread(ratio);
    println!("| ratio (E - S) / (S - P) | {median:.2}x | {min:.2}x | {max:.2}x |");
}

fn print_footer(root: &Path) {
    println!(
        "\nThe added costs and the ratio are the medians of the per-run differences. \
         For rustc's own view of one build:\n  cd {} && touch {}/src/lib.rs && \
         CARGO_TARGET_DIR=target CARGO_INCREMENTAL=0 cargo build -p {} --timings",
        root.display(),
        Variant::Derives.package(),
        Variant::Derives.package()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_is_the_median_and_the_range() {
        assert_eq!(spread(vec![3.0, 1.0, 2.0]), (2.0, 1.0, 3.0));
        assert_eq!(spread(vec![4.0, 1.0, 2.0, 3.0]), (2.5, 1.0, 4.0));
        assert_eq!(spread(vec![5.0]), (5.0, 5.0, 5.0));
    }

    #[test]
    fn counts_the_cpu_time_of_children_on_linux() {
        if cfg!(target_os = "linux") {
            let before = children_cpu().expect("/proc/self/stat");
            // Burn CPU in a child until the 10 ms ticks of its time move.
            let status = Process::new("sh")
                .args(["-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"])
                .status()
                .expect("sh runs");
            assert!(status.success());
            let after = children_cpu().expect("/proc/self/stat");
            assert!(after > before, "{before:?} then {after:?}");
        }
    }

    #[test]
    fn runs_default_to_five_and_must_be_positive() {
        assert_eq!(parse_runs(&[]).ok(), Some(5));
        let args = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(parse_runs(&args(&["--runs", "3"])).ok(), Some(3));
        assert!(parse_runs(&args(&["--runs", "0"])).is_err());
        assert!(parse_runs(&args(&["--runs"])).is_err());
        assert!(parse_runs(&args(&["3"])).is_err());
    }
}
