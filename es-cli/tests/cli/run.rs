//! Running the two inspectors as processes and reading what they print.

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// What a run printed, and how it ended.
pub(crate) struct Ran {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Ran {
    fn from(output: Output) -> Self {
        Self {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// The output as one JSON document, after checking the run succeeded.
    pub(crate) fn json(&self) -> serde_json::Value {
        assert_eq!(self.code, 0, "stderr: {}", self.stderr);
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.stdout))
    }
}

/// The standalone binary on `file`, piped.
pub(crate) fn es_inspect(file: &Path, args: &[&str]) -> Ran {
    let output = Command::new(env!("CARGO_BIN_EXE_es-inspect"))
        .arg("--sqlite")
        .arg(file)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("es-inspect runs");
    Ran::from(output)
}

/// The standalone binary on the PostgreSQL store at `url`, in `schema`, piped.
pub(crate) fn es_inspect_postgres(url: &str, schema: &str, args: &[&str]) -> Ran {
    let output = Command::new(env!("CARGO_BIN_EXE_es-inspect"))
        .args(["--postgres", url, "--schema", schema])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("es-inspect runs");
    Ran::from(output)
}

/// The bank's inspector on `file`, piped: this program, as `bank-inspect`.
pub(crate) fn bank_inspect(file: &Path, args: &[&str]) -> Ran {
    let output = Command::new(std::env::current_exe().expect("this program's path"))
        .arg("bank-inspect")
        .arg("--sqlite")
        .arg(file)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the bank's inspector runs");
    Ran::from(output)
}

/// The bank's inspector on `file` on a terminal, with the variables `env` set: util-linux
/// `script` gives it one and copies what it writes there.
pub(crate) fn bank_inspect_on_terminal(file: &Path, args: &[&str], env: &[(&str, &str)]) -> Ran {
    let exe = std::env::current_exe().expect("this program's path");
    let mut line = format!("{} bank-inspect --sqlite {}", quote(&exe), quote(file));
    for arg in args {
        line.push(' ');
        line.push_str(arg);
    }
    let output = Command::new("script")
        .args(["-qfec", &line, "/dev/null"])
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("util-linux script runs");
    Ran::from(output)
}

fn quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}
