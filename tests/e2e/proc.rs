//! Running a program and capturing what it did: stdout, stderr and the exit code, with a hard
//! time limit so that a hanging command fails its test instead of the whole run. Shared by the
//! `cli` and `e2e` test targets (`cli` includes this file with `#[path]`).

#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The plugin binary cargo built for this test run.
pub fn plugin_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kubectl-isvc_canary"))
}

/// What a finished command did.
#[derive(Debug, Clone)]
pub struct Output {
    pub program: String,
    pub args: Vec<String>,
    /// The exit code; `None` when it was killed (signal or time limit).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
}

impl Output {
    /// The command line and everything it printed, for assertion messages.
    pub fn describe(&self) -> String {
        format!(
            "$ {} {}\n--- exit: {:?}{}\n--- stdout:\n{}--- stderr:\n{}",
            self.program,
            self.args.join(" "),
            self.code,
            if self.timed_out { " (killed: time limit)" } else { "" },
            self.stdout,
            self.stderr
        )
    }

    /// Asserts the exit code and returns self for chaining.
    #[track_caller]
    pub fn code(&self, want: i32) -> &Self {
        assert_eq!(self.code, Some(want), "unexpected exit code\n{}", self.describe());
        self
    }

    #[track_caller]
    pub fn ok(&self) -> &Self {
        self.code(0)
    }

    #[track_caller]
    pub fn stderr_has(&self, needle: &str) -> &Self {
        assert!(self.stderr.contains(needle), "stderr lacks {needle:?}\n{}", self.describe());
        self
    }

    #[track_caller]
    pub fn stdout_has(&self, needle: &str) -> &Self {
        assert!(self.stdout.contains(needle), "stdout lacks {needle:?}\n{}", self.describe());
        self
    }

    /// stderr has `line` as one whole line (see [`has_line`]).
    #[track_caller]
    pub fn stderr_has_line(&self, line: &str) -> &Self {
        assert!(has_line(&self.stderr, line), "stderr lacks the line {line:?}\n{}", self.describe());
        self
    }

    /// stdout has `line` as one whole line (a terminal's `\r` before the newline aside).
    #[track_caller]
    pub fn stdout_has_line(&self, line: &str) -> &Self {
        assert!(has_line(&self.stdout, line), "stdout lacks the line {line:?}\n{}", self.describe());
        self
    }

    #[track_caller]
    pub fn stdout_is(&self, want: &str) -> &Self {
        assert_eq!(self.stdout, want, "stdout differs\n{}", self.describe());
        self
    }

    /// stdout parsed as JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e})\n{}", self.describe()))
    }
}

/// Whether `text` has `line` as one whole line: the exact text between two line ends, not a
/// substring of a longer line (`failed` does not match `not failed`). A `\r` before the newline
/// (a pseudo-terminal's line end) is not part of the line.
pub fn has_line(text: &str, line: &str) -> bool {
    text.lines().any(|l| l.strip_suffix('\r').unwrap_or(l) == line)
}

/// A command to run: program, arguments, extra environment, stdin, time limit.
pub struct Cmd {
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, Option<String>)>,
    stdin: Option<Vec<u8>>,
    limit: Duration,
}

impl Cmd {
    pub fn new(program: impl Into<PathBuf>) -> Cmd {
        Cmd { program: program.into(), args: Vec::new(), env: Vec::new(), stdin: None, limit: Duration::from_secs(120) }
    }

    /// The plugin, with a clean environment as far as kubeconfig and colour go.
    pub fn plugin() -> Cmd {
        Cmd::new(plugin_bin()).env_remove("KUBECONFIG").env("NO_COLOR", "1")
    }

    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Cmd {
        self.args.push(a.as_ref().to_string_lossy().into_owned());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        for a in args {
            self.args.push(a.as_ref().to_string_lossy().into_owned());
        }
        self
    }

    pub fn env(mut self, k: &str, v: impl Into<String>) -> Cmd {
        self.env.push((k.to_string(), Some(v.into())));
        self
    }

    pub fn env_remove(mut self, k: &str) -> Cmd {
        self.env.push((k.to_string(), None));
        self
    }

    pub fn stdin(mut self, data: impl Into<Vec<u8>>) -> Cmd {
        self.stdin = Some(data.into());
        self
    }

    pub fn limit(mut self, limit: Duration) -> Cmd {
        self.limit = limit;
        self
    }

    /// The `std::process::Command` it stands for (stdin null unless given, stdout and stderr
    /// piped), for a caller that reads the output as it comes.
    pub fn command(&self) -> Command {
        let mut c = Command::new(&self.program);
        c.args(&self.args);
        for (k, v) in &self.env {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        c.stdin(if self.stdin.is_some() { Stdio::piped() } else { Stdio::null() });
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        c
    }

    /// Starts it; the caller collects it with [`Running::finish`] (or [`Running::stop`]).
    pub fn spawn(self) -> Running {
        let mut child = self.command().spawn().unwrap_or_else(|e| panic!("cannot run {}: {e}", self.program.display()));
        if let Some(data) = &self.stdin {
            let mut stdin = child.stdin.take().expect("stdin piped");
            let data = data.clone();
            std::thread::spawn(move || {
                let _ = stdin.write_all(&data);
            });
        }
        let out = reader(child.stdout.take().expect("stdout piped"));
        let err = reader(child.stderr.take().expect("stderr piped"));
        Running {
            child,
            out: Some(out),
            err: Some(err),
            program: self.program.display().to_string(),
            args: self.args,
            deadline: Instant::now() + self.limit,
        }
    }

    /// Runs it to the end (or to its time limit, then kills it).
    pub fn run(self) -> Output {
        self.spawn().finish()
    }
}

fn reader(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        buf
    })
}

/// A command that is running.
pub struct Running {
    child: Child,
    out: Option<std::thread::JoinHandle<Vec<u8>>>,
    err: Option<std::thread::JoinHandle<Vec<u8>>>,
    program: String,
    args: Vec<String>,
    deadline: Instant,
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for it to exit, killing it at its time limit.
    pub fn finish(mut self) -> Output {
        let mut timed_out = false;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            if Instant::now() >= self.deadline {
                timed_out = true;
                let _ = self.child.kill();
                break self.child.wait().expect("wait");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        self.collect(status.code(), timed_out)
    }

    /// Stops it now (SIGKILL: these are test runs of read-only commands) and collects its output.
    pub fn stop(mut self) -> Output {
        let _ = self.child.kill();
        let status = self.child.wait().expect("wait");
        self.collect(status.code(), false)
    }

    fn collect(&mut self, code: Option<i32>, timed_out: bool) -> Output {
        let text = |h: Option<std::thread::JoinHandle<Vec<u8>>>| {
            h.map(|h| String::from_utf8_lossy(&h.join().unwrap_or_default()).into_owned()).unwrap_or_default()
        };
        Output {
            program: self.program.clone(),
            args: self.args.clone(),
            code,
            stdout: text(self.out.take()),
            stderr: text(self.err.take()),
            timed_out,
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.out.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
